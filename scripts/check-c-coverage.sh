#!/usr/bin/env bash
# Usage: scripts/check-c-coverage.sh LIB DIR
# Every toto_ function the shared library LIB exports must be called somewhere in
# DIR/*.c (the C test suite). Lists the ones that are not and exits 1; otherwise
# prints how many were covered.
set -euo pipefail

if [ "$#" -ne 2 ]; then
  echo "usage: $0 LIB DIR" >&2
  exit 2
fi
lib=$1
dir=$2
[ -f "$lib" ] || { echo "check-c-coverage: no library at $lib" >&2; exit 2; }
[ -d "$dir" ] || { echo "check-c-coverage: no directory $dir" >&2; exit 2; }
shopt -s nullglob
sources=("$dir"/*.c)
[ "${#sources[@]}" -gt 0 ] || { echo "check-c-coverage: no .c files in $dir" >&2; exit 2; }

exported=$(nm -D --defined-only "$lib" | awk '$2=="T" && $3 ~ /^toto_/ {print $3}' | sort -u)
[ -n "$exported" ] || { echo "check-c-coverage: $lib exports no toto_ functions" >&2; exit 2; }

# The sources without their comments (so a call that is only mentioned in a comment
# does not count); macros are not expanded. Without a C compiler, the raw text.
text=$(mktemp)
trap 'rm -f "$text"' EXIT
for src in "${sources[@]}"; do
  "${CC:-cc}" -fpreprocessed -dD -E -P "$src" 2>/dev/null || cat "$src"
done >"$text"

# A call is the name followed by "(" (spaces allowed), not preceded by an identifier
# character: toto_session_id( does not count for toto_session_id_x, and a declaration
# in a header is not in DIR/*.c.
missing=()
total=0
for fn in $exported; do
  total=$((total + 1))
  if ! grep -Eq "(^|[^A-Za-z0-9_])${fn}[[:space:]]*\(" "$text"; then
    missing+=("$fn")
  fi
done

covered=$((total - ${#missing[@]}))
if [ "${#missing[@]}" -gt 0 ]; then
  echo "check-c-coverage: ${#missing[@]} of $total exported functions are never called in $dir/*.c:" >&2
  printf '  %s\n' "${missing[@]}" >&2
  exit 1
fi
echo "check-c-coverage: all $covered of $total exported toto_ functions are called in $dir/*.c"
