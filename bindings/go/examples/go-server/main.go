// Command go-server is the example Toto service (package server): Toto's protocol at
// / on PORT (default 8080), HMAC on unless TOTO_HMAC=off, memory backends or a Redis
// session cache at TOTO_REDIS_URL; TOTO_COOKIES=on, TOTO_ALLOW_ORIGIN=a,b, TOTO_SESSION_TTL=seconds (see
// server.FromEnv). `make serve-go` builds and runs it.
package main

import (
	"context"
	"errors"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/toto-session/toto-session/bindings/go/examples/go-server/server"
)

func main() {
	cfg := server.FromEnv(os.Getenv)
	mgr, err := server.NewManager(cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer mgr.Close()
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	ln, err := net.Listen("tcp", ":"+port)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: server.New(mgr, cfg), ReadHeaderTimeout: 10 * time.Second}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	log.Printf("go-server: Toto service listening on %s (hmac=%v cookies=%v)", ln.Addr(), cfg.HMAC, cfg.Cookies)
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}
