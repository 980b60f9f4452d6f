package muc

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// relayFixture: alice ("first", owner) and bob ("second") in a
// semi-anonymous room, with a clock the test moves.
func relayFixture(t *testing.T) (*fixture, *atomic.Int64) {
	var now atomic.Int64
	now.Store(testNow.UnixNano())
	f := newFixture(t, func(o *Options) { o.Now = func() time.Time { return time.Unix(0, now.Load()) } })
	f.createInstant(alice, "first")
	f.join(bob, "second")
	f.user(carol)
	f.drainAll()
	return f, &now
}

// relayedID returns the id of the one iq s received, checking its text.
func relayedID(t *testing.T, who string, s *fakeSession, want string) string {
	t.Helper()
	got := s.takeRaw()
	if len(got) != 1 {
		t.Fatalf("%s received %d stanzas, want the relayed iq", who, len(got))
	}
	wantStanzas(t, who, []string{canonicalStanza(got[0])}, want)
	return got[0].ID()
}

func TestIQRelayRoundTrip(t *testing.T) {
	f, _ := relayFixture(t)
	a, b := f.user(alice), f.user(bob)
	// bob asks alice's occupant JID: alice's real JID gets it, from bob's
	// occupant JID, with a fresh id; neither real JID is shown to the other.
	f.send("<iq type='get' id='v1' from='" + bob + "' to='" + testRoom + "/first'><query xmlns='jabber:iq:version'/></iq>")
	id := relayedID(t, "alice", a,
		"<iq from='"+testRoom+"/second' id='*' to='"+alice+"' type='get'><query xmlns='jabber:iq:version'/></iq>")
	if id == "v1" {
		t.Fatal("the relayed iq kept the sender's id")
	}
	// Someone else answering with that id is ignored.
	f.send("<iq type='result' id='" + id + "' from='" + carol + "' to='" + testRoom + "/second'><query xmlns='jabber:iq:version'><name>fake</name></query></iq>")
	wantStanzas(t, "bob", b.take())
	// alice's answer goes back to bob from alice's occupant JID, original id.
	f.send("<iq type='result' id='" + id + "' from='" + alice + "' to='" + testRoom + "/second'><query xmlns='jabber:iq:version'><name>Gavel</name></query></iq>")
	wantStanzas(t, "bob", b.take(),
		"<iq from='"+testRoom+"/first' id='v1' to='"+bob+"' type='result'><query xmlns='jabber:iq:version'><name>Gavel</name></query></iq>")
	// A second answer to the same id is dropped: the relay is done.
	f.send("<iq type='result' id='" + id + "' from='" + alice + "' to='" + testRoom + "/second'/>")
	wantStanzas(t, "bob", b.take())

	// An error answer: its 'by' would name alice's real JID; it names her
	// occupant JID instead.
	f.send("<iq type='set' id='s1' from='" + bob + "' to='" + testRoom + "/first'><command xmlns='urn:example'/></iq>")
	id = relayedID(t, "alice", a, "<iq from='"+testRoom+"/second' id='*' to='"+alice+"' type='set'><command xmlns='urn:example'/></iq>")
	f.send("<iq type='error' id='" + id + "' from='" + alice + "' to='" + testRoom + "/second'><error type='cancel' by='" + alice + "'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>")
	wantStanzas(t, "bob", b.take(),
		"<iq from='"+testRoom+"/first' id='s1' to='"+bob+"' type='error'><error by='"+testRoom+"/first' type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>")

	// A vCard request goes to the occupant's bare JID, where vCards live,
	// and the answer from there comes back.
	f.send("<iq type='get' id='vc' from='" + bob + "' to='" + testRoom + "/first'><vCard xmlns='vcard-temp'/></iq>")
	id = relayedID(t, "alice", a, "<iq from='"+testRoom+"/second' id='*' to='alice@example.com' type='get'><vCard xmlns='vcard-temp'/></iq>")
	f.send("<iq type='result' id='" + id + "' from='alice@example.com' to='" + testRoom + "/second'><vCard xmlns='vcard-temp'><NICKNAME>A</NICKNAME></vCard></iq>")
	wantStanzas(t, "bob", b.take(),
		"<iq from='"+testRoom+"/first' id='vc' to='"+bob+"' type='result'><vCard xmlns='vcard-temp'><NICKNAME>A</NICKNAME></vCard></iq>")

	// The answer is dropped if the asker left meanwhile.
	f.send("<iq type='get' id='v2' from='" + bob + "' to='" + testRoom + "/first'><query xmlns='jabber:iq:version'/></iq>")
	id = relayedID(t, "alice", a, "<iq from='"+testRoom+"/second' id='*' to='"+alice+"' type='get'><query xmlns='jabber:iq:version'/></iq>")
	f.send("<presence type='unavailable' from='" + bob + "' to='" + testRoom + "/second'/>")
	f.drainAll()
	f.send("<iq type='result' id='" + id + "' from='" + alice + "' to='" + testRoom + "/second'/>")
	wantStanzas(t, "bob", b.take())
}

