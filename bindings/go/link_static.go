//go:build !toto_shared

package toto

// Default: link the static library built by `cargo build --release` (or `make`), so a
// Go binary that imports this package needs neither LD_LIBRARY_PATH nor an installed
// libtoto_session.so. The extra libraries are what Rust's std needs from the system.

/*
#cgo LDFLAGS: ${SRCDIR}/../../target/release/libtoto_session.a -ldl -lm -lpthread -lrt -lutil -lgcc_s
*/
import "C"
