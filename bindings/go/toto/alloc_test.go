package toto

import "testing"

// (The state accessors' counts are in session_typed_test.go, TestSessionStateAllocs.)

func allocs(t *testing.T, what string, max float64, f func()) {
	t.Helper()
	f() // warm up (slab, pools)
	if n := testing.AllocsPerRun(200, f); n > max {
		t.Errorf("%s: %.2f allocations per call, want at most %.0f", what, n, max)
	}
}

// Bytes, the id, a value's JSON and a retrieve allocate their result only (a retrieve: at most the
// Session, which comes from a slab of 32, so on average less than one).
func TestResultsAreTheOnlyAllocation(t *testing.T) {
	s := benchSession(t)
	ok(t, s.Set("bin", []byte("0123")))
	var bin []byte
	allocs(t, "Get(*[]byte)", 1, func() { ok(t, s.Get("bin", &bin)) })
	value := []byte("4567")
	// Set(key, any) with a []byte: only the caller's boxing of the slice header.
	allocs(t, "Set([]byte)", 1, func() { ok(t, s.Set("bin", value)) })
	allocs(t, "ID", 1, func() { _ = s.ID() })
	ok(t, s.SetJSON("cart", []byte(`{"items":["apple","pear"],"total":3}`)))
	allocs(t, "GetJSON", 1, func() { _ = must(s.GetJSON("cart")) })
	allocs(t, "IsDirty", 0, func() { _ = s.IsDirty() })
	answer := []byte(`{"result":1}`)
	allocs(t, "SignResponse", 1, func() { _ = must(s.SignResponse(answer)) })
	m := memManager(t)
	fs := must(m.CreateSession(bg, "u", true))
	defer fs.Close()
	allocs(t, "FinishResponse", 1, func() { _ = must(m.FinishResponse(bg, fs, answer)) })
	// the signing calls allocate their string only
	allocs(t, "HMAC", 1, func() { _ = must(s.HMAC(answer)) })
	allocs(t, "SignRequest", 1, func() { _ = must(s.SignRequest("POST", "/", answer)) })
	allocs(t, "UserID", 1, func() { _ = s.UserID() })
	for _, kind := range []string{"memory", "go renewing cache"} {
		var m *Manager
		if kind == "memory" {
			m = memManager(t)
		} else {
			m = goManager(t, renewingCache{newMemCache(nil)}, newMemStore())
		}
		s := must(m.CreateSession(bg, "user", true))
		ok(t, s.SetInt64("n", 1))
		ok(t, m.SaveSession(bg, s))
		id := s.ID()
		mac := must(s.SignRequest("POST", "/", []byte("{}")))
		s.Close()
		allocs(t, "RetrieveSession + Close, "+kind, 1, func() {
			must(m.RetrieveSession(bg, id)).Close()
		})
		allocs(t, "VerifyRequest + Close, "+kind, 1, func() {
			must(m.VerifyRequest(bg, id, mac, "POST", "/", []byte("{}"))).Close()
		})
	}
}
