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
//
// A ref is its slot number plus one in the low refSlotBits bits and the slot's
// generation above them: a slot is reused once its ref is deleted, and the generation
// makes a stale ref (one used after its deletion, which the library never does) panic
// as a stale cgo.Handle did, instead of reaching the slot's next value.

const (
	refChunkBits = 8
	refChunkSize = 1 << refChunkBits
	// 32 bits of slot on a 64-bit platform, 20 on a 32-bit one (a million refs).
	refSlotBits = 20 + 12*uint(^uintptr(0)>>63)
	refSlotMask = 1<<refSlotBits - 1
)

type refSlot struct {
	v   any
	gen uintptr // the generation the slot's ref carries
}

type refChunk [refChunkSize]atomic.Pointer[refSlot]

var refs struct {
	chunks atomic.Pointer[[]*refChunk]
	mu     sync.Mutex // taken by newRef and deleteRef
	used   uintptr    // slots handed out so far
	free   []uintptr  // released slots, reused first
	gens   []uintptr  // each slot's last generation
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
		if refs.used == refSlotMask {
			panic("toto: out of refs")
		}
		i = refs.used
		refs.used++
		refs.gens = append(refs.gens, 0)
	}
	refs.gens[i]++
	gen := refs.gens[i] & (^uintptr(0) >> refSlotBits)
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
	chunks[i>>refChunkBits][i&(refChunkSize-1)].Store(&refSlot{v: v, gen: gen})
	return gen<<refSlotBits | (i + 1)
}

// refSlotOf is the slot of ref r and r's generation; it panics for a ref never
// handed out.
func refSlotOf(r uintptr) (*atomic.Pointer[refSlot], uintptr) {
	i := r&refSlotMask - 1 // 0 wraps around and fails the check below
	p := refs.chunks.Load()
	if p == nil || i>>refChunkBits >= uintptr(len(*p)) {
		panic("toto: misuse of an invalid ref")
	}
	return &(*p)[i>>refChunkBits][i&(refChunkSize-1)], r >> refSlotBits
}

// refValue is the value registered under r; it panics for a deleted or invalid ref
// (inside a callback the panic becomes CodePanic, as cgo.Handle's did).
func refValue(r uintptr) any {
	slot, gen := refSlotOf(r)
	s := slot.Load()
	if s == nil || s.gen != gen {
		panic("toto: misuse of an invalid ref")
	}
	return s.v
}

// deleteRef releases r (its value may become garbage); it panics for a ref already
// deleted or invalid.
func deleteRef(r uintptr) {
	refs.mu.Lock()
	defer refs.mu.Unlock()
	slot, gen := refSlotOf(r)
	if s := slot.Load(); s == nil || s.gen != gen {
		panic("toto: misuse of an invalid ref")
	}
	slot.Store(nil)
	refs.free = append(refs.free, r&refSlotMask-1)
}
