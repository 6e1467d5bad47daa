#!/usr/bin/env python3
"""Fake Satellogic Aleph token endpoint and API, for mod_aleph's tests and demo.

Standard library only (Python 3.11).  Binds 127.0.0.1 only.

Usage:
  python3 t/fake_aleph.py [--port N] [--port-file PATH] [--secret S]
                          [--fixtures DIR] [--tls-cert F --tls-key K
                          [--tls-client-ca CA]] [--verbose]

  --tls-cert/--tls-key serve HTTPS; --tls-client-ca also requires a client
  certificate signed by CA (mutual TLS) and refuses the handshake without.

Token endpoint: POST <any path ending in /oauth/token>?mode=...&delay=...&...
  Query parameters choose the behaviour of each request:
    mode=ok|down|reset|hang|drip|http|garbage|empty|array|crlf|space|nul|
         notoken|emptytoken|numtoken|bigtoken|huge|redirect|notbearer|oauth200
    delay=SECONDS        sleep before answering (after counting the call)
    expires_in=N         value of expires_in (default 86400)
    expires_in_raw=JSON  raw JSON text for expires_in ("absent" omits the field)
    token_type=X         default Bearer ("absent" omits the field)
    status=N             with mode=http (default 500)
    error=CODE, error_description=TEXT   with mode=http: JSON error body
    echo_secret=1        with mode=http and error: the description repeats
                         the client_secret received (a careless endpoint)
    retry_after=N        add a Retry-After header (any mode that sends headers)
    accept_any_secret=1  accept any non-empty client secret, not only --secret
  Credential / grant_type checks (400 / 401) apply to mode=ok and to the
  token-shaped modes (crlf space nul notoken emptytoken numtoken bigtoken
  notbearer); the other modes answer whatever the credentials.

Admin (any method):
  /_health                     {"ok":true}
  /_calls?client_id=X          {"client_id":X,"calls":N}
  /_calls                      {"calls":{id:n,...},"total":T,"anonymous":A}
  /_last?client_id=X           last token request of X (404 if none); its
                               "via_proxy" is true when the request line was in
                               absolute form (http://host/...), i.e. the request
                               came through an HTTP proxy
  /_reset                      clear every counter, record and issued token
  /_revoke[?client_id=X]       forget issued tokens (all, or those of X)
  /_mode?client_id=X&mode=...  from now on, token requests of X behave as if
                               these parameters (any of the token endpoint's,
                               e.g. mode=http&status=500) were added to the
                               token URL, overriding its own
  /_mode?client_id=X           clear that override (/_reset clears them all)
  /_api_calls[?prefix=P]       {"prefix":P,"calls":N} API requests whose path starts with P
  /_api_last?prefix=P          last API request (echo shape) whose path starts with P

API (every other request, any method; header "authorizationToken: Bearer <tok>"):
  /contracts[?contracts=one|none|many&delay=SECONDS]
                               if the token is valid: fixtures contracts.json
                               (many, the default), its first entry only (one)
                               or [] (none); else 401; after delay seconds
  /tasking/tasks/...           tasking-tasks-page.json  } valid token AND
  /v2/orders/...               orders-v2-page.json      } X-Satellogic-Contract-Id, else 401
  /status401/...               always 401
  /status401-once/<key>/...    401 the first time per key, then echo
  anything else                200 JSON echo of the request
"""

import argparse
import base64
import binascii
import email.utils
import http
import io
import json
import os
import re
import signal
import socket
import ssl
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, parse_qsl, unquote_plus, urlsplit

MAX_BODY = 10 * 1024 * 1024
DEFAULT_EXPIRES = 86400
DEFAULT_SCOPE = "api:tasking api:delivery"
HANG_SECONDS = 120.0
DRIP_INTERVAL = 0.5
HUGE_SIZE = 5 * 1024 * 1024
BIGTOKEN_SIZE = 200000
IDLE_TIMEOUT = 300  # seconds an idle keep-alive connection is kept open

