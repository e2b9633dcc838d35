#!/usr/bin/env bash
# Toto wire conformance of the Go example service (bindings/go/examples/go-server).
#   tests/conformance/run.sh STAGE
# Builds the server against STAGE (pkg-config), starts it on free loopback ports in
# three configurations and runs tests/conformance/client.py against each:
#   hmac     defaults: HMAC on, CORS allow-origin *
#   nohmac   TOTO_HMAC=off (Toto's default)
#   cookies  TOTO_COOKIES=on, HMAC on, TOTO_ALLOW_ORIGIN=<two listed origins>
#   expiry   TOTO_SESSION_TTL=2: a session left alone expires (client --expire-after)
# The servers are stopped whatever the outcome. Only this file knows the service;
# client.py speaks the wire and nothing else (see its docstring for the contract).
set -euo pipefail
stage=$(cd "${1:?usage: tests/conformance/run.sh STAGE}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$root/build/conformance"
mkdir -p "$out"

export PKG_CONFIG_PATH="$stage/lib/pkgconfig"
(cd "$root/bindings/go" && GOPROXY=off GOWORK=off \
  GOCACHE="${GOCACHE:-$root/build/go/cache}" GOPATH="${GOPATH:-$root/build/go/path}" \
  go build -o "$out/go-server" ./examples/go-server)

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# start NAME ENV... : starts the server with ENV on a free port; sets $port.
start() {
  local name=$1; shift
  port=$(free_port)
  env "$@" PORT="$port" "$out/go-server" >"$out/$name.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 200); do
    if python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1",int(sys.argv[1])),0.2)' "$port" 2>/dev/null; then
      return 0
    fi
    kill -0 "${pids[-1]}" 2>/dev/null || break
    sleep 0.05
  done
  echo "conformance: the $name server did not start" >&2; cat "$out/$name.log" >&2; exit 1
}

origin=https://app.example
total=0
run() {
  local mode=$1; shift
  echo "== conformance: go-server, $mode $*"
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
grep -q "listening on" "$out/hmac.log" || { echo "conformance: the server did not log its listening line" >&2; exit 1; }
echo "conformance (go-server, 4 configurations): $total passed, 0 failed"
