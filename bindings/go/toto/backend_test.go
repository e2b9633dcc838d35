package toto

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestGoBackendsUsedByManager(t *testing.T) {
	clock := newFakeClock()
	mc := newMemCache(clock.Now)
	ms := newMemStore()
	m := goManager(t, mc, ms, WithClock(clock.Now))

	ok(t, m.CreateAccount(bg, "frank", "pw", map[string]any{"plan": "pro"}))
	if ms.prop("frank", "password") == nil || string(ms.prop("frank", "plan")) != string(cborText("pro")) {
		t.Fatalf("the Go store did not receive the account: %v", ms.accounts["frank"])
	}
	s := must(m.Login(bg, "frank", "pw"))
	defer s.Close()
	if mc.len() != 1 || mc.count("store") != 1 {
		t.Fatal("login did not store the session in the Go cache")
	}
	ok(t, s.Set("k", "v"))
	ok(t, m.SaveSession(bg, s))
	clock.Advance(time.Minute)
	r := must(m.RetrieveSession(bg, s.ID()))
	defer r.Close()
	var v string
	ok(t, r.Get("k", &v))
	// Loads: the save's revision check (a Go cache has no store_if: the library checks
	// with a load before each store over an existing session), the retrieve. A minute
	// is within the renewal granularity (1 % of the year): nothing written back.
	if v != "v" || mc.count("load") != 2 {
		t.Fatalf("retrieve did not go through the Go cache (loads: %d)", mc.count("load"))
	}
	if mc.count("store") != 2 { // login, save
		t.Fatalf("store calls: %d", mc.count("store"))
	}
	// Five days on, past the granularity: the retrieve, the write-back's check, the
	// write-back.
	clock.Advance(5 * 24 * time.Hour)
	must(m.RetrieveSession(bg, s.ID())).Close()
	if mc.count("load") != 4 || mc.count("store") != 3 {
		t.Fatalf("renewal write-back: loads %d stores %d", mc.count("load"), mc.count("store"))
	}

	// A cache with LoadRenew: one operation per retrieve.
	rc := renewingCache{newMemCache(clock.Now)}
	m2 := goManager(t, rc, newMemStore(), WithClock(clock.Now))
	s2 := must(m2.CreateSession(bg, "u", false))
	defer s2.Close()
	clock.Advance(time.Minute)
	r2 := must(m2.RetrieveSession(bg, s2.ID()))
	defer r2.Close()
	if rc.count("load_renew") != 1 || rc.count("load") != 0 || rc.count("store") != 1 {
		t.Fatalf("calls: load_renew %d load %d store %d", rc.count("load_renew"), rc.count("load"), rc.count("store"))
	}
	if !r2.Expires().Equal(clock.Now().Add(year)) {
		t.Fatalf("LoadRenew expiry not used: %v", r2.Expires())
	}

	// A renaming cache: the session takes the id the cache chose.
	mc.rename.Store(true)
	ok(t, s.Set("k", "w"))
	old := s.ID()
	ok(t, m.SaveSession(bg, s))
	if s.ID() == old || !strings.HasPrefix(s.ID(), "renamed-") {
		t.Fatalf("renamed id not taken: %q", s.ID())
	}
	mc.rename.Store(false)
	must(m.RetrieveSession(bg, s.ID())).Close()
}

