package im

import (
	"testing"
)

// presenceFixture: alice with bob (both, local), carol@remote.test (to),
// dave@remote.test (from); bob is online and available.
func presenceFixture(t *testing.T) (*imFixture, *fakeSession) {
	t.Helper()
	f := newIMFixture(t)
	f.account("alice")
	f.account("bob")
	putRoster(t, f, "alice@example.com", &rosterDoc{Epoch: "e", Seq: 1, Items: map[string]*rosterItem{
		"bob@example.com":   {JID: "bob@example.com", To: true, From: true},
		"carol@remote.test": {JID: "carol@remote.test", To: true},
		"dave@remote.test":  {JID: "dave@remote.test", From: true},
	}})
	putRoster(t, f, "bob@example.com", &rosterDoc{Epoch: "b", Seq: 1, Items: map[string]*rosterItem{
		"alice@example.com": {JID: "alice@example.com", To: true, From: true},
	}})
	b := f.login("bob@example.com/b")
	f.client(b, `<presence><show>chat</show></presence>`)
	b.take()
	f.takeRemote()
	return f, b
}

func TestInitialPresenceBroadcastAndProbes(t *testing.T) {
	f, b := presenceFixture(t)
	a := f.login("alice@example.com/a")
	f.client(a, `<presence><priority>5</priority></presence>`)

	// §4.2.2: to subscribers (from/both); §4.3.1: probes to to/both, from the bare JID.
	expectXML(t, "remote", f.takeRemote(),
		`<presence from='alice@example.com/a' to='dave@remote.test'><priority>5</priority></presence>`,
		`<presence type='probe' from='alice@example.com' to='carol@remote.test'/>`)
	expectXML(t, "bob", b.take(),
		`<presence from='alice@example.com/a' to='bob@example.com'><priority>5</priority></presence>`)
	// Her own presence, then bob's answer to the probe (§4.3.2).
	expectXML(t, "alice/a", a.take(),
		`<presence from='alice@example.com/a' to='alice@example.com/a'><priority>5</priority></presence>`,
		`<presence from='bob@example.com/b' to='alice@example.com'><show>chat</show></presence>`)
	if res, _ := f.router.Lookup(a.jid); !res.Available || res.Priority != 5 || res.Presence == nil {
		t.Fatalf("resource state %+v", res)
	}

	// Subsequent presence (§4.4.2): broadcast again, no probes.
	f.client(a, `<presence><show>away</show></presence>`)
	expectXML(t, "remote", f.takeRemote(),
		`<presence from='alice@example.com/a' to='dave@remote.test'><show>away</show></presence>`)
	expectXML(t, "bob", b.take(), `<presence from='alice@example.com/a' to='bob@example.com'><show>away</show></presence>`)
	expectXML(t, "alice/a", a.take(), `<presence from='alice@example.com/a' to='alice@example.com/a'><show>away</show></presence>`)
}

func TestOwnResourcesSeeEachOther(t *testing.T) {
	f := newIMFixture(t)
	f.account("alice")
	a1 := f.login("alice@example.com/one")
	a2 := f.login("alice@example.com/two")
	f.client(a1, `<presence><status>first</status></presence>`)
	expectXML(t, "one", a1.take(), `<presence from='alice@example.com/one' to='alice@example.com/one'><status>first</status></presence>`)
	expectNothing(t, a2) // not available: gets no presence
	f.client(a2, `<presence/>`)
	expectXML(t, "one", a1.take(), `<presence from='alice@example.com/two' to='alice@example.com/one'/>`)
	expectXML(t, "two", a2.take(),
		`<presence from='alice@example.com/two' to='alice@example.com/two'/>`,
		`<presence from='alice@example.com/one' to='alice@example.com/two'><status>first</status></presence>`)
}

