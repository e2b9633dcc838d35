package toto

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

func newTestSession(t testing.TB) *Session {
	t.Helper()
	s := must(NewSession("u", time.Now().Add(time.Hour)))
	t.Cleanup(func() { s.Close() })
	return s
}

// sameError: both nil, or *Error values with the same code and message.
func sameError(a, b error) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	var ea, eb *Error
	return errors.As(a, &ea) && errors.As(b, &eb) && ea.Code == eb.Code && ea.Message == eb.Message
}

func TestSessionTypedInt64(t *testing.T) {
	s := newTestSession(t)
	for _, n := range []int64{0, 1, -1, 42, 255, 256, math.MaxInt32 + 1, math.MinInt64, math.MaxInt64} {
		ok(t, s.SetInt64("n", n))
		if got := must(s.GetInt64("n")); got != n {
			t.Fatalf("GetInt64 = %d, want %d", got, n)
		}
		var viaGet int64 // the typed setter and the generic getter agree
		ok(t, s.Get("n", &viaGet))
		if viaGet != n || must(s.Type("n")) != TypeInteger {
			t.Fatalf("Get after SetInt64(%d) = %d", n, viaGet)
		}
	}
	ok(t, s.Set("g", 7)) // and the other way round
	if must(s.GetInt64("g")) != 7 {
		t.Fatal("GetInt64 after Set(int)")
	}
	ok(t, s.Set("g", uint16(9)))
	if must(s.GetInt64("g")) != 9 {
		t.Fatal("GetInt64 after Set(uint16)")
	}

	ok(t, s.SetFloat64("f", 1))
	ok(t, s.SetString("s", "1"))
	ok(t, s.Set("big", uint64(math.MaxUint64)))
	ok(t, s.Set("null", nil))
	for _, k := range []string{"f", "s", "big", "null"} {
		n, err := s.GetInt64(k)
		wantErr(t, err, ErrTypeMismatch)
		if n != 0 || CodeOf(err) != CodeTypeMismatch {
			t.Fatalf("GetInt64(%q) = %d, %v", k, n, err)
		}
	}
	n, err := s.GetInt64("missing")
	wantErr(t, err, ErrNotFound)
	if n != 0 {
		t.Fatal("GetInt64 of a missing key returns 0")
	}
}

func TestSessionTypedFloat64(t *testing.T) {
	s := newTestSession(t)
	for _, f := range []float64{0, -0.5, 2.25, math.MaxFloat64, math.SmallestNonzeroFloat64, math.Inf(1), math.Inf(-1)} {
		ok(t, s.SetFloat64("f", f))
		if got := must(s.GetFloat64("f")); got != f {
			t.Fatalf("GetFloat64 = %v, want %v", got, f)
		}
		if must(s.Type("f")) != TypeFloat {
			t.Fatal("SetFloat64 stores a float")
		}
	}
	ok(t, s.SetFloat64("nan", math.NaN()))
	if got := must(s.GetFloat64("nan")); !math.IsNaN(got) {
		t.Fatalf("NaN read back as %v", got)
	}
	ok(t, s.SetInt64("i", -42)) // integers convert, as for Get into a *float64
	if got := must(s.GetFloat64("i")); got != -42 {
		t.Fatalf("GetFloat64 of an integer = %v", got)
	}
	ok(t, s.Set("big", uint64(math.MaxUint64)))
	ok(t, s.SetBool("b", true))
	ok(t, s.SetString("s", "2.5"))
	for _, k := range []string{"big", "b", "s"} {
		f, err := s.GetFloat64(k)
		wantErr(t, err, ErrTypeMismatch)
		var viaGet float64
		if f != 0 || !sameError(err, s.Get(k, &viaGet)) {
			t.Fatalf("GetFloat64(%q) = %v, %v", k, f, err)
		}
	}
	_, err := s.GetFloat64("missing")
	wantErr(t, err, ErrNotFound)
}

func TestSessionTypedBool(t *testing.T) {
	s := newTestSession(t)
	for _, b := range []bool{false, true, false} {
		ok(t, s.SetBool("b", b))
		if got := must(s.GetBool("b")); got != b {
			t.Fatalf("GetBool = %v, want %v", got, b)
		}
		if must(s.Type("b")) != TypeBool {
			t.Fatal("SetBool stores a bool")
		}
	}
	ok(t, s.SetInt64("i", 1))
	ok(t, s.Set("null", nil))
	for _, k := range []string{"i", "null"} {
		b, err := s.GetBool(k)
		wantErr(t, err, ErrTypeMismatch)
		if b {
			t.Fatal("GetBool on error returns false")
		}
	}
	_, err := s.GetBool("missing")
	wantErr(t, err, ErrNotFound)
}