TOKEN_SHAPED_MODES = {"ok", "crlf", "space", "nul", "notoken", "emptytoken",
                      "numtoken", "bigtoken", "notbearer"}
RAW_MODES = {"down", "reset", "hang", "drip", "http", "garbage", "empty",
             "array", "huge", "redirect", "oauth200"}
ALL_MODES = TOKEN_SHAPED_MODES | RAW_MODES

TOKEN_UNSAFE = re.compile(r"[^A-Za-z0-9._~+/-]")
# /contracts?contracts=...: which slice of the fixture list is returned.
CONTRACTS_SUBSETS = {"many": slice(None), "one": slice(0, 1), "none": slice(0, 0)}

STOP = threading.Event()      # set on SIGTERM/SIGINT: wakes hang/drip/delay
VERBOSE = False


def log(msg):
    if VERBOSE:
        sys.stderr.write("fake_aleph: %s\n" % msg)
        sys.stderr.flush()


class BadRequest(Exception):
    pass


class State:
    """Everything the fake remembers, behind one lock."""

    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.calls = {}           # client_id -> count
        self.anonymous = 0        # token requests without a parseable client_id
        self.last = {}            # client_id -> record
        self.tokens = {}          # token -> (client_id, monotonic expiry)
        self.api_paths = {}       # path -> count
        self.api_last = []        # recent echo records (bounded)
        self.once_keys = set()    # status401-once keys already failed
        self.overrides = {}       # client_id -> token URL parameters (/_mode)


STATE = State()


def json_bytes(obj):
    return json.dumps(obj).encode("utf-8")


