#!/usr/bin/env bash
# Runs a command with a private redis-server on a free loopback port, exported as
# TOTO_REDIS_URL (plus TOTO_REDIS_PORT), and stops the server afterwards, whatever the
# command's outcome. redis-server missing is an error (scripts/install-deps.sh redis).
set -euo pipefail
command -v redis-server >/dev/null || { echo "with-redis: redis-server is not installed" >&2; exit 1; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
dir=$(mktemp -d)
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" \
  --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >/dev/null
cleanup() {
  if [ -f "$dir/redis.pid" ]; then
    pid=$(cat "$dir/redis.pid")
    kill "$pid" 2>/dev/null || true
    # The server still writes its log while it shuts down: removing its directory
    # before it has exited races with that (rm: Directory not empty).
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
for _ in $(seq 100); do
  redis-cli -p "$port" ping >/dev/null 2>&1 && break
  sleep 0.05
done
redis-cli -p "$port" ping >/dev/null || { echo "with-redis: server did not start" >&2; cat "$dir/redis.log" >&2; exit 1; }
export TOTO_REDIS_URL="redis://127.0.0.1:$port/" TOTO_REDIS_PORT="$port"
"$@"
