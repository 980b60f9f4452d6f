package s2s

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gavelhq/gavel/router"
	"github.com/gavelhq/gavel/xmlstream"
)

func TestDialbackKeyMatchesXEP0220Example(t *testing.T) {
	got := dialbackKey([]byte("s3cr3tf0rd14lb4ck"), "montague.example", "capulet.example", "D60000229F")
	if want := "b4835385f37fe2895af6c196b59097b16862406db80559900d96bf6fa7d23df3"; got != want {
		t.Fatalf("key = %s, want %s", got, want)
	}
	if !validKey([]byte("s3cr3tf0rd14lb4ck"), "montague.example", "capulet.example", "D60000229F", got) {
		t.Fatal("validKey rejects the right key")
	}
	if validKey([]byte("s3cr3tf0rd14lb4ck"), "montague.example", "capulet.example", "OTHERID", got) {
		t.Fatal("validKey accepts a key for another stream id")
	}
}

func selfSigned(t *testing.T, names ...string) *tls.Config {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: names[0]},
		DNSNames: names, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

// node is one federated server: a router whose local domain records what
// arrives, plus its s2s service listening on loopback.
type node struct {
	domain string
	router *router.Router
	svc    *Service
	addr   string

	mu  sync.Mutex
	got []*xmlstream.Stanza
	arr chan struct{}
}

func newNode(t *testing.T, domain string, requireTLS bool) *node {
	t.Helper()
	n := &node{domain: domain, router: router.New(router.Options{}), arr: make(chan struct{}, 100)}
	n.router.HandleDomain(domain, router.HandlerFunc(func(_ context.Context, st *xmlstream.Stanza) {
		n.mu.Lock()
		n.got = append(n.got, st)
		n.mu.Unlock()
		n.arr <- struct{}{}
	}), true)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n.addr = l.Addr().String()
	n.svc = New(Options{
		IsLocal:        func(d string) bool { return d == domain },
		TLSConfig:      selfSigned(t, domain),
		RequireTLS:     requireTLS,
		Hosts:          map[string]string{},
		ConnectTimeout: 5 * time.Second,
	}, n.router)
	n.router.HandleRemote(n.svc)
	go n.svc.Serve(l)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := n.svc.Shutdown(ctx); err != nil {
			t.Errorf("shutdown %s: %v", domain, err)
		}
	})
	return n
}

func peer(a, b *node) {
	a.svc.opts.Hosts[b.domain] = b.addr
	b.svc.opts.Hosts[a.domain] = a.addr
}

