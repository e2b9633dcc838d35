package toto

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// backends runs f against a manager over the built-in memory backends and over Go
// backends, both on the same fake clock.
func backends(t *testing.T, f func(t *testing.T, m *Manager, clock *fakeClock)) {
	t.Run("memory", func(t *testing.T) {
		clock := newFakeClock()
		cache := must(NewMemoryCacheWithClock(clock.Now))
		store := must(NewMemoryAccountStore())
		m := must(NewManager(cache, store, cheap, WithClock(clock.Now)))
		cache.Close()
		store.Close()
		defer m.Close()
		f(t, m, clock)
	})
	t.Run("go", func(t *testing.T) {
		clock := newFakeClock()
		f(t, goManager(t, newMemCache(clock.Now), newMemStore(), WithClock(clock.Now)), clock)
	})
	t.Run("go-renewing", func(t *testing.T) {
		clock := newFakeClock()
		f(t, goManager(t, renewingCache{newMemCache(clock.Now)}, newMemStore(), WithClock(clock.Now)), clock)
	})
}

const year = 365 * 24 * time.Hour

func TestManagerAccountsAndLogin(t *testing.T) {
	backends(t, func(t *testing.T, m *Manager, clock *fakeClock) {
		ok(t, m.CreateAccount(bg, "Alice", "pw", map[string]any{"email": "a@example.com", "age": 30}))
		wantErr(t, m.CreateAccount(bg, "ALICE", "x", nil), ErrUserIDExists)
		wantErr(t, m.CreateAccount(bg, "", "x", nil), ErrInvalidUserID)
		wantErr(t, m.CreateAccount(bg, "p", "x", map[string]any{"password": "x"}), ErrInvalidArgument)
		wantErr(t, m.CreateAccount(bg, "q", "x", []int{1}), ErrInvalidJSON)
		wantErr(t, m.CreateAccount(bg, "r", "x", func() {}), ErrInvalidJSON)
		ok(t, m.CreateAccount(bg, "raw", "x", json.RawMessage(`{"k":1}`)))
		ok(t, m.CreateAccount(bg, "nilmap", "x", map[string]any(nil)))

		_, err := m.Login(bg, "alice", "wrong")
		wantErr(t, err, ErrInvalidCredentials)
		_, err = m.Login(bg, "nobody", "pw")
		wantErr(t, err, ErrInvalidCredentials)
		s := must(m.Login(bg, "ALICE", "pw"))
		defer s.Close()
		key, has := s.Key()
		if !has || len(key) != 22 || s.UserID() != "alice" || !s.Expires().Equal(clock.Now().Add(year)) {
			t.Fatalf("login session: key %q user %q expires %v", key, s.UserID(), s.Expires())
		}

		acc := must(m.SessionAccount(s))
		defer acc.Close()
		var email string
		var age int
		ok(t, acc.Get(bg, "email", &email))
		ok(t, acc.Get(bg, "age", &age))
		if email != "a@example.com" || age != 30 || acc.UserID() != "alice" {
			t.Fatal("account values")
		}
		anon := must(m.CreateSession(bg, "", false))
		defer anon.Close()
		_, err = m.SessionAccount(anon)
		wantErr(t, err, ErrNotAuthorized)
		_, err = m.Account("")
		wantErr(t, err, ErrInvalidUserID)
		ghost := must(m.Account("ghost"))
		wantErr(t, ghost.Get(bg, "email", &email), ErrInvalidCredentials)
		ghost.Close()

		// Password changes: the current session stays logged in under a fresh id, the
		// others are logged out.
		other := must(m.Login(bg, "alice", "pw"))
		defer other.Close()
		wantErr(t, m.ChangePassword(bg, "alice", "bad", "pw2", s), ErrInvalidCredentials)
		oldID := s.ID()
		ok(t, m.ChangePassword(bg, "alice", "pw", "pw2", s))
		if s.ID() == oldID {
			t.Fatal("the current session keeps its old id")
		}
		must(m.RetrieveSession(bg, s.ID())).Close()
		_, err = m.RetrieveSession(bg, other.ID())
		wantErr(t, err, ErrInvalidSessionID)
		_, err = m.Login(bg, "alice", "pw")
		wantErr(t, err, ErrInvalidCredentials)
		must(m.Login(bg, "alice", "pw2")).Close()
		ok(t, m.ChangePassword(bg, "alice", "pw2", "pw3", nil))

		gen := must(m.GeneratePassword(bg, "alice"))
		if len(gen) != 10 {
			t.Fatalf("generated %q", gen)
		}
		must(m.Login(bg, "alice", gen)).Close()
		_, err = m.GeneratePassword(bg, "nobody")
		wantErr(t, err, ErrInvalidCredentials)
	})
}