def first(params, name, default=None):
    v = params.get(name)
    return v[0] if v else default


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-aleph/1"
    sys_version = ""
    timeout = IDLE_TIMEOUT
    disable_nagle_algorithm = True

    # ---- plumbing ------------------------------------------------------

    def log_message(self, fmt, *args):
        if VERBOSE:
            sys.stderr.write("fake_aleph: %s - %s\n" % (self.address_string(), fmt % args))
            sys.stderr.flush()

    def __getattr__(self, name):
        # Route every method (GET, POST, PROPFIND, ...) to the dispatcher.
        if name.startswith("do_"):
            return self.dispatch
        raise AttributeError(name)

    def send_raw(self, code, body=b"", ctype="application/json", headers=(),
                 close=False):
        try:
            reason = http.HTTPStatus(code).phrase
        except ValueError:
            reason = "Status"
        lines = ["HTTP/1.1 %d %s" % (code, reason),
                 "Date: " + email.utils.formatdate(usegmt=True),
                 "Server: " + self.server_version]
        no_body = code < 200 or code in (204, 304)
        if ctype is not None and not no_body:
            lines.append("Content-Type: " + ctype)
        for k, v in headers:
            lines.append("%s: %s" % (k, v))
        if code < 200 or code == 204:
            body = b""
        else:
            lines.append("Content-Length: %d" % len(body))
        if close:
            self.close_connection = True
        if self.close_connection:
            lines.append("Connection: close")
        elif self.request_version == "HTTP/1.0":
            lines.append("Connection: keep-alive")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.log_request(code)
        if self.command == "HEAD" or no_body:
            body = b""
        self.wfile.write(head + body)

    def send_json(self, code, obj, headers=(), close=False):
        self.send_raw(code, json_bytes(obj), headers=headers, close=close)

    def read_body(self):
        """Read the request body (Content-Length or chunked); keep at most
        MAX_BODY bytes and drain the rest.  Returns (bytes, truncated)."""
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        chunks, kept, truncated = [], 0, False

        def keep(data):
            nonlocal kept, truncated
            room = MAX_BODY - kept
            if len(data) > room:
                data = data[:room]
                truncated = True
            if data:
                chunks.append(data)
                kept += len(data)

        if "chunked" in te:
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    raise BadRequest("truncated chunked body")
                try:
                    size = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    raise BadRequest("bad chunk size")
                if size == 0:
                    while True:  # trailers
                        t = self.rfile.readline(65537)
                        if t in (b"\r\n", b"\n", b""):
                            break
                    break
                left = size
                while left:
                    data = self.rfile.read(min(left, 65536))
                    if not data:
                        raise BadRequest("truncated chunk")
                    left -= len(data)
                    keep(data)
                self.rfile.readline(65537)  # CRLF after chunk
        else:
            cl = self.headers.get("Content-Length")
            if cl is None:
                return b"", False
            try:
                left = int(cl)
                if left < 0:
                    raise ValueError
            except ValueError:
                raise BadRequest("bad Content-Length")
            while left:
                data = self.rfile.read(min(left, 65536))
                if not data:
                    raise BadRequest("truncated body")
                left -= len(data)
                keep(data)
        return b"".join(chunks), truncated

    def headers_dict(self):
        out = {}
        for k, v in self.headers.items():
            k = k.lower()
            if k in out:
                if isinstance(out[k], list):
                    out[k].append(v)
                else:
                    out[k] = [out[k], v]
            else:
                out[k] = v
        return out

    def hard_close(self, rst=False):
        """Close the connection now, without a response (FIN, or RST)."""
        self.close_connection = True
        try:
            if rst:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
            else:
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            for f in (self.wfile, self.rfile):
                try:
                    f.close()
                except Exception:
                    pass
            self.connection.close()
        except OSError:
            pass
        # handle_one_request() flushes wfile afterwards: give it a harmless one.
        self.wfile = io.BytesIO()
        self.rfile = io.BytesIO()

    # ---- dispatch ------------------------------------------------------

    def dispatch(self):
        raw = self.path
        # Absolute form: what a client sends to an HTTP proxy (RFC 9112 3.2.2).
        self.via_proxy = raw.lower().startswith(("http://", "https://"))
        if self.via_proxy:
            u = urlsplit(raw)
            path, query = u.path or "/", u.query
        else:
            path, _, query = raw.partition("?")
            path = path.partition("#")[0]
        self.url_path, self.url_query = path, query
        params = parse_qs(query, keep_blank_values=True)
        try:
            body, truncated = self.read_body()
        except BadRequest as e:
            self.send_json(400, {"error": "invalid_request",
                                 "error_description": "fake_aleph: %s" % e},
                           close=True)
            return
        admin = ADMIN.get(path)
        if admin is not None:
            admin(self, params)
        elif path.endswith("/oauth/token"):
            self.token_endpoint(params, body)
        else:
            self.api(path, query, body, truncated)

    # ---- admin ---------------------------------------------------------

    def admin_health(self, params):
        self.send_json(200, {"ok": True})

    def admin_calls(self, params):
        cid = first(params, "client_id")
        with STATE.lock:
            if cid is not None:
                obj = {"client_id": cid, "calls": STATE.calls.get(cid, 0)}
            else:
                obj = {"calls": dict(STATE.calls),
                       "total": sum(STATE.calls.values()),
                       "anonymous": STATE.anonymous}
        self.send_json(200, obj)

    def admin_last(self, params):
        cid = first(params, "client_id")
        with STATE.lock:
            rec = STATE.last.get(cid) if cid is not None else None
        if rec is None:
            self.send_json(404, {"error": "not_found", "client_id": cid})
        else:
            self.send_json(200, rec)

    def admin_reset(self, params):
        with STATE.lock:
            STATE.reset()
        self.send_json(200, {"ok": True})

    def admin_revoke(self, params):
        cid = first(params, "client_id")
        with STATE.lock:
            if cid is None:
                n = len(STATE.tokens)
                STATE.tokens.clear()
            else:
                gone = [t for t, (c, _) in STATE.tokens.items() if c == cid]
                for t in gone:
                    del STATE.tokens[t]
                n = len(gone)
        self.send_json(200, {"ok": True, "revoked": n})

    def admin_mode(self, params):
        cid = first(params, "client_id")
        if cid is None:
            self.send_json(400, {"error": "invalid_request",
                                 "error_description": "fake_aleph: client_id missing"})
            return
        over = {k: v for k, v in params.items() if k != "client_id"}
        with STATE.lock:
            if over:
                STATE.overrides[cid] = over
            else:
                STATE.overrides.pop(cid, None)
        self.send_json(200, {"client_id": cid,
                             "override": {k: v[0] for k, v in over.items()}})

    def admin_api_calls(self, params):
        prefix = first(params, "prefix", "")
        with STATE.lock:
            n = sum(c for p, c in STATE.api_paths.items() if p.startswith(prefix))
        self.send_json(200, {"prefix": prefix, "calls": n})

    def admin_api_last(self, params):
        prefix = first(params, "prefix", "")
        rec = None
        with STATE.lock:
            for r in reversed(STATE.api_last):
                if r["path"].startswith(prefix):
                    rec = r
                    break
        if rec is None:
            self.send_json(404, {"error": "not_found", "prefix": prefix})
        else:
            self.send_json(200, rec)

    # ---- token endpoint ------------------------------------------------

    def parse_token_request(self, body):
        """Returns (fields, basic, client_id, errors) where errors is a list
        of (status, json) candidates in priority order."""
        ctype = (self.headers.get("Content-Type") or "")
        ct = ctype.split(";", 1)[0].strip().lower()
        fields, err = {}, None
        text = body.decode("utf-8", "replace")
        if ct == "application/json" or ct.endswith("+json"):
            kind = "json"
        elif ct == "application/x-www-form-urlencoded":
            kind = "form"
        elif not body:
            kind = "none"
        else:
            kind = "json" if text.lstrip().startswith("{") else "form"
        if kind == "json":
            try:
                obj = json.loads(text)
                if not isinstance(obj, dict):
                    raise ValueError("not an object")
                fields = obj
            except ValueError as e:
                err = "body is not a JSON object (%s)" % e
        elif kind == "form":
            pairs = parse_qsl(text, keep_blank_values=True)
            for k, v in pairs:
                if k in fields:
                    err = "parameter %s repeated" % k
                fields[k] = v
        if err is None:
            for k, v in fields.items():
                if not isinstance(v, str):
                    err = "parameter %s is not a string" % k
                    break

        basic = None
        authz = self.headers.get("Authorization")
        if authz:
            scheme, _, cred = authz.strip().partition(" ")
            if scheme.lower() == "basic":
                basic = {"header": authz, "ok": False}
                try:
                    dec = base64.b64decode(cred.strip(), validate=True).decode("utf-8")
                    rid, sep, rsecret = dec.partition(":")
                    if not sep:
                        raise ValueError("no colon")
                    basic.update(raw_id=rid, raw_secret=rsecret,
                                 client_id=unquote_plus(rid),
                                 client_secret=unquote_plus(rsecret), ok=True)
                except (binascii.Error, ValueError, UnicodeDecodeError):
                    pass

        if basic is not None and basic["ok"]:
            client_id = basic["client_id"]
        else:
            client_id = fields.get("client_id")
        if not isinstance(client_id, str) or client_id == "":
            client_id = None
        return kind, ctype, text, fields, err, basic, client_id

    def token_endpoint(self, params, body):
        if self.command != "POST":
            self.send_json(405, {"error": "invalid_request",
                                 "error_description": "use POST"},
                           headers=[("Allow", "POST")])
            return
        kind, ctype, text, fields, err, basic, client_id = self.parse_token_request(body)

        with STATE.lock:
            over = STATE.overrides.get(client_id) if client_id is not None else None
            if over:
                params = dict(params)
                params.update(over)
            if client_id is not None:
                n = STATE.calls.get(client_id, 0) + 1
                STATE.calls[client_id] = n
            else:
                n = 0
                STATE.anonymous += 1
            if client_id is not None:
                STATE.last[client_id] = {
                    "n": n,
                    "client_id": client_id,
                    "method": self.command,
                    "path": self.url_path,
                    "query": self.url_query,
                    "via_proxy": self.via_proxy,
                    "content_type": ctype,
                    "body_kind": kind,
                    "body": text,
                    "fields": fields,
                    "parse_error": err,
                    "basic": basic,
                    "audience": fields.get("audience"),
                    "scope": fields.get("scope"),
                    "grant_type": fields.get("grant_type"),
                    "headers": self.headers_dict(),
                }

        mode = first(params, "mode", "ok")
        extra = []
        ra = first(params, "retry_after")
        if ra is not None:
            extra.append(("Retry-After", ra))

        try:
            delay = float(first(params, "delay", "0") or 0)
        except ValueError:
            delay = 0.0
        if delay > 0:
            STOP.wait(delay)

        if mode not in ALL_MODES:
            self.send_json(400, {"error": "invalid_request",
                                 "error_description": "fake_aleph: unknown mode %s" % mode},
                           headers=extra)
            return

        if mode in TOKEN_SHAPED_MODES:
            failure = self.check_client(fields, err, basic, client_id,
                                        first(params, "accept_any_secret") == "1")
            if failure is not None:
                code, obj, hdrs = failure
                self.send_json(code, obj, headers=list(hdrs) + extra)
                return

        getattr(self, "mode_" + mode)(params, client_id, n, fields, extra)

    def check_client(self, fields, err, basic, client_id, any_secret=False):
        if err is not None:
            return 400, {"error": "invalid_request", "error_description": err}, ()
        if basic is not None and ("client_id" in fields or "client_secret" in fields):
            return 400, {"error": "invalid_request",
                         "error_description": "client credentials in both the body and "
                                              "the Authorization header"}, ()
        gt = fields.get("grant_type")
        if gt is None:
            return 400, {"error": "invalid_request",
                         "error_description": "missing grant_type"}, ()
        if gt != "client_credentials":
            return 400, {"error": "unsupported_grant_type"}, ()
        if basic is not None:
            secret = basic.get("client_secret") if basic["ok"] else None
        else:
            secret = fields.get("client_secret")
        if any_secret:
            secret_ok = isinstance(secret, str) and secret != ""
        else:
            secret_ok = secret == self.server.secret
        if client_id is None or not secret_ok:
            hdrs = ()
            if basic is not None:
                hdrs = (("WWW-Authenticate", 'Basic realm="fake-aleph"'),)
            return 401, {"error": "invalid_client",
                         "error_description": "Client authentication failed"}, hdrs
        return None

    def expires(self, params):
        """Returns (json text or None to omit, seconds for validity)."""
        raw = first(params, "expires_in_raw")
        if raw is not None:
            if raw == "absent":
                return None, DEFAULT_EXPIRES
            try:
                v = json.loads(raw)
                secs = v if isinstance(v, (int, float)) and not isinstance(v, bool) \
                    else DEFAULT_EXPIRES
            except ValueError:
                secs = DEFAULT_EXPIRES
            return raw, secs
        val = first(params, "expires_in")
        if val is None:
            return str(DEFAULT_EXPIRES), DEFAULT_EXPIRES
        try:
            secs = int(val)
        except ValueError:
            try:
                secs = float(val)
            except ValueError:
                return json.dumps(val), DEFAULT_EXPIRES
        return json.dumps(secs), secs

    def issue(self, params, client_id, token, fields, extra,
              token_json=None, register=True):
        exp_text, secs = self.expires(params)
        if register and isinstance(token, str):
            with STATE.lock:
                STATE.tokens[token] = (client_id, time.monotonic() + secs)
        ttype = first(params, "token_type", "Bearer")
        scope = fields.get("scope") if isinstance(fields.get("scope"), str) else DEFAULT_SCOPE
        parts = []
        if token_json is not None:
            parts.append('"access_token": ' + token_json)
        parts.append('"scope": ' + json.dumps(scope))
        if exp_text is not None:
            parts.append('"expires_in": ' + exp_text)
        if ttype != "absent":
            parts.append('"token_type": ' + json.dumps(ttype))
        body = ("{" + ", ".join(parts) + "}").encode("utf-8")
        hdrs = [("Cache-Control", "no-store"), ("Pragma", "no-cache")] + extra
        self.send_raw(200, body, headers=hdrs)

    @staticmethod
    def token_name(client_id, n):
        return "tok-%s-%d" % (TOKEN_UNSAFE.sub("-", client_id or ""), n)

    # token-shaped modes
    def mode_ok(self, params, cid, n, fields, extra):
        tok = self.token_name(cid, n)
        self.issue(params, cid, tok, fields, extra, json.dumps(tok))

    def mode_crlf(self, params, cid, n, fields, extra):
        tok = "tok\r\nX-Injected: yes"
        self.issue(params, cid, tok, fields, extra, json.dumps(tok))

    def mode_space(self, params, cid, n, fields, extra):
        self.issue(params, cid, "tok en", fields, extra, json.dumps("tok en"))

    def mode_nul(self, params, cid, n, fields, extra):
        self.issue(params, cid, "tok\u0000x", fields, extra, json.dumps("tok\u0000x"))

    def mode_notoken(self, params, cid, n, fields, extra):
        self.send_json(200, {"token_type": "Bearer", "expires_in": 3600},
                       headers=extra)

    def mode_emptytoken(self, params, cid, n, fields, extra):
        self.issue(params, cid, "", fields, extra, '""', register=False)

    def mode_numtoken(self, params, cid, n, fields, extra):
        self.issue(params, cid, None, fields, extra, "12345", register=False)

    def mode_bigtoken(self, params, cid, n, fields, extra):
        prefix = self.token_name(cid, n) + "-"
        tok = prefix + "A" * (BIGTOKEN_SIZE - len(prefix))
        self.issue(params, cid, tok, fields, extra, json.dumps(tok))

    def mode_notbearer(self, params, cid, n, fields, extra):
        tok = self.token_name(cid, n)
        p = dict(params)
        p["token_type"] = ["mac"]
        self.issue(p, cid, tok, fields, extra, json.dumps(tok))

    # raw modes
    def mode_down(self, params, cid, n, fields, extra):
        self.hard_close(rst=False)

    def mode_reset(self, params, cid, n, fields, extra):
        self.hard_close(rst=True)

    def mode_hang(self, params, cid, n, fields, extra):
        STOP.wait(HANG_SECONDS)
        self.hard_close(rst=False)

    def mode_drip(self, params, cid, n, fields, extra):
        head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        for k, v in extra:
            head += "%s: %s\r\n" % (k, v)
        head += "Connection: close\r\n\r\n"
        self.close_connection = True
        self.log_request(200)
        try:
            self.wfile.write(head.encode("latin-1"))
            deadline = time.monotonic() + HANG_SECONDS
            while time.monotonic() < deadline and not STOP.wait(DRIP_INTERVAL):
                self.wfile.write(b" ")
        except OSError:
            pass
        self.hard_close(rst=False)

    def mode_http(self, params, cid, n, fields, extra):
        try:
            status = int(first(params, "status", "500"))
            if not 200 <= status <= 599:
                raise ValueError
        except ValueError:
            self.send_json(400, {"error": "invalid_request",
                                 "error_description": "fake_aleph: bad status"})
            return
        error = first(params, "error")
        if error is not None:
            obj = {"error": error}
            desc = first(params, "error_description")
            if first(params, "echo_secret") == "1":
                desc = "wrong client_secret '%s'" % fields.get("client_secret")
            if desc is not None:
                obj["error_description"] = desc
            self.send_json(status, obj, headers=extra)
        else:
            self.send_raw(status, b"failure", ctype="text/plain", headers=extra)

    def mode_garbage(self, params, cid, n, fields, extra):
        self.send_raw(200, b"<html><body>Service temporarily unavailable</body></html>",
                      ctype="text/html", headers=extra)

    def mode_empty(self, params, cid, n, fields, extra):
        self.send_raw(200, b"", headers=extra)

    def mode_array(self, params, cid, n, fields, extra):
        self.send_raw(200, b"[]", headers=extra)

    def mode_redirect(self, params, cid, n, fields, extra):
        self.send_raw(302, b"", ctype=None,
                      headers=[("Location", "http://127.0.0.1:1/oauth/token")] + extra)

    def mode_oauth200(self, params, cid, n, fields, extra):
        self.send_json(200, {"error": "access_denied"}, headers=extra)

    def mode_huge(self, params, cid, n, fields, extra):
        tok = self.token_name(cid, n)
        exp_text, secs = self.expires(params)
        with STATE.lock:
            STATE.tokens[tok] = (cid, time.monotonic() + secs)
        tail = ('"access_token": %s, "expires_in": %s, "token_type": "Bearer"}'
                % (json.dumps(tok), exp_text or str(DEFAULT_EXPIRES))).encode()
        pad = HUGE_SIZE - 1 - len(tail)
        head = ["HTTP/1.1 200 OK", "Date: " + email.utils.formatdate(usegmt=True),
                "Server: " + self.server_version, "Content-Type: application/json",
                "Content-Length: %d" % HUGE_SIZE]
        head += ["%s: %s" % kv for kv in extra]
        if self.close_connection:
            head.append("Connection: close")
        self.log_request(200)
        try:
            self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + b"{")
            block = b" " * 65536
            while pad > 0:
                k = min(pad, len(block))
                self.wfile.write(block[:k])
                pad -= k
            self.wfile.write(tail)
        except OSError:
            self.close_connection = True

    # ---- API -----------------------------------------------------------

    def api(self, path, query, body, truncated):
        hdrs = self.headers_dict()
        tok_hdr = self.headers.get_all("authorizationToken") or []
        token, token_valid, token_client = None, False, None
        if len(tok_hdr) == 1:
            scheme, _, tok = tok_hdr[0].partition(" ")
            if scheme == "Bearer" and tok:
                token = tok
                with STATE.lock:
                    ent = STATE.tokens.get(tok)
                if ent is not None and time.monotonic() < ent[1]:
                    token_valid, token_client = True, ent[0]
        contract = self.headers.get("X-Satellogic-Contract-Id")
        rec = {"method": self.command, "path": path, "query": query,
               "headers": hdrs, "body": body.decode("utf-8", "replace"),
               "token_valid": token_valid}
        if truncated:
            rec["body_truncated"] = True
        with STATE.lock:
            STATE.api_paths[path] = STATE.api_paths.get(path, 0) + 1
            STATE.api_last.append(rec)
            if len(STATE.api_last) > 200:
                del STATE.api_last[:100]
        mark = [("X-Fake-Aleph", "1")]
        fx = self.server.fixtures
        if path in ("/contracts", "/contracts/"):
            params = parse_qs(query)
            which = first(params, "contracts", "many")
            try:
                STOP.wait(float(first(params, "delay", "0") or 0))
            except ValueError:
                pass
            if token_valid and which in CONTRACTS_SUBSETS:
                body = json.loads(fx["contracts.json"])[CONTRACTS_SUBSETS[which]]
                self.send_raw(200, json_bytes(body), headers=mark)
            elif token_valid:
                self.send_json(400, {"error": "fake_aleph: contracts=one|none|many"},
                               headers=mark)
            else:
                self.send_raw(401, fx["unauthorized.json"], headers=mark)
            return
        for prefix, name in (("/tasking/tasks", "tasking-tasks-page.json"),
                             ("/v2/orders", "orders-v2-page.json")):
            if path == prefix or path.startswith(prefix + "/"):
                if token_valid and contract:
                    self.send_raw(200, fx[name], headers=mark)
                else:
                    self.send_raw(401, fx["unauthorized.json"], headers=mark)
                return
        if path == "/status401" or path.startswith("/status401/"):
            self.send_raw(401, fx["unauthorized.json"], headers=mark)
            return
        if path.startswith("/status401-once/"):
            key = path[len("/status401-once/"):].split("/", 1)[0]
            with STATE.lock:
                seen = key in STATE.once_keys
                STATE.once_keys.add(key)
            if not seen:
                self.send_raw(401, fx["unauthorized.json"], headers=mark)
                return
        out = dict(rec)
        out["token_client_id"] = token_client
        self.send_json(200, out, headers=mark)


