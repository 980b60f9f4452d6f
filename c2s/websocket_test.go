package c2s_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/gavelhq/gavel/c2s"
	"github.com/gavelhq/gavel/internal/xmpptest"
	"github.com/gavelhq/gavel/xmlstream"
)

func TestWebSocketSession(t *testing.T) {
	e := newEnv(t, envConfig{opts: func(o *c2s.Options) { o.WebSocketSecure = true }})
	ws := xmpptest.DialWebSocket(t, e.ws)
	ws.Domain = testDomain
	f := ws.Open()
	if ws.Header.Name != (xmlstream.Name{Space: xmlstream.NSFraming, Local: "open"}) || ws.Header.Attr("from") != testDomain {
		t.Fatalf("open: %+v", ws.Header)
	}
	if f.Child(xmpptest.NSTLS, "starttls") != nil {
		t.Fatal("STARTTLS offered on WebSocket")
	}
	// Behind a TLS-terminating proxy PLAIN is allowed.
	if err := ws.Auth("PLAIN", "alice", testPassword); err != nil {
		t.Fatal(err)
	}
	ws.Bind("browser")

	tcp := e.login(t, "bob", "desk")
	// TCP stanzas carry no xmlns; on WebSocket every message declares it.
	tcp.SendRaw("<message to='" + ws.JID + "' id='w1'><body>to the browser</body></message>")
	got := ws.Expect(t, xmpptest.IsID("w1"), 2*time.Second)
	if !strings.Contains(string(got.Raw), "xmlns='jabber:client'") || got.Name.Space != xmlstream.NSClient {
		t.Fatalf("WebSocket stanza without its namespace: %s", got.Raw)
	}
	if got.From() != tcp.JID {
		t.Fatalf("from: %s", got.Raw)
	}
	// And back: a stanza without xmlns from the browser is jabber:client too.
	ws.SendRaw("<message xmlns='jabber:client' to='" + tcp.JID + "' id='w2'><body>back</body></message>")
	if st := tcp.Expect(t, xmpptest.IsID("w2"), 2*time.Second); st.From() != ws.JID {
		t.Fatalf("from browser: %s", st.Raw)
	}
	ws.SendRaw("<message to='" + tcp.JID + "' id='w3'/>")
	tcp.Expect(t, xmpptest.IsID("w3"), 2*time.Second)

	// <close/> is answered with <close/> and the end of the WebSocket.
	ws.SendRaw("<close xmlns='" + xmlstream.NSFraming + "'/>")
	ws.ExpectEnd(t, 3*time.Second)
	if ev := e.h.nextEnded(t); ev.jid != ws.JID || !ev.bound {
		t.Fatalf("SessionEnded: %+v", ev)
	}
}

func TestWebSocketRequiresEncryptionForPlain(t *testing.T) {
	e := newEnv(t, envConfig{opts: func(o *c2s.Options) { o.RequireTLS = false }})
	ws := xmpptest.DialWebSocket(t, e.ws)
	ws.Domain = testDomain
	ws.Open()
	err := ws.Auth("PLAIN", "alice", testPassword)
	if f, ok := err.(*xmpptest.SASLFailure); !ok || f.Condition != "encryption-required" {
		t.Fatalf("PLAIN over ws:// without WebSocketSecure: %v", err)
	}
	if err := ws.Auth("SCRAM-SHA-256", "alice", testPassword); err != nil {
		t.Fatal(err)
	}
	ws.Bind("")
}

func TestWebSocketStreamErrors(t *testing.T) {
	e := newEnv(t, envConfig{opts: func(o *c2s.Options) {
		o.WebSocketSecure = true
		o.Limits.MaxStanzaBytes = 2048
	}})
	t.Run("oversized", func(t *testing.T) {
		ws := xmpptest.DialWebSocket(t, e.ws)
		ws.Domain = testDomain
		ws.Open()
		ws.SendRaw("<message xmlns='jabber:client'><body>" + strings.Repeat("a", 4096) + "</body></message>")
		ws.ExpectStreamError(t, "policy-violation", 2*time.Second)
	})
	t.Run("host-unknown", func(t *testing.T) {
		ws := xmpptest.DialWebSocket(t, e.ws)
		ws.SendRaw("<open xmlns='" + xmlstream.NSFraming + "' to='nowhere.example' version='1.0'/>")
		if _, err := ws.NextHeader(2 * time.Second); err != nil {
			t.Fatal(err)
		}
		st, err := ws.Next(2 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		// The error declares the stream prefix itself (RFC 7395 §3.6).
		if !strings.Contains(string(st.Raw), "xmlns:stream=") || xmpptest.StreamErrorCondition(st) != "host-unknown" {
			t.Fatalf("stream error: %s", st.Raw)
		}
		ws.ExpectEnd(t, 2*time.Second)
	})
	t.Run("not an open", func(t *testing.T) {
		ws := xmpptest.DialWebSocket(t, e.ws)
		ws.SendRaw("<stream:stream xmlns:stream='" + xmlstream.NSStream + "' xmlns='jabber:client' to='" + testDomain + "' version='1.0'/>")
		if _, err := ws.NextHeader(2 * time.Second); err != nil {
			t.Fatal(err)
		}
		ws.ExpectStreamError(t, "bad-format", 2*time.Second)
	})
	t.Run("stanza before auth", func(t *testing.T) {
		ws := xmpptest.DialWebSocket(t, e.ws)
		ws.Domain = testDomain
		ws.Open()
		ws.SendRaw("<presence xmlns='jabber:client'/>")
		ws.ExpectStreamError(t, "not-authorized", 2*time.Second)
	})
}

func TestWebSocketUpgradeRules(t *testing.T) {
	e := newEnv(t, envConfig{opts: func(o *c2s.Options) { o.WebSocketOrigins = []string{"chat.example.com"} }})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	// No "xmpp" subprotocol offered: refused before the upgrade.
	_, resp, err := websocket.Dial(ctx, e.ws, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("dial without subprotocol: %v %v", err, resp)
	}
	// A foreign origin is refused; an allowed one passes.
	h := http.Header{"Origin": []string{"https://evil.example"}}
	_, resp, err = websocket.Dial(ctx, e.ws, &websocket.DialOptions{Subprotocols: []string{"xmpp"}, HTTPHeader: h})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("dial from a foreign origin: %v %v", err, resp)
	}
	h = http.Header{"Origin": []string{"https://chat.example.com"}}
	c, resp, err := websocket.Dial(ctx, e.ws, &websocket.DialOptions{Subprotocols: []string{"xmpp"}, HTTPHeader: h})
	if err != nil {
		t.Fatalf("dial from an allowed origin: %v", err)
	}
	if resp.Header.Get("Sec-WebSocket-Protocol") != "xmpp" {
		t.Fatalf("subprotocol %q", resp.Header.Get("Sec-WebSocket-Protocol"))
	}
	_ = c.CloseNow()
}
