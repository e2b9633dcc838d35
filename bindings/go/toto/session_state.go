package toto

/*
#include <stdlib.h>
#include <string.h>
#include "shims.h"

// The hot path's C side. Two things make a cgo call allocate, and these avoid both:
//   - the address of a Go variable passed to C escapes to the heap: the getters write
//     into C locals and return a small struct by value instead;
//   - a *C.toto_session argument (a pointer to an incomplete, not-in-heap type) is
//     boxed for cgo's pointer check: the handle crosses as a uintptr_t instead (it is C
//     memory, which the check has nothing to say about).
// They are static inline: cgo's wrapper for each is in this file's C code, so the
// library call is made directly from the wrapper.

typedef struct { toto_result rc; int64_t v; } toto_go_i64_result;
typedef struct { toto_result rc; bool v; } toto_go_bool_result;
typedef struct { toto_result rc; const char *ptr; size_t len; } toto_go_text_result;
typedef struct { toto_result rc; toto_scalar v; } toto_go_scalar_result;

// toto_session_get_scalar without text and bytes, in four word-sized fields: kind is the
// value type, plus TOTO_GO_TRUE for a true bool and TOTO_GO_FITS for an integer in
// int64 range. (A Go struct of more than four fields lives in memory, where copying it
// costs store-forwarding stalls: this one stays in registers.)
typedef struct { toto_result rc; uint32_t kind; int64_t i; double f; } toto_go_num_result;
#define TOTO_GO_TRUE 0x100u
#define TOTO_GO_FITS 0x200u

#define TOTO_GO_SESSION(h) ((toto_session *)(h))

static inline toto_go_i64_result toto_go_session_get_i64(uintptr_t s, const char *key,
                                                         size_t key_len) {
	toto_go_i64_result r = {0, 0};
	r.rc = toto_session_get_i64(TOTO_GO_SESSION(s), key, key_len, &r.v);
	return r;
}

static inline toto_go_bool_result toto_go_session_get_bool(uintptr_t s, const char *key,
                                                           size_t key_len) {
	toto_go_bool_result r = {0, false};
	r.rc = toto_session_get_bool(TOTO_GO_SESSION(s), key, key_len, &r.v);
	return r;
}

static inline toto_go_text_result toto_go_session_get_text(uintptr_t s, const char *key,
                                                           size_t key_len) {
	toto_go_text_result r = {0, NULL, 0};
	r.rc = toto_session_get_text(TOTO_GO_SESSION(s), key, key_len, &r.ptr, &r.len);
	return r;
}

static inline toto_go_text_result toto_go_session_get_bytes(uintptr_t s, const char *key,
                                                            size_t key_len) {
	toto_go_text_result r = {0, NULL, 0};
	r.rc = toto_session_get_bytes(TOTO_GO_SESSION(s), key, key_len, (const uint8_t **)&r.ptr,
	                              &r.len);
	return r;
}

static inline toto_go_scalar_result toto_go_session_get_scalar(uintptr_t s, const char *key,
                                                               size_t key_len) {
	toto_go_scalar_result r;
	r.rc = toto_session_get_scalar(TOTO_GO_SESSION(s), key, key_len, &r.v);
	if (r.rc != TOTO_RESULT_OK) {
		r.v.value_type = 0;
		r.v.boolean = false;
		r.v.integer_fits = false;
		r.v.integer = 0;
		r.v.number = 0;
		r.v.data = NULL;
		r.v.len = 0;
	}
	return r;
}

static inline toto_go_num_result toto_go_session_get_num(uintptr_t s, const char *key,
                                                         size_t key_len) {
	toto_scalar v;
	toto_go_num_result r = {0, 0, 0, 0};
	r.rc = toto_session_get_scalar(TOTO_GO_SESSION(s), key, key_len, &v);
	if (r.rc == TOTO_RESULT_OK) {
		r.kind = (uint32_t)v.value_type | (v.boolean ? TOTO_GO_TRUE : 0) |
		         (v.integer_fits ? TOTO_GO_FITS : 0);
		r.i = v.integer;
		r.f = v.number;
	}
	return r;
}

static inline toto_go_bool_result toto_go_session_contains(uintptr_t s, const char *key,
                                                           size_t key_len) {
	toto_go_bool_result r = {0, false};
	r.rc = toto_session_contains(TOTO_GO_SESSION(s), key, key_len, &r.v);
	return r;
}

static inline toto_result toto_go_session_set_i64(uintptr_t s, const char *key, size_t key_len,
                                                  int64_t v) {
	return toto_session_set_i64(TOTO_GO_SESSION(s), key, key_len, v);
}

static inline toto_result toto_go_session_set_f64(uintptr_t s, const char *key, size_t key_len,
                                                  double v) {
	return toto_session_set_f64(TOTO_GO_SESSION(s), key, key_len, v);
}

static inline toto_result toto_go_session_set_bool(uintptr_t s, const char *key, size_t key_len,
                                                   bool v) {
	return toto_session_set_bool(TOTO_GO_SESSION(s), key, key_len, v);
}

static inline toto_result toto_go_session_set_text(uintptr_t s, const char *key, size_t key_len,
                                                   const char *v, size_t v_len) {
	return toto_session_set_text(TOTO_GO_SESSION(s), key, key_len, v, v_len);
}

static inline toto_result toto_go_session_set_bytes(uintptr_t s, const char *key, size_t key_len,
                                                    const uint8_t *v, size_t v_len) {
	return toto_session_set_bytes(TOTO_GO_SESSION(s), key, key_len, v, v_len);
}

static inline toto_result toto_go_session_delete(uintptr_t s, const char *key, size_t key_len) {
	return toto_session_delete(TOTO_GO_SESSION(s), key, key_len);
}

// A value's JSON text in one cgo call: written by the library straight into the
// caller's buffer `dst` (Go memory, `cap` bytes) when it fits
// (toto_session_get_json_into: no allocation); a longer text is handed over in a
// library buffer, `data` (the caller frees it with toto_go_bytes_free); a failure's
// details in `err` (malloc'ed: the caller frees it).
typedef struct { toto_result rc; size_t len; uint8_t *data; toto_error *err; } toto_go_json_result;

static inline toto_go_json_result toto_go_session_get_json(uintptr_t s, const char *key,
                                                           size_t key_len, uint8_t *dst,
                                                           size_t cap) {
	toto_go_json_result r = {0, 0, NULL, NULL};
	toto_error e;
	r.rc = toto_session_get_json_into(TOTO_GO_SESSION(s), key, key_len, dst, cap, &r.len, &e);
	if (r.rc == TOTO_RESULT_TOO_LARGE && r.len > cap) {
		// Longer than the buffer: in a library buffer instead.
		toto_bytes out = {NULL, 0};
		r.rc = toto_session_get_json(TOTO_GO_SESSION(s), key, key_len, &out, &e);
		r.len = out.len;
		r.data = out.data;
	}
	if (r.rc != TOTO_RESULT_OK) r.err = toto_go_error_copy(&e);
	return r;
}

static inline void toto_go_bytes_free(uint8_t *data, size_t len) {
	toto_bytes b = {data, len};
	toto_bytes_free(&b);
}
*/
import "C"

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sync"
	"unsafe"
)

