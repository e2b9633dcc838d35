#!/usr/bin/env python3
"""Runs every toto-session benchmark in one go and prints one table.

    python3 bench/run.py [--stage DIR] [--quick]      (what `make bench` runs)

Parts (each a child process of this one, run one after the other):
  Rust core + tower-sessions peer   bench/benches/core.rs (cargo bench, harness = false)
  C through the ABI + OpenSSL peer  bench/c/bench.c, linked against the staged .so
  CPython peer (Toto 1.0's path)    bench/python/toto_path.py
  Scale                             bench/c/bench.c scale N (1 k, 100 k, 1 M), threads
  Redis                             bench/c/bench.c redis vs redis-benchmark, on a private
                                    redis-server (scripts/with-redis.sh)
  Go / Ruby bindings                bindings/go (go test -bench), bindings/ruby/bench.rb,
                                    when they exist
  Ruby Rack layer                   bindings/ruby/bench_rack.rb: signed state.get through
                                    the middleware vs a bare Rack app (WEBrick, HTTP)

Every timing is the median of ~2 ms batches (see the harnesses). Output: the table on
stdout and the same data in bench/results.json. A missed target is reported as MISS;
the exit status is 0 either way (a benchmark that fails to run is an error).
"""

import argparse
import datetime
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
BUILD = ROOT / "build" / "bench"
SCALES = [1_000, 100_000, 1_000_000]


def log(msg):
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def run(cmd, env=None, cwd=ROOT, capture=True):
    """Runs `cmd`; its stderr (progress) passes through. Returns stdout."""
    log("$ " + " ".join(str(c) for c in cmd))
    full_env = dict(os.environ, **(env or {}))
    res = subprocess.run(
        [str(c) for c in cmd],
        cwd=cwd,
        env=full_env,
        stdout=subprocess.PIPE if capture else None,
        text=True,
    )
    if res.returncode != 0:
        sys.exit(f"bench: command failed ({res.returncode}): {' '.join(map(str, cmd))}")
    return res.stdout or ""


def run_json(cmd, env=None, cwd=ROOT):
    out = run(cmd, env=env, cwd=cwd)
    start = out.find("{")
    if start < 0:
        sys.exit(f"bench: no JSON from {cmd}")
    return json.loads(out[start:])


def by_name(doc):
    return {r["name"]: r for r in doc["results"]}


ROUNDS = 3


def rounds(cmd, n=ROUNDS):
    """Runs a benchmark program `n` times, interleaved with nothing else, and merges
    the runs: each figure becomes the median of its runs' medians ("rounds" keeps them),
    so a burst of other work on the machine moves one round, not the result."""
    docs = [run_json(cmd) for _ in range(n)]
    merged = []
    for r in docs[0]["results"]:
        vals = [by_name(d)[r["name"]]["ns"] for d in docs]
        merged.append(dict(r, ns=statistics.median(vals), rounds=vals))
    return {"results": merged, "info": docs[0]["info"]}


def spread(r):
    """(max - min) / median of a figure's rounds, in percent."""
    v = r.get("rounds")
    if not v or len(v) < 2:
        return None
    return 100.0 * (max(v) - min(v)) / statistics.median(v)


