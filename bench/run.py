#!/usr/bin/env python3
"""Runs toto-session's benchmarks in one go and prints one table.

    python3 bench/run.py [--stage DIR] [--quick] [--filter REGEX] [--rounds N]
                         [--no-regression-check]           (what `make bench` runs)

Parts (each a child process, or a child process per round; --filter picks some):
  micro      Rust core + tower-sessions peer (bench/benches/core.rs), C through the ABI
             + OpenSSL peer (bench/c/bench.c micro), CPython's Toto path
             (bench/python/toto_path.py): one process of each per round, the three
             alternating (rust, c, python, rust, c, python, ...)
  scale      bench/c/bench.c scale N (1 k, 100 k, 1 M, 1 M anonymous, 1 M compact)
  threads    bench/c/bench.c threads: 1 vs 2 threads, alternating in the process
  redis      retrieve (bench/c/bench.c redis) vs redis-benchmark GET, alternating, on a
             private redis-server (scripts/with-redis.sh), INFO commandstats per side
  cluster    the same against a Redis Cluster (scripts/with-redis-cluster.sh, when present)
  go         bindings/go/toto's go test benchmarks (binding vs bare cgo call)
  gohttp     bindings/go/totohttp: signed state.get, middleware vs bare net/http
  gopeers    bench/go-peers: gorilla/sessions vs the binding
  ruby       bindings/ruby/bench.rb (binding vs bare ffi call)
  rubyyjit   the same under Ruby's YJIT (ruby --yjit), rows without goals
  rack       bindings/ruby/bench_rack.rb (Rack layer vs bare Rack app)
  rackyjit   the same under Ruby's YJIT (RUBYOPT=--yjit), rows without goals
  rackpeers  bench/ruby/rack_peers.rb: Rack::Session::Pool / Cookie vs the Rack layer

Every ratio is computed per round from that round's two sides; a row shows the
median ratio and its spread (min-max over the rounds), and its verdict is PASS when
every round meets the goal, MISS when none does, noisy otherwise. The table goes to
stdout, bench/results.json and docs/performance.md (between its bench:table markers).
The exit status is non-zero when a benchmark fails to run or a row regressed against
the committed bench/results.json (see bench/README.md for the rule).
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
RESULTS = BENCH / "results.json"
DOC = ROOT / "docs" / "performance.md"
TABLE_START = "<!-- bench:table:start -->"
TABLE_END = "<!-- bench:table:end -->"
CLUSTER_SCRIPT = ROOT / "scripts" / "with-redis-cluster.sh"
SCALES = [1_000, 100_000, 1_000_000]
ROUNDS = 5  # rounds of every cheap part (--rounds)

PARTS = ["micro", "scale", "threads", "redis", "cluster", "go", "gohttp", "gopeers", "ruby",
         "rubyyjit", "rack", "rackyjit", "rackpeers"]
# A row's part, from its key's prefix (first match).
KEY_PARTS = [("scale.threads", "threads"), ("scale.", "scale"), ("rust.", "micro"),
             ("tower.", "micro"), ("c.", "micro"), ("openssl.", "micro"), ("python.", "micro"),
             ("redis.", "redis"), ("cluster.", "cluster"), ("gohttp.", "gohttp"),
             ("gopeers.", "gopeers"), ("go.", "go"), ("rackpeers.", "rackpeers"),
             ("rackyjit.", "rackyjit"), ("rack.", "rack"), ("rubyyjit.", "rubyyjit"),
             ("ruby.", "ruby")]


# ---- pure functions (bench/test_run.py tests them) ------------------------------------


def parse_goal(goal):
    """("<=", 1.0) from ("<=", 1.0) or "<= 1"; None for none."""
    if goal is None:
        return None
    if isinstance(goal, str):
        op, bound = goal.split()
        return op, float(bound)
    return goal[0], float(goal[1])


def goal_text(goal):
    goal = parse_goal(goal)
    return None if goal is None else f"{goal[0]} {goal[1]:g}"


def meets(ratio, goal):
    op, bound = parse_goal(goal)
    return ratio <= bound if op == "<=" else ratio >= bound


def spread(ratios):
    """(min, max) of the per-round ratios, or None without any."""
    ratios = [r for r in ratios or [] if r is not None]
    return (min(ratios), max(ratios)) if ratios else None


def verdict(ratios, goal):
    """PASS when every round meets the goal, MISS when none does, noisy when the rounds
    straddle it; None without a goal, "n/a" with a goal but no figures."""
    if goal is None:
        return None
    ratios = [r for r in ratios or [] if r is not None]
    if not ratios:
        return "n/a"
    met = sum(meets(r, goal) for r in ratios)
    return "PASS" if met == len(ratios) else "MISS" if met == 0 else "noisy"


def _row_verdict(row):
    return row.get("verdict") or row.get("result")


def _row_width(row):
    sp = row.get("spread")
    return (sp[1] - sp[0]) if sp else 0.0


def regression(old, new):
    """Why `new` regressed against `old` (two rows of the same key, as in results.json),
    or None. A regression: the row PASSed in `old`, now MISSes (no round meets the
    goal), and its median ratio moved the wrong way by more than the old and the new
    spreads (max - min of the per-round ratios) together. noisy is never one."""
    if _row_verdict(old) != "PASS" or _row_verdict(new) != "MISS":
        return None
    goal = parse_goal(new.get("goal") or new.get("target"))
    if goal is None or old.get("ratio") is None or new.get("ratio") is None:
        return None
    worse = new["ratio"] - old["ratio"] if goal[0] == "<=" else old["ratio"] - new["ratio"]
    allowed = _row_width(old) + _row_width(new)
    if worse <= allowed:
        return None
    return (f"{old['ratio']:.3g} -> {new['ratio']:.3g} (goal {goal_text(goal)}; worse by "
            f"{worse:.3g}, spreads together {allowed:.3g})")


def regressions(old_rows, new_rows):
    """[(new row, reason)] for the rows of `new_rows` that regressed against the row of
    the same key in `old_rows`; rows not in both are not compared."""
    old = {r["key"]: r for r in old_rows or []}
    out = []
    for r in new_rows:
        if r["key"] in old:
            why = regression(old[r["key"]], r)
            if why:
                out.append((r, why))
    return out


def merge_rows(old_rows, new_rows, whole_parts=()):
    """The rows of a filtered run merged into the previous ones: a row of the same key
    is replaced in place, a new row goes after the last row of its section (or at the
    end), and rows not run are kept as they were, except those of `whole_parts` (parts
    the filter named, run whole): their rows are all new, so their old ones go."""
    merged = [r for r in old_rows or [] if part_of_key(r["key"]) not in whole_parts
              or any(n["key"] == r["key"] for n in new_rows)]
    index = {r["key"]: i for i, r in enumerate(merged)}
    for r in new_rows:
        if r["key"] in index:
            merged[index[r["key"]]] = r
            continue
        at = max((i for i, o in enumerate(merged) if o["section"] == r["section"]),
                 default=len(merged) - 1) + 1
        merged.insert(at, r)
        index = {x["key"]: i for i, x in enumerate(merged)}
    return merged


def part_of_key(key):
    for prefix, part in KEY_PARTS:
        if key.startswith(prefix):
            return part
    return None


def row_text(row):
    return f"{row['key']} {row['section']}: {row['label']}"


def select_parts(pattern, known_rows):
    """The parts a --filter runs: those whose name matches, and those with a known row
    (key, section or label) that matches. All of them without a filter."""
    if not pattern:
        return list(PARTS)
    rx = re.compile(pattern, re.I)
    return [p for p in PARTS if rx.search(p) or any(
        part_of_key(r["key"]) == p and rx.search(row_text(r)) for r in known_rows or [])]


def keep_row(pattern, row):
    """Whether a row of a filtered run is reported: its part's name or the row matches."""
    if not pattern:
        return True
    rx = re.compile(pattern, re.I)
    return bool(rx.search(part_of_key(row["key"]) or "") or rx.search(row_text(row)))


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


# ---- running things ----------------------------------------------------------------------


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