// The state methods below are the hot path of a request handler. Each takes the
// session mutex around exactly one C call (two for integers beyond int64 and for
// arrays and maps read into *any) and unlocks it explicitly, not with defer: nothing
// between Lock and Unlock can panic (cgo calls, copies out of library memory), and
// encoding/json (which can run user code) works outside the lock.
//
// "Allocates nothing" below means on success, for a key that is already on the heap
// or constant (the key's bytes go to C without a copy, so a key built on the stack is
// moved to the heap, see cstr); an error allocates its *Error.

// acquire locks the session and returns its handle, or nil (lock released) when the
// session is closed.
func (s *Session) acquire() *C.toto_session {
	s.mu.Lock()
	p := s.ptr
	if p == nil {
		s.mu.Unlock()
	}
	return p
}

// handle is how the session pointer crosses to the toto_go_session_* shims.
func handle(p *C.toto_session) C.uintptr_t { return C.uintptr_t(uintptr(unsafe.Pointer(p))) }

// rcErr is check(rc, nil) for calls that give no details, cheap enough to inline.
func rcErr(rc C.toto_result) error {
	if rc == C.TOTO_RESULT_OK {
		return nil
	}
	return &Error{Code: Code(rc)}
}

func errMismatch() error { return &Error{Code: CodeTypeMismatch} }