func TestManagerSessions(t *testing.T) {
	backends(t, func(t *testing.T, m *Manager, clock *fakeClock) {
		anon := must(m.CreateSession(bg, "", false))
		defer anon.Close()
		if _, has := anon.Key(); has || !anon.Expires().Equal(clock.Now().Add(24*time.Hour)) {
			t.Fatal("anonymous session: no key, one day")
		}
		s := must(m.CreateSession(bg, "Bob", true))
		defer s.Close()
		if _, has := s.Key(); !has || s.UserID() != "bob" {
			t.Fatal("keyed user session")
		}
		ok(t, s.Set("cart", []string{"apple"}))
		ok(t, m.SaveSession(bg, s))
		if s.IsDirty() {
			t.Fatal("saved session is dirty")
		}
		ok(t, m.SaveSession(bg, s)) // clean: nothing written

		// Renewal: retrieving five days later slides the expiry (past the default
		// granularity, 1 % of the year: 3.65 days).
		clock.Advance(5 * 24 * time.Hour)
		r := must(m.RetrieveSession(bg, s.ID()))
		var cart []string
		ok(t, r.Get("cart", &cart))
		if len(cart) != 1 || !r.Expires().Equal(clock.Now().Add(year)) {
			t.Fatalf("retrieved %v expiring %v", cart, r.Expires())
		}
		// Refresh: s sees what r saved.
		ok(t, r.Set("cart", []string{"apple", "pear"}))
		ok(t, m.SaveSession(bg, r))
		ok(t, m.RefreshSession(bg, s))
		ok(t, s.Get("cart", &cart))
		if len(cart) != 2 {
			t.Fatal("RefreshSession")
		}
		r.Close()

		// Rotation.
		old := s.ID()
		ok(t, m.RotateSession(bg, s))
		if s.ID() == old {
			t.Fatal("RotateSession kept the id")
		}
		_, err := m.RetrieveSession(bg, old)
		wantErr(t, err, ErrInvalidSessionID)
		must(m.RetrieveSession(bg, s.ID())).Close()

		// Logout.
		ok(t, m.RemoveSession(bg, s.ID()))
		ok(t, m.RemoveSession(bg, s.ID()))
		_, err = m.RetrieveSession(bg, s.ID())
		wantErr(t, err, ErrInvalidSessionID)
		wantErr(t, m.RefreshSession(bg, s), ErrInvalidSessionID)
		_, err = m.RetrieveSession(bg, "not a valid id")
		wantErr(t, err, ErrInvalidSessionID)
		wantErr(t, m.RemoveSession(bg, ""), ErrInvalidSessionID)

		// Expiry: the anonymous session is gone after a day without requests.
		clock.Advance(25 * time.Hour)
		_, err = m.RetrieveSession(bg, anon.ID())
		wantErr(t, err, ErrInvalidSessionID)

		// Log out everywhere.
		for i := 0; i < 3; i++ {
			must(m.CreateSession(bg, "carol", false)).Close()
		}
		if n := must(m.ClearSessions(bg, "Carol")); n != 3 {
			t.Fatalf("ClearSessions removed %d", n)
		}

		ctx, cancel := context.WithCancel(bg)
		cancel()
		if _, err := m.CreateSession(ctx, "", false); !errors.Is(err, context.Canceled) {
			t.Fatalf("canceled context: %v", err)
		}
		if err := m.SaveSession(ctx, anon); !errors.Is(err, context.Canceled) {
			t.Fatalf("canceled context: %v", err)
		}
	})
}

