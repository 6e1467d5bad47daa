#!/usr/bin/env python3
"""Helpers for t/bench/bench.sh: parse wrk output, summarise rounds.

  stats.py wrk FILE        -> "RPS P50_MS P99_MS NON2XX SOCKET_ERRORS REQUESTS"
  stats.py summary FILE    FILE has lines "A|B RPS P50_MS P99_MS";
                           prints the median B/A ratios of rps and p99, then
                           the range of rps and of p99 over the A rounds
"""
import re
import statistics
import sys

UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def ms(text):
    m = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", text)
    if not m:
        raise ValueError("bad latency %r" % text)
    return float(m.group(1)) * UNIT_MS[m.group(2)]


def parse_wrk(path):
    with open(path) as f:
        text = f.read()
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", text).group(1))
    pct = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", text, re.M))
    reqs = int(re.search(r"(\d+) requests in", text).group(1))
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    non2xx = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                  text)
    errors = sum(int(x) for x in m.groups()) if m else 0
    return rps, ms(pct["50"]), ms(pct["99"]), non2xx, errors, reqs


def summary(path):
    rounds = {"A": [], "B": []}
    with open(path) as f:
        for line in f:
            kind, rps, p50, p99 = line.split()
            rounds[kind].append((float(rps), float(p50), float(p99)))
    # Ratios per round (each B against the A just before it), then the median.
    pairs = list(zip(rounds["A"], rounds["B"]))
    rps_ratio = statistics.median(b[0] / a[0] for a, b in pairs)
    p99_ratio = statistics.median(b[2] / a[2] for a, b in pairs)
    # The spread among A rounds alone: what the machine's noise allows.
    a_rps = [a[0] for a in rounds["A"]]
    a_p99 = [a[2] for a in rounds["A"]]
    print("%.3f %.3f %.0f %.0f %.2f %.2f" % (rps_ratio, p99_ratio, min(a_rps), max(a_rps),
                                             min(a_p99), max(a_p99)))


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "wrk":
        rps, p50, p99, non2xx, errors, reqs = parse_wrk(sys.argv[2])
        print("%.0f %.3f %.3f %d %d %d" % (rps, p50, p99, non2xx, errors, reqs))
    elif len(sys.argv) == 3 and sys.argv[1] == "summary":
        summary(sys.argv[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
