package toto

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestSessionIdentity(t *testing.T) {
	exp := time.Unix(1_800_000_000, 500_000_000)
	s := must(NewSession("MiXed@Example.com", exp))
	defer s.Close()
	if len(s.ID()) != 22 {
		t.Fatalf("id %q: want 22 chars", s.ID())
	}
	if s.UserID() != "mixed@example.com" {
		t.Fatalf("user id %q not lowercased", s.UserID())
	}
	if !s.Expires().Equal(exp) || s.ExpiresUnix() != 1_800_000_000.5 {
		t.Fatalf("expires %v / %v", s.Expires(), s.ExpiresUnix())
	}
	if !s.IsDirty() {
		t.Fatal("a new session starts dirty")
	}
	ok(t, s.MarkClean())
	if s.IsDirty() {
		t.Fatal("MarkClean left it dirty")
	}
	ok(t, s.SetExpires(exp.Add(time.Hour)))
	if !s.IsDirty() || !s.Expires().Equal(exp.Add(time.Hour)) {
		t.Fatal("SetExpires")
	}
	ok(t, s.SetExpiresUnix(42))
	if s.ExpiresUnix() != 42 {
		t.Fatal("SetExpiresUnix")
	}
	wantErr(t, s.SetExpiresUnix(math.NaN()), ErrInvalidArgument)

	ok(t, s.SetID("custom-id.1"))
	if s.ID() != "custom-id.1" {
		t.Fatal("SetID")
	}
	wantErr(t, s.SetID("has space"), ErrInvalidSessionID)
	wantErr(t, s.SetID(""), ErrInvalidSessionID)

	if _, has := s.Key(); has {
		t.Fatal("new session has a key")
	}
	ok(t, s.SetKey("k1"))
	if k, has := s.Key(); !has || k != "k1" {
		t.Fatalf("Key() = %q, %v", k, has)
	}
	gen := must(s.GenerateKey())
	if k, _ := s.Key(); k != gen || len(gen) != 22 {
		t.Fatalf("GenerateKey %q, Key %q", gen, k)
	}
	ok(t, s.SetKey(""))
	if _, has := s.Key(); has {
		t.Fatal("SetKey(\"\") did not clear")
	}
	wantErr(t, s.SetKey(strings.Repeat("k", 257)), ErrTooLarge)

	anon := must(NewSession("", exp))
	defer anon.Close()
	if anon.UserID() != "" {
		t.Fatal("anonymous user id")
	}
	with := must(NewSessionWithID("GHwH5NVjbpvDxACyckS4zQ", "u", exp))
	defer with.Close()
	if with.ID() != "GHwH5NVjbpvDxACyckS4zQ" {
		t.Fatal("NewSessionWithID")
	}
	_, err := NewSessionWithID("bad id", "u", exp)
	wantErr(t, err, ErrInvalidSessionID)
	_, err = NewSession(string([]byte{0xff}), exp)
	wantErr(t, err, ErrInvalidUTF8)
	_, err = NewSession(strings.Repeat("u", 257), exp)
	wantErr(t, err, ErrTooLarge)
}

type profile struct {
	Name  string         `json:"name"`
	Tags  []string       `json:"tags"`
	Score float64        `json:"score"`
	Extra map[string]any `json:"extra,omitempty"`
}