def last_json_line(out, what):
    for line in reversed(out.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    sys.exit(f"bench: no JSON line from {what}")


def by_name(doc):
    return {r["name"]: r for r in doc["results"]}


def series(doc, name):
    """Every figure named `name` in a harness's output (one per in-process round)."""
    return [r["ns"] for r in doc["results"] if r["name"] == name]


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




def build_go_test(pkg_dir, out, stage, static=True):
    """Compiles a Go package's tests once (go test -c); each round runs the binary.
    `static`: linked with libtoto_session.a (-tags toto_static), else with the shared
    library as a user's default build is (pkg-config toto_session, rpath)."""
    env = {"PKG_CONFIG_PATH": str(Path(stage) / "lib" / "pkgconfig")}
    if pkg_dir.is_relative_to(BENCH):
        # bench/go-peers: gorilla from Debian's source packages, offline.
        env.update(GOPROXY="off", GOFLAGS="-mod=mod")
        sc = BUILD / "securecookie"
        sc.mkdir(parents=True, exist_ok=True)
        src = Path("/usr/share/gocode/src/github.com/gorilla/securecookie")
        for f in src.glob("*.go"):
            if not f.name.endswith("_test.go"):
                shutil.copy(f, sc / f.name)
        (sc / "go.mod").write_text("module github.com/gorilla/securecookie\n\ngo 1.19\n")
    tags = ["-tags", "toto_static"] if static else []
    run(["go", "test", "-c", *tags, "-o", out, "."], env=env, cwd=pkg_dir)
    return out


GO_LINE = re.compile(r"^Benchmark(\S+?)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op(.*)$")


def run_go_round(exe, pkg_dir, bench, benchtime, metric=None, prefix=()):
    """One round: the test binary's benchmarks once each. {name: ns} (or the named
    metric, e.g. cpu-ns/op), and {name: "N allocs, B B/op"}. `prefix` goes before the
    command (e.g. taskset)."""
    out = run([*prefix, exe, "-test.run", "^$", "-test.bench", bench, "-test.benchtime",
               benchtime, "-test.benchmem"], cwd=pkg_dir)
    found, allocs = {}, {}
    for line in out.splitlines():
        m = GO_LINE.match(line)
        if not m:
            continue
        v = float(m.group(2))
        if metric:
            mm = re.search(r"([\d.]+) " + re.escape(metric), m.group(3))
            v = float(mm.group(1)) if mm else v
            # Per-side figures of one benchmark (e.g. bare-cpu-ns/op): NAME/side.
            for side in re.finditer(r"([\d.]+) ([a-z]+)-" + re.escape(metric), m.group(3)):
                found[f"{m.group(1)}/{side.group(2)}"] = float(side.group(1))
        found[m.group(1)] = v
        a = re.search(r"(\d+) B/op\s+(\d+) allocs/op", line)
        if a:
            allocs[m.group(1)] = f"{a.group(2)} allocs, {a.group(1)} B/op"
    if not found:
        sys.exit(f"bench: no benchmark lines from {exe}")
    return found, allocs


def ruby_round(stage, iterations, yjit=False):
    """One run of bindings/ruby/bench.rb (its own harness, best of 3 per figure); with
    `yjit`, under Ruby's YJIT."""
    script = ROOT / "bindings" / "ruby" / "bench.rb"
    env = {"TOTO_SESSION_LIB": str(Path(stage) / "lib" / "libtoto_session.so"),
           "ITERATIONS": str(iterations)}
    out = run(["ruby", *(["--yjit"] if yjit else []), "-I", ROOT / "bindings" / "ruby" / "lib",
               script], env=env, cwd=script.parent)
    results = {}
    for line in out.splitlines():
        m = re.match(r"^\s*(\S.*?)\s+(-?[\d.]+)\s*ns/op\s*$", line)
        if m:
            results[m.group(1).strip()] = float(m.group(2))
    if not results:
        sys.exit("bench: bindings/ruby/bench.rb printed no figures")
    return results


# ---- Redis phases (run under scripts/with-redis.sh / with-redis-cluster.sh) -----------------


def cli(host, port, *args):
    return run(["redis-cli", "-h", host, "-p", str(port), *args])


def commandstats(nodes):
    """{command: {"calls": n, "usec": u}} summed over `nodes`."""
    total = {}
    for host, port in nodes:
        for line in cli(host, port, "INFO", "commandstats").splitlines():
            m = re.match(r"cmdstat_([\w|]+):calls=(\d+),usec=(\d+)", line)
            if m:
                t = total.setdefault(m.group(1), {"calls": 0, "usec": 0})
                t["calls"] += int(m.group(2))
                t["usec"] += int(m.group(3))
    return total


def reset_stats(nodes):
    for host, port in nodes:
        cli(host, port, "CONFIG", "RESETSTAT")


# Commands of this driver (redis-cli), never of a retrieve.
DRIVER_COMMANDS = {"info", "config", "config|resetstat", "config|get", "cluster",
                   "cluster|nodes", "ping", "command", "command|docs"}


class Monitor:
    """MONITOR on a Redis node, read in a thread: which commands a client issued at the
    top level, and which ran inside scripts (MONITOR shows those as "[db lua]")."""

    def __init__(self, host, port):
        import socket
        import threading

        self.sock = socket.create_connection((host, int(port)), timeout=30)
        self.sock.sendall(b"MONITOR\r\n")
        self.buf = b""
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        try:
            while True:
                chunk = self.sock.recv(1 << 16)
                if not chunk:
                    return
                self.buf += chunk
        except OSError:
            return

    def stop(self):
        """({command: top-level calls}, {command: calls inside scripts})."""
        import socket

        time.sleep(0.3)  # the last replies
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.thread.join(5)
        self.sock.close()
        top, nested = {}, {}
        for line in self.buf.decode(errors="replace").splitlines():
            m = re.match(r'^\+?[\d.]+ \[\d+ ([^\]]+)\] "([^"]*)"', line)
            if not m:
                continue
            name = m.group(2).lower()
            if name in DRIVER_COMMANDS or name == "monitor":
                continue
            d = nested if m.group(1) == "lua" else top
            d[name] = d.get(name, 0) + 1
        return top, nested


# The CPU the Redis part runs its servers and both clients on.
PIN_CPU = 0


def pin_servers(nodes, cpu):
    """Pins every thread of the Redis servers at `nodes` to `cpu` (taskset)."""
    for host, port in nodes:
        info = cli(host, port, "INFO", "server")
        pid = re.search(r"process_id:(\d+)", info).group(1)
        run(["taskset", "-a", "-p", "-c", str(cpu), pid])


def redis_phase(c_exe, quick, rounds, cluster):
    """Alternates redis-benchmark's single-client GET and toto's retrieve-with-renewal
    on the same server (or cluster), `rounds` times; before each side CONFIG RESETSTAT,
    after it INFO commandstats. Prints JSON.

    Both clients and every server run on one CPU (taskset): on this 2-CPU VM a round
    trip between two CPUs waits 100-200 us for the sleeping one to wake (an interrupt
    and a VM exit), and which side the scheduler happens to split decides the ratio
    (0.64-1.8 in one run, measured 2026-12-02); on one CPU a round trip is the two
    processes' own work, so the ratio compares the clients' work per request."""
    if cluster:
        url = os.environ["TOTO_REDIS_CLUSTER_URL"]
        seed = url.split("://", 1)[1].split(",")[0].split("/")[0]
        host, port = seed.rsplit(":", 1)
        nodes = []
        for line in cli(host, port, "CLUSTER", "NODES").splitlines():
            f = line.split()
            if len(f) > 2 and "master" in f[2].split(","):
                h, p = f[1].split("@")[0].rsplit(":", 1)
                nodes.append((h or host, p))
        rb = ["redis-benchmark", "--cluster", "-h", host, "-p", port]
    else:
        url = os.environ["TOTO_REDIS_URL"]
        host, port = "127.0.0.1", os.environ["TOTO_REDIS_PORT"]
        nodes = [(host, port)]
        rb = ["redis-benchmark", "-h", host, "-p", port]
    # A short retrieve run first, under MONITOR: it warms the server and the script
    # cache, tells the size of the record a retrieve reads (GET then returns a value of
    # that size, not a miss), and which commands a retrieve issues at the top level.
    # commandstats counts a command run inside a script (EVALSHA's) both in its own
    # line and in the script's time: the server time of a retrieve sums the top-level
    # commands only (a name seen both ways is shared out by its MONITOR counts).
    pin_servers(nodes, PIN_CPU)
    pin = ["taskset", "-c", str(PIN_CPU)]
    rb = pin + rb
    monitors = [Monitor(h, p) for h, p in nodes]
    time.sleep(0.2)
    warm = run_json(pin + [c_exe, "redis", url, "0.1"])
    mixes = [m.stop() for m in monitors]
    top, nested = {}, {}
    for t_, n_ in mixes:
        for k, v in t_.items():
            top[k] = top.get(k, 0) + v
        for k, v in n_.items():
            nested[k] = nested.get(k, 0) + v
    if not top:
        sys.exit("bench: MONITOR saw no command of the retrieves")
    share = {k: v / (v + nested.get(k, 0)) for k, v in top.items()}
    total = warm["info"]["retrieves_total"]
    record_len = int(warm["info"]["record_len"])
    run(rb + ["-t", "set", "-c", "1", "-n", "1", "-d", str(record_len), "-q"])
    # Both sides run about as long (1.5 s; GET runs 60-65 k/s on one CPU here): a
    # 20 k-request GET side took 0.3 s and one fast round of it made a ratio noisy.
    n = "3000" if quick else "100000"
    secs = "0.3" if quick else "1.5"
    out = {"get_rps": [], "retrieve_rps": [], "get_usec": [], "retrieve_usec": [],
           "retrieve_calls": [], "nodes": len(nodes), "record_len": record_len,
           "top_level_per_retrieve": {k: round(v / total, 3) for k, v in top.items()},
           "in_scripts_per_retrieve": {k: round(v / total, 3) for k, v in nested.items()},
           "redis_server": first_line(["redis-server", "--version"])}
    for _ in range(rounds):
        reset_stats(nodes)
        csv = run(rb + ["-t", "get", "-c", "1", "-n", n, "-d", str(record_len), "--csv"])
        row = [line for line in csv.splitlines() if line.startswith('"GET"')][0]
        out["get_rps"].append(float(row.split(",")[1].strip('"')))
        st = commandstats(nodes)["get"]
        out["get_usec"].append(st["usec"] / st["calls"])
        reset_stats(nodes)
        doc = run_json(pin + [c_exe, "redis", url, secs])
        out["retrieve_rps"].append(doc["info"]["retrieve_per_second"])
        st = commandstats(nodes)
        n_ret = doc["info"]["retrieves_total"]
        out["retrieve_usec"].append(sum(st[k]["usec"] * share[k] for k in share if k in st)
                                    / n_ret)
        out["retrieve_calls"].append({k: round(v["calls"] / n_ret, 3) for k, v in st.items()
                                      if k not in DRIVER_COMMANDS})
    json.dump(out, sys.stdout)


# ---- the table -----------------------------------------------------------------------------


def _as_list(v, n):
    if v is None:
        return None
    if isinstance(v, (list, tuple)):
        return [None if x is None else float(x) for x in v]
    return [float(v)] * n


class Table:
    def __init__(self):
        self.rows = []

    def add(self, section, label, measured=None, peer=None, *, key, fn=None, ratios=None,
            vs=None, goal=None, value=None, unit="ns", rounds_note=None):
        """One row. `measured` and `peer`: per-round figures (lists) or a constant (a
        limit); `fn(measured, peer)` gives a round's ratio (or pass `ratios`). The row
        keeps the medians, the per-round ratios, their spread and the verdict."""
        n = len(measured) if isinstance(measured, (list, tuple)) else 1
        m = _as_list(measured, n)
        p = _as_list(peer, n)
        if ratios is None and fn is not None and m is not None and p is not None:
            ratios = [fn(a, b) for a, b in zip(m, p) if a is not None and b is not None]
        ratios = None if ratios is None else [round(r, 4) for r in ratios]
        ratio = median(ratios) if ratios else None
        sp = spread(ratios)
        self.rows.append({
            "section": section,
            "key": key,
            "label": label,
            "unit": unit,
            "measured": None if m is None or median(m) is None else round(median(m), 2),
            "peer": None if p is None or median(p) is None else round(median(p), 2),
            "vs": vs,
            "ratios": ratios,
            "ratio": None if ratio is None else round(ratio, 4),
            "spread": None if sp is None else [round(sp[0], 4), round(sp[1], 4)],
            "rounds": len(ratios) if ratios else (len([x for x in m if x is not None])
                                                  if m else None),
            "goal": goal_text(goal),
            "verdict": verdict(ratios, goal),
            "value": value,
            "rounds_note": rounds_note,
        })


def fmt_num(v, unit):
    if v is None:
        return ""
    if unit == "ops/s":
        return f"{v:,.0f}/s"
    if unit == "us":
        return f"{v:,.2f} us"
    if v >= 100:
        return f"{v:,.0f} ns"
    return f"{v:,.1f} ns"


def fmt_ratio(r):
    if r is None:
        return ""
    return f"{r:.3g}" if abs(r) < 10 else f"{r:,.1f}"


def cells(row):
    row = dict(row, goal=row.get("goal") or row.get("target"), verdict=_row_verdict(row),
               ratios=row.get("ratios") or [])  # rows of an older results.json too
    measured = row.get("value") or fmt_num(row.get("measured", row.get("median_ns")),
                                           row.get("unit", "ns"))
    peer = fmt_num(row.get("peer"), row.get("unit", "ns"))
    if row.get("vs"):
        peer = f"{peer} ({row['vs']})" if peer else f"({row['vs']})"
    sp = row.get("spread")
    spread_cell = ""
    if sp:
        spread_cell = f"{fmt_ratio(sp[0])}\u2013{fmt_ratio(sp[1])}" if len(row["ratios"]) > 1 \
            else "1 round"
    v = row.get("verdict") or ""
    if v == "noisy" and sp:
        v = f"noisy {fmt_ratio(sp[0])}\u2013{fmt_ratio(sp[1])}"
    return [row["label"], measured, peer, fmt_ratio(row.get("ratio")), spread_cell,
            row.get("goal") or "", v]


HEAD = ["benchmark", "measured (median)", "peer (median)", "ratio median", "spread min-max",
        "goal", "verdict"]


def render_text(rows):
    table = [HEAD] + [cells(r) for r in rows]
    widths = [min(70, max(len(c[i]) + (2 if i == 0 else 0) for c in table))
              for i in range(len(HEAD))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(HEAD, widths)).rstrip(),
             "  ".join("-" * w for w in widths)]
    section = None
    for r in rows:
        if r["section"] != section:
            section = r["section"]
            lines.append(f"[{section}]")
        c = cells(r)
        c[0] = "  " + c[0]
        lines.append("  ".join(x.ljust(w) if i in (0, 2) else x.rjust(w)
                               for i, (x, w) in enumerate(zip(c, widths))).rstrip())
    return "\n".join(lines)