func TestProbeAnswers(t *testing.T) {
	f, _ := presenceFixture(t)
	// Not subscribed: unsubscribed (§4.3.2).
	f.route(`<presence type='probe' from='stranger@remote.test' to='alice@example.com'/>`)
	expectXML(t, "remote", f.takeRemote(), `<presence type='unsubscribed' from='alice@example.com' to='stranger@remote.test'/>`)
	// Subscribed, alice offline: unavailable.
	f.route(`<presence type='probe' from='dave@remote.test' to='alice@example.com'/>`)
	expectXML(t, "remote", f.takeRemote(), `<presence type='unavailable' from='alice@example.com' to='dave@remote.test'/>`)
	// Subscribed (to a full JID too), alice online twice: each resource's last presence.
	a1 := f.login("alice@example.com/one")
	a2 := f.login("alice@example.com/two")
	f.login("alice@example.com/three") // connected, not available
	f.client(a1, `<presence><show>dnd</show></presence>`)
	f.client(a2, `<presence><priority>-1</priority></presence>`)
	f.takeRemote()
	f.route(`<presence type='probe' from='dave@remote.test' to='alice@example.com/one'/>`)
	expectXML(t, "remote", f.takeRemote(),
		`<presence from='alice@example.com/one' to='dave@remote.test'><show>dnd</show></presence>`,
		`<presence from='alice@example.com/two' to='dave@remote.test'><priority>-1</priority></presence>`)
	// Carol is someone alice subscribes to, not a subscriber: unsubscribed.
	f.route(`<presence type='probe' from='carol@remote.test' to='alice@example.com'/>`)
	expectXML(t, "remote", f.takeRemote(), `<presence type='unsubscribed' from='alice@example.com' to='carol@remote.test'/>`)
	// A stranger that asked to subscribe is not told 'unsubscribed' (it would cancel its request).
	f.route(`<presence type='subscribe' from='frank@remote.test' to='alice@example.com'/>`)
	f.route(`<presence type='probe' from='frank@remote.test' to='alice@example.com'/>`)
	expectXML(t, "remote", f.takeRemote())
	// No such user (§8.5.1).
	f.route(`<presence type='probe' from='dave@remote.test' to='nobody@example.com'/>`)
	expectXML(t, "remote", f.takeRemote(), `<presence type='unsubscribed' from='nobody@example.com' to='dave@remote.test'/>`)
}

func TestUnavailableOnSessionEnd(t *testing.T) {
	f, b := presenceFixture(t)
	a1 := f.login("alice@example.com/one")
	a2 := f.login("alice@example.com/two")
	f.client(a1, `<presence/>`)
	f.client(a2, `<presence/>`)
	// Directed presence (§4.6.2) to a room occupant JID and a stranger.
	f.client(a1, `<presence to='room@conference.remote.test/alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>`)
	f.client(a1, `<presence to='eve@remote.test'/>`)
	f.client(a1, `<presence to='ivan@remote.test'/>`)
	f.client(a1, `<presence type='unavailable' to='ivan@remote.test'/>`)
	expectXML(t, "remote", f.takeRemote()[4:], // after the two initial broadcasts and probes
		`<presence from='alice@example.com/one' to='room@conference.remote.test/alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>`,
		`<presence from='alice@example.com/one' to='eve@remote.test'/>`,
		`<presence from='alice@example.com/one' to='ivan@remote.test'/>`,
		`<presence type='unavailable' from='alice@example.com/one' to='ivan@remote.test'/>`)
	a2.take()
	b.take()

	f.logout(a1)
	expectXML(t, "remote", f.takeRemote(),
		`<presence type='unavailable' from='alice@example.com/one' to='dave@remote.test'/>`,
		`<presence type='unavailable' from='alice@example.com/one' to='eve@remote.test'/>`,
		`<presence type='unavailable' from='alice@example.com/one' to='room@conference.remote.test/alice'/>`)
	expectXML(t, "bob", b.take(), `<presence type='unavailable' from='alice@example.com/one' to='bob@example.com'/>`)
	expectXML(t, "alice/two", a2.take(), `<presence type='unavailable' from='alice@example.com/one' to='alice@example.com/two'/>`)

	// A session that never became available: only its directed targets.
	a3 := f.login("alice@example.com/three")
	f.client(a3, `<presence to='room2@conference.remote.test/al'/>`)
	f.takeRemote()
	f.logout(a3)
	expectXML(t, "remote", f.takeRemote(), `<presence type='unavailable' from='alice@example.com/three' to='room2@conference.remote.test/al'/>`)
	expectNothing(t, b, a2)
}

func TestExplicitUnavailable(t *testing.T) {
	f, b := presenceFixture(t)
	a1 := f.login("alice@example.com/one")
	a2 := f.login("alice@example.com/two")
	f.client(a1, `<presence/>`)
	f.client(a2, `<presence/>`)
	f.client(a1, `<presence to='eve@remote.test'/>`)
	f.takeRemote()
	a1.take()
	a2.take()
	b.take()
	f.client(a1, `<presence type='unavailable'><status>bye</status></presence>`)
	expectXML(t, "remote", f.takeRemote(),
		`<presence type='unavailable' from='alice@example.com/one' to='dave@remote.test'><status>bye</status></presence>`,
		`<presence type='unavailable' from='alice@example.com/one' to='eve@remote.test'><status>bye</status></presence>`)
	expectXML(t, "bob", b.take(), `<presence type='unavailable' from='alice@example.com/one' to='bob@example.com'><status>bye</status></presence>`)
	expectXML(t, "two", a2.take(), `<presence type='unavailable' from='alice@example.com/one' to='alice@example.com/two'><status>bye</status></presence>`)
	expectNothing(t, a1)
	if res, _ := f.router.Lookup(a1.jid); res.Available || res.Presence != nil {
		t.Fatalf("still available: %+v", res)
	}
	// Ending the session now sends nothing more: it was unavailable and
	// its directed targets were told already.
	f.logout(a1)
	expectXML(t, "remote", f.takeRemote())
	expectNothing(t, b, a2)
}

