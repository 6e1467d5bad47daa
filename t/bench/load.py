#!/usr/bin/env python3
"""Steady load that records every request's latency (refresh under load).

  load.py URL SECONDS [THREADS]

Each thread sends GET requests back to back on its own keep-alive
connection. Prints one line:
  "REQUESTS NON200 SLOW MAX_MS P50_MS P99_MS"
where SLOW counts requests slower than 400 ms that started after the
first second.
"""
import http.client
import sys
import threading
import time
from urllib.parse import urlsplit

SLOW = 0.400
WARMUP = 1.0


def worker(host, port, path, t0, stop_at, out):
    conn = None
    while True:
        start = time.monotonic()
        if start >= stop_at:
            break
        try:
            if conn is None:
                conn = http.client.HTTPConnection(host, port, timeout=10)
            conn.request("GET", path)
            resp = conn.getresponse()
            resp.read()
            status = resp.status
        except (OSError, http.client.HTTPException):
            status = 0
            if conn is not None:
                conn.close()
            conn = None
        out.append((start - t0, time.monotonic() - start, status))
    if conn is not None:
        conn.close()


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    url = urlsplit(sys.argv[1])
    seconds = float(sys.argv[2])
    nthreads = int(sys.argv[3]) if len(sys.argv) == 4 else 8
    t0 = time.monotonic()
    stop_at = t0 + seconds
    results = [[] for _ in range(nthreads)]
    threads = [threading.Thread(target=worker,
                                args=(url.hostname, url.port, url.path or "/", t0,
                                      stop_at, results[i]))
               for i in range(nthreads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rec = [r for rs in results for r in rs]
    lat = sorted(r[1] for r in rec)
    slow = sum(1 for start, l, _ in rec if start >= WARMUP and l > SLOW)
    non200 = sum(1 for r in rec if r[2] != 200)
    pct = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else 0.0
    print("%d %d %d %.1f %.2f %.2f" % (len(rec), non200, slow,
                                       lat[-1] * 1000 if lat else 0.0,
                                       pct(0.50), pct(0.99)))


if __name__ == "__main__":
    main()
