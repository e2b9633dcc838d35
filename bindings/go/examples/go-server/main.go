// Command go-server is an example Toto service: Toto's method-call protocol over
// net/http, with sessions, accounts and HMAC signing from toto-session (see package
// server for the protocol). Sessions and accounts live in the library's memory
// backends.
//
//	go run ./examples/go-server -addr 127.0.0.1:8888
//
// The address can also come from TOTO_ADDR.
package main

import (
	"context"
	"errors"
	"flag"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/toto-session/toto-session/bindings/go/toto"
	"github.com/toto-session/toto-session/bindings/go/examples/go-server/server"
)

func main() {
	def := os.Getenv("TOTO_ADDR")
	if def == "" {
		def = "127.0.0.1:8888"
	}
	addr := flag.String("addr", def, "listen address (env TOTO_ADDR)")
	flag.Parse()

	mgr, err := server.NewMemoryManager()
	if err != nil {
		log.Fatal(err)
	}
	defer mgr.Close()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: server.New(mgr), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	log.Printf("toto-session %s: Toto service on http://%s/", toto.Version(), ln.Addr())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}
