package muc

import (
	"strings"
	"testing"
)

// §8.2: the kicked occupant first (110, 307, actor, reason), then the
// moderator's result, then everyone else (307; the JID only to moderators).
func TestKick(t *testing.T) {
	f := threeInRoom(t)
	f.adminIQ("set", alice, "k1", "<item nick='second' role='none'><reason>Avaunt, you cullion!</reason></item>")
	removal := actorNick("first") + reason("Avaunt, you cullion!")
	wantStanzas(t, "bob", f.user(bob).take(),
		pres(testRoom+"/second", bob, "", "unavailable", userX(uitem("none", "none", bob, removal), "110", "307")))
	wantStanzas(t, "alice", f.user(alice).take(),
		iqResult(alice, "k1"),
		pres(testRoom+"/second", alice, "", "unavailable", userX(uitem("none", "none", bob, removal), "307")))
	wantStanzas(t, "carol", f.user(carol).take(),
		pres(testRoom+"/second", carol, "", "unavailable", userX(uitem("none", "none", "", removal), "307")))
	if f.inRoomNow("second") {
		t.Fatal("kicked occupant still in the room")
	}
	// Out of the room: its groupchat is refused, the others hear nothing.
	f.send("<message id='m' type='groupchat' from='" + bob + "' to='" + testRoom + "'><body>hi</body></message>")
	if got := f.user(bob).take(); len(got) != 1 || !strings.Contains(got[0], "<not-acceptable") {
		t.Fatalf("kicked occupant's message: %q", got)
	}
	wantStanzas(t, "carol", f.user(carol).take())
	// Kicking is not banning: it may come back.
	if got := f.join(bob, "second"); len(got) != 4 {
		t.Fatalf("rejoin after kick: %q", got)
	}
}

// Every session of a multi-session occupant is removed, and an admin not
// in the room kicks too (no <actor/> in a semi-anonymous room: its JID
// would leak).
func TestKickMultiSessionByAbsentAdmin(t *testing.T) {
	f := threeInRoom(t)
	bob2 := "bob@example.com/laptop"
	f.join(bob2, "second")
	f.setAff("dave@example.com", AffAdmin)
	f.drainAll()
	f.adminIQ("set", dave, "k", "<item nick='second' role='none'/>")
	self := pres(testRoom+"/second", bob2, "", "unavailable", userX(uitem("none", "none", bob2, ""), "110", "307"))
	wantStanzas(t, "bob2", f.user(bob2).take(), self)
	wantStanzas(t, "bob", f.user(bob).take(), strings.Replace(self, "to='"+bob2+"'", "to='"+bob+"'", 1))
	wantStanzas(t, "dave", f.user(dave).take(), iqResult(dave, "k"))
	wantStanzas(t, "carol", f.user(carol).take(),
		pres(testRoom+"/second", carol, "", "unavailable", userX(uitem("none", "none", "", ""), "307")))
	f.inRoom(testRoom, func(r *room) {
		if r.sessions[bob] != nil || r.sessions[bob2] != nil {
			t.Error("a session of the kicked occupant stayed")
		}
	})
}

