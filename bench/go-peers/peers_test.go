// Package peers benchmarks gorilla/sessions next to the toto binding doing the same
// work on the same 5-entry state (bench/run.py's "Go peers" rows). The benchmarks are
// declared in pairs, peer then toto, so that `go test -bench` runs them alternately;
// bench/run.py runs the compiled test binary once per round.
package peers

import (
	"context"
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
	"github.com/toto-session/toto-session/bindings/go/toto"
)

var bg = context.Background()

// The 5-entry state of every toto-session benchmark (bench/benches/core.rs).
var state = []struct {
	k string
	v any
}{
	{"user_name", "alice@example.com"},
	{"cart_items", int64(3)},
	{"is_admin", false},
	{"balance", 12.5},
	{"last_page", "/catalog/shoes?page=2"},
}

func gorillaValues() map[interface{}]interface{} {
	v := make(map[interface{}]interface{}, len(state))
	for _, e := range state {
		v[e.k] = e.v
	}
	return v
}

func key(label string) []byte {
	k := sha256.Sum256([]byte(label))
	return k[:]
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// manager over `cache`; renewal window of a minute, so a retrieve right after a save
// does not renew (for the client-side cache, a renewal is a second seal).
func manager(b *testing.B, cache *toto.CacheHandle) *toto.Manager {
	store := must(toto.NewMemoryAccountStore())
	m := must(toto.NewManager(cache, store, toto.WithPasswordCost(8, 1, 1),
		toto.WithSessionRenew(time.Minute)))
	cache.Close()
	store.Close()
	b.Cleanup(func() { m.Close() })
	return m
}

func totoSession(b *testing.B, m *toto.Manager) *toto.Session {
	s := must(m.CreateSession(bg, "alice", true))
	for _, e := range state {
		if err := s.Set(e.k, e.v); err != nil {
			b.Fatal(err)
		}
	}
	if err := m.SaveSession(bg, s); err != nil {
		b.Fatal(err)
	}
	return s
}

// gorilla CookieStore, authenticated and encrypted (HMAC-SHA256 + AES-256, as
// securecookie recommends): the session values encoded into the cookie and decoded
// back, which is what CookieStore.Save and CookieStore.New do per request (without
// the HTTP header plumbing around them). One value changes per iteration.
func BenchmarkCookieSealOpenGorilla(b *testing.B) {
	store := sessions.NewCookieStore(key("hash"), key("block"))
	values := gorillaValues()
	out := make(map[interface{}]interface{})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		values["cart_items"] = int64(i)
		enc, err := securecookie.EncodeMulti("toto", values, store.Codecs...)
		if err != nil {
			b.Fatal(err)
		}
		if err := securecookie.DecodeMulti("toto", enc, &out, store.Codecs...); err != nil {
			b.Fatal(err)
		}
	}
}

// The binding's client-side session (AES-256-GCM-SIV, the token is the id): a changed
// session saved (sealed into a new token) and retrieved by that token (opened).
func BenchmarkCookieSealOpenToto(b *testing.B) {
	m := manager(b, must(toto.NewClientSideCache(toto.ClientKey{ID: 1, Key: [32]byte{0x42}})))
	s := totoSession(b, m)
	defer s.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.SetInt64("cart_items", int64(i)); err != nil {
			b.Fatal(err)
		}
		if err := m.SaveSession(bg, s); err != nil {
			b.Fatal(err)
		}
		r, err := m.RetrieveSession(bg, s.ID())
		if err != nil {
			b.Fatal(err)
		}
		r.Close()
	}
}

// gorilla FilesystemStore: a request carrying the session cookie loaded with
// store.New (decode the signed id, read the file, decode the values), as
// sessions.GetRegistry(r).Get does once per request.
func BenchmarkStoreLoadGorillaFilesystem(b *testing.B) {
	store := sessions.NewFilesystemStore(b.TempDir(), key("hash"), key("block"))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	s, err := store.New(req, "toto")
	if err != nil {
		b.Fatal(err)
	}
	s.Values = gorillaValues()
	w := httptest.NewRecorder()
	if err := store.Save(req, w, s); err != nil {
		b.Fatal(err)
	}
	req = httptest.NewRequest(http.MethodGet, "/", nil)
	for _, c := range w.Result().Cookies() {
		req.AddCookie(c)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		l, err := store.New(req, "toto")
		if err != nil || l.IsNew || len(l.Values) != len(state) {
			b.Fatalf("load: %v (new %v, %d values)", err, l.IsNew, len(l.Values))
		}
	}
}

// The binding's retrieve from the built-in memory cache (renewal in place), the
// session handle closed after use.
func BenchmarkStoreLoadTotoMemory(b *testing.B) {
	m := manager(b, must(toto.NewMemoryCache()))
	s := totoSession(b, m)
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
