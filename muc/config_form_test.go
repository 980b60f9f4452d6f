package muc

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gavelhq/gavel/data"
	"github.com/gavelhq/gavel/xmlstream"
)

// fv renders a submitted form field.
func cfField(v string, values ...string) string {
	s := "<field var='" + v + "'>"
	for _, val := range values {
		s += "<value>" + val + "</value>"
	}
	return s + "</field>"
}

// submitConfig sends a muc#owner form submission with the given fields.
func (f *fixture) cfSubmit(from, id string, fields ...string) {
	f.t.Helper()
	f.send("<iq type='set' id='" + id + "' from='" + from + "' to='" + testRoom + "'><query xmlns='" + NSMUCOwner + "'>" +
		"<x xmlns='jabber:x:data' type='submit'>" + strings.Join(fields, "") + "</x></query></iq>")
}

func cfIQResult(id, to string) string {
	return "<iq from='" + testRoom + "' id='" + id + "' to='" + to + "' type='result'/>"
}

func cfIQError(id, to, typ, cond, text string) string {
	s := "<iq from='" + testRoom + "' id='" + id + "' to='" + to + "' type='error'><error type='" + typ + "'>" +
		"<" + cond + " xmlns='" + xmlstream.NSStanzas + "'/>"
	if text != "" {
		s += "<text xmlns='" + xmlstream.NSStanzas + "'>" + text + "</text>"
	}
	return s + "</error></iq>"
}

func cfMessage(to string, codes ...string) string {
	return "<message from='" + testRoom + "' id='*' to='" + to + "' type='groupchat'>" + userX("", codes...) + "</message>"
}

// TestConfigFormHasEveryField checks the form against the §15.5.3 registry:
// every field, its type, and the current values.
func TestConfigFormHasEveryField(t *testing.T) {
	f := newFixture(t, nil)
	f.createInstant(alice, "first", fieldRoomAdmins, "bob@example.com")
	f.send("<iq type='get' id='g' from='" + alice + "' to='" + testRoom + "'><query xmlns='" + NSMUCOwner + "'/></iq>")
	raw := f.user(alice).takeRaw()
	if len(raw) != 1 {
		t.Fatalf("got %d stanzas", len(raw))
	}
	el, _ := raw[0].Element()
	x := el.Child(NSMUCOwner, "query").Child(NSDataForms, "x")
	if x == nil || x.Attr("type") != "form" {
		t.Fatalf("no form: %s", el)
	}
	types := map[string]string{}
	values := map[string][]string{}
	for _, fl := range x.ChildrenNamed(NSDataForms, "field") {
		types[fl.Attr("var")] = fl.Attr("type")
		for _, v := range fl.ChildrenNamed(NSDataForms, "value") {
			values[fl.Attr("var")] = append(values[fl.Attr("var")], v.Text())
		}
	}
	want := map[string]string{
		"FORM_TYPE": "hidden", fieldMaxHistory: "text-single", fieldAllowPM: "list-single", fieldAllowInvites: "boolean",
		fieldChangeSubject: "boolean", fieldLogging: "boolean", fieldGetMemberList: "list-multi", fieldLang: "text-single",
		fieldPubSub: "text-single", fieldMaxUsers: "list-single", fieldMembersOnly: "boolean", fieldModerated: "boolean",
		fieldPasswordOn: "boolean", fieldPersistent: "boolean", fieldPresenceBcast: "list-multi", fieldPublic: "boolean",
		fieldRoomAdmins: "jid-multi", fieldDesc: "text-single", fieldName: "text-single", fieldRoomOwners: "jid-multi",
		fieldSecret: "text-private", fieldWhois: "list-single", fieldArchiving: "boolean",
	}
	for v, typ := range want {
		if types[v] != typ {
			t.Errorf("field %s: type %q, want %q", v, types[v], typ)
		}
	}
	wantValues := map[string][]string{
		"FORM_TYPE": {NSRoomConfig}, fieldPublic: {"1"}, fieldPersistent: {"0"}, fieldWhois: {WhoisModerators},
		fieldAllowPM: {PMAnyone}, fieldMaxUsers: {"none"}, fieldMaxHistory: {"50"}, fieldArchiving: {"1"},
		fieldPresenceBcast: {"moderator", "participant", "visitor"}, fieldGetMemberList: {"moderator", "participant", "visitor"},
		fieldRoomOwners: {"alice@example.com"}, fieldRoomAdmins: {"bob@example.com"},
	}
	for v, vals := range wantValues {
		if !slices.Equal(values[v], vals) {
			t.Errorf("field %s: values %q, want %q", v, values[v], vals)
		}
	}
}

