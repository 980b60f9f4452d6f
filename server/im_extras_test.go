package server_test

// End to end over TCP with STARTTLS: XEP-0191 blocking and XEP-0054 vCards
// between two clients of the dev server.

import (
	"strings"
	"testing"

	"github.com/gavelhq/gavel/internal/testserver"
	"github.com/gavelhq/gavel/internal/xmpptest"
	"github.com/gavelhq/gavel/xmlstream"
)

// loginTCP creates name and logs it in over STARTTLS with resource res.
func loginTCP(t *testing.T, ts *testserver.Server, name, res string) (*xmpptest.Client, string) {
	t.Helper()
	ts.CreateUser(name, "pw-"+name+"-0123456789")
	c := xmpptest.Dial(t, ts.C2SAddr)
	c.Domain = ts.Domain
	full := c.Login("SCRAM-SHA-256", name, "pw-"+name+"-0123456789", res)
	return c, full
}

// iqResult sends an iq and returns its answer, failing unless it is a result.
func iqResult(t *testing.T, c *xmpptest.Client, id, raw string) *xmlstream.Stanza {
	t.Helper()
	c.SendRaw(raw)
	st := c.Expect(t, xmpptest.IsID(id), wait)
	if st.Type() != "result" {
		t.Fatalf("iq %s: %s", id, st.Raw)
	}
	return st
}

func isMessage(st *xmlstream.Stanza) bool { return st.Name.Local == xmlstream.KindMessage }

func TestIntegrationBlockingAndVCard(t *testing.T) {
	ts := testserver.Start(t, nil)
	ann, annFull := loginTCP(t, ts, "ann", "desk")
	ben, benFull := loginTCP(t, ts, "ben", "phone")
	annJID, benJID := bare(annFull), bare(benFull)
	startSession(t, ann)
	startSession(t, ben)

	// The server advertises all three features (XEP-0191 §3.1, XEP-0054 §4, XEP-0012 §6).
	info := iqResult(t, ann, "disco1", "<iq type='get' id='disco1' to='"+ts.Domain+"'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	for _, v := range []string{"urn:xmpp:blocking", "vcard-temp", "jabber:iq:last"} {
		if !strings.Contains(string(info.Raw), "var='"+v+"'") && !strings.Contains(string(info.Raw), `var="`+v+`"`) {
			t.Errorf("server disco#info lacks %s: %s", v, info.Raw)
		}
	}

	// vCard: ann publishes hers, ben reads it from her bare JID.
	iqResult(t, ann, "vc1", "<iq type='set' id='vc1'><vCard xmlns='vcard-temp'><FN>Ann Auctioneer</FN><NICKNAME>ann</NICKNAME></vCard></iq>")
	vc := iqResult(t, ben, "vc2", "<iq type='get' id='vc2' to='"+annJID+"'><vCard xmlns='vcard-temp'/></iq>")
	if vc.From() != annJID {
		t.Errorf("vCard result from %q, want %q", vc.From(), annJID)
	}
	if fn := el(t, vc).Child("vcard-temp", "vCard").ChildText("vcard-temp", "FN"); fn != "Ann Auctioneer" {
		t.Errorf("ben read FN %q: %s", fn, vc.Raw)
	}
	// Ben may not change it.
	ben.SendRaw("<iq type='set' id='vc3' to='" + annJID + "'><vCard xmlns='vcard-temp'><FN>Mallory</FN></vCard></iq>")
	if st := ben.ExpectError(t, "forbidden", wait); st.ID() != "vc3" {
		t.Errorf("forbidden for %s", st.Raw)
	}

	// Blocking: ann asks for her (empty) list, then blocks ben.
	bl := iqResult(t, ann, "bl1", "<iq type='get' id='bl1'><blocklist xmlns='urn:xmpp:blocking'/></iq>")
	if list := el(t, bl).Child("urn:xmpp:blocking", "blocklist"); list == nil || len(list.Elements()) != 0 {
		t.Fatalf("initial blocklist: %s", bl.Raw)
	}
	ann.SendRaw("<iq type='set' id='blk1'><block xmlns='urn:xmpp:blocking'><item jid='" + benJID + "'/></block></iq>")
	push := ann.Expect(t, xmpptest.And(xmpptest.IsKind("iq"), func(st *xmlstream.Stanza) bool { return st.Type() == "set" }), wait)
	item := el(t, push).Child("urn:xmpp:blocking", "block").Child("urn:xmpp:blocking", "item")
	if item == nil || item.Attr("jid") != benJID {
		t.Fatalf("block push: %s", push.Raw)
	}
	ann.SendRaw("<iq type='result' id='" + push.ID() + "'/>")
	ann.Expect(t, xmpptest.IsID("blk1"), wait)

	// Ben's message bounces as if ann were offline; his vCard query too.
	ben.SendRaw("<message to='" + annJID + "' type='chat' id='m1'><body>while blocked</body></message>")
	if st := ben.ExpectError(t, "service-unavailable", wait); st.ID() != "m1" || st.From() != annJID {
		t.Errorf("bounce: %s", st.Raw)
	}
	ben.SendRaw("<iq type='get' id='vc4' to='" + annJID + "'><vCard xmlns='vcard-temp'/></iq>")
	if st := ben.ExpectError(t, "service-unavailable", wait); st.ID() != "vc4" {
		t.Errorf("vCard of a blocking user: %s", st.Raw)
	}

	// Ann writing to ben gets not-acceptable with <blocked/>.
	ann.SendRaw("<message to='" + benFull + "' type='chat' id='m2'><body>hello?</body></message>")
	st := ann.ExpectError(t, "not-acceptable", wait)
	if st.ID() != "m2" || el(t, st).Child("", "error").Child("urn:xmpp:blocking:errors", "blocked") == nil {
		t.Errorf("blocked error: %s", st.Raw)
	}

	// Unblock: ben's next message arrives, and it is the first one ann sees.
	iqResult(t, ann, "ublk", "<iq type='set' id='ublk'><unblock xmlns='urn:xmpp:blocking'><item jid='"+benJID+"'/></unblock></iq>")
	ben.SendRaw("<message to='" + annJID + "' type='chat' id='m3'><body>after</body></message>")
	m := ann.Expect(t, isMessage, wait)
	if body := el(t, m).ChildText(xmlstream.NSClient, "body"); body != "after" || m.From() != benFull {
		t.Fatalf("ann received %s, want ben's message sent after the unblock", m.Raw)
	}
}