def render_markdown(rows):
    def esc(x):
        return x.replace("|", "\\|")

    lines = ["| " + " | ".join(HEAD) + " |", "|" + "---|" * len(HEAD)]
    section = None
    for r in rows:
        if r["section"] != section:
            section = r["section"]
            lines.append(f"| **{esc(section)}** |" + " |" * (len(HEAD) - 1))
        c = cells(r)
        if r.get("verdict") in ("PASS", "MISS"):
            c[6] = f"**{c[6]}**"
        lines.append("| " + " | ".join(esc(x) for x in c) + " |")
    return "\n".join(lines)


# ---- rows, part by part ------------------------------------------------------------------

TIME = lambda a, b: a / b  # noqa: E731  time / peer (or limit): lower is better
SPEEDUP = lambda a, b: b / a  # noqa: E731  peer time / time: higher is better
ADDED_US = lambda a, b: (a - b) / 1000.0  # noqa: E731  ns added over the peer, in us


def micro_rows(t, micro):
    def S(part, name):
        return [r[part][name]["ns"] for r in micro]

    n = len(micro)
    note = f"{n} rounds: rust, c, python processes alternating"
    sec = "Rust core (toto_session crate, release profile)"
    t.add(sec, "id generation", S("rust", "id_generate"), 150, fn=TIME, vs="limit",
          goal=("<=", 1.0), key="rust.id_generate", rounds_note=note)
    for size, label in (("64", "64 B"), ("1k", "1 KiB"), ("64k", "64 KiB")):
        ref = S("c", f"openssl_hmac_{size}")
        for op in ("hmac", "verify"):
            k = f"{op}_{size}"
            t.add(sec, f"session {op} {label}", S("rust", k), ref, fn=TIME,
                  vs=f"OpenSSL HMAC {label}", key=f"rust.{k}")
    t.add(sec, "verify 1 KiB, keyed per call (sign::verify)", S("rust", "verify_1k_oneshot_key"),
          S("c", "openssl_hmac_1k"), fn=TIME, vs="OpenSSL HMAC 1 KiB",
          key="rust.verify_1k_oneshot_key")
    # Issue 17: record encode <= 120 ns and decode <= 200 ns (limits).
    for k, label, lim in (("record_encode", "record encode (5-entry state)", 120.0),
                          ("record_decode", "record decode (5-entry state)", 200.0)):
        t.add(sec, label, S("rust", k), lim, fn=TIME, vs=f"limit {lim:g} ns",
              goal=("<=", 1.0), key=f"rust.{k}")
    for k, label in (("get_i64", "state get i64"), ("get_text", "state get text"),
                     ("set_i64", "state set i64"),
                     ("account_load_5", "account load 5 props (memory store)"),
                     ("account_set_save_1", "account set + save 1 prop")):
        t.add(sec, label, S("rust", k), key=f"rust.{k}")
    for nn, lab in (("1k", "1 k"), ("100k", "100 k")):
        t.add(sec, f"manager retrieve + renew, {lab} sessions", S("rust", f"manager_retrieve_{nn}"),
              S("rust", f"tower_load_{nn}"), fn=SPEEDUP, vs=f"speedup vs tower load {lab}",
              goal=(">=", 2.0), key=f"rust.manager_retrieve_{nn}")
    t.add(sec, "manager verify_request 1 KiB, 1 k sessions", S("rust", "manager_verify_request_1k"),
          S("py", "py_load_verify_1k"), fn=SPEEDUP, vs="speedup vs CPython load+verify",
          key="rust.manager_verify_request_1k")
    t.add(sec, "manager save (dirty session), 1 k sessions", S("rust", "manager_save_1k"),
          S("rust", "tower_save_1k"), fn=SPEEDUP, vs="speedup vs tower save 1 k",
          goal=(">=", 1.5), key="rust.manager_save_1k")
    t.add(sec, "  same, 8 sessions saved in turn", S("rust", "manager_save_1k_turns"),
          S("rust", "tower_save_1k_turns"), fn=SPEEDUP, vs="speedup vs tower, same turns",
          key="rust.manager_save_1k_turns")

    sec = "Rust: client-side sessions (AES-256-GCM-SIV token is the id)"
    t.add(sec, "client-side session open+verify per request, 200-byte state",
          S("rust", "client_open_200"), 2000, fn=TIME, vs="goal 2 us", goal=("<=", 1.0),
          key="rust.client_open_200")
    t.add(sec, "  of which: base64 + AES-256-GCM-SIV open", S("rust", "client_aead_open_200"),
          key="rust.client_aead_open_200")
    t.add(sec, "  of which: record decode into a session", S("rust", "client_record_import_200"),
          key="rust.client_record_import_200")
    t.add(sec, "  + request HMAC check (verify_request, 64 B body)",
          S("rust", "client_verify_request_200"), key="rust.client_verify_request_200")
    t.add(sec, "seal a new token (save / renewal), 200-byte state", S("rust", "client_seal_200"),
          key="rust.client_seal_200")
    t.add(sec, "token size, 200-byte state (x-toto-session-id)",
          value=f"{micro[0]['info']['rust'].get('client_token_len', '?')} chars",
          key="rust.client_token_len")

    sec = "Rust peer: tower-sessions 0.15 MemoryStore (same 5-entry record)"
    for k, label in (("tower_load_1k", "load, 1 k sessions"),
                     ("tower_load_100k", "load, 100 k sessions"),
                     ("tower_load_1k_block_on", "load, 1 k, runtime entered per call (block_on)"),
                     ("tower_save_1k", "save, 1 k sessions"),
                     ("tower_save_1k_turns", "save, 8 sessions in turn")):
        t.add(sec, label, S("rust", k), key=f"tower.{k}")

    sec = "C through the ABI (libtoto_session.so)"
    t.add(sec, "floor: toto_version() (no-op C -> Rust call)", S("c", "c_floor_toto_version"),
          key="c.floor")
    t.add(sec, "toto_generate_id", S("c", "c_id_generate"), 150, fn=TIME, vs="limit",
          goal=("<=", 1.0), key="c.id_generate")
    verify_goals = {"64": 0.6, "1k": 1.0}
    for size, label in (("64", "64 B"), ("1k", "1 KiB"), ("64k", "64 KiB")):
        ref = S("c", f"openssl_hmac_{size}")
        t.add(sec, f"toto_session_hmac {label}", S("c", f"c_hmac_{size}"), ref, fn=TIME,
              vs=f"OpenSSL HMAC {label}", key=f"c.hmac_{size}")
        g = verify_goals.get(size)
        t.add(sec, f"toto_session_verify {label}", S("c", f"c_verify_{size}"), ref, fn=TIME,
              vs=f"OpenSSL HMAC {label}", goal=("<=", g) if g else None, key=f"c.verify_{size}")
    t.add(sec, "toto_verify 1 KiB (key per call)", S("c", "c_verify_1k_oneshot_key"),
          S("c", "openssl_hmac_1k"), fn=TIME, vs="OpenSSL HMAC 1 KiB", key="c.verify_1k_oneshot_key")
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
        t.add(sec, label, S("c", k), S("rust", rk), fn=TIME, vs="Rust core", key=f"c.{k[2:]}")
    t.add(sec, "cache load_session + free, 1 k", S("c", "c_cache_load_session_1k"),
          key="c.cache_load_session_1k")
    py_e2e = S("py", "py_load_verify_1k")
    t.add(sec, "verify_request 1 KiB end to end, 1 k sessions", S("c", "c_manager_verify_request_1k"),
          py_e2e, fn=SPEEDUP, vs="speedup vs CPython load+verify", goal=(">=", 5.0),
          key="c.manager_verify_request_1k")
    t.add(sec, "  same, session handed back (+ free)", S("c", "c_manager_verify_request_1k_out"),
          py_e2e, fn=SPEEDUP, vs="speedup vs CPython load+verify",
          key="c.manager_verify_request_1k_out")

    sec = f"C peer: {micro[0]['info']['c'].get('openssl', 'OpenSSL')} HMAC-SHA1 (same key, same messages)"
    for size, label in (("64", "64 B"), ("1k", "1 KiB"), ("64k", "64 KiB")):
        ref = S("c", f"openssl_hmac_{size}")
        t.add(sec, f"EVP_MAC keyed per message {label} (reference)", ref,
              key=f"openssl.hmac_{size}")
        t.add(sec, f"HMAC() one call {label}", S("c", f"openssl_hmac_oneshot_{size}"), ref,
              fn=TIME, vs="reference", key=f"openssl.hmac_oneshot_{size}")
        t.add(sec, f"EVP_MAC keyed once {label}", S("c", f"openssl_hmac_keyed_{size}"), ref,
              fn=TIME, vs="reference", key=f"openssl.hmac_keyed_{size}")

    sec = f"Python peer: CPython {micro[0]['info']['py']['python']}, Toto 1.0's path (pickle + hmac)"
    for k, label in (("py_load_1k", "load (pickled record, 5-entry state), 1 k"),
                     ("py_verify_1k", "verify request HMAC 1 KiB"),
                     ("py_load_verify_1k", "load + verify 1 KiB")):
        t.add(sec, label, S("py", k), key=f"python.{k}")


