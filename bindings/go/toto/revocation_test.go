package toto

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// revocationManagers: the built-in memory cache, a Go cache (a vtable without
// store_if: the library's emulated check) and Redis.
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