ADMIN = {
    "/_health": Handler.admin_health,
    "/_calls": Handler.admin_calls,
    "/_last": Handler.admin_last,
    "/_reset": Handler.admin_reset,
    "/_revoke": Handler.admin_revoke,
    "/_mode": Handler.admin_mode,
    "/_api_calls": Handler.admin_api_calls,
    "/_api_last": Handler.admin_api_last,
}


class Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 512
    allow_reuse_address = True

    def __init__(self, addr, secret, fixtures, ssl_ctx):
        self.secret = secret
        self.fixtures = fixtures
        self.ssl_ctx = ssl_ctx
        super().__init__(addr, Handler)

    def server_bind(self):
        # HTTPServer.server_bind does a reverse lookup; skip it.
        import socketserver
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def finish_request(self, request, client_address):
        if self.ssl_ctx is None:
            return super().finish_request(request, client_address)
        # A second descriptor keeps the connection open when the TLS socket
        # closes after a failed handshake: closing at once, with the client's
        # request unread, sends a reset that can overtake the TLS alert
        # (with TLS 1.3 a refused client certificate is reported only after
        # the client has sent its request). Close like httpd: FIN, drain.
        raw = request.dup()
        try:
            request.settimeout(30)
            tls = self.ssl_ctx.wrap_socket(request, server_side=True)
        except (OSError, ValueError) as e:
            log("TLS handshake failed: %s" % e)
            lingering_close(raw)
            return
        raw.close()
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            try:
                tls.shutdown(socket.SHUT_WR)
            except (OSError, ValueError):
                pass
            tls.close()

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (OSError, ValueError)):
            log("connection error: %r" % (exc,))
            return
        import traceback
        sys.stderr.write("fake_aleph: unexpected error\n")
        traceback.print_exc()