def scale_rows(t, scale):
    sec = ("Scale: memory cache from C (sessions stored as the manager saves them), "
           "one process per size, each session its own user; retrieve: rounds in the process")
    limits = {1_000: 500.0, 1_000_000: 1000.0}
    for n in SCALES:
        r = series(scale[n], f"c_manager_retrieve_{n}")
        lim = limits.get(n)
        t.add(sec, f"retrieve + free, {n:,} live sessions", r, lim, fn=TIME if lim else None,
              vs=f"limit {lim:g} ns" if lim else None, goal=("<=", 1.0) if lim else None,
              key=f"scale.retrieve_{n}")
    n = SCALES[-1]
    t.add(sec, f"  same, {n:,} anonymous sessions (no user index)",
          series(scale["anon"], f"c_manager_retrieve_{n}_anon"), 1000.0, fn=TIME,
          vs="limit 1000 ns", key="scale.retrieve_anon")
    t.add(sec, f"  same, {n:,} sessions, compact cache (records, decoded per load)",
          series(scale["compact"], f"c_manager_retrieve_{n}_compact"), 1000.0, fn=TIME,
          vs="limit 1000 ns", goal=("<=", 1.0), key="scale.retrieve_compact")
    t.add(sec, "  (the bench's id derivation included above)",
          series(scale[n], f"c_derive_id_{n}"), key="scale.derive_id")
    for n in SCALES + ["anon", "compact"]:
        i = scale[n]["info"]
        count = int(i["sessions"])
        what = {"anon": f"{count:,} anonymous sessions",
                "compact": f"{count:,} sessions, compact cache"}.get(n, f"{count:,} sessions")
        t.add(sec, f"RSS, {what} ({i['rss_delta'] / 2**20:,.1f} MiB; one round: a fill)",
              value=f"{i['rss_per_session']:.0f} B/sess",
              vs=f"RSS / records, {i['record_bytes'] / count:.0f} B/sess",
              ratios=[i["rss_over_record_bytes"]],
              # Issue 17: RSS at most 2x the records (default), 1.3x (compact).
              goal={1_000_000: ("<=", 2.0), "compact": ("<=", 1.3)}.get(n),
              key=f"scale.rss_{n}", rounds_note="one round: filling costs seconds and a GB")


