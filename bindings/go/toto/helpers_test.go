package toto

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var bg = context.Background()

// fakeClock is a settable clock shared by a memory cache and a manager.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// cheap Argon2 costs keep password tests fast.
var cheap = WithPasswordCost(8, 1, 1)

// memCache is a Go Cache: a map guarded by a mutex, expiry checked on a clock, a user
// index, and fault injection (errors and panics) per operation.
type memCache struct {
	mu      sync.Mutex
	now     func() time.Time
	entries map[string]memEntry
	calls   map[string]int

	faults
	rename atomic.Bool // Store hands back a new id
}

// faults injects one error or one panic into the next backend operation named op
// ("" = whichever comes first).
type faults struct {
	fmu      sync.Mutex
	failOp   string
	failNext error
	panicOp  string
	panicVal any
}

func (f *faults) failOnce(op string, err error) {
	f.fmu.Lock()
	f.failOp, f.failNext = op, err
	f.fmu.Unlock()
}

func (f *faults) panicOnce(op string, v any) {
	f.fmu.Lock()
	f.panicOp, f.panicVal = op, v
	f.fmu.Unlock()
}

func (f *faults) fire(op string) error {
	f.fmu.Lock()
	var p any
	var err error
	if f.panicVal != nil && (f.panicOp == "" || f.panicOp == op) {
		p, f.panicVal = f.panicVal, nil
	}
	if f.failNext != nil && (f.failOp == "" || f.failOp == op) {
		err, f.failNext = f.failNext, nil
	}
	f.fmu.Unlock()
	if p != nil {
		panic(p)
	}
	return err
}

type memEntry struct {
	user    string
	expires time.Time
	record  []byte
}

func newMemCache(now func() time.Time) *memCache {
	if now == nil {
		now = time.Now
	}
	return &memCache{now: now, entries: map[string]memEntry{}, calls: map[string]int{}}
}

func (c *memCache) inject(op string) error {
	c.mu.Lock()
	c.calls[op]++
	c.mu.Unlock()
	return c.fire(op)
}

func (c *memCache) count(op string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[op]
}

