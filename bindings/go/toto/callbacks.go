package toto

// The //export'ed Go functions the C shims in shims.c call. A file with //export may
// only declare things in its preamble, hence the shims live in shims.c.
//
// Every callback runs on the goroutine that made the C call which reached the
// backend. A panic is recovered and reported to the library as a failure carrying the
// panic message (the caller then sees ErrBackendFailed with that message).

/*
#include <stdint.h>
#include "toto_session.h"
#include "shims.h"
*/
import "C"

import (
	"reflect"
	"time"
	"unsafe"
)

// idString is the session id a cache callback was given, as a Go string. When
// callers is set (shims.c: the library passed the very bytes of the id that
// Manager.RetrieveSession or VerifyRequest was given, which that call keeps alive) the
// caller's string is reused: Go strings are immutable, so the cache may keep it like
// any other. Otherwise the bytes (library memory, valid only during the callback) are
// copied.
func idString(id *C.char, n C.size_t, callers C.int) string {
	if callers == 0 || n == 0 {
		return goStringN(id, n)
	}
	var s string
	h := (*reflect.StringHeader)(unsafe.Pointer(&s))
	h.Data = uintptr(unsafe.Pointer(id))
	h.Len = int(n)
	return s
}

//export totoGoClock
func totoGoClock(h C.uintptr_t) (now C.double) {
	defer func() {
		if recover() != nil {
			// A clock must answer: fall back to the wall clock.
			now = C.double(unixSeconds(time.Now()))
		}
	}()
	f := refValue(uintptr(h)).(func() time.Time)
	return C.double(unixSeconds(f()))
}

//export totoGoFreeHandle
func totoGoFreeHandle(h C.uintptr_t) {
	defer func() { _ = recover() }()
	deleteRef(uintptr(h))
	live.backends.Add(-1)
}

//export totoGoCacheStore
func totoGoCacheStore(h C.uintptr_t, id *C.char, idLen C.size_t, callers C.int, userID *C.char, userIDLen C.size_t,
	expires C.double, record *C.uint8_t, recordLen C.size_t, flags C.uint32_t, ctx *C.toto_callback_ctx) (rc C.uint32_t) {
	defer recoverCallback(ctx, "cache Store", &rc)
	c := refValue(uintptr(h)).(*goCache)
	sid := idString(id, idLen, callers)
	newID, err := c.impl.Store(sid, goStringN(userID, userIDLen), fromUnixSeconds(float64(expires)),
		goBytesN(unsafe.Pointer(record), recordLen), flags&C.TOTO_STORE_CREATE_NEW != 0)
	if err != nil {
		return callbackError(ctx, err)
	}
	if newID != "" && newID != sid {
		return C.uint32_t(C.toto_go_callback_set_result(cctx(ctx), cstrU8(newID), clen(newID)))
	}
	return C.TOTO_RESULT_OK
}

//export totoGoCacheStoreIf
func totoGoCacheStoreIf(h C.uintptr_t, id *C.char, idLen C.size_t, callers C.int, userID *C.char, userIDLen C.size_t,
	expires C.double, record *C.uint8_t, recordLen C.size_t, flags C.uint32_t,
	expected, revision C.uint64_t, ctx *C.toto_callback_ctx) (rc C.uint32_t) {
	defer recoverCallback(ctx, "cache StoreIf", &rc)
	c := refValue(uintptr(h)).(*goCache)
	sid := idString(id, idLen, callers)
	newID, err := c.storer.StoreIf(sid, goStringN(userID, userIDLen), fromUnixSeconds(float64(expires)),
		goBytesN(unsafe.Pointer(record), recordLen), StoreMode(flags), uint64(expected), uint64(revision))
	if err != nil {
		return callbackError(ctx, err)
	}
	if newID != "" && newID != sid {
		return C.uint32_t(C.toto_go_callback_set_result(cctx(ctx), cstrU8(newID), clen(newID)))
	}
	return C.TOTO_RESULT_OK
}

//export totoGoCacheLoad
func totoGoCacheLoad(h C.uintptr_t, id *C.char, idLen C.size_t, callers C.int, out *C.toto_go_load_out,
	ctx *C.toto_callback_ctx) (rc C.uint32_t) {
	defer recoverCallback(ctx, "cache Load", &rc)
	c := refValue(uintptr(h)).(*goCache)
	record, found, err := c.impl.Load(idString(id, idLen, callers))
	if err != nil {
		return callbackError(ctx, err)
	}
	if !found {
		return C.TOTO_RESULT_NOT_FOUND
	}
	if putRecord(scratch(out), record) {
		out.len = clen(record)
		return C.TOTO_RESULT_OK
	}
	return C.uint32_t(C.toto_go_callback_set_result(cctx(ctx), cbytes(record), clen(record)))
}

//export totoGoCacheLoadRenew
func totoGoCacheLoadRenew(h C.uintptr_t, id *C.char, idLen C.size_t, callers C.int, renewUserTo, renewAnonymousTo C.double,
	out *C.toto_go_load_out, ctx *C.toto_callback_ctx) (rc C.uint32_t) {
	defer recoverCallback(ctx, "cache LoadRenew", &rc)
	c := refValue(uintptr(h)).(*goCache)
	record, expires, found, err := c.renewer.LoadRenew(idString(id, idLen, callers),
		fromUnixSeconds(float64(renewUserTo)), fromUnixSeconds(float64(renewAnonymousTo)))
	if err != nil {
		return callbackError(ctx, err)
	}
	if !found {
		return C.TOTO_RESULT_NOT_FOUND
	}
	if putRecord(scratch(out), record) {
		out.len = clen(record)
		if !expires.IsZero() {
			out.has_expires = 1
			out.expires = C.double(unixSeconds(expires))
		}
		return C.TOTO_RESULT_OK
	}
	if r := C.toto_go_callback_set_result(cctx(ctx), cbytes(record), clen(record)); r != C.TOTO_RESULT_OK {
		return C.uint32_t(r)
	}
	if !expires.IsZero() {
		return C.uint32_t(C.toto_go_callback_set_expires(cctx(ctx), C.double(unixSeconds(expires))))
	}
	return C.TOTO_RESULT_OK
}