def threads_rows(t, threads):
    ti = threads["info"]
    k = int(ti.get("rounds", 3))
    one = [ti[f"round_ops_1_thread_{i}"] for i in range(k)]
    two = [ti[f"round_ops_2_threads_{i}"] for i in range(k)]
    eff = [ti[f"round_per_cpu_efficiency_{i}"] for i in range(k)]
    sec = "Threads: retrieve through one shared manager, 1 vs 2 threads alternating in the process"
    t.add(sec, f"retrieve, 1 thread ({int(ti['sessions']):,} sessions)", [1e9 / x for x in one],
          key="scale.threads_1")
    t.add(sec, f"retrieve, 2 threads ({ti['cpus_used_2_threads']:.2f} CPUs had), per op",
          [1e9 / x for x in two], [1e9 / x for x in one], fn=SPEEDUP,
          vs="2-thread / 1-thread ops/s", goal=(">=", 1.7), key="scale.threads_2")
    t.add(sec, "  same, ops per CPU-second", vs="2-thread / 1-thread", ratios=eff,
          key="scale.threads_per_cpu")


def redis_rows(t, redis, cluster=False):
    p = "cluster" if cluster else "redis"
    v = redis["redis_server"]
    v = v.split(" v=")[-1].split(" ")[0] if "v=" in v else v
    sec = (f"Redis Cluster ({v}, {redis['nodes']} masters; redis-benchmark --cluster)" if cluster
           else f"Redis: private server ({v}), single client, loopback")
    sec += f", servers and clients on one CPU, {len(redis['get_rps'])} rounds alternating"
    t.add(sec, f"retrieve throughput (with renewal) / redis-benchmark GET (-d "
               f"{redis['record_len']}), same server", redis["retrieve_rps"], redis["get_rps"],
          fn=TIME, unit="ops/s", vs="redis-benchmark GET", goal=(">=", 0.95),
          key=f"{p}.toto_retrieve")
    cmds = redis.get("top_level_per_retrieve") or {}
    what = ", ".join(f"{c.upper()} x{n:.2g}" for c, n in sorted(cmds.items()) if n >= 0.01)
    t.add(sec, f"server time per retrieve ({what}) / per GET, INFO commandstats",
          redis["retrieve_usec"], redis["get_usec"], fn=TIME, unit="us", vs="GET",
          goal=("<=", 2.0), key=f"{p}.server_usec")


def cluster_missing_rows(t, why):
    sec = "Redis Cluster"
    t.add(sec, f"retrieve throughput / redis-benchmark GET: {why}", vs="not run",
          goal=(">=", 0.95), key="cluster.toto_retrieve")
    t.add(sec, f"server time per retrieve / per GET: {why}", vs="not run", goal=("<=", 2.0),
          key="cluster.server_usec")


def go_rows(t, go):
    rounds = go["rounds"]
    names = list(rounds[0])
    n = len(rounds)
    sec = f"Go binding (cgo, go test -bench, {n} rounds: one test process per round)"
    floor_k = next((k for k in names if re.search(r"Floor|Noop|NoOp|Bare", k)), None)
    # Issue 17: every scalar get/set of the binding (typed and generic, strings and
    # bytes included) within 2x a bare cgo call; the Cgo* peers are not the binding,
    # and a struct through JSON is not a scalar.
    accessor = re.compile(r"^Session(Get|Set)(?!.*JSON)")
    allocs = go.get("allocs", {})
    floor = [r.get(floor_k) for r in rounds] if floor_k else None
    for k in names:
        v = [r.get(k) for r in rounds]
        label = f"{k} ({allocs[k]})" if k in allocs else k
        peer = floor if floor and k != floor_k else None
        t.add(sec, label, v, peer, fn=TIME if peer else None, vs="bare cgo call" if peer else None,
              goal=("<=", 2.0) if accessor.match(k) and peer else None, key=f"go.{k}")
    if not any(accessor.match(k) for k in names) or floor is None:
        t.add(sec, "Session get/set <= 2x bare cgo: no such benchmark", vs="not yet",
              goal=("<=", 2.0), key="go.get")
    # Retrieve: at most 80 ns over the same C retrieve + free made straight through cgo
    # (CgoManagerRetrieveMemory, one cgo call), and at most one allocation.
    ret, peer_k = "ManagerRetrieveMemory", "CgoManagerRetrieveMemory"
    if ret in names and peer_k in names:
        t.add(sec, f"{ret}: ns added over {peer_k}", [r.get(ret) for r in rounds],
              [r.get(peer_k) for r in rounds], fn=lambda a, b: a - b,
              vs="the same C call through cgo; ratio = added ns", goal=("<=", 80.0),
              key="go.retrieve_added_ns")
    m = re.match(r"(\d+) allocs", allocs.get(ret, ""))
    if m:
        t.add(sec, f"{ret}: allocations per retrieve", ratios=[float(m.group(1))],
              vs="allocs/op (ratio = count)", goal=("<=", 1.0), key="go.retrieve_allocs")
    if "ManagerRetrieveGoCache" in names:
        t.add(sec, "ManagerRetrieveGoCache (a cache written in Go)",
              [r.get("ManagerRetrieveGoCache") for r in rounds], 1000.0, fn=TIME,
              vs="limit 1000 ns", goal=("<=", 1.0), key="go.retrieve_go_cache")


def gohttp_rows(t, http):
    rounds = http["rounds"]
    sec = (f"Go HTTP layer (bindings/go/totohttp: signed state.get, CPU per request, "
           f"{len(rounds)} rounds)")
    for label, name, goal in (
            ("over HTTP, server process CPU, one CPU", "SignedStateGetOverHTTP", ("<=", 10.0)),
            ("  same, linked statically (-tags toto_static)", "SignedStateGetOverHTTPStatic",
             None),
            ("in process", "SignedStateGetInProcess", ("<=", 10.0))):
        bare = [r.get(f"{name}/bare") for r in rounds]
        mw = [r.get(f"{name}/middleware") for r in rounds]
        if None in bare or None in mw:
            t.add(sec, f"{label}: no figures", vs="not yet", key=f"gohttp.{name}.layer",
                  goal=goal)
            continue
        t.add(sec, f"{label}: middleware", mw, key=f"gohttp.{name}.middleware")
        t.add(sec, f"{label}: bare net/http", bare, key=f"gohttp.{name}.bare")
        t.add(sec, f"{label}: added by the layer (us)", mw, bare, fn=ADDED_US,
              vs="bare net/http; ratio = added us", key=f"gohttp.{name}.layer", goal=goal)


def gopeers_rows(t, peers):
    rounds = peers["rounds"]
    allocs = peers.get("allocs", {})
    sec = (f"Go peers: gorilla/sessions {peers.get('gorilla', '')} vs the binding, same 5-entry "
           f"state ({len(rounds)} rounds: one test process per round, pairs alternating)")

    def S(k):
        return [r[k] for r in rounds]

    def lab(text, k):
        return f"{text} ({allocs[k]})" if k in allocs else text

    t.add(sec, lab("gorilla CookieStore encode+decode (HMAC-SHA256 + AES-CTR, gob)",
                   "CookieSealOpenGorilla"), S("CookieSealOpenGorilla"),
          key="gopeers.cookie_gorilla")
    t.add(sec, lab("binding: client-side session save+retrieve (seal+open, AES-256-GCM-SIV)",
                   "CookieSealOpenToto"), S("CookieSealOpenToto"), S("CookieSealOpenGorilla"),
          fn=TIME, vs="gorilla CookieStore", goal=("<=", 1.0), key="gopeers.cookie_toto")
    t.add(sec, lab("gorilla FilesystemStore load (store.New with the session cookie)",
                   "StoreLoadGorillaFilesystem"), S("StoreLoadGorillaFilesystem"),
          key="gopeers.filesystem_gorilla")
    t.add(sec, lab("binding: retrieve from the memory cache (+ Close)", "StoreLoadTotoMemory"),
          S("StoreLoadTotoMemory"), S("StoreLoadGorillaFilesystem"), fn=TIME,
          vs="gorilla FilesystemStore load", goal=("<=", 1.0), key="gopeers.load_toto")


