#!/usr/bin/env python3
"""The peer toto-session replaces: Toto 1.0's request path in CPython.

Per request, as Toto's handler does it: load the session record from the cache (a
pickled session_data dict whose `state` is itself pickled by the session serializer,
pickle being Toto's default), build the session, check expiry, then verify the
request's x-toto-hmac: base64(HMAC-SHA1(key, METHOD + URI + BODY)) compared with the
header. 1 000 sessions live in a dict cache and are picked in a fixed random order.

Inputs are those of bench/c/bench.c and bench/benches/core.rs: the 5-entry state, the
key, the request (POST, URI, a 1 KiB body of "abc...z" repeated). The request MAC is
printed so that bench/run.py can check all sides signed the same bytes.

Output: one JSON object on stdout ({"results": [...], "info": {...}}), progress on
stderr. Harness: batches of ~2 ms, median of the batches' ns/op (for ~0.3 s, 15..101
batches), like the C and Rust harnesses. TOTO_BENCH_QUICK=1 shortens it;
TOTO_BENCH_BUDGET_MS=M sets the sampling time per figure (default 300, quick 60).
"""

import base64
import hashlib
import hmac
import json
import os
import pickle
import platform
import random
import sys
import time

KEY = "k3yK3yk3yK3yk3yK3yk3yA"
METHOD = b"POST"
URI = b"/api/v1/cart?item=42"
QUICK = bool(os.environ.get("TOTO_BENCH_QUICK"))


def message(n):
    return bytes(ord("a") + i % 26 for i in range(n))


STATE = {
    "user_name": "alice@example.com",
    "cart_items": 3,
    "is_admin": False,
    "balance": 12.5,
    "last_page": "/catalog/shoes?page=2",
}


class TotoException(Exception):
    def __init__(self, code, value):
        super().__init__(code, value)
        self.code = code
        self.value = value


class TotoSession:
    """Toto 1.0's TotoSession, the parts on the request path."""

    _serializer = pickle

    def __init__(self, session_data):
        self.user_id = session_data["user_id"]
        self.expires = session_data["expires"]
        self.session_id = session_data["session_id"]
        self.state = (
            session_data.get("state") and TotoSession.loads(session_data["state"]) or {}
        )
        self.key = session_data.get("key")

    @classmethod
    def loads(cls, data):
        return cls._serializer.loads(data)

    @classmethod
    def dumps(cls, data):
        return cls._serializer.dumps(data)

    def session_data(self):
        data = {
            "user_id": self.user_id,
            "expires": self.expires,
            "session_id": self.session_id,
            "state": TotoSession.dumps(self.state),
        }
        if self.key:
            data["key"] = self.key
        return data

    def hmac(self, data):
        return base64.b64encode(
            hmac.new(self.key.encode(), data, hashlib.sha1).digest()
        )

    def verify(self, mac, signature):
        if not self.key or not mac or not signature or mac != self.hmac(signature):
            raise TotoException(1008, "Invalid HMAC")
        return True


class DictSessionCache:
    """A session cache holding pickled session records by id."""

    def __init__(self):
        self._sessions = {}

    def store_session(self, session_data):
        self._sessions[session_data["session_id"]] = pickle.dumps(session_data)

    def load_session(self, session_id):
        blob = self._sessions.get(session_id)
        return blob and pickle.loads(blob)


def retrieve_session(cache, session_id):
    """Load: the cache's record, expired ones refused, as a TotoSession."""
    data = cache.load_session(session_id)
    if not data or data["expires"] <= time.time():
        return None
    return TotoSession(data)


def new_id():
    return base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()


# ---- harness ------------------------------------------------------------------------

RESULTS = []


def measure(name, batch):
    """`batch(n)` runs the operation n times and returns elapsed ns."""
    target = 2_000_000
    n = 1
    while True:
        t = batch(n)
        if t >= target / 4:
            break
        n *= 2
    n = max(1, int(n * target / max(t, 1)))
    t = batch(n)  # warm-up, then re-scale on a warm batch
    n = max(1, int(n * target / max(t, 1)))
    budget = 60_000_000 if QUICK else 300_000_000
    if float(os.environ.get("TOTO_BENCH_BUDGET_MS") or 0) > 0:
        budget = int(float(os.environ["TOTO_BENCH_BUDGET_MS"]) * 1e6)
    samples = []
    start = time.perf_counter_ns()
    while len(samples) < 101 and (
        len(samples) < 15 or time.perf_counter_ns() - start < budget
    ):
        samples.append(batch(n) / n)
    samples.sort()
    k = len(samples)
    median = samples[k // 2] if k % 2 else (samples[k // 2 - 1] + samples[k // 2]) / 2
    print(f"  {name:<40} {median:12.1f} ns/op", file=sys.stderr)
    RESULTS.append(
        {
            "name": name,
            "ns": round(median, 2),
            "p10": round(samples[round((k - 1) * 0.1)], 2),
            "p90": round(samples[round((k - 1) * 0.9)], 2),
            "batch": n,
            "samples": k,
        }
    )


def main():
    print(f"CPython {platform.python_version()} (Toto 1.0's path):", file=sys.stderr)
    n_sessions = 1000
    cache = DictSessionCache()
    expires = time.time() + 86400
    ids = []
    for i in range(n_sessions):
        sid = new_id()
        s = TotoSession(
            {"user_id": f"user{i}", "expires": expires, "session_id": sid, "key": KEY}
        )
        s.state = dict(STATE)
        cache.store_session(s.session_data())
        ids.append(sid)
    order = list(range(n_sessions))
    random.Random(1).shuffle(order)
    picks = [ids[i] for i in order]

    body = message(1024)
    probe = retrieve_session(cache, ids[0])
    mac = probe.hmac(METHOD + URI + body)
    mac_1k = probe.hmac(message(1024))

    pos = [0]

    def load(n):
        k = pos[0]
        t = time.perf_counter_ns()
        for _ in range(n):
            k = (k + 1) % n_sessions
            retrieve_session(cache, picks[k])
        elapsed = time.perf_counter_ns() - t
        pos[0] = k
        return elapsed

    def verify(n):
        t = time.perf_counter_ns()
        for _ in range(n):
            probe.verify(mac, METHOD + URI + body)
        return time.perf_counter_ns() - t

    def load_verify(n):
        k = pos[0]
        t = time.perf_counter_ns()
        for _ in range(n):
            k = (k + 1) % n_sessions
            session = retrieve_session(cache, picks[k])
            session.verify(mac, METHOD + URI + body)
        elapsed = time.perf_counter_ns() - t
        pos[0] = k
        return elapsed

    measure("py_load_1k", load)
    measure("py_verify_1k", verify)
    measure("py_load_verify_1k", load_verify)
    info = {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "request_mac_1k": mac.decode(),
        "mac_1k": mac_1k.decode(),
        "record_len": len(cache._sessions[ids[0]]),
    }
    json.dump({"results": RESULTS, "info": info}, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