func TestConfigFormValidation(t *testing.T) {
	long := strings.Repeat("x", maxRoomNameLen+1)
	cases := []struct {
		name, field, typ, cond, text string
	}{
		{"wrong FORM_TYPE", cfField("FORM_TYPE", "urn:other"), "modify", "bad-request", "FORM_TYPE must be " + NSRoomConfig},
		{"two values in a single field", cfField(fieldName, "a", "b"), "modify", "bad-request", fieldName + " takes one value"},
		{"bad boolean", cfField(fieldModerated, "yes"), "modify", "not-acceptable", fieldModerated + " must be a boolean"},
		{"whois none (deprecated)", cfField(fieldWhois, "none"), "modify", "not-acceptable", "whois must be moderators or anyone"},
		{"negative maxusers", cfField(fieldMaxUsers, "-3"), "modify", "not-acceptable", "maxusers must be a positive number or none"},
		{"maxusers not a number", cfField(fieldMaxUsers, "many"), "modify", "not-acceptable", "maxusers must be a positive number or none"},
		{"unknown allowpm", cfField(fieldAllowPM, "friends"), "modify", "not-acceptable", "allowpm must be anyone, participants, moderators or none"},
		{"unknown broadcast role", cfField(fieldPresenceBcast, "moderator", "owner"), "modify", "not-acceptable", fieldPresenceBcast + " takes moderator, participant and visitor"},
		{"unknown member list role", cfField(fieldGetMemberList, "none"), "modify", "not-acceptable", fieldGetMemberList + " takes moderator, participant and visitor"},
		{"negative maxhistoryfetch", cfField(fieldMaxHistory, "-1"), "modify", "not-acceptable", "maxhistoryfetch must be a non-negative number"},
		{"bad language tag", cfField(fieldLang, "en_GB"), "modify", "not-acceptable", "lang must be a language tag"},
		{"pubsub not an xmpp URI", cfField(fieldPubSub, "http://example.com/node"), "modify", "not-acceptable", "pubsub must be an xmpp: URI"},
		{"name too long", cfField(fieldName, long), "modify", "not-acceptable", fieldName + " is too long"},
		{"password-protected without password", cfField(fieldPasswordOn, "1"), "modify", "not-acceptable", "a password-protected room needs a password"},
		{"no owner left", cfField(fieldRoomOwners), "cancel", "conflict", "a room needs an owner"},
		{"malformed admin JID", cfField(fieldRoomAdmins, "@bad"), "modify", "jid-malformed", fieldRoomAdmins + ": @bad"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := twoInRoom(t)
			var before RoomConfig
			f.inRoom(testRoom, func(r *room) { before = r.cfg.clone() })
			f.cfSubmit(alice, "bad", cfField(fieldName, "Changed")+c.field)
			wantStanzas(t, "alice", f.user(alice).take(), cfIQError("bad", alice, c.typ, c.cond, c.text))
			wantStanzas(t, "bob", f.user(bob).take()) // no 104: nothing changed
			f.inRoom(testRoom, func(r *room) {
				if !r.cfg.equal(before) || r.affiliation("alice@example.com") != AffOwner {
					t.Errorf("a refused form changed the room: %+v", r.cfg)
				}
			})
		})
	}
}

