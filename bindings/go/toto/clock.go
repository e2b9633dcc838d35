package toto

import (
	"sync/atomic"
	"time"
)

// clockRef is a Go clock lent to the library (as a ref, refs.go) by a memory cache or a
// manager. The library only borrows it, so it must outlive every native object that
// may call it: each Go owner (the cache handle, each manager over that cache, a
// manager's own clock) holds a reference, and the handle is deleted after the last
// owner has freed its native object.
type clockRef struct {
	h    uintptr // its ref (refs.go)
	refs atomic.Int32
}

func newClockRef(f func() time.Time) *clockRef {
	c := &clockRef{h: newRef(f)}
	c.refs.Store(1)
	return c
}

func (c *clockRef) retain() {
	if c != nil {
		c.refs.Add(1)
	}
}

func (c *clockRef) release() {
	if c != nil && c.refs.Add(-1) == 0 {
		deleteRef(c.h)
	}
}
