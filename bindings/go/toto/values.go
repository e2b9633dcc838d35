package toto

/*
#include "toto_session.h"
*/
import "C"

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"unsafe"
)

// ValueType is the type of a stored value (toto_value_type).
type ValueType uint32

// Value types.
const (
	TypeNull    ValueType = 0
	TypeBool    ValueType = 1
	TypeInteger ValueType = 2
	TypeFloat   ValueType = 3
	TypeText    ValueType = 4
	TypeBytes   ValueType = 5
	TypeArray   ValueType = 6
	TypeMap     ValueType = 7
)

func (t ValueType) String() string {
	switch t {
	case TypeNull:
		return "null"
	case TypeBool:
		return "bool"
	case TypeInteger:
		return "integer"
	case TypeFloat:
		return "float"
	case TypeText:
		return "text"
	case TypeBytes:
		return "bytes"
	case TypeArray:
		return "array"
	case TypeMap:
		return "map"
	}
	return fmt.Sprintf("ValueType(%d)", uint32(t))
}

// valueIO reads and writes the values of a session's state or an account's
// properties (exactly one of s and a is set). The caller holds the handle's lock.
type valueIO struct {
	s *C.toto_session
	a *C.toto_account
}

func (v valueIO) setNull(k string) error {
	if v.s != nil {
		return check(C.toto_session_set_null(v.s, cstr(k), clen(k)), nil)
	}
	return check(C.toto_account_set_null(v.a, cstr(k), clen(k)), nil)
}

func (v valueIO) setBool(k string, x bool) error {
	if v.s != nil {
		return check(C.toto_session_set_bool(v.s, cstr(k), clen(k), C.bool(x)), nil)
	}
	return check(C.toto_account_set_bool(v.a, cstr(k), clen(k), C.bool(x)), nil)
}

func (v valueIO) setI64(k string, x int64) error {
	if v.s != nil {
		return check(C.toto_session_set_i64(v.s, cstr(k), clen(k), C.int64_t(x)), nil)
	}
	return check(C.toto_account_set_i64(v.a, cstr(k), clen(k), C.int64_t(x)), nil)
}

func (v valueIO) setF64(k string, x float64) error {
	if v.s != nil {
		return check(C.toto_session_set_f64(v.s, cstr(k), clen(k), C.double(x)), nil)
	}
	return check(C.toto_account_set_f64(v.a, cstr(k), clen(k), C.double(x)), nil)
}

func (v valueIO) setText(k, x string) error {
	if v.s != nil {
		return check(C.toto_session_set_text(v.s, cstr(k), clen(k), cstr(x), clen(x)), nil)
	}
	return check(C.toto_account_set_text(v.a, cstr(k), clen(k), cstr(x), clen(x)), nil)
}

func (v valueIO) setBytes(k string, x []byte) error {
	if v.s != nil {
		return check(C.toto_session_set_bytes(v.s, cstr(k), clen(k), cbytes(x), clen(x)), nil)
	}
	return check(C.toto_account_set_bytes(v.a, cstr(k), clen(k), cbytes(x), clen(x)), nil)
}

func (v valueIO) setCBOR(k string, x []byte) error {
	var e C.toto_error
	if v.s != nil {
		return check(C.toto_session_set_cbor(v.s, cstr(k), clen(k), cbytes(x), clen(x), &e), &e)
	}
	return check(C.toto_account_set_cbor(v.a, cstr(k), clen(k), cbytes(x), clen(x), &e), &e)
}

func (v valueIO) setJSON(k string, x []byte) error {
	var e C.toto_error
	if v.s != nil {
		return check(C.toto_session_set_json(v.s, cstr(k), clen(k), cbytesChar(x), clen(x), &e), &e)
	}
	return check(C.toto_account_set_json(v.a, cstr(k), clen(k), cbytesChar(x), clen(x), &e), &e)
}

func (v valueIO) getType(k string) (ValueType, error) {
	var out C.toto_value_type
	var rc C.toto_result
	var e *C.toto_error // details only where the C call takes them
	if v.s != nil {
		rc = C.toto_session_get_type(v.s, cstr(k), clen(k), &out)
	} else {
		e = new(C.toto_error)
		rc = C.toto_account_get_type(v.a, cstr(k), clen(k), &out, e)
	}
	return ValueType(out), check(rc, e)
}

func (v valueIO) getBool(k string) (bool, error) {
	var out C.bool
	var rc C.toto_result
	var e *C.toto_error // details only where the C call takes them
	if v.s != nil {
		rc = C.toto_session_get_bool(v.s, cstr(k), clen(k), &out)
	} else {
		e = new(C.toto_error)
		rc = C.toto_account_get_bool(v.a, cstr(k), clen(k), &out, e)
	}
	return bool(out), check(rc, e)
}

