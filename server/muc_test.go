package server_test

// XEP-0045 end to end over real TCP clients: the service is discoverable,
// a room is created and configured, two users chat, and a client that
// drops its connection leaves the room through the IM core's directed
// presence (RFC 6121 §4.6.3) — the room sees it go.

import (
	"strings"
	"testing"

	"github.com/gavelhq/gavel/internal/testserver"
	"github.com/gavelhq/gavel/internal/xmpptest"
	"github.com/gavelhq/gavel/xmlstream"
)

func TestIntegrationMUC(t *testing.T) {
	ts := testserver.Start(t, nil)
	service := "conference." + ts.Domain
	room := "coven@" + service
	ann, annFull := loginTCP(t, ts, "ann", "desk")
	ben, benFull := loginTCP(t, ts, "ben", "phone")
	startSession(t, ann)
	startSession(t, ben)

	// The server lists the service; the service says it is MUC.
	items := iqResult(t, ann, "d1", "<iq type='get' id='d1' to='"+ts.Domain+"'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>")
	if !strings.Contains(string(items.Raw), service) {
		t.Fatalf("server disco#items lacks %s: %s", service, items.Raw)
	}
	info := iqResult(t, ann, "d2", "<iq type='get' id='d2' to='"+service+"'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	if !strings.Contains(string(info.Raw), "http://jabber.org/protocol/muc") || !strings.Contains(string(info.Raw), "conference") {
		t.Fatalf("service disco#info: %s", info.Raw)
	}

	isPresenceFrom := func(from string) func(*xmlstream.Stanza) bool {
		return func(st *xmlstream.Stanza) bool {
			return st.Name.Local == xmlstream.KindPresence && st.From() == from
		}
	}
	// ann creates the room: 110 + 201, then the subject; then accepts the defaults.
	ann.SendRaw("<presence to='" + room + "/first'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
	self := ann.Expect(t, isPresenceFrom(room+"/first"), wait)
	if !strings.Contains(string(self.Raw), "code='201'") || !strings.Contains(string(self.Raw), "code='110'") {
		t.Fatalf("creation self-presence: %s", self.Raw)
	}
	ann.Expect(t, func(st *xmlstream.Stanza) bool { return isMessage(st) && strings.Contains(string(st.Raw), "<subject") }, wait)
	iqResult(t, ann, "c1", "<iq type='set' id='c1' to='"+room+"'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>")

	// ben joins: ann's presence, his own (110), the subject.
	ben.SendRaw("<presence to='" + room + "/second'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
	ben.Expect(t, isPresenceFrom(room+"/first"), wait)
	if p := ben.Expect(t, isPresenceFrom(room+"/second"), wait); !strings.Contains(string(p.Raw), "code='110'") {
		t.Fatalf("ben's self-presence: %s", p.Raw)
	}
	ben.Expect(t, func(st *xmlstream.Stanza) bool { return isMessage(st) && strings.Contains(string(st.Raw), "<subject") }, wait)
	if p := ann.Expect(t, isPresenceFrom(room+"/second"), wait); !strings.Contains(string(p.Raw), benFull) {
		t.Fatalf("ann (moderator) does not see ben's real JID: %s", p.Raw)
	}

	// Groupchat: reflected to both, with the room's stanza-id.
	ann.SendRaw("<message type='groupchat' id='g1' to='" + room + "'><body>Fire burn</body></message>")
	for _, c := range []*xmpptest.Client{ann, ben} {
		m := c.Expect(t, xmpptest.IsID("g1"), wait)
		if m.From() != room+"/first" || !strings.Contains(string(m.Raw), "urn:xmpp:sid:0") {
			t.Fatalf("reflected message: %s", m.Raw)
		}
	}

	// ben's connection drops without unavailable presence: the IM core
	// sends it on his behalf to the room, which tells ann.
	ben.CloseNow()
	gone := ann.Expect(t, func(st *xmlstream.Stanza) bool {
		return isPresenceFrom(room+"/second")(st) && st.Type() == "unavailable"
	}, wait)
	if !strings.Contains(string(gone.Raw), "role='none'") {
		t.Fatalf("ben's exit: %s", gone.Raw)
	}
	_ = annFull
}
