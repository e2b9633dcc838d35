package toto

import (
	"runtime/cgo"
	"sync/atomic"
	"time"
)

// clockRef is a Go clock lent to the library (as a cgo.Handle) by a memory cache or a
// manager. The library only borrows it, so it must outlive every native object that
// may call it: each Go owner (the cache handle, each manager over that cache, a
// manager's own clock) holds a reference, and the handle is deleted after the last
// owner has freed its native object.
type clockRef struct {
	h    cgo.Handle
	refs atomic.Int32
}

func newClockRef(f func() time.Time) *clockRef {
	c := &clockRef{h: cgo.NewHandle(f)}
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
		c.h.Delete()
	}
}
