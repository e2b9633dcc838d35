#!/usr/bin/env bash
# Toto wire conformance of the Ruby example service (bindings/ruby/examples/rack_app.rb,
# Toto's protocol over TotoSession::Rack under WEBrick).
#   tests/conformance/run-ruby.sh STAGE
# Starts the service against STAGE's shared library on free loopback ports in the same
# four configurations as the Go service (run.sh) and runs tests/conformance/client.py
# against each:
#   hmac     defaults: HMAC on, CORS allow-origin *
#   nohmac   TOTO_HMAC=off (Toto's default)
#   cookies  TOTO_COOKIES=on, HMAC on, TOTO_ALLOW_ORIGIN=<two listed origins>
#   expiry   TOTO_SESSION_TTL=2: a session left alone expires (client --expire-after)
# The servers are stopped whatever the outcome.
set -euo pipefail
stage=$(cd "${1:?usage: tests/conformance/run-ruby.sh STAGE}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$root/build/conformance/ruby"
mkdir -p "$out"
[ -f "$here/client.py" ] || { echo "conformance: missing $here/client.py" >&2; exit 1; }
export TOTO_SESSION_LIB="$stage/lib/libtoto_session.so"

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# start NAME ENV... : starts the service with ENV on a free port; sets $port. The
# service logs one line once it listens.
start() {
  local name=$1; shift
  port=$(free_port)
  env "$@" PORT="$port" ruby -I "$root/bindings/ruby/lib" "$root/bindings/ruby/examples/rack_app.rb" \
    >"$out/$name.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 600); do
    grep -q "listening on" "$out/$name.log" 2>/dev/null && return 0
    kill -0 "${pids[-1]}" 2>/dev/null || break
    sleep 0.05
  done
  echo "conformance: the Ruby $name service did not start" >&2; cat "$out/$name.log" >&2; exit 1
}

origin=https://app.example
total=0
run() {
  local mode=$1; shift
  echo "== conformance: ruby rack_app, $mode $*"
  python3 "$here/client.py" --base-url "http://127.0.0.1:$port/" --mode "$mode" --origin "$origin" "$@" \
    | tee "$out/run.out"
  total=$((total + $(sed -n 's/^conformance: \([0-9]*\) passed.*/\1/p' "$out/run.out")))
}

start hmac
run hmac
start nohmac TOTO_HMAC=off
run nohmac
start cookies TOTO_COOKIES=on TOTO_ALLOW_ORIGIN="$origin,https://other.example"
run cookies --allow-origin list
start expiry TOTO_SESSION_TTL=2
run hmac --expire-after 2

cleanup
pids=()
echo "conformance (ruby rack_app, 4 configurations): $total passed, 0 failed"
