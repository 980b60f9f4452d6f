package muc

import (
	"strings"
	"testing"

	"github.com/gavelhq/gavel/xmlstream"
)

const hecate = "hecate@example.com/broom"

// roomMsgError is the error answer of the room to a message to the room
// JID carrying payload.
func roomMsgError(to, id, payload, typ, cond, text string) string {
	s := "<message from='" + testRoom + "' id='" + id + "' to='" + to + "' type='error'>" + payload +
		"<error by='" + testRoom + "' type='" + typ + "'><" + cond + " xmlns='" + xmlstream.NSStanzas + "'/>"
	if text != "" {
		s += "<text xmlns='" + xmlstream.NSStanzas + "'>" + text + "</text>"
	}
	return s + "</error></message>"
}

func inviteX(inner string) string { return "<x xmlns='" + NSMUCUser + "'>" + inner + "</x>" }

func TestMediatedInvitation(t *testing.T) {
	f := twoInRoom(t, fieldPasswordOn, "1", fieldSecret, "cauldronburn")
	d := f.user(hecate)
	// §7.8.2: from the room, the inviter's JID added, the password added.
	f.send("<message id='nzd143v8' from='" + alice + "' to='" + testRoom + "'>" +
		inviteX("<invite to='hecate@example.com'><reason>Hey Hecate, this is the place for all good witches!</reason></invite>") + "</message>")
	wantStanzas(t, "hecate", d.take(),
		"<message from='"+testRoom+"' id='nzd143v8' to='hecate@example.com'>"+
			inviteX("<invite from='"+alice+"'><reason>Hey Hecate, this is the place for all good witches!</reason></invite>"+
				"<password>cauldronburn</password>")+"</message>")
	wantStanzas(t, "alice", f.user(alice).take()) // no answer on success
	wantStanzas(t, "bob", f.user(bob).take())     // nobody else hears of it

	// §7.9: several invitees in one message, each with its own id; the
	// <continue/> is passed on; type='normal' is a normal message.
	e := f.user("erin@example.com/cauldron")
	f.send("<message id='gl3s85n7' type='normal' from='" + alice + "' to='" + testRoom + "'>" + inviteX(
		"<invite to='"+hecate+"'><reason>This coven needs both.</reason><continue thread='e0ffe42b'/></invite>"+
			"<invite to='erin@example.com'><continue/></invite>") + "</message>")
	wantStanzas(t, "hecate", d.take(), "<message from='"+testRoom+"' id='*' to='"+hecate+"'>"+
		inviteX("<invite from='"+alice+"'><reason>This coven needs both.</reason><continue thread='e0ffe42b'/></invite>"+
			"<password>cauldronburn</password>")+"</message>")
	wantStanzas(t, "erin", e.take(), "<message from='"+testRoom+"' id='*' to='erin@example.com'>"+
		inviteX("<invite from='"+alice+"'><continue/></invite><password>cauldronburn</password>")+"</message>")
}

func TestInvitationPolicy(t *testing.T) {
	invite := func(f *fixture, from, id, to string) {
		f.send("<message id='" + id + "' from='" + from + "' to='" + testRoom + "'>" + inviteX("<invite to='"+to+"'/>") + "</message>")
	}
	t.Run("open room: participants only if allowinvites", func(t *testing.T) {
		f := twoInRoom(t)
		d := f.user(hecate)
		invite(f, bob, "i1", "hecate@example.com")
		wantStanzas(t, "bob", f.user(bob).take(),
			roomMsgError(bob, "i1", inviteX("<invite to='hecate@example.com'/>"), "auth", "forbidden", ""))
		wantStanzas(t, "hecate", d.take())
		f.cfSubmit(alice, "c", cfField(fieldAllowInvites, "1"))
		f.drainAll()
		invite(f, bob, "i2", "hecate@example.com")
		wantStanzas(t, "hecate", d.take(), "<message from='"+testRoom+"' id='i2' to='hecate@example.com'>"+
			inviteX("<invite from='"+bob+"'/>")+"</message>")
	})
	t.Run("non-occupants may not invite", func(t *testing.T) {
		f := twoInRoom(t, fieldAllowInvites, "1")
		c := f.user(carol)
		invite(f, carol, "i3", "hecate@example.com")
		wantStanzas(t, "carol", c.take(),
			roomMsgError(carol, "i3", inviteX("<invite to='hecate@example.com'/>"), "cancel", "not-acceptable", ""))
	})
	t.Run("members-only: an admin's invitation makes a member", func(t *testing.T) {
		f := twoInRoom(t, fieldMembersOnly, "1")
		d := f.user(hecate)
		invite(f, alice, "i4", "hecate@example.com")
		if got := d.take(); len(got) != 1 || !strings.Contains(got[0], "<invite from='"+alice+"'/>") {
			t.Fatalf("invitation: %q", got)
		}
		f.inRoom(testRoom, func(r *room) {
			if a := r.affiliation("hecate@example.com"); a != AffMember {
				t.Errorf("invitee is %s, want member", a)
			}
		})
		if got := f.join(hecate, "fourth"); len(got) < 3 || !strings.Contains(got[len(got)-2], "<status code='110'/>") {
			t.Fatalf("invited member could not enter: %q", got)
		}
	})
	t.Run("members-only: members invite only if allowinvites", func(t *testing.T) {
		f := newFixture(t, nil)
		f.createInstant(alice, "first", fieldMembersOnly, "1")
		f.inRoom(testRoom, func(r *room) { _ = r.setAffiliation("bob@example.com", affEntry{Affiliation: AffMember}) })
		f.join(bob, "second")
		// Even as a moderator, a member may not add members.
		f.inRoom(testRoom, func(r *room) { r.occupants["second"].role = RoleModerator })
		f.drainAll()
		invite(f, bob, "i5", "hecate@example.com")
		wantStanzas(t, "bob", f.user(bob).take(),
			roomMsgError(bob, "i5", inviteX("<invite to='hecate@example.com'/>"), "auth", "forbidden", ""))
		f.cfSubmit(alice, "c", cfField(fieldAllowInvites, "1"))
		f.drainAll()
		invite(f, bob, "i6", "hecate@example.com")
		f.inRoom(testRoom, func(r *room) {
			if a := r.affiliation("hecate@example.com"); a != AffMember {
				t.Errorf("invitee is %s, want member", a)
			}
		})
	})
}

