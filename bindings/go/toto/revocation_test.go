package toto

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// revocationManagers: the built-in memory cache, a Go cache without StoreIf (the
// library's emulated check), one with StoreIf (the vtable's store_if) and Redis.
func revocationManagers(t *testing.T, opts ...Option) map[string]*Manager {
	redis := must(NewRedisCache(startRedis(t), nil))
	store := must(NewMemoryAccountStore())
	rm := must(NewManager(redis, store, append([]Option{cheap}, opts...)...))
	redis.Close()
	store.Close()
	t.Cleanup(func() { rm.Close() })
	return map[string]*Manager{
		"memory": memManager(t, opts...),
		"go":     goManager(t, newMemCache(nil), newMemStore(), opts...),
		"go-if":  goManager(t, newCondCache(), newMemStore(), opts...),
		"redis":  rm,
	}
}

// A handle retrieved before a logout, rotation, clear or password change cannot save
// the session back.
func TestRevocationSticks(t *testing.T) {
	for name, m := range revocationManagers(t) {
		t.Run(name, func(t *testing.T) {
			ok(t, m.CreateAccount(bg, "alice", "pw", nil))
			revoked := func(how string, id string, stale *Session) {
				t.Helper()
				ok(t, stale.Set("cart", 99))
				wantErr(t, m.SaveSession(bg, stale), ErrSessionRevoked)
				if !stale.IsDirty() {
					t.Fatalf("%s: the refused change was dropped", how)
				}
				_, err := m.RetrieveSession(bg, id)
				wantErr(t, err, ErrInvalidSessionID)
				wantErr(t, m.UpdateSession(bg, id, func(*Session) error { return nil }), ErrInvalidSessionID)
			}
			login := func() (string, *Session) {
				s := must(m.Login(bg, "alice", "pw"))
				return s.ID(), must(m.RetrieveSession(bg, s.ID()))
			}

			id, stale := login()
			ok(t, m.RemoveSession(bg, id))
			revoked("logout", id, stale)

			id, stale = login()
			current := must(m.RetrieveSession(bg, id))
			ok(t, m.RotateSession(bg, current))
			revoked("rotation", id, stale)
			must(m.RetrieveSession(bg, current.ID()))

			id, stale = login()
			must(m.ClearSessions(bg, "alice"))
			revoked("clear", id, stale)

			id, stale = login()
			_, kept := login()
			ok(t, m.ChangePassword(bg, "alice", "pw", "pw2", kept))
			revoked("password change", id, stale)
			ok(t, m.ChangePassword(bg, "alice", "pw2", "pw", nil))
		})
	}
}

func TestConflictsAndLastWriterWins(t *testing.T) {
	for name, m := range revocationManagers(t) {
		t.Run(name, func(t *testing.T) {
			s := must(m.CreateSession(bg, "", false))
			a := must(m.RetrieveSession(bg, s.ID()))
			b := must(m.RetrieveSession(bg, s.ID()))
			ok(t, a.Set("who", "a"))
			ok(t, m.SaveSession(bg, a))
			ok(t, b.Set("who", "b"))
			err := m.SaveSession(bg, b)
			wantErr(t, err, ErrConflict)
			if CodeOf(err) != CodeConflict || CodeConflict.String() == "unknown result code" {
				t.Fatalf("code %d %q", CodeOf(err), CodeConflict.String())
			}
			if got := must(must(m.RetrieveSession(bg, s.ID())).GetString("who")); got != "a" {
				t.Fatalf("who = %q, want a", got)
			}
		})
	}
	for name, m := range revocationManagers(t, WithLastWriterWins()) {
		t.Run(name+"/last-writer-wins", func(t *testing.T) {
			s := must(m.CreateSession(bg, "", false))
			a := must(m.RetrieveSession(bg, s.ID()))
			b := must(m.RetrieveSession(bg, s.ID()))
			ok(t, a.Set("who", "a"))
			ok(t, m.SaveSession(bg, a))
			ok(t, b.Set("who", "b"))
			ok(t, m.SaveSession(bg, b))
			if got := must(must(m.RetrieveSession(bg, s.ID())).GetString("who")); got != "b" {
				t.Fatalf("who = %q, want b", got)
			}
			ok(t, m.RemoveSession(bg, s.ID()))
			ok(t, b.Set("who", "c"))
			wantErr(t, m.SaveSession(bg, b), ErrSessionRevoked)
		})
	}
}

