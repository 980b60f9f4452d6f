package muc

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gavelhq/gavel/data"
)

const eve = "eve@example.com/x"

// notice101 is the out-of-room message of an affiliation change (§16.1).
func notice101(to, aff, body, children string) string {
	return "<message from='" + testRoom + "' id='*' to='" + to + "'><body>" + body + "</body><x xmlns='" + NSMUCUser + "'>" +
		aitem(aff, to, "", "", children) + "<status code='101'/></x></message>"
}

// §9.1: the banned occupant first (110, 301, actor, reason), the result,
// then everyone else; the ban list keeps the reason; the ban holds.
func TestBanOccupant(t *testing.T) {
	f := threeInRoom(t)
	f.setAffNick("bob@example.com", AffMember, "bobby")
	f.drainAll()
	f.adminIQ("set", alice, "b1", "<item affiliation='outcast' jid='bob@example.com'><reason>Treason</reason></item>")
	removal := actorNick("first") + reason("Treason")
	wantStanzas(t, "bob", f.user(bob).take(),
		pres(testRoom+"/second", bob, "", "unavailable", userX(uitem("outcast", "none", bob, removal), "110", "301")))
	wantStanzas(t, "alice", f.user(alice).take(),
		iqResult(alice, "b1"),
		pres(testRoom+"/second", alice, "", "unavailable", userX(uitem("outcast", "none", bob, removal), "301")))
	wantStanzas(t, "carol", f.user(carol).take(),
		pres(testRoom+"/second", carol, "", "unavailable", userX(uitem("outcast", "none", "", removal), "301")))
	// §9.1: the outcast's reserved nick is gone.
	f.inRoom(testRoom, func(r *room) {
		if r.reservedNick("bob@example.com") != "" || r.nickOwner("bobby") != "" {
			t.Error("the banned user kept its reserved nick")
		}
	})
	// §9.2: the ban list, with the reason, without nick or role.
	f.adminIQ("get", alice, "l", "<item affiliation='outcast'/>")
	wantStanzas(t, "alice", f.user(alice).take(),
		iqResultQuery(alice, "l", aitem("outcast", "bob@example.com", "", "", reason("Treason"))))
	// §7.2.8: it cannot come back, from any resource.
	if got := f.join("bob@example.com/other", "again"); len(got) != 1 || !strings.Contains(got[0], "<forbidden") {
		t.Fatalf("banned user joined: %q", got)
	}
	// Lifting the ban (§9.2: affiliation none).
	f.adminIQ("set", alice, "b2", "<item affiliation='none' jid='bob@example.com'/>")
	f.adminIQ("get", alice, "l2", "<item affiliation='outcast'/>")
	got := f.user(alice).take()
	wantStanzas(t, "alice", got[len(got)-1:], iqResultQuery(alice, "l2", ""))
	// Not in the room: told by a 101 message at its bare JID.
	wantStanzas(t, "bob", f.user(bob).take(),
		notice101("bob@example.com", "none", "You are no longer affiliated with "+testRoom+".", ""))
	if got := f.join(bob, "second"); len(got) != 4 {
		t.Fatalf("join after the ban was lifted: %q", got)
	}
}

// Clients ban an occupant by nick; the ban is on its bare JID.
func TestBanByNick(t *testing.T) {
	f := threeInRoom(t)
	f.adminIQ("set", alice, "b", "<item affiliation='outcast' nick='third'/>")
	if f.affOf("carol@example.com") != AffOutcast || f.inRoomNow("third") {
		t.Fatal("ban by nick did not ban the occupant's JID")
	}
}

// A user not in the room: stored, and told by a 101 message to its bare JID.
func TestAffiliationOfAbsentUser(t *testing.T) {
	f := threeInRoom(t)
	e, d := f.user(eve), f.user(dave)
	f.adminIQ("set", alice, "b", "<item affiliation='outcast' jid='eve@example.com'><reason>spam</reason></item>"+
		"<item affiliation='member' jid='dave@example.com/home'/>")
	wantStanzas(t, "alice", f.user(alice).take(), iqResult(alice, "b"))
	wantStanzas(t, "eve", e.take(),
		notice101("eve@example.com", "outcast", "You have been banned from "+testRoom+".", reason("spam")))
	wantStanzas(t, "dave", d.take(),
		notice101("dave@example.com", "member", "You are now a member of "+testRoom+".", ""))
	wantStanzas(t, "bob", f.user(bob).take()) // occupants hear nothing
	if f.affOf("eve@example.com") != AffOutcast || f.affOf("dave@example.com") != AffMember {
		t.Fatal("affiliations of absent users not stored")
	}
	// A domain ban tells nobody.
	f.adminIQ("set", alice, "d", "<item affiliation='outcast' jid='spam.example'/>")
	wantStanzas(t, "alice", f.user(alice).take(), iqResult(alice, "d"))
}

