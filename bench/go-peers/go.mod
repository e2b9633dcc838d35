// The Go peers of bench/run.py: gorilla/sessions next to the toto binding, from
// Debian's Go source packages (scripts/install-deps.sh bench), offline:
//   GOPROXY=off GOFLAGS=-mod=mod go test -bench . (bench/run.py does it).
// A module of its own so that the library module (bindings/go) never depends on
// gorilla. Debian ships securecookie without a go.mod, which a replacement directory
// must have: bench/run.py copies it to build/bench/securecookie and adds one.
module toto-session-bench/go-peers

go 1.19

require (
	github.com/gorilla/securecookie v1.1.1
	github.com/gorilla/sessions v1.2.1
	github.com/toto-session/toto-session/bindings/go v0.0.0
)

replace (
	github.com/gorilla/securecookie => ../../build/bench/securecookie
	github.com/gorilla/sessions => /usr/share/gocode/src/github.com/gorilla/sessions
	github.com/toto-session/toto-session/bindings/go => ../../bindings/go
)
