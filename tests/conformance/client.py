#!/usr/bin/env python3
"""Toto wire-protocol conformance client (Python 3 standard library only).

Speaks Toto 1.0.10's protocol exactly as ../shared/TOTO.md and Toto's handler.py
define it, and runs one scenario against a service at --base-url, failing on any wire
difference. It knows nothing about the service beyond this contract:

  * Toto's protocol mounted at the base URL's path (Toto's `root`), with Toto's four
    built-in methods account.create, account.login, account.logout, account.update.
  * Two app methods, both authenticated (1004 "Not authorized" without a live
    session of a user):
      state.set  parameters {"key": str, "value": any JSON}  stores value in the
                 session under key (its result is not checked)
      state.get  parameters {"key": str}  result {"value": <stored value or null>}
  * The account store accepts any new user id (the client makes random ones).

Modes (--mode):
  hmac     Toto's hmac_enabled = True: login results carry "key", every request with
           a session is signed (x-toto-hmac = base64(HMAC-SHA1(key, METHOD + URI +
           BODY))), every answer with a session is signed (base64(HMAC-SHA1(key,
           SESSION_ID + BODY))) and checked; tampering gives 1008.
  nohmac   hmac_enabled = False (Toto's default): no keys, no signatures.
  cookies  hmac_enabled = True and use_cookies = True: the session travels in the
           toto-session-id cookie (the header, when sent, wins).

Expiry: with --expire-after SECONDS (a service started with a session TTL that short)
only the expiry steps run: a session left alone that long answers 1004, as an unknown
id does (never 1007, which Toto's clients would not take as "logged out").

CORS: --origin is sent as Origin; with --allow-origin '*' (default) the answers must
carry access-control-allow-origin: *, with --allow-origin list the origin must be
echoed and another origin must get none.

Not checked, because Toto defines no portable outcome for them with this contract:
form-encoded POSTs (Toto passes every form value as a list), and whether a password
change ends the user's other sessions.

Prints "conformance: N passed, 0 failed" and exits 0, or lists the failures and exits 1.
"""

import argparse
import base64
import hashlib
import hmac
import http.client
import json
import os
import sys
import time
import traceback
import urllib.parse

ENVELOPE_KEYS = {"result", "error", "session", "batch"}


class WireError(AssertionError):
    pass


def check(cond, msg):
    if not cond:
        raise WireError(msg)


def b64_hmac(key, message):
    return base64.b64encode(hmac.new(key.encode(), message, hashlib.sha1).digest()).decode()


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lower-cased name -> list of values
        self.body = body
        self.json = None

    def header(self, name):
        v = self.headers.get(name.lower())
        return v[0] if v else None

    @property
    def error(self):
        return self.json.get("error") if isinstance(self.json, dict) else None

    @property
    def result(self):
        return self.json.get("result") if isinstance(self.json, dict) else None