func (v valueIO) getI64(k string) (int64, error) {
	var out C.int64_t
	var rc C.toto_result
	var e *C.toto_error // details only where the C call takes them
	if v.s != nil {
		rc = C.toto_session_get_i64(v.s, cstr(k), clen(k), &out)
	} else {
		e = new(C.toto_error)
		rc = C.toto_account_get_i64(v.a, cstr(k), clen(k), &out, e)
	}
	return int64(out), check(rc, e)
}

func (v valueIO) getF64(k string) (float64, error) {
	var out C.double
	var rc C.toto_result
	var e *C.toto_error // details only where the C call takes them
	if v.s != nil {
		rc = C.toto_session_get_f64(v.s, cstr(k), clen(k), &out)
	} else {
		e = new(C.toto_error)
		rc = C.toto_account_get_f64(v.a, cstr(k), clen(k), &out, e)
	}
	return float64(out), check(rc, e)
}

func (v valueIO) getText(k string) (string, error) {
	var ptr *C.char
	var n C.size_t
	var rc C.toto_result
	var e *C.toto_error // details only where the C call takes them
	if v.s != nil {
		rc = C.toto_session_get_text(v.s, cstr(k), clen(k), &ptr, &n)
	} else {
		e = new(C.toto_error)
		rc = C.toto_account_get_text(v.a, cstr(k), clen(k), &ptr, &n, e)
	}
	if err := check(rc, e); err != nil {
		return "", err
	}
	return goStringN(ptr, n), nil
}

func (v valueIO) getBytes(k string) ([]byte, error) {
	var ptr *C.uint8_t
	var n C.size_t
	var rc C.toto_result
	var e *C.toto_error // details only where the C call takes them
	if v.s != nil {
		rc = C.toto_session_get_bytes(v.s, cstr(k), clen(k), &ptr, &n)
	} else {
		e = new(C.toto_error)
		rc = C.toto_account_get_bytes(v.a, cstr(k), clen(k), &ptr, &n, e)
	}
	if err := check(rc, e); err != nil {
		return nil, err
	}
	return goBytesN(unsafe.Pointer(ptr), n), nil
}

func (v valueIO) getCBOR(k string) ([]byte, error) {
	var out C.toto_bytes
	var rc C.toto_result
	e := new(C.toto_error)
	if v.s != nil {
		rc = C.toto_session_get_cbor(v.s, cstr(k), clen(k), &out, e)
	} else {
		rc = C.toto_account_get_cbor(v.a, cstr(k), clen(k), &out, e)
	}
	if err := check(rc, e); err != nil {
		return nil, err
	}
	return takeBytes(&out), nil
}

func (v valueIO) getJSON(k string) ([]byte, error) {
	if v.s != nil {
		return sessionJSON(v.s, k)
	}
	var out C.toto_bytes
	e := new(C.toto_error)
	rc := C.toto_account_get_json(v.a, cstr(k), clen(k), &out, e)
	if err := check(rc, e); err != nil {
		return nil, err
	}
	return takeBytes(&out), nil
}

// set stores a Go value: nil -> null, bool, integers, floats, string -> text, []byte ->
// bytes, json.RawMessage as JSON text; anything else through encoding/json.
func (v valueIO) set(k string, x any) error {
	switch x := x.(type) {
	case nil:
		return v.setNull(k)
	case bool:
		return v.setBool(k, x)
	case int:
		return v.setI64(k, int64(x))
	case int8:
		return v.setI64(k, int64(x))
	case int16:
		return v.setI64(k, int64(x))
	case int32:
		return v.setI64(k, int64(x))
	case int64:
		return v.setI64(k, x)
	case uint:
		return v.setUint(k, uint64(x))
	case uint8:
		return v.setI64(k, int64(x))
	case uint16:
		return v.setI64(k, int64(x))
	case uint32:
		return v.setI64(k, int64(x))
	case uint64:
		return v.setUint(k, x)
	case float32:
		return v.setF64(k, float64(x))
	case float64:
		return v.setF64(k, x)
	case string:
		return v.setText(k, x)
	case []byte:
		return v.setBytes(k, x)
	case json.RawMessage:
		return v.setJSON(k, x)
	}
	data, err := json.Marshal(x)
	if err != nil {
		return &Error{Code: CodeInvalidJSON, Message: err.Error()}
	}
	return v.setJSON(k, data)
}

// setUint stores an unsigned integer; above MaxInt64 as its JSON number, which the
// library's JSON bridge reads as an integer exactly (up to 2^64-1).
func (v valueIO) setUint(k string, x uint64) error {
	if x <= math.MaxInt64 {
		return v.setI64(k, int64(x))
	}
	return v.setJSON(k, strconv.AppendUint(nil, x, 10))
}

func rangeErr(k string, n any, t string) error {
	return &Error{Code: CodeTypeMismatch, Message: fmt.Sprintf("value of %q (%v) does not fit in %s", k, n, t)}
}