// §8.3, §8.4: voice in a moderated room, with the reason in the presence.
func TestGrantAndRevokeVoice(t *testing.T) {
	f := threeInRoom(t, fieldModerated, "1")
	if f.roleOf("second") != RoleVisitor {
		t.Fatalf("bob entered a moderated room as %s", f.roleOf("second"))
	}
	f.adminIQ("set", alice, "v1", "<item nick='second' role='participant'><reason>A worthy witch indeed!</reason></item>")
	why := reason("A worthy witch indeed!")
	wantStanzas(t, "alice", f.user(alice).take(),
		iqResult(alice, "v1"),
		pres(testRoom+"/second", alice, "", "", userX(uitem("none", "participant", bob, why))))
	wantStanzas(t, "bob", f.user(bob).take(),
		pres(testRoom+"/second", bob, "", "", userX(uitem("none", "participant", bob, why), "110")))
	wantStanzas(t, "carol", f.user(carol).take(),
		pres(testRoom+"/second", carol, "", "", userX(uitem("none", "participant", "", why))))
	// Voice: bob speaks now.
	f.send("<message id='m' type='groupchat' from='" + bob + "' to='" + testRoom + "'><body>hi</body></message>")
	if got := f.user(carol).take(); len(got) != 1 || !strings.Contains(got[0], "<body>hi</body>") {
		t.Fatalf("after voice: %q", got)
	}
	f.drainAll()

	f.adminIQ("set", alice, "v2", "<item nick='second' role='visitor'/>")
	wantStanzas(t, "alice", f.user(alice).take(),
		iqResult(alice, "v2"),
		pres(testRoom+"/second", alice, "", "", userX(uitem("none", "visitor", bob, ""))))
	wantStanzas(t, "bob", f.user(bob).take(),
		pres(testRoom+"/second", bob, "", "", userX(uitem("none", "visitor", bob, ""), "110")))
	f.send("<message id='m2' type='groupchat' from='" + bob + "' to='" + testRoom + "'><body>hi</body></message>")
	if got := f.user(bob).take(); len(got) != 1 || !strings.Contains(got[0], "<forbidden") {
		t.Fatalf("visitor spoke after voice was revoked: %q", got)
	}
	// Setting the role it has changes nothing and tells nobody.
	f.drainAll()
	f.adminIQ("set", alice, "v3", "<item nick='second' role='visitor'/>")
	wantStanzas(t, "alice", f.user(alice).take(), iqResult(alice, "v3"))
	wantStanzas(t, "carol", f.user(carol).take())
}

// §9.6, §9.7: moderator status; a new moderator of a semi-anonymous room
// is sent everyone's presence again with real JIDs.
func TestGrantAndRevokeModerator(t *testing.T) {
	f := threeInRoom(t)
	f.adminIQ("set", alice, "m1", "<item nick='second' role='moderator'/>")
	wantStanzas(t, "alice", f.user(alice).take(),
		iqResult(alice, "m1"),
		pres(testRoom+"/second", alice, "", "", userX(uitem("none", "moderator", bob, ""))))
	wantStanzas(t, "bob", f.user(bob).take(),
		pres(testRoom+"/second", bob, "", "", userX(uitem("none", "moderator", bob, ""), "110")),
		pres(testRoom+"/first", bob, "", "", userX(uitem("owner", "moderator", alice, ""))),
		pres(testRoom+"/third", bob, "", "", userX(uitem("none", "participant", carol, ""))))
	wantStanzas(t, "carol", f.user(carol).take(),
		pres(testRoom+"/second", carol, "", "", userX(uitem("none", "moderator", "", ""))))

	// A moderator by role kicks participants, not its betters.
	f.adminIQ("set", bob, "m2", "<item nick='first' role='none'/>")
	wantStanzas(t, "bob", f.user(bob).take(),
		iqErr(bob, "m2", "cancel", "not-allowed", "a user cannot be kicked by a moderator with a lower affiliation"))

	f.adminIQ("set", alice, "m3", "<item nick='second' role='participant'><reason>Not so worthy</reason></item>")
	wantStanzas(t, "alice", f.user(alice).take(),
		iqResult(alice, "m3"),
		pres(testRoom+"/second", alice, "", "", userX(uitem("none", "participant", bob, reason("Not so worthy")))))
	wantStanzas(t, "bob", f.user(bob).take(),
		pres(testRoom+"/second", bob, "", "", userX(uitem("none", "participant", bob, reason("Not so worthy")), "110")))
	if f.roleOf("second") != RoleParticipant {
		t.Fatal("moderator status not revoked")
	}
}

