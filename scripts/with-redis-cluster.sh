#!/usr/bin/env bash
# Runs a command with a private Redis Cluster (scripts/redis-cluster.sh: 3 masters + 3
# replicas on free loopback ports), exported as TOTO_REDIS_CLUSTER_URL, plus
# TOTO_REDIS_CLUSTER_DIR (each node's pid in DIR/<port>/redis.pid) and
# TOTO_REDIS_CLUSTER_PORTS (the six ports, space separated) for tests that stop or kill
# nodes. The cluster is stopped afterwards, whatever the command's outcome.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d)
cleanup() {
  "$here/redis-cluster.sh" stop "$dir" || true
  rm -rf "$dir"
}
trap cleanup EXIT
"$here/redis-cluster.sh" start "$dir" >/dev/null
TOTO_REDIS_CLUSTER_URL=$(cat "$dir/url")
TOTO_REDIS_CLUSTER_PORTS=$(cat "$dir/ports")
export TOTO_REDIS_CLUSTER_URL TOTO_REDIS_CLUSTER_PORTS TOTO_REDIS_CLUSTER_DIR="$dir"
"$@"
