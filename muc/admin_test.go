package muc

import (
	"strconv"
	"strings"
	"testing"

	"mellium.im/xmpp/jid"
)

// Helpers of the muc#admin tests (admin_test.go, roles_test.go,
// affiliation_change_test.go).

const (
	dave     = "dave@example.com/home"
	nsStanza = "urn:ietf:params:xml:ns:xmpp-stanzas"
)

// threeInRoom: alice (owner, "first"), bob ("second") and carol ("third")
// in an unlocked room configured with fields.
func threeInRoom(t *testing.T, fields ...string) *fixture {
	t.Helper()
	f := newFixture(t, nil)
	f.createInstant(alice, "first", fields...)
	f.join(bob, "second")
	f.join(carol, "third")
	f.drainAll()
	return f
}

// adminIQ sends a muc#admin iq of type typ with the items (raw XML) and
// waits for the room.
func (f *fixture) adminIQ(typ, from, id, items string) {
	f.t.Helper()
	f.user(from)
	f.send("<iq type='" + typ + "' id='" + id + "' from='" + from + "' to='" + testRoom + "'><query xmlns='" + NSMUCAdmin + "'>" + items + "</query></iq>")
}

// setAff stores an affiliation directly (test setup, not under test).
func (f *fixture) setAff(bare string, a Affiliation) {
	f.t.Helper()
	f.inRoom(testRoom, func(r *room) {
		if err := r.setAffiliation(bare, affEntry{Affiliation: a}); err != nil {
			f.t.Fatal(err)
		}
	})
}

func iqResult(to, id string) string {
	return "<iq from='" + testRoom + "' id='" + id + "' to='" + to + "' type='result'/>"
}

func iqResultQuery(to, id, inner string) string {
	if inner == "" {
		return "<iq from='" + testRoom + "' id='" + id + "' to='" + to + "' type='result'><query xmlns='" + NSMUCAdmin + "'/></iq>"
	}
	return "<iq from='" + testRoom + "' id='" + id + "' to='" + to + "' type='result'><query xmlns='" + NSMUCAdmin + "'>" + inner + "</query></iq>"
}

// iqErr is the canonical error answer; text is the <text/> ("" for none).
func iqErr(to, id, typ, cond, text string) string {
	s := "<iq from='" + testRoom + "' id='" + id + "' to='" + to + "' type='error'><error type='" + typ + "'><" + cond + " xmlns='" + nsStanza + "'/>"
	if text != "" {
		s += "<text xmlns='" + nsStanza + "'>" + text + "</text>"
	}
	return s + "</error></iq>"
}

// uitem is a muc#user <item/> with attributes (empty ones left out) and
// children (actor, reason).
func uitem(aff, role, jid, children string) string {
	s := "<item affiliation='" + aff + "'"
	if jid != "" {
		s += " jid='" + jid + "'"
	}
	s += " role='" + role + "'"
	if children == "" {
		return s + "/>"
	}
	return s + ">" + children + "</item>"
}

// aitem is a muc#admin list <item/> (as nested in the result query).
func aitem(aff, jid, nick, role, children string) string {
	s := "<item affiliation='" + aff + "' jid='" + jid + "'"
	if nick != "" {
		s += " nick='" + nick + "'"
	}
	if role != "" {
		s += " role='" + role + "'"
	}
	if children == "" {
		return s + "/>"
	}
	return s + ">" + children + "</item>"
}

func mustJID(s string) jid.JID { return jid.MustParse(s) }

func actorNick(n string) string { return "<actor nick='" + n + "'/>" }
func reason(t string) string    { return "<reason>" + t + "</reason>" }

// inRoomNow reports whether nick is an occupant.
func (f *fixture) inRoomNow(nick string) bool {
	in := false
	f.inRoom(testRoom, func(r *room) { in = r.occupants[nick] != nil })
	return in
}

func (f *fixture) roleOf(nick string) Role {
	var role Role
	f.inRoom(testRoom, func(r *room) {
		if o := r.occupants[nick]; o != nil {
			role = o.role
		}
	})
	return role
}

func (f *fixture) affOf(bare string) Affiliation {
	var a Affiliation
	f.inRoom(testRoom, func(r *room) { a = r.affiliation(bare) })
	return a
}

