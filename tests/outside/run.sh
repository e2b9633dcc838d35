#!/usr/bin/env bash
# The library used the way users use it (make test-outside, part of make test).
#
# 1. README.md's "Install" blocks run as written (the <!-- outside: NAME --> blocks),
#    with PREFIX pointed at a temporary directory: `make install` into it, C compiled
#    with pkg-config flags only (shared and static), the Go module fetched with `go get`
#    from a module proxy holding a copy of bindings/go at its version (a file:// proxy,
#    so the module lands read-only in a private module cache exactly as for a user),
#    the gem built from a copy of bindings/ruby and installed into a private GEM_HOME,
#    and Bundler with a `path:` gem.
# 2. The programs built are README.md's own C, Go and Ruby examples (C++: docs/cpp.md's), in
#    directories outside the repository: each creates a session, stores and reads a
#    value, signs and verifies a request, and must exit 0.
# 3. Nothing they build or run may name the repository: no -I/-L/rpath into target/,
#    include/ or bindings/, no LD_LIBRARY_PATH, no TOTO_SESSION_LIB; static binaries
#    must not need libtoto_session.so, shared ones must load it from PREFIX.
# Prints "outside: N passed, 0 failed" at the end.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
readme="$root/README.md"
work=$(mktemp -d /tmp/toto-outside.XXXXXX)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
passed=0
die() { echo "outside: $*" >&2; echo "outside: $passed passed, 1 failed" >&2; exit 1; }
ok() { passed=$((passed + 1)); echo "outside: ok - $*"; }

