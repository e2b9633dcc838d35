package toto_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/toto-session/toto-session/bindings/go/toto"
)

// The README's example: accounts, login, a signed request, state, and a refused one.
func Example() {
	ctx := context.Background()
	cache, err := toto.NewMemoryCache()
	if err != nil {
		log.Fatal(err)
	}
	defer cache.Close()
	store, err := toto.NewMemoryAccountStore()
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	mgr, err := toto.NewManager(cache, store)
	if err != nil {
		log.Fatal(err)
	}
	defer mgr.Close()

	err = mgr.CreateAccount(ctx, "Alice", "correct horse", map[string]any{"email": "alice@example.com"})
	if err != nil {
		log.Fatal(err)
	}
	login, err := mgr.Login(ctx, "alice", "correct horse")
	if err != nil {
		log.Fatal(err)
	}
	defer login.Close()
	key, _ := login.Key() // send login.ID(), login.Expires() and key to the client

	// The client signs METHOD + URI + BODY with the key; the server checks it and gets
	// the session back in one call.
	body := []byte(`{"method":"state.set","parameters":{"key":"cart","value":["apple"]}}`)
	mac, err := toto.HMAC([]byte(key), append([]byte("POST/"), body...))
	if err != nil {
		log.Fatal(err)
	}
	session, err := mgr.VerifyRequest(ctx, login.ID(), mac, "POST", "/", body)
	if err != nil {
		log.Fatal(err)
	}
	defer session.Close()
	if err := session.Set("cart", []string{"apple"}); err != nil {
		log.Fatal(err)
	}
	// At the end of the request: the change saved and the answer signed, in one call
	// (the mac goes out as the answer's x-toto-hmac header).
	if _, err := mgr.FinishResponse(ctx, session, []byte(`{"result":true}`)); err != nil {
		log.Fatal(err)
	}

	again, err := mgr.RetrieveSession(ctx, login.ID())
	if err != nil {
		log.Fatal(err)
	}
	defer again.Close()
	var cart []string
	if err := again.Get("cart", &cart); err != nil {
		log.Fatal(err)
	}
	fmt.Println(again.UserID(), cart)

	_, err = mgr.VerifyRequest(ctx, login.ID(), mac, "POST", "/", []byte("tampered"))
	fmt.Println(errors.Is(err, toto.ErrInvalidHMAC), uint32(toto.CodeOf(err)))
	// Output:
	// alice [apple]
	// true 1008
}