class TotoClient:
    """A Toto client: keeps the session id and key, signs requests, checks answers."""

    def __init__(self, base_url, hmac_on, cookies, origin):
        u = urllib.parse.urlsplit(base_url)
        self.host, self.port = u.hostname, u.port or 80
        self.root = u.path.rstrip("/")
        self.hmac_on = hmac_on
        self.cookies = cookies
        self.origin = origin
        self.session_id = None
        self.key = None
        self.cookie = None  # the toto-session-id cookie value the server set
        self.last_set_cookie = None

    # -- transport -------------------------------------------------------------
    def raw(self, http_method, path, body=b"", headers=None):
        uri = self.root + path
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            conn.putrequest(http_method, uri, skip_accept_encoding=True)
            hdrs = dict(headers or {})
            if body or http_method == "POST":
                hdrs.setdefault("Content-Length", str(len(body)))
            for k, v in hdrs.items():
                conn.putheader(k, v)
            conn.endheaders(body if body else None)
            resp = conn.getresponse()
            data = resp.read()
            h = {}
            for k, v in resp.getheaders():
                h.setdefault(k.lower(), []).append(v)
            return Response(resp.status, h, data), uri
        finally:
            conn.close()

    def request(self, http_method, path, body=b"", content_type="application/json",
                send_session=True, sign=True, tamper=None, use_header=True, extra_headers=None):
        """One Toto request. tamper(body) -> body changes the body after signing."""
        headers = {"Origin": self.origin}
        if content_type and http_method == "POST":
            headers["Content-Type"] = content_type
        if send_session and self.session_id:
            if use_header:
                headers["x-toto-session-id"] = self.session_id
            if sign and self.hmac_on and self.key:
                headers["x-toto-hmac"] = b64_hmac(self.key, http_method.encode() + (self.root + path).encode() + body)
        if send_session and self.cookies and self.cookie:
            headers["Cookie"] = "toto-session-id=" + self.cookie
        headers.update(extra_headers or {})
        if tamper:
            body = tamper(body)
        resp, _ = self.raw(http_method, path, body, headers)
        self.take_cookie(resp)
        if http_method == "HEAD":
            check(resp.body == b"", "HEAD answer has a body: %r" % resp.body[:80])
            return resp
        self.check_envelope(resp)
        self.check_response_hmac(resp)
        self.follow(resp)
        return resp

    def call(self, method, parameters=None, **kw):
        body = json.dumps({"method": method, "parameters": parameters if parameters is not None else {}}).encode()
        return self.request("POST", "/", body, **kw)

    def take_cookie(self, resp):
        for sc in resp.headers.get("set-cookie", []):
            name, _, rest = sc.partition("=")
            if name.strip() == "toto-session-id":
                self.last_set_cookie = sc
                value = rest.split(";")[0].strip()
                cleared = value == "" or "max-age=0" in sc.lower() or "max-age=-1" in sc.lower()
                self.cookie = None if cleared else value

    # -- checks every answer gets ------------------------------------------------
    def check_envelope(self, resp):
        check(resp.status == 200, "HTTP status %d, want 200 (Toto answers errors in the envelope): %r"
              % (resp.status, resp.body[:200]))
        ct = resp.header("content-type") or ""
        check(ct.startswith("application/json"), "content-type %r, want application/json" % ct)
        try:
            resp.json = json.loads(resp.body)
        except ValueError:
            raise WireError("answer is not JSON: %r" % resp.body[:200])
        j = resp.json
        check(isinstance(j, dict), "answer is not a JSON object: %r" % j)
        check(set(j) <= ENVELOPE_KEYS, "unexpected keys in the answer: %s" % sorted(set(j) - ENVELOPE_KEYS))
        if "error" in j:
            check_error_shape(j["error"])
        if "session" in j:
            s = j["session"]
            check(isinstance(s, dict) and set(s) == {"session_id", "expires", "user_id"},
                  "session object %r, want exactly session_id, expires, user_id" % s)
            check(isinstance(s["session_id"], str) and s["session_id"], "session_id %r" % s["session_id"])
            check(isinstance(s["expires"], (int, float)) and not isinstance(s["expires"], bool),
                  "expires %r is not a number" % s["expires"])
            check(isinstance(s["user_id"], str), "user_id %r is not a string" % s["user_id"])
        if "batch" in j:
            check(isinstance(j["batch"], dict), "batch is not an object")
            for k, v in j["batch"].items():
                check(isinstance(v, dict) and len(v) == 1 and set(v) <= {"result", "error"},
                      "batch entry %s: %r, want {result} or {error}" % (k, v))
                if "error" in v:
                    check_error_shape(v["error"])
        ao = resp.header("access-control-allow-origin")
        eh = resp.header("access-control-expose-headers")
        check(eh is not None and "x-toto-hmac" in eh.lower(), "access-control-expose-headers %r" % eh)
        check(ao in ("*", self.origin), "access-control-allow-origin %r" % ao)

    def check_response_hmac(self, resp):
        """Toto's clients verify x-toto-hmac over SESSION_ID + BODY (1009 otherwise)."""
        mac = resp.header("x-toto-hmac")
        sess = resp.json.get("session")
        if not self.hmac_on:
            check(mac is None, "HMAC is off but the answer is signed")
            return
        if sess is None:
            check(mac is None, "an answer without a session is signed")
            return
        key = self.key
        result = resp.json.get("result")
        if isinstance(result, dict) and "session_id" in result and "key" in result:
            key = result["key"]  # a login: the new session signs
        check(key is not None, "signed answer for a session whose key the client does not know")
        check(mac is not None, "1009: answer with a session is not signed")
        want = b64_hmac(key, sess["session_id"].encode() + resp.body)
        check(hmac.compare_digest(mac, want), "1009: bad response HMAC %r, want %r" % (mac, want))

    def follow(self, resp):
        """Session handling as Toto's clients do it."""
        result = resp.json.get("result")
        if isinstance(result, dict) and "session_id" in result:
            self.session_id = result["session_id"]
            self.key = result.get("key")
        err = resp.json.get("error")
        if err and err.get("code") == 1004:
            self.logged_out()

    def logged_out(self):
        self.session_id = None
        self.key = None