func (c *memCache) Store(id, userID string, expires time.Time, record []byte, createNew bool) (string, error) {
	if err := c.inject("store"); err != nil {
		return "", err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[id]; ok && createNew && e.expires.After(c.now()) {
		return "", fmt.Errorf("id %s is live: %w", id, ErrIDCollision)
	}
	if c.rename.Load() && !createNew {
		delete(c.entries, id)
		id = "renamed-" + GenerateID()
		c.entries[id] = memEntry{userID, expires, record}
		return id, nil
	}
	c.entries[id] = memEntry{userID, expires, record}
	return "", nil
}

func (c *memCache) Load(id string) ([]byte, bool, error) {
	if err := c.inject("load"); err != nil {
		return nil, false, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[id]
	if !ok || !e.expires.After(c.now()) {
		return nil, false, nil
	}
	return e.record, true, nil
}

func (c *memCache) Remove(id string) error {
	if err := c.inject("remove"); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, id)
	return nil
}

func (c *memCache) RemoveUser(userID string) (uint64, error) {
	if err := c.inject("remove_user"); err != nil {
		return 0, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var n uint64
	for id, e := range c.entries {
		if e.user == userID {
			delete(c.entries, id)
			n++
		}
	}
	return n, nil
}

func (c *memCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// renewingCache adds LoadRenew to memCache.
type renewingCache struct{ *memCache }

func (c renewingCache) LoadRenew(id string, userTo, anonTo time.Time) ([]byte, time.Time, bool, error) {
	if err := c.inject("load_renew"); err != nil {
		return nil, time.Time{}, false, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[id]
	if !ok || !e.expires.After(c.now()) {
		return nil, time.Time{}, false, nil
	}
	target := userTo
	if e.user == "" {
		target = anonTo
	}
	if !target.IsZero() && e.expires.Before(target) {
		e.expires = target
		c.entries[id] = e
	}
	return e.record, e.expires, true, nil
}

// basicCache is a Cache with only the required methods.
type basicCache struct{ c *memCache }

func (b basicCache) Store(id, u string, exp time.Time, rec []byte, cn bool) (string, error) {
	return b.c.Store(id, u, exp, rec, cn)
}
func (b basicCache) Load(id string) ([]byte, bool, error) { return b.c.Load(id) }
func (b basicCache) Remove(id string) error               { return b.c.Remove(id) }

// memStore is a Go AccountStore with fault injection.
type memStore struct {
	mu       sync.Mutex
	accounts map[string]map[string][]byte
	loads    [][]string
	saves    []map[string][]byte
	faults
}

func newMemStore() *memStore { return &memStore{accounts: map[string]map[string][]byte{}} }

func (s *memStore) inject(op string) error { return s.fire(op) }

func (s *memStore) Load(user string, names []string) (map[string][]byte, bool, error) {
	if err := s.inject("load"); err != nil {
		return nil, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loads = append(s.loads, names)
	acc, ok := s.accounts[user]
	if !ok {
		return nil, false, nil
	}
	out := map[string][]byte{}
	for k, v := range acc {
		if names == nil {
			out[k] = v
			continue
		}
		for _, n := range names {
			if n == k {
				out[k] = v
			}
		}
	}
	return out, true, nil
}

func (s *memStore) Save(user string, props map[string][]byte) error {
	if err := s.inject("save"); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	acc, ok := s.accounts[user]
	if !ok {
		return ErrNotFound
	}
	s.saves = append(s.saves, props)
	for k, v := range props {
		acc[k] = v
	}
	return nil
}

func (s *memStore) Create(user string, props map[string][]byte) error {
	if err := s.inject("create"); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.accounts[user]; ok {
		return ErrUserIDExists
	}
	s.accounts[user] = props
	return nil
}

func (s *memStore) Remove(user string) error {
	if err := s.inject("remove"); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.accounts[user]; !ok {
		return ErrNotFound
	}
	delete(s.accounts, user)
	return nil
}

func (s *memStore) prop(user, name string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accounts[user][name]
}

// basicStore is an AccountStore without Remove.
type basicStore struct{ s *memStore }

func (b basicStore) Load(u string, n []string) (map[string][]byte, bool, error) {
	return b.s.Load(u, n)
}
func (b basicStore) Save(u string, p map[string][]byte) error   { return b.s.Save(u, p) }
func (b basicStore) Create(u string, p map[string][]byte) error { return b.s.Create(u, p) }

// cborText is s as one CBOR text item, encoded by the library (the package has no
// CBOR code of its own).
func cborText(s string) []byte {
	sess, err := NewSession("", time.Now().Add(time.Hour))
	if err != nil {
		panic(err)
	}
	defer sess.Close()
	if err := sess.Set("v", s); err != nil {
		panic(err)
	}
	b, err := sess.GetCBOR("v")
	if err != nil {
		panic(err)
	}
	return b
}

// must returns v, or panics (failing the test run) on err: for setup steps.
func must[T any](v T, err error) T {
	if err != nil {
		panic(fmt.Sprintf("unexpected error: %v", err))
	}
	return v
}

func ok(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

func wantErr(t testing.TB, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("got error %v, want %v", err, target)
	}
}

// memManager is a manager over the built-in memory cache and store.
func memManager(t testing.TB, opts ...Option) *Manager {
	t.Helper()
	cache := must(NewMemoryCache())
	store := must(NewMemoryAccountStore())
	m := must(NewManager(cache, store, append([]Option{cheap}, opts...)...))
	cache.Close()
	store.Close()
	t.Cleanup(func() { m.Close() })
	return m
}

// goManager is a manager over Go backends.
func goManager(t testing.TB, cache Cache, store AccountStore, opts ...Option) *Manager {
	t.Helper()
	ch := must(NewCache(cache))
	sh := must(NewAccountStore(store))
	m := must(NewManager(ch, sh, append([]Option{cheap}, opts...)...))
	ch.Close()
	sh.Close()
	t.Cleanup(func() { m.Close() })
	return m
}