// loadScratchSize is the capacity of the load shims' scratch buffer (shims.h).
const loadScratchSize = C.TOTO_GO_LOAD_SCRATCH

// scratch is the C stack buffer the load shims (shims.c) lend a Go load for its record.
// It is C memory, valid only until the callback returns: Go writes it and keeps no
// reference (the cgo pointer rules allow Go to write C memory).
func scratch(out *C.toto_go_load_out) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(out.buf)), int(out.cap))
}

// putRecord copies record into the load scratch when it fits, and says whether it did;
// the shim then hands it to toto_callback_set_result in C, sparing the callback a
// nested Go -> C cgo call. A record that does not fit goes through that call as before.
func putRecord(dst, record []byte) bool {
	if len(record) > len(dst) {
		return false
	}
	copy(dst, record)
	return true
}

//export totoGoCacheRemove
func totoGoCacheRemove(h C.uintptr_t, id *C.char, idLen C.size_t, callers C.int, ctx *C.toto_callback_ctx) (rc C.uint32_t) {
	defer recoverCallback(ctx, "cache Remove", &rc)
	c := refValue(uintptr(h)).(*goCache)
	if err := c.impl.Remove(idString(id, idLen, callers)); err != nil {
		return callbackError(ctx, err)
	}
	return C.TOTO_RESULT_OK
}

//export totoGoCacheRemoveUser
func totoGoCacheRemoveUser(h C.uintptr_t, userID *C.char, userIDLen C.size_t, removed *C.uint64_t,
	ctx *C.toto_callback_ctx) (rc C.uint32_t) {
	defer recoverCallback(ctx, "cache RemoveUser", &rc)
	c := refValue(uintptr(h)).(*goCache)
	n, err := c.userRemover.RemoveUser(goStringN(userID, userIDLen))
	if err != nil {
		return callbackError(ctx, err)
	}
	*removed = C.uint64_t(n)
	return C.TOTO_RESULT_OK
}

//export totoGoStoreLoad
func totoGoStoreLoad(h C.uintptr_t, userID *C.char, userIDLen C.size_t, names *C.toto_str, count C.size_t,
	ctx *C.toto_callback_ctx) (rc C.uint32_t) {
	defer recoverCallback(ctx, "account store Load", &rc)
	s := refValue(uintptr(h)).(*goStore)
	var list []string // nil: every property
	if names != nil {
		list = make([]string, int(count))
		for i, n := range unsafe.Slice(names, int(count)) {
			list[i] = goStringN(n.ptr, n.len)
		}
	}
	props, found, err := s.impl.Load(goStringN(userID, userIDLen), list)
	if err != nil {
		return callbackError(ctx, err)
	}
	if !found {
		return C.TOTO_RESULT_NOT_FOUND
	}
	for name, value := range props {
		if r := C.toto_go_callback_add_property(cctx(ctx), cstr(name), clen(name), cbytes(value), clen(value)); r != C.TOTO_RESULT_OK {
			return C.uint32_t(r)
		}
	}
	return C.TOTO_RESULT_OK
}

//export totoGoStoreWrite
func totoGoStoreWrite(h C.uintptr_t, create C.int, userID *C.char, userIDLen C.size_t, props *C.toto_property,
	count C.size_t, ctx *C.toto_callback_ctx) (rc C.uint32_t) {
	op := "account store Save"
	if create != 0 {
		op = "account store Create"
	}
	defer recoverCallback(ctx, op, &rc)
	s := refValue(uintptr(h)).(*goStore)
	m := make(map[string][]byte, int(count))
	if props != nil {
		for _, p := range unsafe.Slice(props, int(count)) {
			m[goStringN(p.name, p.name_len)] = goBytesN(unsafe.Pointer(p.value), p.value_len)
		}
	}
	user := goStringN(userID, userIDLen)
	var err error
	if create != 0 {
		err = s.impl.Create(user, m)
	} else {
		err = s.impl.Save(user, m)
	}
	if err != nil {
		return callbackError(ctx, err)
	}
	return C.TOTO_RESULT_OK
}

//export totoGoStoreRemove
func totoGoStoreRemove(h C.uintptr_t, userID *C.char, userIDLen C.size_t, ctx *C.toto_callback_ctx) (rc C.uint32_t) {
	defer recoverCallback(ctx, "account store Remove", &rc)
	s := refValue(uintptr(h)).(*goStore)
	if err := s.remover.Remove(goStringN(userID, userIDLen)); err != nil {
		return callbackError(ctx, err)
	}
	return C.TOTO_RESULT_OK
}

// cctx is how a callback context crosses back to the toto_go_callback_* shims.
func cctx(ctx *C.toto_callback_ctx) C.uintptr_t { return C.uintptr_t(uintptr(unsafe.Pointer(ctx))) }