// §9.3, §9.4 in an open room: presence with the new affiliation, the role
// unchanged; the member list with reserved nicks.
func TestMembershipInOpenRoom(t *testing.T) {
	f := threeInRoom(t)
	f.adminIQ("set", alice, "m1", "<item affiliation='member' jid='bob@example.com' nick='bobby'><reason>A worthy witch indeed!</reason></item>")
	wantStanzas(t, "alice", f.user(alice).take(),
		iqResult(alice, "m1"),
		pres(testRoom+"/second", alice, "", "", userX(uitem("member", "participant", bob, reason("A worthy witch indeed!")))))
	wantStanzas(t, "bob", f.user(bob).take(),
		pres(testRoom+"/second", bob, "", "", userX(uitem("member", "participant", bob, reason("A worthy witch indeed!")), "110")))
	wantStanzas(t, "carol", f.user(carol).take(),
		pres(testRoom+"/second", carol, "", "", userX(uitem("member", "participant", "", reason("A worthy witch indeed!")))))
	f.adminIQ("set", alice, "m2", "<item affiliation='member' jid='carol@example.com'/>")
	f.drainAll()
	// The list: reserved nick, else the nick in the room; sorted by JID.
	f.adminIQ("get", alice, "l", "<item affiliation='member'/>")
	wantStanzas(t, "alice", f.user(alice).take(), iqResultQuery(alice, "l",
		aitem("member", "bob@example.com", "bobby", "", "")+aitem("member", "carol@example.com", "third", "", "")))
	// The reserved nick is bob's now.
	if got := f.join(dave, "bobby"); len(got) != 1 || !strings.Contains(got[0], "<conflict") {
		t.Fatalf("reserved nick taken: %q", got)
	}
	// Revoking: affiliation none, still a participant in an open room.
	f.adminIQ("set", alice, "m3", "<item affiliation='none' jid='bob@example.com'/>")
	wantStanzas(t, "bob", f.user(bob).take(),
		pres(testRoom+"/second", bob, "", "", userX(uitem("none", "participant", bob, ""), "110")))
	f.inRoom(testRoom, func(r *room) {
		if _, ok := r.affs["bob@example.com"]; ok {
			t.Error("a revoked membership left an entry behind")
		}
	})
}

// §9.4 in a members-only room: only the removal, with 321; §9.5: a new
// member who is not in the room is invited.
func TestMembershipInMembersOnlyRoom(t *testing.T) {
	f := newFixture(t, nil)
	f.createInstant(alice, "first", fieldMembersOnly, "1", fieldPasswordOn, "1", fieldSecret, "cauldronburn")
	b := f.user(bob)
	f.adminIQ("set", alice, "m1", "<item affiliation='member' jid='bob@example.com'/>")
	wantStanzas(t, "alice", f.user(alice).take(), iqResult(alice, "m1"))
	wantStanzas(t, "bob", b.take(),
		"<message from='"+testRoom+"' id='*' to='bob@example.com'><x xmlns='"+NSMUCUser+"'>"+
			"<invite from='alice@example.com'/><password>cauldronburn</password></x></message>")
	f.send("<presence from='" + bob + "' to='" + testRoom + "/second'><x xmlns='" + NSMUC + "'><password>cauldronburn</password></x></presence>")
	if got := b.take(); len(got) != 3 {
		t.Fatalf("member could not join: %q", got)
	}
	f.drainAll()
	f.adminIQ("set", alice, "m2", "<item affiliation='none' jid='bob@example.com'><reason>Not so worthy after all!</reason></item>")
	removal := actorNick("first") + reason("Not so worthy after all!")
	wantStanzas(t, "bob", b.take(),
		pres(testRoom+"/second", bob, "", "unavailable", userX(uitem("none", "none", bob, removal), "110", "321")))
	wantStanzas(t, "alice", f.user(alice).take(),
		iqResult(alice, "m2"),
		pres(testRoom+"/second", alice, "", "unavailable", userX(uitem("none", "none", bob, removal), "321")))
	f.send("<presence from='" + bob + "' to='" + testRoom + "/second'><x xmlns='" + NSMUC + "'><password>cauldronburn</password></x></presence>")
	if got := b.take(); len(got) != 1 || !strings.Contains(got[0], "<registration-required") {
		t.Fatalf("removed member joined: %q", got)
	}
}