func TestConfigChangeNotifications(t *testing.T) {
	f := twoInRoom(t)
	steps := []struct {
		fields string
		codes  []string // nil: no message
	}{
		{cfField(fieldLogging, "1"), []string{"104", "170"}},
		{cfField(fieldLogging, "0"), []string{"104", "171"}},
		{cfField(fieldWhois, WhoisAnyone), []string{"104", "172"}},
		{cfField(fieldWhois, WhoisModerators), []string{"104", "173"}},
		{cfField(fieldName, "Coven"), []string{"104"}},
		{cfField(fieldName, "Coven"), nil}, // unchanged: nothing to announce
	}
	for i, s := range steps {
		f.cfSubmit(alice, "c", s.fields)
		wantBob := []string{}
		wantAlice := []string{}
		if s.codes != nil {
			wantBob = append(wantBob, cfMessage(bob, s.codes...))
			wantAlice = append(wantAlice, cfMessage(alice, s.codes...))
		}
		wantStanzas(t, "bob step "+string(rune('0'+i)), f.user(bob).take(), wantBob...)
		wantStanzas(t, "alice step "+string(rune('0'+i)), f.user(alice).take(), append(wantAlice, cfIQResult("c", alice))...)
	}
}

func TestConfigEveryFieldApplied(t *testing.T) {
	f := twoInRoom(t)
	f.cfSubmit(alice, "all", cfField("FORM_TYPE", NSRoomConfig),
		cfField(fieldName, "A Dark Cave"), cfField(fieldDesc, "The place for all good witches!"), cfField(fieldLang, "en-GB"),
		cfField(fieldLogging, "0"), cfField(fieldArchiving, "0"), cfField(fieldChangeSubject, "1"), cfField(fieldAllowInvites, "true"),
		cfField(fieldAllowPM, PMModerators), cfField(fieldMaxUsers, "75"), cfField(fieldPresenceBcast, "moderator", "participant"),
		cfField(fieldGetMemberList, "moderator"), cfField(fieldPublic, "0"), cfField(fieldPersistent, "1"), cfField(fieldModerated, "1"),
		cfField(fieldMembersOnly, "0"), cfField(fieldPasswordOn, "1"), cfField(fieldSecret, "cauldronburn"),
		cfField(fieldWhois, WhoisModerators), cfField(fieldMaxHistory, "20"), cfField(fieldPubSub, "xmpp:pubsub.example.com?;node=coven"),
		cfField("x-unknown#field", "ignored"))
	f.drainAll()
	want := RoomConfig{Name: "A Dark Cave", Description: "The place for all good witches!", Lang: "en-GB",
		Public: false, Persistent: true, Moderated: true, PasswordProtected: true, Password: "cauldronburn",
		Whois: WhoisModerators, MaxUsers: 75, ChangeSubject: true, AllowPM: PMModerators,
		PresenceBroadcast: []Role{RoleModerator, RoleParticipant}, GetMemberList: []Role{RoleModerator},
		MaxHistoryFetch: 20, AllowInvites: true, PubSub: "xmpp:pubsub.example.com?;node=coven"}
	f.inRoom(testRoom, func(r *room) {
		if !r.cfg.equal(want) {
			t.Errorf("config\n got %+v\nwant %+v", r.cfg, want)
		}
	})
	// A maxusers value outside the offered options is offered back.
	f.send("<iq type='get' id='g' from='" + alice + "' to='" + testRoom + "'><query xmlns='" + NSMUCOwner + "'/></iq>")
	if got := f.user(alice).take(); len(got) != 1 || !strings.Contains(got[0], "<option label='75'><value>75</value></option>") {
		t.Errorf("form after maxusers 75: %q", got)
	}
	// A client that only sets the secret protects the room with it; turning
	// protection off forgets the password.
	f.cfSubmit(alice, "p1", cfField(fieldPasswordOn, "0"))
	f.inRoom(testRoom, func(r *room) {
		if r.cfg.PasswordProtected || r.cfg.Password != "" {
			t.Errorf("password kept: %+v", r.cfg)
		}
	})
	f.cfSubmit(alice, "p2", cfField(fieldSecret, "newsecret"))
	f.inRoom(testRoom, func(r *room) {
		if !r.cfg.PasswordProtected || r.cfg.Password != "newsecret" {
			t.Errorf("secret alone did not protect: %+v", r.cfg)
		}
	})
}

