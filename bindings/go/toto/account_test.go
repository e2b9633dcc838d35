package toto

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"testing"
)

func exerciseAccounts(t *testing.T, st *StoreHandle) {
	t.Helper()
	ok(t, st.Create(bg, "Erin"))
	wantErr(t, st.Create(bg, "erin"), ErrUserIDExists)
	wantErr(t, st.Create(bg, ""), ErrInvalidUserID)

	a := must(NewAccount(st, "ERIN"))
	defer a.Close()
	if a.UserID() != "erin" {
		t.Fatal("user id not lowercased")
	}
	for k, v := range map[string]any{"name": "Erin", "age": 41, "admin": false, "score": 1.5, "blob": []byte{1, 2},
		"tags": []string{"a", "b"}, "none": nil} {
		ok(t, a.Set(k, v))
	}
	ok(t, a.SetJSON("j", []byte(`{"x":[1]}`)))
	ok(t, a.SetCBOR("c", []byte{0x18, 0x64})) // 100
	if a.ModifiedCount() != 9 || !a.IsModified("age") || a.IsModified("nope") {
		t.Fatalf("modified: %d", a.ModifiedCount())
	}
	ok(t, a.Save(bg))
	if a.ModifiedCount() != 0 || a.IsModified("age") {
		t.Fatal("Save did not clear the modified set")
	}

	// A fresh handle loads lazily, in bulk, or everything.
	b := must(NewAccount(st, "erin"))
	defer b.Close()
	ok(t, b.Load(bg, "name", "age", "missing"))
	ok(t, b.Load(bg))
	ok(t, b.LoadAll(bg))
	var name string
	var age int64
	var admin bool
	var score float64
	var blob []byte
	var tags []string
	var none any = "x"
	var c int
	ok(t, b.Get(bg, "name", &name))
	ok(t, b.Get(bg, "age", &age))
	ok(t, b.Get(bg, "admin", &admin))
	ok(t, b.Get(bg, "score", &score))
	ok(t, b.Get(bg, "blob", &blob))
	ok(t, b.Get(bg, "tags", &tags))
	ok(t, b.Get(bg, "none", &none))
	ok(t, b.Get(bg, "c", &c))
	if name != "Erin" || age != 41 || admin || score != 1.5 || !bytes.Equal(blob, []byte{1, 2}) ||
		!reflect.DeepEqual(tags, []string{"a", "b"}) || none != nil || c != 100 {
		t.Fatal("values did not round-trip through the store")
	}
	if js := must(b.GetJSON(bg, "j")); string(js) != `{"x":[1]}` {
		t.Fatalf("GetJSON %s", js)
	}
	if cb := must(b.GetCBOR(bg, "c")); !bytes.Equal(cb, []byte{0x18, 0x64}) {
		t.Fatalf("GetCBOR % x", cb)
	}
	if typ := must(b.Type(bg, "tags")); typ != TypeArray {
		t.Fatalf("Type %v", typ)
	}
	wantErr(t, b.Get(bg, "missing", &name), ErrNotFound)
	wantErr(t, b.Get(bg, "age", &name), ErrTypeMismatch)
	wantErr(t, b.SetCBOR("bad", []byte{0xff}), ErrInvalidCBOR)
	wantErr(t, b.SetJSON("bad", []byte(`[`)), ErrInvalidJSON)

	// Saving an account that does not exist keeps the changes for a retry.
	ghost := must(NewAccount(st, "ghost"))
	defer ghost.Close()
	ok(t, ghost.Set("k", 1))
	wantErr(t, ghost.Save(bg), ErrInvalidCredentials)
	if !ghost.IsModified("k") {
		t.Fatal("changes lost after a failed save")
	}
	ok(t, ghost.Load(bg, "k")) // modified: nothing to load
	wantErr(t, ghost.Load(bg, "other"), ErrInvalidCredentials)

	ctx, cancel := context.WithCancel(bg)
	cancel()
	if err := b.Save(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled: %v", err)
	}

	ok(t, st.Remove(bg, "erin"))
	wantErr(t, st.Remove(bg, "erin"), ErrInvalidCredentials)
	again := must(NewAccount(st, "erin"))
	defer again.Close()
	wantErr(t, again.Get(bg, "name", &name), ErrInvalidCredentials)
	_, err := NewAccount(st, "")
	wantErr(t, err, ErrInvalidUserID)

	ok(t, a.Close())
	ok(t, a.Close())
	wantErr(t, a.Set("x", 1), ErrClosed)
	wantErr(t, a.Get(bg, "x", &name), ErrClosed)
	wantErr(t, a.Save(bg), ErrClosed)
	if a.UserID() != "" || a.ModifiedCount() != 0 || a.IsModified("x") {
		t.Fatal("accessors of a closed account")
	}
}

func TestAccountsMemoryStore(t *testing.T) {
	st := must(NewMemoryAccountStore())
	defer st.Close()
	exerciseAccounts(t, st)
}

func TestAccountsGoStore(t *testing.T) {
	ms := newMemStore()
	st := must(NewAccountStore(ms))
	defer st.Close()
	exerciseAccounts(t, st)
	// The store saw a bulk load of exactly the names asked for, and "all" as nil.
	var sawNames, sawAll bool
	for _, l := range ms.loads {
		if reflect.DeepEqual(l, []string{"age", "missing", "name"}) { // the library sorts them
			sawNames = true
		}
		if l == nil {
			sawAll = true
		}
	}
	if !sawNames || !sawAll {
		t.Fatalf("loads seen: %q", ms.loads)
	}
	// Only modified properties are written.
	a := must(NewAccount(st, "zed"))
	defer a.Close()
	ok(t, st.Create(bg, "zed"))
	ok(t, a.Set("only", 1))
	before := len(ms.saves)
	ok(t, a.Save(bg))
	if len(ms.saves) != before+1 || len(ms.saves[before]) != 1 || ms.saves[before]["only"] == nil {
		t.Fatalf("save wrote %v", ms.saves[before:])
	}
}

func TestAccountStoreWithoutRemove(t *testing.T) {
	st := must(NewAccountStore(basicStore{newMemStore()}))
	defer st.Close()
	ok(t, st.Create(bg, "u"))
	wantErr(t, st.Remove(bg, "u"), ErrUnsupported)
}