func TestSessionTypedString(t *testing.T) {
	s := newTestSession(t)
	long := strings.Repeat("x€", 10_000)
	for _, v := range []string{"", "a", "héllo", "with\x00nul", long} {
		ok(t, s.SetString("s", v))
		if got := must(s.GetString("s")); got != v {
			t.Fatalf("GetString = %q, want %q", got, v)
		}
		if must(s.Type("s")) != TypeText {
			t.Fatal("SetString stores text")
		}
	}
	// The result is a copy: it survives the value changing and the session closing.
	ok(t, s.SetString("s", "first"))
	got := must(s.GetString("s"))
	ok(t, s.SetString("s", "second"))
	ok(t, s.Delete("s"))

	ok(t, s.Set("bytes", []byte("raw")))
	ok(t, s.SetInt64("i", 1))
	for _, k := range []string{"bytes", "i"} {
		v, err := s.GetString(k)
		wantErr(t, err, ErrTypeMismatch)
		if v != "" {
			t.Fatal("GetString on error returns \"\"")
		}
	}
	_, err := s.GetString("missing")
	wantErr(t, err, ErrNotFound)

	wantErr(t, s.SetString("bad", string([]byte{0xff, 0xfe})), ErrInvalidUTF8)
	wantErr(t, s.SetString("big", strings.Repeat("x", 1<<20+1)), ErrTooLarge)
	if s.Has("bad") || s.Has("big") {
		t.Fatal("failed SetString stored something")
	}
	s.Close()
	if got != "first" {
		t.Fatalf("GetString result changed to %q", got)
	}
}

func TestSessionTypedBytes(t *testing.T) {
	s := newTestSession(t)
	for _, v := range [][]byte{{}, {0}, []byte("raw\xff\x00"), bytes.Repeat([]byte{0xab}, 1<<20)} {
		ok(t, s.SetBytes("b", v))
		if got := must(s.GetBytes("b")); !bytes.Equal(got, v) {
			t.Fatalf("GetBytes: %d bytes back for %d", len(got), len(v))
		}
		if must(s.Type("b")) != TypeBytes {
			t.Fatal("SetBytes stores bytes")
		}
	}
	ok(t, s.SetBytes("nil", nil))
	if got := must(s.GetBytes("nil")); len(got) != 0 {
		t.Fatalf("nil bytes read back as %q", got)
	}
	// The result is a copy: it survives the value changing.
	ok(t, s.SetBytes("b", []byte("first")))
	got := must(s.GetBytes("b"))
	ok(t, s.SetBytes("b", []byte("other")))
	if string(got) != "first" {
		t.Fatalf("GetBytes result changed to %q", got)
	}
	// Set with a []byte and SetBytes store the same value; text is not bytes.
	ok(t, s.Set("g", []byte("x")))
	if got := must(s.GetBytes("g")); string(got) != "x" {
		t.Fatalf("GetBytes of Set([]byte) = %q", got)
	}
	ok(t, s.SetString("t", "text"))
	_, err := s.GetBytes("t")
	wantErr(t, err, ErrTypeMismatch)
	_, err = s.GetString("b")
	wantErr(t, err, ErrTypeMismatch)
	_, err = s.GetBytes("missing")
	wantErr(t, err, ErrNotFound)
	wantErr(t, s.SetBytes("big", make([]byte, 1<<20+1)), ErrTooLarge)
	if s.Has("big") {
		t.Fatal("failed SetBytes stored something")
	}
	ok(t, s.Close())
	_, err = s.GetBytes("b")
	wantErr(t, err, ErrClosed)
	wantErr(t, s.SetBytes("b", []byte("x")), ErrClosed)
}