func TestIQRelayErrors(t *testing.T) {
	f, _ := relayFixture(t)
	errIQ := func(to, from, id, typ, cond string) string {
		return "<iq from='" + from + "' id='" + id + "' to='" + to + "' type='error'><error by='" + testRoom + "' type='" + typ + "'><" + cond + " xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"
	}
	cases := []struct{ name, from, to, payload, want string }{
		{"non-occupant disco (§6.7)", carol, testRoom + "/first", "<query xmlns='" + NSDiscoInfo + "'/>",
			errIQ(carol, testRoom+"/first", "e", "modify", "bad-request")},
		{"non-occupant, other iq", carol, testRoom + "/first", "<query xmlns='jabber:iq:version'/>",
			errIQ(carol, testRoom+"/first", "e", "cancel", "not-acceptable")},
		{"non-occupant, unknown nick: nothing revealed", carol, testRoom + "/ghost", "<query xmlns='jabber:iq:version'/>",
			errIQ(carol, testRoom+"/ghost", "e", "cancel", "not-acceptable")},
		{"occupant, unknown nick", bob, testRoom + "/ghost", "<query xmlns='jabber:iq:version'/>",
			errIQ(bob, testRoom+"/ghost", "e", "cancel", "item-not-found")},
		{"two payloads", bob, testRoom + "/first", "<a xmlns='urn:a'/><b xmlns='urn:b'/>",
			"<iq from='" + testRoom + "/first' id='e' to='" + bob + "' type='error'><error type='modify'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>an iq get or set carries exactly one payload</text></error></iq>"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f.send("<iq type='get' id='e' from='" + tc.from + "' to='" + tc.to + "'>" + tc.payload + "</iq>")
			wantStanzas(t, tc.from, f.user(tc.from).take(), tc.want)
			wantStanzas(t, "alice", f.user(alice).take())
		})
	}
	// Results and errors nobody asked for are consumed silently.
	f.send("<iq type='result' id='nobody' from='" + alice + "' to='" + testRoom + "/second'/>")
	wantStanzas(t, "bob", f.user(bob).take())
	wantStanzas(t, "alice", f.user(alice).take())
}

func TestIQRelayTimeoutAndBounds(t *testing.T) {
	f, now := relayFixture(t)
	a, b := f.user(alice), f.user(bob)
	f.send("<iq type='get' id='t1' from='" + bob + "' to='" + testRoom + "/first'><query xmlns='jabber:iq:version'/></iq>")
	id := relayedID(t, "alice", a, "<iq from='"+testRoom+"/second' id='*' to='"+alice+"' type='get'><query xmlns='jabber:iq:version'/></iq>")
	// Not yet due: nothing happens.
	now.Add(int64(relayTimeout - time.Second))
	f.inRoom(testRoom, func(r *room) { r.expireRelays(context.Background()) })
	wantStanzas(t, "bob", b.take())
	// Due: bob is told, and a late answer is dropped.
	now.Add(int64(2 * time.Second))
	f.inRoom(testRoom, func(r *room) { r.expireRelays(context.Background()) })
	wantStanzas(t, "bob", b.take(),
		"<iq from='"+testRoom+"/first' id='t1' to='"+bob+"' type='error'><error by='"+testRoom+"' type='wait'><remote-server-timeout xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>")
	f.send("<iq type='result' id='" + id + "' from='" + alice + "' to='" + testRoom + "/second'/>")
	wantStanzas(t, "bob", b.take())
	f.inRoom(testRoom, func(r *room) {
		if len(r.relays.byID) != 0 || len(r.relays.bySender) != 0 {
			t.Errorf("relay table not empty: %d, %v", len(r.relays.byID), r.relays.bySender)
		}
	})

	// One sender may have relayMaxPerSender relays pending; then
	// resource-constraint.
	for i := range relayMaxPerSender {
		f.send("<iq type='get' id='p" + strconv.Itoa(i) + "' from='" + bob + "' to='" + testRoom + "/first'><ping xmlns='urn:xmpp:ping'/></iq>")
	}
	if got := a.take(); len(got) != relayMaxPerSender {
		t.Fatalf("alice got %d relayed pings, want %d", len(got), relayMaxPerSender)
	}
	f.send("<iq type='get' id='over' from='" + bob + "' to='" + testRoom + "/first'><ping xmlns='urn:xmpp:ping'/></iq>")
	wantStanzas(t, "bob", b.take(),
		"<iq from='"+testRoom+"/first' id='over' to='"+bob+"' type='error'><error by='"+testRoom+"' type='wait'><resource-constraint xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>")
	wantStanzas(t, "alice", a.take())
	// Others are not starved by bob: alice can still ask bob.
	f.send("<iq type='get' id='ap' from='" + alice + "' to='" + testRoom + "/second'><ping xmlns='urn:xmpp:ping'/></iq>")
	if got := b.take(); len(got) != 1 {
		t.Fatalf("bob got %q", got)
	}
	// Expired relays make room again without waiting for the timer.
	now.Add(int64(2 * relayTimeout))
	f.send("<iq type='get' id='again' from='" + bob + "' to='" + testRoom + "/first'><ping xmlns='urn:xmpp:ping'/></iq>")
	got := b.take()
	if len(got) != relayMaxPerSender {
		t.Fatalf("bob got %d timeouts, want %d", len(got), relayMaxPerSender)
	}
	// alice's own relay expired too; then bob's new ping reaches her.
	wantStanzas(t, "alice", a.take(),
		"<iq from='"+testRoom+"/second' id='ap' to='"+alice+"' type='error'><error by='"+testRoom+"' type='wait'><remote-server-timeout xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>",
		"<iq from='"+testRoom+"/second' id='*' to='"+alice+"' type='get'><ping xmlns='urn:xmpp:ping'/></iq>")
}