// §5.1.3 note: a member of a moderated room is a participant.
func TestMembershipGivesVoiceInModeratedRoom(t *testing.T) {
	f := threeInRoom(t, fieldModerated, "1")
	f.adminIQ("set", alice, "m", "<item affiliation='member' jid='carol@example.com'/>")
	wantStanzas(t, "carol", f.user(carol).take(),
		pres(testRoom+"/third", carol, "", "", userX(uitem("member", "participant", carol, ""), "110")))
	if f.roleOf("third") != RoleParticipant {
		t.Fatal("member stayed a visitor")
	}
}

// §10.3-10.8: owners grant and revoke owner and admin status; the roles
// follow; the lists.
func TestOwnerAndAdminGrants(t *testing.T) {
	f := threeInRoom(t)
	f.adminIQ("set", alice, "a1", "<item affiliation='admin' jid='bob@example.com'/>")
	wantStanzas(t, "alice", f.user(alice).take(),
		iqResult(alice, "a1"),
		pres(testRoom+"/second", alice, "", "", userX(uitem("admin", "moderator", bob, ""))))
	// bob became a moderator: he sees the real JIDs now.
	wantStanzas(t, "bob", f.user(bob).take(),
		pres(testRoom+"/second", bob, "", "", userX(uitem("admin", "moderator", bob, ""), "110")),
		pres(testRoom+"/first", bob, "", "", userX(uitem("owner", "moderator", alice, ""))),
		pres(testRoom+"/third", bob, "", "", userX(uitem("none", "participant", carol, ""))))
	wantStanzas(t, "carol", f.user(carol).take(),
		pres(testRoom+"/second", carol, "", "", userX(uitem("admin", "moderator", "", ""))))

	f.adminIQ("set", alice, "o1", "<item affiliation='owner' jid='carol@example.com'><reason>A worthy witch indeed!</reason></item>")
	wantStanzas(t, "carol", f.user(carol).take(),
		pres(testRoom+"/third", carol, "", "", userX(uitem("owner", "moderator", carol, reason("A worthy witch indeed!")), "110")),
		pres(testRoom+"/first", carol, "", "", userX(uitem("owner", "moderator", alice, ""))),
		pres(testRoom+"/second", carol, "", "", userX(uitem("admin", "moderator", bob, ""))))
	f.drainAll()
	f.adminIQ("get", alice, "lo", "<item affiliation='owner'/>")
	wantStanzas(t, "alice", f.user(alice).take(), iqResultQuery(alice, "lo",
		aitem("owner", "alice@example.com", "first", "", "")+aitem("owner", "carol@example.com", "third", "", "")))
	f.adminIQ("get", carol, "la", "<item affiliation='admin'/>")
	wantStanzas(t, "carol", f.user(carol).take(), iqResultQuery(carol, "la", aitem("admin", "bob@example.com", "second", "", "")))

	// Revoking admin status: moderator status goes with it.
	f.adminIQ("set", carol, "a2", "<item affiliation='member' jid='bob@example.com'/>")
	wantStanzas(t, "bob", f.user(bob).take(),
		pres(testRoom+"/second", bob, "", "", userX(uitem("member", "participant", bob, ""), "110")))
	// An owner steps down while another owner remains (§10.6).
	f.drainAll()
	f.adminIQ("set", alice, "o2", "<item affiliation='admin' jid='alice@example.com'/>")
	wantStanzas(t, "alice", f.user(alice).take(),
		iqResult(alice, "o2"),
		pres(testRoom+"/first", alice, "", "", userX(uitem("admin", "moderator", alice, ""), "110")))
	if f.affOf("alice@example.com") != AffAdmin || f.roleOf("first") != RoleModerator {
		t.Fatal("owner could not step down")
	}
}