// GetInt64 reads an integer (ErrTypeMismatch for another type or an integer beyond
// int64; ErrNotFound when key is missing). It allocates nothing.
func (s *Session) GetInt64(key string) (int64, error) {
	p := s.acquire()
	if p == nil {
		return 0, ErrClosed
	}
	r := C.toto_go_session_get_i64(handle(p), cstr(key), C.size_t(len(key)))
	s.mu.Unlock()
	if r.rc != C.TOTO_RESULT_OK {
		return 0, rcErr(r.rc)
	}
	return int64(r.v), nil
}

// SetInt64 stores an integer. It allocates nothing.
func (s *Session) SetInt64(key string, v int64) error {
	p := s.acquire()
	if p == nil {
		return ErrClosed
	}
	rc := C.toto_go_session_set_i64(handle(p), cstr(key), C.size_t(len(key)), C.int64_t(v))
	s.mu.Unlock()
	return rcErr(rc)
}

// GetFloat64 reads a float; an integer is converted, as Get does for a float
// destination (ErrTypeMismatch for another type or an integer beyond int64). It
// allocates nothing.
func (s *Session) GetFloat64(key string) (float64, error) {
	p := s.acquire()
	if p == nil {
		return 0, ErrClosed
	}
	r := C.toto_go_session_get_num(handle(p), cstr(key), C.size_t(len(key)))
	s.mu.Unlock()
	if r.rc != C.TOTO_RESULT_OK {
		return 0, rcErr(r.rc)
	}
	return scalar{uint32(r.kind), int64(r.i), float64(r.f)}.float()
}

// SetFloat64 stores a float. It allocates nothing.
func (s *Session) SetFloat64(key string, v float64) error {
	p := s.acquire()
	if p == nil {
		return ErrClosed
	}
	rc := C.toto_go_session_set_f64(handle(p), cstr(key), C.size_t(len(key)), C.double(v))
	s.mu.Unlock()
	return rcErr(rc)
}

// GetBool reads a bool (ErrTypeMismatch for another type). It allocates nothing.
func (s *Session) GetBool(key string) (bool, error) {
	p := s.acquire()
	if p == nil {
		return false, ErrClosed
	}
	r := C.toto_go_session_get_bool(handle(p), cstr(key), C.size_t(len(key)))
	s.mu.Unlock()
	if r.rc != C.TOTO_RESULT_OK {
		return false, rcErr(r.rc)
	}
	return bool(r.v), nil
}

// SetBool stores a bool. It allocates nothing.
func (s *Session) SetBool(key string, v bool) error {
	p := s.acquire()
	if p == nil {
		return ErrClosed
	}
	rc := C.toto_go_session_set_bool(handle(p), cstr(key), C.size_t(len(key)), C.bool(v))
	s.mu.Unlock()
	return rcErr(rc)
}

// GetString reads a text value (ErrTypeMismatch for another type, bytes included).
// The only allocation is the returned string (none for "").
func (s *Session) GetString(key string) (string, error) {
	p := s.acquire()
	if p == nil {
		return "", ErrClosed
	}
	r := C.toto_go_session_get_text(handle(p), cstr(key), C.size_t(len(key)))
	var v string
	if r.rc == C.TOTO_RESULT_OK {
		v = goStringN(r.ptr, r.len) // the view lives until the state changes: copy it under the lock
	}
	s.mu.Unlock()
	if r.rc != C.TOTO_RESULT_OK {
		return "", rcErr(r.rc)
	}
	return v, nil
}

// SetString stores text (ErrInvalidUTF8 when v is not UTF-8: use Set with a []byte
// for binary data; ErrTooLarge over 1 MiB). It allocates nothing.
func (s *Session) SetString(key, v string) error {
	p := s.acquire()
	if p == nil {
		return ErrClosed
	}
	rc := C.toto_go_session_set_text(handle(p), cstr(key), C.size_t(len(key)), cstr(v), C.size_t(len(v)))
	s.mu.Unlock()
	return rcErr(rc)
}

