#!/usr/bin/env bash
# Runs the Ruby binding's minitest suite against a staged install (called by
# `make test-ruby` after building and staging the library):
#   bindings/ruby/test.sh STAGE        e.g. bindings/ruby/test.sh build/stage
# Loads STAGE/lib/libtoto_session.so (TOTO_SESSION_LIB), runs every test/*_test.rb in
# one process with a private redis-server (scripts/with-redis.sh, for the Redis cache
# tests) and fails on any failure, error or skip.
set -euo pipefail

die() { echo "ruby test.sh: $*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: $0 STAGE (the staged install prefix, e.g. build/stage)"
stage=$(cd "$1" 2>/dev/null && pwd) || die "no such directory: $1"
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
lib="$stage/lib/libtoto_session.so"
[ -e "$lib" ] || die "missing $lib (run make stage)"
[ -f "$stage/include/toto_session.h" ] || die "missing $stage/include/toto_session.h (run make stage)"

command -v ruby >/dev/null || die "ruby is missing (scripts/install-deps.sh ruby)"
"$root/scripts/install-deps.sh" redis

export TOTO_SESSION_LIB="$lib"
export TOTO_SESSION_STAGE="$stage"
unset TOTO_SESSION_PARTIAL_RUN

cd "$here"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
"$root/scripts/with-redis.sh" ruby -w -Ilib -Itest \
  -e 'Dir[File.join(Dir.pwd, "test", "*_test.rb")].sort.each { |f| require f }' \
  2>&1 | tee "$log" || status=$?
[ "$status" -eq 0 ] || die "the suite failed (exit $status)"
summary=$(grep -E '^[0-9]+ runs, [0-9]+ assertions, [0-9]+ failures, [0-9]+ errors, [0-9]+ skips' "$log" | tail -n 1)
[ -n "$summary" ] || die "no minitest summary line"
case "$summary" in
  *" 0 failures, 0 errors, 0 skips") ;;
  *) die "not clean: $summary" ;;
esac
if grep 'warning:' "$log" | grep -v '/gems/' >&2; then
  die "Ruby warnings in the binding or its tests (above)"
fi
echo "ruby binding: $summary"