func TestSessionSetGet(t *testing.T) {
	s := must(NewSession("u", time.Now().Add(time.Hour)))
	defer s.Close()

	set := map[string]any{
		"nil": nil, "false": false, "true": true, "zero": 0, "int": -42, "i8": int8(-8),
		"i16": int16(1600), "i32": int32(-32), "i64": int64(math.MinInt64), "u": uint(7),
		"u8": uint8(255), "u16": uint16(65535), "u32": uint32(math.MaxUint32), "u64": uint64(math.MaxInt64),
		"bigu64": uint64(math.MaxUint64), "f32": float32(1.5), "f64": 2.25, "empty": "", "text": "héllo",
		"bytes": []byte{0, 1, 2, 0xff}, "nobytes": []byte{}, "raw": json.RawMessage(`{"a":[1,2,{"b":null}]}`),
		"struct": profile{Name: "n", Tags: []string{"x", "y"}, Score: 3.5},
		"slice":  []int{1, 2, 3}, "map": map[string]int{"one": 1},
	}
	for k, v := range set {
		ok(t, s.Set(k, v))
	}
	if s.Len() != len(set) {
		t.Fatalf("Len %d, want %d", s.Len(), len(set))
	}

	var b bool
	ok(t, s.Get("false", &b))
	if b {
		t.Fatal("stored false must read back as false")
	}
	ok(t, s.Get("true", &b))
	if !b {
		t.Fatal("true")
	}
	var i int
	ok(t, s.Get("zero", &i))
	ok(t, s.Get("int", &i))
	if i != -42 {
		t.Fatal("int")
	}
	var i8 int8
	ok(t, s.Get("i8", &i8))
	wantErr(t, s.Get("i16", &i8), ErrTypeMismatch) // 1600 does not fit
	var i16 int16
	ok(t, s.Get("i16", &i16))
	var i32 int32
	ok(t, s.Get("i32", &i32))
	var i64 int64
	ok(t, s.Get("i64", &i64))
	if i64 != math.MinInt64 || i8 != -8 || i16 != 1600 || i32 != -32 {
		t.Fatal("signed integers")
	}
	var u uint
	ok(t, s.Get("u", &u))
	var u8 uint8
	ok(t, s.Get("u8", &u8))
	wantErr(t, s.Get("int", &u8), ErrTypeMismatch) // negative
	var u16 uint16
	ok(t, s.Get("u16", &u16))
	var u32 uint32
	ok(t, s.Get("u32", &u32))
	var u64 uint64
	ok(t, s.Get("u64", &u64))
	if u != 7 || u8 != 255 || u16 != 65535 || u32 != math.MaxUint32 || u64 != math.MaxInt64 {
		t.Fatal("unsigned integers")
	}
	ok(t, s.Get("bigu64", &u64))
	if u64 != math.MaxUint64 {
		t.Fatalf("uint64 above MaxInt64: %d", u64)
	}
	wantErr(t, s.Get("bigu64", &i64), ErrTypeMismatch)
	var f32 float32
	ok(t, s.Get("f32", &f32))
	var f64 float64
	ok(t, s.Get("f64", &f64))
	if f32 != 1.5 || f64 != 2.25 {
		t.Fatal("floats")
	}
	ok(t, s.Get("int", &f64)) // integers convert to a float destination
	if f64 != -42 {
		t.Fatal("int as float")
	}
	wantErr(t, s.Get("f64", &i), ErrTypeMismatch)
	var str string
	ok(t, s.Get("empty", &str))
	if str != "" {
		t.Fatal("empty string")
	}
	ok(t, s.Get("text", &str))
	if str != "héllo" {
		t.Fatal("text")
	}
	wantErr(t, s.Get("bytes", &str), ErrTypeMismatch)
	var raw []byte
	ok(t, s.Get("bytes", &raw))
	if !bytes.Equal(raw, []byte{0, 1, 2, 0xff}) {
		t.Fatal("bytes")
	}
	ok(t, s.Get("nobytes", &raw))
	if raw == nil || len(raw) != 0 {
		t.Fatal("empty bytes")
	}
	var p profile
	ok(t, s.Get("struct", &p))
	if !reflect.DeepEqual(p, profile{Name: "n", Tags: []string{"x", "y"}, Score: 3.5}) {
		t.Fatalf("struct %+v", p)
	}
	var sl []int
	ok(t, s.Get("slice", &sl))
	var m map[string]int
	ok(t, s.Get("map", &m))
	if !reflect.DeepEqual(sl, []int{1, 2, 3}) || m["one"] != 1 {
		t.Fatal("slice/map")
	}
	var rm json.RawMessage
	ok(t, s.Get("raw", &rm))
	if string(rm) != `{"a":[1,2,{"b":null}]}` {
		t.Fatalf("raw %s", rm)
	}
	wantErr(t, s.Get("text", &p), ErrTypeMismatch)

	anys := map[string]any{
		"nil": nil, "true": true, "int": int64(-42), "bigu64": uint64(math.MaxUint64), "f64": 2.25,
		"text": "héllo", "bytes": []byte{0, 1, 2, 0xff}, "slice": []any{1.0, 2.0, 3.0},
		"map": map[string]any{"one": 1.0},
	}
	for k, want := range anys {
		var got any = "sentinel"
		ok(t, s.Get(k, &got))
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Get(%q, *any) = %#v, want %#v", k, got, want)
		}
	}

	types := map[string]ValueType{"nil": TypeNull, "true": TypeBool, "int": TypeInteger, "f64": TypeFloat,
		"text": TypeText, "bytes": TypeBytes, "slice": TypeArray, "struct": TypeMap}
	for k, want := range types {
		if got := must(s.Type(k)); got != want {
			t.Fatalf("Type(%q) = %v, want %v", k, got, want)
		}
	}
	if TypeMap.String() != "map" || ValueType(99).String() != "ValueType(99)" {
		t.Fatal("ValueType.String")
	}

	wantErr(t, s.Get("missing", &i), ErrNotFound)
	_, err := s.Type("missing")
	wantErr(t, err, ErrNotFound)
	wantErr(t, s.Get("int", i), ErrInvalidArgument)     // not a pointer
	wantErr(t, s.Get("int", nil), ErrInvalidArgument)   // nil
	wantErr(t, s.Set("bad", func() {}), ErrInvalidJSON) // no JSON form
	wantErr(t, s.Set("bad", string([]byte{0xff})), ErrInvalidUTF8)
	wantErr(t, s.Set(string([]byte{0xff}), 1), ErrInvalidUTF8)
	wantErr(t, s.Set("big", make([]byte, 1<<20+1)), ErrTooLarge)
	if s.Has("bad") || s.Has("big") {
		t.Fatal("failed sets must store nothing")
	}
}

