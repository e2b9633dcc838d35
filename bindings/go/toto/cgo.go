package toto

/*
#include <stdlib.h>
#include "toto_session.h"
*/
import "C"

import (
	"math"
	"sync/atomic"
	"time"
	"unsafe"
)

// Passing Go memory to C. Every string and byte slice crosses as pointer + length and
// the library copies what it keeps before returning, so pointing C at the Go bytes for
// the duration of one call is allowed by the cgo pointer-passing rules (the bytes hold
// no Go pointers and C does not retain them). No copy is made.
//
// cstr reads the string header's data word as an unsafe.Pointer (Go 1.19 has no
// unsafe.StringData), so escape analysis sees the bytes flow to C and keeps them off
// the goroutine stack. That matters because a call may re-enter Go (a Go cache, store
// or clock) while the library still reads the bytes, and a re-entered goroutine's
// stack can grow and move (TestStringsSurviveStackGrowthInCallbacks).
func cstr(s string) *C.char {
	if len(s) == 0 {
		return nil
	}
	return (*C.char)(*(*unsafe.Pointer)(unsafe.Pointer(&s)))
}

// cstrU8 is cstr for parameters declared as uint8_t bytes.
func cstrU8(s string) *C.uint8_t {
	return (*C.uint8_t)(unsafe.Pointer(cstr(s)))
}

// cbytes points C at b's bytes for the duration of a call (nil for an empty slice).
func cbytes(b []byte) *C.uint8_t {
	if len(b) == 0 {
		return nil
	}
	return (*C.uint8_t)(unsafe.Pointer(&b[0]))
}

// cbytesChar is cbytes for parameters declared as char text.
func cbytesChar(b []byte) *C.char {
	if len(b) == 0 {
		return nil
	}
	return (*C.char)(unsafe.Pointer(&b[0]))
}

func clen[T ~string | ~[]byte](v T) C.size_t { return C.size_t(len(v)) }

// goStringN copies n bytes at p (C or Rust memory) into a Go string.
func goStringN(p *C.char, n C.size_t) string {
	if n == 0 || p == nil {
		return ""
	}
	return string(unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n)))
}

// goBytesN copies n bytes at p into a new Go slice (never nil).
func goBytesN(p unsafe.Pointer, n C.size_t) []byte {
	if n == 0 || p == nil {
		return make([]byte, int(n))
	}
	src := unsafe.Slice((*byte)(p), int(n))
	out := make([]byte, len(src)) // make + copy: one allocation, not zeroed first
	copy(out, src)
	return out
}

// takeBytes copies a library-owned buffer into Go memory and frees it.
func takeBytes(b *C.toto_bytes) []byte {
	out := goBytesN(unsafe.Pointer(b.data), b.len)
	C.toto_bytes_free(b)
	return out
}

// cString copies a NUL-terminated string the library wrote into a Go buffer.
func cString(buf []C.char) string {
	for i, c := range buf {
		if c == 0 {
			return goStringN(&buf[0], C.size_t(i))
		}
	}
	return goStringN(&buf[0], C.size_t(len(buf)))
}

// unixSeconds converts a time to the library's float Unix seconds; the zero Time is 0.
func unixSeconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}

// maxUnixSeconds keeps converted times within what UnixNano can represent.
const maxUnixSeconds = math.MaxInt64 / 1_000_000_000

// fromUnixSeconds converts the library's float Unix seconds; 0 and NaN give the zero
// Time, infinities the far past/future.
func fromUnixSeconds(f float64) time.Time {
	switch {
	case f == 0 || math.IsNaN(f):
		return time.Time{}
	case f >= maxUnixSeconds:
		return time.Unix(maxUnixSeconds, 0)
	case f <= -maxUnixSeconds:
		return time.Unix(-maxUnixSeconds, 0)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(math.Round(frac*1e9)))
}

// HandleCounts is how many native handles this package has created and not yet
// released (by Close or by a finalizer). Useful to spot leaks in tests.
// Backends counts the Go Cache and AccountStore implementations the library still
// references (released through the vtables' free_user_data once the last native user
// is gone).
type HandleCounts struct {
	Sessions, Accounts, Managers, Caches, Stores, Backends int64
}

var live struct {
	sessions, accounts, managers, caches, stores, backends atomic.Int64
}

// LiveHandles reports the native handles currently owned by Go objects.
func LiveHandles() HandleCounts {
	return HandleCounts{
		Sessions: live.sessions.Load(),
		Accounts: live.accounts.Load(),
		Managers: live.managers.Load(),
		Caches:   live.caches.Load(),
		Stores:   live.stores.Load(),
		Backends: live.backends.Load(),
	}
}

// rawVersionCall is one bare cgo call (the benchmarks' floor).
func rawVersionCall() unsafe.Pointer {
	return unsafe.Pointer(C.toto_version())
}
