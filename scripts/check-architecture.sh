#!/usr/bin/env bash
# Keeps ARCHITECTURE.md true (run by make lint): every folder it names (a `path/` in
# backticks) exists, and every folder of src/ and bindings/ is named in it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
doc="$root/ARCHITECTURE.md"
cd "$root"
fail=0
named=$(grep -o '`[A-Za-z0-9_./-]*/`' "$doc" | tr -d '`' | sort -u)
for d in $named; do
  [ -d "$d" ] || { echo "check-architecture: ARCHITECTURE.md names $d, which does not exist" >&2; fail=1; }
done
while read -r d; do
  grep -qxF "$d/" <<<"$named" || { echo "check-architecture: $d/ is not named in ARCHITECTURE.md" >&2; fail=1; }
done < <(find src bindings -type d -not -path '*/.*' -not -name testdata | sort)
[ "$fail" -eq 0 ] || exit 1
echo "check-architecture: $(wc -w <<<"$named" | tr -d ' ') folders named, all exist; every folder of src/ and bindings/ is named"