// GetJSON's text crosses in the read call itself when it fits the Go scratch
// (jsonScratchSize), and through a second call that frees the library's copy when it
// does not: texts of one byte under, at and over the scratch's size, and of 100 KiB,
// come back whole, each in a slice of its own; a failure keeps its details.
func TestSessionGetJSONAroundScratchSize(t *testing.T) {
	s := must(NewSession("", time.Now().Add(time.Hour)))
	defer s.Close()
	var got [][]byte
	for _, n := range []int{2, jsonScratchSize - 1, jsonScratchSize, jsonScratchSize + 1, 100 << 10} {
		text := strings.Repeat("x", n-2) // the JSON string adds two quotes
		ok(t, s.SetString("t", text))
		js := must(s.GetJSON("t"))
		if string(js) != `"`+text+`"` {
			t.Fatalf("%d bytes: got %d bytes %.20q...", n, len(js), js)
		}
		got = append(got, js)
	}
	for i, js := range got {
		if js[0] != '"' || len(js) < 2 || (i > 0 && &got[i-1][0] == &js[0]) {
			t.Fatalf("text %d shares its memory or was overwritten", i)
		}
	}
	ok(t, s.SetCBOR("m", []byte{0xa1, 0x01, 0x02})) // {1: 2}: no JSON form
	_, err := s.GetJSON("m")
	var te *Error
	if !errors.As(err, &te) || te.Code != CodeInvalidJSON || !strings.Contains(te.Message, "map key") {
		t.Fatalf("GetJSON of a map with an integer key: %#v", err)
	}
}

func TestSessionRawAndKeys(t *testing.T) {
	s := must(NewSession("", time.Now().Add(time.Hour)))
	defer s.Close()
	ok(t, s.SetCBOR("c", []byte{0x82, 0x01, 0x63, 'a', 'b', 'c'})) // [1, "abc"]
	if js := must(s.GetJSON("c")); string(js) != `[1,"abc"]` {
		t.Fatalf("GetJSON %s", js)
	}
	ok(t, s.SetJSON("j", []byte(`{"k":true}`)))
	if cb := must(s.GetCBOR("j")); !bytes.Equal(cb, []byte{0xa1, 0x61, 'k', 0xf5}) {
		t.Fatalf("GetCBOR % x", cb)
	}
	wantErr(t, s.SetCBOR("x", []byte{0xff, 0xff}), ErrInvalidCBOR)
	err := s.SetJSON("x", []byte(`{`))
	wantErr(t, err, ErrInvalidJSON)
	var te *Error
	if !errors.As(err, &te) || te.Message == "" || te.Code != CodeInvalidJSON {
		t.Fatalf("details missing: %#v", err)
	}
	_, err = s.GetCBOR("nope")
	wantErr(t, err, ErrNotFound)
	_, err = s.GetJSON("nope")
	wantErr(t, err, ErrNotFound)

	ok(t, s.Set("b", 1))
	ok(t, s.Set("a", nil))
	if got := s.Keys(); !reflect.DeepEqual(got, []string{"a", "b", "c", "j"}) {
		t.Fatalf("Keys %v", got)
	}
	if !s.Has("a") || s.Has("zz") {
		t.Fatal("Has")
	}
	ok(t, s.Delete("a"))
	ok(t, s.Delete("a")) // missing is fine
	if s.Has("a") || s.Len() != 3 {
		t.Fatal("Delete")
	}
	ok(t, s.Clear())
	if s.Len() != 0 || len(s.Keys()) != 0 {
		t.Fatal("Clear")
	}
}

