package muc

import (
	"strings"
	"testing"
)

// twoInRoom: alice (owner, "first") and bob ("second") in an unlocked room.
func twoInRoom(t *testing.T, fields ...string) *fixture {
	f := newFixture(t, nil)
	f.createInstant(alice, "first", fields...)
	f.join(bob, "second")
	f.drainAll()
	return f
}

func TestNickChange(t *testing.T) {
	f := twoInRoom(t)
	f.send("<presence id='n1' from='" + bob + "' to='" + testRoom + "/oldhag'/>")
	// §7.6: unavailable with the new nick and 303, then available; self with 110.
	wantStanzas(t, "alice", f.user(alice).take(),
		pres(testRoom+"/second", alice, "", "unavailable", userX(item("none", "participant", bob, "oldhag"), "303")),
		pres(testRoom+"/oldhag", alice, "n1", "", userX(item("none", "participant", bob))))
	wantStanzas(t, "bob", f.user(bob).take(),
		pres(testRoom+"/second", bob, "", "unavailable", userX(item("none", "participant", bob, "oldhag"), "110", "303")),
		pres(testRoom+"/oldhag", bob, "n1", "", userX(item("none", "participant", bob), "110")))

	// Conflict: the error comes from the current occupant JID.
	f.send("<presence id='n2' from='" + bob + "' to='" + testRoom + "/first'/>")
	wantStanzas(t, "bob", f.user(bob).take(),
		"<presence from='"+testRoom+"/oldhag' id='n2' to='"+bob+"' type='error'>"+
			"<error by='"+testRoom+"' type='cancel'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></presence>")
	wantStanzas(t, "alice", f.user(alice).take())

	// Messages now come from the new nick.
	f.send("<message id='m' type='groupchat' from='" + bob + "' to='" + testRoom + "'><body>hi</body></message>")
	if got := f.user(alice).take(); len(got) != 1 || !strings.Contains(got[0], "from='"+testRoom+"/oldhag'") {
		t.Fatalf("after nick change: %q", got)
	}
}

func TestExitAndAvailability(t *testing.T) {
	f := twoInRoom(t)
	// §7.7: a presence change is reflected to everyone.
	f.send("<presence id='a1' from='" + bob + "' to='" + testRoom + "/second'><show>xa</show><status>gone</status></presence>")
	wantStanzas(t, "alice", f.user(alice).take(),
		pres(testRoom+"/second", alice, "a1", "", "<show>xa</show><status>gone</status>"+userX(item("none", "participant", bob))))
	wantStanzas(t, "bob", f.user(bob).take(),
		pres(testRoom+"/second", bob, "a1", "", "<show>xa</show><status>gone</status>"+userX(item("none", "participant", bob), "110")))

	// §7.14: exit with a custom status; role none; 110 to self.
	f.send("<presence type='unavailable' from='" + bob + "' to='" + testRoom + "/second'><status>bye</status></presence>")
	wantStanzas(t, "alice", f.user(alice).take(),
		pres(testRoom+"/second", alice, "", "unavailable", "<status>bye</status>"+userX(item("none", "none", bob))))
	wantStanzas(t, "bob", f.user(bob).take(),
		pres(testRoom+"/second", bob, "", "unavailable", "<status>bye</status>"+userX(item("none", "none", bob), "110")))

	// Unavailable from a non-occupant is ignored (§17.3 rule 5).
	f.send("<presence type='unavailable' from='" + bob + "' to='" + testRoom + "/second'/>")
	wantStanzas(t, "bob", f.user(bob).take())
	wantStanzas(t, "alice", f.user(alice).take())
}

func TestPresenceWithoutMUCFromNonOccupantIsKicked(t *testing.T) {
	f := twoInRoom(t)
	c := f.user(carol)
	f.send("<presence from='" + carol + "' to='" + testRoom + "/third'/>")
	wantStanzas(t, "carol", c.take(),
		"<presence from='"+testRoom+"/third' to='"+carol+"' type='unavailable'><x xmlns='"+NSMUCUser+"'>"+
			"<item affiliation='none' role='none'><reason>You are not in the room.</reason></item>"+
			"<status code='110'/><status code='307'/><status code='333'/></x></presence>")
	wantStanzas(t, "alice", f.user(alice).take())
}

func TestMultiSessionNick(t *testing.T) {
	f := twoInRoom(t)
	bob2 := "bob@example.com/laptop"
	got := f.join(bob2, "second")
	// The second session gets the full sequence; alice sees bob's presence
	// from the new session; bob's first session hears it as self.
	if len(got) != 3 || !strings.Contains(got[1], "<status code='110'/>") {
		t.Fatalf("second session: %q", got)
	}
	wantStanzas(t, "alice", f.user(alice).take(),
		pres(testRoom+"/second", alice, "", "", userX(item("none", "participant", bob2))))
	wantStanzas(t, "bob", f.user(bob).take(),
		pres(testRoom+"/second", bob, "", "", userX(item("none", "participant", bob2), "110")))
	// Both sessions get groupchat.
	f.send("<message id='m' type='groupchat' from='" + alice + "' to='" + testRoom + "'><body>hi</body></message>")
	if len(f.user(bob).take()) != 1 || len(f.user(bob2).take()) != 1 {
		t.Fatal("a session of a multi-session nick missed a message")
	}
	f.user(alice).take()
	// One session leaves: it alone gets unavailable; the occupant stays.
	f.send("<presence type='unavailable' from='" + bob2 + "' to='" + testRoom + "/second'/>")
	wantStanzas(t, "bob2", f.user(bob2).take(),
		pres(testRoom+"/second", bob2, "", "unavailable", userX(item("none", "none", bob2), "110")))
	wantStanzas(t, "alice", f.user(alice).take(),
		pres(testRoom+"/second", alice, "", "", userX(item("none", "participant", bob))))
	f.inRoom(testRoom, func(r *room) {
		if o := r.occupants["second"]; o == nil || len(o.sessions) != 1 {
			t.Error("occupant lost with one of its sessions")
		}
	})
}

func TestGhostRemovedOnDeliveryError(t *testing.T) {
	f := twoInRoom(t)
	f.send("<message type='error' from='" + bob + "' to='" + testRoom + "'><error type='cancel'><recipient-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>")
	wantStanzas(t, "alice", f.user(alice).take(),
		pres(testRoom+"/second", alice, "", "unavailable", userX(item("none", "none", bob), "333")))
}

func TestSilentRolesPresenceBroadcast(t *testing.T) {
	f := newFixture(t, nil)
	f.createInstant(alice, "first", fieldPresenceBcast, "moderator")
	got := f.join(bob, "second")
	// bob (participant) hears alice (moderator) and himself; alice hears nothing.
	if len(got) != 3 {
		t.Fatalf("bob: %q", got)
	}
	wantStanzas(t, "alice", f.user(alice).take())
	f.send("<presence type='unavailable' from='" + bob + "' to='" + testRoom + "/second'/>")
	wantStanzas(t, "alice", f.user(alice).take())
	if got := f.user(bob).take(); len(got) != 1 {
		t.Fatalf("bob's exit: %q", got)
	}
}
