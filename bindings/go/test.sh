#!/usr/bin/env bash
# Go binding checks, run by `make test-go` once the library is staged (make stage).
# Usage: bindings/go/test.sh STAGE   (STAGE: the staged install prefix, e.g. build/stage)
# The module finds the library only through pkg-config, as it does for a user:
#   1. go vet ./...                          (default build: shared library)
#   2. go test -race -count=1 ./...          (package, example server end to end)
#   3. the static build (-tags toto_static): vet, the whole suite again, and ldd checks
#      that static binaries do not need libtoto_session.so while default ones load it
#      from STAGE through the .pc file's rpath (no LD_LIBRARY_PATH).
set -euo pipefail

stage=${1:?usage: bindings/go/test.sh STAGE}
stage=$(cd "$stage" && pwd)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$here"

command -v go >/dev/null || { echo "test.sh: go is not installed (scripts/install-deps.sh go)" >&2; exit 1; }
[ -f "$stage/lib/pkgconfig/toto_session.pc" ] ||
  { echo "test.sh: $stage/lib/pkgconfig/toto_session.pc is missing (make stage)" >&2; exit 1; }

# No module proxy on this kind of machine, and no dependencies to fetch anyway.
export GOPROXY=off GOWORK=off
export GOCACHE=${GOCACHE:-$root/build/go/cache}
export GOPATH=${GOPATH:-$root/build/go/path}
export CGO_ENABLED=1
export PKG_CONFIG_PATH="$stage/lib/pkgconfig"
unset LD_LIBRARY_PATH
go version

echo "== go vet ./..."
go vet ./...

echo "== go test -race -count=1 ./...   (shared library)"
go test -race -count=1 ./...

echo "== static archive build (-tags toto_static)"
go vet -tags toto_static ./...
go test -tags toto_static -count=1 ./...

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -tags toto_static -o "$tmp/go-server-static" ./examples/go-server
# ldd output is captured first: `ldd | grep -q` can fail under pipefail (SIGPIPE).
deps=$(ldd "$tmp/go-server-static")
if grep libtoto_session <<<"$deps" >/dev/null; then
  echo "test.sh: the toto_static build depends on libtoto_session.so" >&2; exit 1
fi
go build -o "$tmp/go-server" ./examples/go-server
deps=$(ldd "$tmp/go-server")
if ! grep "libtoto_session.so.* => $stage/lib/" <<<"$deps" >/dev/null; then
  echo "test.sh: the default build does not load $stage/lib/libtoto_session.so through its rpath" >&2
  ldd "$tmp/go-server" >&2; exit 1
fi
echo "static build needs no libtoto_session.so; default build loads $stage/lib via rpath"
echo "test.sh: Go binding checks passed"