// Keys are checked the same way by every getter and setter, typed or not.
func TestSessionTypedKeyErrors(t *testing.T) {
	s := newTestSession(t)
	ok(t, s.Set("k", 1))
	keys := []string{"", string([]byte{0xff}), strings.Repeat("k", 1024), strings.Repeat("k", 1025)}
	for _, k := range keys {
		var n int64
		generic := s.Get(k, &n)
		_, e1 := s.GetInt64(k)
		_, e2 := s.GetFloat64(k)
		_, e3 := s.GetBool(k)
		_, e4 := s.GetString(k)
		_, e5 := s.GetBytes(k)
		for i, e := range []error{e1, e2, e3, e4, e5} {
			if CodeOf(e) != CodeOf(generic) {
				t.Fatalf("key of %d bytes: getter %d gave %v, Get gave %v", len(k), i, e, generic)
			}
		}
		generic = s.Set(k, int64(1))
		for i, e := range []error{s.SetInt64(k, 1), s.SetFloat64(k, 1), s.SetBool(k, true), s.SetString(k, "v"),
			s.SetBytes(k, []byte("v"))} {
			if CodeOf(e) != CodeOf(generic) {
				t.Fatalf("key of %d bytes: setter %d gave %v, Set gave %v", len(k), i, e, generic)
			}
		}
	}
	wantErr(t, s.SetInt64(string([]byte{0xff}), 1), ErrInvalidUTF8)
	if _, err := s.GetInt64(string([]byte{0xff})); !errors.Is(err, ErrInvalidUTF8) {
		t.Fatalf("GetInt64 with a bad key: %v", err)
	}
}

func TestSessionTypedMarksDirty(t *testing.T) {
	s := newTestSession(t)
	for i, set := range []func() error{
		func() error { return s.SetInt64("a", 1) },
		func() error { return s.SetFloat64("a", 1) },
		func() error { return s.SetBool("a", true) },
		func() error { return s.SetString("a", "x") },
		func() error { return s.SetBytes("a", []byte("x")) },
	} {
		ok(t, s.MarkClean())
		ok(t, set())
		if !s.IsDirty() {
			t.Fatalf("setter %d left the session clean", i)
		}
		ok(t, s.MarkClean())
		_, _ = s.GetInt64("a")
		_, _ = s.GetString("a")
		if s.IsDirty() {
			t.Fatal("a getter made the session dirty")
		}
	}
}

func TestSessionTypedClosed(t *testing.T) {
	s := must(NewSession("u", time.Now().Add(time.Hour)))
	ok(t, s.SetInt64("n", 1))
	ok(t, s.Close())
	n, err := s.GetInt64("n")
	wantErr(t, err, ErrClosed)
	f, err2 := s.GetFloat64("n")
	b, err3 := s.GetBool("n")
	str, err4 := s.GetString("n")
	typ, err5 := s.Type("n")
	if n != 0 || f != 0 || b || str != "" || typ != 0 {
		t.Fatal("getters of a closed session return zero values")
	}
	var i int
	var i8 int8
	var u64 uint64
	var x any
	var sl []int
	for _, err := range []error{err2, err3, err4, err5, s.SetInt64("n", 1), s.SetFloat64("n", 1),
		s.SetBool("n", true), s.SetString("n", "v"), s.Set("n", 1), s.Set("n", "v"), s.Set("n", int8(1)),
		s.Set("n", []int{1}), s.Set("n", func() {}), s.Get("n", &i), s.Get("n", &i8), s.Get("n", &u64),
		s.Get("n", &x), s.Get("n", &sl), s.Get("n", nil), s.Get("n", i), s.Delete("n")} {
		if err != ErrClosed {
			t.Fatalf("got %v, want ErrClosed", err)
		}
	}
}

