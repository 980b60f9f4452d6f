package c2s_test

import (
	"encoding/base64"
	"testing"
	"time"

	"github.com/gavelhq/gavel/c2s"
	"github.com/gavelhq/gavel/internal/xmpptest"
	"github.com/gavelhq/gavel/xmlstream"
)

func TestLoginMechanismsOverSTARTTLS(t *testing.T) {
	e := newEnv(t, envConfig{})
	for _, mech := range []string{"SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"} {
		t.Run(mech, func(t *testing.T) {
			c := e.dial(t)
			f := c.Open()
			if f.Child(xmpptest.NSTLS, "starttls") == nil || f.Child(xmpptest.NSTLS, "starttls").Child(xmpptest.NSTLS, "required") == nil {
				t.Fatalf("features before TLS lack <starttls><required/>: %s", f)
			}
			if f.Child(xmpptest.NSSASL, "mechanisms") != nil {
				t.Fatalf("SASL offered before mandatory TLS: %s", f)
			}
			c.StartTLS()
			if c.Header.Attr("from") != testDomain || c.Header.Attr("version") != "1.0" || c.Header.Attr("id") == "" {
				t.Fatalf("bad stream header attrs: %+v", c.Header.Attrs)
			}
			if err := c.Auth(mech, "alice", testPassword); err != nil {
				t.Fatalf("auth: %v", err)
			}
			if !c.HasFeature(xmpptest.NSBind, "bind") || !c.HasFeature(xmpptest.NSSession, "session") {
				t.Fatalf("post-auth features lack bind/session: %s", c.Features)
			}
			if c.Features.Child(xmpptest.NSSession, "session").Child(xmpptest.NSSession, "optional") == nil {
				t.Fatalf("session feature not optional: %s", c.Features)
			}
			full := c.Bind("laptop")
			if full != "alice@"+testDomain+"/laptop" {
				t.Fatalf("bound %q", full)
			}
		})
	}
}

func TestDirectTLSLogin(t *testing.T) {
	e := newEnv(t, envConfig{})
	c := xmpptest.DialDirectTLS(t, e.tls, testDomain)
	f := c.Open()
	if f.Child(xmpptest.NSTLS, "starttls") != nil {
		t.Fatalf("STARTTLS offered on a direct TLS stream: %s", f)
	}
	if err := c.Auth("SCRAM-SHA-256", "bob", testPassword); err != nil {
		t.Fatal(err)
	}
	if got := c.Bind(""); got == "" {
		t.Fatal("no JID")
	}
}

func TestPlainRefusedWithoutTLS(t *testing.T) {
	e := newEnv(t, envConfig{opts: func(o *c2s.Options) { o.RequireTLS = false }})
	c := e.dial(t)
	c.Open()
	for _, m := range c.Mechanisms() {
		if m == "PLAIN" {
			t.Fatalf("PLAIN offered on a plain stream: %v", c.Mechanisms())
		}
	}
	if !c.HasFeature(xmpptest.NSTLS, "starttls") || c.Features.Child(xmpptest.NSTLS, "starttls").Child(xmpptest.NSTLS, "required") != nil {
		t.Fatalf("want optional STARTTLS: %s", c.Features)
	}
	err := c.Auth("PLAIN", "alice", testPassword)
	if f, ok := err.(*xmpptest.SASLFailure); !ok || f.Condition != "encryption-required" {
		t.Fatalf("PLAIN without TLS: %v, want encryption-required", err)
	}
	// SCRAM works without TLS when TLS is optional.
	if err := c.Auth("SCRAM-SHA-1", "alice", testPassword); err != nil {
		t.Fatal(err)
	}
}

func TestPlainOnLoopbackInDevMode(t *testing.T) {
	e := newEnv(t, envConfig{opts: func(o *c2s.Options) {
		o.RequireTLS, o.TLSConfig, o.PlainWithoutTLSOnLoopback = false, nil, true
	}})
	c := e.dial(t)
	c.Open()
	if err := c.Auth("PLAIN", "alice", testPassword); err != nil {
		t.Fatal(err)
	}
	c.Bind("dev")
}

func TestRequireTLSRefusesAuth(t *testing.T) {
	e := newEnv(t, envConfig{})
	c := e.dial(t)
	c.Open()
	err := c.Auth("SCRAM-SHA-256", "alice", testPassword)
	if f, ok := err.(*xmpptest.SASLFailure); !ok || f.Condition != "encryption-required" {
		t.Fatalf("auth before STARTTLS: %v, want encryption-required", err)
	}
	// STARTTLS still works afterwards.
	c.StartTLS()
	if err := c.Auth("SCRAM-SHA-256", "alice", testPassword); err != nil {
		t.Fatal(err)
	}
}

