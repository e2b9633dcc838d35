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

func benchSession(b *testing.B) *Session {
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
