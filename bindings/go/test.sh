#!/usr/bin/env bash
# Go binding checks, run by `make test-go` once the library is built and staged.
# Usage: bindings/go/test.sh STAGE   (STAGE: the staged install prefix, e.g. build/stage)
#   1. go vet ./...                       (default build: static library)
#   2. go test -race -count=1 ./...       (package, example server end to end)
#   3. the shared-library build (-tags toto_shared, flags from STAGE's pkg-config):
#      vet, a short test run against STAGE/lib/libtoto_session.so, and ldd checks that
#      default binaries do not need libtoto_session.so while shared ones do.
set -euo pipefail

stage=${1:?usage: bindings/go/test.sh STAGE}
stage=$(cd "$stage" && pwd)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$here"

command -v go >/dev/null || { echo "test.sh: go is not installed (scripts/install-deps.sh go)" >&2; exit 1; }
[ -f "$root/target/release/libtoto_session.a" ] ||
  { echo "test.sh: $root/target/release/libtoto_session.a is missing: build the library first" >&2; exit 1; }

# No module proxy on this kind of machine, and no dependencies to fetch anyway.
export GOPROXY=off GOWORK=off
export GOCACHE=${GOCACHE:-$root/build/go/cache}
export GOPATH=${GOPATH:-$root/build/go/path}
export CGO_ENABLED=1
go version

echo "== go vet ./..."
go vet ./...

echo "== go test -race -count=1 ./..."
go test -race -count=1 ./...

echo "== shared library build (-tags toto_shared)"
export PKG_CONFIG_PATH="$stage/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
go vet -tags toto_shared ./...
LD_LIBRARY_PATH="$stage/lib" go test -tags toto_shared -count=1 \
  -run 'TestWireVectors|TestGenerateIDAndVersion|TestManagerSessions|TestGoBackendPanics' .

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/go-server" ./examples/go-server
if ldd "$tmp/go-server" | grep -q libtoto_session; then
  echo "test.sh: the default build depends on libtoto_session.so" >&2; exit 1
fi
go build -tags toto_shared -o "$tmp/go-server-shared" ./examples/go-server
if ! LD_LIBRARY_PATH="$stage/lib" ldd "$tmp/go-server-shared" | grep -q "libtoto_session.so.* => $stage/lib/"; then
  echo "test.sh: the toto_shared build does not load $stage/lib/libtoto_session.so" >&2; exit 1
fi
echo "static link: examples/go-server needs no libtoto_session.so; toto_shared build loads $stage/lib"
echo "test.sh: Go binding checks passed"