// Get and Set give exactly what valueIO's generic paths (a type query, then a typed
// getter; the Account methods still use them) give: same values, same errors.
func TestSessionGetSetMatchValueIO(t *testing.T) {
	s := newTestSession(t)
	oldGet := func(k string, dst any) error {
		p, err := s.lock()
		if err != nil {
			return err
		}
		defer s.unlock()
		return valueIO{s: p}.get(k, dst)
	}
	oldSet := func(k string, v any) error {
		p, err := s.lock()
		if err != nil {
			return err
		}
		defer s.unlock()
		return valueIO{s: p}.set(k, v)
	}
	values := map[string]any{
		"nil": nil, "false": false, "true": true, "zero": 0, "int": -42, "i8": int8(-8), "i16": int16(1600),
		"i32": int32(-32), "i64min": int64(math.MinInt64), "i64max": int64(math.MaxInt64), "u": uint(7),
		"u8": uint8(255), "u16": uint16(65535), "u32": uint32(math.MaxUint32), "u64": uint64(math.MaxInt64),
		"bigu64": uint64(math.MaxUint64), "above": uint64(math.MaxInt64) + 1, "f32": float32(1.5), "f64": 2.25,
		"inf": math.Inf(-1), "whole": 3.0, "empty": "", "text": "héllo", "num": "12", "bytes": []byte{0, 1, 0xff},
		"nobytes": []byte{}, "raw": json.RawMessage(`{"a":[1,2,{"b":null}]}`), "arr": []any{1, "x"},
		"struct": profile{Name: "n", Tags: []string{"x"}, Score: 3.5}, "map": map[string]int{"one": 1},
		"rawnum": json.RawMessage(`7`), "neg": -1, "big16": 70000, "named": namedInt(5),
	}
	for k, v := range values {
		errNew, errOld := s.Set(k, v), oldSet("old."+k, v)
		if !sameError(errNew, errOld) {
			t.Fatalf("Set(%q, %#v): %v, valueIO: %v", k, v, errNew, errOld)
		}
		if cNew, cOld := must(s.GetCBOR(k)), must(s.GetCBOR("old."+k)); !reflect.DeepEqual(cNew, cOld) {
			t.Fatalf("Set(%q, %#v) stored % x, valueIO % x", k, v, cNew, cOld)
		}
	}
	// A CBOR integer below MinInt64 (-2^64) and a raw array, which only CBOR can store.
	ok(t, s.SetCBOR("negbig", []byte{0x3b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}))
	ok(t, s.SetCBOR("nested", []byte{0x82, 0x01, 0x81, 0xf6}))

	dests := []func() any{
		func() any { return new(bool) }, func() any { return new(int) }, func() any { return new(int8) },
		func() any { return new(int16) }, func() any { return new(int32) }, func() any { return new(int64) },
		func() any { return new(uint) }, func() any { return new(uint8) }, func() any { return new(uint16) },
		func() any { return new(uint32) }, func() any { return new(uint64) }, func() any { return new(float32) },
		func() any { return new(float64) }, func() any { return new(string) }, func() any { return new([]byte) },
		func() any { return new(any) }, func() any { return new(profile) }, func() any { return new([]int) },
		func() any { return new(map[string]any) }, func() any { return new(json.RawMessage) },
		func() any { return new(namedInt) },
	}
	keys := append(s.Keys(), "missing", "", string([]byte{0xff}))
	checked := 0
	for _, k := range keys {
		if strings.HasPrefix(k, "old.") {
			continue
		}
		for _, mk := range dests {
			dNew, dOld := mk(), mk()
			errNew, errOld := s.Get(k, dNew), oldGet(k, dOld)
			if !sameError(errNew, errOld) {
				t.Fatalf("Get(%q, %T): %v, valueIO: %v", k, dNew, errNew, errOld)
			}
			if !reflect.DeepEqual(dNew, dOld) {
				t.Fatalf("Get(%q, %T) = %#v, valueIO %#v", k, dNew, reflect.ValueOf(dNew).Elem(),
					reflect.ValueOf(dOld).Elem())
			}
			checked++
		}
		var n int
		if !sameError(s.Get(k, n), oldGet(k, n)) || !sameError(s.Get(k, nil), oldGet(k, nil)) {
			t.Fatalf("Get(%q) with a bad destination", k)
		}
		tNew, errNew := s.Type(k)
		tOld, errOld := valueIOType(s, k)
		if tNew != tOld || !sameError(errNew, errOld) {
			t.Fatalf("Type(%q) = %v, %v; valueIO %v, %v", k, tNew, errNew, tOld, errOld)
		}
	}
	if checked < 35*len(dests) {
		t.Fatalf("only %d comparisons", checked)
	}
}

type namedInt int

func valueIOType(s *Session, k string) (ValueType, error) {
	p, err := s.lock()
	if err != nil {
		return 0, err
	}
	defer s.unlock()
	return valueIO{s: p}.getType(k)
}