def ruby_rows(t, ruby, yjit=False):
    """The binding's rows; with `yjit`, the same run under Ruby's YJIT, for information:
    the goals are judged without it."""
    rounds = ruby["rounds"]
    names = list(rounds[0])
    sec = (f"Ruby binding (ffi gem, bindings/ruby/bench.rb: best of 3 per figure; "
           f"{len(rounds)} rounds: one process per round)")
    prefix = "ruby"
    if yjit:
        sec = sec.replace("Ruby binding", "Ruby binding under YJIT (ruby --yjit, no goal)")
        prefix = "rubyyjit"
    floor_k = next((k for k in names if re.search(r"floor|noop|no-op|bare", k, re.I)), None)
    # Issue 17: every scalar accessor (session[:k] and session[:k] = v, every type)
    # within 2x a bare ffi call; the "raw ffi" rows are peers, not the binding.
    accessor = re.compile(r"^session\[:\w+\](?!.*\(JSON\))")
    floor = [r.get(floor_k) for r in rounds] if floor_k else None
    for k in names:
        v = [r.get(k) for r in rounds]
        peer = floor if floor and k != floor_k else None
        goal = ("<=", 2.0) if accessor.match(k) and floor and not yjit else None
        t.add(sec, k, v, peer, fn=TIME if peer else None, vs="bare ffi call" if peer else None,
              goal=goal, key=f"{prefix}.{k}")
    if yjit:
        return
    if not any(accessor.match(k) for k in names) or floor is None:
        t.add(sec, "session[:k] <= 2x bare ffi: no such figure", vs="not yet",
              goal=("<=", 2.0), key="ruby.get")
    ret = next((k for k in names if k.startswith("manager.retrieve_session")), None)
    if ret:
        t.add(sec, f"{ret}: limit 1.2 us", [r.get(ret) for r in rounds], 1200.0, fn=TIME,
              vs="limit 1200 ns", goal=("<=", 1.0), key="ruby.retrieve_limit")


def rack_rows(t, rack, yjit=False):
    """The Rack layer's rows; with `yjit`, the same run under Ruby's YJIT (client and
    servers), for information: the goal is judged without it."""
    per = rack.get("per_round") or {}
    sec = (f"Ruby Rack layer (bindings/ruby/bench_rack.rb: signed state.get, Puma; "
           f"{rack.get('rounds')} rounds of {rack.get('requests')} requests, alternating)")
    prefix = "rack"
    if yjit:
        sec = sec.replace("Ruby Rack layer", "Ruby Rack layer under YJIT (RUBYOPT=--yjit, no goal)")
        prefix = "rackyjit"
    for label, k in (("over HTTP, round trip", "http_wall"),
                     ("over HTTP, server CPU", "http_server_cpu"),
                     ("in process (app.call), CPU", "in_process_cpu")):
        fig = per.get(k) or {}
        if "toto" not in fig or "bare" not in fig:
            continue
        t.add(sec, f"{label}: middleware + methods", fig["toto"], key=f"{prefix}.{k}.toto")
        if "middleware" in fig:
            t.add(sec, f"{label}: middleware", fig["middleware"], key=f"{prefix}.{k}.middleware")
        if "cors" in fig:
            t.add(sec, f"{label}: middleware with Toto's CORS headers", fig["cors"],
                  key=f"{prefix}.{k}.cors")
        t.add(sec, f"{label}: bare Rack app", fig["bare"], key=f"{prefix}.{k}.bare")
        # The goal is the session layer's (the Middleware around the bare app's work,
        # configured as Go's middleware row: no CORS), judged on CPU time (the server's
        # over HTTP, and in process): wall time on a shared machine is mostly others'
        # noise. Toto's default CORS answer headers, and Toto's method protocol on top
        # (Methods), are shown beside it.
        goal = ("<=", 30.0) if k != "http_wall" and not yjit else None
        if "middleware" in fig:
            t.add(sec, f"{label}: added by the session layer (us)", fig["middleware"], fig["bare"],
                  fn=ADDED_US, vs="bare Rack app; ratio = added us", goal=goal,
                  key=f"{prefix}.{k}.mw_layer")
            goal = None
        if "cors" in fig:
            t.add(sec, f"{label}: added by the session layer with CORS headers (us)", fig["cors"],
                  fig["bare"], fn=ADDED_US, vs="bare Rack app; ratio = added us",
                  key=f"{prefix}.{k}.cors_layer")
        t.add(sec, f"{label}: added by middleware + methods (us)", fig["toto"], fig["bare"],
              fn=ADDED_US, vs="bare Rack app; ratio = added us", goal=goal,
              key=f"{prefix}.{k}.layer")


def rackpeers_rows(t, peers):
    sec = (f"Ruby peers: Rack {peers.get('rack', '')} session middleware vs TotoSession::Rack, "
           f"read + write one value per request, in process (CPU per request; "
           f"{peers['rounds']} rounds of {peers['requests']} requests, alternating)")
    t.add(sec, "Rack::Session::Pool (memory, id cookie)", peers["pool"]["peer"],
          key="rackpeers.pool")
    t.add(sec, "TotoSession::Rack, memory cache (id cookie)", peers["pool"]["toto"],
          peers["pool"]["peer"], fn=TIME, vs="Rack::Session::Pool", goal=("<=", 1.0),
          key="rackpeers.pool_toto")
    t.add(sec, "Rack::Session::Cookie (Marshal + HMAC-SHA1 cookie)", peers["cookie"]["peer"],
          key="rackpeers.cookie")
    t.add(sec, "TotoSession::Rack, client-side cache (sealed id cookie)",
          peers["cookie"]["toto"], peers["cookie"]["peer"], fn=TIME,
          vs="Rack::Session::Cookie", goal=("<=", 1.0), key="rackpeers.cookie_toto")


# ---- running the parts ----------------------------------------------------------------------


