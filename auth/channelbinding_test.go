package auth

import (
	"context"
	"crypto/tls"
	"slices"
	"testing"

	"mellium.im/sasl"
)

var plusMechs = []struct {
	name   string
	client sasl.Mechanism
	h      *scramHash
}{
	{MechSCRAMSHA256Plus, sasl.ScramSha256Plus, &sha256Hash},
	{MechSCRAMSHA1Plus, sasl.ScramSha1Plus, &sha1Hash},
}

func tlsConn(state *tls.ConnectionState) ConnInfo {
	c := plainConn()
	c.TLS = state
	return c
}

func TestMechanismsOrder(t *testing.T) {
	a, _, _ := newTestAccounts(t, Options{AnonymousDomain: "anon.example.com"})
	tls13 := tlsConn(&tls.ConnectionState{Version: tls.VersionTLS13})
	dev := plainConn()
	dev.PlainWithoutTLS = true
	for _, tc := range []struct {
		name string
		c    ConnInfo
		want []string
	}{
		{"TLS 1.3", tls13, []string{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"}},
		{"TLS 1.2", tls12Conn(), []string{"SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"}},
		{"no TLS", plainConn(), []string{"SCRAM-SHA-256", "SCRAM-SHA-1"}},
		{"no TLS, PLAIN allowed", dev, []string{"SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"}},
	} {
		if got := a.Mechanisms(tc.c); !slices.Equal(got, tc.want) {
			t.Errorf("%s: Mechanisms = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// -PLUS with tls-exporter over a real TLS 1.3 connection, mellium's client
// binding to its end and the server to the other.
func TestSCRAMPlusOverTLS13(t *testing.T) {
	a, _, _ := newTestAccounts(t, Options{})
	alice := mustCreate(t, a, "alice@example.com", "pencil")
	clientState, serverState := tlsPair(t, tls.VersionTLS13)
	conn := tlsConn(&serverState)
	offered := a.Mechanisms(conn)
	for _, m := range plusMechs {
		t.Run(m.name, func(t *testing.T) {
			ex := begin(t, a, conn, m.name)
			c := sasl.NewClient(m.client, creds("alice", "pencil", ""), sasl.TLSState(clientState), sasl.RemoteMechanisms(offered...))
			if err := run(t, ex, c); err != nil {
				t.Fatalf("login: %v", err)
			}
			if !ex.JID().Equal(alice) {
				t.Fatalf("JID = %v", ex.JID())
			}
		})
	}
}

// Binding data from another TLS connection (a man in the middle relaying the
// exchange) fails.
func TestSCRAMPlusOtherConnection(t *testing.T) {
	a, _, _ := newTestAccounts(t, Options{})
	mustCreate(t, a, "alice@example.com", "pencil")
	_, serverState := tlsPair(t, tls.VersionTLS13)
	otherClient, _ := tlsPair(t, tls.VersionTLS13)
	conn := tlsConn(&serverState)
	for _, m := range plusMechs {
		ex := begin(t, a, conn, m.name)
		c := sasl.NewClient(m.client, creds("alice", "pencil", ""), sasl.TLSState(otherClient), sasl.RemoteMechanisms(m.name))
		f := wantCondition(t, run(t, ex, c), condNotAuthorized)
		if f.Text != "channel-bindings-dont-match" {
			t.Fatalf("%s: text %q", m.name, f.Text)
		}
	}
}

// A client that believes we do not offer -PLUS says so with 'y'; when we did
// offer it, someone stripped it from the list: fail (RFC 5802 §6).
func TestSCRAMDowngrade(t *testing.T) {
	a, _, _ := newTestAccounts(t, Options{})
	mustCreate(t, a, "alice@example.com", "pencil")
	clientState, serverState := tlsPair(t, tls.VersionTLS13)
	for _, m := range scramMechs {
		ex := begin(t, a, tlsConn(&serverState), m.name)
		// mellium sends 'y' for a -PLUS client that did not see -PLUS offered.
		plusClient := sasl.ScramSha256Plus
		if m.h == &sha1Hash {
			plusClient = sasl.ScramSha1Plus
		}
		c := sasl.NewClient(plusClient, creds("alice", "pencil", ""), sasl.TLSState(clientState))
		_, first, _ := c.Step(nil)
		if string(first[:3]) != "y,," {
			t.Fatalf("client did not send 'y': %q", first)
		}
		_, _, err := ex.Step(context.Background(), first)
		if f := wantCondition(t, err, condNotAuthorized); f.Text != "server-does-support-channel-binding" {
			t.Fatalf("text %q", f.Text)
		}
	}

	// Over TLS 1.2 we offer no -PLUS, so 'y' is an honest answer.
	clientState, serverState = tlsPair(t, tls.VersionTLS12)
	conn := tlsConn(&serverState)
	if slices.Contains(a.Mechanisms(conn), MechSCRAMSHA256Plus) {
		t.Fatal("-PLUS offered on TLS 1.2")
	}
	if _, err := a.Begin(conn, MechSCRAMSHA256Plus); err == nil {
		t.Fatal("Begin(-PLUS) on TLS 1.2 succeeded")
	} else {
		wantCondition(t, err, condInvalidMechanism)
	}
	ex := begin(t, a, conn, MechSCRAMSHA256)
	c := sasl.NewClient(sasl.ScramSha256Plus, creds("alice", "pencil", ""), sasl.TLSState(clientState))
	if err := run(t, ex, c); err != nil {
		t.Fatalf("'y' on TLS 1.2: %v", err)
	}
}

// Hand-written gs2 headers that contradict the mechanism or ask for another
// binding type.
func TestSCRAMBindingFlags(t *testing.T) {
	// Limits low enough that counting these refusals would lock alice out.
	a, _, _ := newTestAccounts(t, Options{MaxFailuresPerIP: 2, MaxFailuresPerAccount: 2})
	mustCreate(t, a, "alice@example.com", "pencil")
	clientState, serverState := tlsPair(t, tls.VersionTLS13)
	conn := tlsConn(&serverState)
	for _, tc := range []struct {
		mech, gs2, text string
	}{
		{MechSCRAMSHA256Plus, "p=tls-unique,,", "unsupported-channel-binding-type"},
		{MechSCRAMSHA256Plus, "p=tls-server-end-point,,", "unsupported-channel-binding-type"},
		{MechSCRAMSHA256Plus, "n,,", "-PLUS requires channel binding"},
		{MechSCRAMSHA256Plus, "y,,", "-PLUS requires channel binding"},
		{MechSCRAMSHA256, "p=tls-exporter,,", "channel binding requires a -PLUS mechanism"},
		{MechSCRAMSHA1, "y,,", "server-does-support-channel-binding"},
	} {
		ex := begin(t, a, conn, tc.mech)
		_, _, err := ex.Step(context.Background(), []byte(tc.gs2+"n=alice,r=abcdef"))
		f := wantCondition(t, err, condNotAuthorized)
		if f.Text != tc.text {
			t.Errorf("%s %q: text %q, want %q", tc.mech, tc.gs2, f.Text, tc.text)
		}
		if !f.Negotiation {
			t.Errorf("%s %q: a binding refusal checks no password and must be marked Negotiation", tc.mech, tc.gs2)
		}
	}
	// None of the six refusals counted as a failed login.
	c := sasl.NewClient(sasl.ScramSha256Plus, creds("alice", "pencil", ""), sasl.TLSState(clientState), sasl.RemoteMechanisms(MechSCRAMSHA256Plus))
	if err := run(t, begin(t, a, conn, MechSCRAMSHA256Plus), c); err != nil {
		t.Fatalf("login after binding refusals: %v", err)
	}
}

// The c= of a -PLUS exchange must hold the exporter value, not just the header.
func TestSCRAMPlusHeaderOnly(t *testing.T) {
	a, _, _ := newTestAccounts(t, Options{})
	mustCreate(t, a, "alice@example.com", "pencil")
	_, serverState := tlsPair(t, tls.VersionTLS13)
	ex := begin(t, a, tlsConn(&serverState), MechSCRAMSHA256Plus)
	gs2, bare := "p=tls-exporter,,", "n=alice,r=abcdef"
	sf, _, err := ex.Step(context.Background(), []byte(gs2+bare))
	if err != nil {
		t.Fatal(err)
	}
	final := clientFinalFor(t, &sha256Hash, "pencil", bare, sf, []byte(gs2), parseServerFirst(t, sf).nonce)
	_, _, err = ex.Step(context.Background(), []byte(final))
	wantCondition(t, err, condNotAuthorized)
	// And with the right exporter value it works.
	ex = begin(t, a, tlsConn(&serverState), MechSCRAMSHA256Plus)
	sf, _, _ = ex.Step(context.Background(), []byte(gs2+bare))
	ekm, err := serverState.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32)
	if err != nil {
		t.Fatal(err)
	}
	final = clientFinalFor(t, &sha256Hash, "pencil", bare, sf, append([]byte(gs2), ekm...), parseServerFirst(t, sf).nonce)
	if _, done, err := ex.Step(context.Background(), []byte(final)); err != nil || !done {
		t.Fatalf("with exporter: %v", err)
	}
}

// A hand-made ConnectionState (no exporter) must not panic the server.
func TestSCRAMPlusWithoutExporter(t *testing.T) {
	a, _, _ := newTestAccounts(t, Options{})
	ex := begin(t, a, tlsConn(&tls.ConnectionState{Version: tls.VersionTLS13}), MechSCRAMSHA256Plus)
	_, _, err := ex.Step(context.Background(), []byte("p=tls-exporter,,n=alice,r=abcdef"))
	if f := wantCondition(t, err, condNotAuthorized); f.Text != "channel-binding-not-supported" {
		t.Fatalf("text %q", f.Text)
	}
}
