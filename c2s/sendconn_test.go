package c2s

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"
)

// loopbackPair returns the server and client ends of a loopback TCP
// connection, both with small kernel buffers so they fill quickly (not below a loopback
// segment, ~64 KiB, or the window reopens only by zero-window probes).
func loopbackPair(t *testing.T) (server, client *net.TCPConn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := l.Accept()
		accepted <- c
	}()
	cc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	sc := <-accepted
	if sc == nil {
		t.Fatal("accept failed")
	}
	server, client = sc.(*net.TCPConn), cc.(*net.TCPConn)
	_ = server.SetWriteBuffer(64 << 10)
	_ = client.SetReadBuffer(64 << 10)
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

// A peer that does not read never makes a non-blocking write wait: what
// the socket refuses is kept in order, the writer is told, and a flush
// later delivers every byte exactly once, in order.
func TestSendConnNeverWaitsAndKeepsOrder(t *testing.T) {
	server, client := loopbackPair(t)
	sc := newSendConn(server)
	sc.setNonBlocking(true)
	var told atomic.Int32
	sc.onPending = func() { told.Add(1) }

	var want bytes.Buffer
	start := time.Now()
	for i := range 4000 {
		chunk := fmt.Appendf(nil, "<message id='%06d'>%s</message>", i, bytes.Repeat([]byte("x"), 200))
		want.Write(chunk)
		if n, err := sc.Write(chunk); err != nil || n != len(chunk) {
			t.Fatalf("write %d: n=%d err=%v", i, n, err)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("4,000 writes to a peer that does not read took %v: a write waited", d)
	}
	if !sc.hasPending() || told.Load() == 0 {
		t.Fatalf("~900 KB to a stalled peer: pending=%v, writer told %d times", sc.hasPending(), told.Load())
	}

	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(client)
		got <- b
	}()
	_ = server.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := sc.flush(); err != nil {
		t.Fatalf("flush to a reading peer: %v", err)
	}
	if sc.hasPending() {
		t.Fatal("pending after a successful flush")
	}
	_ = server.CloseWrite()
	if b := <-got; !bytes.Equal(b, want.Bytes()) {
		t.Fatalf("peer got %d bytes, want %d (or out of order)", len(b), want.Len())
	}
}

// flush waits for the socket only until the write deadline: a stalled
// reader is detected, the producer never is.
func TestSendConnFlushHonoursDeadline(t *testing.T) {
	server, _ := loopbackPair(t)
	sc := newSendConn(server)
	sc.setNonBlocking(true)
	chunk := bytes.Repeat([]byte("y"), 64<<10)
	for range 32 {
		if _, err := sc.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	_ = server.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
	start := time.Now()
	err := sc.flush()
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("flush to a stalled reader: %v, want a deadline error", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("flush returned after %v", d)
	}
}

// In blocking mode (a TLS handshake) a write goes out before it returns.
func TestSendConnBlockingModeWritesThrough(t *testing.T) {
	server, client := loopbackPair(t)
	sc := newSendConn(server)
	if _, err := sc.Write([]byte("<proceed/>")); err != nil {
		t.Fatal(err)
	}
	if sc.hasPending() {
		t.Fatal("a blocking write left bytes pending")
	}
	buf := make([]byte, 10)
	if _, err := io.ReadFull(client, buf); err != nil || string(buf) != "<proceed/>" {
		t.Fatalf("read %q, %v", buf, err)
	}
}

// A write deadline that passed (the writer sets one per write and leaves
// it) does not fail a later non-blocking write.
func TestSendConnIgnoresStaleWriteDeadline(t *testing.T) {
	server, client := loopbackPair(t)
	sc := newSendConn(server)
	sc.setNonBlocking(true)
	_ = server.SetWriteDeadline(time.Now().Add(-time.Second))
	if _, err := sc.Write([]byte("<message/>")); err != nil {
		t.Fatalf("non-blocking write after the deadline passed: %v", err)
	}
	buf := make([]byte, 10)
	if _, err := io.ReadFull(client, buf); err != nil || string(buf) != "<message/>" {
		t.Fatalf("read %q, %v", buf, err)
	}
}