func TestGoBackendErrors(t *testing.T) {
	mc := newMemCache(nil)
	ms := newMemStore()
	m := goManager(t, mc, ms)

	mc.failOnce("store", errors.New("redis: connection refused"))
	_, err := m.CreateSession(bg, "", false)
	wantErr(t, err, ErrBackendFailed)
	if !strings.Contains(err.Error(), "redis: connection refused") {
		t.Fatalf("backend message lost: %v", err)
	}
	// A collision is retried with a fresh id by the library.
	before := mc.count("store")
	mc.failOnce("store", fmt.Errorf("taken: %w", ErrIDCollision))
	must(m.CreateSession(bg, "", false)).Close()
	if mc.count("store") != before+2 {
		t.Fatalf("collision not retried: %d store calls", mc.count("store")-before)
	}
	ms.failOnce("create", ErrUserIDExists)
	wantErr(t, m.CreateAccount(bg, "new", "pw", nil), ErrUserIDExists)
	ms.failOnce("create", errors.New("disk full"))
	err = m.CreateAccount(bg, "new", "pw", nil)
	wantErr(t, err, ErrBackendFailed)
	if !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("store message lost: %v", err)
	}
	ok(t, m.CreateAccount(bg, "new", "pw", nil))
	a := must(m.Account("new"))
	defer a.Close()
	ok(t, a.Set("x", 1))
	ms.failOnce("save", errors.New("write failed"))
	wantErr(t, a.Save(bg), ErrBackendFailed)
	if !a.IsModified("x") {
		t.Fatal("a failed save must keep the changes")
	}
	ok(t, a.Save(bg))

	// A backend that is down passes ErrBackendUnavailable through.
	mc.failOnce("load", fmt.Errorf("dial tcp: timeout: %w", ErrBackendUnavailable))
	_, err = m.RetrieveSession(bg, GenerateID())
	wantErr(t, err, ErrBackendUnavailable)
	if !strings.Contains(err.Error(), "dial tcp: timeout") {
		t.Fatalf("unavailable message lost: %v", err)
	}

	if _, err := NewCache(nil); !errors.Is(err, ErrNullArgument) {
		t.Fatal("NewCache(nil)")
	}
	if _, err := NewAccountStore(nil); !errors.Is(err, ErrNullArgument) {
		t.Fatal("NewAccountStore(nil)")
	}
	// Without RemoveUser, log-out-everywhere is unsupported.
	m3 := goManager(t, basicCache{newMemCache(nil)}, newMemStore())
	_, err = m3.ClearSessions(bg, "u")
	wantErr(t, err, ErrUnsupported)
}

// Every callback, made to panic: the call fails with ErrBackendFailed carrying the
// panic message, nothing crashes, and the same manager keeps working.
func TestGoBackendPanics(t *testing.T) {
	clock := newFakeClock()
	mc := newMemCache(clock.Now)
	rc := renewingCache{newMemCache(clock.Now)}
	ms := newMemStore()
	ch := must(NewCache(mc))
	defer ch.Close()
	sh := must(NewAccountStore(ms))
	defer sh.Close()
	m := must(NewManager(ch, sh, cheap, WithClock(clock.Now)))
	defer m.Close()
	mr := goManager(t, rc, newMemStore(), WithClock(clock.Now))

	ok(t, m.CreateAccount(bg, "gina", "pw", nil))
	live := must(m.CreateSession(bg, "gina", true))
	defer live.Close()
	liveR := must(mr.CreateSession(bg, "gina", true))
	defer liveR.Close()

	cases := []struct {
		name string
		arm  func(op string, v any)
		op   string
		call func() error
	}{
		{"cache Store", mc.panicOnce, "store", func() error { _, err := m.CreateSession(bg, "", false); return err }},
		{"cache Load", mc.panicOnce, "load", func() error { _, err := m.RetrieveSession(bg, live.ID()); return err }},
		{"cache Remove", mc.panicOnce, "remove", func() error { return m.RemoveSession(bg, GenerateID()) }},
		{"cache RemoveUser", mc.panicOnce, "remove_user", func() error { _, err := m.ClearSessions(bg, "nobody"); return err }},
		{"cache LoadRenew", rc.panicOnce, "load_renew", func() error { _, err := mr.RetrieveSession(bg, liveR.ID()); return err }},
		{"account store Create", ms.panicOnce, "create", func() error { return m.CreateAccount(bg, "h", "pw", nil) }},
		{"account store Load", ms.panicOnce, "load", func() error { _, err := m.Login(bg, "gina", "pw"); return err }},
		{"account store Save", ms.panicOnce, "save", func() error { _, err := m.GeneratePassword(bg, "gina"); return err }},
		{"account store Remove", ms.panicOnce, "remove", func() error { return sh.Remove(bg, "gina") }},
	}
	for _, c := range cases {
		msg := "boom in " + c.name
		c.arm(c.op, msg)
		err := c.call()
		wantErr(t, err, ErrBackendFailed)
		if !strings.Contains(err.Error(), "panic in Go "+c.name) || !strings.Contains(err.Error(), msg) {
			t.Fatalf("%s: panic message not reported: %v", c.name, err)
		}
		// Still working.
		must(m.RetrieveSession(bg, live.ID())).Close()
		must(mr.RetrieveSession(bg, liveR.ID())).Close()
	}
	must(m.Login(bg, "gina", "pw")).Close()
	ok(t, sh.Remove(bg, "gina"))
	// A panic with an error value, too.
	mc.panicOnce("", fmt.Errorf("typed %w", errors.New("panic")))
	_, err := m.CreateSession(bg, "", false)
	wantErr(t, err, ErrBackendFailed)
}