def first_line(cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "unavailable"


def machine_info():
    cpu = "unknown"
    flags = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and cpu == "unknown":
                cpu = line.split(":", 1)[1].strip()
            if line.startswith("flags") and not flags:
                flags = line
    except OSError:
        pass
    mem = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = int(line.split()[1]) * 1024
    except OSError:
        pass
    return {
        "cpu": cpu,
        "sha_ni": " sha_ni" in flags,
        "cpus": os.cpu_count(),
        "memory_bytes": mem,
        "kernel": platform.release(),
        "rustc": first_line(["rustc", "--version"]),
        "cc": first_line(["cc", "--version"]),
        "python": platform.python_version(),
        "redis_server": first_line(["redis-server", "--version"]),
    }


def cpu_seconds():
    """(CPU-seconds the whole machine was busy, CPU-seconds this process tree used)."""
    hz = os.sysconf("SC_CLK_TCK")
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    busy = sum(v[:8]) - v[3] - v[4]  # all but idle and iowait (guest is inside user)
    own = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        ru = resource.getrusage(who)
        own += ru.ru_utime + ru.ru_stime
    return busy / hz, own


# ---- building ------------------------------------------------------------------------


def build_rust():
    """The Rust bench binary, built in the library's target dir (shares its build-deps)."""
    env = {"CARGO_TARGET_DIR": str(ROOT / "target")}
    out = run(
        [
            "cargo",
            "bench",
            "--manifest-path",
            BENCH / "Cargo.toml",
            "--bench",
            "core",
            "--no-run",
            "--message-format=json-render-diagnostics",
        ],
        env=env,
    )
    exe = None
    for line in out.splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if msg.get("reason") == "compiler-artifact" and msg.get("target", {}).get(
            "name"
        ) == "core" and msg.get("executable"):
            exe = msg["executable"]
    if not exe:
        sys.exit("bench: cargo did not report the bench executable")
    return exe


def build_c(stage):
    BUILD.mkdir(parents=True, exist_ok=True)
    pc = {"PKG_CONFIG_PATH": str(Path(stage) / "lib" / "pkgconfig")}
    cflags = run(["pkg-config", "--cflags", "toto_session"], env=pc).split()
    libs = run(["pkg-config", "--libs", "toto_session"], env=pc).split()
    exe = BUILD / "bench"
    run(
        ["cc", "-std=c11", "-O2", "-g", "-Wall", "-Wextra", "-Werror",
         "-Wno-unused-parameter", *cflags, BENCH / "c" / "bench.c", "-o", exe, *libs,
         f"-Wl,-rpath,{Path(stage) / 'lib'}", "-lcrypto", "-lpthread"]
    )
    return exe


# ---- Redis phase (runs under scripts/with-redis.sh) --------------------------------------


def redis_phase(c_exe, record_len, quick):
    """Alternates redis-benchmark's single-client GET and toto's retrieve-with-renewal
    on the same private server; prints JSON."""
    port = os.environ["TOTO_REDIS_PORT"]
    url = os.environ["TOTO_REDIS_URL"]
    rb = ["redis-benchmark", "-h", "127.0.0.1", "-p", port]
    # GET then returns a value of the record's size, not a miss.
    run(rb + ["-t", "set", "-c", "1", "-n", "1", "-d", str(record_len), "-q"])
    n = "5000" if quick else "30000"
    secs = "0.5" if quick else "2"
    rb_rates, toto_rates, medians = [], [], []
    version = first_line(["redis-server", "--version"])
    for _ in range(3):
        out = run(rb + ["-t", "get", "-c", "1", "-n", n, "-d", str(record_len), "--csv"])
        row = [l for l in out.splitlines() if l.startswith('"GET"')][0]
        rb_rates.append(float(row.split(",")[1].strip('"')))
        doc = run_json([c_exe, "redis", url, secs])
        toto_rates.append(doc["info"]["retrieve_per_second"])
        medians.append(by_name(doc)["c_redis_retrieve_renew"]["ns"])
    # Server-side cost per command (microseconds), for the profile of a miss.
    stats = {}
    out = run(["redis-cli", "-h", "127.0.0.1", "-p", port, "INFO", "commandstats"])
    for line in out.splitlines():
        m = re.match(r"cmdstat_(\w+):calls=(\d+),usec=(\d+),usec_per_call=([\d.]+)", line)
        if m:
            stats[m.group(1)] = {"calls": int(m.group(2)), "usec_per_call": float(m.group(4))}
    json.dump(
        {
            "server_commandstats": stats,
            "redis_benchmark_get_rps": rb_rates,
            "toto_retrieve_rps": toto_rates,
            "toto_retrieve_median_ns": medians,
            "redis_server": version,
            "record_len": record_len,
        },
        sys.stdout,
    )


# ---- Go and Ruby bindings ----------------------------------------------------------------


def go_benchmarks(stage, quick):
    go_dir = ROOT / "bindings" / "go" / "toto"
    if not go_dir.is_dir() or not any(
        "func Benchmark" in p.read_text(errors="replace") for p in go_dir.glob("*_test.go")
    ):
        return None
    run([ROOT / "scripts" / "install-deps.sh", "go"])
    out = run(
        ["go", "test", "-tags", "toto_static", "-run", "^$", "-bench", ".", "-benchtime",
         "100ms" if quick else "1s", "-count", "3"],
        env={"PKG_CONFIG_PATH": str(Path(stage) / "lib" / "pkgconfig")},
        cwd=go_dir,
    )
    found, allocs = {}, {}
    for line in out.splitlines():
        m = re.match(r"^Benchmark(\S+?)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op", line)
        if m:
            found.setdefault(m.group(1), []).append(float(m.group(2)))
            a = re.search(r"(\d+) B/op\s+(\d+) allocs/op", line)
            if a:
                # go test rounds allocs/op down: B/op shows an allocation on most ops.
                allocs[m.group(1)] = f"{a.group(2)} allocs, {a.group(1)} B/op"
    # The HTTP layer (bindings/go/totohttp): a signed state.get through the middleware
    # and the method protocol vs a bare net/http handler doing the same JSON work, over
    # loopback HTTP and in process; cpu-ns/op is the process's CPU time per request.
    http_out = run(
        ["go", "test", "-tags", "toto_static", "-run", "^$", "-bench", "SignedStateGet",
         "-benchtime", "100ms" if quick else "1s", "-count", "3"],
        env={"PKG_CONFIG_PATH": str(Path(stage) / "lib" / "pkgconfig")},
        cwd=go_dir.parent / "totohttp",
    )
    http = {}
    for line in http_out.splitlines():
        m = re.match(r"^Benchmark(SignedStateGet\S*?)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op", line)
        if m:
            cpu = re.search(r"([\d.]+) cpu-ns/op", line)
            http.setdefault(m.group(1), []).append(float(cpu.group(1)) if cpu else float(m.group(2)))
    return {
        "version": first_line(["go", "version"]),
        "results": {k: statistics.median(v) for k, v in found.items()},
        "allocs_per_op": allocs,
        "http": {k: statistics.median(v) for k, v in http.items()},
    }


def gohttp_rows(t, go):
    sec = "Go HTTP layer (bindings/go/totohttp: signed state.get, CPU per request, median)"
    http = (go or {}).get("http") or {}
    pairs = (("over HTTP", "SignedStateGet"), ("in process", "SignedStateGetInProcess"))
    shown = False
    for label, name in pairs:
        bare, mw = http.get(f"{name}/bare"), http.get(f"{name}/middleware")
        if bare is None or mw is None:
            continue
        shown = True
        t.add(sec, f"{label}: middleware", mw, key=f"gohttp.{name}.middleware")
        t.add(sec, f"{label}: bare net/http", bare, key=f"gohttp.{name}.bare")
        t.add(sec, f"{label}: added by the layer", vs="added us (<= 10)",
              ratio=(mw - bare) / 1000.0,
              target=("<=", 10.0) if name == "SignedStateGetInProcess" else None,
              key=f"gohttp.{name}.layer")
    if not shown:
        t.add(sec, "middleware adds <= 10 us: no figures", vs="not yet", target=("<=", 10.0),
              key="gohttp.layer")


def ruby_benchmarks(stage, quick):
    script = ROOT / "bindings" / "ruby" / "bench.rb"
    if not script.is_file():
        return None
    run([ROOT / "scripts" / "install-deps.sh", "ruby"])
    env = {"TOTO_SESSION_LIB": str(Path(stage) / "lib" / "libtoto_session.so")}
    if quick:
        env["TOTO_BENCH_QUICK"] = "1"
    out = run(["ruby", "-I", ROOT / "bindings" / "ruby" / "lib", script], env=env,
              cwd=script.parent)
    results = {}
    start = out.find("{")
    if start >= 0:
        try:
            doc = json.loads(out[start:])
            items = doc.get("results", doc)
            if isinstance(items, dict):
                results = {k: float(v if not isinstance(v, dict) else v["ns"])
                           for k, v in items.items()}
            else:
                results = {r["name"]: float(r["ns"]) for r in items}
        except (ValueError, KeyError, TypeError):
            results = {}
    if not results:
        for line in out.splitlines():
            m = re.match(r"^\s*(\S.*?)\s+([\d.]+)\s*ns/op\s*$", line)
            if m:
                results[m.group(1).strip()] = float(m.group(2))
    return {"version": first_line(["ruby", "--version"]), "results": results,
            "raw": out[-4000:]}


def ruby_rack_benchmark(stage, quick):
    """bindings/ruby/bench_rack.rb: a signed state.get through the Rack layer vs a bare
    Rack app (issue 14: the layer adds <= 30 us per request)."""
    script = ROOT / "bindings" / "ruby" / "bench_rack.rb"
    if not script.is_file():
        return None
    run([ROOT / "scripts" / "install-deps.sh", "ruby"])
    env = {"TOTO_SESSION_LIB": str(Path(stage) / "lib" / "libtoto_session.so")}
    if quick:
        env["TOTO_BENCH_QUICK"] = "1"
    out = run(["ruby", "-I", ROOT / "bindings" / "ruby" / "lib", script, "--json"], env=env,
              cwd=script.parent)
    for line in reversed(out.splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                break
    return {}


# ---- the table -----------------------------------------------------------------------------


class Fig(float):
    """A median ns/op that remembers the spread of its rounds."""

    def __new__(cls, r):
        f = super().__new__(cls, r["ns"])
        f.spread = spread(r)
        return f


class Table:
    def __init__(self):
        self.rows = []

    def add(self, section, label, ns=None, *, ops=None, value=None, vs=None,
            ratio=None, target=None, key=None, note=None):
        """`target` is ("<=", x) or (">=", x); the row then gets PASS or MISS."""
        result = None
        if target is not None:
            if ratio is None:
                result = "n/a"
            else:
                op, bound = target
                ok = ratio <= bound if op == "<=" else ratio >= bound
                result = "PASS" if ok else "MISS"
        if ops is None and ns:
            ops = 1e9 / ns
        sp = getattr(ns, "spread", None)
        self.rows.append(
            {
                "section": section,
                "key": key or label,
                "label": label,
                "median_ns": None if ns is None else round(ns, 2),
                "rounds_spread_pct": None if sp is None else round(sp, 1),
                "ops_per_s": None if ops is None else round(ops, 1),
                "value": value,
                "vs": vs,
                "ratio": None if ratio is None else round(ratio, 4),
                "target": None if target is None else f"{target[0]} {target[1]:g}",
                "result": result,
                "note": note,
            }
        )

    def render(self):
        head = ["benchmark", "median ns/op", "spread", "ops/s", "vs (peer / limit)",
                "ratio", "target", "result"]
        lines = []
        widths = [58, 12, 6, 12, 36, 6, 6, 6]

        def fmt(cells):
            out = []
            for i, (c, w) in enumerate(zip(cells, widths)):
                out.append(c.ljust(w) if i in (0, 4) else c.rjust(w))
            return "  ".join(out).rstrip()

        lines.append(fmt(head))
        lines.append("  ".join("-" * w for w in widths))
        section = None
        for r in self.rows:
            if r["section"] != section:
                section = r["section"]
                lines.append(f"[{section}]")
            ns = "" if r["median_ns"] is None else f"{r['median_ns']:,.1f}"
            if r["value"]:
                ns = r["value"]
            ops = "" if r["ops_per_s"] is None else f"{r['ops_per_s']:,.0f}"
            ratio = "" if r["ratio"] is None else f"{r['ratio']:.2f}"
            sp = "" if r["rounds_spread_pct"] is None else f"{r['rounds_spread_pct']:.0f}%"
            lines.append(
                fmt(["  " + r["label"], ns, sp, ops, r["vs"] or "", ratio,
                     r["target"] or "", r["result"] or ""])
            )
        return "\n".join(lines)


def build_table(rust, c, py, scale, threads, redis, go, ruby, rack=None):
    t = Table()
    R, C, P = by_name(rust), by_name(c), by_name(py)

    def ns(d, k):
        return Fig(d[k])

    # -- Rust core
    sec = "Rust core (toto_session crate, release profile)"
    t.add(sec, "id generation", ns(R, "id_generate"), vs="time / limit 150 ns",
          ratio=ns(R, "id_generate") / 150, target=("<=", 1.0), key="rust.id_generate")
    for size, label in (("64", "64 B"), ("1k", "1 KiB"), ("64k", "64 KiB")):
        ref = ns(C, f"openssl_hmac_{size}")
        for op in ("hmac", "verify"):
            k = f"{op}_{size}"
            t.add(sec, f"session {op} {label}", ns(R, k), vs=f"time / OpenSSL HMAC {label}",
                  ratio=ns(R, k) / ref, key=f"rust.{k}")
    t.add(sec, "verify 1 KiB, keyed per call (sign::verify)", ns(R, "verify_1k_oneshot_key"),
          vs="time / OpenSSL HMAC 1 KiB",
          ratio=ns(R, "verify_1k_oneshot_key") / ns(C, "openssl_hmac_1k"),
          key="rust.verify_1k_oneshot_key")
    for k, label in (("record_encode", "record encode (5-entry state)"),
                     ("record_decode", "record decode (5-entry state)"),
                     ("get_i64", "state get i64"), ("get_text", "state get text"),
                     ("set_i64", "state set i64"),
                     ("account_load_5", "account load 5 props (memory store)"),
                     ("account_set_save_1", "account set + save 1 prop")):
        t.add(sec, label, ns(R, k), key=f"rust.{k}")
    for n, lab in (("1k", "1 k"), ("100k", "100 k")):
        k = f"manager_retrieve_{n}"
        tw = ns(R, f"tower_load_{n}")
        t.add(sec, f"manager retrieve + renew, {lab} sessions", ns(R, k),
              vs=f"speedup vs tower load {lab} ({tw:,.0f} ns)", ratio=tw / ns(R, k),
              target=(">=", 2.0), key=f"rust.{k}")
    t.add(sec, "manager verify_request 1 KiB, 1 k sessions", ns(R, "manager_verify_request_1k"),
          vs="speedup vs CPython load+verify",
          ratio=ns(P, "py_load_verify_1k") / ns(R, "manager_verify_request_1k"),
          key="rust.manager_verify_request_1k")
    t.add(sec, "manager save (dirty session), 1 k sessions", ns(R, "manager_save_1k"),
          vs="speedup vs tower save 1 k",
          ratio=ns(R, "tower_save_1k") / ns(R, "manager_save_1k"), key="rust.manager_save_1k")

    sec = "Rust: client-side sessions (AES-256-GCM-SIV token is the id)"
    t.add(sec, "client-side session open+verify per request, 200-byte state",
          ns(R, "client_open_200"), vs="time / goal 2 us",
          ratio=ns(R, "client_open_200") / 2000, target=("<=", 1.0), key="rust.client_open_200")
    t.add(sec, "  of which: base64 + AES-256-GCM-SIV open", ns(R, "client_aead_open_200"),
          key="rust.client_aead_open_200")
    t.add(sec, "  of which: record decode into a session", ns(R, "client_record_import_200"),
          key="rust.client_record_import_200")
    t.add(sec, "  + request HMAC check (verify_request, 64 B body)",
          ns(R, "client_verify_request_200"), key="rust.client_verify_request_200")
    t.add(sec, "seal a new token (save / renewal), 200-byte state", ns(R, "client_seal_200"),
          key="rust.client_seal_200")
    t.add(sec, "token size, 200-byte state (x-toto-session-id)",
          value=f"{rust['info'].get('client_token_len', '?')} chars", key="rust.client_token_len")

    sec = "Rust peer: tower-sessions 0.15 MemoryStore (same 5-entry record)"
    for k, label in (("tower_load_1k", "load, 1 k sessions"),
                     ("tower_load_100k", "load, 100 k sessions"),
                     ("tower_load_1k_block_on", "load, 1 k, runtime entered per call (block_on)"),
                     ("tower_save_1k", "save, 1 k sessions")):
        t.add(sec, label, ns(R, k), key=f"tower.{k}")

    # -- C
    sec = "C through the ABI (libtoto_session.so)"
    floor = ns(C, "c_floor_toto_version")
    t.add(sec, "floor: toto_version() (no-op C -> Rust call)", floor, key="c.floor")
    t.add(sec, "toto_generate_id", ns(C, "c_id_generate"), vs="time / limit 150 ns",
          ratio=ns(C, "c_id_generate") / 150, target=("<=", 1.0), key="c.id_generate")
    verify_targets = {"64": 0.6, "1k": 1.0}
    for size, label in (("64", "64 B"), ("1k", "1 KiB"), ("64k", "64 KiB")):
        ref = ns(C, f"openssl_hmac_{size}")
        t.add(sec, f"toto_session_hmac {label}", ns(C, f"c_hmac_{size}"),
              vs=f"time / OpenSSL HMAC {label}", ratio=ns(C, f"c_hmac_{size}") / ref,
              key=f"c.hmac_{size}")
        tgt = verify_targets.get(size)
        t.add(sec, f"toto_session_verify {label}", ns(C, f"c_verify_{size}"),
              vs=f"time / OpenSSL HMAC {label}", ratio=ns(C, f"c_verify_{size}") / ref,
              target=("<=", tgt) if tgt else None, key=f"c.verify_{size}")
    t.add(sec, "toto_verify 1 KiB (key per call)", ns(C, "c_verify_1k_oneshot_key"),
          vs="time / OpenSSL HMAC 1 KiB",
          ratio=ns(C, "c_verify_1k_oneshot_key") / ns(C, "openssl_hmac_1k"),
          key="c.verify_1k_oneshot_key")
    for k, rk, label in (
        ("c_record_encode", "record_encode", "toto_session_export (+ bytes_free)"),
        ("c_record_decode", "record_decode", "toto_session_import (+ session_free)"),
        ("c_get_i64", "get_i64", "toto_session_get_i64"),
        ("c_get_text", "get_text", "toto_session_get_text"),
        ("c_set_i64", "set_i64", "toto_session_set_i64"),
        ("c_account_load_5", "account_load_5", "account new + load 5 + free"),
        ("c_account_set_save_1", "account_set_save_1", "account set_i64 + save"),
        ("c_manager_retrieve_1k", "manager_retrieve_1k", "manager retrieve + free, 1 k"),
        ("c_manager_save_1k", "manager_save_1k", "set_i64 + manager save, 1 k"),
    ):
        t.add(sec, label, ns(C, k), vs="time / Rust core", ratio=ns(C, k) / ns(R, rk),
              key=f"c.{k[2:]}")
    t.add(sec, "cache load_session + free, 1 k", ns(C, "c_cache_load_session_1k"),
          key="c.cache_load_session_1k")
    py_e2e = ns(P, "py_load_verify_1k")
    t.add(sec, "verify_request 1 KiB end to end, 1 k sessions",
          ns(C, "c_manager_verify_request_1k"), vs="speedup vs CPython load+verify",
          ratio=py_e2e / ns(C, "c_manager_verify_request_1k"), target=(">=", 5.0),
          key="c.manager_verify_request_1k")
    t.add(sec, "  same, session handed back (+ free)",
          ns(C, "c_manager_verify_request_1k_out"), vs="speedup vs CPython load+verify",
          ratio=py_e2e / ns(C, "c_manager_verify_request_1k_out"),
          key="c.manager_verify_request_1k_out")

    sec = f"C peer: {c['info'].get('openssl', 'OpenSSL')} HMAC-SHA1 (same key, same messages)"
    for size, label in (("64", "64 B"), ("1k", "1 KiB"), ("64k", "64 KiB")):
        t.add(sec, f"EVP_MAC keyed per message {label} (reference)",
              ns(C, f"openssl_hmac_{size}"), key=f"openssl.hmac_{size}")
        t.add(sec, f"HMAC() one call {label}", ns(C, f"openssl_hmac_oneshot_{size}"),
              vs="time / reference", ratio=ns(C, f"openssl_hmac_oneshot_{size}") /
              ns(C, f"openssl_hmac_{size}"), key=f"openssl.hmac_oneshot_{size}")
        t.add(sec, f"EVP_MAC keyed once {label}", ns(C, f"openssl_hmac_keyed_{size}"),
              vs="time / reference", ratio=ns(C, f"openssl_hmac_keyed_{size}") /
              ns(C, f"openssl_hmac_{size}"), key=f"openssl.hmac_keyed_{size}")

    sec = f"Python peer: CPython {py['info']['python']}, Toto 1.0's path (pickle + hmac)"
    for k, label in (("py_load_1k", "load (pickled record, 5-entry state), 1 k"),
                     ("py_verify_1k", "verify request HMAC 1 KiB"),
                     ("py_load_verify_1k", "load + verify 1 KiB")):
        t.add(sec, label, ns(P, k), key=f"python.{k}")

    # -- scale
    sec = ("Scale: memory cache from C (sessions stored as the manager saves them), "
           "one process per size, each session its own user")
    limits = {1_000: 500.0, 1_000_000: 1000.0}
    for n in SCALES:
        r = by_name(scale[n])[f"c_manager_retrieve_{n}"]["ns"]
        lim = limits.get(n)
        t.add(sec, f"retrieve + free, {n:,} live sessions", r,
              vs=f"time / limit {lim:g} ns" if lim else None,
              ratio=r / lim if lim else None, target=("<=", 1.0) if lim else None,
              key=f"scale.retrieve_{n}")
    n = SCALES[-1]
    r = by_name(scale["anon"])[f"c_manager_retrieve_{n}_anon"]["ns"]
    t.add(sec, f"  same, {n:,} anonymous sessions (no user index)", r,
          vs="time / limit 1000 ns", ratio=r / 1000, key="scale.retrieve_anon")
    r = by_name(scale["compact"])[f"c_manager_retrieve_{n}_compact"]["ns"]
    t.add(sec, f"  same, {n:,} sessions, compact cache (records, decoded per load)", r,
          vs="time / limit 1000 ns", ratio=r / 1000, target=("<=", 1.0),
          key="scale.retrieve_compact")
    d = by_name(scale[n])[f"c_derive_id_{n}"]["ns"]
    t.add(sec, "  (the bench's id derivation included above)", d, key="scale.derive_id")
    for n in SCALES + ["anon", "compact"]:
        i = scale[n]["info"]
        count = int(i["sessions"])
        what = {"anon": f"{count:,} anonymous sessions",
                "compact": f"{count:,} sessions, compact cache"}.get(n, f"{count:,} sessions")
        t.add(sec, f"RSS, {what} ({i['rss_delta'] / 2**20:,.1f} MiB)",
              value=f"{i['rss_per_session']:.0f} B/sess",
              vs=f"RSS / records ({i['record_bytes'] / count:.0f} B/sess)",
              ratio=i["rss_over_record_bytes"],
              target=("<=", 2.0) if n in (1_000_000, "compact") else None,
              key=f"scale.rss_{n}")
    ti = threads["info"]
    t.add(sec, f"retrieve, 1 thread ({int(ti['sessions']):,} sessions)",
          1e9 / ti["ops_1_thread"], key="scale.threads_1")
    t.add(sec, f"retrieve, 2 threads, one manager ({ti['cpus_used_2_threads']:.2f} CPUs had)", 1e9 / ti["ops_2_threads"],
          ops=ti["ops_2_threads"], vs="2-thread / 1-thread ops/s",
          ratio=ti["ratio_2_over_1"], target=(">=", 1.7), key="scale.threads_2")
    t.add(sec, "  same, ops per CPU-second", vs="2-thread / 1-thread",
          ratio=ti["per_cpu_efficiency_2_over_1"], key="scale.threads_per_cpu")

    # -- Redis
    sec = f"Redis: private server ({redis['redis_server'].split(' v=')[-1].split(' ')[0] if 'v=' in redis['redis_server'] else redis['redis_server']}), single client, loopback"
    rb = statistics.median(redis["redis_benchmark_get_rps"])
    toto = statistics.median(redis["toto_retrieve_rps"])
    t.add(sec, f"redis-benchmark -t get -c 1 (-d {redis['record_len']})", 1e9 / rb, ops=rb,
          key="redis.benchmark_get")
    t.add(sec, "toto retrieve-with-renewal (EVALSHA), ops/s", 1e9 / toto, ops=toto,
          vs="rate / redis-benchmark GET", ratio=toto / rb, target=(">=", 0.8),
          key="redis.toto_retrieve")
    cs = redis.get("server_commandstats", {})
    if "get" in cs and "evalsha" in cs:
        t.add(sec, f"server time per call: GET {cs['get']['usec_per_call']:.2f} us, "
                   f"EVALSHA {cs['evalsha']['usec_per_call']:.2f} us", key="redis.server_usec",
              vs="EVALSHA / GET server time",
              ratio=cs["evalsha"]["usec_per_call"] / cs["get"]["usec_per_call"])

    # -- Go
    sec = "Go binding (cgo, go test -bench: median of 3 runs)"
    if go is None:
        t.add(sec, "not yet: no Go benchmarks in bindings/go", key="go.missing")
        t.add(sec, "Get <= 2x bare cgo", vs="not yet", target=("<=", 2.0), key="go.get")
        t.add(sec, "Set <= 2x bare cgo", vs="not yet", target=("<=", 2.0), key="go.set")
    else:
        res = go["results"]
        floor_k = next((k for k in res if re.search(r"Floor|Noop|NoOp|Bare", k)), None)
        gfloor = res.get(floor_k) if floor_k else None
        get_k = "SessionGetInt" if "SessionGetInt" in res else next(
            (k for k in res if re.search(r"Get", k)), None)
        set_k = "SessionSetInt" if "SessionSetInt" in res else next(
            (k for k in res if re.search(r"Set", k)), None)
        allocs = go.get("allocs_per_op", {})
        for k, v in res.items():
            tgt = ("<=", 2.0) if k in (get_k, set_k) else None
            label = f"{k} ({allocs[k]})" if k in allocs else k
            t.add(sec, label, v, vs="time / bare cgo call" if gfloor and k != floor_k else None,
                  ratio=v / gfloor if gfloor and k != floor_k else None, target=tgt,
                  key=f"go.{k}")
        for want, k in (("Get", get_k), ("Set", set_k)):
            if k is None:
                t.add(sec, f"{want} <= 2x bare cgo: no such benchmark", vs="not yet",
                      target=("<=", 2.0), key=f"go.{want.lower()}")

    sec = "Ruby binding (ffi gem, bindings/ruby/bench.rb: its own harness, best of 3)"
    if ruby is None or not ruby["results"]:
        why = "no bindings/ruby/bench.rb" if ruby is None else "bench.rb printed no figures"
        t.add(sec, f"not yet: {why}", key="ruby.missing")
        t.add(sec, "Get/Set <= 2x bare ffi", vs="not yet", target=("<=", 2.0), key="ruby.getset")
    else:
        res = ruby["results"]
        floor_k = next((k for k in res if re.search(r"floor|noop|no-op|bare", k, re.I)), None)
        rfloor = res.get(floor_k) if floor_k else None
        # The typed get/set: session[:n] = 42 and session[:n] on an int64.
        set_k = next((k for k in res if re.search(r"\[:\w+\]\s*=.*int", k)), None)
        get_k = next((k for k in res if re.search(r"\[:\w+\]\s*\(int", k)), None)
        for k, v in res.items():
            t.add(sec, k, v, vs="time / bare ffi call" if rfloor and k != floor_k else None,
                  ratio=v / rfloor if rfloor and k != floor_k else None,
                  target=("<=", 2.0) if k in (get_k, set_k) and rfloor else None,
                  key=f"ruby.{k}")
        for want, k in (("Get", get_k), ("Set", set_k)):
            if k is None or rfloor is None:
                t.add(sec, f"{want} <= 2x bare ffi: no such figure", vs="not yet",
                      target=("<=", 2.0), key=f"ruby.{want.lower()}")
    gohttp_rows(t, go)
    rack_rows(t, rack)
    return t


def rack_rows(t, rack):
    sec = "Ruby Rack layer (bindings/ruby/bench_rack.rb: signed state.get, WEBrick, median)"
    if not rack:
        t.add(sec, "Rack layer adds <= 30 us: no figures", vs="not yet", target=("<=", 30.0),
              key="rack.layer")
    else:
        for label, k in (("over HTTP, round trip", "http_wall"), ("over HTTP, server CPU", "http_server_cpu"),
                         ("in process (app.call), CPU", "in_process_cpu")):
            fig = rack.get(k) or {}
            if "toto" in fig and "bare" in fig:
                t.add(sec, f"{label}: middleware + methods", fig["toto"], key=f"rack.{k}.toto")
                t.add(sec, f"{label}: bare Rack app", fig["bare"], key=f"rack.{k}.bare")
                # The target is judged on the server's CPU time: wall time on a shared
                # machine is mostly other processes' noise.
                t.add(sec, f"{label}: added by the layer", vs="added us (<= 30)",
                      ratio=(fig["toto"] - fig["bare"]) / 1000.0,
                      target=("<=", 30.0) if k == "http_server_cpu" else None, key=f"rack.{k}.layer")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--stage", default=str(ROOT / "build" / "stage"),
                    help="staged install of the library (make stage)")
    ap.add_argument("--quick", action="store_true", help="short runs, for trying things out")
    ap.add_argument("--redis-phase", nargs=2, metavar=("C_BENCH", "RECORD_LEN"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.quick:
        os.environ["TOTO_BENCH_QUICK"] = "1"
    if args.redis_phase:
        redis_phase(args.redis_phase[0], int(args.redis_phase[1]), args.quick)
        return

    started = time.time()
    load_start = os.getloadavg()
    busy_start, own_start = cpu_seconds()
    stage = Path(args.stage).resolve()
    if not (stage / "lib" / "libtoto_session.so").exists():
        sys.exit(f"bench: no staged library in {stage} (run `make stage` first)")
    for tool in ("cargo", "cc", "pkg-config", "redis-server", "redis-benchmark"):
        if not shutil.which(tool):
            sys.exit(f"bench: {tool} missing (scripts/install-deps.sh core redis bench)")

    log("building the Rust and C benchmarks")
    rust_exe = build_rust()
    c_exe = build_c(stage)

    log("Rust core and tower-sessions")
    rust = rounds([rust_exe])
    log("C through the ABI, OpenSSL")
    c = rounds([c_exe, "micro"])
    log("CPython (Toto 1.0's path)")
    py = rounds([sys.executable, BENCH / "python" / "toto_path.py"])
    for k in ("request_mac_1k", "mac_1k"):
        if py["info"][k] != c["info"][k]:
            sys.exit(f"bench: C and Python disagree on {k}: not the same inputs")
    if c["info"]["openssl_mac_1k"] != c["info"]["mac_1k"]:
        sys.exit("bench: OpenSSL and toto disagree on the 1 KiB MAC")
    scale = {}
    for n in SCALES:
        log(f"scale: {n:,} sessions")
        scale[n] = run_json([c_exe, "scale", n])
    log(f"scale: {SCALES[-1]:,} anonymous sessions")
    scale["anon"] = run_json([c_exe, "scale", SCALES[-1], "anon"])
    log(f"scale: {SCALES[-1]:,} sessions in the compact memory cache")
    scale["compact"] = run_json([c_exe, "scale", SCALES[-1], "compact"])
    log("threads: 1 vs 2 on a shared manager")
    threads = run_json([c_exe, "threads"])
    log("Redis (private server)")
    redis_args = [ROOT / "scripts" / "with-redis.sh", sys.executable, Path(__file__).resolve()]
    if args.quick:
        redis_args.append("--quick")
    redis = run_json(redis_args + ["--redis-phase", c_exe, int(c["info"]["record_len"])])
    log("Go binding")
    go = go_benchmarks(stage, args.quick)
    log("Ruby binding")
    ruby = ruby_benchmarks(stage, args.quick)
    log("Ruby Rack layer")
    rack = ruby_rack_benchmark(stage, args.quick)

    table = build_table(rust, c, py, scale, threads, redis, go, ruby, rack)
    elapsed = time.time() - started
    load_end = os.getloadavg()
    busy_end, own_end = cpu_seconds()
    # CPU time used by other processes (and the daemonized redis-server) during the run,
    # as a share of what the machine had.
    others = max(0.0, (busy_end - busy_start) - (own_end - own_start))
    others_share = others / (elapsed * (os.cpu_count() or 1))
    info = machine_info()
    info["openssl"] = c["info"].get("openssl")
    info["load_average_start"] = round(load_start[0], 2)
    info["load_average_end"] = round(load_end[0], 2)
    info["other_processes_cpu_share"] = round(others_share, 3)

    targets = [r for r in table.rows if r["result"]]
    passed = sum(r["result"] == "PASS" for r in targets)
    missed = [r for r in targets if r["result"] == "MISS"]
    pending = [r for r in targets if r["result"] not in ("PASS", "MISS")]
    title = (f"toto-session benchmarks, {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}: "
             f"{info['cpu']} ({info['cpus']} CPUs{', SHA-NI' if info['sha_ni'] else ''}), "
             f"{info['rustc']}; other processes used {100 * others_share:.0f}% of the CPU "
             f"time during the run")
    print(title)
    print(f"median of ~2 ms batches (Rust, C micro, Python: median of {ROUNDS} rounds; spread = "
          "(max - min) / median of the rounds); ratio as stated in 'vs'; ops/s = 1e9 / median")
    print(table.render())
    print(f"targets: {passed} PASS, {len(missed)} MISS, {len(pending)} not yet"
          + (": MISS " + "; ".join(f"{r['label'].strip()} ({r['ratio']:.2f}, {r['target']})"
                                    for r in missed) if missed else ""))
    print(f"bench/run.py: {elapsed:.0f} s")
    if others_share > 0.1:
        print("note: other work competed for the CPUs during the run: figures are noisier "
              "than on a quiet machine (see the spread column)")

    doc = {
        "generated": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "seconds": round(elapsed, 1),
        "machine": info,
        "rows": table.rows,
        "targets": {"passed": passed, "missed": len(missed), "not_yet": len(pending)},
        "raw": {"rust": rust, "c": c, "python": py,
                "scale": {str(k): v for k, v in scale.items()}, "threads": threads,
                "redis": redis, "go": go, "ruby": ruby, "rack": rack},
    }
    (BENCH / "results.json").write_text(json.dumps(doc, indent=1) + "\n")
    log(f"wrote {BENCH / 'results.json'}")


if __name__ == "__main__":
    main()