def check_error_shape(e):
    check(isinstance(e, dict) and set(e) == {"code", "value"}, "error %r, want exactly code and value" % e)
    check(isinstance(e["code"], int), "error code %r is not an int" % e["code"])


def expect_error(resp, code, value=None, prefix=None):
    e = resp.error
    check(e is not None, "want error %d, got %r" % (code, resp.json))
    check(e["code"] == code, "error code %r (%r), want %d" % (e["code"], e["value"], code))
    if value is not None:
        check(e["value"] == value, "error %d text %r, want %r" % (code, e["value"], value))
    if prefix is not None:
        check(str(e["value"]).startswith(prefix), "error %d text %r, want %r..." % (code, e["value"], prefix))
    check("result" not in resp.json, "error answer also has a result")


def expect_ok(resp):
    check(resp.error is None, "unexpected error %r" % (resp.error,))
    return resp.result


class Scenario:
    def __init__(self, args):
        self.args = args
        self.mode = args.mode
        self.hmac_on = args.mode in ("hmac", "cookies")
        self.cookies = args.mode == "cookies"
        self.passed = 0
        self.failed = []
        self.tag = "%s%d" % (args.mode, os.getpid())
        self.uid = 0

    def client(self):
        return TotoClient(self.args.base_url, self.hmac_on, self.cookies, self.args.origin)

    def user(self):
        self.uid += 1
        return ("Conf_%s_%d_%s" % (self.tag, self.uid, base64.b32encode(os.urandom(5)).decode()), "pw-" + str(self.uid))

    def step(self, name, fn):
        try:
            fn()
            self.passed += 1
            if self.args.verbose:
                print("  ok   %s" % name)
        except Exception as e:  # a wire difference or a broken connection alike
            self.failed.append(name)
            print("  FAIL %s: %s" % (name, e))
            if self.args.verbose and not isinstance(e, WireError):
                traceback.print_exc()

    def logged_in(self, extra=None):
        c = self.client()
        uid, pw = self.user()
        params = {"user_id": uid, "password": pw}
        params.update(extra or {})
        expect_ok(c.call("account.create", params))
        return c, uid, pw

    # -- the steps ---------------------------------------------------------------
    def run(self):
        s = self.step
        if self.args.expire_after is not None:
            s("expired session -> 1004 (logged out)", self.expired)
            return self.passed, self.failed
        s("CORS preflight", self.cors_preflight)
        s("CORS preflight: unsupported method -> 405", self.cors_405)
        s("missing method -> 1002", self.missing_method)
        s("unknown method -> 1001", self.unknown_method)
        s("missing parameters -> 1003", self.missing_params)
        s("account.create with an extra value, then logged in", self.create)
        s("account.create: taken user id -> 1006", self.create_taken)
        s("account.create: empty user id -> 1010", self.create_empty)
        s("account.login: wrong password -> 1005", self.login_wrong)
        s("account.login", self.login)
        s("state round trip (signed calls, signed answers)", self.state_round_trip)
        s("falsy values round trip", self.falsy_values)
        if self.hmac_on:
            s("tampered body -> 1008 (envelope, signed)", self.tampered)
            s("missing x-toto-hmac -> 1008", self.missing_hmac)
        else:
            s("HMAC off: unsigned calls work, answers unsigned", self.hmac_off)
        s("unknown session id -> 1004 (logged out)", self.unknown_session)
        s("no session -> 1004", self.no_session)
        s("GET with query-string parameters", self.get_query)
        s("HEAD", self.head)
        s("method from the URL path (POST)", self.path_method)
        s("batch", self.batch)
        s("account.update: properties", self.update_props)
        s("account.update: new_password logs in again", self.update_password)
        s("account.logout -> {authenticated: false}, then 1004", self.logout)
        if self.cookies:
            s("cookie transport", self.cookie_transport)
            s("header wins over cookie", self.header_wins)
        if self.args.allow_origin == "list":
            s("CORS: unlisted origin gets no allow-origin", self.cors_unlisted)
        return self.passed, self.failed

    def cors_preflight(self):
        c = self.client()
        resp, _ = c.raw("OPTIONS", "/", b"", {
            "Origin": self.args.origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "X-Custom-Thing, content-type"})
        check(resp.status == 200, "OPTIONS status %d" % resp.status)
        allow = set((resp.header("access-control-allow-headers") or "").split(","))
        want = {"x-toto-hmac", "x-toto-session-id", "origin", "content-type", "x-custom-thing"}
        check(allow == want, "access-control-allow-headers %r, want %r" % (sorted(allow), sorted(want)))
        methods = set((resp.header("access-control-allow-methods") or "").split(","))
        check(methods == {"POST", "OPTIONS", "GET", "HEAD"}, "access-control-allow-methods %r" % methods)
        ao = resp.header("access-control-allow-origin")
        want_ao = "*" if self.args.allow_origin == "*" else self.args.origin
        check(ao == want_ao, "access-control-allow-origin %r, want %r" % (ao, want_ao))
        check(resp.header("access-control-expose-headers") == "x-toto-hmac",
              "access-control-expose-headers %r" % resp.header("access-control-expose-headers"))

    def cors_405(self):
        resp, _ = self.client().raw("OPTIONS", "/", b"", {
            "Origin": self.args.origin, "Access-Control-Request-Method": "PUT"})
        check(resp.status == 405, "OPTIONS for PUT: status %d, want 405" % resp.status)

    def cors_unlisted(self):
        resp, _ = self.client().raw("OPTIONS", "/", b"", {
            "Origin": "https://not-listed.example", "Access-Control-Request-Method": "POST"})
        check(resp.header("access-control-allow-origin") is None,
              "unlisted origin allowed: %r" % resp.header("access-control-allow-origin"))

    def missing_method(self):
        c = self.client()
        expect_error(c.request("POST", "/", b'{"parameters": {}}'), 1002, "Missing method.")

    def unknown_method(self):
        expect_error(self.client().call("no.such_method"), 1001, "Cannot call 'no.such_method'.")

    def missing_params(self):
        r = self.client().call("account.create", {})
        expect_error(r, 1003, prefix="Missing parameters: ")
        named = set(x.strip() for x in r.error["value"][len("Missing parameters: "):].split(","))
        check(named == {"user_id", "password"}, "1003 names %r" % named)

    def check_login_result(self, c, r, uid):
        res = expect_ok(r)
        want = {"session_id", "expires", "user_id"} | ({"key"} if self.hmac_on else set())
        check(isinstance(res, dict) and set(res) == want, "login result %r, want keys %s" % (res, sorted(want)))
        check(res["user_id"] == uid.lower(), "user_id %r, want %r" % (res["user_id"], uid.lower()))
        check(res["expires"] > time.time(), "expires %r is not in the future" % res["expires"])
        s = r.json.get("session")
        check(s is not None, "login answer has no session object")
        check(s["session_id"] == res["session_id"] and s["user_id"] == res["user_id"],
              "session object %r does not match the result %r" % (s, res))
        check(abs(s["expires"] - res["expires"]) < 1, "session expires %r vs result %r" % (s["expires"], res["expires"]))
        if self.hmac_on:
            check(isinstance(res["key"], str) and len(res["key"]) >= 16, "key %r" % res["key"])
        check(c.session_id == res["session_id"], "client did not take the session")

    def create(self):
        c = self.client()
        uid, pw = self.user()
        r = c.call("account.create", {"user_id": uid, "password": pw, "email": uid + "@example.com", "plan": {"tier": 2}})
        self.check_login_result(c, r, uid)
        expect_ok(c.call("state.set", {"key": "k", "value": 1}))

    def create_taken(self):
        c, uid, pw = self.logged_in()
        expect_error(self.client().call("account.create", {"user_id": uid.upper(), "password": "x"}),
                     1006, "User ID already in use.")

    def create_empty(self):
        expect_error(self.client().call("account.create", {"user_id": "", "password": "x"}), 1010, "Invalid user ID.")

    def login_wrong(self):
        c, uid, pw = self.logged_in()
        expect_error(self.client().call("account.login", {"user_id": uid, "password": pw + "x"}),
                     1005, "Invalid user ID or password")
        expect_error(self.client().call("account.login", {"user_id": uid + "nobody", "password": pw}),
                     1005, "Invalid user ID or password")

    def login(self):
        c, uid, pw = self.logged_in()
        first = c.session_id
        c2 = self.client()
        r = c2.call("account.login", {"user_id": uid.upper(), "password": pw})
        self.check_login_result(c2, r, uid)
        check(c2.session_id != first, "login reused the create session id")
        # both sessions live
        expect_ok(c.call("state.set", {"key": "a", "value": "one"}))
        expect_ok(c2.call("state.set", {"key": "a", "value": "two"}))
        check(c.call("state.get", {"key": "a"}).result == {"value": "one"}, "sessions share state")

    def state_round_trip(self):
        c, uid, pw = self.logged_in()
        value = {"list": [1, 2.5, "three", None, True], "nested": {"ü": "snow ☃"}}
        r = expect_ok(c.call("state.set", {"key": "k", "value": value}))
        r = c.call("state.get", {"key": "k"})
        check(r.result == {"value": value}, "state.get %r, want %r" % (r.result, {"value": value}))
        check(r.json["session"]["session_id"] == c.session_id, "answer names another session")
        check(r.json["session"]["user_id"] == uid.lower(), "answer session user_id %r" % r.json["session"]["user_id"])
        r = c.call("state.get", {"key": "missing"})
        check(r.result == {"value": None}, "state.get of a missing key: %r" % r.result)
        # the state outlives the request: a second client with the same session sees it
        c2 = self.client()
        c2.session_id, c2.key, c2.cookie = c.session_id, c.key, c.cookie
        check(c2.call("state.get", {"key": "k"}).result == {"value": value}, "state not persisted")

    def falsy_values(self):
        c, _, _ = self.logged_in()
        for i, v in enumerate([0, False, "", [], {}, None]):
            expect_ok(c.call("state.set", {"key": "f%d" % i, "value": v}))
            got = c.call("state.get", {"key": "f%d" % i}).result
            check(got == {"value": v} and type(got["value"]) is type(v), "falsy %r read back as %r" % (v, got))

    def tampered(self):
        c, uid, _ = self.logged_in()
        expect_ok(c.call("state.set", {"key": "t", "value": "before"}))
        r = c.call("state.set", {"key": "t", "value": "evil"},
                   tamper=lambda b: b.replace(b'"evil"', b'"EVIL"'))
        expect_error(r, 1008, "Invalid HMAC")
        check(r.json.get("session", {}).get("session_id") == c.session_id, "1008 answer does not name the session")
        check(r.header("x-toto-hmac") is not None, "1008 answer is not signed")
        check(c.call("state.get", {"key": "t"}).result == {"value": "before"}, "tampered call took effect")
        # a signature for another URI fails too
        body = json.dumps({"method": "state.get", "parameters": {"key": "t"}}).encode()
        mac = b64_hmac(c.key, b"POST" + (c.root + "/other").encode() + body)
        r = c.request("POST", "/", body, sign=False, extra_headers={"x-toto-hmac": mac})
        expect_error(r, 1008, "Invalid HMAC")

    def missing_hmac(self):
        c, _, _ = self.logged_in()
        expect_error(c.call("state.get", {"key": "k"}, sign=False), 1008, "Invalid HMAC")

    def hmac_off(self):
        c, _, _ = self.logged_in()
        check(c.key is None, "HMAC off but login gave a key")
        r = c.call("state.set", {"key": "x", "value": 5}, extra_headers={"x-toto-hmac": "garbage"})
        expect_ok(r)
        check(c.call("state.get", {"key": "x"}).result == {"value": 5}, "round trip without HMAC")

    def unknown_session(self):
        c, _, _ = self.logged_in()
        c.session_id = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
        c.cookie = None
        r = c.call("state.get", {"key": "k"})
        expect_error(r, 1004, "Not authorized")
        check("session" not in r.json, "1004 answer names a session: %r" % r.json)
        check(c.session_id is None, "client still holds the session after 1004")

    def expired(self):
        c, _, _ = self.logged_in()
        expect_ok(c.call("state.set", {"key": "e", "value": 1}))
        sid, key, cookie = c.session_id, c.key, c.cookie
        time.sleep(self.args.expire_after + 1.0)
        c.session_id, c.key, c.cookie = sid, key, cookie
        r = c.call("state.get", {"key": "e"})
        expect_error(r, 1004, "Not authorized")
        check("session" not in r.json, "1004 for an expired session names it: %r" % r.json)
        check(c.session_id is None, "client still holds the session after 1004")

    def no_session(self):
        expect_error(self.client().call("state.get", {"key": "k"}), 1004, "Not authorized")

    def get_query(self):
        c, _, _ = self.logged_in()
        expect_ok(c.call("state.set", {"key": "g", "value": "via-post"}))
        r = c.request("GET", "/state/get?key=g")
        check(r.result == {"value": "via-post"}, "GET state.get %r" % r.result)
        expect_ok(c.request("GET", "/state/set?key=single&value=7"))
        got = c.call("state.get", {"key": "single"}).result
        check(got == {"value": "7"}, "one query value should arrive as a string: %r" % got)
        expect_ok(c.request("GET", "/state/set?key=multi&value=a&value=b"))
        got = c.call("state.get", {"key": "multi"}).result
        check(got == {"value": ["a", "b"]}, "several query values should arrive as a list: %r" % got)
        expect_error(c.request("GET", "/"), 1002, "Missing method.")

    def head(self):
        c, _, _ = self.logged_in()
        r = c.request("HEAD", "/state/get?key=g")
        check(r.status == 200, "HEAD status %d" % r.status)
        check(r.body == b"", "HEAD has a body")
        if self.hmac_on:
            check(r.header("x-toto-hmac") is not None, "HEAD answer with a session is not signed")

    def path_method(self):
        c, _, _ = self.logged_in()
        expect_ok(c.call("state.set", {"key": "p", "value": [1]}))
        r = c.request("POST", "/state/get", json.dumps({"parameters": {"key": "p"}}).encode())
        check(r.result == {"value": [1]}, "POST /state/get: %r" % r.result)
        # a body without "parameters" is itself the parameters
        r = c.request("POST", "/state/get", json.dumps({"key": "p"}).encode())
        check(r.result == {"value": [1]}, "POST /state/get with bare parameters: %r" % r.result)
        # the path wins over the body's method
        r = c.request("POST", "/state/get", json.dumps({"method": "no.such", "parameters": {"key": "p"}}).encode())
        check(r.result == {"value": [1]}, "the URL path should select the method: %r" % r.json)
        expect_error(c.request("POST", "/no/such", b"{}"), 1001, "Cannot call 'no.such'.")

    def batch(self):
        c, uid, _ = self.logged_in()
        body = json.dumps({"batch": {
            "b": {"method": "state.get", "parameters": {"key": "bk"}},
            "a": {"method": "state.set", "parameters": {"key": "bk", "value": "batched"}},
            "c": {"method": "no.such"},
            "d": {"method": "state.get", "parameters": {}},
        }}).encode()
        r = c.request("POST", "/", body)
        b = r.json.get("batch")
        check(isinstance(b, dict) and set(b) == {"a", "b", "c", "d"}, "batch answer %r" % r.json)
        check("error" not in b["a"], "batch a: %r" % b["a"])
        check(b["b"] == {"result": {"value": "batched"}}, "batch runs in sorted id order: b = %r" % b["b"])
        check(b["c"]["error"]["code"] == 1001, "batch c: %r" % b["c"])
        check(b["d"]["error"]["code"] == 1003, "batch d: %r" % b["d"])
        check(r.json.get("session", {}).get("session_id") == c.session_id, "batch answer names no session")
        check("result" not in r.json and "error" not in r.json, "batch answer has a top-level result/error")
        # without a session every authenticated call answers 1004
        r = self.client().request("POST", "/", body)
        check(r.json["batch"]["a"]["error"]["code"] == 1004, "batch without session: %r" % r.json)

    def update_props(self):
        c, _, _ = self.logged_in({"email": "old@example.com"})
        r = c.call("account.update", {"email": "new@example.com", "nickname": "N"})
        res = expect_ok(r)
        check(isinstance(res, dict) and set(res) == {"updated_fields"}, "update result %r" % res)
        check(sorted(res["updated_fields"]) == ["email", "nickname"], "updated_fields %r" % res["updated_fields"])
        expect_error(self.client().call("account.update", {"email": "x"}), 1004, "Not authorized")

    def update_password(self):
        c, uid, pw = self.logged_in()
        old_id = c.session_id
        r = c.call("account.update", {"password": pw, "new_password": pw + "-new"})
        res = expect_ok(r)
        check("password" in res.get("updated_fields", []), "updated_fields %r" % res)
        check(res.get("session_id") and res["session_id"] != old_id, "no new session in %r" % res)
        check(res.get("user_id") == uid.lower(), "update result user_id %r" % res.get("user_id"))
        if self.hmac_on:
            check(res.get("key"), "no key in %r" % res)
        expect_ok(c.call("state.set", {"key": "after", "value": 1}))
        # (Whether the old session survives is the service's choice: Toto's base
        # clear_sessions is a no-op, toto-session removes every session of the user.)
        expect_error(self.client().call("account.login", {"user_id": uid, "password": pw}), 1005)
        expect_ok(self.client().call("account.login", {"user_id": uid, "password": pw + "-new"}))
        r = c.call("account.update", {"password": "wrong", "new_password": "x"})
        expect_error(r, 1005)

    def logout(self):
        c, _, _ = self.logged_in()
        sid, key, cookie = c.session_id, c.key, c.cookie
        r = c.call("account.logout")
        check(expect_ok(r) == {"authenticated": False}, "logout result %r" % r.result)
        c.logged_out()
        # the next call with the old session: 1004, which a Toto client takes as logged out
        c.session_id, c.key, c.cookie = sid, key, cookie
        r = c.call("state.get", {"key": "k"})
        expect_error(r, 1004, "Not authorized")
        check(c.session_id is None, "client kept the session after 1004")
        expect_error(c.call("account.logout"), 1004, "Not authorized")

    def cookie_transport(self):
        c = self.client()
        uid, pw = self.user()
        r = c.call("account.create", {"user_id": uid, "password": pw})
        expect_ok(r)
        sc = c.last_set_cookie or ""
        check(c.cookie == c.session_id, "login did not set toto-session-id=<session id>: %r" % sc)
        attrs = [a.strip().lower() for a in sc.split(";")[1:]]
        check("path=/" in attrs, "cookie path: %r" % sc)
        exp = [a for a in attrs if a.startswith("expires=")]
        check(exp, "cookie has no expiry: %r" % sc)
        # cookie only, no header: still signed with the key
        r = c.call("state.set", {"key": "ck", "value": "cookie"}, use_header=False)
        expect_ok(r)
        check(c.last_set_cookie and c.cookie == c.session_id, "cookie not set again on an answer with a session")
        r = c.call("state.get", {"key": "ck"}, use_header=False)
        check(r.result == {"value": "cookie"}, "cookie-only round trip: %r" % r.json)
        # a tampered cookie-only request still fails
        expect_error(c.call("state.get", {"key": "ck"}, use_header=False, sign=False), 1008, "Invalid HMAC")

    def header_wins(self):
        c, _, _ = self.logged_in()
        check(c.cookie, "no cookie after login")
        real = c.session_id
        c.session_id = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
        expect_error(c.call("state.get", {"key": "k"}), 1004, "Not authorized")
        c.session_id = real


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base-url", required=True, help="e.g. http://127.0.0.1:8080/")
    ap.add_argument("--mode", choices=["hmac", "nohmac", "cookies"], default="hmac")
    ap.add_argument("--origin", default="https://app.example", help="Origin header to send")
    ap.add_argument("--allow-origin", choices=["*", "list"], default="*",
                    help="'*': the service allows any origin; 'list': it allows --origin only")
    ap.add_argument("--expire-after", type=float, metavar="SECONDS",
                    help="the service's session TTL; run only the expiry steps")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    passed, failed = Scenario(args).run()
    print("conformance (%s, %s): %d passed, %d failed" % (args.mode, args.base_url, passed, len(failed)))
    print("conformance: %d passed, %d failed" % (passed, len(failed)))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
