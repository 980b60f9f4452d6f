package im

import (
	"context"
	"strings"
	"testing"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/router"
	"github.com/gavelhq/gavel/xmlstream"
)

func TestIQToMissingAccount(t *testing.T) {
	f := newIMFixture(t)
	f.account("alice")
	alice := f.login("alice@" + testDomain + "/a")
	// XEP-0030 §8: disco#items to an account that does not exist is an
	// empty result; any other get/set is service-unavailable.
	f.client(alice, "<iq type='get' id='i1' to='nobody@"+testDomain+"'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>")
	expectXML(t, "disco#items to missing account", alice.take(),
		"<iq type='result' id='i1' from='nobody@"+testDomain+"' to='alice@"+testDomain+"/a'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>")
	f.client(alice, "<iq type='get' id='i2' to='nobody@"+testDomain+"'><vCard xmlns='vcard-temp'/></iq>")
	expectXML(t, "other iq to missing account", alice.take(),
		"<iq type='error' id='i2' from='nobody@"+testDomain+"' to='alice@"+testDomain+"/a'><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>")
}

func TestIQPayloadCount(t *testing.T) {
	f := newIMFixture(t)
	f.account("alice")
	alice := f.login("alice@" + testDomain + "/a")
	// RFC 6120 §8.2.3: a get or set carries exactly one child.
	f.client(alice, "<iq type='get' id='i3' to='"+testDomain+"'/>")
	f.client(alice, "<iq type='get' id='i4' to='"+testDomain+"'><ping xmlns='urn:xmpp:ping'/><ping xmlns='urn:xmpp:ping'/></iq>")
	got := alice.take()
	if len(got) != 2 {
		t.Fatalf("got %d replies", len(got))
	}
	for _, st := range got {
		el, _ := st.Element()
		if st.Type() != "error" || el.Child("", "error").Child("urn:ietf:params:xml:ns:xmpp-stanzas", "bad-request") == nil {
			t.Fatalf("want bad-request, got %s", st.Raw)
		}
	}
	// An unknown payload namespace is service-unavailable.
	f.client(alice, "<iq type='get' id='i5' to='"+testDomain+"'><query xmlns='urn:example:unknown'/></iq>")
	expectXML(t, "unknown payload", alice.take(),
		"<iq type='error' id='i5' from='"+testDomain+"' to='alice@"+testDomain+"/a'><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>")
}

func TestFilterOrderStopAndDelivered(t *testing.T) {
	f := newIMFixture(t)
	f.account("alice")
	f.account("bob")
	alice := f.login("alice@" + testDomain + "/a")
	bob := f.login("bob@" + testDomain + "/b")
	f.client(bob, "<presence/>")
	alice.take()
	bob.take()

	var trace []string
	f.srv.AddOutboundFilter(OrderCarbons, func(_ context.Context, _ router.Session, st *xmlstream.Stanza) (*xmlstream.Stanza, bool) {
		trace = append(trace, "out-carbons")
		return st, false
	})
	f.srv.AddOutboundFilter(OrderBlocking, func(_ context.Context, _ router.Session, st *xmlstream.Stanza) (*xmlstream.Stanza, bool) {
		trace = append(trace, "out-blocking")
		return st, st.ID() == "blocked"
	})
	f.srv.AddInboundFilter(OrderArchive, func(_ context.Context, to jid.JID, st *xmlstream.Stanza) (*xmlstream.Stanza, bool) {
		trace = append(trace, "in-archive:"+to.String())
		return st.WithAttrs("id", "rewritten"), false
	})
	var recipients []string
	f.srv.OnDelivered(func(_ context.Context, _ jid.JID, st *xmlstream.Stanza, got []router.Session) {
		for _, r := range got {
			recipients = append(recipients, r.JID().String()+"="+st.ID())
		}
	})

	f.client(alice, "<message to='bob@"+testDomain+"' type='chat' id='m1'><body>hi</body></message>")
	want := []string{"out-blocking", "out-carbons", "in-archive:bob@" + testDomain}
	if strings.Join(trace, ",") != strings.Join(want, ",") {
		t.Fatalf("filter order %v, want %v", trace, want)
	}
	if got := bob.take(); len(got) != 1 || got[0].ID() != "rewritten" {
		t.Fatalf("bob got %d stanzas (the inbound filter's rewrite must be what is delivered)", len(got))
	}
	if len(recipients) != 1 || recipients[0] != "bob@"+testDomain+"/b=rewritten" {
		t.Fatalf("delivered hook saw %v", recipients)
	}

	trace = nil
	f.client(alice, "<message to='bob@"+testDomain+"' type='chat' id='blocked'><body>no</body></message>")
	if strings.Join(trace, ",") != "out-blocking" {
		t.Fatalf("a stopping filter must end the chain: %v", trace)
	}
	if got := bob.take(); len(got) != 0 {
		t.Fatalf("stopped stanza was delivered: %s", got[0].Raw)
	}
}
