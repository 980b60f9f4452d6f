package muc

import (
	"strings"
	"testing"
)

const (
	alice = "alice@example.com/desk"
	bob   = "bob@example.com/phone"
	carol = "carol@example.com/tab"
)

func TestCreateInstantRoomAndJoinOrder(t *testing.T) {
	f := newFixture(t, nil)
	// Creation (§10.1.1): self-presence with 110 and 201, then the empty subject.
	got := f.join(alice, "first")
	wantStanzas(t, "alice", got,
		pres(testRoom+"/first", alice, "", "", userX(item("owner", "moderator", alice), "110", "201")),
		emptySubject(alice))

	// Locked until configured (§7.2.11).
	bobS := f.user(bob)
	f.send("<presence id='j1' from='" + bob + "' to='" + testRoom + "/second'><x xmlns='" + NSMUC + "'/></presence>")
	wantStanzas(t, "bob", bobS.take(),
		"<presence from='"+testRoom+"/second' id='j1' to='"+bob+"' type='error'><x xmlns='"+NSMUC+"'/>"+
			"<error by='"+testRoom+"' type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></presence>")

	// Instant room (§10.1.2): an empty submit unlocks it.
	f.send("<iq type='set' id='c1' from='" + alice + "' to='" + testRoom + "'><query xmlns='" + NSMUCOwner + "'><x xmlns='jabber:x:data' type='submit'/></query></iq>")
	wantStanzas(t, "alice", f.user(alice).take(), "<iq from='"+testRoom+"' id='c1' to='"+alice+"' type='result'/>")

	// bob enters: alice's presence (no jid: semi-anonymous, bob is no
	// moderator), his self-presence, the subject. alice sees his real JID.
	f.send("<presence id='j2' from='" + bob + "' to='" + testRoom + "/second'><x xmlns='" + NSMUC + "'/></presence>")
	wantStanzas(t, "bob", bobS.take(),
		pres(testRoom+"/first", bob, "", "", userX(item("owner", "moderator"))),
		pres(testRoom+"/second", bob, "j2", "", userX(item("none", "participant", bob), "110")),
		emptySubject(bob))
	wantStanzas(t, "alice", f.user(alice).take(),
		pres(testRoom+"/second", alice, "j2", "", userX(item("none", "participant", bob))))

	// carol: presences in join order, then self.
	got = f.join(carol, "third")
	wantStanzas(t, "carol", got,
		pres(testRoom+"/first", carol, "", "", userX(item("owner", "moderator"))),
		pres(testRoom+"/second", carol, "", "", userX(item("none", "participant"))),
		pres(testRoom+"/third", carol, "", "", userX(item("none", "participant", carol), "110")),
		emptySubject(carol))
	wantStanzas(t, "bob", bobS.take(), pres(testRoom+"/third", bob, "", "", userX(item("none", "participant"))))
}

func TestJoinNonAnonymousAndLoggedStatusCodes(t *testing.T) {
	f := newFixture(t, nil)
	f.createInstant(alice, "first", fieldWhois, WhoisAnyone, fieldLogging, "1")
	got := f.join(bob, "second")
	wantStanzas(t, "bob", got,
		pres(testRoom+"/first", bob, "", "", userX(item("owner", "moderator", alice))),
		pres(testRoom+"/second", bob, "", "", userX(item("none", "participant", bob), "100", "110", "170")),
		emptySubject(bob))
}