func TestSubsequentPresenceSkipsDirectedTargets(t *testing.T) {
	f := newIMFixture(t)
	f.account("alice")
	a := f.login("alice@example.com/a")
	f.client(a, `<presence/>`)
	f.client(a, `<presence to='eve@remote.test'/>`)
	f.takeRemote()
	f.client(a, `<presence><show>xa</show></presence>`)
	expectXML(t, "remote", f.takeRemote())
}

func TestPresenceErrors(t *testing.T) {
	f := newIMFixture(t)
	f.account("alice")
	a := f.login("alice@example.com/a")
	for i, raw := range []string{
		`<presence id='p0' type='invisible'/>`,
		`<presence id='p1'><priority>128</priority></presence>`,
		`<presence id='p2'><priority>high</priority></presence>`,
	} {
		f.client(a, raw)
		id := []string{"p0", "p1", "p2"}[i]
		expectError(t, a, "presence", id, "", "modify", "bad-request")
	}
	if res, _ := f.router.Lookup(a.jid); res.Available {
		t.Fatal("an invalid presence made the resource available")
	}
	f.client(a, `<presence to='a@b@c'/>`)
	expectError(t, a, "presence", "", "a@b@c", "modify", "jid-malformed")
}

func TestAnonymousPresence(t *testing.T) {
	f := newIMFixture(t)
	a := f.login("x1@anon.example.com/r")
	f.client(a, `<presence/>`)
	expectXML(t, "anon", a.take(), `<presence from='x1@anon.example.com/r' to='x1@anon.example.com/r'/>`)
	expectXML(t, "remote", f.takeRemote())
	f.client(a, `<presence to='room@conference.remote.test/x'/>`)
	expectXML(t, "remote", f.takeRemote(), `<presence from='x1@anon.example.com/r' to='room@conference.remote.test/x'/>`)
	f.logout(a)
	expectXML(t, "remote", f.takeRemote(), `<presence type='unavailable' from='x1@anon.example.com/r' to='room@conference.remote.test/x'/>`)
}

func TestDirectedPresenceBounded(t *testing.T) {
	var p presenceState
	sess := newFakeSession("a@example.com/r")
	for i := range MaxDirectedPresence {
		if !p.addDirected(sess, string(rune('a'+i%26))+string(rune(i))) {
			t.Fatalf("add %d refused", i)
		}
	}
	if p.addDirected(sess, "one-too-many@x") {
		t.Fatal("the set grew past its bound")
	}
	if got := len(p.takeDirected(sess)); got != MaxDirectedPresence {
		t.Fatalf("took %d", got)
	}
	if len(p.directed) != 0 {
		t.Fatal("takeDirected left state behind")
	}
}

func TestForgetSessionDropsDirectedState(t *testing.T) {
	f := newIMFixture(t)
	f.account("alice")
	a := f.login("alice@example.com/a")
	f.client(a, `<presence to='room@conference.remote.test/al'/>`)
	f.takeRemote()
	f.srv.forgetSession(a)
	if len(f.srv.state.presence.directed) != 0 {
		t.Fatal("directed presence state left behind")
	}
	f.logout(a)
	expectXML(t, "remote", f.takeRemote())
}

func TestClientProbeStampedBare(t *testing.T) {
	f, b := presenceFixture(t)
	a := f.login("alice@example.com/a")
	f.client(a, `<presence type='probe' id='pr' to='carol@remote.test/x'/>`)
	expectXML(t, "remote", f.takeRemote(), `<presence type='probe' id='pr' from='alice@example.com' to='carol@remote.test'/>`)
	// A local probe is answered inline with bob's presence, to alice's bare JID.
	f.client(a, `<presence/>`)
	a.take()
	f.client(a, `<presence type='probe' to='bob@example.com'/>`)
	expectXML(t, "alice/a", a.take(), `<presence from='bob@example.com/b' to='alice@example.com'><show>chat</show></presence>`)
	b.take()
}
