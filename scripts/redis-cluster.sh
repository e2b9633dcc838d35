#!/usr/bin/env bash
# A private Redis Cluster for tests: 3 masters + 3 replicas on loopback.
#   scripts/redis-cluster.sh start DIR [BASE_PORT]   ports BASE..BASE+5 (default: a free range)
#   scripts/redis-cluster.sh stop DIR                kills the 6 nodes, waits for them to exit
# `start` prints the seed URL (redis+cluster://127.0.0.1:BASE,...) and writes it to
# DIR/url (the ports to DIR/ports), once every node says cluster_state:ok and every
# slot is covered. Nodes run with --cluster-node-timeout 1000 (a failover takes a few
# seconds), no persistence, each in DIR/<port> with its config (DIR/<port>/redis.conf:
# a killed node restarts with `redis-server DIR/<port>/redis.conf`), log and pid
# (DIR/<port>/redis.pid). redis-server or redis-cli missing is an error
# (scripts/install-deps.sh redis).
set -euo pipefail
usage() { echo "usage: $0 start DIR [BASE_PORT] | stop DIR" >&2; exit 2; }
cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || usage

free_base() {
  # Six consecutive free loopback ports, from a random start.
  python3 - <<'EOF'
import random, socket
for _ in range(200):
    # Nodes on base..base+5, their cluster bus on +10000: all below 65536.
    base = random.randint(20000, 55000)
    socks = []
    try:
        for p in range(base, base + 6):
            s = socket.socket()
            s.bind(("127.0.0.1", p))
            socks.append(s)
            # The cluster bus listens on port + 10000.
            b = socket.socket()
            b.bind(("127.0.0.1", p + 10000))
            socks.append(b)
        print(base)
        break
    except OSError:
        pass
    finally:
        for s in socks:
            s.close()
else:
    raise SystemExit("redis-cluster: no free port range")
EOF
}

stop() {
  [ -f "$dir/ports" ] || return 0
  local pids=()
  for port in $(cat "$dir/ports"); do
    local pidfile="$dir/$port/redis.pid"
    if [ -f "$pidfile" ]; then
      local pid; pid=$(cat "$pidfile")
      # A node stopped with SIGSTOP by a test must be continued to exit.
      kill -CONT "$pid" 2>/dev/null || true
      kill "$pid" 2>/dev/null && pids+=("$pid")
    fi
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$pid" 2>/dev/null || true
  done
}

case "$cmd" in
start)
  command -v redis-server >/dev/null || { echo "redis-cluster: redis-server is not installed" >&2; exit 1; }
  command -v redis-cli >/dev/null || { echo "redis-cluster: redis-cli is not installed" >&2; exit 1; }
  base=${3:-$(free_base)}
  mkdir -p "$dir"
  ports=$(seq "$base" $((base + 5)))
  echo $ports > "$dir/ports"
  for port in $ports; do
    mkdir -p "$dir/$port"
    # A test that killed a node starts it again with `redis-server DIR/<port>/redis.conf`.
    cat > "$dir/$port/redis.conf" <<CONF
port $port
bind 127.0.0.1
save ""
appendonly no
cluster-enabled yes
cluster-node-timeout 1000
cluster-config-file $dir/$port/nodes.conf
dir $dir/$port
daemonize yes
pidfile $dir/$port/redis.pid
logfile $dir/$port/redis.log
CONF
    redis-server "$dir/$port/redis.conf" >/dev/null
  done
  for port in $ports; do
    for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
    redis-cli -p "$port" ping >/dev/null || { echo "redis-cluster: node $port did not start" >&2; cat "$dir/$port/redis.log" >&2; stop; exit 1; }
  done
  addrs=$(for port in $ports; do printf '127.0.0.1:%s ' "$port"; done)
  # shellcheck disable=SC2086
  redis-cli --cluster create $addrs --cluster-replicas 1 --cluster-yes >"$dir/create.log" 2>&1 \
    || { echo "redis-cluster: cluster create failed" >&2; cat "$dir/create.log" >&2; stop; exit 1; }
  ok=
  for _ in $(seq 200); do
    ok=yes
    for port in $ports; do
      info=$(redis-cli -p "$port" cluster info 2>/dev/null || true)
      case "$info" in
        *cluster_state:ok*cluster_slots_ok:16384*) ;;
        *) ok=; break ;;
      esac
    done
    # Every node also knows all six (replicas attached), so a failover can happen.
    if [ -n "$ok" ]; then
      for port in $ports; do
        [ "$(redis-cli -p "$port" cluster nodes | grep -c -v fail)" -ge 6 ] || { ok=; break; }
      done
    fi
    [ -n "$ok" ] && break
    sleep 0.1
  done
  [ -n "$ok" ] || { echo "redis-cluster: the cluster did not become ok" >&2; stop; exit 1; }
  url="redis+cluster://$(echo $addrs | sed 's/ /,/g')"
  echo "$url" > "$dir/url"
  echo "$url"
  ;;
stop)
  stop
  ;;
*) usage ;;
esac
