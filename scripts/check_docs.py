#!/usr/bin/env python3
"""Runs every code block of README.md and docs/*.md (make test-docs).

Usage: scripts/check_docs.py STAGE      (STAGE: the staged install, e.g. build/stage)

Each fenced block is accounted for, or the check fails:
  ```c      compiled with the project's warnings against STAGE (pkg-config) and run;
  ```cpp    compiled with g++ -std=c++17 -Wall -Wextra -Werror against STAGE and run;
  ```go     a main package, built in a module of its own that requires the Go binding
            (replaced by bindings/go, the library from STAGE's pkg-config) and run;
  ```ruby   run with bindings/ruby/lib and STAGE's library.
A marker comment on the line before a block changes that:
  <!-- outside: NAME -->     run by tests/outside/run.sh (make test-outside);
  <!-- same as: PATH -->     must equal the file PATH (repository-relative), which a
                             test suite runs (for servers and other long-running code);
  <!-- build only: WHY -->   (go, c, cpp) compiled but not run;
  <!-- not run: WHY -->      not run, for a stated reason (e.g. `make bench` itself);
  ```text / ```json         output or data shown, not code.
Any other block without a marker fails the check. Programs run with a timeout, with
TOTO_REDIS_URL passed through when set.

Also: the result-code table in docs/c-api.md (rows `| TOTO_RESULT_X | N | ... |`) lists
exactly the codes of `enum toto_result` in STAGE/include/toto_session.h.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FENCE = re.compile(r"^```([A-Za-z0-9+_-]*)[ \t]*$")
MARKER = re.compile(r"^<!--\s*(outside|same as|build only|not run):\s*(.*?)\s*-->\s*$")
DATA_LANGS = {"text", "json"}


def die(msg):
    print(f"check-docs: {msg}", file=sys.stderr)
    sys.exit(1)


def blocks(path):
    """Yields (language, first line number, marker kind, marker arg, code)."""
    lines = path.read_text().split("\n")
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        lang, start = m.group(1), i + 1
        marker = MARKER.match(lines[i - 1]) if i > 0 else None
        j = i + 1
        while j < len(lines) and not re.match(r"^```[ \t]*$", lines[j]):
            j += 1
        if j == len(lines):
            die(f"{path.relative_to(ROOT)}:{start}: unterminated code block")
        code = "\n".join(lines[i + 1 : j]) + "\n"
        yield lang, start + 1, marker.group(1) if marker else None, marker.group(2) if marker else None, code
        i = j + 1


def run(cmd, where, cwd=None, env=None, timeout=120):
    try:
        res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        die(f"{where}: {' '.join(map(str, cmd))} did not finish within {timeout} s")
    for line in (res.stdout + res.stderr).splitlines():
        print(f"    | {line}")
    if res.returncode != 0:
        die(f"{where}: {' '.join(map(str, cmd[:2]))}... exited with status {res.returncode}")


def main():
    if len(sys.argv) != 2:
        die("usage: scripts/check_docs.py STAGE")
    stage = Path(sys.argv[1]).resolve()
    header = stage / "include" / "toto_session.h"
    if not header.is_file():
        die(f"missing {header} (run make stage)")
    env = dict(os.environ, PKG_CONFIG_PATH=str(stage / "lib" / "pkgconfig"))
    env.pop("TOTO_SESSION_LIB", None)
    pc = lambda *a: subprocess.check_output(["pkg-config", *a], env=env, text=True).split()
    cflags, libs = pc("--cflags", "toto_session"), pc("--libs", "toto_session")
    go_env = dict(env, GOPROXY="off", GOWORK="off", GOFLAGS="-mod=mod",
                  GOCACHE=os.environ.get("GOCACHE", str(ROOT / "build" / "go" / "cache")),
                  GOPATH=os.environ.get("GOPATH", str(ROOT / "build" / "go" / "path")))
    ruby_env = dict(env, TOTO_SESSION_LIB=str(stage / "lib" / "libtoto_session.so"))
    gomod = "github.com/toto-session/toto-session/bindings/go"

    files = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
    counts = {}
    work = Path(tempfile.mkdtemp(prefix="check-docs."))
    try:
        for path in files:
            for n, (lang, line, kind, arg, code) in enumerate(blocks(path)):
                where = f"{path.relative_to(ROOT)}:{line} ({lang or 'plain'} block)"
                if kind in ("outside", "not run") or (kind is None and lang in DATA_LANGS):
                    if kind == "not run" and not arg:
                        die(f"{where}: a 'not run' marker needs a reason")
                    counts[kind or "data"] = counts.get(kind or "data", 0) + 1
                    continue
                if kind == "same as":
                    other = ROOT / arg
                    if not other.is_file() or other.read_text().rstrip("\n") != code.rstrip("\n"):
                        die(f"{where}: differs from {arg} (the file a test runs); keep them identical")
                    counts["same as"] = counts.get("same as", 0) + 1
                    continue
                if lang not in ("c", "cpp", "go", "ruby"):
                    die(f"{where}: not run by any test: mark it (see scripts/check_docs.py) or make it runnable")
                build_only = kind == "build only"
                d = work / f"{path.stem}_{n}"
                d.mkdir()
                print(f"check-docs: {where}: {'building' if build_only else 'building and running'}")
                if lang == "c":
                    (d / "main.c").write_text(code)
                    run(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-Wno-unused-parameter", *cflags,
                         "main.c", "-o", "main", *libs, "-pthread"], where, cwd=d, env=env)
                    exe = [str(d / "main")]
                elif lang == "cpp":
                    (d / "main.cpp").write_text(code)
                    run(["c++", "-std=c++17", "-Wall", "-Wextra", "-Werror", *cflags, "main.cpp", "-o", "main",
                         *libs, "-pthread"], where, cwd=d, env=env)
                    exe = [str(d / "main")]
                elif lang == "go":
                    (d / "main.go").write_text(code)
                    (d / "go.mod").write_text(f"module docexample\n\ngo 1.19\n\nrequire {gomod} v0.0.0\n\n"
                                              f"replace {gomod} => {ROOT / 'bindings' / 'go'}\n")
                    run(["go", "build", "-o", "main", "."], where, cwd=d, env=go_env, timeout=300)
                    exe = [str(d / "main")]
                else:
                    (d / "main.rb").write_text(code)
                    if build_only:
                        die(f"{where}: 'build only' is for compiled languages; use 'same as' for Ruby")
                    exe = ["ruby", "-I", str(ROOT / "bindings" / "ruby" / "lib"), str(d / "main.rb")]
                if not build_only:
                    run(exe, where, cwd=d, env=ruby_env if lang == "ruby" else env)
                counts[lang] = counts.get(lang, 0) + 1
    finally:
        shutil.rmtree(work, ignore_errors=True)

    # The result-code table.
    text = header.read_text()
    enum = re.search(r"^enum toto_result[^{]*\{(.*?)^\};", text, re.S | re.M)
    if not enum:
        die(f"no enum toto_result in {header}")
    want = sorted(re.findall(r"^\s*(TOTO_RESULT_[A-Z0-9_]+)\s*=\s*(\d+)", enum.group(1), re.M))
    table = (ROOT / "docs" / "c-api.md").read_text()
    have = re.findall(r"^\|\s*`?(TOTO_RESULT_[A-Z0-9_]+)`?\s*\|\s*(\d+)\s*\|", table, re.M)
    if len(have) != len(set(n for n, _ in have)):
        die("docs/c-api.md lists a result code more than once")
    if sorted(have) != want:
        missing = sorted(set(want) - set(have))
        extra = sorted(set(have) - set(want))
        die(f"docs/c-api.md result-code table differs from enum toto_result: header only {missing}, docs only {extra}")
    for need in ("c", "go", "ruby"):
        if not counts.get(need):
            die(f"no ```{need} block was run")
    summary = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
    print(f"check-docs: every block accounted for ({summary}); {len(want)} result codes match the header")


if __name__ == "__main__":
    main()
