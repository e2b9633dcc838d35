#!/usr/bin/env bash
# Toto wire conformance of an example service over real HTTP on loopback.
#   tests/conformance/run.sh STAGE go      bindings/go/examples/go-server
#   tests/conformance/run.sh STAGE ruby    bindings/ruby/examples/rack_app.rb (WEBrick)
# Builds or loads the service against STAGE, starts it on free loopback ports in four
# configurations and runs tests/conformance/client.py against each:
#   hmac     defaults: HMAC on, CORS allow-origin *
#   nohmac   TOTO_HMAC=off (Toto's default)
#   cookies  TOTO_COOKIES=on, HMAC on, TOTO_ALLOW_ORIGIN=<two listed origins>
#   expiry   TOTO_SESSION_TTL=2: a session left alone expires (client --expire-after)
# The servers are stopped whatever the outcome. Only this file knows the services;
# client.py speaks the wire and nothing else (see its docstring for the contract).
set -euo pipefail
usage="usage: tests/conformance/run.sh STAGE go|ruby"
stage=$(cd "${1:?$usage}" && pwd)
service=${2:?$usage}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$root/build/conformance/$service"
mkdir -p "$out"

case "$service" in
  go)
    name=go-server
    export PKG_CONFIG_PATH="$stage/lib/pkgconfig"
    (cd "$root/bindings/go" && GOPROXY=off GOWORK=off \
      GOCACHE="${GOCACHE:-$root/build/go/cache}" GOPATH="${GOPATH:-$root/build/go/path}" \
      go build -o "$out/go-server" ./examples/go-server)
    serve=("$out/go-server")
    ;;
  ruby)
    name="ruby rack_app"
    export TOTO_SESSION_LIB="$stage/lib/libtoto_session.so"
    serve=(ruby -I "$root/bindings/ruby/lib" "$root/bindings/ruby/examples/rack_app.rb")
    ;;
  *) echo "$usage" >&2; exit 2 ;;
esac

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# start CONFIG ENV... : starts the service with ENV on a free port and waits for the one
# line it logs once it listens; sets $port.
start() {
  local config=$1; shift
  port=$(free_port)
  env "$@" PORT="$port" "${serve[@]}" >"$out/$config.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 600); do
    grep -q "listening on" "$out/$config.log" 2>/dev/null && return 0
    kill -0 "${pids[-1]}" 2>/dev/null || break
    sleep 0.05
  done
  echo "conformance: the $name service ($config) did not start" >&2; cat "$out/$config.log" >&2; exit 1
}

origin=https://app.example
total=0
run() {
  local mode=$1; shift
  echo "== conformance: $name, $mode $*"
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

echo "conformance ($name, 4 configurations): $total passed, 0 failed"
