#!/usr/bin/env bash
# Checks README.md against the staged install (run by `make test-docs`):
#   1. every ```c fenced block is a standalone program that compiles with the project's
#      warnings against STAGE and exits 0;
#   2. every ```go block is a main package that builds against bindings/go (the staged
#      library through pkg-config) and exits 0; every ```ruby block runs with bindings/ruby against
#      STAGE's shared library and exits 0;
#   3. the result-code table lists exactly the codes (name and number) of
#      `enum toto_result` in STAGE/include/toto_session.h.
# Usage: scripts/check-readme.sh STAGE   (e.g. build/stage)
set -euo pipefail

die() { echo "check-readme: $*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: $0 STAGE (the staged install prefix)"
stage=$(cd "$1" 2>/dev/null && pwd) || die "no such directory: $1"
root=$(cd "$(dirname "$0")/.." && pwd)
readme="$root/README.md"
header="$stage/include/toto_session.h"
[ -f "$readme" ] || die "missing $readme"
[ -f "$header" ] || die "missing $header (run make stage)"
[ -e "$stage/lib/libtoto_session.so" ] || die "missing $stage/lib/libtoto_session.so (run make stage)"

cc=${CC:-cc}
cflags=(-std=c11 -Wall -Wextra -Werror -Wno-unused-parameter)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# ---- 1. the C examples -----------------------------------------------------------

# Writes block N to $work/example_N.c and records its first README line.
awk -v dir="$work" '
  /^```c[ \t]*$/ && !inside { inside = 1; n++; file = sprintf("%s/example_%d.c", dir, n);
                              printf "" > file; start = NR; print n, NR + 1 >> (dir "/index"); next }
  /^```[ \t]*$/ && inside   { inside = 0; close(file); next }
  inside                    { print >> file }
  END { if (inside) { printf "unterminated ```c block starting near line %d\n", start > "/dev/stderr"; exit 3 } }
' "$readme" || die "could not extract the C blocks from README.md"

[ -s "$work/index" ] || die "no \`\`\`c block found in README.md"

examples=0
while read -r n line; do
  src="$work/example_$n.c"
  exe="$work/example_$n"
  echo "README example $n (line $line): compiling"
  if ! "$cc" "${cflags[@]}" -I"$stage/include" "$src" -o "$exe" \
       -L"$stage/lib" -ltoto_session -Wl,-rpath,"$stage/lib" 2>"$work/cc.log"; then
    cat "$work/cc.log" >&2
    die "README example $n (the \`\`\`c block starting at README.md line $line) does not compile"
  fi
  echo "README example $n: running"
  status=0
  if command -v timeout >/dev/null; then
    timeout 60 "$exe" >"$work/run.log" 2>&1 || status=$?
  else
    "$exe" >"$work/run.log" 2>&1 || status=$?
  fi
  sed 's/^/    | /' "$work/run.log"
  [ "$status" -eq 0 ] || die "README example $n (line $line) exited with status $status"
  examples=$((examples + 1))
done <"$work/index"

# ---- 2. the Go and Ruby examples ----------------------------------------------------

# Writes each ```LANG block to $work/LANG_N.EXT; prints "N LINE" per block.
extract() {
  awk -v dir="$work" -v lang="$1" -v ext="$2" '
    $0 ~ "^```" lang "[ \t]*$" && !inside { inside = 1; n++; file = sprintf("%s/%s_%d.%s", dir, lang, n, ext);
                                             printf "" > file; print n, NR + 1; next }
    /^```[ \t]*$/ && inside { inside = 0; close(file); next }
    inside { print >> file }
  ' "$readme"
}

go_examples=0
while read -r n line; do
  mod="$work/go_$n"
  mkdir -p "$mod"
  mv "$work/go_$n.go" "$mod/main.go"
  printf 'module readme\n\ngo 1.19\n\nrequire github.com/toto-session/toto-session/bindings/go v0.0.0\n\nreplace github.com/toto-session/toto-session/bindings/go => %s/bindings/go\n' "$root" >"$mod/go.mod"
  echo "README Go example $n (line $line): building and running"
  (cd "$mod" && PKG_CONFIG_PATH="$stage/lib/pkgconfig" GOPROXY=off GOWORK=off GOFLAGS=-mod=mod GOCACHE="${GOCACHE:-$root/build/go/cache}" \
    GOPATH="${GOPATH:-$root/build/go/path}" go build -o example . 2>"$work/go.log" && ./example >"$work/run.log" 2>&1) ||
    { cat "$work/go.log" "$work/run.log" >&2 2>/dev/null; die "README Go example $n (line $line) failed"; }
  sed 's/^/    | /' "$work/run.log"
  go_examples=$((go_examples + 1))
done < <(extract go go)
[ "$go_examples" -gt 0 ] || die "no \`\`\`go block found in README.md"

ruby_examples=0
while read -r n line; do
  echo "README Ruby example $n (line $line): running"
  TOTO_SESSION_LIB="$stage/lib/libtoto_session.so" timeout 120 ruby -I"$root/bindings/ruby/lib" \
    "$work/ruby_$n.rb" >"$work/run.log" 2>&1 ||
    { cat "$work/run.log" >&2; die "README Ruby example $n (line $line) failed"; }
  sed 's/^/    | /' "$work/run.log"
  ruby_examples=$((ruby_examples + 1))
done < <(extract ruby rb)
[ "$ruby_examples" -gt 0 ] || die "no \`\`\`ruby block found in README.md"

# ---- 3. the result-code table ------------------------------------------------------

# From the header: "  TOTO_RESULT_NAME = N," lines inside `enum toto_result { ... };`.
awk '
  /^enum toto_result/ { inside = 1; next }
  inside && /^};/     { inside = 0 }
  inside && match($0, /^[ \t]*TOTO_RESULT_[A-Z0-9_]+[ \t]*=[ \t]*[0-9]+/) {
    line = substr($0, RSTART, RLENGTH); gsub(/[ \t]/, "", line); split(line, kv, "=")
    print kv[1], kv[2]
  }
' "$header" | sort >"$work/header.codes"
[ -s "$work/header.codes" ] || die "no TOTO_RESULT_* codes found in enum toto_result of $header"

# From the README: table rows whose first cell is a TOTO_RESULT_* name (backticks
# allowed) and whose second cell is a number.
awk -F'|' '
  NF >= 4 {
    name = $2; num = $3; gsub(/[ \t`]/, "", name); gsub(/[ \t]/, "", num)
    if (name ~ /^TOTO_RESULT_[A-Z0-9_]+$/ && num ~ /^[0-9]+$/) print name, num
  }
' "$readme" | sort >"$work/readme.codes"
[ -s "$work/readme.codes" ] || die "no result-code table (| TOTO_RESULT_... | number | ... |) found in README.md"

dups=$(cut -d' ' -f1 "$work/readme.codes" | uniq -d)
[ -z "$dups" ] || die "README.md lists these result codes more than once: $dups"

if ! diff -u --label "enum toto_result ($header)" --label "README.md result-code table" \
     "$work/header.codes" "$work/readme.codes" >"$work/codes.diff"; then
  cat "$work/codes.diff" >&2
  die "README.md result-code table differs from enum toto_result (- header only, + README only)"
fi
codes=$(wc -l <"$work/header.codes" | tr -d ' ')

echo "README: $examples C, $go_examples Go and $ruby_examples Ruby examples ran, $codes result codes match"
