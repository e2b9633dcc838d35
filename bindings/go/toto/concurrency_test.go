package toto

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// One Manager used from many goroutines at once: create, set, save, retrieve, verify,
// rotate, remove. Run with -race.
func TestConcurrentManager(t *testing.T) {
	for _, kind := range []string{"memory", "go"} {
		t.Run(kind, func(t *testing.T) {
			var m *Manager
			if kind == "memory" {
				m = memManager(t)
			} else {
				m = goManager(t, newMemCache(nil), newMemStore())
			}
			ok(t, m.CreateAccount(bg, "shared", "pw", nil))
			const workers, rounds = 16, 150
			var wg sync.WaitGroup
			errs := make(chan error, workers)
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					errs <- worker(m, w, rounds)
				}(w)
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			if n := must(m.ClearSessions(bg, "shared")); n != workers {
				t.Fatalf("%d sessions of the shared user left, want %d", n, workers)
			}
		})
	}
}

func worker(m *Manager, w, rounds int) error {
	user := fmt.Sprintf("user%d", w%4)
	for i := 0; i < rounds; i++ {
		s, err := m.CreateSession(bg, user, true)
		if err != nil {
			return err
		}
		if err := s.Set("n", i); err != nil {
			return err
		}
		if err := s.Set("who", map[string]int{"w": w, "i": i}); err != nil {
			return err
		}
		if err := m.SaveSession(bg, s); err != nil {
			return err
		}
		body := []byte(fmt.Sprintf(`{"w":%d}`, w))
		mac, err := s.SignRequest("POST", "/", body)
		if err != nil {
			return err
		}
		r, err := m.VerifyRequest(bg, s.ID(), mac, "POST", "/", body)
		if err != nil {
			return err
		}
		var n int
		var who map[string]int
		if err := r.Get("n", &n); err != nil || n != i {
			return fmt.Errorf("worker %d: n = %d, %v", w, n, err)
		}
		if err := r.Get("who", &who); err != nil || who["w"] != w || who["i"] != i {
			return fmt.Errorf("worker %d: who = %v, %v", w, who, err)
		}
		if i%10 == 0 {
			if err := m.RotateSession(bg, r); err != nil {
				return err
			}
		}
		if err := m.RemoveSession(bg, r.ID()); err != nil {
			return err
		}
		if _, err := m.RetrieveSession(bg, r.ID()); !isCode(err, CodeInvalidSessionID) {
			return fmt.Errorf("removed session still retrievable: %v", err)
		}
		r.Close()
		if i%3 == 0 {
			s.Close() // the others are left to the finalizer
		}
	}
	// Leave one live session of the shared user per worker.
	_, err := m.CreateSession(bg, "shared", false)
	return err
}

func isCode(err error, c Code) bool { return err != nil && CodeOf(err) == c }

// One Session shared by goroutines: the Go wrapper serializes access.
func TestConcurrentSession(t *testing.T) {
	s := must(NewSession("u", time.Now().Add(time.Hour)))
	defer s.Close()
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			key := fmt.Sprintf("k%d", g)
			for i := 0; i < 500; i++ {
				_ = s.Set(key, i)
				var n int
				_ = s.Get(key, &n)
				_ = s.Keys()
				_ = s.ID()
			}
		}(g)
	}
	wg.Wait()
	if s.Len() != 8 {
		t.Fatalf("Len %d", s.Len())
	}
	// Close while others still use it: their calls after Close fail cleanly.
	var wg2 sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg2.Add(1)
		go func() {
			defer wg2.Done()
			for i := 0; i < 200; i++ {
				if err := s.Set("x", i); err != nil && !isCode(err, CodeInvalidHandle) {
					t.Error(err)
					return
				}
			}
		}()
	}
	s.Close()
	wg2.Wait()
}
