//go:build toto_static

package toto

// With `-tags toto_static`: link the installed static archive through pkg-config
// (toto_session-static.pc from `make install`), so the Go binary needs no
// libtoto_session.so at run time. See doc.go.

/*
#cgo pkg-config: toto_session-static
*/
import "C"
