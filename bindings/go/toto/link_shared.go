//go:build !toto_static

package toto

// Default: link the installed shared library, found through pkg-config
// (toto_session.pc from `make install`). Its Libs line carries an rpath to the
// install's libdir, so the binary starts without LD_LIBRARY_PATH wherever the
// library was installed. See doc.go.

/*
#cgo pkg-config: toto_session
*/
import "C"
