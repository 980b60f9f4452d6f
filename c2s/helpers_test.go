package c2s_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/auth"
	"github.com/gavelhq/gavel/c2s"
	"github.com/gavelhq/gavel/data"
	"github.com/gavelhq/gavel/internal/xmpptest"
	"github.com/gavelhq/gavel/router"
	"github.com/gavelhq/gavel/xmlstream"
)

const (
	testDomain   = "example.com"
	testPassword = "correct horse"
)

// testCert returns a self-signed certificate for testDomain.
func testCert(tb testing.TB) tls.Certificate {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: testDomain},
		DNSNames:     []string{testDomain, "localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// ended is one Handler.SessionEnded call.
type ended struct {
	jid   string
	bound bool
	last  router.Resource
}

// recorder is the fake IM core: it records what bound clients send and
// delivers messages addressed to a bound full JID, so two test clients can
// talk.
type recorder struct {
	r       *router.Router
	stanzas chan *xmlstream.Stanza
	ended   chan ended
	// undelivered gets each Undelivered call.
	undelivered chan []*xmlstream.Stanza
}

func (h *recorder) HandleClient(ctx context.Context, s router.Session, st *xmlstream.Stanza) {
	select {
	case h.stanzas <- st:
	default:
	}
	if st.Name.Local != xmlstream.KindMessage {
		return
	}
	if to, err := jid.Parse(st.To()); err == nil {
		if res, ok := h.r.Lookup(to); ok {
			res.Session.Send(st)
		}
	}
}

func (h *recorder) SessionEnded(ctx context.Context, s router.Session, last router.Resource, bound bool) {
	select { // never block the stream (benchmarks end thousands of sessions)
	case h.ended <- ended{jid: s.JID().String(), bound: bound, last: last}:
	default:
	}
}

func (h *recorder) Undelivered(ctx context.Context, s router.Session, sts []*xmlstream.Stanza) {
	select {
	case h.undelivered <- sts:
	default:
	}
}

// nextUndelivered returns the stanzas of the next Undelivered call.
func (h *recorder) nextUndelivered(t testing.TB) []*xmlstream.Stanza {
	t.Helper()
	select {
	case sts := <-h.undelivered:
		return sts
	case <-time.After(5 * time.Second):
		t.Fatal("Undelivered was not called")
		return nil
	}
}

// next returns the next stanza the handler got, failing after timeout.
func (h *recorder) next(t testing.TB) *xmlstream.Stanza {
	t.Helper()
	select {
	case st := <-h.stanzas:
		return st
	case <-time.After(3 * time.Second):
		t.Fatal("the handler received no stanza")
		return nil
	}
}

func (h *recorder) nextEnded(t testing.TB) ended {
	t.Helper()
	select {
	case e := <-h.ended:
		return e
	case <-time.After(5 * time.Second):
		t.Fatal("SessionEnded was not called")
		return ended{}
	}
}

// env is a running c2s server with its listeners.
type env struct {
	srv      *c2s.Server
	router   *router.Router
	accounts *auth.Accounts
	h        *recorder
	tcp      string // STARTTLS listener
	tls      string // direct TLS listener
	ws       string // ws:// URL
	shutdown sync.Once
}

type envConfig struct {
	opts   func(*c2s.Options)
	router router.Options
	auth   auth.Options
}

// newEnv starts a server on loopback with accounts alice, bob and carol.
func newEnv(t testing.TB, cfg envConfig) *env {
	t.Helper()
	store, err := data.OpenInMemory()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	acc := auth.New(store, cfg.auth)
	for _, u := range []string{"alice", "bob", "carol"} {
		if err := acc.Create(context.Background(), jid.MustParse(u+"@"+testDomain), testPassword); err != nil {
			t.Fatal(err)
		}
	}
	r := router.New(cfg.router)
	h := &recorder{r: r, stanzas: make(chan *xmlstream.Stanza, 1000), ended: make(chan ended, 100),
		undelivered: make(chan []*xmlstream.Stanza, 100)}
	opts := c2s.Options{
		Domains:     []string{testDomain},
		TLSConfig:   &tls.Config{Certificates: []tls.Certificate{testCert(t)}},
		RequireTLS:  true,
		CloseGrace:  500 * time.Millisecond,
		AuthTimeout: 5 * time.Second,
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if cfg.opts != nil {
		cfg.opts(&opts)
	}
	e := &env{srv: c2s.New(opts, r, acc, h), router: r, accounts: acc, h: h}

	lt, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.tcp = lt.Addr().String()
	go func() { _ = e.srv.ServeTCP(lt) }()
	if opts.TLSConfig != nil {
		ld, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		e.tls = ld.Addr().String()
		go func() { _ = e.srv.ServeDirectTLS(ld) }()
	}
	hs := httptest.NewServer(e.srv.WebSocketHandler())
	e.ws = "ws" + strings.TrimPrefix(hs.URL, "http")
	t.Cleanup(func() {
		e.stop(t)
		hs.Close()
	})
	return e
}

func (e *env) stop(t testing.TB) {
	e.shutdown.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := e.srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
}

// dial opens a TCP client for the test domain.
func (e *env) dial(t testing.TB) *xmpptest.Client {
	t.Helper()
	c := xmpptest.Dial(t, e.tcp)
	c.Domain = testDomain
	return c
}

// login returns a TCP client logged in as user (STARTTLS, SCRAM-SHA-256, bind).
func (e *env) login(t testing.TB, user, resource string) *xmpptest.Client {
	t.Helper()
	c := e.dial(t)
	c.Login("SCRAM-SHA-256", user, testPassword, resource)
	return c
}

// waitFor polls cond until it holds or fails t after timeout.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func mustJID(s string) jid.JID { return jid.MustParse(s) }