// Who may change which affiliation: the XEP's error, and nothing changes.
func TestAffiliationChangeRefused(t *testing.T) {
	cases := []struct {
		name string
		from string
		item string
		want string
	}{
		{"participant bans", bob, "<item affiliation='outcast' jid='carol@example.com'/>",
			"auth forbidden only admins and owners change affiliations"},
		{"member grants membership", carol, "<item affiliation='member' jid='eve@example.com'/>",
			"auth forbidden only admins and owners change affiliations"},
		{"admin grants admin", dave, "<item affiliation='admin' jid='bob@example.com'/>",
			"auth forbidden only owners grant owner and admin status"},
		{"admin grants owner", dave, "<item affiliation='owner' jid='dave@example.com'/>",
			"auth forbidden only owners grant owner and admin status"},
		{"admin bans owner", dave, "<item affiliation='outcast' jid='alice@example.com'/>",
			"cancel not-allowed a user cannot be banned by an admin with a lower affiliation"},
		{"admin revokes owner", dave, "<item affiliation='member' jid='alice@example.com'/>",
			"auth forbidden only owners revoke owner and admin status"},
		{"admin steps down", dave, "<item affiliation='member' jid='dave@example.com'/>",
			"auth forbidden only owners revoke owner and admin status"},
		{"admin bans itself", dave, "<item affiliation='outcast' jid='dave@example.com'/>",
			"cancel conflict you cannot ban yourself"},
		{"owner bans itself", alice, "<item affiliation='outcast' jid='alice@example.com'/>",
			"cancel conflict you cannot ban yourself"},
		{"last owner steps down", alice, "<item affiliation='admin' jid='alice@example.com'/>",
			"cancel conflict the room must keep an owner"},
		{"last owner removed by a service admin", "admin@example.com/console", "<item affiliation='none' jid='alice@example.com'/>",
			"cancel conflict the room must keep an owner"},
		{"service admin's affiliation", alice, "<item affiliation='outcast' jid='admin@example.com'/>",
			"cancel not-allowed service administrators own every room"},
		{"nick reserved by another", alice, "<item affiliation='member' jid='eve@example.com' nick='crone'/>",
			"cancel conflict the nick is reserved by another user"},
		{"the same nick twice", alice, "<item affiliation='member' jid='eve@example.com' nick='hag'/><item affiliation='member' jid='bob@example.com' nick='hag'/>",
			"cancel conflict the same nick is reserved twice"},
		{"one bad item spoils the set", dave, "<item affiliation='outcast' jid='bob@example.com'/><item affiliation='outcast' jid='eve@example.com'/>" +
			"<item affiliation='outcast' jid='alice@example.com'/>",
			"cancel not-allowed a user cannot be banned by an admin with a lower affiliation"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// alice owner, bob participant, carol member ("crone"), dave admin.
			f := threeInRoom(t)
			f.setAffNick("carol@example.com", AffMember, "crone")
			f.setAff("dave@example.com", AffAdmin)
			f.join(dave, "fourth")
			f.drainAll()
			var before map[string]affEntry
			f.inRoom(testRoom, func(r *room) { before = cloneAffs(r.affs) })
			f.adminIQ("set", c.from, "r", c.item)
			w := strings.SplitN(c.want, " ", 3)
			wantStanzas(t, c.from, f.user(c.from).take(), iqErr(c.from, "r", w[0], w[1], w[2]))
			for _, u := range []string{alice, bob, carol, dave, eve} {
				if u != c.from {
					wantStanzas(t, u, f.user(u).take())
				}
			}
			f.inRoom(testRoom, func(r *room) {
				if !affsEqual(before, r.affs) {
					t.Errorf("affiliations changed by a refused request: %v -> %v", before, r.affs)
				}
			})
		})
	}
}

// Service admins act as owners of every room without being in it; their
// <actor/> is left out of a semi-anonymous room.
func TestServiceAdminActsAsOwner(t *testing.T) {
	f := threeInRoom(t)
	root := "admin@example.com/console"
	f.adminIQ("set", root, "s", "<item affiliation='owner' jid='bob@example.com'/><item affiliation='outcast' jid='carol@example.com'/>")
	wantStanzas(t, "carol", f.user(carol).take(),
		pres(testRoom+"/third", carol, "", "unavailable", userX(uitem("outcast", "none", carol, ""), "110", "301")))
	wantStanzas(t, "root", f.user(root).take(), iqResult(root, "s"))
	wantStanzas(t, "alice", f.user(alice).take(),
		pres(testRoom+"/second", alice, "", "", userX(uitem("owner", "moderator", bob, ""))),
		pres(testRoom+"/third", alice, "", "unavailable", userX(uitem("outcast", "none", carol, ""), "301")))
	f.adminIQ("get", root, "l", "<item affiliation='owner'/>")
	wantStanzas(t, "root", f.user(root).take(), iqResultQuery(root, "l",
		aitem("owner", "alice@example.com", "first", "", "")+aitem("owner", "bob@example.com", "second", "", "")))
}