func TestSessionExportImport(t *testing.T) {
	s := must(NewSession("u", time.Unix(1_900_000_000, 0)))
	defer s.Close()
	ok(t, s.SetKey("secret"))
	ok(t, s.Set("n", 5))
	rec := must(s.Export())
	c := must(ImportSession(rec))
	defer c.Close()
	var n int
	ok(t, c.Get("n", &n))
	k, _ := c.Key()
	if c.ID() != s.ID() || c.UserID() != "u" || n != 5 || k != "secret" || c.ExpiresUnix() != 1_900_000_000 {
		t.Fatal("round trip lost data")
	}
	if c.IsDirty() {
		t.Fatal("an imported session is clean")
	}
	_, err := ImportSession([]byte("garbage"))
	wantErr(t, err, ErrInvalidCBOR)
	_, err = ImportSession(nil)
	if err == nil {
		t.Fatal("empty record accepted")
	}
}

func TestSessionSigning(t *testing.T) {
	s := must(NewSessionWithID("OpfxGuZRBwUGpooC8OFhrw", "u", time.Now().Add(time.Hour)))
	defer s.Close()
	_, err := s.HMAC([]byte("x"))
	wantErr(t, err, ErrInvalidHMAC) // no key yet
	wantErr(t, s.Verify("x", []byte("x")), ErrInvalidHMAC)
	ok(t, s.SetKey("key"))

	mac := must(s.HMAC([]byte("message")))
	if want := must(HMAC([]byte("key"), []byte("message"))); mac != want || len(mac) != 28 {
		t.Fatalf("HMAC %q want %q", mac, want)
	}
	ok(t, s.Verify(mac, []byte("message")))
	wantErr(t, s.Verify(mac, []byte("messagE")), ErrInvalidHMAC)
	wantErr(t, s.Verify("", []byte("message")), ErrInvalidHMAC)

	body := []byte(`{"method":"state.get"}`)
	req := must(s.SignRequest("POST", "/?a=b", body))
	if req != must(HMAC([]byte("key"), []byte(`POST/?a=b{"method":"state.get"}`))) {
		t.Fatal("SignRequest is not METHOD+URI+BODY")
	}
	ok(t, s.VerifyRequest(req, "POST", "/?a=b", body))
	wantErr(t, s.VerifyRequest(req, "GET", "/?a=b", body), ErrInvalidHMAC)
	resp := must(s.SignResponse(body))
	if resp != must(HMAC([]byte("key"), append([]byte(s.ID()), body...))) {
		t.Fatal("SignResponse is not SESSION_ID+BODY")
	}
	ok(t, s.VerifyResponse(resp, body))
	wantErr(t, s.VerifyResponse(resp, body[1:]), ErrInvalidHMAC)
}

func TestSessionClosed(t *testing.T) {
	s := must(NewSession("u", time.Now()))
	ok(t, s.Close())
	ok(t, s.Close()) // idempotent
	var n int
	wantErr(t, s.Set("a", 1), ErrClosed)
	wantErr(t, s.Get("a", &n), ErrInvalidHandle)
	_, err := s.Export()
	wantErr(t, err, ErrClosed)
	_, err = s.SignResponse(nil)
	wantErr(t, err, ErrClosed)
	if s.ID() != "" || s.UserID() != "" || s.Len() != 0 || s.Keys() != nil || s.Has("a") || s.IsDirty() ||
		!s.Expires().IsZero() {
		t.Fatal("accessors of a closed session must return zero values")
	}
	if _, has := s.Key(); has {
		t.Fatal("Key on closed")
	}
	for _, err := range []error{s.SetID("x"), s.SetKey("x"), s.SetExpires(time.Now()), s.MarkClean(), s.Delete("a"),
		s.Clear(), s.SetCBOR("a", nil), s.SetJSON("a", nil), s.Verify("a", nil), s.VerifyRequest("a", "b", "c", nil),
		s.VerifyResponse("a", nil)} {
		wantErr(t, err, ErrClosed)
	}
}