func TestJoinErrors(t *testing.T) {
	errPresence := func(nick, typ, cond string) string {
		return "<presence from='" + testRoom + "/" + nick + "' id='e' to='" + bob + "' type='error'><x xmlns='" + NSMUC + "'/>" +
			"<error by='" + testRoom + "' type='" + typ + "'><" + cond + " xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></presence>"
	}
	cases := []struct {
		name  string
		setup func(f *fixture)
		nick  string
		x     string // inside <x xmlns=muc>
		want  string
	}{
		{"nickname conflict", func(f *fixture) { f.join(carol, "taken") }, "taken", "",
			errPresence("taken", "cancel", "conflict")},
		{"nick reserved by a member", func(f *fixture) {
			f.inRoom(testRoom, func(r *room) {
				_ = r.setAffiliation("carol@example.com", affEntry{Affiliation: AffMember, Nick: "reserved"})
			})
		}, "reserved", "", errPresence("reserved", "cancel", "conflict")},
		{"banned", func(f *fixture) {
			f.inRoom(testRoom, func(r *room) { _ = r.setAffiliation("bob@example.com", affEntry{Affiliation: AffOutcast}) })
		}, "second", "", errPresence("second", "auth", "forbidden")},
		{"members-only", func(f *fixture) {
			f.inRoom(testRoom, func(r *room) { r.cfg.MembersOnly = true })
		}, "second", "", errPresence("second", "auth", "registration-required")},
		{"password missing", func(f *fixture) {
			f.inRoom(testRoom, func(r *room) { r.cfg.PasswordProtected, r.cfg.Password = true, "cauldron" })
		}, "second", "", errPresence("second", "auth", "not-authorized")},
		{"max users", func(f *fixture) {
			f.inRoom(testRoom, func(r *room) { r.cfg.MaxUsers = 2 })
			f.join(carol, "third")
		}, "second", "", errPresence("second", "wait", "service-unavailable")},
		{"reserved nick enforced", func(f *fixture) {
			f.inRoom(testRoom, func(r *room) {
				r.cfg.EnforceReservedNick = true
				_ = r.setAffiliation("bob@example.com", affEntry{Affiliation: AffMember, Nick: "bobby"})
			})
		}, "second", "", errPresence("second", "cancel", "not-acceptable")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, nil)
			f.createInstant(alice, "first")
			c.setup(f)
			f.drainAll()
			b := f.user(bob)
			f.send("<presence id='e' from='" + bob + "' to='" + testRoom + "/" + c.nick + "'><x xmlns='" + NSMUC + "'>" + c.x + "</x></presence>")
			wantStanzas(t, "bob", b.take(), c.want)
			wantStanzas(t, "alice", f.user(alice).take()) // nobody heard of it
			f.inRoom(testRoom, func(r *room) {
				if r.sessions[bob] != nil {
					t.Error("refused user is in the room")
				}
			})
		})
	}
}

func TestJoinPasswordAccepted(t *testing.T) {
	f := newFixture(t, nil)
	f.createInstant(alice, "first", fieldPasswordOn, "1", fieldSecret, "cauldron")
	got := f.join(bob, "second")
	if len(got) != 1 {
		t.Fatalf("without password: %q", got)
	}
	b := f.user(bob)
	f.send("<presence from='" + bob + "' to='" + testRoom + "/second'><x xmlns='" + NSMUC + "'><password>cauldron</password></x></presence>")
	got = b.take()
	if len(got) != 3 || !strings.Contains(got[1], "<status code='110'/>") {
		t.Fatalf("with password: %q", got)
	}
}

func TestJoinWithoutNickIsJIDMalformed(t *testing.T) {
	f := newFixture(t, nil)
	f.createInstant(alice, "first")
	b := f.user(bob)
	f.send("<presence id='n' from='" + bob + "' to='" + testRoom + "'><x xmlns='" + NSMUC + "'/></presence>")
	wantStanzas(t, "bob", b.take(),
		"<presence from='"+testRoom+"' id='n' to='"+bob+"' type='error'><x xmlns='"+NSMUC+"'/>"+
			"<error by='"+testRoom+"' type='modify'><jid-malformed xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></presence>")
}

func TestRoomCreationPolicy(t *testing.T) {
	remote := "eve@elsewhere.test/x"
	f := newFixture(t, nil)
	// A remote user may not create rooms under CreateLocalUsers.
	f.router.HandleDomain("elsewhere.test", localDelivery{f.router}, true)
	got := f.join(remote, "eve")
	wantStanzas(t, "eve", got,
		"<presence from='"+testRoom+"/eve' to='"+remote+"' type='error'><x xmlns='"+NSMUC+"'/>"+
			"<error by='"+testRoom+"' type='cancel'><not-allowed xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></presence>")

	// Max rooms per user.
	f2 := newFixture(t, func(o *Options) { o.MaxRoomsPerUser = 1 })
	f2.createInstant(alice, "first")
	s := f2.user(alice)
	f2.send("<presence from='" + alice + "' to='other@" + testService + "/first'><x xmlns='" + NSMUC + "'/></presence>")
	got = s.take()
	if len(got) != 1 || !strings.Contains(got[0], "<not-allowed") {
		t.Fatalf("second room: %q", got)
	}
	// Admins are exempt and act as owners.
	f3 := newFixture(t, func(o *Options) { o.Create = CreateAdmins })
	if got := f3.join(alice, "a"); !strings.Contains(got[0], "not-allowed") {
		t.Fatalf("non-admin created a room: %q", got)
	}
	got = f3.join("admin@example.com/x", "boss")
	if !strings.Contains(got[0], "<status code='201'/>") || !strings.Contains(got[0], "affiliation='owner'") {
		t.Fatalf("admin could not create: %q", got)
	}
}
