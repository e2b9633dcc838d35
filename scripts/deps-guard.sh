#!/usr/bin/env bash
# Runs a command (one make target) so that a tool used without first being installed
# by scripts/install-deps.sh fails loudly, instead of working only because an earlier
# target happened to install it. Used by `make test` for each of its steps.
#
#   scripts/deps-guard.sh make test-docs
#
# How: a directory of shims (go, ruby, redis-server, ...) is put first on PATH. A shim
# runs the real tool only if its install-deps group was claimed during this command:
# scripts/install-deps.sh appends each group it was asked for to $TOTO_DEPS_CLAIMS.
# Otherwise it prints which group is missing and exits 127.
set -euo pipefail

[ $# -gt 0 ] || { echo "usage: $0 COMMAND [ARG...]" >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
shims=$(mktemp -d)
claims="$shims/.claims"
: >"$claims"
trap 'rm -rf "$shims"' EXIT

# tool:group, the same groups as scripts/install-deps.sh.
for pair in go:go gofmt:go ruby:ruby gem:ruby bundle:ruby rackup:ruby \
            redis-server:redis redis-cli:redis redis-benchmark:bench \
            valgrind:core pkg-config:core g++:core sqlite3:core; do
  tool=${pair%%:*} group=${pair#*:}
  cat >"$shims/$tool" <<SHIM
#!/usr/bin/env bash
if ! grep -qx "$group" "$claims"; then
  echo "deps-guard: '$tool' was run, but nothing in this make target ran 'scripts/install-deps.sh $group' first" >&2
  echo "deps-guard: (on a fresh machine this step fails with '$tool: command not found')" >&2
  exit 127
fi
PATH=\${PATH//$shims:/}
exec "$tool" "\$@"
SHIM
  chmod +x "$shims/$tool"
done

export TOTO_DEPS_CLAIMS="$claims"
export PATH="$shims:$PATH"
"$@"
