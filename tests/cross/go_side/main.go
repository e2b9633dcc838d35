// The Go end of the cross-language test (tests/cross/run.sh):
//
//	go_side ID MAC
//
// verifies the request C signed (POST /cross {"n":1}) through the shared Redis, checks
// the value C wrote, refuses a tampered body, and writes from_go. With TOTO_CLIENT_KEY
// ("ID:64 hex digits") the cache is client-side: ID is the token C sealed, and the
// token of the saved session (a new one) is printed alone on stdout.
package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

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
	clientKey := os.Getenv("TOTO_CLIENT_KEY")
	var cache *toto.CacheHandle
	var err error
	if clientKey != "" {
		cache, err = clientSideCache(clientKey)
	} else {
		cache, err = toto.NewRedisCache(os.Getenv("TOTO_REDIS_URL"), nil)
	}
	if err != nil {
		fail("cache: %v", err)
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
	if clientKey != "" {
		fmt.Fprintln(os.Stderr, "go_side: opened the token C sealed, verified and wrote from_go")
		fmt.Println(s.ID())
		return
	}
	fmt.Println("go_side: verified and wrote from_go")
}

// clientSideCache makes the client-side cache from "ID:HEX".
func clientSideCache(spec string) (*toto.CacheHandle, error) {
	idText, hexKey, found := strings.Cut(spec, ":")
	id, err := strconv.ParseUint(idText, 10, 32)
	raw, err2 := hex.DecodeString(hexKey)
	if !found || err != nil || err2 != nil || len(raw) != toto.ClientKeyLen {
		return nil, fmt.Errorf("TOTO_CLIENT_KEY must be ID:64 hex digits")
	}
	k := toto.ClientKey{ID: uint32(id)}
	copy(k.Key[:], raw)
	return toto.NewClientSideCache(k)
}
