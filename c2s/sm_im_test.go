package c2s_test

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/auth"
	"github.com/gavelhq/gavel/c2s"
	"github.com/gavelhq/gavel/data"
	"github.com/gavelhq/gavel/im"
	"github.com/gavelhq/gavel/internal/xmpptest"
	"github.com/gavelhq/gavel/router"
	"github.com/gavelhq/gavel/xmlstream"
)

// TestSMTimeoutWithIMCore runs the streams over the real IM core: when a
// resumption window closes, the unacknowledged messages go to offline
// storage and the unanswered iq comes back to its sender as an error.
func TestSMTimeoutWithIMCore(t *testing.T) {
	store, err := data.OpenInMemory()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	acc := auth.New(store, auth.Options{})
	for _, u := range []string{"alice", "bob"} {
		if err := acc.Create(context.Background(), jid.MustParse(u+"@"+testDomain), testPassword); err != nil {
			t.Fatal(err)
		}
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	r := router.New(router.Options{})
	core := im.New(im.Options{Domain: testDomain}, r, store, acc, logger)
	r.HandleDomain(testDomain, core, true)
	srv := c2s.New(c2s.Options{
		Domains:       []string{testDomain},
		TLSConfig:     &tls.Config{Certificates: []tls.Certificate{testCert(t)}},
		RequireTLS:    true,
		CloseGrace:    200 * time.Millisecond,
		ResumeTimeout: 300 * time.Millisecond,
		Logger:        logger,
	}, r, acc, core)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.ServeTCP(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	login := func(user, res string) *xmpptest.Client {
		c := xmpptest.Dial(t, l.Addr().String())
		c.Domain = testDomain
		c.Login("SCRAM-SHA-256", user, testPassword, res)
		return c
	}

	alice := login("alice", "phone")
	alice.EnableSM(true)
	alice.SendRaw("<presence/>")
	alice.RequestAck()
	bob := login("bob", "desk")
	bob.SendRaw("<presence/>")

	bare := "alice@" + testDomain
	bob.SendRaw("<message to='" + bare + "' id='m1' type='chat'><body>first</body></message>")
	bob.SendRaw("<iq to='" + alice.JID + "' id='q1' type='get'><query xmlns='urn:example:q'/></iq>")
	alice.Expect(t, xmpptest.IsID("m1"), 3*time.Second)
	alice.Expect(t, xmpptest.IsID("q1"), 3*time.Second)
	alice.CloseNow() // neither acknowledged
	waitFor(t, "detach", 3*time.Second, func() bool { return srv.DetachedCount() == 1 })
	bob.SendRaw("<message to='" + alice.JID + "' id='m2' type='chat'><body>while away</body></message>")

	// The window closes: the iq is answered for the absent resource.
	e := bob.ExpectError(t, "service-unavailable", 3*time.Second)
	if e.ID() != "q1" || e.From() != alice.JID {
		t.Fatalf("bounced iq: %s", e.Raw)
	}
	waitFor(t, "the session to end", 3*time.Second, func() bool { return r.SessionCount() == 1 })

	// The messages wait offline and come at the next login, in order.
	again := login("alice", "laptop")
	again.SendRaw("<presence/>")
	for _, id := range []string{"m1", "m2"} {
		st := again.Expect(t, xmpptest.IsKind("message"), 3*time.Second)
		el, _ := st.Element()
		if st.ID() != id || el.Child("urn:xmpp:delay", "delay") == nil {
			t.Fatalf("offline delivery: %s, want %s with a delay", st.Raw, id)
		}
	}
	for {
		st, err := again.Next(200 * time.Millisecond)
		if err != nil {
			break
		}
		if st.Name.Local == xmlstream.KindMessage && strings.Contains(string(st.Raw), "<body>") {
			t.Fatalf("delivered twice: %s", st.Raw)
		}
	}
}
