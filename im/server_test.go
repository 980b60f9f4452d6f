package im

import (
	"testing"
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
