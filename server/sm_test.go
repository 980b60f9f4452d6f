package server_test

// XEP-0198 end to end over a real dev server: a session whose TCP
// connection is cut mid-stream is resumed over WebSocket with its presence
// state, and gets what was sent while it was away, exactly once, in order.

import (
	"strconv"
	"testing"
	"time"

	"github.com/gavelhq/gavel/internal/testserver"
	"github.com/gavelhq/gavel/internal/xmpptest"
	"github.com/gavelhq/gavel/xmlstream"
)

func TestIntegrationStreamResumption(t *testing.T) {
	ts := testserver.Start(t, nil)
	const pw = "resume-Pa55word"
	ts.CreateUser("smalice", pw)
	ts.CreateUser("smbob", pw)

	alice := xmpptest.Dial(t, ts.C2SAddr)
	alice.Domain = ts.Domain
	aliceFull := alice.Login("SCRAM-SHA-256", "smalice", pw, "phone")
	startSession(t, alice)
	if !alice.HasFeature(xmpptest.NSSM, "sm") || !alice.HasFeature(xmpptest.NSCSI, "csi") {
		t.Fatalf("SM/CSI not offered: %s", alice.Features)
	}
	alice.SetAutoAck(true)
	enabled := alice.EnableSM(true)
	if enabled.Attr("resume") != "true" || enabled.Attr("id") == "" {
		t.Fatalf("enabled: %s", enabled)
	}
	bob := xmpptest.Dial(t, ts.C2SAddr)
	bob.Domain = ts.Domain
	bob.Login("SCRAM-SHA-256", "smbob", pw, "desk")
	startSession(t, bob)

	send := func(i int) {
		bob.SendRaw("<message to='smalice@" + ts.Domain + "' id='m" + strconv.Itoa(i) + "' type='chat'><body>" + strconv.Itoa(i) + "</body></message>")
	}
	// A burst; alice reads a few, then her connection dies mid-stream.
	const total = 50
	for i := range 20 {
		send(i)
	}
	for i := range 3 {
		if st := alice.Expect(t, xmpptest.IsKind("message"), wait); st.ID() != "m"+strconv.Itoa(i) {
			t.Fatalf("got %s", st.Raw)
		}
	}
	h := alice.SMReceived()
	alice.CloseNow()
	// While she is away (attached to a dead socket or detached, the server
	// keeps everything for her).
	for i := 20; i < total; i++ {
		send(i)
	}

	n := xmpptest.DialWebSocket(t, ts.WebSocketURL)
	n.Domain = ts.Domain
	n.LoginNoBind("SCRAM-SHA-256", "smalice", pw)
	start := time.Now()
	r := n.Resume(enabled.Attr("id"), h)
	if r.Name.Local != "resumed" {
		t.Fatalf("resume: %s", r)
	}
	for i := 3; i < total; i++ {
		st := n.Expect(t, xmpptest.IsKind("message"), wait)
		if st.ID() != "m"+strconv.Itoa(i) || st.To() != "smalice@"+ts.Domain {
			t.Fatalf("after resume got %s, want m%d", st.Raw, i)
		}
	}
	t.Logf("resumed and replayed %d messages in %v", total-3, time.Since(start))
	// The resumed session kept its resource and its available presence:
	// a message to the bare JID is delivered to it, not stored offline.
	bob.SendRaw("<message to='smalice@" + ts.Domain + "' id='live' type='chat'><body>live</body></message>")
	st := n.Expect(t, xmpptest.IsKind("message"), wait)
	if st.ID() != "live" {
		t.Fatalf("got %s, want the live message (a duplicate?)", st.Raw)
	}
	// And it speaks as the same full JID.
	n.SendRaw("<message xmlns='jabber:client' to='smbob@" + ts.Domain + "' id='back' type='chat'><body>back</body></message>")
	got := bob.Expect(t, xmpptest.IsID("back"), wait)
	if got.From() != aliceFull {
		t.Fatalf("from %q, want %q", got.From(), aliceFull)
	}
	if h := n.RequestAck(); h != 1 {
		t.Fatalf("server h after resume: %d, want 1", h)
	}
	// No stanza was lost or duplicated: nothing else is pending.
	for {
		st, err := n.Next(300 * time.Millisecond)
		if err != nil {
			break
		}
		if st.Name.Local == xmlstream.KindMessage {
			t.Fatalf("unexpected message: %s", st.Raw)
		}
	}
}
