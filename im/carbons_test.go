package im

// XEP-0280 carbons: enabling, sent and received copies, what is not
// copied, and the exact bytes of the forwarded stanza.

import (
	"bytes"
	"strings"
	"testing"

	"github.com/gavelhq/gavel/xmlstream"
)

// carbonsFixture: alice with resources a (priority 5), b (priority 0,
// carbons enabled) and c (priority 0, carbons not enabled), and bob/b.
func carbonsFixture(t *testing.T) (f *imFixture, a, b, c, bob *fakeSession) {
	t.Helper()
	f, _ = newMAMFixture(t)
	a = f.mamLogin("alice@example.com/a", 5)
	b = f.mamLogin("alice@example.com/b", 0)
	c = f.mamLogin("alice@example.com/c", 0)
	bob = f.mamLogin("bob@example.com/b", 0)
	b.take()
	f.client(b, `<iq type='set' id='en'><enable xmlns='urn:xmpp:carbons:2'/></iq>`)
	expectXML(t, "enable", b.take(), `<iq type='result' id='en' from='alice@example.com' to='alice@example.com/b'/>`)
	for _, s := range []*fakeSession{a, c, bob} {
		s.take()
	}
	return f, a, b, c, bob
}

// carbonOf checks that st is a carbon of kind wrap (sent/received) from
// alice's bare JID to 'to', and returns the forwarded message element and
// the raw bytes inside <forwarded/>.
func carbonOf(t *testing.T, st *xmlstream.Stanza, wrap, to, typ string) (*xmlstream.Element, []byte) {
	t.Helper()
	el, err := st.Element()
	if err != nil {
		t.Fatalf("unparsable carbon %s: %v", st.Raw, err)
	}
	w := el.Child(nsCarbons, wrap)
	if st.Name.Local != "message" || st.From() != "alice@example.com" || st.To() != to || st.Type() != typ || w == nil || len(el.Elements()) != 1 {
		t.Fatalf("not a <%s/> carbon to %s of type %q: %s", wrap, to, typ, st.Raw)
	}
	fwd := w.Child(nsForward, "forwarded")
	if fwd == nil || len(fwd.Elements()) != 1 {
		t.Fatalf("carbon without a single forwarded stanza: %s", st.Raw)
	}
	inner := fwd.Child(xmlstream.NSClient, "message")
	if inner == nil {
		t.Fatalf("forwarded stanza not a jabber:client message: %s", st.Raw)
	}
	open := []byte("<forwarded xmlns='" + nsForward + "'>")
	i := bytes.Index(st.Raw, open)
	j := bytes.LastIndex(st.Raw, []byte("</forwarded>"))
	return inner, st.Raw[i+len(open) : j]
}

func TestCarbonsEnableDisable(t *testing.T) {
	f, a, b, _, bob := carbonsFixture(t)
	// Enabling twice is no error (§9.1).
	f.client(b, `<iq type='set' id='en2'><enable xmlns='urn:xmpp:carbons:2'/></iq>`)
	expectXML(t, "enable again", b.take(), `<iq type='result' id='en2' from='alice@example.com' to='alice@example.com/b'/>`)
	f.client(a, `<iq type='get' id='g'><enable xmlns='urn:xmpp:carbons:2'/></iq>`)
	mamExpectError(t, a, "g", "modify", "bad-request")
	f.client(bob, `<iq type='set' id='o' to='alice@example.com'><disable xmlns='urn:xmpp:carbons:2'/></iq>`)
	mamExpectError(t, bob, "o", "cancel", "not-allowed")
	if !f.srv.state.carbons.isEnabled("alice@example.com", b) {
		t.Fatal("someone else's disable took effect")
	}

	f.client(b, `<iq type='set' id='dis'><disable xmlns='urn:xmpp:carbons:2'/></iq>`)
	expectXML(t, "disable", b.take(), `<iq type='result' id='dis' from='alice@example.com' to='alice@example.com/b'/>`)
	f.client(b, `<iq type='set' id='dis2'><disable xmlns='urn:xmpp:carbons:2'/></iq>`)
	expectXML(t, "disable again", b.take(), `<iq type='result' id='dis2' from='alice@example.com' to='alice@example.com/b'/>`)
	f.client(a, `<message to='bob@example.com' type='chat'><body>x</body></message>`)
	f.client(bob, `<message to='alice@example.com/a' type='chat'><body>y</body></message>`)
	expectNothing(t, b)
	a.take()

	// Disco: the server advertises carbons.
	f.client(a, `<iq type='get' id='d' to='example.com'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`)
	if got := a.take(); len(got) != 1 || !strings.Contains(string(got[0].Raw), nsCarbons) {
		t.Fatalf("server disco#info: %v", got)
	}
}

