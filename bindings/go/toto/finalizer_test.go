package toto

import (
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// settle runs the GC (which queues finalizers) until cond holds or the timeout passes.
func settle(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		runtime.GC()
		time.Sleep(5 * time.Millisecond) // let the finalizer goroutine run
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// rss is the resident set size of this process, from /proc/self/statm.
func rss(t *testing.T) int64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Skipf("no /proc/self/statm: %v", err)
	}
	fields := strings.Fields(string(data))
	pages, err := strconv.ParseInt(fields[1], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return pages * int64(os.Getpagesize())
}

// Sessions that are never closed are freed by their finalizers: 20000 sessions, each
// holding an 8 KiB value in native memory (about 150 MiB if they leaked), created in
// batches with a GC between batches. Both the Go-side count of live native handles
// and the process's RSS are measured.
func TestFinalizersFreeSessions(t *testing.T) {
	const total, batch, warmup, valueSize = 20000, 500, 4, 8 << 10
	// Allocate from one OS thread, so that C's malloc serves every batch from the same
	// arena (a goroutine hopping threads would spread batches over several glibc arenas,
	// each keeping its high-water mark: growth that is not a leak).
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	value := make([]byte, valueSize)
	settle(time.Second, func() bool { return false }) // finish earlier tests' garbage
	base := LiveHandles().Sessions
	var rssBefore, peak int64
	for n := 0; n < total/batch; n++ {
		if n == warmup { // allocators warmed up: the RSS baseline
			settle(5*time.Second, func() bool { return LiveHandles().Sessions <= base })
			rssBefore = rss(t)
		}
		for i := 0; i < batch; i++ {
			s, err := NewSession("u", time.Now().Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Set("blob", value); err != nil {
				t.Fatal(err)
			}
			// no Close: the finalizer must free it
		}
		if live := LiveHandles().Sessions - base; live > peak {
			peak = live
		}
		// Let the finalizers catch up before the next batch (bounded wait).
		settle(2*time.Second, func() bool { return LiveHandles().Sessions-base <= batch })
	}
	if !settle(10*time.Second, func() bool { return LiveHandles().Sessions <= base }) {
		t.Fatalf("finalizers left %d of %d sessions alive", LiveHandles().Sessions-base, total)
	}
	rssAfter := rss(t)
	growth := rssAfter - rssBefore
	leaked := int64(total-warmup*batch) * valueSize
	t.Logf("RSS before %d MiB, after %d MiB (growth %d KiB); a leak would add about %d MiB; peak live %d",
		rssBefore>>20, rssAfter>>20, growth>>10, leaked>>20, peak)
	if growth > leaked/8 {
		t.Fatalf("RSS grew by %d MiB over %d sessions: handles are leaking", growth>>20, total)
	}
}

func TestFinalizersFreeOtherHandles(t *testing.T) {
	settle(time.Second, func() bool { return false })
	base := LiveHandles()
	func() {
		st := must(NewMemoryAccountStore())
		for i := 0; i < 3000; i++ {
			must(NewAccount(st, "u"))
		}
		for i := 0; i < 200; i++ {
			c := must(NewMemoryCache())
			gc := must(NewCache(newMemCache(nil)))
			gs := must(NewAccountStore(newMemStore()))
			clock := newFakeClock()
			cc := must(NewMemoryCacheWithClock(clock.Now))
			must(NewManager(c, st, cheap))
			must(NewManager(gc, gs, cheap, WithClock(clock.Now)))
			must(NewManager(cc, gs, cheap, WithClock(clock.Now)))
		}
	}()
	atMost := func(a, b HandleCounts) bool {
		return a.Sessions <= b.Sessions && a.Accounts <= b.Accounts && a.Managers <= b.Managers &&
			a.Caches <= b.Caches && a.Stores <= b.Stores && a.Backends <= b.Backends
	}
	if !settle(10*time.Second, func() bool { return atMost(LiveHandles(), base) }) {
		t.Fatalf("handles left alive: %+v, baseline %+v", LiveHandles(), base)
	}
}

// quiesceFinalizers stops the GC and lets the finalizers it already queued run, so
// that no slab finalizer closes a session (and parks its handle) during a test.
func quiesceFinalizers(t *testing.T) {
	old := debug.SetGCPercent(-1)
	t.Cleanup(func() { debug.SetGCPercent(old) })
	for i := 0; i < 2; i++ {
		done := make(chan struct{})
		sentinel := new([16]byte)
		runtime.SetFinalizer(sentinel, func(*[16]byte) { close(done) })
		sentinel = nil
		runtime.GC()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("the finalizer goroutine did not run")
		}
	}
	time.Sleep(10 * time.Millisecond)
}

// Close parks the native handle and frees the one parked before; the next retrieve or
// verify_request takes the parked handle and frees it in its own cgo call.
func TestCloseParksHandleForNextRetrieve(t *testing.T) {
	m := memManager(t)
	s := must(m.CreateSession(bg, "user", true))
	id := s.ID()
	mac := must(s.SignRequest("POST", "/", nil))
	quiesceFinalizers(t)
	closedSession.Store(0)

	for _, via := range []string{"RetrieveSession", "VerifyRequest"} {
		p := uintptr(unsafe.Pointer(s.ptr))
		base := LiveHandles().Sessions
		ok(t, s.Close())
		if got := closedSession.Load(); got != p {
			t.Fatalf("%s: parked handle %#x, want the closed session's %#x", via, got, p)
		}
		if n := LiveHandles().Sessions; n != base-1 {
			t.Fatalf("%s: %d live sessions after Close, want %d", via, n, base-1)
		}
		ok(t, s.Close()) // idempotent: parks nothing
		if got := closedSession.Load(); got != p {
			t.Fatalf("%s: a second Close changed the parked handle to %#x", via, got)
		}
		if via == "RetrieveSession" {
			s = must(m.RetrieveSession(bg, id))
		} else {
			s = must(m.VerifyRequest(bg, id, mac, "POST", "/", nil))
		}
		if got := closedSession.Load(); got != 0 {
			t.Fatalf("%s left the parked handle %#x unfreed", via, got)
		}
	}

	// A Close displaces (and frees) the parked handle; the new one stays usable until
	// its own Close.
	other := must(NewSession("other", time.Now().Add(time.Hour)))
	ok(t, other.SetString("k", "v"))
	ok(t, s.Close())
	q := uintptr(unsafe.Pointer(other.ptr))
	if v := must(other.GetString("k")); v != "v" {
		t.Fatalf("GetString after another session's Close = %q", v)
	}
	ok(t, other.Close())
	if got := closedSession.Load(); got != q {
		t.Fatalf("parked handle %#x, want the last closed session's %#x", got, q)
	}
	// A failed retrieve frees the parked handle too.
	if _, err := m.RetrieveSession(bg, "no-such-session-id-0123456789"); err == nil {
		t.Fatal("retrieve of an unknown id succeeded")
	}
	if got := closedSession.Load(); got != 0 {
		t.Fatalf("a failed retrieve left the parked handle %#x unfreed", got)
	}
	// Closing a manager frees the parked handle (nothing is left at exit).
	last := must(NewSession("last", time.Now().Add(time.Hour)))
	ok(t, last.Close())
	if closedSession.Load() == 0 {
		t.Fatal("Close parked nothing")
	}
	ok(t, memManager(t).Close())
	if got := closedSession.Load(); got != 0 {
		t.Fatalf("Manager.Close left the parked handle %#x unfreed", got)
	}
}
