#!/usr/bin/env bash
# Installs what the build and tests need, from Debian packages, only when missing.
# Idempotent: a second run installs nothing. Usage: scripts/install-deps.sh [GROUP...]
#   core   C and C++ toolchain, make, pkg-config, valgrind, SQLite headers (default)
#   go     Go toolchain (Debian's golang-go)
#   ruby   Ruby with Debian's ffi, minitest, rack and webrick gems, and Bundler
#   redis  redis-server and redis-tools
#   bench  what make bench adds: OpenSSL headers (the HMAC peer), python3, redis-benchmark,
#          and the Go peers gorilla/sessions + gorilla/securecookie (Debian's Go source
#          packages, under /usr/share/gocode/src, used offline by bench/go-peers),
#          and Puma (the Rack server of bindings/ruby/bench_rack.rb)
# A tool that is still missing afterwards is an error, never a skip.
set -euo pipefail

groups=("$@")
[ ${#groups[@]} -gt 0 ] || groups=(core)

# Under scripts/deps-guard.sh (make test): record the groups this target asked for, and
# look for the real tools, not the guard's shims.
if [ -n "${TOTO_DEPS_CLAIMS:-}" ]; then
  printf '%s\n' "${groups[@]}" >>"$TOTO_DEPS_CLAIMS"
  shims=$(dirname "$TOTO_DEPS_CLAIMS")
  PATH=${PATH//$shims:/}
fi

# command-to-check:debian-package pairs per group
declare -A want=(
  [core]="cc:gcc c++:g++ make:make pkg-config:pkg-config valgrind:valgrind sqlite3.h:libsqlite3-dev strip:binutils"
  [go]="go:golang-go"
  [ruby]="ruby:ruby ffi.rb:ruby-ffi minitest.rb:ruby-minitest rack.rb:ruby-rack webrick.rb:ruby-webrick bundle:bundler"
  [redis]="redis-server:redis-server redis-cli:redis-tools"
  [bench]="openssl/hmac.h:libssl-dev python3:python3 redis-benchmark:redis-tools gorilla/sessions:golang-github-gorilla-sessions-dev gorilla/securecookie:golang-github-gorilla-securecookie-dev puma.rb:puma"
)

have() {
  case "$1" in
    sqlite3.h) [ -f /usr/include/sqlite3.h ] ;;
    openssl/hmac.h) [ -f /usr/include/openssl/hmac.h ] ;;
    ffi.rb) command -v ruby >/dev/null && ruby -e 'require "ffi"' 2>/dev/null ;;
    minitest.rb) command -v ruby >/dev/null && ruby -e 'require "minitest"' 2>/dev/null ;;
    rack.rb) command -v ruby >/dev/null && ruby -e 'require "rack"' 2>/dev/null ;;
    webrick.rb) command -v ruby >/dev/null && ruby -e 'require "webrick"' 2>/dev/null ;;
    puma.rb) command -v ruby >/dev/null && ruby -e 'require "puma"' 2>/dev/null ;;
    gorilla/*) [ -f "/usr/share/gocode/src/github.com/$1/${1#*/}.go" ] ;;
    *) command -v "$1" >/dev/null 2>&1 ;;
  esac
}

missing=()
for g in "${groups[@]}"; do
  [ -n "${want[$g]+x}" ] || { echo "install-deps: unknown group '$g'" >&2; exit 2; }
  for pair in ${want[$g]}; do
    have "${pair%%:*}" || missing+=("${pair#*:}")
  done
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Rust comes from rustup on this kind of machine; Debian's rustc is too old for the
# dependencies, so a missing cargo is reported rather than papered over.
command -v cargo >/dev/null || { echo "install-deps: cargo (rustup stable) is required" >&2; exit 1; }
for g in "${groups[@]}"; do
  for pair in ${want[$g]}; do
    have "${pair%%:*}" || { echo "install-deps: ${pair#*:} still missing after install" >&2; exit 1; }
  done
done