func TestInvitationErrors(t *testing.T) {
	cases := []struct {
		name, typ, x, errType, cond, text string
	}{
		{"no to", "", inviteX("<invite/>"), "modify", "bad-request", "an invitation needs 'to'"},
		{"malformed to", "", inviteX("<invite to='@x'/>"), "modify", "jid-malformed", ""},
		{"type chat", "chat", inviteX("<invite to='hecate@example.com'/>"), "modify", "bad-request", "requests to the room are messages of type normal"},
		{"invite and decline", "", inviteX("<invite to='hecate@example.com'/><decline to='hecate@example.com'/>"), "modify", "bad-request", "expected invitations or one decline"},
		{"nothing to do", "", inviteX("<item/>"), "modify", "bad-request", "expected invitations or one decline"},
		{"too many", "", inviteX(strings.Repeat("<invite to='hecate@example.com'/>", maxInvitesPerMessage+1)), "modify", "not-acceptable", "too many invitations in one message"},
		{"reason too long", "", inviteX("<invite to='hecate@example.com'><reason>" + strings.Repeat("r", maxInviteReasonLen+1) + "</reason></invite>"), "modify", "not-acceptable", "the reason is too long"},
		{"decline without to", "", inviteX("<decline/>"), "modify", "bad-request", "a decline needs 'to'"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := twoInRoom(t)
			d := f.user(hecate)
			typ := ""
			if c.typ != "" {
				typ = " type='" + c.typ + "'"
			}
			f.send("<message id='e'" + typ + " from='" + alice + "' to='" + testRoom + "'>" + c.x + "</message>")
			wantStanzas(t, "alice", f.user(alice).take(), roomMsgError(alice, "e", c.x, c.errType, c.cond, c.text))
			wantStanzas(t, "hecate", d.take())
		})
	}
}

func TestDecline(t *testing.T) {
	f := twoInRoom(t)
	d := f.user(hecate)
	// §7.8.2: to the inviter's bare JID: the room finds its session.
	f.send("<message id='jk2vs61v' from='" + hecate + "' to='" + testRoom + "'>" +
		inviteX("<decline to='alice@example.com'><reason>Sorry, I'm too busy right now.</reason></decline>") + "</message>")
	wantStanzas(t, "alice", f.user(alice).take(), "<message from='"+testRoom+"' id='jk2vs61v' to='"+alice+"'>"+
		inviteX("<decline from='hecate@example.com'><reason>Sorry, I'm too busy right now.</reason></decline>")+"</message>")
	wantStanzas(t, "hecate", d.take())
	wantStanzas(t, "bob", f.user(bob).take())
	// An inviter who left gets it at the address the decline names.
	e := f.user("erin@example.com/cauldron")
	f.send("<message id='d2' from='" + hecate + "' to='" + testRoom + "'>" + inviteX("<decline to='erin@example.com/cauldron'/>") + "</message>")
	wantStanzas(t, "erin", e.take(), "<message from='"+testRoom+"' id='d2' to='erin@example.com/cauldron'>"+
		inviteX("<decline from='hecate@example.com'/>")+"</message>")
	// Malformed: jid-malformed.
	f.send("<message id='d3' from='" + hecate + "' to='" + testRoom + "'>" + inviteX("<decline to='a@b@c'/>") + "</message>")
	wantStanzas(t, "hecate", d.take(), roomMsgError(hecate, "d3", inviteX("<decline to='a@b@c'/>"), "modify", "jid-malformed", ""))
}

// TestDirectInvitationUntouched: XEP-0249 invitations are client to
// client; one a client puts in a room message is reflected as it is.
func TestDirectInvitationUntouched(t *testing.T) {
	f := twoInRoom(t)
	direct := "<x xmlns='jabber:x:conference' jid='darkcave@" + testService + "' password='cauldronburn' reason='Hey Hecate'/>"
	f.send("<message id='pm' type='chat' from='" + bob + "' to='" + testRoom + "/first'>" + direct + "</message>")
	wantStanzas(t, "alice", f.user(alice).take(),
		"<message from='"+testRoom+"/second' id='pm' to='"+alice+"' type='chat'>"+direct+oid+"<x xmlns='"+NSMUCUser+"'/></message>")
	f.send("<message id='gc' type='groupchat' from='" + bob + "' to='" + testRoom + "'>" + direct + "</message>")
	wantStanzas(t, "alice", f.user(alice).take(),
		"<message from='"+testRoom+"/second' id='gc' to='"+alice+"' type='groupchat'>"+direct+oid+"</message>")
	f.drainAll()
	// Sent to the room itself it is no MUC request: bad-request (§17.2 rule 1).
	f.send("<message id='n' from='" + bob + "' to='" + testRoom + "'>" + direct + "</message>")
	if got := f.user(bob).take(); len(got) != 1 || !strings.Contains(got[0], "<bad-request") {
		t.Fatalf("direct invitation to the room: %q", got)
	}
}
