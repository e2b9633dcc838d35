//go:build toto_shared

package toto

// With `-tags toto_shared`: link the shared library found through pkg-config (an
// installed or staged toto_session.pc). See doc.go.

/*
#cgo pkg-config: toto_session
*/
import "C"