// The value a failed Get leaves alone.
func TestSessionGetLeavesDstOnError(t *testing.T) {
	s := newTestSession(t)
	ok(t, s.SetString("s", "text"))
	n, str, b, f := 7, "keep", true, 1.5
	x := any("keep")
	wantErr(t, s.Get("s", &n), ErrTypeMismatch)
	wantErr(t, s.Get("missing", &str), ErrNotFound)
	wantErr(t, s.Get("s", &b), ErrTypeMismatch)
	wantErr(t, s.Get("s", &f), ErrTypeMismatch)
	wantErr(t, s.Get("missing", &x), ErrNotFound)
	if n != 7 || str != "keep" || !b || f != 1.5 || x != "keep" {
		t.Fatal("a failed Get changed its destination")
	}
}

// The typed methods and the generic ones on scalars allocate nothing but their result.
func TestSessionStateAllocs(t *testing.T) {
	s := newTestSession(t)
	ok(t, s.SetString("t", "a text value of moderate length"))
	var n int
	var n64 int64
	var f float64
	var b bool
	var str string
	bin := []byte("0123456789abcdef")
	cases := []struct {
		name string
		max  float64
		fn   func()
	}{
		{"SetInt64", 0, func() { ok(t, s.SetInt64("n", 123456)) }},
		{"GetInt64", 0, func() { must(s.GetInt64("n")) }},
		{"SetFloat64", 0, func() { ok(t, s.SetFloat64("f", 1.5)) }},
		{"GetFloat64", 0, func() { must(s.GetFloat64("f")) }},
		{"SetBool", 0, func() { ok(t, s.SetBool("b", true)) }},
		{"GetBool", 0, func() { must(s.GetBool("b")) }},
		{"SetString", 0, func() { ok(t, s.SetString("t", "a text value of moderate length")) }},
		{"GetString", 1, func() { must(s.GetString("t")) }},
		{"SetBytes", 0, func() { ok(t, s.SetBytes("bin", bin)) }},
		{"GetBytes", 1, func() { must(s.GetBytes("bin")) }},
		{"Get(*int)", 0, func() { ok(t, s.Get("n", &n)) }},
		{"Get(*int64)", 0, func() { ok(t, s.Get("n", &n64)) }},
		{"Get(*float64)", 0, func() { ok(t, s.Get("f", &f)) }},
		{"Get(*bool)", 0, func() { ok(t, s.Get("b", &b)) }},
		{"Get(*string)", 1, func() { ok(t, s.Get("t", &str)) }},
		{"Set(string)", 0, func() { ok(t, s.Set("t", "a text value of moderate length")) }},
		{"Set(small int)", 0, func() { ok(t, s.Set("n", 7)) }},
		{"Set(bool)", 0, func() { ok(t, s.Set("b", false)) }},
		{"Type", 0, func() { must(s.Type("n")) }},
		{"Has", 0, func() { s.Has("n") }},
	}
	for _, c := range cases {
		c.fn() // the keys exist before counting
		if got := testing.AllocsPerRun(200, c.fn); got > c.max {
			t.Errorf("%s: %v allocations per call, want at most %v", c.name, got, c.max)
		}
	}
}

// Typed and generic calls from many goroutines on one session (run with -race).
func TestConcurrentTypedSession(t *testing.T) {
	s := newTestSession(t)
	const goroutines, rounds = 8, 300
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			key := fmt.Sprintf("k%d", g)
			for i := 0; i < rounds; i++ {
				if err := s.SetInt64(key, int64(i)); err != nil {
					t.Error(err)
					return
				}
				if n, err := s.GetInt64(key); err != nil || n != int64(i) {
					t.Errorf("GetInt64 = %d, %v; want %d", n, err, i)
					return
				}
				if err := s.SetString("shared", key); err != nil {
					t.Error(err)
					return
				}
				if v, err := s.GetString("shared"); err != nil || !strings.HasPrefix(v, "k") {
					t.Errorf("GetString = %q, %v", v, err)
					return
				}
				var f float64
				if err := s.Get(key, &f); err != nil {
					t.Error(err)
					return
				}
				_ = s.SetBool("flag", i%2 == 0)
				_, _ = s.GetBool("flag")
			}
		}(g)
	}
	// Closing while others work: every call either completes or reports ErrClosed.
	wg.Wait()
	var closers sync.WaitGroup
	for g := 0; g < 4; g++ {
		closers.Add(1)
		go func() {
			defer closers.Done()
			for i := 0; i < 200; i++ {
				if _, err := s.GetInt64("k0"); err != nil && err != ErrClosed {
					t.Error(err)
					return
				}
			}
		}()
	}
	s.Close()
	closers.Wait()
}
