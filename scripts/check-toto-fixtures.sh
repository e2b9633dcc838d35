#!/usr/bin/env bash
# Regenerates tests/toto_fixtures/fixtures.{json,txt} with Python Toto 1.0.10's own code
# (tests/toto_fixtures/make_fixtures.py, Python 2.7) and fails when they differ from the
# committed files (the output is byte-stable: fixed randomness and clock). Without
# Python 2.7 + pbkdf2, or without Toto's source beside the repository
# (../shared/reference/toto-1.0.10, or TOTO_SOURCE), the committed fixtures are used
# as they are. Run by make test-rust.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
py() { PYENV_VERSION=${PYENV_VERSION:-2.7.18} python "$@"; }
src=${TOTO_SOURCE:-$root/../shared/reference/toto-1.0.10}
if ! py -c 'import sys, pbkdf2; assert sys.version_info[:2] == (2, 7)' >/dev/null 2>&1; then
  echo "toto fixtures: Python 2.7 with pbkdf2 not available: using the committed ones"
  exit 0
fi
if [ ! -f "$src/session.py" ]; then
  echo "toto fixtures: Toto's source not found at $src: using the committed ones"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
TOTO_SOURCE="$src" py "$root/tests/toto_fixtures/make_fixtures.py" "$tmp/fixtures.json" 2>/dev/null
for f in fixtures.json fixtures.txt; do
  if ! cmp -s "$tmp/$f" "$root/tests/toto_fixtures/$f"; then
    diff -u "$root/tests/toto_fixtures/$f" "$tmp/$f" | head -40 >&2
    echo "toto fixtures: tests/toto_fixtures/$f differs from what Toto's code makes now;" \
         "regenerate: PYENV_VERSION=2.7.18 python tests/toto_fixtures/make_fixtures.py" >&2
    exit 1
  fi
done
echo "toto fixtures: regenerated with Toto 1.0.10 under Python 2.7: identical to the committed ones"
