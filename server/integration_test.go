package server_test

// End to end: the dev server as `gavel serve --dev` runs it, driven by two
// clients over real sockets, one on TCP with STARTTLS and one on WebSocket.

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gavelhq/gavel/internal/testserver"
	"github.com/gavelhq/gavel/internal/xmpptest"
	"github.com/gavelhq/gavel/xmlstream"
)

const wait = 10 * time.Second

// el parses a stanza or fails the test.
func el(t *testing.T, st *xmlstream.Stanza) *xmlstream.Element {
	t.Helper()
	e, err := st.Element()
	if err != nil {
		t.Fatalf("unparsable stanza %s: %v", st.Raw, err)
	}
	return e
}

func bare(full string) string {
	if i := strings.IndexByte(full, '/'); i >= 0 {
		return full[:i]
	}
	return full
}

func from(j string) func(*xmlstream.Stanza) bool {
	return func(st *xmlstream.Stanza) bool { return st.From() == j }
}

func typ(t string) func(*xmlstream.Stanza) bool {
	return func(st *xmlstream.Stanza) bool { return st.Type() == t }
}

// rosterPushFor waits for a roster push about jid, acknowledges it and
// returns its item.
func rosterPushFor(t *testing.T, c *xmpptest.Client, jid string) *xmlstream.Element {
	t.Helper()
	st := c.Expect(t, func(st *xmlstream.Stanza) bool {
		if st.Name.Local != xmlstream.KindIQ || st.Type() != "set" {
			return false
		}
		return strings.Contains(string(st.Raw), "jabber:iq:roster") && strings.Contains(string(st.Raw), jid)
	}, wait)
	// Acknowledge the push (RFC 6121 §2.1.6).
	c.SendRaw("<iq type='result' id='" + st.ID() + "'" + wsNS(c) + "/>")
	item := el(t, st).Child("jabber:iq:roster", "query").Child("jabber:iq:roster", "item")
	if item == nil {
		t.Fatalf("roster push without item: %s", st.Raw)
	}
	return item
}

func wsNS(c *xmpptest.Client) string {
	if c.IsWebSocket() {
		return " xmlns='jabber:client'"
	}
	return ""
}

// startSession requests the roster and sends initial presence, as a client does.
func startSession(t *testing.T, c *xmpptest.Client) {
	t.Helper()
	c.SendRaw("<iq type='get' id='roster1'" + wsNS(c) + "><query xmlns='jabber:iq:roster'/></iq>")
	if res := c.Expect(t, xmpptest.IsID("roster1"), wait); res.Type() != "result" {
		t.Fatalf("roster get: %s", res.Raw)
	}
	c.SendRaw("<presence" + wsNS(c) + "/>")
}

