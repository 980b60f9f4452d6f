package server_test

// Two Gavel servers federating over loopback: clients on each exchange a
// message and a presence subscription through s2s (STARTTLS + dialback).

import (
	"net"
	"testing"

	"github.com/gavelhq/gavel/internal/testserver"
	"github.com/gavelhq/gavel/internal/xmpptest"
	"github.com/gavelhq/gavel/server"
	"github.com/gavelhq/gavel/xmlstream"
)

// freeAddr reserves a loopback port for a listener configured before the
// peer that must know it starts.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func TestIntegrationFederation(t *testing.T) {
	addrA, addrB := freeAddr(t), freeAddr(t)
	federate := func(domain, listen, peerDomain, peerAddr string) func(*server.Config) {
		return func(c *server.Config) {
			c.Domain = domain
			c.Listeners.S2S = listen
			c.S2S.RequireTLS = true
			c.S2S.Hosts = map[string]string{peerDomain: peerAddr}
		}
	}
	a := testserver.Start(t, federate("a.test", addrA, "b.test", addrB))
	b := testserver.Start(t, federate("b.test", addrB, "a.test", addrA))
	a.CreateUser("ann", "pw-ann")
	b.CreateUser("ben", "pw-ben")

	alice := xmpptest.Dial(t, a.C2SAddr)
	alice.Domain = a.Domain
	aliceFull := alice.Login("SCRAM-SHA-256", "ann", "pw-ann", "laptop")
	startSession(t, alice)
	bob := xmpptest.Dial(t, b.C2SAddr)
	bob.Domain = b.Domain
	bobFull := bob.Login("SCRAM-SHA-256", "ben", "pw-ben", "phone")
	startSession(t, bob)

	// A chat message crosses to the other server.
	alice.SendRaw("<message to='ben@b.test' type='chat' id='f1'><body>bid 120 on lot 3</body></message>")
	m := bob.Expect(t, xmpptest.And(xmpptest.IsKind("message"), xmpptest.IsID("f1")), wait)
	if m.From() != aliceFull {
		t.Errorf("from = %q, want %q", m.From(), aliceFull)
	}
	if body := el(t, m).ChildText(xmlstream.NSClient, "body"); body != "bid 120 on lot 3" {
		t.Errorf("body = %q", body)
	}

	// A subscription across servers: request, approval, presence.
	alice.SendRaw("<presence to='ben@b.test' type='subscribe'/>")
	if item := rosterPushFor(t, alice, "ben@b.test"); item.Attr("ask") != "subscribe" {
		t.Errorf("alice's roster after subscribe: ask %q, want subscribe", item.Attr("ask"))
	}
	bob.Expect(t, xmpptest.And(xmpptest.IsKind("presence"), typ("subscribe"), from("ann@a.test")), wait)
	bob.SendRaw("<presence to='ann@a.test' type='subscribed'/>")
	if item := rosterPushFor(t, alice, "ben@b.test"); item.Attr("subscription") != "to" {
		t.Errorf("alice's roster: subscription %q, want to", item.Attr("subscription"))
	}
	alice.Expect(t, xmpptest.And(xmpptest.IsKind("presence"), typ(""), from(bobFull)), wait)

	// An error from the remote side comes back: iq to a missing user.
	alice.SendRaw("<iq to='nobody@b.test' type='get' id='f2'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	if got := xmpptest.ErrorCondition(alice.Expect(t, xmpptest.IsID("f2"), wait)); got != "service-unavailable" {
		t.Errorf("iq to a missing remote user: %q, want service-unavailable", got)
	}
}