// A non-anonymous room names an absent actor by bare JID.
func TestActorJIDInNonAnonymousRoom(t *testing.T) {
	f := threeInRoom(t, fieldWhois, WhoisAnyone)
	f.setAff("dave@example.com", AffAdmin)
	f.adminIQ("set", dave, "k", "<item nick='third' role='none'/>")
	wantStanzas(t, "carol", f.user(carol).take(),
		pres(testRoom+"/third", carol, "", "unavailable", userX(uitem("none", "none", carol, "<actor jid='dave@example.com'/>"), "110", "307")))
}

// Who sees which list (§5.2.1, §9.5, §10.5, §10.8).
func TestAffiliationListAccess(t *testing.T) {
	cases := []struct {
		name   string
		fields []string
		from   string
		list   string
		ok     bool
	}{
		{"admin sees bans", nil, dave, "outcast", true},
		{"member does not see bans", nil, carol, "outcast", false},
		{"member list hidden in semi-anonymous room", nil, carol, "member", false},
		{"admin sees members", nil, dave, "member", true},
		{"member sees members in non-anonymous room", []string{fieldWhois, WhoisAnyone}, carol, "member", true},
		{"absent member sees members in non-anonymous room", []string{fieldWhois, WhoisAnyone}, "carol@example.com/other", "member", true},
		{"occupant sees members per getmemberlist", []string{fieldWhois, WhoisAnyone}, bob, "member", true},
		{"occupant without the role per getmemberlist", []string{fieldWhois, WhoisAnyone, fieldGetMemberList, "moderator"}, bob, "member", false},
		{"outsider", []string{fieldWhois, WhoisAnyone}, eve, "member", false},
		{"admin list hidden from admins in semi-anonymous room", nil, dave, "admin", false},
		{"owner list hidden from admins in semi-anonymous room", nil, dave, "owner", false},
		{"owner sees admins", nil, alice, "admin", true},
		{"occupant sees owners in non-anonymous room", []string{fieldWhois, WhoisAnyone}, bob, "owner", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := threeInRoom(t, c.fields...)
			f.setAffNick("carol@example.com", AffMember, "crone")
			f.setAff("dave@example.com", AffAdmin)
			f.adminIQ("get", c.from, "l", "<item affiliation='"+c.list+"'/>")
			got := f.user(c.from).take()
			if len(got) != 1 {
				t.Fatalf("got %q", got)
			}
			if c.ok != strings.Contains(got[0], "type='result'") {
				t.Fatalf("got %s", got[0])
			}
			if !c.ok && got[0] != iqErr(c.from, "l", "auth", "forbidden", "you may not see this list") {
				t.Fatalf("got %s", got[0])
			}
			if c.ok && c.list == "member" && !strings.Contains(got[0], aitem("member", "carol@example.com", "crone", "", "")) {
				t.Fatalf("member list: %s", got[0])
			}
		})
	}
}

// failingStore fails every Put of a key containing fail.
type failingStore struct {
	data.Store
	fail string
}

func (s *failingStore) Put(ctx context.Context, key, val []byte) (uint64, error) {
	if s.fail != "" && strings.Contains(string(key), s.fail) {
		return 0, errors.New("disk full")
	}
	return s.Store.Put(ctx, key, val)
}

// A set is all or nothing even when the Store fails half-way: what was
// written is restored and nobody hears of anything.
func TestAffiliationSetRollsBackOnStoreFailure(t *testing.T) {
	mem, err := data.OpenInMemory()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mem.Close() })
	st := &failingStore{Store: mem}
	f := newFixtureOn(t, st, nil)
	f.createInstant(alice, "first", fieldPersistent, "1")
	f.join(bob, "second")
	f.drainAll()
	st.fail = "/mallory@"
	f.adminIQ("set", alice, "b", "<item affiliation='outcast' jid='bob@example.com'/><item affiliation='member' jid='carol@example.com' nick='crone'/>"+
		"<item affiliation='member' jid='mallory@example.com'/>")
	wantStanzas(t, "alice", f.user(alice).take(), iqErr(alice, "b", "cancel", "internal-server-error", ""))
	wantStanzas(t, "bob", f.user(bob).take())
	f.inRoom(testRoom, func(r *room) {
		if len(r.affs) != 1 || r.affiliation("bob@example.com") != AffNone || r.affiliation("carol@example.com") != AffNone {
			t.Errorf("memory not rolled back: %v", r.affs)
		}
	})
	ctx := context.Background()
	for _, bare := range []string{"bob@example.com", "carol@example.com", "mallory@example.com"} {
		if _, _, err := mem.Get(ctx, data.MUCAffiliationKey(testRoom, bare)); !errors.Is(err, data.ErrNotFound) {
			t.Errorf("stored row of %s survived the rollback: %v", bare, err)
		}
	}
	if !f.inRoomNow("second") {
		t.Fatal("the failed ban removed the occupant")
	}
}