def lingering_close(sock, seconds=2.0):
    """Half-close, read what the client still sends, then close."""
    try:
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(seconds)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and sock.recv(65536):
            pass
    except OSError:
        pass
    finally:
        sock.close()


def load_fixtures(d):
    out = {}
    for name in ("contracts.json", "unauthorized.json",
                 "tasking-tasks-page.json", "orders-v2-page.json"):
        with open(os.path.join(d, name), "rb") as f:
            out[name] = f.read()
    return out


def write_port_file(path, port):
    d = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(d, ".%s.%d.tmp" % (os.path.basename(path), os.getpid()))
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def main(argv=None):
    global VERBOSE
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description="Fake Aleph token endpoint and API")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--secret", default="fake-secret")
    ap.add_argument("--fixtures", default=os.path.join(here, "fixtures", "aleph"))
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--tls-client-ca")
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args(argv)
    VERBOSE = a.verbose

    if bool(a.tls_cert) != bool(a.tls_key):
        ap.error("--tls-cert and --tls-key go together")
    if a.tls_client_ca and not a.tls_cert:
        ap.error("--tls-client-ca needs --tls-cert and --tls-key")
    try:
        fixtures = load_fixtures(a.fixtures)
    except OSError as e:
        ap.error("cannot read fixtures: %s" % e)
    ctx = None
    if a.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.tls_cert, a.tls_key)
        if a.tls_client_ca:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(cafile=a.tls_client_ca)

    try:
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = 4096 if hard == resource.RLIM_INFINITY else min(hard, 4096)
        if soft != resource.RLIM_INFINITY and soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    except (ImportError, ValueError, OSError):
        pass

    server = Server(("127.0.0.1", a.port), a.secret, fixtures, ctx)
    port = server.server_address[1]
    if a.port_file:
        write_port_file(a.port_file, port)
    log("listening on %s://127.0.0.1:%d" % ("https" if ctx else "http", port))

    def on_signal(signum, frame):
        if not STOP.is_set():
            STOP.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        server.server_close()
    log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
