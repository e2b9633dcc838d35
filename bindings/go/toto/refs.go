package toto

import (
	"sync"
	"sync/atomic"
)

// The Go values the library's C callbacks reach (Go caches, account stores, clocks)
// are registered here, and C holds their ref, an integer, as user_data / clock_data:
// never a Go pointer (the cgo pointer rules). runtime/cgo.Handle did this before, but
// its Value is a sync.Map lookup keyed by an interface, about 250 instructions paid on
// every callback (a Go cache's Load on every retrieve); a ref's lookup is three loads.
//
// Slots sit in chunks of refChunkSize that never move; the list of chunks is copied
// when it grows (once per refChunkSize refs). Readers take no lock. The slots and the
// list are atomics because a callback may run on another thread than the one that
// registered the value, synchronized only through the library, which the race
// detector does not see. Refs start at 1: 0 means "none" to the shims.

const (
	refChunkBits = 8
	refChunkSize = 1 << refChunkBits
)

type refSlot struct{ v any }

type refChunk [refChunkSize]atomic.Pointer[refSlot]

var refs struct {
	chunks atomic.Pointer[[]*refChunk]
	mu     sync.Mutex // taken by newRef and deleteRef
	used   uintptr    // slots handed out so far
	free   []uintptr  // released slots, reused first
}

// newRef registers v and returns its ref (never 0).
func newRef(v any) uintptr {
	refs.mu.Lock()
	defer refs.mu.Unlock()
	var i uintptr
	if n := len(refs.free); n > 0 {
		i = refs.free[n-1]
		refs.free = refs.free[:n-1]
	} else {
		i = refs.used
		refs.used++
	}
	var chunks []*refChunk
	if p := refs.chunks.Load(); p != nil {
		chunks = *p
	}
	if int(i>>refChunkBits) == len(chunks) {
		grown := make([]*refChunk, len(chunks)+1)
		copy(grown, chunks)
		grown[len(chunks)] = new(refChunk)
		refs.chunks.Store(&grown)
		chunks = grown
	}
	chunks[i>>refChunkBits][i&(refChunkSize-1)].Store(&refSlot{v})
	return i + 1
}

// refSlotOf is the slot of ref r; it panics for a ref never handed out.
func refSlotOf(r uintptr) *atomic.Pointer[refSlot] {
	i := r - 1 // 0 wraps around and fails the check below
	p := refs.chunks.Load()
	if p == nil || i>>refChunkBits >= uintptr(len(*p)) {
		panic("toto: misuse of an invalid ref")
	}
	return &(*p)[i>>refChunkBits][i&(refChunkSize-1)]
}

// refValue is the value registered under r; it panics for a deleted or invalid ref
// (inside a callback the panic becomes CodePanic, as cgo.Handle's did).
func refValue(r uintptr) any {
	s := refSlotOf(r).Load()
	if s == nil {
		panic("toto: misuse of an invalid ref")
	}
	return s.v
}

// deleteRef releases r (its value may become garbage); it panics for a ref already
// deleted or invalid.
func deleteRef(r uintptr) {
	refs.mu.Lock()
	defer refs.mu.Unlock()
	if refSlotOf(r).Swap(nil) == nil {
		panic("toto: misuse of an invalid ref")
	}
	refs.free = append(refs.free, r-1)
}