func TestManagerVerifyRequest(t *testing.T) {
	backends(t, func(t *testing.T, m *Manager, clock *fakeClock) {
		s := must(m.CreateSession(bg, "dave", true))
		defer s.Close()
		body := []byte(`{"method":"state.get","parameters":{"key":"k"}}`)
		mac := must(s.SignRequest("POST", "/api?x=1", body))
		clock.Advance(5 * 24 * time.Hour)
		v := must(m.VerifyRequest(bg, s.ID(), mac, "POST", "/api?x=1", body))
		if v.ID() != s.ID() || !v.Expires().Equal(clock.Now().Add(year)) {
			t.Fatal("verified session not renewed")
		}
		v.Close()
		_, err := m.VerifyRequest(bg, s.ID(), mac, "POST", "/api?x=2", body)
		wantErr(t, err, ErrInvalidHMAC)
		_, err = m.VerifyRequest(bg, s.ID(), "", "POST", "/api?x=1", body)
		wantErr(t, err, ErrInvalidHMAC)
		_, err = m.VerifyRequest(bg, GenerateID(), mac, "POST", "/api?x=1", body)
		wantErr(t, err, ErrInvalidSessionID)
		anon := must(m.CreateSession(bg, "", false))
		defer anon.Close()
		_, err = m.VerifyRequest(bg, anon.ID(), mac, "POST", "/api?x=1", body)
		wantErr(t, err, ErrInvalidHMAC)
	})
}

func TestManagerFinishResponse(t *testing.T) {
	backends(t, func(t *testing.T, m *Manager, clock *fakeClock) {
		body := []byte(`{"result":1}`)
		s := must(m.CreateSession(bg, "erin", true))
		defer s.Close()
		want := must(s.SignResponse(body))
		if mac := must(m.FinishResponse(bg, s, body)); mac != want {
			t.Fatalf("unchanged: mac %q, want %q", mac, want)
		}
		ok(t, s.SetInt64("n", 7))
		if mac := must(m.FinishResponse(bg, s, body)); mac != want || s.IsDirty() {
			t.Fatalf("changed: mac %q, dirty %v", mac, s.IsDirty())
		}
		stored := must(m.RetrieveSession(bg, s.ID()))
		if n := must(stored.GetInt64("n")); n != 7 {
			t.Fatalf("saved n = %d", n)
		}
		stored.Close()
		plain := must(m.CreateSession(bg, "erin", false))
		defer plain.Close()
		ok(t, plain.SetInt64("n", 1))
		if mac := must(m.FinishResponse(bg, plain, body)); mac != "" || plain.IsDirty() {
			t.Fatalf("keyless: mac %q (want none), dirty %v", mac, plain.IsDirty())
		}
		// a failed save signs nothing and keeps the change
		ok(t, m.RemoveSession(bg, s.ID()))
		ok(t, s.SetInt64("n", 8))
		mac, err := m.FinishResponse(bg, s, body)
		wantErr(t, err, ErrSessionRevoked)
		if mac != "" || !s.IsDirty() {
			t.Fatalf("after a failed save: mac %q, dirty %v", mac, s.IsDirty())
		}
		s.Close()
		_, err = m.FinishResponse(bg, s, body)
		wantErr(t, err, ErrClosed)
	})
}

func TestManagerOptions(t *testing.T) {
	c := must(NewMemoryCache())
	defer c.Close()
	st := must(NewMemoryAccountStore())
	defer st.Close()
	_, err := NewManager(c, st, WithSessionTTL(0))
	wantErr(t, err, ErrInvalidArgument)
	_, err = NewManager(c, st, WithPasswordCost(0, 0, 0))
	wantErr(t, err, ErrInvalidArgument)
	_, err = NewManager(c, st, WithSessionRenew(-time.Second))
	wantErr(t, err, ErrInvalidArgument)

	clock := newFakeClock()
	cc := must(NewMemoryCacheWithClock(clock.Now))
	defer cc.Close()
	m := must(NewManager(cc, st, cheap, WithClock(clock.Now), WithSessionTTL(time.Hour),
		WithAnonSessionTTL(time.Minute), WithSessionRenew(10*time.Minute), WithAnonSessionRenew(30*time.Second)))
	defer m.Close()
	u := must(m.CreateSession(bg, "u", false))
	a := must(m.CreateSession(bg, "", false))
	if !u.Expires().Equal(clock.Now().Add(time.Hour)) || !a.Expires().Equal(clock.Now().Add(time.Minute)) {
		t.Fatalf("TTLs: %v %v", u.Expires(), a.Expires())
	}
	// Renewal only when the expiry is inside the window.
	clock.Advance(40 * time.Minute) // 20 minutes left, window 10: no renewal
	r := must(m.RetrieveSession(bg, u.ID()))
	if !r.Expires().Equal(u.Expires()) {
		t.Fatal("renewed outside the window")
	}
	clock.Advance(15 * time.Minute) // 5 minutes left: renewed to now + 10 minutes
	r = must(m.RetrieveSession(bg, u.ID()))
	if !r.Expires().Equal(clock.Now().Add(10 * time.Minute)) {
		t.Fatalf("not renewed: %v", r.Expires())
	}
	_, err = m.RetrieveSession(bg, a.ID())
	wantErr(t, err, ErrInvalidSessionID)

	// A panicking clock falls back to the wall clock instead of crashing.
	wall := must(NewManager(c, st, cheap, WithClock(func() time.Time { panic("clock broke") })))
	defer wall.Close()
	s := must(wall.CreateSession(bg, "", false))
	if d := time.Until(s.Expires()); d < 23*time.Hour || d > 25*time.Hour {
		t.Fatalf("fallback clock: expires in %v", d)
	}
}