// SetBytes stores bytes (ErrTooLarge over 1 MiB; nil stores empty bytes). It
// allocates nothing (Set with a []byte boxes the slice header at the call site).
func (s *Session) SetBytes(key string, v []byte) error {
	p := s.acquire()
	if p == nil {
		return ErrClosed
	}
	rc := C.toto_go_session_set_bytes(handle(p), cstr(key), C.size_t(len(key)), cbytes(v), C.size_t(len(v)))
	s.mu.Unlock()
	return rcErr(rc)
}

// Set stores v under key in the session state: nil -> null, bool, any integer, float32
// and float64, string -> text, []byte -> bytes, json.RawMessage as JSON text, anything
// else (structs, maps, slices...) through encoding/json. A stored false, 0 or "" reads
// back as itself. The session becomes dirty; Manager.SaveSession writes it.
//
// int, int64, string, bool and float64 take the same path as SetInt64, SetString,
// SetBool and SetFloat64 (the typed methods also spare the caller boxing v into an
// interface, which allocates for most values).
func (s *Session) Set(key string, v any) error {
	switch x := v.(type) {
	case int:
		return s.SetInt64(key, int64(x))
	case int64:
		return s.SetInt64(key, x)
	case string:
		return s.SetString(key, x)
	case bool:
		return s.SetBool(key, x)
	case float64:
		return s.SetFloat64(key, x)
	case []byte:
		return s.SetBytes(key, x)
	case nil, int8, int16, int32, uint, uint8, uint16, uint32, uint64, float32, json.RawMessage:
		p := s.acquire()
		if p == nil {
			return ErrClosed
		}
		err := valueIO{s: p}.set(key, x)
		s.mu.Unlock()
		return err
	}
	// Anything else goes through encoding/json, outside the lock (a MarshalJSON method
	// may panic or use the session); a closed session still reports ErrClosed first.
	if p := s.acquire(); p == nil {
		return ErrClosed
	}
	s.mu.Unlock()
	data, err := json.Marshal(v)
	if err != nil {
		return &Error{Code: CodeInvalidJSON, Message: err.Error()}
	}
	return s.SetJSON(key, data)
}

// Get reads the value under key into dst, a non-nil pointer. *bool, integer, float,
// *string and *[]byte destinations read the value's scalar form (ErrTypeMismatch for
// a value of another type, or an integer that does not fit the destination; a float
// destination also accepts an integer); *any receives nil, bool, int64 (uint64 above
// MaxInt64), float64, string, []byte, or what encoding/json makes of an array or map;
// any other destination is decoded from the value's JSON form with encoding/json
// (bytes appear there as base64 text). ErrNotFound when the key is missing. dst is
// left unchanged on error.
//
// A scalar read is one call into the library (toto_session_get_scalar) and allocates
// nothing beyond the string or slice it returns; GetInt64, GetString, GetBool and
// GetFloat64 do the same without the interface.
func (s *Session) Get(key string, dst any) error {
	// The usual destinations convert right here (one type switch, nothing copied out
	// of the session); the others go through getWith.
	switch d := dst.(type) {
	case *int:
		v, err := s.scalar(key)
		if err != nil {
			return err
		}
		n, err := v.int(key, strconvIntSize)
		return store(d, int(n), err)
	case *int64:
		v, err := s.scalar(key)
		if err != nil {
			return err
		}
		n, err := v.int(key, 64)
		return store(d, n, err)
	case *float64:
		v, err := s.scalar(key)
		if err != nil {
			return err
		}
		f, err := v.float()
		return store(d, f, err)
	case *bool:
		v, err := s.scalar(key)
		if err != nil {
			return err
		}
		b, err := v.bool()
		return store(d, b, err)
	case *string:
		str, err := s.GetString(key)
		if err == nil {
			*d = str
		}
		return err
	case *[]byte:
		b, err := s.GetBytes(key)
		if err == nil {
			*d = b
		}
		return err
	case *int8, *int16, *int32, *uint8, *uint16, *uint32, *float32:
		v, err := s.scalar(key)
		if err != nil {
			return err
		}
		return v.store(key, dst, nil)
	case *uint:
		if strconvIntSize == 64 {
			return s.getWith(key, dst, wantBigInt)
		}
		v, err := s.scalar(key)
		if err != nil {
			return err
		}
		return v.store(key, dst, nil)
	case *uint64:
		return s.getWith(key, dst, wantBigInt)
	case *any:
		return s.getWith(key, dst, wantAny)
	}
	return s.getDecoded(key, dst)
}

