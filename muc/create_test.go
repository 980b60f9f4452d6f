package muc

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gavelhq/gavel/data"
)

func TestReservedRoomConfiguration(t *testing.T) {
	f := newFixture(t, nil)
	f.join(alice, "first")
	a := f.user(alice)
	// §10.1.3: the form, with the current (default) values.
	f.send("<iq type='get' id='g1' from='" + alice + "' to='" + testRoom + "'><query xmlns='" + NSMUCOwner + "'/></iq>")
	got := a.take()
	if len(got) != 1 || !strings.Contains(got[0], "type='result'") ||
		!strings.Contains(got[0], "<field label='Make Room Persistent?' type='boolean' var='muc#roomconfig_persistentroom'><value>0</value></field>") ||
		!strings.Contains(got[0], "<value>"+NSRoomConfig+"</value>") {
		t.Fatalf("config form: %q", got)
	}
	// Unacceptable values are refused and the room stays locked.
	f.send("<iq type='set' id='s1' from='" + alice + "' to='" + testRoom + "'><query xmlns='" + NSMUCOwner + "'><x xmlns='jabber:x:data' type='submit'>" +
		"<field var='muc#roomconfig_passwordprotectedroom'><value>1</value></field></x></query></iq>")
	if got := a.take(); len(got) != 1 || !strings.Contains(got[0], "<not-acceptable") || !strings.Contains(got[0], "type='modify'") {
		t.Fatalf("password without secret: %q", got)
	}
	// Only owners configure.
	b := f.user(bob)
	f.send("<iq type='get' id='g2' from='" + bob + "' to='" + testRoom + "'><query xmlns='" + NSMUCOwner + "'/></iq>")
	if got := b.take(); len(got) != 1 || !strings.Contains(got[0], "<forbidden") {
		t.Fatalf("non-owner: %q", got)
	}
	f.send("<iq type='set' id='s2' from='" + alice + "' to='" + testRoom + "'><query xmlns='" + NSMUCOwner + "'><x xmlns='jabber:x:data' type='submit'>" +
		"<field var='FORM_TYPE'><value>" + NSRoomConfig + "</value></field>" +
		"<field var='muc#roomconfig_roomname'><value>A Dark Cave</value></field>" +
		"<field var='muc#roomconfig_persistentroom'><value>1</value></field>" +
		"<field var='muc#roomconfig_membersonly'><value>true</value></field>" +
		"<field var='muc#roomconfig_maxusers'><value>30</value></field></x></query></iq>")
	wantStanzas(t, "alice", a.take(), "<iq from='"+testRoom+"' id='s2' to='"+alice+"' type='result'/>")
	f.inRoom(testRoom, func(r *room) {
		if r.locked || r.cfg.Name != "A Dark Cave" || !r.cfg.Persistent || !r.cfg.MembersOnly || r.cfg.MaxUsers != 30 {
			t.Errorf("config not applied: locked=%v %+v", r.locked, r.cfg)
		}
	})
	// Persistent: document, owner affiliation and public index are stored.
	ctx := context.Background()
	if _, _, err := f.store.Get(ctx, data.MUCRoomKey(testRoom)); err != nil {
		t.Errorf("room document: %v", err)
	}
	if v, _, err := f.store.Get(ctx, data.MUCAffiliationKey(testRoom, "alice@example.com")); err != nil || !strings.Contains(string(v), "owner") {
		t.Errorf("owner affiliation: %s %v", v, err)
	}
	// A later change notifies occupants with 104 (and 172 for whois).
	f.send("<iq type='set' id='s3' from='" + alice + "' to='" + testRoom + "'><query xmlns='" + NSMUCOwner + "'><x xmlns='jabber:x:data' type='submit'>" +
		"<field var='muc#roomconfig_whois'><value>anyone</value></field></x></query></iq>")
	wantStanzas(t, "alice", a.take(),
		"<message from='"+testRoom+"' id='*' to='"+alice+"' type='groupchat'>"+userX("", "104", "172")+"</message>",
		"<iq from='"+testRoom+"' id='s3' to='"+alice+"' type='result'/>")
}