func TestLegacyPasswordUpgrade(t *testing.T) {
	v := loadVectors(t)
	store := newMemStore()
	m := goManager(t, newMemCache(nil), store)
	for i, h := range v.LegacyPasswordHashes {
		user := "legacy" + string(rune('a'+i))
		store.accounts[user] = map[string][]byte{"password": cborText(h.Hash)}
		_, err := m.Login(bg, user, h.WrongPassword)
		wantErr(t, err, ErrInvalidCredentials)
		must(m.Login(bg, user, h.Password)).Close()
		upgraded := string(store.prop(user, "password"))
		if !strings.Contains(upgraded, "$argon2id$") {
			t.Fatalf("hash not upgraded: %q", upgraded)
		}
		must(m.Login(bg, user, h.Password)).Close()
	}
}

// Issue 19: the generic setters refuse the password property; a hash from another
// system is imported with SetPasswordHash, which checks it.
func TestPasswordHashImport(t *testing.T) {
	v := loadVectors(t)
	store := newMemStore()
	m := goManager(t, newMemCache(nil), store)
	ok(t, m.CreateAccount(bg, "migrated", "temporary", nil))
	a := must(m.Account("migrated"))
	defer a.Close()
	wantErr(t, a.Set("password", v.LegacyPasswordHashes[0].Hash), ErrInvalidArgument)
	wantErr(t, a.SetPasswordHash("plain text"), ErrInvalidArgument)
	ok(t, a.SetPasswordHash(v.LegacyPasswordHashes[0].Hash))
	if !a.IsModified("password") {
		t.Fatal("password not marked modified")
	}
	ok(t, a.Save(bg))
	_, err := m.Login(bg, "migrated", "temporary")
	wantErr(t, err, ErrInvalidCredentials)
	must(m.Login(bg, "migrated", v.LegacyPasswordHashes[0].Password)).Close()
	if upgraded := string(store.prop("migrated", "password")); !strings.Contains(upgraded, "$argon2id$") {
		t.Fatalf("hash not upgraded: %q", upgraded)
	}
}

func TestRenewGranularity(t *testing.T) {
	clock := newFakeClock()
	cache := must(NewMemoryCacheWithClock(clock.Now))
	defer cache.Close()
	store := must(NewMemoryAccountStore())
	defer store.Close()
	for _, bad := range []float64{-0.5, 1.5} {
		_, err := NewManager(cache, store, cheap, WithRenewGranularity(bad))
		wantErr(t, err, ErrInvalidArgument)
	}
	// The default (1 % of the year): an hour later the expiry stays, no write.
	m := must(NewManager(cache, store, cheap, WithClock(clock.Now)))
	defer m.Close()
	s := must(m.CreateSession(bg, "gus", false))
	defer s.Close()
	created := s.Expires()
	clock.Advance(time.Hour)
	r := must(m.RetrieveSession(bg, s.ID()))
	if !r.Expires().Equal(created) {
		t.Fatalf("moved within the granularity: %v", r.Expires())
	}
	r.Close()
	// Granularity 0 (Toto's rule): every retrieve slides it.
	m0 := must(NewManager(cache, store, cheap, WithClock(clock.Now), WithRenewGranularity(0)))
	defer m0.Close()
	r = must(m0.RetrieveSession(bg, s.ID()))
	if !r.Expires().Equal(clock.Now().Add(year)) {
		t.Fatalf("not renewed with granularity 0: %v", r.Expires())
	}
	r.Close()
}
