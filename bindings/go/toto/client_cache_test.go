package toto

import (
	"bytes"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"
)

func clientKey(id uint32, b byte) ClientKey {
	k := ClientKey{ID: id}
	for i := range k.Key {
		k.Key[i] = b
	}
	return k
}

var urlSafe = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func TestClientSideCacheArguments(t *testing.T) {
	_, err := NewClientSideCache()
	wantErr(t, err, ErrInvalidArgument)
	_, err = NewClientSideCache(clientKey(1, 1), clientKey(1, 2))
	wantErr(t, err, ErrInvalidArgument)
	_, err = NewClientSideCache(clientKey(1, 0))
	wantErr(t, err, ErrInvalidArgument)
}

func TestClientSideCacheManager(t *testing.T) {
	c := must(NewClientSideCache(clientKey(3, 0x33)))
	defer c.Close()
	m := must(NewManager(c, must(NewMemoryAccountStore()), cheap))
	defer m.Close()
	s := must(m.CreateSession(bg, "Erin", true))
	defer s.Close()
	first := s.ID()
	if !urlSafe.MatchString(first) || len(first) < 100 {
		t.Fatalf("token %q", first)
	}
	ok(t, s.Set("n", int64(2)))
	ok(t, m.SaveSession(bg, s))
	if s.ID() == first {
		t.Fatal("a save must seal a new token")
	}
	mac := must(s.SignRequest("POST", "/x", []byte("{}")))
	v := must(m.VerifyRequest(bg, s.ID(), mac, "POST", "/x", []byte("{}")))
	defer v.Close()
	var n int64
	ok(t, v.Get("n", &n))
	if n != 2 || v.UserID() != "erin" {
		t.Fatalf("n=%d user=%q", n, v.UserID())
	}
	// Tampered: not found (1007 through the manager).
	tok := []byte(s.ID())
	tok[10] ^= 1
	_, err := m.RetrieveSession(bg, string(tok))
	wantErr(t, err, ErrInvalidSessionID)
	_, err = m.RetrieveSession(bg, strings.Repeat("A", 5000))
	wantErr(t, err, ErrInvalidSessionID)
	// Logout cannot revoke; log out everywhere is unsupported.
	ok(t, m.RemoveSession(bg, s.ID()))
	again := must(m.RetrieveSession(bg, s.ID()))
	again.Close()
	_, err = m.ClearSessions(bg, "erin")
	wantErr(t, err, ErrUnsupported)
}

func TestClientSideCacheRotationExpiryAndSize(t *testing.T) {
	old := must(NewClientSideCache(clientKey(1, 1)))
	defer old.Close()
	rotated := must(NewClientSideCache(clientKey(2, 2), clientKey(1, 1)))
	defer rotated.Close()
	s := must(NewSession("frank", time.Now().Add(time.Hour)))
	defer s.Close()
	ok(t, old.StoreSession(bg, s))
	oldToken := s.ID()
	ok(t, rotated.StoreSession(bg, s))
	newToken := s.ID()
	if _, err := rotated.Load(bg, oldToken); err != nil {
		t.Fatalf("an old-key token must open after rotation: %v", err)
	}
	_, err := old.Load(bg, newToken)
	wantErr(t, err, ErrNotFound)
	// Raw store: the token comes back as the new id.
	id := must(rotated.Store(bg, "x", "", time.Now().Add(time.Minute), []byte("opaque"), true))
	if got := must(rotated.Load(bg, id)); !bytes.Equal(got, []byte("opaque")) {
		t.Fatalf("record %q", got)
	}
	// Expired.
	expired := must(rotated.Store(bg, "x", "", time.Now().Add(-time.Second), []byte("r"), false))
	_, err = rotated.Load(bg, expired)
	wantErr(t, err, ErrNotFound)
	// Too large.
	ok(t, s.Set("big", bytes.Repeat([]byte{1}, MaxClientRecordLen)))
	err = rotated.StoreSession(bg, s)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v, want ErrTooLarge", err)
	}
}