func TestSTARTTLSTwiceFails(t *testing.T) {
	e := newEnv(t, envConfig{})
	c := e.dial(t)
	c.Open()
	c.StartTLS()
	c.SendRaw("<starttls xmlns='" + xmpptest.NSTLS + "'/>")
	c.Expect(t, xmpptest.IsName(xmpptest.NSTLS, "failure"), time.Second)
	c.ExpectEnd(t, 2*time.Second)
}

func TestSASLFailures(t *testing.T) {
	e := newEnv(t, envConfig{opts: func(o *c2s.Options) { o.MaxAuthAttempts = 3 }})
	c := e.dial(t)
	c.Open()
	c.StartTLS()

	err := c.Auth("SCRAM-SHA-256", "alice", "wrong")
	if f, ok := err.(*xmpptest.SASLFailure); !ok || f.Condition != "not-authorized" {
		t.Fatalf("wrong password: %v", err)
	}
	c.SendRaw("<auth xmlns='" + xmpptest.NSSASL + "' mechanism='X-UNKNOWN'>=</auth>")
	expectSASLFailure(t, c, "invalid-mechanism")
	c.SendRaw("<auth xmlns='" + xmpptest.NSSASL + "' mechanism='PLAIN'>!!not base64!!</auth>")
	expectSASLFailure(t, c, "incorrect-encoding")
	c.SendRaw("<auth xmlns='" + xmpptest.NSSASL + "' mechanism='SCRAM-SHA-256'/>")
	c.Expect(t, xmpptest.IsName(xmpptest.NSSASL, "challenge"), time.Second) // empty challenge: "send your initial response"
	c.SendRaw("<abort xmlns='" + xmpptest.NSSASL + "'/>")
	expectSASLFailure(t, c, "aborted")
	// invalid-mechanism and aborted checked no credentials and are not
	// counted; the third counted failure ends the stream.
	c.SendRaw("<response xmlns='" + xmpptest.NSSASL + "'>=</response>")
	expectSASLFailure(t, c, "malformed-request")
	c.ExpectStreamError(t, "policy-violation", 2*time.Second)
}

// A client that only knows the tls-unique binding (Debian's slixmpp 1.8.3)
// tries both -PLUS mechanisms, then SCRAM with the 'y' flag (refused: we do
// offer channel binding, RFC 5802 §6), then PLAIN. None of the refusals
// checked a password, so they must not use up MaxAuthAttempts.
func TestChannelBindingFallthroughIsNotAGuess(t *testing.T) {
	e := newEnv(t, envConfig{opts: func(o *c2s.Options) { o.MaxAuthAttempts = 2 }})
	c := e.dial(t)
	c.Open()
	c.StartTLS()
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, mech := range []string{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS"} {
		c.SendRaw("<auth xmlns='" + xmpptest.NSSASL + "' mechanism='" + mech + "'>" + b64("p=tls-unique,,n=alice,r=abcdefghijklmnopqrstuvwx") + "</auth>")
		expectSASLFailure(t, c, "not-authorized")
	}
	for _, mech := range []string{"SCRAM-SHA-256", "SCRAM-SHA-1"} {
		c.SendRaw("<auth xmlns='" + xmpptest.NSSASL + "' mechanism='" + mech + "'>" + b64("y,,n=alice,r=abcdefghijklmnopqrstuvwx") + "</auth>")
		expectSASLFailure(t, c, "not-authorized")
	}
	if err := c.Auth("PLAIN", "alice", testPassword); err != nil {
		t.Fatalf("PLAIN after four channel-binding refusals: %v", err)
	}
}

// Refusals that check no credentials are still bounded per stream.
func TestSASLRefusalsAreBounded(t *testing.T) {
	e := newEnv(t, envConfig{})
	c := e.dial(t)
	c.Open()
	c.StartTLS()
	for i := 0; i < 10; i++ {
		c.SendRaw("<auth xmlns='" + xmpptest.NSSASL + "' mechanism='X-UNKNOWN'>=</auth>")
		expectSASLFailure(t, c, "invalid-mechanism")
	}
	c.ExpectStreamError(t, "policy-violation", 2*time.Second)
}

func expectSASLFailure(t *testing.T, c *xmpptest.Client, cond string) {
	t.Helper()
	st := c.Expect(t, xmpptest.IsName(xmpptest.NSSASL, "failure"), 2*time.Second)
	el, _ := st.Element()
	if el.FirstElement() == nil || el.FirstElement().Name.Local != cond {
		t.Fatalf("SASL failure %s, want %s", st.Raw, cond)
	}
}

func TestTooManyAuthFailures(t *testing.T) {
	e := newEnv(t, envConfig{opts: func(o *c2s.Options) { o.MaxAuthAttempts = 2 }})
	c := e.dial(t)
	c.Open()
	c.StartTLS()
	if err := c.Auth("PLAIN", "alice", "bad1"); err == nil {
		t.Fatal("bad password accepted")
	}
	if err := c.Auth("PLAIN", "alice", "bad2"); err == nil {
		t.Fatal("bad password accepted")
	}
	c.ExpectStreamError(t, "policy-violation", 2*time.Second)
}