// Who may change which role (§5.1.1-5.1.3, §8.2, §8.4, §9.7): the refused
// request is answered with the XEP's error and changes nothing.
func TestRoleChangeRefused(t *testing.T) {
	// In every case: alice owner ("first"), bob ("second") and carol
	// ("third") participants, dave admin ("fourth").
	type setup func(f *fixture)
	mod := func(nick string) setup {
		return func(f *fixture) { f.inRoom(testRoom, func(r *room) { r.occupants[nick].role = RoleModerator }) }
	}
	member := func(bare string) setup { return func(f *fixture) { f.setAff(bare, AffMember) } }
	cases := []struct {
		name  string
		setup []setup
		from  string
		item  string
		want  string // error: type, condition, text
	}{
		{"participant kicks", nil, bob, "<item nick='third' role='none'/>",
			"auth forbidden only moderators change roles"},
		{"participant grants voice", nil, bob, "<item nick='third' role='participant'/>",
			"auth forbidden only moderators change roles"},
		{"outsider kicks", nil, "eve@example.com/x", "<item nick='third' role='none'/>",
			"auth forbidden only moderators change roles"},
		{"admin kicks owner", nil, dave, "<item nick='first' role='none'/>",
			"cancel not-allowed a user cannot be kicked by a moderator with a lower affiliation"},
		{"admin revokes owner's voice", nil, dave, "<item nick='first' role='visitor'/>",
			"cancel not-allowed admins and owners keep their voice and moderator status"},
		{"admin revokes owner's moderator status", nil, dave, "<item nick='first' role='participant'/>",
			"cancel not-allowed admins and owners keep their voice and moderator status"},
		{"owner revokes admin's moderator status", nil, alice, "<item nick='fourth' role='participant'/>",
			"cancel not-allowed admins and owners keep their voice and moderator status"},
		{"moderator kicks itself", nil, alice, "<item nick='first' role='none'/>",
			"cancel conflict you cannot kick yourself"},
		{"moderator grants moderator status", []setup{mod("third")}, carol, "<item nick='second' role='moderator'/>",
			"auth forbidden only admins and owners grant moderator status"},
		{"moderator revokes moderator status", []setup{mod("third"), mod("second")}, carol, "<item nick='second' role='participant'/>",
			"auth forbidden only admins and owners revoke moderator status"},
		{"moderator kicks moderator", []setup{mod("third"), mod("second")}, carol, "<item nick='second' role='none'/>",
			"cancel not-allowed a moderator can be kicked only by an admin or owner"},
		{"moderator kicks member", []setup{mod("third"), member("bob@example.com")}, carol, "<item nick='second' role='none'/>",
			"cancel not-allowed a user cannot be kicked by a moderator with a lower affiliation"},
		{"member moderator revokes a member's voice", []setup{mod("third"), member("carol@example.com"), member("bob@example.com")},
			carol, "<item nick='second' role='visitor'/>",
			"cancel not-allowed voice cannot be revoked from a user whose affiliation is at or above yours"},
		{"one bad item spoils the set", nil, alice, "<item nick='second' role='visitor'/><item nick='first' role='none'/>",
			"cancel conflict you cannot kick yourself"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := threeInRoom(t)
			f.setAff("dave@example.com", AffAdmin)
			f.join(dave, "fourth")
			for _, s := range c.setup {
				s(f)
			}
			f.drainAll()
			roles := map[string]Role{}
			for _, n := range []string{"first", "second", "third", "fourth"} {
				roles[n] = f.roleOf(n)
			}
			f.adminIQ("set", c.from, "r", c.item)
			w := strings.SplitN(c.want, " ", 3)
			wantStanzas(t, c.from, f.user(c.from).take(), iqErr(c.from, "r", w[0], w[1], w[2]))
			for _, u := range []string{alice, bob, carol, dave} {
				if u != c.from {
					wantStanzas(t, u, f.user(u).take())
				}
			}
			for n, r := range roles {
				if got := f.roleOf(n); got != r {
					t.Errorf("%s is %s after a refused request, was %s", n, got, r)
				}
			}
		})
	}
}