# The fenced block right after "<!-- outside: NAME -->".
block() {
  awk -v name="$1" '
    $0 == "<!-- outside: " name " -->" { want = 1; next }
    want && /^```/ && !inside { inside = 1; next }
    inside && /^```[ \t]*$/ { exit }
    inside { print }
  ' "$readme"
}
# The first fenced block of a language (the README's examples; or of the file $2).
example() {
  awk -v lang="$1" '
    $0 ~ "^```" lang "[ \t]*$" && !inside { inside = 1; next }
    inside && /^```[ \t]*$/ { exit }
    inside { print }
  ' "${2:-$readme}"
}
for b in lib c go ruby-gem ruby-bundler; do
  [ -n "$(block "$b")" ] || die "README.md has no <!-- outside: $b --> block"
done

export PREFIX="$work/prefix"
export PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig"
unset LD_LIBRARY_PATH TOTO_SESSION_LIB TOTO_SESSION_STAGE CGO_CFLAGS CGO_LDFLAGS GOFLAGS
# Runs a README block in directory $2 under bash -e, with the user's PREFIX replaced.
run_block() {
  local name=$1 dir=$2
  block "$name" | sed "s|^export PREFIX=/usr/local.*|export PREFIX=$PREFIX|" >"$work/$name.sh"
  echo "outside: README block '$name' in $dir:"; sed 's/^/    $ /' "$work/$name.sh"
  (cd "$dir" && bash -euo pipefail "$work/$name.sh") || die "README block '$name' failed"
}
# A binary must not refer to the repository anywhere (rpath, runpath, debug paths of
# the link). Only the link-relevant dynamic section is checked.
# (Outputs are captured before grep: `cmd | grep -q` fails under pipefail when grep
# exits early and cmd gets SIGPIPE.)
not_in_repo() {
  local dyn; dyn=$(readelf -d "$1")
  if grep -F "$root" <<<"$dyn" >/dev/null; then die "$1 names the repository in its dynamic section"; fi
}
loads_from_prefix() {
  local deps; deps=$(ldd "$1")
  grep "libtoto_session.so.0 => $PREFIX/lib/" <<<"$deps" >/dev/null || { echo "$deps" >&2; die "$1 does not load libtoto_session from PREFIX"; }
  not_in_repo "$1"
}
no_shared_lib() {
  local deps; deps=$(ldd "$1")
  if grep libtoto_session <<<"$deps" >/dev/null; then die "$1 (static) needs libtoto_session.so"; fi
  not_in_repo "$1"
}

# ---- 1. the library ------------------------------------------------------------------
run_block lib "$root"
for f in lib/libtoto_session.so.0 lib/libtoto_session.a include/toto_session.h \
         lib/pkgconfig/toto_session.pc lib/pkgconfig/toto_session-static.pc; do
  [ -e "$PREFIX/$f" ] || die "make install did not install $f"
done
sections=$(readelf -S "$PREFIX/lib/libtoto_session.so.0")
if grep '\.debug_' <<<"$sections" >/dev/null; then die "the installed .so is not stripped"; fi
sections=$(readelf -S "$PREFIX/lib/libtoto_session.a" 2>/dev/null)
if grep '\.debug_' <<<"$sections" >/dev/null; then die "the installed .a is not stripped"; fi
[ "$(readelf -d "$PREFIX/lib/libtoto_session.so.0" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')" = libtoto_session.so.0 ] ||
  die "soname is not libtoto_session.so.0"
ok "make install: stripped .so (soname libtoto_session.so.0) and .a, header, two .pc files"

# ---- 2. C (and C++ when the wrapper is installed) ------------------------------------
mkdir -p "$work/c"
example c >"$work/c/app.c"
run_block c "$work/c"
(cd "$work/c" && ./app && ./app-static) >/dev/null || die "the C example did not run"
loads_from_prefix "$work/c/app"
no_shared_lib "$work/c/app-static"
ok "C: README example built with pkg-config only, shared (rpath) and static, ran"
if [ -f "$PREFIX/include/toto_session.hpp" ]; then
  example cpp "$root/docs/cpp.md" >"$work/c/app.cpp"
  [ -s "$work/c/app.cpp" ] || die "docs/cpp.md has no C++ example"
  (cd "$work/c" && c++ -std=c++17 -Wall -Wextra -Werror app.cpp -o app-cpp $(pkg-config --cflags --libs toto_session) &&
    ./app-cpp >/dev/null) || die "the C++ example did not build or run"
  loads_from_prefix "$work/c/app-cpp"
  ok "C++: docs/cpp.md example built with pkg-config only, ran"
fi

# ---- 3. Go: go get from a module proxy, module cache, shared and static --------------
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -n 1)
mod=github.com/toto-session/toto-session/bindings/go
proxy="$work/goproxy/$mod/@v"
mkdir -p "$proxy"
python3 - "$root/bindings/go" "$proxy" "$mod" "v$version" <<'PY'
import json, os, sys, zipfile
src, out, mod, ver = sys.argv[1:]
files = []
for d, dirs, names in os.walk(src):
    for n in names:
        if n.endswith(".test"):
            continue
        files.append(os.path.join(d, n))
with zipfile.ZipFile(os.path.join(out, ver + ".zip"), "w") as z:
    for f in sorted(files):
        z.write(f, f"{mod}@{ver}/" + os.path.relpath(f, src))
open(os.path.join(out, ver + ".mod"), "w").write(open(os.path.join(src, "go.mod")).read())
json.dump({"Version": ver, "Time": "2026-01-01T00:00:00Z"}, open(os.path.join(out, ver + ".info"), "w"))
open(os.path.join(out, "list"), "w").write(ver + "\n")
PY
mkdir -p "$work/go"
example go >"$work/go/main.go"
export GOPROXY="file://$work/goproxy" GOSUMDB=off GOFLAGS=-mod=mod GOWORK=off
export GOPATH="$work/gopath" GOCACHE="$work/gocache" CGO_ENABLED=1
(cd "$work/go" && go mod init example.com/app >/dev/null 2>&1) || die "go mod init failed"
run_block go "$work/go"
[ -d "$GOPATH/pkg/mod/$mod@v$version/toto" ] || die "go get did not put the module in the module cache"
grep -q "require $mod v$version" "$work/go/go.mod" || die "go.mod does not require $mod v$version"
(cd "$work/go" && ./app && ./app-static) >/dev/null || die "the Go example did not run"
loads_from_prefix "$work/go/app"
no_shared_lib "$work/go/app-static"
ok "Go: go get $mod@v$version from a proxy, README example built shared and static, ran"
unset GOPROXY GOSUMDB GOFLAGS GOWORK

# ---- 4. Ruby: gem build + gem install, and Bundler -----------------------------------
mkdir -p "$work/src/toto-session/bindings" "$work/ruby" "$work/bundler"
cp -r "$root/bindings/ruby" "$work/src/toto-session/bindings/ruby"
rm -f "$work/src/toto-session/bindings/ruby/"*.gem
export GEM_HOME="$work/gems"
run_block ruby-gem "$work/src/toto-session"
[ -d "$GEM_HOME/gems/toto_session-$version" ] || die "gem install did not install toto_session-$version into GEM_HOME"
example ruby >"$work/ruby/app.rb"
(cd "$work/ruby" && ruby -e 'require "toto_session"; abort "loaded from #{$LOADED_FEATURES.grep(/toto_session\.rb/)}" unless $LOADED_FEATURES.grep(/toto_session\.rb$/).all? { |f| f.start_with?(ENV["GEM_HOME"]) }' &&
  ruby app.rb >/dev/null) || die "the Ruby example did not run from the installed gem"
ok "Ruby: gem build + gem install into GEM_HOME, README example ran (library via pkg-config)"
(cd "$work/ruby" && PKG_CONFIG_PATH= LD_LIBRARY_PATH="$PREFIX/lib" ruby app.rb >/dev/null) ||
  die "the Ruby example did not run with the library found by ffi's own search (LD_LIBRARY_PATH)"
ok "Ruby: library found by ffi's search (LD_LIBRARY_PATH) too"
unset GEM_HOME
cp "$work/ruby/app.rb" "$work/bundler/app.rb"
(cd "$work/bundler" && bundle init >/dev/null) || die "bundle init failed"
block ruby-bundler | sed "s|/path/to/toto-session|$work/src/toto-session|" >"$work/ruby-bundler.sh"
echo "outside: README block 'ruby-bundler' in $work/bundler:"; sed 's/^/    $ /' "$work/ruby-bundler.sh"
(cd "$work/bundler" && BUNDLE_APP_CONFIG="$work/bundler/.bundle" bash -euo pipefail "$work/ruby-bundler.sh" >/dev/null) ||
  die "README block 'ruby-bundler' failed"
ok "Ruby: Bundler path gem, README example ran under bundle exec"

echo "outside: $passed passed, 0 failed"
