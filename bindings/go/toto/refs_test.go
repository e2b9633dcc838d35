package toto

import (
	"fmt"
	"sync"
	"testing"
)

func mustPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Fatalf("%s did not panic", what)
		}
	}()
	f()
}

// Refs (refs.go) stand for Go values in C: each looks up its own value, across chunk
// boundaries and while other goroutines register and delete; a deleted or invalid ref
// panics (a callback turns that into CodePanic); deleted slots are reused, and a
// stale ref to a reused slot panics too.
func TestRefs(t *testing.T) {
	mustPanic(t, "ref 0", func() { refValue(0) })
	mustPanic(t, "a ref never handed out", func() { refValue(^uintptr(0) >> 1) })

	const perWorker = 3*refChunkSize + 7
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			mine := make([]uintptr, perWorker)
			for i := range mine {
				mine[i] = newRef(fmt.Sprint(w, "/", i))
			}
			for i, r := range mine {
				if v := refValue(r).(string); v != fmt.Sprint(w, "/", i) {
					errs <- fmt.Errorf("ref %d holds %q, want %q", r, v, fmt.Sprint(w, "/", i))
					return
				}
			}
			for _, r := range mine {
				deleteRef(r)
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	r := newRef(42)
	if refValue(r).(int) != 42 {
		t.Fatal("a reused slot holds the old value")
	}
	deleteRef(r)
	mustPanic(t, "a deleted ref", func() { refValue(r) })
	mustPanic(t, "deleting twice", func() { deleteRef(r) })
	refs.mu.Lock()
	used := refs.used
	refs.mu.Unlock()
	again := newRef("again") // a freed slot (finalizers may free others meanwhile)
	defer deleteRef(again)
	refs.mu.Lock()
	after := refs.used
	refs.mu.Unlock()
	if after != used || refValue(again).(string) != "again" {
		t.Fatalf("freed slots not reused: %d slots after %d", after, used)
	}

	// A stale ref to a reused slot (its previous generation) panics instead of
	// reaching the slot's new value.
	deleteRef(newRef("old"))
	reused := newRef("new")
	defer deleteRef(reused)
	if reused>>refSlotBits < 2 {
		t.Fatalf("ref %x: its slot was not reused (finalizers freed others?)", reused)
	}
	stale := (reused>>refSlotBits-1)<<refSlotBits | reused&refSlotMask
	mustPanic(t, "a stale ref to a reused slot", func() { refValue(stale) })
	mustPanic(t, "deleting a stale ref to a reused slot", func() { deleteRef(stale) })
	if refValue(reused).(string) != "new" {
		t.Fatal("the reused slot lost its value")
	}
}