// §8.5: the voice list, and a delta applied in one request.
func TestVoiceListAndModification(t *testing.T) {
	f := threeInRoom(t, fieldModerated, "1")
	f.adminIQ("set", alice, "g", "<item nick='second' role='participant'/>")
	f.drainAll()
	f.adminIQ("get", alice, "l1", "<item role='participant'/>")
	wantStanzas(t, "alice", f.user(alice).take(),
		iqResultQuery(alice, "l1", aitem("none", bob, "second", "participant", "")))
	f.adminIQ("get", alice, "l2", "<item role='visitor'/>")
	wantStanzas(t, "alice", f.user(alice).take(),
		iqResultQuery(alice, "l2", aitem("none", carol, "third", "visitor", "")))
	// Not for visitors or participants.
	f.adminIQ("get", carol, "l3", "<item role='participant'/>")
	wantStanzas(t, "carol", f.user(carol).take(), iqErr(carol, "l3", "auth", "forbidden", "only moderators see the voice list"))

	// The delta: bob loses voice, carol gains it; presence in item order.
	f.adminIQ("set", alice, "d", "<item nick='second' role='visitor'/><item nick='third' role='participant'><reason>A worthy fellow.</reason></item>")
	wantStanzas(t, "alice", f.user(alice).take(),
		iqResult(alice, "d"),
		pres(testRoom+"/second", alice, "", "", userX(uitem("none", "visitor", bob, ""))),
		pres(testRoom+"/third", alice, "", "", userX(uitem("none", "participant", carol, reason("A worthy fellow.")))))
	wantStanzas(t, "bob", f.user(bob).take(),
		pres(testRoom+"/second", bob, "", "", userX(uitem("none", "visitor", bob, ""), "110")),
		pres(testRoom+"/third", bob, "", "", userX(uitem("none", "participant", "", reason("A worthy fellow.")))))
	f.adminIQ("get", alice, "l4", "<item role='participant'/>")
	wantStanzas(t, "alice", f.user(alice).take(),
		iqResultQuery(alice, "l4", aitem("none", carol, "third", "participant", "")))
}

// §9.8: the moderator list is for admins and owners.
func TestModeratorList(t *testing.T) {
	f := threeInRoom(t)
	f.setAff("dave@example.com", AffAdmin)
	f.join(dave, "fourth")
	f.drainAll()
	f.adminIQ("get", dave, "l", "<item role='moderator'/>")
	wantStanzas(t, "dave", f.user(dave).take(), iqResultQuery(dave, "l",
		aitem("owner", alice, "first", "moderator", "")+aitem("admin", dave, "fourth", "moderator", "")))
	f.inRoom(testRoom, func(r *room) { r.occupants["second"].role = RoleModerator })
	f.adminIQ("get", bob, "l2", "<item role='moderator'/>")
	wantStanzas(t, "bob", f.user(bob).take(), iqErr(bob, "l2", "auth", "forbidden", "only admins and owners see the moderator list"))
}

// muc#roomconfig_presencebroadcast: a silent visitor's kick is heard by
// itself only; voice makes it heard by all.
func TestRoleChangesOfSilentRoles(t *testing.T) {
	f := threeInRoom(t, fieldModerated, "1", fieldPresenceBcast, "moderator")
	f.inRoom(testRoom, func(r *room) { r.cfg.PresenceBroadcast = []Role{RoleModerator, RoleParticipant} })
	f.adminIQ("set", alice, "v", "<item nick='second' role='participant'/>")
	wantStanzas(t, "carol", f.user(carol).take(),
		pres(testRoom+"/second", carol, "", "", userX(uitem("none", "participant", "", ""))))
	f.drainAll()
	f.adminIQ("set", alice, "k", "<item nick='third' role='none'/>")
	wantStanzas(t, "carol", f.user(carol).take(),
		pres(testRoom+"/third", carol, "", "unavailable", userX(uitem("none", "none", carol, actorNick("first")), "110", "307")))
	wantStanzas(t, "alice", f.user(alice).take(), iqResult(alice, "k"))
	wantStanzas(t, "bob", f.user(bob).take())
}

// The voice-request approval (§8.6) goes through changeRole: same checks,
// same presence.
func TestChangeRoleAPI(t *testing.T) {
	f := threeInRoom(t, fieldModerated, "1")
	f.inRoom(testRoom, func(r *room) {
		if err := r.changeRole(r.svc.baseCtx, mustJID(bob), "third", RoleParticipant, ""); err == nil || err.Condition != "forbidden" {
			t.Errorf("a visitor granted voice: %v", err)
		}
		if err := r.changeRole(r.svc.baseCtx, mustJID(alice), "third", RoleParticipant, ""); err != nil {
			t.Errorf("owner could not grant voice: %v", err)
		}
	})
	wantStanzas(t, "carol", f.user(carol).take(),
		pres(testRoom+"/third", carol, "", "", userX(uitem("none", "participant", carol, ""), "110")))
}