// streamErrorCase sends raw input on a fresh TCP stream and expects a
// stream error, preceded by the server's header.
func TestStreamErrorsBeforeAuth(t *testing.T) {
	e := newEnv(t, envConfig{opts: func(o *c2s.Options) {
		o.RequireTLS = false
		o.Limits.MaxStanzaBytes = 4096
	}})
	header := func(to, version, content string) string {
		return "<?xml version='1.0'?><stream:stream xmlns='" + content + "' xmlns:stream='" + xmlstream.NSStream +
			"' to='" + to + "' version='" + version + "'>"
	}
	big := make([]byte, 5000)
	for i := range big {
		big[i] = 'a'
	}
	cases := []struct {
		name, input, cond string
		ok                bool // the header is valid (features follow)
	}{
		{"host-unknown", header("other.example", "1.0", xmlstream.NSClient), "host-unknown", false},
		{"bad content namespace", header(testDomain, "1.0", xmlstream.NSServer), "invalid-namespace", false},
		{"bad stream namespace", "<stream:stream xmlns='jabber:client' xmlns:stream='urn:wrong' to='" + testDomain + "' version='1.0'>", "invalid-namespace", false},
		{"no prefix", "<stream xmlns='" + xmlstream.NSStream + "' to='" + testDomain + "' version='1.0'>", "bad-namespace-prefix", false},
		{"no version", "<stream:stream xmlns='jabber:client' xmlns:stream='" + xmlstream.NSStream + "' to='" + testDomain + "'>", "unsupported-version", false},
		{"version 0.9", header(testDomain, "0.9", xmlstream.NSClient), "unsupported-version", false},
		{"garbage", "<<<>>>", "not-well-formed", false},
		{"stanza before auth", header(testDomain, "1.0", xmlstream.NSClient) + "<message to='bob@example.com'><body>hi</body></message>", "not-authorized", true},
		{"unknown element", header(testDomain, "1.0", xmlstream.NSClient) + "<foo xmlns='urn:foo'/>", "unsupported-stanza-type", true},
		{"malformed", header(testDomain, "1.0", xmlstream.NSClient) + "<message><body></foo></message>", "not-well-formed", true},
		{"oversized", header(testDomain, "1.0", xmlstream.NSClient) + "<message><body>" + string(big) + "</body></message>", "policy-violation", true},
		{"stanza in wrong namespace", header(testDomain, "1.0", xmlstream.NSClient) + "<message xmlns='jabber:server'/>", "invalid-namespace", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := e.dial(t)
			c.SendRaw(tc.input)
			h, err := c.NextHeader(2 * time.Second)
			if err != nil {
				t.Fatalf("no stream header before the error: %v", err)
			}
			if h.Attr("from") != testDomain || h.Attr("version") != "1.0" {
				t.Fatalf("header attrs %+v", h.Attrs)
			}
			if tc.ok {
				c.Expect(t, xmpptest.IsName(xmlstream.NSStream, "features"), time.Second)
			}
			c.ExpectStreamError(t, tc.cond, 2*time.Second)
		})
	}
}

func TestStreamErrorsBeforeBind(t *testing.T) {
	e := newEnv(t, envConfig{})
	c := e.dial(t)
	c.Open()
	c.StartTLS()
	if err := c.Auth("SCRAM-SHA-256", "alice", testPassword); err != nil {
		t.Fatal(err)
	}
	c.SendRaw("<presence/>")
	c.ExpectStreamError(t, "not-authorized", 2*time.Second)
}

func TestHostChangeOnRestart(t *testing.T) {
	e := newEnv(t, envConfig{opts: func(o *c2s.Options) { o.Domains = []string{testDomain, "other.example"} }})
	c := e.dial(t)
	c.Open()
	c.Domain = "other.example"
	c.SendRaw("<starttls xmlns='" + xmpptest.NSTLS + "'/>")
	c.Expect(t, xmpptest.IsName(xmpptest.NSTLS, "proceed"), time.Second)
	c.UpgradeTLS()
	c.SendRaw("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='" + xmlstream.NSStream + "' to='other.example' version='1.0'>")
	if _, err := c.NextHeader(2 * time.Second); err != nil {
		t.Fatal(err)
	}
	c.ExpectStreamError(t, "host-unknown", 2*time.Second)
}

func TestAuthTimeout(t *testing.T) {
	e := newEnv(t, envConfig{opts: func(o *c2s.Options) { o.AuthTimeout = 200 * time.Millisecond }})
	c := e.dial(t)
	c.Open()
	c.ExpectStreamError(t, "connection-timeout", 3*time.Second)

	// A stream that never even sends its header gets our header first.
	c2 := e.dial(t)
	if _, err := c2.NextHeader(3 * time.Second); err != nil {
		t.Fatal(err)
	}
	c2.ExpectStreamError(t, "connection-timeout", 3*time.Second)
}