func TestCarbonsSent(t *testing.T) {
	f, a, b, c, bob := carbonsFixture(t)
	f.client(a, `<message to='bob@example.com' type='chat' id='s1'><body>hi</body><thread>t1</thread></message>`)

	got := bob.take()
	if len(got) != 1 || len(mamStanzaIDs(t, got[0])["alice@example.com"]) != 0 {
		t.Fatalf("bob received %v (with alice's archive id?)", got)
	}
	cb := b.take()
	if len(cb) != 1 {
		t.Fatalf("b received %d stanzas, want one sent carbon", len(cb))
	}
	inner, raw := carbonOf(t, cb[0], "sent", "alice@example.com/b", "chat")
	// The forwarded stanza is the original as sent ('from' stamped), plus
	// alice's archive id (XEP-0313 §3.3), in jabber:client.
	_, aliceIDs := mamArchived(t, f, "alice@example.com")
	sid := inner.ChildrenNamed(nsStanzaID, "stanza-id")
	if len(aliceIDs) != 1 || len(sid) != 1 || sid[0].Attr("by") != "alice@example.com" || sid[0].Attr("id") != aliceIDs[0] {
		t.Fatalf("sent carbon's stanza ids %v, archive %v", sid, aliceIDs)
	}
	orig := mustStanza(t, `<message to='bob@example.com' type='chat' id='s1'><body>hi</body><thread>t1</thread></message>`).
		WithAttrs("from", "alice@example.com/a").Raw
	origNS := (&xmlstream.Stanza{Raw: orig}).WithAttrs("xmlns", xmlstream.NSClient).Raw
	end := bytes.LastIndex(origNS, []byte("</message>"))
	if !bytes.HasPrefix(raw, origNS[:end]) || !bytes.HasSuffix(raw, []byte("</message>")) {
		t.Fatalf("forwarded bytes\n%s\ndo not start with the original\n%s", raw, origNS[:end])
	}
	expectNothing(t, a, c)
}

func TestCarbonsReceived(t *testing.T) {
	f, a, b, c, bob := carbonsFixture(t)

	// To the bare JID: delivered to a (top priority); b gets a carbon.
	f.client(bob, `<message to='alice@example.com' type='chat' id='r1'><body>to bare</body></message>`)
	if got := a.take(); len(got) != 1 {
		t.Fatalf("a got %d", len(got))
	}
	cb := b.take()
	if len(cb) != 1 {
		t.Fatalf("b got %d stanzas, want one received carbon", len(cb))
	}
	inner, raw := carbonOf(t, cb[0], "received", "alice@example.com/b", "chat")
	_, ids := mamArchived(t, f, "alice@example.com")
	if sid := inner.ChildrenNamed(nsStanzaID, "stanza-id"); len(sid) != 1 || sid[0].Attr("id") != ids[0] {
		t.Errorf("received carbon lacks the archive id %s: %s", ids[0], raw)
	}
	// Byte for byte: the delivered stanza (as bob's client wrote it, 'from'
	// stamped, alice's archive id added) with jabber:client declared.
	want := "<message to='alice@example.com' type='chat' id='r1' from='bob@example.com/b' xmlns='jabber:client'><body>to bare</body>" +
		"<stanza-id xmlns='urn:xmpp:sid:0' by='alice@example.com' id='" + ids[0] + "'/></message>"
	if string(raw) != want {
		t.Errorf("forwarded bytes:\n%s\nwant\n%s", raw, want)
	}

	// To a full JID: delivered there; the enabled resource gets a carbon.
	f.client(bob, `<message to='alice@example.com/c' id='r2'><body>to c</body></message>`)
	if got := c.take(); len(got) != 1 {
		t.Fatalf("c got %d", len(got))
	}
	cb = b.take()
	if len(cb) != 1 {
		t.Fatalf("b got %d stanzas for a message to c", len(cb))
	}
	carbonOf(t, cb[0], "received", "alice@example.com/b", "")

	// Directly to b itself: b has the original, no carbon.
	f.client(bob, `<message to='alice@example.com/b' type='chat'><body>to b</body></message>`)
	if got := b.take(); len(got) != 1 || bytes.Contains(got[0].Raw, []byte(nsCarbons)) {
		t.Fatalf("b got %v", got)
	}
	expectNothing(t, a, c)
}

func TestCarbonsNotCopied(t *testing.T) {
	cases := []struct{ name, msg string }{
		{"private and no-copy", `<message type='chat'><body>x</body><private xmlns='urn:xmpp:carbons:2'/><no-copy xmlns='urn:xmpp:hints'/></message>`},
		{"private", `<message type='chat'><body>x</body><private xmlns='urn:xmpp:carbons:2'/></message>`},
		{"no-copy", `<message type='chat'><body>x</body><no-copy xmlns='urn:xmpp:hints'/></message>`},
		{"normal without body", `<message><subject>s</subject></message>`},
		{"headline", `<message type='headline'><body>x</body></message>`},
		{"groupchat", `<message type='groupchat'><body>x</body></message>`},
		{"a carbon inside", `<message type='chat'><received xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='juliet@example.com/x' to='alice@example.com' type='chat'><body>forged</body></message></forwarded></received></message>`},
		{"sent carbon inside", `<message type='chat'><sent xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='alice@example.com/z' to='x@y' type='chat'><body>forged</body></message></forwarded></sent></message>`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, a, b, _, bob := carbonsFixture(t)
			f.client(a, strings.Replace(tc.msg, "<message", "<message to='bob@example.com/b'", 1))
			f.client(bob, strings.Replace(tc.msg, "<message", "<message to='alice@example.com/a'", 1))
			expectNothing(t, b)
		})
	}
}

