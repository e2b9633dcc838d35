package toto

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// exerciseCache runs every CacheHandle call against a cache whose time is clock.
func exerciseCache(t *testing.T, c *CacheHandle, clock *fakeClock) {
	t.Helper()
	now := clock.Now()
	id := GenerateID()
	newID := must(c.Store(bg, id, "alice", now.Add(time.Hour), []byte("rec-1"), false))
	if newID != "" {
		t.Fatalf("the cache renamed %s to %s", id, newID)
	}
	if got := must(c.Load(bg, id)); !bytes.Equal(got, []byte("rec-1")) {
		t.Fatalf("Load %q", got)
	}
	_, err := c.Store(bg, id, "alice", now.Add(time.Hour), []byte("rec-2"), true)
	wantErr(t, err, ErrIDCollision)
	must(c.Store(bg, id, "alice", now.Add(time.Hour), []byte("rec-2"), false)) // upsert
	if got := must(c.Load(bg, id)); string(got) != "rec-2" {
		t.Fatalf("upsert: %q", got)
	}
	_, err = c.Load(bg, GenerateID())
	wantErr(t, err, ErrNotFound)
	_, err = c.Load(bg, "bad id")
	wantErr(t, err, ErrInvalidSessionID)

	// Expiry on the cache's clock.
	short := GenerateID()
	must(c.Store(bg, short, "", now.Add(time.Minute), []byte("x"), false))
	clock.Advance(2 * time.Minute)
	_, err = c.Load(bg, short)
	wantErr(t, err, ErrNotFound)

	ok(t, c.Remove(bg, id))
	ok(t, c.Remove(bg, id)) // missing is fine
	_, err = c.Load(bg, id)
	wantErr(t, err, ErrNotFound)

	// Whole sessions, and "log out everywhere".
	for i := 0; i < 3; i++ {
		s := must(NewSession("bob", clock.Now().Add(time.Hour)))
		ok(t, s.Set("i", i))
		ok(t, c.StoreSession(bg, s))
		if s.IsDirty() {
			t.Fatal("StoreSession must mark clean")
		}
		l := must(c.LoadSession(bg, s.ID()))
		var got int
		ok(t, l.Get("i", &got))
		if got != i || l.UserID() != "bob" {
			t.Fatal("LoadSession")
		}
		l.Close()
		s.Close()
	}
	if n := must(c.RemoveUser(bg, "bob")); n != 3 {
		t.Fatalf("RemoveUser removed %d, want 3", n)
	}
	_, err = c.LoadSession(bg, GenerateID())
	wantErr(t, err, ErrNotFound)

	// Garbage in the cache is reported, not crashed on.
	must(c.Store(bg, id, "", clock.Now().Add(time.Hour), []byte("not cbor"), false))
	_, err = c.LoadSession(bg, id)
	wantErr(t, err, ErrInvalidCBOR)

	ctx, cancel := context.WithCancel(bg)
	cancel()
	if _, err := c.Load(ctx, id); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled context: %v", err)
	}
}

func TestMemoryCacheWithClock(t *testing.T) {
	clock := newFakeClock()
	c := must(NewMemoryCacheWithClock(clock.Now))
	defer c.Close()
	exerciseCache(t, c, clock)
}

func TestGoCacheHandle(t *testing.T) {
	clock := newFakeClock()
	mc := newMemCache(clock.Now)
	c := must(NewCache(mc))
	defer c.Close()
	exerciseCache(t, c, clock)

	// A renaming cache: the new id comes back, and a stored session takes it.
	mc.rename.Store(true)
	newID := must(c.Store(bg, "old-id", "", clock.Now().Add(time.Hour), []byte("r"), false))
	if newID == "" || newID == "old-id" {
		t.Fatalf("rename not reported: %q", newID)
	}
	s := must(NewSession("", clock.Now().Add(time.Hour)))
	defer s.Close()
	old := s.ID()
	ok(t, c.StoreSession(bg, s))
	if s.ID() == old || must(c.LoadSession(bg, s.ID())).ID() != s.ID() {
		t.Fatal("the session did not take the cache's new id")
	}
}

