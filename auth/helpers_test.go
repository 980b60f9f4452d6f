package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"math/big"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"mellium.im/sasl"
	"mellium.im/xmpp/jid"
)

const testDomain = "example.com"

// fakeClock is the limiter's clock in tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// newTestAccounts returns Accounts over a fresh memKV with a fake clock.
func newTestAccounts(t testing.TB, o Options) (*Accounts, *memKV, *fakeClock) {
	t.Helper()
	kv := newMemKV()
	a := New(kv, o)
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	a.impl.limiter.now = clock.Now
	return a, kv, clock
}

func mustCreate(t testing.TB, a *Accounts, bare, password string) jid.JID {
	t.Helper()
	j := jid.MustParse(bare)
	if err := a.Create(context.Background(), j, password); err != nil {
		t.Fatalf("Create(%s): %v", bare, err)
	}
	return j
}

func creds(user, password, authzid string) sasl.Option {
	return sasl.Credentials(func() ([]byte, []byte, []byte) {
		return []byte(user), []byte(password), []byte(authzid)
	})
}

// plainConn is a connection without TLS from a documentation address.
func plainConn() ConnInfo {
	return ConnInfo{Domain: testDomain, RemoteIP: netip.MustParseAddr("192.0.2.1")}
}

// tls12Conn pretends TLS 1.2 without a handshake: enough where no channel
// binding is involved.
func tls12Conn() ConnInfo {
	c := plainConn()
	c.TLS = &tls.ConnectionState{Version: tls.VersionTLS12}
	return c
}

// failureOf returns err as a *Failure or fails the test.
func failureOf(t testing.TB, err error) *Failure {
	t.Helper()
	var f *Failure
	if !errors.As(err, &f) {
		t.Fatalf("want *Failure, got %v", err)
	}
	return f
}

func wantCondition(t testing.TB, err error, cond string) *Failure {
	t.Helper()
	f := failureOf(t, err)
	if f.Condition != cond {
		t.Fatalf("condition = %q (%q), want %q", f.Condition, f.Text, cond)
	}
	return f
}

// run drives the server exchange ex with the mellium client c until either
// ends. It returns the server's error (nil on success) and fails the test if
// the client rejects the server's messages, in particular the
// server-final-message's signature.
func run(t testing.TB, ex Exchange, c *sasl.Negotiator) error {
	t.Helper()
	ctx := context.Background()
	more, in, err := c.Step(nil)
	if err != nil {
		t.Fatalf("client start: %v", err)
	}
	for range 4 {
		out, done, err := ex.Step(ctx, in)
		if err != nil {
			return err
		}
		if done {
			if more {
				if _, _, err := c.Step(out); err != nil {
					t.Fatalf("client rejected the server's final message %q: %v", out, err)
				}
			}
			return nil
		}
		more, in, err = c.Step(out)
		if err != nil {
			t.Fatalf("client step on %q: %v", out, err)
		}
	}
	t.Fatal("exchange did not end")
	return nil
}

func begin(t testing.TB, a *Accounts, c ConnInfo, mech string) Exchange {
	t.Helper()
	ex, err := a.Begin(c, mech)
	if err != nil {
		t.Fatalf("Begin(%s): %v", mech, err)
	}
	return ex
}

// serverFirst holds the parts of a server-first-message.
type serverFirst struct {
	nonce string
	salt  []byte
	iter  int
}

func parseServerFirst(t testing.TB, msg []byte) serverFirst {
	t.Helper()
	parts := strings.Split(string(msg), ",")
	if len(parts) != 3 || !strings.HasPrefix(parts[0], "r=") || !strings.HasPrefix(parts[1], "s=") || !strings.HasPrefix(parts[2], "i=") {
		t.Fatalf("bad server-first-message %q", msg)
	}
	salt, err := base64.StdEncoding.DecodeString(parts[1][2:])
	if err != nil {
		t.Fatalf("bad salt in %q", msg)
	}
	iter, err := strconv.Atoi(parts[2][2:])
	if err != nil {
		t.Fatalf("bad iteration count in %q", msg)
	}
	return serverFirst{nonce: parts[0][2:], salt: salt, iter: iter}
}

// clientFinalFor computes a client-final-message the way a client does, so
// tests can tamper with its parts. cbind is the raw c= input (gs2 header plus
// binding data), nonce the r= value.
func clientFinalFor(t testing.TB, h *scramHash, password, clientFirstBare string, sfMsg []byte, cbind []byte, nonce string) string {
	t.Helper()
	sf := parseServerFirst(t, sfMsg)
	salted := pbkdf2Key(t, h, password, sf.salt, sf.iter)
	withoutProof := "c=" + base64.StdEncoding.EncodeToString(cbind) + ",r=" + nonce
	authMsg := clientFirstBare + "," + string(sfMsg) + "," + withoutProof
	clientKey := h.hmac(salted, []byte("Client Key"))
	sig := h.hmac(h.sum(clientKey), []byte(authMsg))
	proof := make([]byte, len(sig))
	for i := range sig {
		proof[i] = sig[i] ^ clientKey[i]
	}
	return withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof)
}

// tlsPair makes a real TLS connection over loopback and returns the client's
// and the server's connection states (their exporters agree).
func tlsPair(t testing.TB, version uint16) (client, server tls.ConnectionState) {
	t.Helper()
	cert := selfSigned(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type result struct {
		state tls.ConnectionState
		err   error
	}
	done := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- result{err: err}
			return
		}
		t.Cleanup(func() { c.Close() })
		s := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: version, MaxVersion: version})
		err = s.Handshake()
		done <- result{s.ConnectionState(), err}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true, MinVersion: version, MaxVersion: version})
	if err := tc.Handshake(); err != nil {
		t.Fatalf("client handshake: %v", err)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("server handshake: %v", r.err)
	}
	return tc.ConnectionState(), r.state
}

func selfSigned(t testing.TB) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: testDomain},
		DNSNames:     []string{testDomain},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func pbkdf2Key(t testing.TB, h *scramHash, password string, salt []byte, iter int) []byte {
	t.Helper()
	k, err := pbkdf2.Key(h.new, password, salt, iter, h.size)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// encodeSaslname escapes ',' and '=' as RFC 5802 §5.1 asks.
func encodeSaslname(s string) string {
	return strings.NewReplacer("=", "=3D", ",", "=2C").Replace(s)
}

func userJID(t testing.TB, local string) jid.JID {
	t.Helper()
	j, err := jid.New(local, testDomain, "")
	if err != nil {
		t.Fatal(err)
	}
	return j
}