func TestCarbonsCopied(t *testing.T) {
	cases := []struct{ name, msg string }{
		{"normal with body", `<message><body>x</body></message>`},
		{"chat state", `<message type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>`},
		{"receipt in a normal message", `<message><received xmlns='urn:xmpp:receipts' id='x'/></message>`},
		{"marker", `<message><displayed xmlns='urn:xmpp:chat-markers:0' id='x'/></message>`},
		{"direct MUC invitation", `<message><x xmlns='jabber:x:conference' jid='room@conf.example.com'/></message>`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, a, b, _, bob := carbonsFixture(t)
			f.client(a, strings.Replace(tc.msg, "<message", "<message to='bob@example.com/b'", 1))
			if got := b.take(); len(got) != 1 {
				t.Fatalf("sent: b got %d", len(got))
			}
			f.client(bob, strings.Replace(tc.msg, "<message", "<message to='alice@example.com/a'", 1))
			if got := b.take(); len(got) != 1 {
				t.Fatalf("received: b got %d", len(got))
			}
		})
	}
	// A private message from a MUC occupant is not copied (the room does).
	f, _, b, _, _ := carbonsFixture(t)
	f.route(`<message from='room@conf.remote.test/nick' to='alice@example.com/a' type='chat'><body>pm</body><x xmlns='http://jabber.org/protocol/muc#user'/></message>`)
	expectNothing(t, b)
}

func TestCarbonsToOwnAccount(t *testing.T) {
	f, a, b, c, _ := carbonsFixture(t)
	// a enables carbons too: a note from a to c reaches c, b gets one
	// received carbon, a (the sender) nothing.
	f.client(a, `<iq type='set' id='en'><enable xmlns='urn:xmpp:carbons:2'/></iq>`)
	a.take()
	f.client(a, `<message to='alice@example.com/c' type='chat'><body>note</body></message>`)
	if got := c.take(); len(got) != 1 {
		t.Fatalf("c got %d", len(got))
	}
	cb := b.take()
	if len(cb) != 1 {
		t.Fatalf("b got %d carbons of a message to oneself", len(cb))
	}
	carbonOf(t, cb[0], "received", "alice@example.com/b", "chat")
	expectNothing(t, a)
}

func TestCarbonsStateDroppedWithSession(t *testing.T) {
	f, _, b, _, _ := carbonsFixture(t)
	f.logout(b)
	if f.srv.state.carbons.anyEnabled("alice@example.com") {
		t.Fatal("carbons state outlives the session")
	}
	// A replaced session (same resource bound again) is never a target and
	// is pruned at the next enable.
	b1 := f.mamLogin("alice@example.com/b", 0)
	f.client(b1, `<iq type='set' id='en'><enable xmlns='urn:xmpp:carbons:2'/></iq>`)
	b1.take()
	f.router.Unbind(b1) // replaced: c2s unbinds; SessionEnded(bound=false)
	f.srv.SessionEnded(t.Context(), b1, f.router.Resources("alice@example.com")[0], false)
	b2 := f.mamLogin("alice@example.com/b", 0)
	f.client(b2, `<iq type='set' id='en'><enable xmlns='urn:xmpp:carbons:2'/></iq>`)
	b2.take()
	f.srv.state.carbons.mu.RLock()
	n := len(f.srv.state.carbons.enabled["alice@example.com"])
	f.srv.state.carbons.mu.RUnlock()
	if n != 1 {
		t.Fatalf("%d sessions enabled after a replacement, want 1", n)
	}
}

func TestForwardedBytes(t *testing.T) {
	cases := []struct{ in, want string }{
		{`<message to='x'><body/></message>`, `<message to='x' xmlns='jabber:client'><body/></message>`},
		{`<message xmlns='jabber:client' to='x'/>`, `<message xmlns='jabber:client' to='x'/>`},
		{`<message xmlns="jabber:server" to='x'/>`, `<message to='x' xmlns='jabber:client'/>`},
		{`<message a='>' to='x'/>`, `<message a='>' to='x' xmlns='jabber:client'/>`},
	}
	for _, c := range cases {
		if got := string(forwardedBytes([]byte(c.in))); got != c.want {
			t.Errorf("forwardedBytes(%s) = %s, want %s", c.in, got, c.want)
		}
	}
	st := forwardMessage([]string{"from", "a@b", "to", "a@b/c\n", "type", ""}, nsCarbons, "sent", nil, "", []byte(`<message xmlns='jabber:client'/>`))
	if want := `<message from='a@b' to='a@b/c&#xA;'><sent xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client'/></forwarded></sent></message>`; string(st.Raw) != want {
		t.Errorf("forwardMessage:\n%s\nwant\n%s", st.Raw, want)
	}
	if el, err := st.Element(); err != nil || el.Child(nsCarbons, "sent") == nil {
		t.Errorf("forwardMessage output does not parse: %v", err)
	}
}