def run_parts(selected, stage, args, c_exe_fn, rust_exe_fn):
    """Runs the selected parts; {part: data} (data None: the part is absent here)."""
    rounds = args.rounds
    quick = args.quick
    env_budget = {"TOTO_BENCH_BUDGET_MS": str(args.budget_ms)}
    data = {}
    c_exe = c_exe_fn() if set(selected) & {"micro", "scale", "threads", "redis", "cluster"} else None

    if "micro" in selected:
        rust_exe = rust_exe_fn()
        micro = []
        for i in range(rounds):
            log(f"micro round {i + 1}/{rounds}: Rust core + tower, C + OpenSSL, CPython")
            rd = {"rust": run_json([rust_exe], env=env_budget),
                  "c": run_json([c_exe, "micro"], env=env_budget),
                  "py": run_json([sys.executable, BENCH / "python" / "toto_path.py"],
                                 env=env_budget)}
            for k in ("request_mac_1k", "mac_1k"):
                if rd["py"]["info"][k] != rd["c"]["info"][k]:
                    sys.exit(f"bench: C and Python disagree on {k}: not the same inputs")
            if rd["c"]["info"]["openssl_mac_1k"] != rd["c"]["info"]["mac_1k"]:
                sys.exit("bench: OpenSSL and toto disagree on the 1 KiB MAC")
            micro.append({"rust": by_name(rd["rust"]), "c": by_name(rd["c"]),
                          "py": by_name(rd["py"]),
                          "info": {k: v["info"] for k, v in rd.items()}})
        data["micro"] = micro

    env_rounds = dict(env_budget, TOTO_BENCH_ROUNDS=str(rounds))
    if "scale" in selected:
        scale = {}
        for n in SCALES:
            log(f"scale: {n:,} sessions")
            scale[n] = run_json([c_exe, "scale", n], env=env_rounds)
        log(f"scale: {SCALES[-1]:,} anonymous sessions")
        scale["anon"] = run_json([c_exe, "scale", SCALES[-1], "anon"], env=env_rounds)
        log(f"scale: {SCALES[-1]:,} sessions in the compact memory cache")
        scale["compact"] = run_json([c_exe, "scale", SCALES[-1], "compact"], env=env_rounds)
        data["scale"] = scale
    if "threads" in selected:
        log("threads: 1 vs 2 on a shared manager")
        data["threads"] = run_json([c_exe, "threads"], env=env_rounds)

    phase = [sys.executable, Path(__file__).resolve(), "--rounds", str(rounds)]
    if quick:
        phase.append("--quick")
    if "redis" in selected:
        log("Redis (private server)")
        data["redis"] = run_json([ROOT / "scripts" / "with-redis.sh", *phase, "--redis-phase",
                                  c_exe], env=env_budget)
    if "cluster" in selected:
        if not CLUSTER_SCRIPT.exists():
            print("cluster part: scripts/with-redis-cluster.sh not present yet", flush=True)
            data["cluster"] = None
        else:
            log("Redis Cluster")
            data["cluster"] = run_json([CLUSTER_SCRIPT, *phase, "--cluster-phase", c_exe],
                                       env=env_budget)

    go_parts = {"go", "gohttp", "gopeers"} & set(selected)
    if go_parts:
        run([ROOT / "scripts" / "install-deps.sh", "go", "bench"])
        benchtime = "50ms" if quick else "200ms"
        pkgs = {"go": (ROOT / "bindings" / "go" / "toto", ".", None),
                "gohttp": (ROOT / "bindings" / "go" / "totohttp", "SignedStateGetInProcess",
                           "cpu-ns/op"),
                "gopeers": (BENCH / "go-peers", ".", None)}
        exes = {p: build_go_test(pkgs[p][0], BUILD / f"{p}.test", stage)
                for p in PARTS if p in go_parts}
        if "gohttp" in exes:
            # Both ways of linking are measured over HTTP, the goal row on the default
            # one (shared library), as a service built by the README links it.
            shared_http = build_go_test(pkgs["gohttp"][0], BUILD / "gohttp-shared.test", stage,
                                        static=False)
        got = {p: {"rounds": [], "allocs": {}} for p in exes}
        for i in range(rounds):
            for p, exe in exes.items():
                log(f"{p} round {i + 1}/{rounds}")
                found, allocs = run_go_round(exe, pkgs[p][0], pkgs[p][1], benchtime, pkgs[p][2])
                if p == "gohttp":
                    # Over HTTP: client and child servers on one CPU, a fixed number of
                    # alternating chunks (the benchmark's comment says why); the shared
                    # and the static build in turn, which goes first alternating by round.
                    builds = [(shared_http, ""), (exe, "Static")]
                    for http_exe, suffix in builds if i % 2 == 0 else builds[::-1]:
                        more, _ = run_go_round(http_exe, pkgs[p][0], "SignedStateGetOverHTTP",
                                               "2000x" if quick else "12000x", "cpu-ns/op",
                                               prefix=("taskset", "-c", str(PIN_CPU)))
                        found.update({k.replace("OverHTTP", "OverHTTP" + suffix, 1): v
                                      for k, v in more.items()})
                got[p]["rounds"].append(found)
                got[p]["allocs"].update(allocs)
        for p in got:
            got[p]["version"] = first_line(["go", "version"])
        if "gopeers" in got:
            got["gopeers"]["gorilla"] = "1.2.1"
            m = re.search(r"golang-github-gorilla-sessions-dev\s+(\S+)",
                          run(["dpkg-query", "-W", "golang-github-gorilla-sessions-dev"]))
            if m:
                got["gopeers"]["gorilla"] = m.group(1)
        data.update(got)

    ruby_env = {"TOTO_SESSION_LIB": str(Path(stage) / "lib" / "libtoto_session.so")}
    if {"ruby", "rubyyjit", "rack", "rackyjit", "rackpeers"} & set(selected):
        run([ROOT / "scripts" / "install-deps.sh", "ruby", "bench"])
    if "ruby" in selected:
        data["ruby"] = {"version": first_line(["ruby", "--version"]), "rounds": [
            ruby_round(stage, 20_000 if quick else 100_000) for _ in range(rounds)]}
    if "rubyyjit" in selected:
        log("Ruby binding under YJIT")
        run(["ruby", "--yjit", "-e", "exit(RubyVM::YJIT.enabled? ? 0 : 1)"])
        data["rubyyjit"] = {"version": first_line(["ruby", "--yjit", "--version"]), "rounds": [
            ruby_round(stage, 20_000 if quick else 100_000, yjit=True) for _ in range(rounds)]}
    if "rack" in selected:
        log("Ruby Rack layer")
        script = ROOT / "bindings" / "ruby" / "bench_rack.rb"
        n, r = ("300", str(rounds)) if quick else ("2000", str(max(rounds, 7)))
        # On one CPU, as the Go layer's over-HTTP row: client and servers on two CPUs
        # made the servers' CPU mostly wake-ups (58-283 us added in one run).
        out = run(["taskset", "-c", str(PIN_CPU), "ruby", "-I", ROOT / "bindings" / "ruby" / "lib",
                   script, n, r, "--json"], env=ruby_env, cwd=script.parent)
        data["rack"] = last_json_line(out, script)
    if "rackyjit" in selected:
        log("Ruby Rack layer under YJIT")
        script = ROOT / "bindings" / "ruby" / "bench_rack.rb"
        # The servers are children of the script: RUBYOPT reaches them too.
        run(["ruby", "--yjit", "-e", "exit(RubyVM::YJIT.enabled? ? 0 : 1)"])
        n, r = ("300", str(rounds)) if quick else ("2000", str(max(rounds, 7)))
        out = run(["taskset", "-c", str(PIN_CPU), "ruby", "-I", ROOT / "bindings" / "ruby" / "lib",
                   script, n, r, "--json"], env={**ruby_env, "RUBYOPT": "--yjit"}, cwd=script.parent)
        data["rackyjit"] = last_json_line(out, script)
    if "rackpeers" in selected:
        log("Ruby peers: Rack::Session")
        n, r = ("300", str(rounds)) if quick else ("2000", str(max(rounds, 7)))
        out = run(["ruby", "-I", ROOT / "bindings" / "ruby" / "lib",
                   BENCH / "ruby" / "rack_peers.rb", n, r], env=ruby_env)
        data["rackpeers"] = last_json_line(out, "bench/ruby/rack_peers.rb")
    return data


def build_rows(data):
    t = Table()
    builders = [("micro", micro_rows), ("scale", scale_rows), ("threads", threads_rows),
                ("redis", redis_rows), ("go", go_rows), ("gohttp", gohttp_rows),
                ("gopeers", gopeers_rows), ("ruby", ruby_rows),
                ("rubyyjit", lambda t, d: ruby_rows(t, d, yjit=True)), ("rack", rack_rows),
                ("rackyjit", lambda t, d: rack_rows(t, d, yjit=True)),
                ("rackpeers", rackpeers_rows)]
    for part, fn in builders:
        if data.get(part):
            fn(t, data[part])
        if part == "redis" and "cluster" in data:
            if data["cluster"]:
                redis_rows(t, data["cluster"], cluster=True)
            else:
                cluster_missing_rows(t, "scripts/with-redis-cluster.sh not present yet")
    return t.rows


