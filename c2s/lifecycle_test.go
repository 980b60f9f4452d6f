package c2s_test

import (
	"context"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/gavelhq/gavel/c2s"
	"github.com/gavelhq/gavel/internal/xmpptest"
)

func TestShutdown(t *testing.T) {
	e := newEnv(t, envConfig{opts: func(o *c2s.Options) { o.WebSocketSecure = true }})
	tcp := e.login(t, "alice", "")
	ws := xmpptest.DialWebSocket(t, e.ws)
	ws.Domain = testDomain
	ws.Login("PLAIN", "bob", testPassword, "")
	idle := e.dial(t) // not even opened
	if _, err := idle.NextHeader(10 * time.Millisecond); err != xmpptest.ErrTimeout {
		t.Fatalf("idle stream: %v", err)
	}

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- e.srv.Shutdown(ctx)
	}()
	tcp.ExpectStreamError(t, "system-shutdown", 3*time.Second)
	ws.ExpectStreamError(t, "system-shutdown", 3*time.Second)
	if _, err := idle.NextHeader(3 * time.Second); err != nil {
		t.Fatalf("a stream closed before its header gets our header first: %v", err)
	}
	idle.ExpectStreamError(t, "system-shutdown", 3*time.Second)
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for range 2 {
		if ev := e.h.nextEnded(t); !ev.bound {
			t.Fatalf("SessionEnded: %+v", ev)
		}
	}
	if n := e.srv.StreamCount(); n != 0 {
		t.Fatalf("%d streams left after Shutdown", n)
	}
	if n := e.router.SessionCount(); n != 0 {
		t.Fatalf("%d sessions left in the router", n)
	}
	// The listeners are closed.
	if c, err := net.DialTimeout("tcp", e.tcp, time.Second); err == nil {
		_ = c.Close()
		t.Fatal("the TCP listener still accepts")
	}
}

func TestShutdownDeadlineCutsStragglers(t *testing.T) {
	e := newEnv(t, envConfig{opts: func(o *c2s.Options) { o.CloseGrace = time.Minute }})
	e.login(t, "alice", "") // never answers the server's close
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := e.srv.Shutdown(ctx); err != context.DeadlineExceeded {
		t.Fatalf("Shutdown: %v, want DeadlineExceeded", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Fatal("Shutdown did not cut the connection at its deadline")
	}
	if n := e.srv.StreamCount(); n != 0 {
		t.Fatalf("%d streams left", n)
	}
}

// TestNoGoroutineLeak runs every kind of stream, ends them in every way,
// shuts down, and checks that the goroutine count comes back.
func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	// A subtest, so that its Cleanups (store, HTTP server, clients) have
	// run when the goroutines are counted.
	t.Run("streams", func(t *testing.T) {
		e := newEnv(t, envConfig{opts: func(o *c2s.Options) {
			o.WebSocketSecure = true
			o.IdleTimeout = 50 * time.Millisecond
		}})
		a := e.login(t, "alice", "a")
		b := e.login(t, "alice", "a") // replaces a
		a.ExpectStreamError(t, "conflict", 2*time.Second)
		d := xmpptest.DialDirectTLS(t, e.tls, testDomain)
		d.Open()
		if err := d.Auth("SCRAM-SHA-1", "bob", testPassword); err != nil {
			t.Fatal(err)
		}
		d.Bind("")
		ws := xmpptest.DialWebSocket(t, e.ws)
		ws.Domain = testDomain
		ws.Login("SCRAM-SHA-256", "carol", testPassword, "")
		bad := e.dial(t)
		bad.SendRaw("<not xml")
		bad.CloseNow()
		half := e.dial(t)
		half.Open()
		half.SendRaw("<starttls xmlns='" + xmpptest.NSTLS + "'/>")
		half.Expect(t, xmpptest.IsName(xmpptest.NSTLS, "proceed"), time.Second)
		half.CloseNow() // dies in the TLS handshake
		b.Close()
		d.CloseNow()
		e.stop(t)
		ws.Close()
	})
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines before, %d after:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}
