#!/usr/bin/env bash
# Cross-language test: one session shared through one Redis by C, Go and Ruby.
#   tests/cross/run.sh STAGE            a private redis-server, then client-side sessions
#   tests/cross/run.sh STAGE cluster    the Redis part only, on the Redis Cluster at
#                                       TOTO_REDIS_CLUSTER_URL (scripts/with-redis-cluster.sh)
# C creates and signs it; Go, then Ruby, verify the signed request, check what C wrote
# and add their own value; C then sees all three. A private redis-server is started
# (scripts/with-redis.sh). Then the same with client-side sessions (no server store; one
# key shared through TOTO_CLIENT_KEY): C seals the session into its id, Go opens it and
# saves (a new token), Ruby opens C's and Go's tokens and saves, C checks Ruby's token.
# Prints "cross-language: 6 passed, 0 failed" on success.
set -euo pipefail
stage=$(cd "${1:?usage: tests/cross/run.sh STAGE [cluster]}" && pwd)
mode=${2:-}
case "$mode" in
  "") ;;
  cluster) [ -n "${TOTO_REDIS_CLUSTER_URL:-}" ] || { echo "cross: cluster mode needs TOTO_REDIS_CLUSTER_URL (scripts/with-redis-cluster.sh)" >&2; exit 1; } ;;
  *) echo "usage: tests/cross/run.sh STAGE [cluster]" >&2; exit 2 ;;
esac
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$root/build/cross"
mkdir -p "$out"

export PKG_CONFIG_PATH="$stage/lib/pkgconfig"
cc -std=c11 -Wall -Wextra -Werror $(pkg-config --cflags toto_session) "$here/c_side.c" \
  -o "$out/c_side" $(pkg-config --libs toto_session) -Wl,-rpath,"$stage/lib"
(cd "$here/go_side" && GOPROXY=off GOWORK=off GOFLAGS=-mod=mod \
  GOCACHE="${GOCACHE:-$root/build/go/cache}" GOPATH="${GOPATH:-$root/build/go/path}" \
  go build -o "$out/go_side" .)

export TOTO_SESSION_LIB="$stage/lib/libtoto_session.so"
redis_part='
  read -r id key mac < <("$0/c_side" create)
  [ -n "$mac" ] || { echo "cross: C did not create a session" >&2; exit 1; }
  "$0/go_side" "$id" "$mac"
  ruby -I"$1/bindings/ruby/lib" "$1/tests/cross/ruby_side.rb" "$id" "$mac"
  "$0/c_side" check "$id"
'
if [ "$mode" = cluster ]; then
  # The same session, through the cluster: the URL alone selects cluster mode.
  TOTO_REDIS_URL="$TOTO_REDIS_CLUSTER_URL" bash -euo pipefail -c "$redis_part" "$out" "$root"
  echo "cross-language on the Redis Cluster: 3 passed, 0 failed"
  exit 0
fi
"$root/scripts/with-redis.sh" bash -euo pipefail -c "$redis_part" "$out" "$root"

TOTO_CLIENT_KEY="7:$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')" bash -euo pipefail -c '
  export TOTO_CLIENT_KEY
  read -r c_id key mac < <("$0/c_side" create)
  [ -n "$mac" ] || { echo "cross: C did not create a client-side session" >&2; exit 1; }
  go_id=$("$0/go_side" "$c_id" "$mac")
  ruby_id=$(ruby -I"$1/bindings/ruby/lib" "$1/tests/cross/ruby_side.rb" "$go_id" "$mac" "$c_id")
  [ "$c_id" != "$go_id" ] && [ "$go_id" != "$ruby_id" ] || { echo "cross: a save kept the token" >&2; exit 1; }
  echo "cross: client-side token, ${#c_id} characters from C"
  "$0/c_side" check "$ruby_id"
' "$out" "$root"
echo "cross-language: 6 passed, 0 failed"