def committed_results(path=None):
    """The baseline of the regression check: the results (rows, machine) of `path` when
    given, else of bench/results.json as committed (HEAD), else as on disk, else {}."""
    if path:
        return json.loads(Path(path).read_text())
    try:
        out = subprocess.run(["git", "show", "HEAD:bench/results.json"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout
        return json.loads(out)
    except (subprocess.CalledProcessError, OSError, ValueError):
        pass
    try:
        return json.loads(RESULTS.read_text())
    except (OSError, ValueError):
        return {}


def machine_note(old_machine, new_machine):
    """A warning when the baseline was measured on another kind of machine (CPU model or
    number of CPUs), else None: a row can then "regress" with no change of code (a VM
    that moves cache lines between cores more slowly, say)."""
    old_machine, new_machine = old_machine or {}, new_machine or {}
    keys = ("cpu", "cpus")
    if not old_machine or all(old_machine.get(k) == new_machine.get(k) for k in keys):
        return None
    was = ", ".join(f"{old_machine.get(k)}" for k in keys)
    now = ", ".join(f"{new_machine.get(k)}" for k in keys)
    return (f"note: the baseline was measured on another machine ({was} CPUs; this run: "
            f"{now} CPUs): before blaming the code, run the baseline's library and this "
            "one in turn on this machine (docs/performance.md does so), and commit this "
            "run's results.json as the new baseline once the cause is known")


# Peers whose code never changes here, timed in every full run: how much slower or
# faster the machine itself is than in the baseline's run, by kind of work.
CALIBRATION = [("openssl.hmac_keyed_64k", "CPU (OpenSSL's HMAC of 64 KiB)"),
               ("tower.tower_load_100k", "memory (tower-sessions' load among 100 k sessions)")]


def machine_drift(old_rows, new_rows, calibration=CALIBRATION):
    """[(what, this run's time / the baseline's)] for each calibration peer measured in
    both runs: a VM in a slower state moves every row near its goal with no change of
    code, and these say by how much."""
    old = {r.get("key"): r.get("measured") for r in old_rows}
    new = {r.get("key"): r.get("measured") for r in new_rows}
    return [(what, new[k] / old[k]) for k, what in calibration
            if isinstance(old.get(k), (int, float)) and old.get(k) > 0
            and isinstance(new.get(k), (int, float))]


def drift_note(drift):
    """One line on the machine's drift, or None when it is within 10 % everywhere."""
    if not drift or all(0.9 <= ratio <= 1.1 for _, ratio in drift):
        return None
    parts = ", ".join(f"{what} {ratio:.2f}x the time" for what, ratio in drift)
    return (f"note: the machine against the baseline's run: {parts}. Rows near their "
            "goal move with it; compare the library with the baseline's in turn before "
            "blaming the code")


def load_results():
    try:
        return json.loads(RESULTS.read_text())
    except (OSError, ValueError):
        return {}


def summary(rows):
    goals = [r for r in rows if r.get("goal") or r.get("target")]
    count = {v: sum((_row_verdict(r) or "n/a") == v for r in goals)
             for v in ("PASS", "MISS", "noisy", "n/a")}
    return count


def doc_block(doc):
    m = doc["machine"]
    c = summary(doc["rows"])
    runs = doc.get("runs") or [{"generated": doc["generated"], "seconds": doc["seconds"],
                                "filter": None}]
    def describe(r):
        out = f"{r['generated']} ({r['seconds']:.0f} s, "
        out += f"--filter {r['filter']}" if r.get("filter") else "all parts"
        if r.get("quick"):
            out += ", --quick"
        if r.get("load_average"):
            out += (f", load {r['load_average'][0]} -> {r['load_average'][1]}, other "
                    f"processes {100 * r['other_processes_cpu_share']:.0f}% of the CPU")
        return out + ")"

    run_lines = "; ".join(describe(r) for r in runs)
    head = [
        TABLE_START,
        "<!-- generated by bench/run.py from the run that wrote bench/results.json; "
        "do not edit by hand -->",
        "",
        f"Run: {run_lines}. Machine: {m['cpu']}, {m['cpus']} CPUs"
        f"{', SHA-NI' if m.get('sha_ni') else ''}, {m['memory_bytes'] / 2**30:.0f} GiB, "
        f"{m['kernel']}, {m['rustc']}.",
        f"Goals: {c['PASS']} PASS, {c['MISS']} MISS, {c['noisy']} noisy, {c['n/a']} not run "
        "or not yet.",
        "",
        render_markdown(doc["rows"]),
        "",
        TABLE_END,
    ]
    return "\n".join(head)


def write_doc(doc):
    text = DOC.read_text()
    a, b = text.find(TABLE_START), text.find(TABLE_END)
    if a < 0 or b < a:
        sys.exit(f"bench: {DOC} has no {TABLE_START} ... {TABLE_END} markers")
    DOC.write_text(text[:a] + doc_block(doc) + text[b + len(TABLE_END):])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--stage", default=str(ROOT / "build" / "stage"),
                    help="staged install of the library (make stage)")
    ap.add_argument("--quick", action="store_true", help="short runs, for trying things out")
    ap.add_argument("--filter", default=os.environ.get("BENCH_FILTER") or None,
                    help="regex (case-insensitive): run only the parts whose name, or one of "
                         "whose rows (key, section, label), matches; report only matching "
                         "rows (default: $BENCH_FILTER)")
    ap.add_argument("--rounds", type=int, default=ROUNDS, help=f"rounds per part ({ROUNDS})")
    ap.add_argument("--budget-ms", type=int, default=0,
                    help="sampling time per figure of the Rust, C and Python harnesses "
                         "(default 150, --quick 40)")
    ap.add_argument("--no-regression-check", action="store_true",
                    help="exploratory run: never fail on a regression")
    ap.add_argument("--baseline", metavar="RESULTS_JSON",
                    help="compare with this results.json instead of the committed one")
    ap.add_argument("--redis-phase", metavar="C_BENCH", help=argparse.SUPPRESS)
    ap.add_argument("--cluster-phase", metavar="C_BENCH", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.quick:
        os.environ["TOTO_BENCH_QUICK"] = "1"
    if not args.budget_ms:
        args.budget_ms = 40 if args.quick else 150
    if args.rounds < 1:
        sys.exit("bench: --rounds must be at least 1")
    for name in ("redis_phase", "cluster_phase"):
        ph = getattr(args, name)
        if ph:
            redis_phase(ph, args.quick, args.rounds, name == "cluster_phase")
            return

    started = time.time()
    load_start = os.getloadavg()
    busy_start, own_start = cpu_seconds()
    stage = Path(args.stage).resolve()
    if not (stage / "lib" / "libtoto_session.so").exists():
        sys.exit(f"bench: no staged library in {stage} (run `make stage` first)")
    for tool in ("cargo", "cc", "pkg-config", "redis-server", "redis-benchmark", "taskset"):
        if not shutil.which(tool):
            sys.exit(f"bench: {tool} missing (scripts/install-deps.sh core redis bench)")

    previous = load_results()
    baseline_results = committed_results(args.baseline)
    baseline = baseline_results.get("rows", [])
    known = (previous.get("rows") or []) + baseline
    selected = select_parts(args.filter, known)
    if not selected:
        sys.exit(f"bench: --filter {args.filter!r} matches no part and no known row "
                 f"(parts: {', '.join(PARTS)})")
    log(f"parts: {', '.join(selected)}" + (f" (--filter {args.filter})" if args.filter else ""))

    built = {}

    def c_exe():
        if "c" not in built:
            log("building the C benchmark")
            built["c"] = build_c(stage)
        return built["c"]

    def rust_exe():
        if "rust" not in built:
            log("building the Rust benchmark")
            built["rust"] = build_rust()
        return built["rust"]

    data = run_parts(selected, stage, args, c_exe, rust_exe)
    rows = [r for r in build_rows(data) if keep_row(args.filter, r)]
    if not rows:
        sys.exit("bench: no row matched the filter")

    elapsed = time.time() - started
    load_end = os.getloadavg()
    busy_end, own_end = cpu_seconds()
    others = max(0.0, (busy_end - busy_start) - (own_end - own_start))
    others_share = others / (elapsed * (os.cpu_count() or 1))
    info = machine_info()
    if data.get("micro"):
        info["openssl"] = data["micro"][0]["info"]["c"].get("openssl")
    info["load_average_start"] = round(load_start[0], 2)
    info["load_average_end"] = round(load_end[0], 2)
    info["other_processes_cpu_share"] = round(others_share, 3)
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")

    this_run = {"generated": now, "seconds": round(elapsed, 1), "filter": args.filter,
                "parts": selected, "rounds": args.rounds, "quick": args.quick,
                "load_average": [info["load_average_start"], info["load_average_end"]],
                "other_processes_cpu_share": info["other_processes_cpu_share"],
                # This run's time / the baseline's, for the calibration peers.
                "machine_drift": {what: round(ratio, 3)
                                  for what, ratio in machine_drift(baseline, rows)}}
    raw = {k: v for k, v in data.items()}
    if args.filter and previous.get("rows"):
        named = [p for p in selected if re.search(args.filter, p, re.I)]
        all_rows = merge_rows(previous["rows"], rows, named)
        raw = dict(previous.get("raw") or {}, **raw)
        runs = [r for r in previous.get("runs") or [{"generated": previous.get("generated"),
                                                      "seconds": previous.get("seconds", 0),
                                                      "filter": None}]] + [this_run]
    else:
        all_rows, runs = rows, [this_run]
    c = summary(all_rows)
    doc = {"generated": now, "seconds": round(elapsed, 1), "machine": info, "runs": runs,
           "rows": all_rows, "verdicts": c, "raw": raw}

    print(f"toto-session benchmarks, {now}: {info['cpu']} ({info['cpus']} CPUs"
          f"{', SHA-NI' if info['sha_ni'] else ''}), {info['rustc']}; load average "
          f"{info['load_average_start']} -> {info['load_average_end']}, other processes used "
          f"{100 * others_share:.0f}% of the CPU time during the run")
    print("ratio: per round, from that round's two sides; spread: min-max of the rounds' "
          "ratios; verdict: PASS every round meets the goal, MISS none does, noisy otherwise")
    print(render_text(rows))
    mine = summary(rows)
    print(f"goals in this run: {mine['PASS']} PASS, {mine['MISS']} MISS, {mine['noisy']} noisy, "
          f"{mine['n/a']} not run or not yet"
          + (": MISS " + "; ".join(f"{r['label'].strip()} ({r['ratio']:.3g}, {r['goal']})"
                                    for r in rows if r.get("verdict") == "MISS") if mine["MISS"]
             else ""))
    if others_share > 0.1:
        print("note: other work competed for the CPUs during the run: figures are noisier "
              "than on a quiet machine (see the spread column)")

    RESULTS.write_text(json.dumps(doc, indent=1) + "\n")
    write_doc(doc)
    log(f"wrote {RESULTS.relative_to(ROOT)} and the table in {DOC.relative_to(ROOT)}"
        + (" (merged: rows not run kept)" if args.filter else ""))

    regressed = regressions(baseline, rows)
    print(f"bench/run.py: {elapsed:.0f} s ({elapsed / 60:.1f} min), parts: {', '.join(selected)}")
    drift = drift_note(machine_drift(baseline, rows))
    if drift:
        print(drift)
    if regressed:
        print(f"REGRESSION against {args.baseline or 'the committed bench/results.json'} "
              "(rule: bench/README.md):")
        for r, why in regressed:
            print(f"  {r['key']} ({r['label'].strip()}): {why}")
        note = machine_note(baseline_results.get("machine"), info)
        if note:
            print(note)
        if not args.no_regression_check:
            sys.exit(1)
        print("(--no-regression-check: exit status 0 anyway)")
    else:
        print(f"no regression against {args.baseline or 'the committed bench/results.json'}")


if __name__ == "__main__":
    main()