func TestMemoryCacheWallClock(t *testing.T) {
	c := must(NewMemoryCache())
	defer c.Close()
	id := GenerateID()
	must(c.Store(bg, id, "", time.Now().Add(time.Hour), []byte("r"), false))
	must(c.Load(bg, id))
	past := GenerateID()
	must(c.Store(bg, past, "", time.Now().Add(-time.Second), []byte("r"), false))
	_, err := c.Load(bg, past)
	wantErr(t, err, ErrNotFound)
	if _, err := NewMemoryCacheWithClock(nil); !errors.Is(err, ErrNullArgument) {
		t.Fatal("nil clock accepted")
	}
}

func TestCompactMemoryCache(t *testing.T) {
	c := must(NewMemoryCacheCompact())
	defer c.Close()
	s := must(NewSession("bob", time.Now().Add(time.Hour)))
	defer s.Close()
	ok(t, s.Set("cart", map[string]any{"n": 2}))
	ok(t, c.StoreSession(bg, s))
	want := must(s.Export())
	if got := must(c.Load(bg, s.ID())); !bytes.Equal(got, want) {
		t.Fatalf("a compact cache holds the export: %x != %x", got, want)
	}
	back := must(c.LoadSession(bg, s.ID()))
	defer back.Close()
	var cart map[string]int
	ok(t, back.Get("cart", &cart))
	if cart["n"] != 2 {
		t.Fatalf("cart = %v", cart)
	}
	if n := must(c.RemoveUser(bg, "bob")); n != 1 {
		t.Fatalf("removed %d", n)
	}
}

func TestCacheWithoutRemoveUser(t *testing.T) {
	c := must(NewCache(basicCache{newMemCache(nil)}))
	defer c.Close()
	_, err := c.RemoveUser(bg, "bob")
	wantErr(t, err, ErrUnsupported)
}

func TestHandlesClosed(t *testing.T) {
	c := must(NewMemoryCache())
	st := must(NewMemoryAccountStore())
	ok(t, c.Close())
	ok(t, c.Close())
	ok(t, st.Close())
	ok(t, st.Close())
	_, err := c.Load(bg, "x")
	wantErr(t, err, ErrClosed)
	_, err = c.Store(bg, "x", "", time.Now(), nil, false)
	wantErr(t, err, ErrClosed)
	wantErr(t, st.Create(bg, "x"), ErrClosed)
	_, err = NewAccount(st, "x")
	wantErr(t, err, ErrClosed)
	_, err = NewManager(c, st)
	wantErr(t, err, ErrClosed)

	m := memManager(t)
	ok(t, m.Close())
	ok(t, m.Close())
	_, err = m.CreateSession(bg, "", false)
	wantErr(t, err, ErrClosed)
	_, err = m.Account("u")
	wantErr(t, err, ErrClosed)
}

// The library keeps the last decode of each id's record and reuses it while a Go
// cache returns the same bytes: retrieved sessions must still be independent copies,
// and a saved change must be what the next retrieve sees.
func TestGoCacheRetrievesAreIndependentCopies(t *testing.T) {
	c := newMemCache(nil)
	m := goManager(t, c, newMemStore())
	s := must(m.CreateSession(bg, "user", true))
	ok(t, s.SetString("k", "stored"))
	ok(t, m.SaveSession(bg, s))
	id := s.ID()
	s.Close()

	a := must(m.RetrieveSession(bg, id))
	defer a.Close()
	b := must(m.RetrieveSession(bg, id))
	defer b.Close()
	ok(t, a.SetString("k", "changed in a"))
	if v := must(b.GetString("k")); v != "stored" {
		t.Fatalf("b sees %q after a change to a, want %q", v, "stored")
	}
	if v := must(must(m.RetrieveSession(bg, id)).GetString("k")); v != "stored" {
		t.Fatalf("a retrieve sees %q before any save, want %q", v, "stored")
	}
	ok(t, m.SaveSession(bg, a))
	r := must(m.RetrieveSession(bg, id))
	defer r.Close()
	if v := must(r.GetString("k")); v != "changed in a" {
		t.Fatalf("a retrieve after the save sees %q, want %q", v, "changed in a")
	}
	if n := c.count("load"); n < 4 {
		t.Fatalf("the cache was asked %d times for 4 retrieves", n)
	}
	// Removed from the cache: gone, whatever was decoded before.
	ok(t, m.RemoveSession(bg, id))
	if _, err := m.RetrieveSession(bg, id); !errors.Is(err, ErrInvalidSessionID) {
		t.Fatalf("retrieve after remove: %v, want ErrInvalidSessionID", err)
	}
}