// GetBytes reads a bytes value (ErrTypeMismatch for another type, text included) with
// one toto_session_get_bytes call; the only allocation is the returned slice, a copy.
func (s *Session) GetBytes(key string) ([]byte, error) {
	p := s.acquire()
	if p == nil {
		return nil, ErrClosed
	}
	r := C.toto_go_session_get_bytes(handle(p), cstr(key), C.size_t(len(key)))
	var b []byte
	if r.rc == C.TOTO_RESULT_OK {
		b = goBytesN(unsafe.Pointer(r.ptr), r.len) // copied under the lock, like GetString
	}
	s.mu.Unlock()
	if r.rc != C.TOTO_RESULT_OK {
		return nil, rcErr(r.rc)
	}
	return b, nil
}

// scalar reads key's value with toto_session_get_scalar (the fixed-size part only).
func (s *Session) scalar(key string) (scalar, error) {
	p := s.acquire()
	if p == nil {
		return scalar{}, ErrClosed
	}
	r := C.toto_go_session_get_num(handle(p), cstr(key), C.size_t(len(key)))
	s.mu.Unlock()
	if r.rc != C.TOTO_RESULT_OK {
		return scalar{}, rcErr(r.rc)
	}
	return scalar{uint32(r.kind), int64(r.i), float64(r.f)}, nil
}

// getWith reads key's value with toto_session_get_scalar, copies what want asks for
// out of the session, and converts it for dst.
func (s *Session) getWith(key string, dst any, want scalarWant) error {
	p := s.acquire()
	if p == nil {
		return ErrClosed
	}
	r := C.toto_go_session_get_scalar(handle(p), cstr(key), C.size_t(len(key)))
	if r.rc != C.TOTO_RESULT_OK {
		s.mu.Unlock()
		return rcErr(r.rc)
	}
	x, err := readExtra(p, key, &r.v, want)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return scalarOf(&r.v).store(key, dst, &x)
}

// getDecoded decodes the value's JSON form into dst (a non-nil pointer).
func (s *Session) getDecoded(key string, dst any) error {
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		if s.acquire() == nil {
			return ErrClosed
		}
		s.mu.Unlock()
		return &Error{Code: CodeInvalidArgument, Message: fmt.Sprintf("Get needs a non-nil pointer, got %T", dst)}
	}
	data, err := s.GetJSON(key)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, dst); err != nil {
		return &Error{Code: CodeTypeMismatch, Message: fmt.Sprintf("value of %q: %v", key, err)}
	}
	return nil
}

// scalarWant says what getWith copies out of the session besides the scalar fields.
type scalarWant uint8

const (
	wantBigInt scalarWant = iota // the JSON text of an integer beyond int64
	wantAny                      // text, bytes, JSON of big integers, arrays and maps
)

// scalar is the fixed-size part of a toto_scalar (toto_go_num_result without rc). At
// most four fields, so that the compiler keeps it in registers.
type scalar struct {
	kind uint32 // the ValueType, | C.TOTO_GO_TRUE, | C.TOTO_GO_FITS
	i    int64  // the integer when fits()
	f    float64
}

func (v scalar) t() ValueType { return ValueType(v.kind & 0xff) }
func (v scalar) b() bool      { return v.kind&C.TOTO_GO_TRUE != 0 }
func (v scalar) fits() bool   { return v.kind&C.TOTO_GO_FITS != 0 }

func scalarOf(r *C.toto_scalar) scalar {
	v := scalar{kind: uint32(r.value_type), i: int64(r.integer), f: float64(r.number)}
	if r.boolean {
		v.kind |= C.TOTO_GO_TRUE
	}
	if r.integer_fits {
		v.kind |= C.TOTO_GO_FITS
	}
	return v
}

// scalarExtra is what Get copies out of the session besides a scalar (see scalarWant),
// so that it can convert without holding the lock.
type scalarExtra struct {
	text  string
	bytes []byte
	json  []byte // arrays, maps and integers beyond int64
}