// N goroutines add one to one counter through UpdateSession: none is lost.
func TestUpdateSessionLosesNoIncrement(t *testing.T) {
	for name, m := range revocationManagers(t) {
		t.Run(name, func(t *testing.T) {
			s := must(m.CreateSession(bg, "", false))
			ok(t, s.SetInt64("n", 0))
			ok(t, m.SaveSession(bg, s))
			const workers, each = 8, 50
			var wg sync.WaitGroup
			var calls atomic.Int64
			errs := make(chan error, workers)
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < each; i++ {
						err := m.UpdateSession(bg, s.ID(), func(s *Session) error {
							calls.Add(1)
							n, err := s.GetInt64("n")
							if err != nil {
								return err
							}
							return s.SetInt64("n", n+1)
						})
						// Under heavy contention a loop may still run out of attempts:
						// that is reported, and then retried here.
						if errors.Is(err, ErrConflict) {
							i--
							continue
						}
						if err != nil {
							errs <- err
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			got := must(must(m.RetrieveSession(bg, s.ID())).GetInt64("n"))
			if got != workers*each {
				t.Fatalf("counter %d, want %d", got, workers*each)
			}
			t.Logf("%d changes applied for %d increments", calls.Load(), workers*each)
		})
	}
}

func TestUpdateSessionStopsOnTheChangesError(t *testing.T) {
	m := memManager(t)
	s := must(m.CreateSession(bg, "", false))
	boom := fmt.Errorf("boom")
	if err := m.UpdateSession(bg, s.ID(), func(*Session) error { return boom }); err != boom {
		t.Fatalf("got %v", err)
	}
	// Every attempt conflicts: another save lands inside the change.
	attempts := 0
	err := m.UpdateSession(bg, s.ID(), func(mine *Session) error {
		attempts++
		other := must(m.RetrieveSession(bg, s.ID()))
		ok(t, other.SetInt64("other", int64(attempts)))
		ok(t, m.SaveSession(bg, other))
		return mine.SetInt64("mine", 1)
	})
	wantErr(t, err, ErrConflict)
	if attempts != DefaultUpdateAttempts {
		t.Fatalf("%d attempts, want %d", attempts, DefaultUpdateAttempts)
	}
}

// condCache is a Go cache with StoreIf: the check and the write under one lock, the
// revision kept beside each entry (the vtable's store_if path, version 3).
type condCache struct {
	*memCache
	revs    map[string]uint64
	storeIf atomic.Int64
}

func newCondCache() *condCache {
	return &condCache{memCache: newMemCache(nil), revs: map[string]uint64{}}
}

func (c *condCache) StoreIf(id, userID string, expires time.Time, record []byte, mode StoreMode,
	expected, revision uint64) (string, error) {
	c.storeIf.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	e, live := c.entries[id]
	live = live && e.expires.After(c.now())
	switch mode {
	case StoreCreateNew:
		if live {
			return "", ErrIDCollision
		}
	case StoreIfRevision:
		if !live {
			return "", ErrSessionRevoked
		}
		if c.revs[id] != expected {
			return "", ErrConflict
		}
	case StoreIfExists:
		if !live {
			return "", ErrSessionRevoked
		}
	}
	c.entries[id] = memEntry{userID, expires, record}
	c.revs[id] = revision
	return "", nil
}

// A Go cache with StoreIf gets every store through it: a stale save after a logout is
// revoked, a save over a newer revision is a conflict, and the plain Store is never
// called.
func TestGoCacheStoreIf(t *testing.T) {
	cache := newCondCache()
	m := goManager(t, cache, newMemStore())
	ok(t, m.CreateAccount(bg, "dora", "pw", nil))
	s := must(m.Login(bg, "dora", "pw"))
	a := must(m.RetrieveSession(bg, s.ID()))
	b := must(m.RetrieveSession(bg, s.ID()))
	ok(t, a.Set("n", 1))
	ok(t, m.SaveSession(bg, a))
	ok(t, b.Set("n", 2))
	wantErr(t, m.SaveSession(bg, b), ErrConflict)
	ok(t, m.UpdateSession(bg, s.ID(), func(x *Session) error { return x.Set("n", 3) }))
	ok(t, m.RemoveSession(bg, s.ID()))
	ok(t, a.Set("n", 4))
	wantErr(t, m.SaveSession(bg, a), ErrSessionRevoked)
	if cache.storeIf.Load() < 4 {
		t.Fatalf("StoreIf was called %d times", cache.storeIf.Load())
	}
	if n := cache.count("store"); n != 0 {
		t.Fatalf("Store was called %d times with StoreIf present", n)
	}
}

// WithMaxSessionsPerUser: a login beyond the cap removes the user's oldest session; a
// Go cache cannot trim, so a capped manager over it refuses a user's login.
func TestMaxSessionsPerUser(t *testing.T) {
	m := memManager(t, WithMaxSessionsPerUser(2))
	ok(t, m.CreateAccount(bg, "lou", "pw", nil))
	var ids []string
	for i := 0; i < 3; i++ {
		time.Sleep(2 * time.Millisecond)
		s := must(m.Login(bg, "lou", "pw"))
		ids = append(ids, s.ID())
		s.Close()
	}
	_, err := m.RetrieveSession(bg, ids[0])
	wantErr(t, err, ErrInvalidSessionID)
	for _, id := range ids[1:] {
		must(m.RetrieveSession(bg, id)).Close()
	}
	g := goManager(t, newMemCache(nil), newMemStore(), WithMaxSessionsPerUser(2))
	ok(t, g.CreateAccount(bg, "lou", "pw", nil))
	_, err = g.Login(bg, "lou", "pw")
	wantErr(t, err, ErrUnsupported)
}