// The library releases a Go backend (free_user_data deletes its ref) once the
// last native user is gone, so the implementation becomes garbage.
func TestGoBackendReleased(t *testing.T) {
	var cacheGone, storeGone atomic.Bool
	func() {
		mc := newMemCache(nil)
		ms := newMemStore()
		runtime.SetFinalizer(mc, func(*memCache) { cacheGone.Store(true) })
		runtime.SetFinalizer(ms, func(*memStore) { storeGone.Store(true) })
		ch := must(NewCache(mc))
		sh := must(NewAccountStore(ms))
		m := must(NewManager(ch, sh, cheap))
		ok(t, ch.Close())
		ok(t, sh.Close())
		a := must(m.Account("u")) // an account holds the store
		s := must(m.CreateSession(bg, "", false))
		ok(t, s.Close())
		ok(t, m.Close())
		for i := 0; i < 3; i++ {
			runtime.GC()
		}
		if storeGone.Load() {
			t.Fatal("the store was released while an account still used it")
		}
		ok(t, a.Close())
	}()
	deadline := time.Now().Add(5 * time.Second)
	for !(cacheGone.Load() && storeGone.Load()) {
		if time.Now().After(deadline) {
			t.Fatalf("Go backends not released: cache %v store %v", cacheGone.Load(), storeGone.Load())
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
}

// stackGrowingCache makes every Load grow the goroutine stack a lot (so the runtime
// copies it to a larger one) while the library still holds the id it was given.
type stackGrowingCache struct{ *memCache }

//go:noinline
func deep(n int) int {
	var pad [256]byte
	pad[n%256] = byte(n)
	if n == 0 {
		return int(pad[0])
	}
	return deep(n-1) + int(pad[n%256])
}

func (c stackGrowingCache) Load(id string) ([]byte, bool, error) {
	deep(4000) // about 1 MiB of stack
	return c.memCache.Load(id)
}

// Strings handed to the library must not live on a goroutine stack: a callback into
// Go may move that stack while the library still reads them. The id below is built in
// a small local buffer, which escape analysis would otherwise keep on the stack.
func TestStringsSurviveStackGrowthInCallbacks(t *testing.T) {
	m := goManager(t, stackGrowingCache{newMemCache(nil)}, newMemStore())
	for i := 0; i < 50; i++ {
		s := must(m.CreateSession(bg, "", false))
		var buf [22]byte
		copy(buf[:], s.ID())
		id := string(buf[:])
		got := must(m.RetrieveSession(bg, id))
		if got.ID() != s.ID() {
			t.Fatalf("retrieved %q for %q", got.ID(), s.ID())
		}
		got.Close()
		s.Close()
	}
}

// keepingCache remembers every id its Load was given (keeping the strings).
type keepingCache struct {
	*memCache
	mu   sync.Mutex
	seen []string
}

func (c *keepingCache) Load(id string) ([]byte, bool, error) {
	c.mu.Lock()
	c.seen = append(c.seen, id)
	c.mu.Unlock()
	return c.memCache.Load(id)
}

// A Load during RetrieveSession is handed the caller's own id string (no copy): the
// cache may keep it, and what it kept stays the id after the caller's buffer is
// reused and the GC has run.
func TestCachesMayKeepTheIDTheyAreGiven(t *testing.T) {
	c := &keepingCache{memCache: newMemCache(nil)}
	m := goManager(t, c, newMemStore())
	var want []string
	buf := make([]byte, 22)
	for i := 0; i < 20; i++ {
		s := must(m.CreateSession(bg, "", false))
		want = append(want, s.ID())
		copy(buf, s.ID())
		id := string(buf) // a fresh heap string, garbage once the call is done
		got := must(m.RetrieveSession(bg, id))
		got.Close()
		s.Close()
		for j := range buf {
			buf[j] = 'x'
		}
		runtime.GC()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// Each retrieve loads its id (and, renewing through Store, loads it again).
	left := map[string]bool{}
	for _, id := range want {
		left[id] = true
	}
	for i, id := range c.seen {
		if !strings.Contains(strings.Join(want, " "), id) || len(id) != 22 {
			t.Fatalf("kept id %d is %q, not one of the ids retrieved", i, id)
		}
		delete(left, id)
	}
	if len(left) != 0 {
		t.Fatalf("%d retrieved ids never reached Load", len(left))
	}
}
