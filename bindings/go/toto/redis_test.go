package toto

import (
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// startRedis runs a private redis-server on a free port (a missing server fails the test).
func startRedis(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal("redis-server not installed (scripts/install-deps.sh redis)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	for deadline := time.Now().Add(5 * time.Second); ; {
		c, err := net.Dial("tcp", "127.0.0.1:"+port)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server did not start: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "redis://127.0.0.1:" + port
}

func TestRedisCacheUnavailable(t *testing.T) {
	_, err := NewRedisCache("not a url", nil)
	wantErr(t, err, ErrInvalidArgument)
	c := must(NewRedisCache("redis://127.0.0.1:1", &RedisOptions{ConnectTimeout: 200 * time.Millisecond}))
	defer c.Close()
	_, err = c.Load(bg, GenerateID())
	wantErr(t, err, ErrBackendUnavailable)
	m := must(NewManager(c, must(NewMemoryAccountStore()), cheap))
	defer m.Close()
	_, err = m.CreateSession(bg, "", false)
	wantErr(t, err, ErrBackendUnavailable)
	// After the failure, calls fail fast during the back-off and say so.
	down := must(NewRedisCache("redis://127.0.0.1:1", &RedisOptions{DownBackoff: time.Minute}))
	defer down.Close()
	_, err = down.Load(bg, GenerateID())
	wantErr(t, err, ErrBackendUnavailable)
	_, err = down.Load(bg, GenerateID())
	wantErr(t, err, ErrBackendUnavailable)
	if !strings.Contains(err.Error(), "back-off") {
		t.Fatalf("not the back-off: %v", err)
	}
	off := must(NewRedisCache("redis://127.0.0.1:1", &RedisOptions{NoDownBackoff: true}))
	defer off.Close()
	_, err = off.Load(bg, GenerateID())
	wantErr(t, err, ErrBackendUnavailable)
	_, err = off.Load(bg, GenerateID())
	if strings.Contains(err.Error(), "back-off") {
		t.Fatalf("back-off although turned off: %v", err)
	}
}

func TestRedisCache(t *testing.T) {
	url := startRedis(t)
	for _, opts := range []*RedisOptions{nil, {KeyPrefix: "go-test:", RawIDs: true, PoolSize: 2,
		ConnectTimeout: time.Second, IOTimeout: time.Second}} {
		t.Run(fmt.Sprintf("%+v", opts), func(t *testing.T) {
			c := must(NewRedisCache(url, opts))
			defer c.Close()
			id := GenerateID()
			must(c.Store(bg, id, "u", time.Now().Add(time.Hour), []byte("rec"), false))
			if got := must(c.Load(bg, id)); string(got) != "rec" {
				t.Fatalf("Load %q", got)
			}
			_, err := c.Store(bg, id, "u", time.Now().Add(time.Hour), []byte("rec"), true)
			wantErr(t, err, ErrIDCollision)
			ok(t, c.Remove(bg, id))
			_, err = c.Load(bg, id)
			wantErr(t, err, ErrNotFound)

			m := must(NewManager(c, must(NewMemoryAccountStore()), cheap))
			defer m.Close()
			ok(t, m.CreateAccount(bg, "ron", "pw", nil))
			s := must(m.Login(bg, "ron", "pw"))
			defer s.Close()
			ok(t, s.Set("k", []int{1, 2}))
			ok(t, m.SaveSession(bg, s))
			mac := must(s.SignRequest("POST", "/", []byte("{}")))
			r := must(m.VerifyRequest(bg, s.ID(), mac, "POST", "/", []byte("{}")))
			var k []int
			ok(t, r.Get("k", &k))
			r.Close()
			if len(k) != 2 {
				t.Fatal("state lost in Redis")
			}
			l := must(c.LoadSession(bg, s.ID()))
			l.Close()
			if n := must(m.ClearSessions(bg, "ron")); n != 1 {
				t.Fatalf("ClearSessions %d", n)
			}
			_, err = m.RetrieveSession(bg, s.ID())
			wantErr(t, err, ErrInvalidSessionID)
		})
	}
}