// The affiliations survive a restart: a ban with its reason, a member's
// reserved nick; the banned user cannot enter.
func TestBanSurvivesRestart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	open := func() *data.Badger {
		st, err := data.Open(dir, data.DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	st := open()
	f := newFixtureOn(t, st, nil)
	f.createInstant(alice, "first", fieldPersistent, "1")
	f.join(bob, "second")
	f.adminIQ("set", alice, "b", "<item affiliation='outcast' jid='bob@example.com'><reason>Treason</reason></item>"+
		"<item affiliation='member' jid='carol@example.com' nick='crone'/><item affiliation='admin' jid='dave@example.com'/>")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.svc.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st2 := open()
	t.Cleanup(func() { _ = st2.Close() })
	f2 := newFixtureOn(t, st2, nil)
	if got := f2.join(bob, "second"); len(got) != 1 || !strings.Contains(got[0], "<forbidden") {
		t.Fatalf("ban lost in a restart: %q", got)
	}
	f2.adminIQ("get", alice, "l", "<item affiliation='outcast'/>")
	wantStanzas(t, "alice", f2.user(alice).take(),
		iqResultQuery(alice, "l", aitem("outcast", "bob@example.com", "", "", reason("Treason"))))
	f2.adminIQ("get", "dave@example.com/home", "m", "<item affiliation='member'/>")
	wantStanzas(t, "dave", f2.user(dave).take(),
		iqResultQuery(dave, "m", aitem("member", "carol@example.com", "crone", "", "")))
}

func (f *fixture) setAffNick(bare string, a Affiliation, nick string) {
	f.t.Helper()
	f.inRoom(testRoom, func(r *room) {
		if err := r.setAffiliation(bare, affEntry{Affiliation: a, Nick: nick}); err != nil {
			f.t.Fatal(err)
		}
	})
}

func cloneAffs(m map[string]affEntry) map[string]affEntry {
	out := make(map[string]affEntry, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func affsEqual(a, b map[string]affEntry) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// §9.2: a ban of a domain covers its users, except those with an
// affiliation of their own.
func TestDomainBan(t *testing.T) {
	f := threeInRoom(t)
	f.router.HandleDomain("elsewhere.test", localDelivery{f.router}, true)
	mallory, trent := "mallory@elsewhere.test/x", "trent@elsewhere.test/y"
	f.join(mallory, "m")
	f.join(trent, "t")
	f.setAff("trent@elsewhere.test", AffMember)
	f.drainAll()
	f.adminIQ("set", alice, "d", "<item affiliation='outcast' jid='elsewhere.test'><reason>spam</reason></item>")
	removal := actorNick("first") + reason("spam")
	wantStanzas(t, "mallory", f.user(mallory).take(),
		pres(testRoom+"/m", mallory, "", "unavailable", userX(uitem("outcast", "none", mallory, removal), "110", "301")))
	wantStanzas(t, "alice", f.user(alice).take(),
		iqResult(alice, "d"),
		pres(testRoom+"/m", alice, "", "unavailable", userX(uitem("outcast", "none", mallory, removal), "301")))
	wantStanzas(t, "trent", f.user(trent).take(),
		pres(testRoom+"/m", trent, "", "unavailable", userX(uitem("outcast", "none", "", removal), "301")))
	if !f.inRoomNow("t") {
		t.Fatal("a member of the banned domain was removed")
	}
	for _, u := range []string{mallory, "zed@elsewhere.test/z"} {
		if got := f.join(u, "again"); len(got) != 1 || !strings.Contains(got[0], "<forbidden") {
			t.Fatalf("%s joined from a banned domain: %q", u, got)
		}
	}
	f.adminIQ("set", alice, "u", "<item affiliation='none' jid='elsewhere.test'/>")
	if got := f.join("zed@elsewhere.test/z", "zed"); len(got) != 6 {
		t.Fatalf("join after the domain ban was lifted: %q", got)
	}
}
