package totohttp_test

import (
	"sync"
	"testing"
	"time"

	"github.com/toto-session/toto-session/bindings/go/toto"
	"github.com/toto-session/toto-session/bindings/go/totohttp"
)

// An expired session is no session: authenticated methods answer 1004, as for an
// unknown id (Toto's clients then log out), never 1007.
func TestServiceExpiredSessionIs1004(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	cache, err := toto.NewMemoryCacheWithClock(clock)
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	store, err := toto.NewMemoryAccountStore()
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	mgr, err := toto.NewManager(cache, store, toto.WithClock(clock), toto.WithPasswordCost(8, 1, 1),
		toto.WithSessionTTL(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer mgr.Close()
	svc := totohttp.NewService(mgr, totohttp.ServiceOptions{Options: totohttp.Options{HMAC: totohttp.HMACRequired}})
	svc.HandleFunc("whoami", totohttp.Authenticated, func(c *totohttp.Call) (any, error) { return c.Session().UserID(), nil })
	id, key := login(t, mgr, "dora")
	if r := do(t, svc, "POST", "/", call("whoami", nil), id, key); string(r.Result) != `"dora"` {
		t.Fatalf("live: %s", r.Body)
	}
	mu.Lock()
	now = now.Add(2 * time.Hour)
	mu.Unlock()
	r := do(t, svc, "POST", "/", call("whoami", nil), id, key)
	wantErr(t, r, 1004, "Not authorized")
	if r.Session != nil || r.Header.Get("x-toto-hmac") != "" {
		t.Fatalf("expired: %s %v", r.Body, r.Header)
	}
}