func (n *node) wait(t *testing.T) *xmlstream.Stanza {
	t.Helper()
	select {
	case <-n.arr:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: nothing arrived", n.domain)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.got[len(n.got)-1]
}

func msg(from, to, body string) *xmlstream.Stanza {
	return xmlstream.NewStanza(xmlstream.NewElement(xmlstream.NSClient, "message", "from", from, "to", to, "type", "chat", "id", "m1").
		Append(xmlstream.NewElement(xmlstream.NSClient, "body").AppendText(body)))
}

func TestFederationBothWaysOverTLS(t *testing.T) {
	a, b := newNode(t, "a.test", true), newNode(t, "b.test", true)
	peer(a, b)
	ctx := context.Background()
	a.router.Route(ctx, msg("alice@a.test/phone", "bob@b.test", "hello <b>"))
	got := b.wait(t)
	if got.From() != "alice@a.test/phone" || got.To() != "bob@b.test" || got.Name.Space != xmlstream.NSClient {
		t.Fatalf("b got %s (ns %s)", got.Raw, got.Name.Space)
	}
	el, err := got.Element()
	if err != nil {
		t.Fatal(err)
	}
	if body := el.ChildText(xmlstream.NSClient, "body"); body != "hello <b>" {
		t.Fatalf("body = %q from %s", body, got.Raw)
	}
	// A second stanza reuses the verified stream; the reply goes the other way.
	a.router.Route(ctx, msg("alice@a.test/phone", "bob@b.test", "second"))
	if el, _ := b.wait(t).Element(); el.ChildText(xmlstream.NSClient, "body") != "second" {
		t.Fatal("second message lost")
	}
	b.router.Route(ctx, msg("bob@b.test/desk", "alice@a.test/phone", "reply"))
	if el, _ := a.wait(t).Element(); el.ChildText(xmlstream.NSClient, "body") != "reply" {
		t.Fatal("reply lost")
	}
	a.svc.mu.Lock()
	nout := len(a.svc.out)
	a.svc.mu.Unlock()
	if nout != 1 {
		t.Fatalf("a has %d outbound streams, want 1", nout)
	}
}

func TestUnreachableDomainBounces(t *testing.T) {
	a := newNode(t, "a.test", false)
	a.svc.opts.Hosts["nowhere.test"] = "127.0.0.1:1" // nothing listens on port 1
	a.router.Route(context.Background(), msg("alice@a.test/phone", "bob@nowhere.test", "x"))
	got := a.wait(t)
	if got.Type() != "error" || got.To() != "alice@a.test/phone" {
		t.Fatalf("bounce: %s", got.Raw)
	}
	if !strings.Contains(string(got.Raw), "remote-server-not-found") {
		t.Fatalf("condition: %s", got.Raw)
	}
}

// rawPeer speaks to a node's s2s port by hand.
type rawPeer struct {
	c   net.Conn
	dec *xmlstream.Decoder
}

func dialRaw(t *testing.T, n *node, from string) *rawPeer {
	t.Helper()
	c, err := net.Dial("tcp", n.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	p := &rawPeer{c: c, dec: xmlstream.NewDecoder(bufio.NewReader(c), xmlstream.Limits{})}
	p.send(t, string(header(from, n.domain, "")))
	if _, err := p.dec.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	if f := p.next(t); f.Name.Local != "features" {
		t.Fatalf("expected features, got %s", f.Raw)
	}
	return p
}

func (p *rawPeer) send(t *testing.T, s string) {
	t.Helper()
	if _, err := p.c.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
}

func (p *rawPeer) next(t *testing.T) *xmlstream.Stanza {
	t.Helper()
	el, err := p.dec.Next()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return el
}

func TestStanzaBeforeDialbackIsInvalidFrom(t *testing.T) {
	b := newNode(t, "b.test", false)
	p := dialRaw(t, b, "evil.test")
	p.send(t, "<message from='mallory@evil.test' to='bob@b.test'><body>spoof</body></message>")
	el := p.next(t)
	if el.Name.Local != "error" || !strings.Contains(string(el.Raw), "invalid-from") {
		t.Fatalf("got %s", el.Raw)
	}
	select {
	case <-b.arr:
		t.Fatal("unverified stanza was routed")
	case <-time.After(100 * time.Millisecond):
	}
}

func TestForgedDialbackKeyIsInvalid(t *testing.T) {
	a, b := newNode(t, "a.test", false), newNode(t, "b.test", false)
	peer(a, b)
	// Someone claims to be a.test with a key a.test never issued; b calls
	// a.test back, which says invalid.
	p := dialRaw(t, b, "a.test")
	p.send(t, string(dialbackElement("result", "a.test", "b.test", "", "", strings.Repeat("ab", 32))))
	el := p.next(t)
	if el.Name.Local != "result" || el.Type() != "invalid" || el.From() != "b.test" || el.To() != "a.test" {
		t.Fatalf("got %s", el.Raw)
	}
}

func TestDialbackForUnknownTargetIsError(t *testing.T) {
	b := newNode(t, "b.test", false)
	p := dialRaw(t, b, "a.test")
	p.send(t, string(dialbackElement("result", "a.test", "other.test", "", "", "00")))
	el := p.next(t)
	if el.Type() != "error" || !strings.Contains(string(el.Raw), "item-not-found") {
		t.Fatalf("got %s", el.Raw)
	}
}

func TestRequireTLSRefusesPlainDialback(t *testing.T) {
	b := newNode(t, "b.test", true)
	p := dialRaw(t, b, "a.test")
	p.send(t, string(dialbackElement("result", "a.test", "b.test", "", "", "00")))
	el := p.next(t)
	if el.Type() != "error" || !strings.Contains(string(el.Raw), "policy-violation") {
		t.Fatalf("got %s", el.Raw)
	}
}

func TestAuthoritativeVerify(t *testing.T) {
	a := newNode(t, "a.test", false)
	p := dialRaw(t, a, "b.test")
	key := dialbackKey(a.svc.opts.Secret, "b.test", "a.test", "STREAM1")
	p.send(t, string(dialbackElement("verify", "b.test", "a.test", "STREAM1", "", key)))
	if el := p.next(t); el.Type() != "valid" || el.ID() != "STREAM1" {
		t.Fatalf("genuine key: %s", el.Raw)
	}
	p.send(t, string(dialbackElement("verify", "b.test", "a.test", "STREAM2", "", key)))
	if el := p.next(t); el.Type() != "invalid" {
		t.Fatalf("key for another stream: %s", el.Raw)
	}
}

// After a failed connection, stanzas for the same domain are bounced at
// once for RetryAfter instead of dialing again for each.
func TestFailedDomainNotRedialedForEachStanza(t *testing.T) {
	a := newNode(t, "a.test", false)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var accepted sync.WaitGroup
	dials := make(chan struct{}, 10)
	accepted.Add(1)
	go func() {
		defer accepted.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			dials <- struct{}{}
			c.Close() // not a server: every attempt fails
		}
	}()
	a.svc.opts.Hosts["broken.test"] = l.Addr().String()
	for i := 0; i < 3; i++ {
		a.router.Route(context.Background(), msg("alice@a.test/phone", "bob@broken.test", "x"))
		if got := a.wait(t); got.Type() != "error" || !strings.Contains(string(got.Raw), "remote-server-not-found") {
			t.Fatalf("bounce %d: %s", i, got.Raw)
		}
	}
	l.Close()
	accepted.Wait()
	if n := len(dials); n != 1 {
		t.Fatalf("dialed %d times for 3 stanzas, want 1", n)
	}
}