// readExtra copies what want asks for out of the view r of key's value (and reads the
// value's JSON when it has no scalar form). The caller holds the lock.
func readExtra(p *C.toto_session, k string, r *C.toto_scalar, want scalarWant) (scalarExtra, error) {
	var x scalarExtra
	var err error
	switch ValueType(r.value_type) {
	case TypeNull, TypeBool, TypeFloat:
	case TypeInteger:
		if !bool(r.integer_fits) { // both wants need it
			x.json, err = valueIO{s: p}.getJSON(k)
		}
	case TypeText:
		if want == wantAny {
			x.text = goStringN((*C.char)(unsafe.Pointer(r.data)), r.len)
		}
	case TypeBytes:
		if want == wantAny {
			x.bytes = goBytesN(unsafe.Pointer(r.data), r.len)
		}
	default: // arrays, maps
		if want == wantAny {
			x.json, err = valueIO{s: p}.getJSON(k)
		}
	}
	return x, err
}

// store converts v for dst (one of the destinations Get reads with
// toto_session_get_scalar) with the rules of valueIO.get. x holds what readExtra
// copied, or is nil where Get reads only the scalar part (no *uint64, *any).
func (v scalar) store(k string, dst any, x *scalarExtra) error {
	switch d := dst.(type) {
	case *bool:
		b, err := v.bool()
		return store(d, b, err)
	case *int:
		n, err := v.int(k, strconvIntSize)
		return store(d, int(n), err)
	case *int8:
		n, err := v.int(k, 8)
		return store(d, int8(n), err)
	case *int16:
		n, err := v.int(k, 16)
		return store(d, int16(n), err)
	case *int32:
		n, err := v.int(k, 32)
		return store(d, int32(n), err)
	case *int64:
		n, err := v.int(k, 64)
		return store(d, n, err)
	case *uint:
		n, err := v.uint(k, strconvIntSize, x)
		return store(d, uint(n), err)
	case *uint8:
		n, err := v.uint(k, 8, x)
		return store(d, uint8(n), err)
	case *uint16:
		n, err := v.uint(k, 16, x)
		return store(d, uint16(n), err)
	case *uint32:
		n, err := v.uint(k, 32, x)
		return store(d, uint32(n), err)
	case *uint64:
		n, err := v.uint(k, 64, x)
		return store(d, n, err)
	case *float32:
		f, err := v.float()
		return store(d, float32(f), err)
	case *float64:
		f, err := v.float()
		return store(d, f, err)
	case *any:
		a, err := v.any(k, x)
		return store(d, a, err)
	}
	return &Error{Code: CodeInvalidArgument, Message: fmt.Sprintf("unexpected destination %T", dst)}
}

// bool is the value as a bool.
func (v scalar) bool() (bool, error) {
	if v.t() != TypeBool {
		return false, errMismatch()
	}
	return v.b(), nil
}

// int is the value as a signed integer of the given size (valueIO.getInt).
func (v scalar) int(k string, bits int) (int64, error) {
	if v.t() != TypeInteger || !v.fits() {
		return 0, errMismatch()
	}
	n := v.i
	if bits < 64 && (n < -1<<(bits-1) || n > 1<<(bits-1)-1) {
		return 0, rangeErr(k, n, fmt.Sprintf("int%d", bits))
	}
	return n, nil
}

// uint is the value as an unsigned integer of the given size (valueIO.getUint);
// integers beyond int64 come from their JSON text in x (wantBigInt).
func (v scalar) uint(k string, bits int, x *scalarExtra) (uint64, error) {
	if v.t() != TypeInteger {
		return 0, errMismatch()
	}
	if !v.fits() {
		if bits < 64 || x == nil || x.json == nil {
			return 0, errMismatch()
		}
		var u uint64
		if json.Unmarshal(x.json, &u) == nil {
			return u, nil
		}
		return 0, rangeErr(k, string(x.json), "uint64")
	}
	n := v.i
	if n < 0 || (bits < 64 && uint64(n) > 1<<bits-1) {
		return 0, rangeErr(k, n, fmt.Sprintf("uint%d", bits))
	}
	return uint64(n), nil
}

// float is the value as a float; an integer that fits int64 converts (valueIO.getFloat).
func (v scalar) float() (float64, error) {
	switch {
	case v.t() == TypeFloat:
		return v.f, nil
	case v.t() == TypeInteger && v.fits():
		return float64(v.i), nil
	}
	return 0, errMismatch()
}

