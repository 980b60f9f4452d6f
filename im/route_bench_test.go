package im

import (
	"context"
	"testing"

	"github.com/gavelhq/gavel/router"
	"github.com/gavelhq/gavel/xmlstream"
)

// nullSession accepts everything and keeps nothing (benchmarks).
type nullSession struct{ fakeSession }

func (n *nullSession) Send(*xmlstream.Stanza) bool { return true }

// BenchmarkChatRoute: one chat message from a bound client to an online
// contact, through the outbound filters, the router, the inbound filters
// and delivery — the server-side path of scenario S3. The message carries
// <no-store/> (as S3's do), so the archive is skipped and the figure is
// the routing cost alone.
func BenchmarkChatRoute(b *testing.B) {
	f := newIMFixture(&testing.T{})
	f.account("alice")
	f.account("bob")
	alice := &nullSession{fakeSession: *newFakeSession("alice@example.com/a")}
	bob := &nullSession{fakeSession: *newFakeSession("bob@example.com/b")}
	for _, s := range []router.Session{alice, bob} {
		if _, err := f.router.Bind(s, s.JID().Bare(), s.JID().Resourcepart()); err != nil {
			b.Fatal(err)
		}
		f.srv.HandleClient(context.Background(), s, mustStanza(&testing.T{}, "<presence from='"+s.JID().String()+"'/>"))
	}
	st := mustStanza(&testing.T{}, "<message from='alice@example.com/a' to='bob@example.com' type='chat' id='m1'>"+
		"<body>bid 1200 on lot 7, 2026-11-21T10:00:00.000000Z</body><no-store xmlns='urn:xmpp:hints'/></message>")
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// A fresh Stanza per message, as c2s hands over (no cached tree).
		f.srv.HandleClient(ctx, alice, &xmlstream.Stanza{Raw: st.Raw, Name: st.Name, Attrs: st.Attrs, Inherited: st.Inherited})
	}
}

// BenchmarkGroupchatCopy: one fanned-out copy of a room message (with the
// room's stanza-id) from this server's MUC service to a local occupant —
// the per-recipient im cost of a MUC broadcast (scenarios S4/S5).
func BenchmarkGroupchatCopy(b *testing.B) {
	f := newIMFixture(&testing.T{})
	f.account("bob")
	f.router.HandleDomain("conference.example.com", router.HandlerFunc(func(context.Context, *xmlstream.Stanza) {}), false)
	bob := &nullSession{fakeSession: *newFakeSession("bob@example.com/b")}
	if _, err := f.router.Bind(bob, bob.JID().Bare(), "b"); err != nil {
		b.Fatal(err)
	}
	st := mustStanza(&testing.T{}, "<message from='lot7@conference.example.com/alice' to='bob@example.com/b' type='groupchat' id='m1'>"+
		"<body>bid 1200</body><occupant-id xmlns='urn:xmpp:occupant-id:0' id='x'/>"+
		"<stanza-id xmlns='urn:xmpp:sid:0' by='lot7@conference.example.com' id='AAAAAAAAAAH_yA9w'/></message>")
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f.router.Route(ctx, &xmlstream.Stanza{Raw: st.Raw, Name: st.Name, Attrs: st.Attrs, Inherited: st.Inherited})
	}
}

// BenchmarkNotificationCopy is one fanned-out pubsub notification (a
// headline without body) reaching a local session: no parse on the way.
func BenchmarkNotificationCopy(b *testing.B) {
	f := newIMFixture(&testing.T{})
	f.account("bob")
	f.router.HandleDomain("pubsub.example.com", router.HandlerFunc(func(context.Context, *xmlstream.Stanza) {}), false)
	bob := &nullSession{fakeSession: *newFakeSession("bob@example.com/b")}
	if _, err := f.router.Bind(bob, bob.JID().Bare(), "b"); err != nil {
		b.Fatal(err)
	}
	st := mustStanza(&testing.T{}, "<message from='pubsub.example.com' to='bob@example.com/b' type='headline' id='e1'>"+
		"<event xmlns='http://jabber.org/protocol/pubsub#event'><items node='lot7'><item id='i1' publisher='auction.example.com'>"+
		"<bid xmlns='urn:gavel:auction:0' amount='1200' currency='EUR'/></item></items></event></message>")
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f.router.Route(ctx, &xmlstream.Stanza{Raw: st.Raw, Name: st.Name, Attrs: st.Attrs, Inherited: st.Inherited})
	}
}