func TestAdminQueryMalformed(t *testing.T) {
	long := strings.Repeat("x", maxReasonLen+1)
	var many strings.Builder
	for i := 0; i <= maxAdminItems; i++ {
		many.WriteString("<item affiliation='outcast' jid='u" + strconv.Itoa(i) + "@example.com'/>")
	}
	cases := []struct {
		name, typ, items, want string
	}{
		{"empty set", "set", "", iqErr(alice, "q", "modify", "bad-request", "no item to change")},
		{"role and affiliation", "set", "<item nick='second' role='none' affiliation='none'/>",
			iqErr(alice, "q", "modify", "bad-request", "an item changes either a role or an affiliation")},
		{"neither", "set", "<item nick='second'/>",
			iqErr(alice, "q", "modify", "bad-request", "an item changes either a role or an affiliation")},
		{"unknown role", "set", "<item nick='second' role='king'/>", iqErr(alice, "q", "modify", "bad-request", "unknown role king")},
		{"unknown affiliation", "set", "<item jid='bob@example.com' affiliation='king'/>",
			iqErr(alice, "q", "modify", "bad-request", "unknown affiliation king")},
		{"role without nick", "set", "<item role='visitor'/>",
			iqErr(alice, "q", "modify", "bad-request", "a role change names the occupant's nick")},
		{"role of unknown nick", "set", "<item nick='nobody' role='visitor'/>", iqErr(alice, "q", "cancel", "item-not-found", "")},
		{"affiliation without jid", "set", "<item affiliation='member'/>",
			iqErr(alice, "q", "modify", "bad-request", "an affiliation change names a JID")},
		{"affiliation of unknown nick", "set", "<item nick='nobody' affiliation='member'/>", iqErr(alice, "q", "cancel", "item-not-found", "")},
		{"malformed jid", "set", "<item jid='@@' affiliation='member'/>", iqErr(alice, "q", "modify", "jid-malformed", "")},
		{"malformed reserved nick", "set", "<item jid='dave@example.com' nick='" + strings.Repeat("n", 1024) + "' affiliation='member'/>", iqErr(alice, "q", "modify", "jid-malformed", "")},
		{"other element", "set", "<destroy/>", iqErr(alice, "q", "modify", "bad-request", "a muc#admin query holds only items")},
		{"same nick twice", "set", "<item nick='second' role='visitor'/><item nick='second' role='participant'/>",
			iqErr(alice, "q", "modify", "bad-request", "an occupant appears twice")},
		{"same jid twice", "set", "<item jid='dave@example.com' affiliation='member'/><item jid='dave@example.com/x' affiliation='outcast'/>",
			iqErr(alice, "q", "modify", "bad-request", "a JID appears twice")},
		{"reason too long", "set", "<item nick='second' role='visitor'><reason>" + long + "</reason></item>",
			iqErr(alice, "q", "modify", "not-acceptable", "the reason is too long")},
		{"too many items", "set", many.String(), iqErr(alice, "q", "modify", "bad-request", "too many items in one request")},
		{"get without item", "get", "", iqErr(alice, "q", "modify", "bad-request", "a list request holds exactly one item")},
		{"get with two items", "get", "<item role='participant'/><item role='moderator'/>",
			iqErr(alice, "q", "modify", "bad-request", "a list request holds exactly one item")},
		{"get naming both", "get", "<item role='participant' affiliation='member'/>",
			iqErr(alice, "q", "modify", "bad-request", "a list request names a role or an affiliation")},
		{"no none role list", "get", "<item role='none'/>", iqErr(alice, "q", "modify", "bad-request", "no list for role none")},
		{"no none affiliation list", "get", "<item affiliation='none'/>",
			iqErr(alice, "q", "modify", "bad-request", "no list for affiliation none")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := threeInRoom(t)
			f.adminIQ(c.typ, alice, "q", c.items)
			wantStanzas(t, "alice", f.user(alice).take(), c.want)
			wantStanzas(t, "bob", f.user(bob).take()) // nothing happened
			wantStanzas(t, "carol", f.user(carol).take())
			if f.roleOf("second") != RoleParticipant || f.affOf("bob@example.com") != AffNone || f.affOf("dave@example.com") != AffNone {
				t.Error("a refused request changed the room")
			}
		})
	}
}

func TestAdminQueryToMissingRoom(t *testing.T) {
	f := newFixture(t, nil)
	f.adminIQ("get", alice, "q", "<item affiliation='outcast'/>")
	wantStanzas(t, "alice", f.user(alice).take(), iqErr(alice, "q", "cancel", "item-not-found", ""))
}

// Foreign elements in the query are not ours to refuse; the items are done.
func TestAdminQueryIgnoresForeignElements(t *testing.T) {
	f := threeInRoom(t)
	f.adminIQ("set", alice, "q", "<x xmlns='urn:example:ext'/><item nick='third' role='visitor'/>")
	got := f.user(alice).take()
	if len(got) == 0 || got[0] != iqResult(alice, "q") || f.roleOf("third") != RoleVisitor {
		t.Fatalf("alice got %q, role %s", got, f.roleOf("third"))
	}
}

// An iq result or error to the room is consumed, never acted on.
func TestAdminQueryErrorTypeNotAnswered(t *testing.T) {
	f := threeInRoom(t)
	f.send("<iq type='error' id='e' from='" + alice + "' to='" + testRoom + "'><query xmlns='" + NSMUCAdmin + "'><item nick='second' role='none'/></query></iq>")
	f.send("<iq type='result' id='r' from='" + alice + "' to='" + testRoom + "'><query xmlns='" + NSMUCAdmin + "'><item nick='second' role='none'/></query></iq>")
	wantStanzas(t, "alice", f.user(alice).take())
	if !f.inRoomNow("second") {
		t.Fatal("an iq result kicked an occupant")
	}
}

// Someone who may change nothing learns nothing from a malformed request,
// not even whether a nick is in the room.
func TestAdminQueryMalformedFromUnprivileged(t *testing.T) {
	f := threeInRoom(t)
	for _, items := range []string{"<item nick='nobody' role='none'/>", "", "<item role='king' nick='third'/>"} {
		f.adminIQ("set", bob, "q", items)
		wantStanzas(t, "bob", f.user(bob).take(), iqErr(bob, "q", "auth", "forbidden", "only moderators change roles"))
	}
}