// any is the natural Go value (valueIO.getAny); x is from readExtra with wantAny.
func (v scalar) any(k string, x *scalarExtra) (any, error) {
	switch v.t() {
	case TypeNull:
		return nil, nil
	case TypeBool:
		return v.b(), nil
	case TypeInteger:
		if v.fits() {
			return v.i, nil
		}
		return v.uint(k, 64, x)
	case TypeFloat:
		return v.f, nil
	case TypeText:
		return x.text, nil
	case TypeBytes:
		return x.bytes, nil
	}
	var out any
	if err := json.Unmarshal(x.json, &out); err != nil {
		return nil, &Error{Code: CodeInvalidJSON, Message: err.Error()}
	}
	return out, nil
}

// Has tells whether key is present (a stored nil counts).
func (s *Session) Has(key string) bool {
	p := s.acquire()
	if p == nil {
		return false
	}
	r := C.toto_go_session_contains(handle(p), cstr(key), C.size_t(len(key)))
	s.mu.Unlock()
	return r.rc == C.TOTO_RESULT_OK && bool(r.v)
}

// Delete removes key; a missing key is not an error (as in Toto).
func (s *Session) Delete(key string) error {
	p := s.acquire()
	if p == nil {
		return ErrClosed
	}
	rc := C.toto_go_session_delete(handle(p), cstr(key), C.size_t(len(key)))
	s.mu.Unlock()
	return rcErr(rc)
}

// Type is the type of the value under key.
func (s *Session) Type(key string) (ValueType, error) {
	p := s.acquire()
	if p == nil {
		return 0, ErrClosed
	}
	r := C.toto_go_session_get_num(handle(p), cstr(key), C.size_t(len(key)))
	s.mu.Unlock()
	if r.rc != C.TOTO_RESULT_OK {
		return 0, rcErr(r.rc)
	}
	return scalar{kind: uint32(r.kind)}.t(), nil
}

// GetCBOR reads any value as one CBOR item.
func (s *Session) GetCBOR(key string) ([]byte, error) {
	p, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer s.unlock()
	return valueIO{s: p}.getCBOR(key)
}

// SetCBOR stores any value given as one CBOR item.
func (s *Session) SetCBOR(key string, cbor []byte) error {
	p, err := s.lock()
	if err != nil {
		return err
	}
	defer s.unlock()
	return valueIO{s: p}.setCBOR(key, cbor)
}

// GetJSON reads any value as compact JSON text (bytes as base64 text).
func (s *Session) GetJSON(key string) ([]byte, error) {
	p, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer s.unlock()
	return valueIO{s: p}.getJSON(key)
}

// SetJSON stores any value given as JSON text (objects become maps).
func (s *Session) SetJSON(key string, json []byte) error {
	p, err := s.lock()
	if err != nil {
		return err
	}
	defer s.unlock()
	return valueIO{s: p}.setJSON(key, json)
}

// jsonScratchSize is the Go buffer a session value's JSON text is copied into by the
// library call that reads it (toto_go_session_get_json); a longer text takes a second
// cgo call to free the library's copy.
const jsonScratchSize = 1024

var jsonScratch = sync.Pool{New: func() any { return new([jsonScratchSize]byte) }}

// sessionJSON is toto_session_get_json in one cgo call: the text, in a new slice.
func sessionJSON(p *C.toto_session, k string) ([]byte, error) {
	buf := jsonScratch.Get().(*[jsonScratchSize]byte)
	defer jsonScratch.Put(buf)
	r := C.toto_go_session_get_json(handle(p), cstr(k), clen(k), (*C.uint8_t)(unsafe.Pointer(&buf[0])),
		jsonScratchSize)
	switch {
	case r.rc != C.TOTO_RESULT_OK:
		err := check(r.rc, r.err)
		C.free(unsafe.Pointer(r.err))
		return nil, err
	case r.data != nil:
		out := goBytesN(unsafe.Pointer(r.data), r.len)
		C.toto_go_bytes_free(r.data, r.len)
		return out, nil
	default:
		return append(make([]byte, 0, int(r.len)), buf[:r.len]...), nil
	}
}