func TestConfigPersistsAcrossRestart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	st, err := data.Open(dir, data.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	f := newFixtureOn(t, st, nil)
	f.createInstant(alice, "first", fieldPersistent, "1", fieldArchiving, "0", fieldGetMemberList, "moderator",
		fieldPubSub, "xmpp:ps.example.com?;node=n", fieldRoomAdmins, "bob@example.com")
	var before RoomConfig
	f.inRoom(testRoom, func(r *room) { before = r.cfg.clone() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.svc.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st2, err := data.Open(dir, data.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st2.Close() })
	f2 := newFixtureOn(t, st2, nil)
	f2.inRoom(testRoom, func(r *room) {
		if !r.cfg.equal(before) || r.cfg.Archiving || r.cfg.PubSub == "" {
			t.Errorf("config after restart\n got %+v\nwant %+v", r.cfg, before)
		}
		if r.affiliation("bob@example.com") != AffAdmin {
			t.Errorf("admin from the form lost: %+v", r.affs)
		}
	})
}

func TestConfigMembersOnlyRemovesNonMembers(t *testing.T) {
	f := twoInRoom(t)
	f.inRoom(testRoom, func(r *room) { _ = r.setAffiliation("carol@example.com", affEntry{Affiliation: AffMember}) })
	f.join(carol, "third")
	f.drainAll()
	f.cfSubmit(alice, "mo", cfField(fieldMembersOnly, "1"))
	gone := func(to string, self bool) string {
		if self {
			return pres(testRoom+"/second", to, "", "unavailable", userX(item("none", "none", bob), "110", "322"))
		}
		return pres(testRoom+"/second", to, "", "unavailable", userX(item("none", "none", bob), "322"))
	}
	// alice is a moderator: she sees bob's JID; carol does not.
	wantStanzas(t, "alice", f.user(alice).take(), cfMessage(alice, "104"), gone(alice, false), cfIQResult("mo", alice))
	wantStanzas(t, "carol", f.user(carol).take(), cfMessage(carol, "104"),
		pres(testRoom+"/second", carol, "", "unavailable", userX(item("none", "none"), "322")))
	wantStanzas(t, "bob", f.user(bob).take(), cfMessage(bob, "104"), gone(bob, true))
	// And he may not come back.
	if got := f.join(bob, "second"); len(got) != 1 || !strings.Contains(got[0], "<registration-required") {
		t.Fatalf("non-member rejoined: %q", got)
	}
}

func TestConfigOwnerAndAdminLists(t *testing.T) {
	f := twoInRoom(t, fieldPersistent, "1")
	// bob becomes admin: moderator, and everyone hears it.
	f.cfSubmit(alice, "a1", cfField(fieldRoomAdmins, "bob@example.com/ignored-resource"), cfField(fieldRoomOwners, "alice@example.com", "carol@example.com"))
	wantStanzas(t, "bob", f.user(bob).take(), cfMessage(bob, "104"),
		pres(testRoom+"/second", bob, "", "", userX(item("admin", "moderator", bob), "110")),
		// A new moderator of a semi-anonymous room now sees real JIDs.
		pres(testRoom+"/first", bob, "", "", userX(item("owner", "moderator", alice))))
	wantStanzas(t, "alice", f.user(alice).take(), cfMessage(alice, "104"),
		pres(testRoom+"/second", alice, "", "", userX(item("admin", "moderator", bob))), cfIQResult("a1", alice))
	ctx := context.Background()
	if v, _, err := f.store.Get(ctx, data.MUCAffiliationKey(testRoom, "carol@example.com")); err != nil || !strings.Contains(string(v), "owner") {
		t.Errorf("carol's ownership not stored: %s %v", v, err)
	}
	// An admin left out of the admin list becomes a member and loses the
	// moderator role; an owner left out of the owner list becomes an admin.
	f.cfSubmit(alice, "a2", cfField(fieldRoomAdmins), cfField(fieldRoomOwners, "alice@example.com"))
	wantStanzas(t, "alice", f.user(alice).take(), cfMessage(alice, "104"),
		pres(testRoom+"/second", alice, "", "", userX(item("member", "participant", bob))), cfIQResult("a2", alice))
	f.inRoom(testRoom, func(r *room) {
		if a := r.affiliation("carol@example.com"); a != AffMember {
			t.Errorf("carol left both lists: %s, want member", a)
		}
	})
	f.cfSubmit(alice, "a3", cfField(fieldRoomOwners, "alice@example.com", "bob@example.com"))
	f.drainAll()
	f.cfSubmit(alice, "a4", cfField(fieldRoomOwners, "alice@example.com"))
	f.inRoom(testRoom, func(r *room) {
		if a := r.affiliation("bob@example.com"); a != AffAdmin {
			t.Errorf("owner left out of the owner list only: %s, want admin", a)
		}
	})
	// alice may hand the room over and step down.
	f.drainAll()
	f.cfSubmit(alice, "a5", cfField(fieldRoomOwners, "bob@example.com"))
	wantStanzas(t, "alice", f.user(alice).take(), cfMessage(alice, "104"),
		pres(testRoom+"/first", alice, "", "", userX(item("admin", "moderator", alice), "110")),
		pres(testRoom+"/second", alice, "", "", userX(item("owner", "moderator", bob))),
		cfIQResult("a5", alice))
}

func TestConfigOptionsEnforced(t *testing.T) {
	t.Run("moderated: newcomers are visitors without voice", func(t *testing.T) {
		f := twoInRoom(t)
		f.cfSubmit(alice, "m", cfField(fieldModerated, "1"))
		f.drainAll()
		got := f.join(carol, "third")
		if len(got) < 3 || !strings.Contains(got[2], "role='visitor'") {
			t.Fatalf("join of a moderated room: %q", got)
		}
		f.send("<message id='v' type='groupchat' from='" + carol + "' to='" + testRoom + "'><body>hi</body></message>")
		wantStanzas(t, "carol", f.user(carol).take(),
			"<message from='"+testRoom+"' id='v' to='"+carol+"' type='error'><body>hi</body><error by='"+testRoom+"' type='auth'>"+
				"<forbidden xmlns='"+xmlstream.NSStanzas+"'/></error></message>")
		// bob entered before: still a participant, still heard.
		f.send("<message id='p' type='groupchat' from='" + bob + "' to='" + testRoom + "'><body>hi</body></message>")
		if got := f.user(carol).take(); len(got) != 1 || !strings.Contains(got[0], "<body>hi</body>") {
			t.Fatalf("participant silenced: %q", got)
		}
	})
	t.Run("maxusers", func(t *testing.T) {
		f := twoInRoom(t)
		f.cfSubmit(alice, "m", cfField(fieldMaxUsers, "2"))
		f.drainAll()
		got := f.join(carol, "third")
		wantStanzas(t, "carol", got, "<presence from='"+testRoom+"/third' to='"+carol+"' type='error'><x xmlns='"+NSMUC+"'/>"+
			"<error by='"+testRoom+"' type='wait'><service-unavailable xmlns='"+xmlstream.NSStanzas+"'/></error></presence>")
	})
	t.Run("password", func(t *testing.T) {
		f := twoInRoom(t)
		f.cfSubmit(alice, "m", cfField(fieldPasswordOn, "1"), cfField(fieldSecret, "cauldronburn"))
		f.drainAll()
		wantStanzas(t, "carol", f.join(carol, "third"), "<presence from='"+testRoom+"/third' to='"+carol+"' type='error'><x xmlns='"+NSMUC+"'/>"+
			"<error by='"+testRoom+"' type='auth'><not-authorized xmlns='"+xmlstream.NSStanzas+"'/></error></presence>")
		c := f.user(carol)
		f.send("<presence from='" + carol + "' to='" + testRoom + "/third'><x xmlns='" + NSMUC + "'><password>cauldronburnt</password></x></presence>")
		if got := c.take(); len(got) != 1 || !strings.Contains(got[0], "<not-authorized") {
			t.Fatalf("wrong password admitted: %q", got)
		}
		f.send("<presence from='" + carol + "' to='" + testRoom + "/third'><x xmlns='" + NSMUC + "'><password>cauldronburn</password></x></presence>")
		if got := c.take(); len(got) != 4 || !strings.Contains(got[2], "<status code='110'/>") {
			t.Fatalf("right password refused: %q", got)
		}
	})
	t.Run("whois anyone: everyone sees real JIDs, 100 on join", func(t *testing.T) {
		f := twoInRoom(t)
		f.cfSubmit(alice, "m", cfField(fieldWhois, WhoisAnyone))
		f.drainAll()
		got := f.join(carol, "third")
		wantStanzas(t, "carol", got,
			pres(testRoom+"/first", carol, "", "", userX(item("owner", "moderator", alice))),
			pres(testRoom+"/second", carol, "", "", userX(item("none", "participant", bob))),
			pres(testRoom+"/third", carol, "", "", userX(item("none", "participant", carol), "100", "110")),
			emptySubject(carol))
		wantStanzas(t, "bob", f.user(bob).take(), pres(testRoom+"/third", bob, "", "", userX(item("none", "participant", carol))))
	})
	t.Run("allowpm none", func(t *testing.T) {
		f := twoInRoom(t)
		f.cfSubmit(alice, "m", cfField(fieldAllowPM, PMNone))
		f.drainAll()
		f.send("<message id='pm' type='chat' from='" + bob + "' to='" + testRoom + "/first'><body>psst</body></message>")
		wantStanzas(t, "bob", f.user(bob).take(),
			"<message from='"+testRoom+"/first' id='pm' to='"+bob+"' type='error'><body>psst</body><error by='"+testRoom+"' type='cancel'>"+
				"<not-allowed xmlns='"+xmlstream.NSStanzas+"'/></error></message>")
	})
	t.Run("changesubject", func(t *testing.T) {
		f := twoInRoom(t)
		f.send("<message id='s1' type='groupchat' from='" + bob + "' to='" + testRoom + "'><subject>mine</subject></message>")
		if got := f.user(bob).take(); len(got) != 1 || !strings.Contains(got[0], "<forbidden") {
			t.Fatalf("participant changed the subject by default: %q", got)
		}
		f.cfSubmit(alice, "m", cfField(fieldChangeSubject, "1"))
		f.drainAll()
		f.send("<message id='s2' type='groupchat' from='" + bob + "' to='" + testRoom + "'><subject>mine</subject></message>")
		if got := f.user(alice).take(); len(got) != 1 || !strings.Contains(got[0], "<subject>mine</subject>") {
			t.Fatalf("changesubject ignored: %q", got)
		}
	})
	t.Run("presencebroadcast", func(t *testing.T) {
		f := twoInRoom(t)
		f.cfSubmit(alice, "m", cfField(fieldPresenceBcast, "moderator"))
		f.drainAll()
		f.join(carol, "third")
		wantStanzas(t, "alice", f.user(alice).take()) // a participant's join is silent
	})
}
