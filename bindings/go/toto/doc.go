// Package toto is the Go binding of toto-session, the session and account layer of the
// Toto API framework, implemented in Rust behind a C ABI (include/toto_session.h).
//
// A Manager (Toto's "DBConnection") ties a session cache and an account store
// together: it creates, retrieves (with Toto's renewal rule), saves, rotates and
// removes sessions, creates accounts, logs users in and out, changes passwords and
// verifies signed requests in one call. A Session holds an id, a user id, an expiry,
// an optional HMAC key and a typed state map (Set and Get take Go values). Caches and
// account stores are the library's built-in memory ones or Go implementations of the
// Cache and AccountStore interfaces. Failures are *Error values carrying the
// library's code; compare them with errors.Is(err, toto.ErrInvalidHMAC) and friends.
//
// # Handles and memory
//
// Every type that owns a native handle (Manager, Session, Account, CacheHandle,
// StoreHandle) has an idempotent Close and a finalizer: call Close (or defer it) to
// release native memory promptly; the finalizer only catches what was forgotten.
// (Sessions share a finalizer per 32 allocated together, so a forgotten session is
// freed once the sessions allocated next to it are unreachable too. Session.Close
// leaves the native free of the one session closed last in the process to the next
// Close, RetrieveSession or VerifyRequest, which saves a retrieve's caller a second
// cgo call.)
// Methods of a closed value return ErrClosed (which matches ErrInvalidHandle).
//
// # Concurrency
//
// Manager, CacheHandle and StoreHandle are safe for concurrent use. The library allows
// one thread at a time per Session and Account; the Go types serialize calls with a
// mutex, so sharing one between goroutines is safe, though rarely what you want. Go
// Cache, AccountStore and clock implementations are called from whichever goroutines
// use the library, possibly at the same time.
//
// # Contexts
//
// Methods that may reach a cache or an account store take a context.Context first. It
// is checked before the call starts; the call itself (a C call) cannot be interrupted,
// so a Go backend that talks to the network should apply its own timeouts.
//
// # Installing and linking
//
// The package finds the library the way C programs do: through pkg-config. Install
// the library first (`make install PREFIX=/usr/local` at the repository root, see the
// repository README), then add the module:
//
//	go get github.com/toto-session/toto-session/bindings/go@v0.1.0
//
// and import "github.com/toto-session/toto-session/bindings/go/toto". If the prefix is
// not on pkg-config's default path, point PKG_CONFIG_PATH at PREFIX/lib/pkgconfig.
//
// By default the package links the shared library (pkg-config module toto_session).
// The installed toto_session.pc carries -Wl,-rpath to the install's libdir, so the
// binary starts without LD_LIBRARY_PATH. With -tags toto_static it links the static
// archive instead (module toto_session-static) and the binary needs no
// libtoto_session.so at run time:
//
//	go build -tags toto_static ./...
package toto
