package toto

import (
	"bytes"
	"testing"
	"time"
)

// The floor: one bare cgo call (toto_version) with no wrapper around it.
func BenchmarkCgoCallFloor(b *testing.B) {
	for i := 0; i < b.N; i++ {
		rawVersionCall()
	}
}

func benchSession(b testing.TB) *Session {
	s := must(NewSession("u", time.Now().Add(time.Hour)))
	b.Cleanup(func() { s.Close() })
	ok(b, s.SetKey("0123456789abcdefghijkl"))
	return s
}

func BenchmarkSessionSetInt(b *testing.B) {
	s := benchSession(b)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := s.Set("n", i); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSessionGetInt(b *testing.B) {
	s := benchSession(b)
	ok(b, s.Set("n", 42))
	b.ReportAllocs()
	var n int
	for i := 0; i < b.N; i++ {
		if err := s.Get("n", &n); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSessionSetString(b *testing.B) {
	s := benchSession(b)
	v := "a text value of moderate length"
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := s.Set("t", v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSessionGetString(b *testing.B) {
	s := benchSession(b)
	ok(b, s.Set("t", "a text value of moderate length"))
	b.ReportAllocs()
	var v string
	for i := 0; i < b.N; i++ {
		if err := s.Get("t", &v); err != nil {
			b.Fatal(err)
		}
	}
}

// The typed methods: no interface boxing, no allocation (GetStringTyped: the result).
func BenchmarkSessionSetInt64(b *testing.B) {
	s := benchSession(b)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := s.SetInt64("n", int64(i)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSessionGetInt64(b *testing.B) {
	s := benchSession(b)
	ok(b, s.SetInt64("n", 42))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := s.GetInt64("n"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSessionSetStringTyped(b *testing.B) {
	s := benchSession(b)
	v := "a text value of moderate length"
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := s.SetString("t", v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSessionGetStringTyped(b *testing.B) {
	s := benchSession(b)
	ok(b, s.SetString("t", "a text value of moderate length"))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := s.GetString("t"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSessionSetBytesTyped(b *testing.B) {
	s := benchSession(b)
	v := []byte("0123456789abcdef")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := s.SetBytes("bin", v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSessionGetBytesTyped(b *testing.B) {
	s := benchSession(b)
	ok(b, s.SetBytes("bin", []byte("0123456789abcdef")))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := s.GetBytes("bin"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSessionSetFloat64(b *testing.B) {
	s := benchSession(b)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := s.SetFloat64("f", float64(i)+0.5); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSessionGetFloat64(b *testing.B) {
	s := benchSession(b)
	ok(b, s.SetFloat64("f", 1.5))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := s.GetFloat64("f"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSessionSetBoolTyped(b *testing.B) {
	s := benchSession(b)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := s.SetBool("b", i&1 == 0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSessionGetBoolTyped(b *testing.B) {
	s := benchSession(b)
	ok(b, s.SetBool("b", true))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := s.GetBool("b"); err != nil {
			b.Fatal(err)
		}
	}
}

// The generic Set/Get with the other scalar types (Set(key, any) boxes a float64 at
// the call site, as it does an int; a bool is never boxed).
func BenchmarkSessionSetFloat(b *testing.B) {
	s := benchSession(b)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := s.Set("f", float64(i)+0.5); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSessionGetFloat(b *testing.B) {
	s := benchSession(b)
	ok(b, s.Set("f", 1.5))
	b.ReportAllocs()
	var f float64
	for i := 0; i < b.N; i++ {
		if err := s.Get("f", &f); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSessionSetBool(b *testing.B) {
	s := benchSession(b)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := s.Set("b", i&1 == 0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSessionGetBool(b *testing.B) {
	s := benchSession(b)
	ok(b, s.Set("b", true))
	b.ReportAllocs()
	var v bool
	for i := 0; i < b.N; i++ {
		if err := s.Get("b", &v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSessionSetBytes(b *testing.B) {
	s := benchSession(b)
	v := []byte("0123456789abcdef")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := s.Set("bin", v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSessionGetBytes(b *testing.B) {
	s := benchSession(b)
	ok(b, s.Set("bin", []byte("0123456789abcdef")))
	b.ReportAllocs()
	var v []byte
	for i := 0; i < b.N; i++ {
		if err := s.Get("bin", &v); err != nil {
			b.Fatal(err)
		}
	}
}

// The bare-cgo peers of the state accessors above: the same C function called
// directly through cgo, handle and key prepared once (bench_peers.go). Their ratio to
// CgoCallFloor is the library's own cost; a wrapper's time over its peer is the
// binding's.
func benchPeer(b *testing.B, key string, set func(*cgoPeer)) *cgoPeer {
	s := benchSession(b)
	c := newCgoPeer(s, key, "a text value of moderate length")
	b.Cleanup(c.free)
	if set != nil {
		set(c)
	}
	b.ReportAllocs()
	b.ResetTimer()
	return c
}

func BenchmarkCgoSessionSetI64(b *testing.B) {
	c := benchPeer(b, "n", nil)
	for i := 0; i < b.N; i++ {
		if !c.ok(c.setI64(int64(i))) {
			b.Fatal("set_i64 failed")
		}
	}
}

func BenchmarkCgoSessionGetI64(b *testing.B) {
	c := benchPeer(b, "n", func(c *cgoPeer) { c.setI64(42) })
	for i := 0; i < b.N; i++ {
		if !c.ok(c.getI64()) {
			b.Fatal("get_i64 failed")
		}
	}
}

func BenchmarkCgoSessionSetF64(b *testing.B) {
	c := benchPeer(b, "f", nil)
	for i := 0; i < b.N; i++ {
		if !c.ok(c.setF64(float64(i) + 0.5)) {
			b.Fatal("set_f64 failed")
		}
	}
}

func BenchmarkCgoSessionGetF64(b *testing.B) {
	c := benchPeer(b, "f", func(c *cgoPeer) { c.setF64(1.5) })
	for i := 0; i < b.N; i++ {
		if !c.ok(c.getF64()) {
			b.Fatal("get_f64 failed")
		}
	}
}

func BenchmarkCgoSessionSetBool(b *testing.B) {
	c := benchPeer(b, "b", nil)
	for i := 0; i < b.N; i++ {
		if !c.ok(c.setBool(i&1 == 0)) {
			b.Fatal("set_bool failed")
		}
	}
}

func BenchmarkCgoSessionGetBool(b *testing.B) {
	c := benchPeer(b, "b", func(c *cgoPeer) { c.setBool(true) })
	for i := 0; i < b.N; i++ {
		if !c.ok(c.getBool()) {
			b.Fatal("get_bool failed")
		}
	}
}

func BenchmarkCgoSessionSetText(b *testing.B) {
	c := benchPeer(b, "t", nil)
	for i := 0; i < b.N; i++ {
		if !c.ok(c.setText()) {
			b.Fatal("set_text failed")
		}
	}
}

// The view only: GetString also copies it into a Go string (one allocation).
func BenchmarkCgoSessionGetText(b *testing.B) {
	c := benchPeer(b, "t", func(c *cgoPeer) { c.setText() })
	for i := 0; i < b.N; i++ {
		if !c.ok(c.getText()) {
			b.Fatal("get_text failed")
		}
	}
}

func BenchmarkCgoSessionSetBytes(b *testing.B) {
	c := benchPeer(b, "bin", nil)
	for i := 0; i < b.N; i++ {
		if !c.ok(c.setBytes()) {
			b.Fatal("set_bytes failed")
		}
	}
}

func BenchmarkCgoSessionGetBytes(b *testing.B) {
	c := benchPeer(b, "bin", func(c *cgoPeer) { c.setBytes() })
	for i := 0; i < b.N; i++ {
		if !c.ok(c.getBytes()) {
			b.Fatal("get_bytes failed")
		}
	}
}

type benchStruct struct {
	Name  string   `json:"name"`
	Items []string `json:"items"`
	Count int      `json:"count"`
}

func BenchmarkSessionSetStructJSON(b *testing.B) {
	s := benchSession(b)
	v := benchStruct{"cart", []string{"apple", "pear", "plum"}, 3}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := s.Set("cart", v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSessionGetStructJSON(b *testing.B) {
	s := benchSession(b)
	ok(b, s.Set("cart", benchStruct{"cart", []string{"apple", "pear", "plum"}, 3}))
	b.ReportAllocs()
	var v benchStruct
	for i := 0; i < b.N; i++ {
		if err := s.Get("cart", &v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify1KiB(b *testing.B) {
	key := []byte("0123456789abcdefghijkl")
	msg := bytes.Repeat([]byte("x"), 1024)
	mac := must(HMAC(key, msg))
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := Verify(key, mac, msg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSessionVerifyRequest1KiB(b *testing.B) {
	s := benchSession(b)
	body := bytes.Repeat([]byte("x"), 1024)
	mac := must(s.SignRequest("POST", "/", body))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := s.VerifyRequest(mac, "POST", "/", body); err != nil {
			b.Fatal(err)
		}
	}
}

func benchRetrieve(b *testing.B, m *Manager) {
	s := must(m.CreateSession(bg, "user", true))
	for _, kv := range []struct {
		k string
		v any
	}{{"a", 1}, {"b", "two"}, {"c", 3.0}, {"d", true}, {"e", []int{1, 2, 3}}} {
		ok(b, s.Set(kv.k, kv.v))
	}
	ok(b, m.SaveSession(bg, s))
	id := s.ID()
	s.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := m.RetrieveSession(bg, id)
		if err != nil {
			b.Fatal(err)
		}
		r.Close()
	}
}

// Retrieve with the built-in memory cache: load, renewal in place, decode.
func BenchmarkManagerRetrieveMemory(b *testing.B) {
	benchRetrieve(b, memManager(b))
}

// Retrieve through a Go Cache: one callback into Go per retrieve (plus the renewal
// write-back, a second callback, when the expiry moves: with the default window that
// is every retrieve, as in Toto).
// The bare-cgo peer of ManagerRetrieveMemory: retrieve + free in one direct cgo call
// (bench_peers.go), so its time is the C benchmark's plus one cgo transition.
func BenchmarkCgoManagerRetrieveMemory(b *testing.B) {
	m := memManager(b)
	s := must(m.CreateSession(bg, "user", true))
	for _, kv := range []struct {
		k string
		v any
	}{{"a", 1}, {"b", "two"}, {"c", 3.0}, {"d", true}, {"e", []int{1, 2, 3}}} {
		ok(b, s.Set(kv.k, kv.v))
	}
	ok(b, m.SaveSession(bg, s))
	c := newCgoRetrievePeer(m, s.ID())
	s.Close()
	b.Cleanup(c.free)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if !c.ok(c.retrieve()) {
			b.Fatal("retrieve failed")
		}
	}
}

func BenchmarkManagerRetrieveGoCache(b *testing.B) {
	benchRetrieve(b, goManager(b, newMemCache(nil), newMemStore()))
}

func BenchmarkManagerRetrieveGoRenewingCache(b *testing.B) {
	benchRetrieve(b, goManager(b, renewingCache{newMemCache(nil)}, newMemStore()))
}

func BenchmarkManagerVerifyRequest(b *testing.B) {
	m := memManager(b)
	s := must(m.CreateSession(bg, "user", true))
	defer s.Close()
	body := []byte(`{"method":"state.get","parameters":{"key":"k"}}`)
	mac := must(s.SignRequest("POST", "/", body))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := m.VerifyRequest(bg, s.ID(), mac, "POST", "/", body)
		if err != nil {
			b.Fatal(err)
		}
		r.Close()
	}
}