func (v valueIO) getInt(k string, bits int) (int64, error) {
	n, err := v.getI64(k)
	if err != nil {
		return 0, err
	}
	if bits < 64 && (n < -1<<(bits-1) || n > 1<<(bits-1)-1) {
		return 0, rangeErr(k, n, fmt.Sprintf("int%d", bits))
	}
	return n, nil
}

func (v valueIO) getUint(k string, bits int) (uint64, error) {
	n, err := v.getI64(k)
	if errors.Is(err, ErrTypeMismatch) && bits == 64 {
		// Integers above MaxInt64 do not fit the typed getter: read them as JSON.
		if t, terr := v.getType(k); terr == nil && t == TypeInteger {
			data, jerr := v.getJSON(k)
			if jerr != nil {
				return 0, jerr
			}
			var u uint64
			if json.Unmarshal(data, &u) == nil {
				return u, nil
			}
			return 0, rangeErr(k, string(data), "uint64")
		}
	}
	if err != nil {
		return 0, err
	}
	if n < 0 || (bits < 64 && uint64(n) > 1<<bits-1) {
		return 0, rangeErr(k, n, fmt.Sprintf("uint%d", bits))
	}
	return uint64(n), nil
}

// getFloat reads a float; an integer value is converted (the C getter refuses it).
func (v valueIO) getFloat(k string) (float64, error) {
	f, err := v.getF64(k)
	if errors.Is(err, ErrTypeMismatch) {
		if n, ierr := v.getI64(k); ierr == nil {
			return float64(n), nil
		}
	}
	return f, err
}

// get reads the value under k into dst, a non-nil pointer (left unchanged on error). Scalars use the typed
// getters; *any gets nil, bool, int64, float64, string, []byte, or for arrays and
// maps what encoding/json makes of them; anything else is decoded from the value's
// JSON form with encoding/json.
func (v valueIO) get(k string, dst any) error {
	switch d := dst.(type) {
	case *bool:
		x, err := v.getBool(k)
		return store(d, x, err)
	case *int:
		n, err := v.getInt(k, strconvIntSize)
		return store(d, int(n), err)
	case *int8:
		n, err := v.getInt(k, 8)
		return store(d, int8(n), err)
	case *int16:
		n, err := v.getInt(k, 16)
		return store(d, int16(n), err)
	case *int32:
		n, err := v.getInt(k, 32)
		return store(d, int32(n), err)
	case *int64:
		x, err := v.getI64(k)
		return store(d, x, err)
	case *uint:
		n, err := v.getUint(k, strconvIntSize)
		return store(d, uint(n), err)
	case *uint8:
		n, err := v.getUint(k, 8)
		return store(d, uint8(n), err)
	case *uint16:
		n, err := v.getUint(k, 16)
		return store(d, uint16(n), err)
	case *uint32:
		n, err := v.getUint(k, 32)
		return store(d, uint32(n), err)
	case *uint64:
		x, err := v.getUint(k, 64)
		return store(d, x, err)
	case *float32:
		f, err := v.getFloat(k)
		return store(d, float32(f), err)
	case *float64:
		x, err := v.getFloat(k)
		return store(d, x, err)
	case *string:
		x, err := v.getText(k)
		return store(d, x, err)
	case *[]byte:
		x, err := v.getBytes(k)
		return store(d, x, err)
	case *any:
		x, err := v.getAny(k)
		return store(d, x, err)
	}
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return &Error{Code: CodeInvalidArgument, Message: fmt.Sprintf("Get needs a non-nil pointer, got %T", dst)}
	}
	data, err := v.getJSON(k)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, dst); err != nil {
		return &Error{Code: CodeTypeMismatch, Message: fmt.Sprintf("value of %q: %v", k, err)}
	}
	return nil
}

// store writes x to dst only when err is nil (a failed Get leaves dst as it was).
func store[T any](dst *T, x T, err error) error {
	if err == nil {
		*dst = x
	}
	return err
}

func (v valueIO) getAny(k string) (any, error) {
	t, err := v.getType(k)
	if err != nil {
		return nil, err
	}
	switch t {
	case TypeNull:
		return nil, nil
	case TypeBool:
		return v.getBool(k)
	case TypeInteger:
		n, err := v.getI64(k)
		if errors.Is(err, ErrTypeMismatch) {
			return v.getUint(k, 64)
		}
		return n, err
	case TypeFloat:
		return v.getF64(k)
	case TypeText:
		return v.getText(k)
	case TypeBytes:
		return v.getBytes(k)
	}
	data, err := v.getJSON(k)
	if err != nil {
		return nil, err
	}
	var out any
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, &Error{Code: CodeInvalidJSON, Message: err.Error()}
	}
	return out, nil
}

const strconvIntSize = 32 << (^uint(0) >> 63)
