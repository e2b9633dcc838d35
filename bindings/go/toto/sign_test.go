package toto

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

type wireVectors struct {
	RequestHMAC []struct {
		Key, Method, URI, BodyHex, XTotoHMAC string
	}
	ResponseHMAC []struct {
		Key, SessionID, BodyHex, XTotoHMAC string
	}
	LegacyPasswordHashes []struct {
		Password, Hash, WrongPassword string
	}
}

func loadVectors(t *testing.T) wireVectors {
	t.Helper()
	data, err := os.ReadFile("../../../tests/vectors/toto-wire.json")
	if err != nil {
		t.Skipf("wire vectors not available: %v", err)
	}
	// The file uses snake_case keys; map them onto the struct's field names.
	data = regexp.MustCompile(`"(\w+)":`).ReplaceAllFunc(data, func(m []byte) []byte {
		return []byte(strings.ReplaceAll(string(m), "_", ""))
	})
	var v wireVectors
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.RequestHMAC) == 0 || len(v.ResponseHMAC) == 0 || len(v.LegacyPasswordHashes) == 0 {
		t.Fatal("vectors file has no vectors")
	}
	return v
}

func TestWireVectors(t *testing.T) {
	v := loadVectors(t)
	for _, r := range v.RequestHMAC {
		body, _ := hex.DecodeString(r.BodyHex)
		msg := append([]byte(r.Method+r.URI), body...)
		if got := must(HMAC([]byte(r.Key), msg)); got != r.XTotoHMAC {
			t.Fatalf("HMAC: %s, want %s", got, r.XTotoHMAC)
		}
		if len(body) > 0 {
			ok(t, Verify([]byte(r.Key), r.XTotoHMAC, msg))
		}
		s := must(NewSession("u", time.Now().Add(time.Hour)))
		ok(t, s.SetKey(r.Key))
		if got := must(s.SignRequest(r.Method, r.URI, body)); got != r.XTotoHMAC {
			t.Fatalf("SignRequest: %s, want %s", got, r.XTotoHMAC)
		}
		ok(t, s.VerifyRequest(r.XTotoHMAC, r.Method, r.URI, body))
		s.Close()
	}
	for _, r := range v.ResponseHMAC {
		body, _ := hex.DecodeString(r.BodyHex)
		s := must(NewSessionWithID(r.SessionID, "u", time.Now().Add(time.Hour)))
		ok(t, s.SetKey(r.Key))
		if got := must(s.SignResponse(body)); got != r.XTotoHMAC {
			t.Fatalf("SignResponse: %s, want %s", got, r.XTotoHMAC)
		}
		ok(t, s.VerifyResponse(r.XTotoHMAC, body))
		s.Close()
	}
}

func TestHMACAndVerify(t *testing.T) {
	mac := must(HMAC([]byte("k"), []byte("m")))
	ok(t, Verify([]byte("k"), mac, []byte("m")))
	wantErr(t, Verify([]byte("k"), mac, []byte("M")), ErrInvalidHMAC)
	wantErr(t, Verify(nil, mac, []byte("m")), ErrInvalidHMAC)
	wantErr(t, Verify([]byte("k"), "", []byte("m")), ErrInvalidHMAC)
	wantErr(t, Verify([]byte("k"), mac, nil), ErrInvalidHMAC)
	_, err := HMAC(nil, []byte("m"))
	wantErr(t, err, ErrInvalidHMAC)
	_, err = HMAC(make([]byte, 257), []byte("m"))
	wantErr(t, err, ErrTooLarge)
	if mac2 := must(HMAC([]byte("k"), nil)); len(mac2) != 28 {
		t.Fatal("HMAC of an empty message")
	}
}

func TestGenerateIDAndVersion(t *testing.T) {
	re := regexp.MustCompile(`^[A-Za-z0-9_-]{22}$`)
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		id := GenerateID()
		if !re.MatchString(id) || seen[id] {
			t.Fatalf("bad or repeated id %q", id)
		}
		seen[id] = true
	}
	if Version() != HeaderVersion || !regexp.MustCompile(`^\d+\.\d+\.\d+`).MatchString(Version()) {
		t.Fatalf("library %q, header %q", Version(), HeaderVersion)
	}
}
