// The Go end of the cross-language test (tests/cross/run.sh):
//
//	go_side ID MAC
//
// verifies the request C signed (POST /cross {"n":1}) through the shared Redis, checks
// the value C wrote, refuses a tampered body, and writes from_go.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/toto-session/toto-session/bindings/go/toto"
)

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "go_side: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	if len(os.Args) != 3 {
		fail("usage: go_side ID MAC")
	}
	id, mac := os.Args[1], os.Args[2]
	ctx := context.Background()
	cache, err := toto.NewRedisCache(os.Getenv("TOTO_REDIS_URL"), nil)
	if err != nil {
		fail("redis cache: %v", err)
	}
	store, err := toto.NewMemoryAccountStore()
	if err != nil {
		fail("store: %v", err)
	}
	m, err := toto.NewManager(cache, store)
	if err != nil {
		fail("manager: %v", err)
	}
	defer m.Close()
	s, err := m.VerifyRequest(ctx, id, mac, "POST", "/cross", []byte(`{"n":1}`))
	if err != nil {
		fail("verify: %v", err)
	}
	defer s.Close()
	var fromC int64
	if err := s.Get("from_c", &fromC); err != nil || fromC != 1 {
		fail("from_c = %d (%v)", fromC, err)
	}
	if s.UserID() != "cross" {
		fail("user id %q", s.UserID())
	}
	if err := s.Set("from_go", "hello from Go"); err != nil {
		fail("set: %v", err)
	}
	if err := m.SaveSession(ctx, s); err != nil {
		fail("save: %v", err)
	}
	if _, err := m.VerifyRequest(ctx, id, mac, "POST", "/cross", []byte(`{"n":2}`)); !errors.Is(err, toto.ErrInvalidHMAC) {
		fail("a tampered body gave %v, want ErrInvalidHMAC", err)
	}
	fmt.Println("go_side: verified and wrote from_go")
}
