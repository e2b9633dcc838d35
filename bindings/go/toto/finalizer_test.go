package toto

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
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