// putRecord decides how a Go load hands its record over: copied into the shim's
// scratch buffer up to its capacity, through the cgo call above it.
func TestPutRecordScratchBoundary(t *testing.T) {
	for _, n := range []int{0, 1, loadScratchSize - 1, loadScratchSize, loadScratchSize + 1, 100 << 10} {
		dst := bytes.Repeat([]byte{0xee}, loadScratchSize)
		rec := make([]byte, n)
		for i := range rec {
			rec[i] = byte(i*7 + 1)
		}
		fits := putRecord(dst, rec)
		if fits != (n <= loadScratchSize) {
			t.Fatalf("%d bytes: fits %v with a %d-byte scratch", n, fits, loadScratchSize)
		}
		if fits && !bytes.Equal(dst[:n], rec) {
			t.Fatalf("%d bytes: the scratch holds other bytes", n)
		}
		if !fits && !bytes.Equal(dst, bytes.Repeat([]byte{0xee}, loadScratchSize)) {
			t.Fatalf("%d bytes: a record that does not fit was written to the scratch", n)
		}
	}
}

// A Go cache's record crosses to the library through the load shims' scratch buffer
// when it fits and through toto_callback_set_result from Go when it does not: records
// of one byte under, at and over the scratch's size, and of 100 KiB, round-trip
// through Load and LoadRenew alike (with LoadRenew's expiry), and the refusals (an
// empty, a malformed and an over-1-MiB record) keep their codes and messages.
func TestGoCacheRecordAroundScratchSize(t *testing.T) {
	for _, renew := range []bool{false, true} {
		clock := newFakeClock()
		mc := newMemCache(clock.Now)
		var c Cache = mc
		if renew {
			c = renewingCache{mc}
		}
		m := goManager(t, c, newMemStore(), WithClock(clock.Now))
		recordLen := func(id string) int {
			mc.mu.Lock()
			defer mc.mu.Unlock()
			return len(mc.entries[id].record)
		}
		for _, want := range []int{loadScratchSize - 1, loadScratchSize, loadScratchSize + 1, 100 << 10} {
			s := must(m.CreateSession(bg, "u", false))
			id := s.ID()
			// Grow the padding until the stored record has exactly `want` bytes.
			pad := want
			for try := 0; try < 5; try++ {
				ok(t, s.SetString("pad", strings.Repeat("p", pad)))
				ok(t, m.SaveSession(bg, s))
				if recordLen(id) == want {
					break
				}
				pad += want - recordLen(id)
			}
			s.Close()
			if got := recordLen(id); got != want {
				t.Fatalf("made a %d-byte record, want %d", got, want)
			}
			clock.Advance(time.Minute)
			loads := mc.count("load") + mc.count("load_renew")
			r := must(m.RetrieveSession(bg, id))
			if v := must(r.GetString("pad")); v != strings.Repeat("p", pad) {
				t.Fatalf("renew %v, %d-byte record: pad of %d bytes back, want %d", renew, want, len(v), pad)
			}
			if mc.count("load")+mc.count("load_renew") != loads+1 {
				t.Fatalf("renew %v, %d-byte record: the retrieve did not load from the Go cache", renew, want)
			}
			if renew && !r.Expires().Equal(clock.Now().Add(year)) {
				t.Fatalf("%d-byte record: LoadRenew's expiry not used: %v", want, r.Expires())
			}
			r.Close()
		}

		s := must(m.CreateSession(bg, "u", false))
		id := s.ID()
		s.Close()
		for _, bad := range []struct {
			record []byte
			code   Code
			msg    string
		}{
			{[]byte{}, CodeInvalidCBOR, "toto: malformed CBOR: truncated at byte 0 (code 7)"},
			{[]byte("junk"), CodeInvalidCBOR, "toto: malformed CBOR: truncated at byte 4 (code 7)"},
			{make([]byte, 1<<20+1), CodeTooLarge, "toto: session record is larger than 1048576 bytes (code 3)"},
		} {
			mc.mu.Lock()
			e := mc.entries[id]
			e.record = bad.record
			mc.entries[id] = e
			mc.mu.Unlock()
			_, err := m.RetrieveSession(bg, id)
			if CodeOf(err) != bad.code || err.Error() != bad.msg {
				t.Fatalf("renew %v, %d-byte record: %v (code %d), want %q", renew, len(bad.record), err, CodeOf(err), bad.msg)
			}
		}
	}
}