func TestIntegrationChatPresenceOffline(t *testing.T) {
	ts := testserver.Start(t, nil)
	pw := printedPasswords(ts.Stdout.String())
	aliceJID, bobJID := "alice@"+ts.Domain, "bob@"+ts.Domain
	if pw[aliceJID] == "" || pw[bobJID] == "" {
		t.Fatalf("dev first start did not print demo passwords:\n%s", ts.Stdout)
	}

	// alice: TCP, STARTTLS, SCRAM-SHA-256.
	alice := xmpptest.Dial(t, ts.C2SAddr)
	alice.Domain = ts.Domain
	alice.Open()
	if !alice.HasFeature(xmpptest.NSTLS, "starttls") {
		t.Fatal("STARTTLS not offered on the c2s listener")
	}
	alice.StartTLS()
	if err := alice.Auth("SCRAM-SHA-256", "alice", pw[aliceJID]); err != nil {
		t.Fatalf("alice auth: %v", err)
	}
	aliceFull := alice.Bind("laptop")
	startSession(t, alice)

	// bob: WebSocket, SCRAM-SHA-1.
	bob := xmpptest.DialWebSocket(t, ts.WebSocketURL)
	bob.Domain = ts.Domain
	bobFull := bob.Login("SCRAM-SHA-1", "bob", pw[bobJID], "phone")
	if !bob.HasFeature("urn:xmpp:features:rosterver", "ver") || !bob.HasFeature("urn:xmpp:features:pre-approval", "sub") {
		t.Errorf("IM stream features not advertised after authentication: %s", bob.Features)
	}
	startSession(t, bob)

	// alice adds bob to her roster and asks for his presence.
	alice.SendRaw("<iq type='set' id='add1'><query xmlns='jabber:iq:roster'><item jid='" + bobJID + "' name='Bob'/></query></iq>")
	if item := rosterPushFor(t, alice, bobJID); item.Attr("subscription") != "none" {
		t.Errorf("after roster set: subscription %q, want none", item.Attr("subscription"))
	}
	alice.Expect(t, xmpptest.IsID("add1"), wait)
	alice.SendRaw("<presence to='" + bobJID + "' type='subscribe'/>")
	if item := rosterPushFor(t, alice, bobJID); item.Attr("ask") != "subscribe" {
		t.Errorf("after subscribe: ask %q, want subscribe", item.Attr("ask"))
	}

	// bob sees the request from alice's bare JID and approves it.
	bob.Expect(t, xmpptest.And(xmpptest.IsKind("presence"), typ("subscribe"), from(aliceJID)), wait)
	bob.SendRaw("<presence xmlns='jabber:client' to='" + aliceJID + "' type='subscribed'/>")

	// alice: roster push with subscription to, then bob's presence.
	if item := rosterPushFor(t, alice, bobJID); item.Attr("subscription") != "to" {
		t.Errorf("after subscribed: subscription %q, want to", item.Attr("subscription"))
	}
	alice.Expect(t, xmpptest.And(xmpptest.IsKind("presence"), typ("subscribed"), from(bobJID)), wait)
	alice.Expect(t, xmpptest.And(xmpptest.IsKind("presence"), typ(""), from(bobFull)), wait)

	// Live chat both ways.
	alice.SendRaw("<message to='" + bobJID + "' type='chat' id='m1'><body>Lot 7 opens at 10</body></message>")
	m := bob.Expect(t, xmpptest.And(xmpptest.IsKind("message"), from(aliceFull)), wait)
	if body := el(t, m).ChildText(xmlstream.NSClient, "body"); body != "Lot 7 opens at 10" {
		t.Errorf("bob got body %q", body)
	}
	bob.SendRaw("<message xmlns='jabber:client' to='" + aliceFull + "' type='chat' id='m2'><body>see you there</body></message>")
	m = alice.Expect(t, xmpptest.And(xmpptest.IsKind("message"), from(bobFull)), wait)
	if body := el(t, m).ChildText(xmlstream.NSClient, "body"); body != "see you there" {
		t.Errorf("alice got body %q", body)
	}

	// The c2s hooks feed the metrics.
	_, metrics := get(t, "http://"+ts.HTTPAddr+"/metrics")
	for _, want := range []string{
		`gavel_sessions{transport="tcp"} 1`,
		`gavel_sessions{transport="websocket"} 1`,
	} {
		if !strings.Contains(metrics, want+"\n") {
			t.Errorf("/metrics lacks %q:\n%s", want, grepLines(metrics, "gavel_sessions"))
		}
	}
	if regexp.MustCompile(`gavel_stanzas_total\{direction="in",kind="message"\} 0\n`).MatchString(metrics) ||
		regexp.MustCompile(`gavel_routing_duration_seconds_count 0\n`).MatchString(metrics) {
		t.Errorf("stanza traffic not counted:\n%s", grepLines(metrics, "gavel_stanzas_total")+grepLines(metrics, "routing_duration_seconds_count"))
	}

	// bob goes offline; alice, subscribed to him, sees it.
	bob.Close()
	alice.Expect(t, xmpptest.And(xmpptest.IsKind("presence"), typ("unavailable"), from(bobFull)), wait)

	// A message to offline bob is stored...
	alice.SendRaw("<message to='" + bobJID + "' type='chat' id='m3'><body>you were outbid</body></message>")
	// ...and no error comes back for it.
	if st, err := alice.Next(300 * time.Millisecond); err == nil && st.ID() == "m3" && st.Type() == "error" {
		t.Fatalf("offline message bounced: %s", st.Raw)
	}

	// ...and delivered when bob comes back and sends initial presence.
	bob2 := xmpptest.DialWebSocket(t, ts.WebSocketURL)
	bob2.Domain = ts.Domain
	bob2.Login("SCRAM-SHA-1", "bob", pw[bobJID], "phone")
	startSession(t, bob2)
	m = bob2.Expect(t, xmpptest.And(xmpptest.IsKind("message"), xmpptest.IsID("m3")), wait)
	e := el(t, m)
	if body := e.ChildText(xmlstream.NSClient, "body"); body != "you were outbid" {
		t.Errorf("offline message body %q", body)
	}
	if bare(m.From()) != aliceJID {
		t.Errorf("offline message from %q", m.From())
	}
	if e.Child("urn:xmpp:delay", "delay") == nil {
		t.Errorf("offline message without <delay/>: %s", m.Raw)
	}
	// Delivered once: a later login gets nothing more.
	bob2.Close()
	bob3 := xmpptest.DialWebSocket(t, ts.WebSocketURL)
	bob3.Domain = ts.Domain
	bob3.Login("SCRAM-SHA-1", "bob", pw[bobJID], "tablet")
	startSession(t, bob3)
	for {
		st, err := bob3.Next(500 * time.Millisecond)
		if err != nil {
			break
		}
		if st.ID() == "m3" {
			t.Fatalf("offline message delivered twice: %s", st.Raw)
		}
	}
}

// Shutdown closes WebSocket and direct TLS streams with system-shutdown too.
func TestIntegrationShutdownAllTransports(t *testing.T) {
	ts := testserver.Start(t, nil)
	pw := printedPasswords(ts.Stdout.String())
	ws := xmpptest.DialWebSocket(t, ts.WebSocketURL)
	ws.Domain = ts.Domain
	ws.Login("SCRAM-SHA-256", "alice", pw["alice@"+ts.Domain], "ws")
	tl := xmpptest.DialDirectTLS(t, ts.C2STLSAddr, ts.Domain)
	tl.Domain = ts.Domain
	tl.Login("SCRAM-SHA-256", "bob", pw["bob@"+ts.Domain], "tls")

	done := make(chan error, 1)
	go func() { done <- shutdownErr(ts) }()
	ws.ExpectStreamError(t, "system-shutdown", wait)
	tl.ExpectStreamError(t, "system-shutdown", wait)
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

func shutdownErr(ts *testserver.Server) error {
	ctx, cancel := contextWithTimeout(10 * time.Second)
	defer cancel()
	return ts.Shutdown(ctx)
}

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}