func TestCancelInitialConfigurationDestroysRoom(t *testing.T) {
	f := newFixture(t, nil)
	f.join(alice, "first")
	f.send("<iq type='set' id='c' from='" + alice + "' to='" + testRoom + "'><query xmlns='" + NSMUCOwner + "'><x xmlns='jabber:x:data' type='cancel'/></query></iq>")
	wantStanzas(t, "alice", f.user(alice).take(),
		pres(testRoom+"/first", alice, "", "unavailable", userX(item("none", "none")+"<destroy/>")),
		"<iq from='"+testRoom+"' id='c' to='"+alice+"' type='result'/>")
	// It is gone: the next join creates it anew.
	if got := f.join(bob, "x"); !strings.Contains(got[0], "<status code='201'/>") {
		t.Fatalf("after cancel: %q", got)
	}
}

func TestOwnerLeavingLockedRoomDestroysIt(t *testing.T) {
	f := newFixture(t, nil)
	f.join(alice, "first")
	f.send("<presence type='unavailable' from='" + alice + "' to='" + testRoom + "/first'/>")
	if got := f.join(bob, "x"); !strings.Contains(got[0], "<status code='201'/>") {
		t.Fatalf("locked room survived its owner: %q", got)
	}
}

func TestDestroy(t *testing.T) {
	f := twoInRoom(t, fieldPersistent, "1")
	// Only the owner (§10.9).
	f.send("<iq type='set' id='d1' from='" + bob + "' to='" + testRoom + "'><query xmlns='" + NSMUCOwner + "'><destroy/></query></iq>")
	if got := f.user(bob).take(); len(got) != 1 || !strings.Contains(got[0], "<forbidden") || !strings.Contains(got[0], "type='auth'") {
		t.Fatalf("non-owner destroy: %q", got)
	}
	f.send("<message id='m' type='groupchat' from='" + bob + "' to='" + testRoom + "'><body>x</body></message>")
	f.drainAll()
	f.send("<iq type='set' id='d2' from='" + alice + "' to='" + testRoom + "'><query xmlns='" + NSMUCOwner + "'>" +
		"<destroy jid='heath@" + testService + "'><reason>Macbeth doth come.</reason></destroy></query></iq>")
	destroyX := userX(item("none", "none") + "<destroy jid='heath@" + testService + "'><reason>Macbeth doth come.</reason></destroy>")
	wantStanzas(t, "bob", f.user(bob).take(), pres(testRoom+"/second", bob, "", "unavailable", destroyX))
	wantStanzas(t, "alice", f.user(alice).take(),
		pres(testRoom+"/first", alice, "", "unavailable", destroyX),
		"<iq from='"+testRoom+"' id='d2' to='"+alice+"' type='result'/>")
	// Nothing is left in the Store.
	ctx := context.Background()
	for _, k := range [][]byte{data.MUCRoomKey(testRoom), data.MUCAffiliationKey(testRoom, "alice@example.com"),
		data.MUCPublicKey(testRoom), data.MUCCreatorKey("alice@example.com", testRoom)} {
		if _, _, err := f.store.Get(ctx, k); !errors.Is(err, data.ErrNotFound) {
			t.Errorf("%s survived: %v", k, err)
		}
	}
	if last, _, _ := f.store.Last(ctx, data.MUCHistoryStream(testRoom)); last != 0 {
		t.Errorf("history survived: last %d", last)
	}
}

func TestTemporaryRoomEndsWithLastOccupant(t *testing.T) {
	f := twoInRoom(t)
	f.send("<message id='m' type='groupchat' from='" + bob + "' to='" + testRoom + "'><body>x</body></message>")
	f.send("<presence type='unavailable' from='" + bob + "' to='" + testRoom + "/second'/>")
	f.send("<presence type='unavailable' from='" + alice + "' to='" + testRoom + "/first'/>")
	ctx := context.Background()
	if last, _, _ := f.store.Last(ctx, data.MUCHistoryStream(testRoom)); last != 0 {
		t.Errorf("history of a temporary room survived it: %d", last)
	}
	// It no longer exists: a message is item-not-found, a join creates it.
	c := f.user(carol)
	f.send("<message id='m2' type='groupchat' from='" + carol + "' to='" + testRoom + "'><body>x</body></message>")
	if got := c.take(); len(got) != 1 || !strings.Contains(got[0], "<item-not-found") {
		t.Fatalf("message to ended room: %q", got)
	}
	if got := f.join(carol, "c"); !strings.Contains(got[0], "<status code='201'/>") {
		t.Fatalf("join after end: %q", got)
	}
}
