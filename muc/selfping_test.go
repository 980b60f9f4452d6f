package muc

import "testing"

func TestSelfPing(t *testing.T) {
	f := twoInRoom(t)
	bobLaptop := "bob@example.com/laptop"
	f.user(carol)
	f.user(bobLaptop)
	ping := func(from, nick, id string) {
		f.send("<iq type='get' id='" + id + "' from='" + from + "' to='" + testRoom + "/" + nick + "'><ping xmlns='urn:xmpp:ping'/></iq>")
	}
	notAcceptable := func(to, nick, id string) string {
		return "<iq from='" + testRoom + "/" + nick + "' id='" + id + "' to='" + to + "' type='error'>" +
			"<error by='" + testRoom + "' type='cancel'><not-acceptable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"
	}
	// Joined under that nick: the room answers itself (§3.3).
	ping(bob, "second", "s2c1")
	wantStanzas(t, "bob", f.user(bob).take(),
		"<iq from='"+testRoom+"/second' id='s2c1' to='"+bob+"' type='result'/>")
	wantStanzas(t, "alice", f.user(alice).take())
	// Not joined (§3.2), whatever nick is named, even an occupant's own
	// from another resource of the same user.
	ping(carol, "third", "c1")
	wantStanzas(t, "carol", f.user(carol).take(), notAcceptable(carol, "third", "c1"))
	ping(carol, "second", "c2")
	wantStanzas(t, "carol", f.user(carol).take(), notAcceptable(carol, "second", "c2"))
	ping(bobLaptop, "second", "l1")
	wantStanzas(t, "bob's laptop", f.user(bobLaptop).take(), notAcceptable(bobLaptop, "second", "l1"))
	// After leaving, the nick is not the sender's any more.
	f.send("<presence type='unavailable' from='" + bob + "' to='" + testRoom + "/second'/>")
	f.drainAll()
	ping(bob, "second", "s2c2")
	wantStanzas(t, "bob", f.user(bob).take(), notAcceptable(bob, "second", "s2c2"))
	// A multi-session occupant: every joined resource gets a result.
	f.join(bob, "second")
	f.join(bobLaptop, "second")
	f.drainAll()
	ping(bobLaptop, "second", "l2")
	wantStanzas(t, "bob's laptop", f.user(bobLaptop).take(),
		"<iq from='"+testRoom+"/second' id='l2' to='"+bobLaptop+"' type='result'/>")
	wantStanzas(t, "bob", f.user(bob).take())
	// A ping to someone else's nick is relayed to them, not answered.
	ping(bob, "first", "other")
	if got := f.user(alice).take(); len(got) != 1 || got[0] != "<iq from='"+testRoom+"/second' id='*' to='"+alice+"' type='get'><ping xmlns='urn:xmpp:ping'/></iq>" {
		t.Fatalf("relayed ping: %q", got)
	}
	wantStanzas(t, "bob", f.user(bob).take())
}
