// Package testserver starts a real Gavel for integration tests: dev mode,
// listeners on 127.0.0.1 with kernel-chosen ports, a temporary data
// directory, logs routed to the test's log, and shutdown at cleanup.
package testserver

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/server"
	"github.com/gavelhq/gavel/webui"
)

// Domain is the XMPP domain of test servers (unless mutate changes it).
const Domain = "gavel.test"

// Server is a running test server.
type Server struct {
	*server.Server
	Domain string
	// C2SAddr is the STARTTLS listener, C2STLSAddr the direct TLS one,
	// HTTPAddr the HTTP listener (WebSocketURL is on it).
	C2SAddr, C2STLSAddr, HTTPAddr string
	// S2SAddr is the federation listener when the config enables one.
	S2SAddr      string
	WebSocketURL string
	// DataDir is the temporary data directory.
	DataDir string
	// Stdout holds what the server printed (the first-start credentials).
	Stdout *bytes.Buffer

	t testing.TB
}

// Config returns the configuration Start uses before mutate: dev mode,
// ephemeral loopback ports, no s2s, a data directory under t.TempDir().
func Config(t testing.TB) server.Config {
	cfg := server.Defaults(true)
	cfg.Domain = Domain
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.Listeners = server.ListenersConfig{
		C2S:    "127.0.0.1:0",
		C2STLS: "127.0.0.1:0",
		HTTP:   "127.0.0.1:0",
	}
	return cfg
}

// Start starts a server and stops it when the test ends. mutate (may be
// nil) adjusts the configuration first.
func Start(t testing.TB, mutate func(*server.Config)) *Server {
	t.Helper()
	cfg := Config(t)
	if mutate != nil {
		mutate(&cfg)
	}
	if err := cfg.Finalize(); err != nil {
		t.Fatalf("testserver: %v", err)
	}
	logw := &testLogWriter{t: t}
	var stdout bytes.Buffer
	log := slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: level()}))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := server.Start(ctx, cfg, server.WithLogger(log), server.WithOutput(&stdout))
	if err != nil {
		t.Fatalf("testserver: start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("testserver: shutdown: %v", err)
		}
		logw.stop()
	})
	a := s.Addrs()
	ts := &Server{Server: s, Domain: cfg.Domain, C2SAddr: a.C2S, C2STLSAddr: a.C2STLS,
		HTTPAddr: a.HTTP, S2SAddr: a.S2S, DataDir: cfg.DataDir, Stdout: &stdout, t: t}
	if a.HTTP != "" {
		ts.WebSocketURL = "ws://" + a.HTTP + webui.WebSocketPath
	}
	return ts
}

// CreateUser creates name@Domain with password and returns its bare JID.
func (s *Server) CreateUser(name, password string) jid.JID {
	s.t.Helper()
	j, err := jid.New(name, s.Domain, "")
	if err != nil {
		s.t.Fatalf("testserver: user %q: %v", name, err)
	}
	if err := s.Accounts.Create(context.Background(), j, password); err != nil {
		s.t.Fatalf("testserver: creating %s: %v", j, err)
	}
	return j
}

// ClientTLS returns a TLS client config that trusts the server's
// self-signed certificate and expects the server's domain.
func (s *Server) ClientTLS() *tls.Config {
	s.t.Helper()
	pem, err := os.ReadFile(filepath.Join(s.DataDir, server.SelfSignedCertFile))
	if err != nil {
		s.t.Fatalf("testserver: reading certificate: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		s.t.Fatal("testserver: unparsable certificate")
	}
	return &tls.Config{RootCAs: pool, ServerName: s.Domain, MinVersion: tls.VersionTLS12}
}

// level is debug when GAVEL_TEST_LOG=debug, else warnings only, so test
// output stays readable.
func level() slog.Level {
	if os.Getenv("GAVEL_TEST_LOG") == "debug" {
		return slog.LevelDebug
	}
	return slog.LevelWarn
}

// testLogWriter forwards log lines to t.Log until the server stopped: a
// goroutine logging after the test ended must not make testing panic.
type testLogWriter struct {
	mu      sync.Mutex
	t       testing.TB
	stopped bool
}

func (w *testLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.stopped {
		w.t.Log(string(bytes.TrimRight(p, "\n")))
	}
	return len(p), nil
}

func (w *testLogWriter) stop() {
	w.mu.Lock()
	w.stopped = true
	w.mu.Unlock()
}

var _ io.Writer = (*testLogWriter)(nil)
