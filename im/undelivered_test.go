package im

import (
	"context"
	"strings"
	"testing"

	"github.com/gavelhq/gavel/xmlstream"
)

func undeliveredBatch(to string) []string {
	return []string{
		`<message from='bob@example.com/x' to='` + to + `' id='chat' type='chat'><body>hi</body></message>`,
		`<iq from='bob@example.com/x' to='` + to + `' id='q1' type='get'><query xmlns='urn:example'/></iq>`,
		`<iq from='bob@example.com/x' to='` + to + `' id='r1' type='result'/>`,
		`<presence from='bob@example.com/x' to='` + to + `'/>`,
		`<message from='bob@example.com/x' to='` + to + `' id='cs' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>`,
		`<message from='alice@example.com' to='` + to + `' id='carbon' type='chat'><received xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='bob@example.com/x' to='alice@example.com/desk' type='chat'><body>c</body></message></forwarded></received></message>`,
		`<message from='room@muc.example.com/bob' to='` + to + `' id='gc' type='groupchat'><body>g</body></message>`,
		`<message from='bob@example.com/x' to='` + to + `' id='err' type='error'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>`,
	}
}

func TestUndeliveredNoOtherResource(t *testing.T) {
	f := newIMFixture(t)
	alice := f.account("alice")
	f.account("bob")
	bob := f.login("bob@example.com/x")
	phone := f.login("alice@example.com/phone")
	f.logout(phone)
	bob.take()

	var sts = parseAll(t, undeliveredBatch("alice@example.com/phone"))
	f.srv.Undelivered(context.Background(), phone, sts)

	// The chat message is stored offline, nothing else.
	last, first, err := f.store.Last(context.Background(), offlineStream(alice.String()))
	if err != nil || queued(last, first) != 1 {
		t.Fatalf("offline queue: %d (%v), want 1", queued(last, first), err)
	}
	// The iq request comes back as an error from the gone resource; no
	// other stanza reaches bob (no error for the chat state, none for errors).
	got := bob.take()
	if len(got) != 1 || got[0].ID() != "q1" || got[0].Type() != "error" || got[0].From() != "alice@example.com/phone" {
		t.Fatalf("bob got %d stanzas: %v", len(got), got)
	}
	if c := canon(t, got[0]); !strings.Contains(c, "service-unavailable") {
		t.Fatalf("bounce: %s", c)
	}
}

func TestUndeliveredToOtherResource(t *testing.T) {
	f := newIMFixture(t)
	alice := f.account("alice")
	f.account("bob")
	desk := f.login("alice@example.com/desk")
	f.client(desk, "<presence/>")
	phone := f.login("alice@example.com/phone")
	f.logout(phone)
	desk.take()

	f.srv.Undelivered(context.Background(), phone, parseAll(t, undeliveredBatch("alice@example.com")))
	var ids []string
	for _, st := range desk.take() {
		ids = append(ids, st.ID())
	}
	if len(ids) != 2 || ids[0] != "chat" || ids[1] != "cs" {
		t.Fatalf("the other resource got %v, want [chat cs]", ids)
	}
	last, first, _ := f.store.Last(context.Background(), offlineStream(alice.String()))
	if queued(last, first) != 0 {
		t.Fatal("stored offline although a resource was available")
	}
}

func parseAll(t *testing.T, raws []string) []*xmlstream.Stanza {
	t.Helper()
	out := make([]*xmlstream.Stanza, len(raws))
	for i, r := range raws {
		out[i] = mustStanza(t, r)
	}
	return out
}
