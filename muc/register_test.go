package muc

import (
	"strings"
	"testing"

	"github.com/gavelhq/gavel/xmlstream"
)

func registerGet(from, id string) string {
	return "<iq type='get' id='" + id + "' from='" + from + "' to='" + testRoom + "'><query xmlns='" + NSRegister + "'/></iq>"
}

func registerSet(from, id, form string) string {
	return "<iq type='set' id='" + id + "' from='" + from + "' to='" + testRoom + "'><query xmlns='" + NSRegister + "'>" + form + "</query></iq>"
}

func registerForm(nick string) string {
	return "<x xmlns='jabber:x:data' type='submit'>" + cfField("FORM_TYPE", NSMUCRegister) + cfField(fieldRegisterNick, nick) + "</x>"
}

func reservedNickQuery(from, id string) string {
	return "<iq type='get' id='" + id + "' from='" + from + "' to='" + testRoom + "'><query xmlns='" + NSDiscoInfo + "' node='x-roomuser-item'/></iq>"
}

func TestRegisterWithOpenRoom(t *testing.T) {
	f := twoInRoom(t)
	b := f.user(bob)
	// §7.12 before registering: an empty query.
	f.send(reservedNickQuery(bob, "n0"))
	wantStanzas(t, "bob", b.take(), "<iq from='"+testRoom+"' id='n0' to='"+bob+"' type='result'><query xmlns='"+NSDiscoInfo+"' node='x-roomuser-item'/></iq>")
	// §7.10: the form.
	f.send(registerGet(bob, "r1"))
	wantStanzas(t, "bob", b.take(), "<iq from='"+testRoom+"' id='r1' to='"+bob+"' type='result'><query xmlns='"+NSRegister+"'>"+
		"<instructions>Choose the nickname to reserve in this room.</instructions>"+
		"<x xmlns='jabber:x:data' type='form'><title>coven Registration</title>"+
		"<instructions>Please provide the following information to register with this room.</instructions>"+
		"<field type='hidden' var='FORM_TYPE'><value>"+NSMUCRegister+"</value></field>"+
		"<field label='Desired Nickname' type='text-single' var='muc#register_roomnick'><required/></field></x></query></iq>")
	// Submitting: result, and the room hears bob is a member now.
	f.send(registerSet(bob, "r2", registerForm("thirdwitch")))
	wantStanzas(t, "bob", b.take(),
		"<iq from='"+testRoom+"' id='r2' to='"+bob+"' type='result'/>",
		pres(testRoom+"/second", bob, "", "", userX(item("member", "participant", bob), "110")))
	wantStanzas(t, "alice", f.user(alice).take(), pres(testRoom+"/second", alice, "", "", userX(item("member", "participant", bob))))
	// Registered: <registered/> with the nick; §7.12 names it.
	f.send(registerGet(bob, "r3"))
	wantStanzas(t, "bob", b.take(), "<iq from='"+testRoom+"' id='r3' to='"+bob+"' type='result'><query xmlns='"+NSRegister+"'>"+
		"<registered/><username>thirdwitch</username></query></iq>")
	f.send(reservedNickQuery(bob, "n1"))
	wantStanzas(t, "bob", b.take(), "<iq from='"+testRoom+"' id='n1' to='"+bob+"' type='result'><query xmlns='"+NSDiscoInfo+"' node='x-roomuser-item'>"+
		"<identity category='conference' name='thirdwitch' type='text'/></query></iq>")
	// The nick is bob's: another user may neither register nor use it.
	c := f.user(carol)
	f.send(registerSet(carol, "r4", registerForm("thirdwitch")))
	wantStanzas(t, "carol", c.take(), "<iq from='"+testRoom+"' id='r4' to='"+carol+"' type='error'><error type='cancel'>"+
		"<conflict xmlns='"+xmlstream.NSStanzas+"'/></error></iq>")
	if got := f.join(carol, "thirdwitch"); len(got) != 1 || !strings.Contains(got[0], "<conflict") {
		t.Fatalf("reserved nick taken: %q", got)
	}
	// Nor the nick someone is using in the room.
	f.send(registerSet(carol, "r5", registerForm("first")))
	if got := c.take(); len(got) != 1 || !strings.Contains(got[0], "<conflict") {
		t.Fatalf("registered a nick in use: %q", got)
	}
	// The room advertises registration.
	f.send("<iq type='get' id='i' from='" + carol + "' to='" + testRoom + "'><query xmlns='" + NSDiscoInfo + "'/></iq>")
	if got := c.take(); len(got) != 1 || !strings.Contains(got[0], "<feature var='"+NSRegister+"'/>") {
		t.Fatalf("disco#info: %q", got)
	}
}

func TestRegisterErrors(t *testing.T) {
	cases := []struct {
		name, to, iq, want string
	}{
		{"no such room", "nowhere@" + testService,
			"<iq type='get' id='e' from='" + bob + "' to='nowhere@" + testService + "'><query xmlns='" + NSRegister + "'/></iq>",
			"<error type='cancel'><item-not-found xmlns='" + xmlstream.NSStanzas + "'/></error>"},
		{"outcast", testRoom, registerGet(bob, "e"),
			"<error type='cancel'><not-allowed xmlns='" + xmlstream.NSStanzas + "'/></error>"},
		{"no form", testRoom, registerSet(bob, "e", ""),
			"<error type='modify'><bad-request xmlns='" + xmlstream.NSStanzas + "'/><text xmlns='" + xmlstream.NSStanzas + "'>expected a submitted muc#register form</text></error>"},
		{"wrong FORM_TYPE", testRoom, registerSet(bob, "e", "<x xmlns='jabber:x:data' type='submit'>"+cfField("FORM_TYPE", NSRoomConfig)+"</x>"),
			"<error type='modify'><bad-request xmlns='" + xmlstream.NSStanzas + "'/><text xmlns='" + xmlstream.NSStanzas + "'>FORM_TYPE must be " + NSMUCRegister + "</text></error>"},
		{"no nick", testRoom, registerSet(bob, "e", registerForm("")),
			"<error type='modify'><bad-request xmlns='" + xmlstream.NSStanzas + "'/><text xmlns='" + xmlstream.NSStanzas + "'>muc#register_roomnick is required</text></error>"},
		{"cancel registration", testRoom, registerSet(bob, "e", "<remove/>"),
			"<error type='cancel'><feature-not-implemented xmlns='" + xmlstream.NSStanzas + "'/><text xmlns='" + xmlstream.NSStanzas + "'>cancelling a registration is done by an admin</text></error>"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, nil)
			f.createInstant(alice, "first")
			if c.name == "outcast" {
				f.inRoom(testRoom, func(r *room) { _ = r.setAffiliation("bob@example.com", affEntry{Affiliation: AffOutcast}) })
			}
			b := f.user(bob)
			f.send(c.iq)
			wantStanzas(t, "bob", b.take(), "<iq from='"+c.to+"' id='e' to='"+bob+"' type='error'>"+c.want+"</iq>")
			f.inRoom(testRoom, func(r *room) {
				if a := r.affiliation("bob@example.com"); a == AffMember {
					t.Error("a refused registration made a member")
				}
			})
		})
	}
}

func TestRegisterWithMembersOnlyRoomNeedsApproval(t *testing.T) {
	f := newFixture(t, nil)
	f.createInstant(alice, "first", fieldMembersOnly, "1")
	h := f.user(hecate)
	f.send(registerSet(hecate, "r1", registerForm("thirdwitch")))
	wantStanzas(t, "hecate", h.take(), "<iq from='"+testRoom+"' id='r1' to='"+hecate+"' type='result'/>")
	// §9.9: the owner gets the approval form at her bare JID.
	approval := func(allow string) string {
		return "<x xmlns='jabber:x:data' type='submit'>" + cfField("FORM_TYPE", NSMUCRegister) +
			cfField(fieldRegisterJID, "hecate@example.com") + cfField(fieldRegisterNick, "thirdwitch") + cfField(fieldRegisterAllow, allow) + "</x>"
	}
	wantStanzas(t, "alice", f.user(alice).take(), "<message from='"+testRoom+"' id='*' to='alice@example.com'>"+
		"<x xmlns='jabber:x:data' type='form'><title>Registration request</title>"+
		"<instructions>To approve this registration request, select the \"Allow this person to register with the room?\" checkbox and click OK. To skip this request, click the cancel button.</instructions>"+
		"<field type='hidden' var='FORM_TYPE'><value>"+NSMUCRegister+"</value></field>"+
		"<field label='User ID' type='jid-single' var='muc#jid'><value>hecate@example.com</value></field>"+
		"<field label='Desired Nickname' type='text-single' var='muc#register_roomnick'><value>thirdwitch</value></field>"+
		"<field label='Allow this person to register with the room?' type='boolean' var='muc#register_allow'><value>0</value></field>"+
		"</x></message>")
	f.inRoom(testRoom, func(r *room) {
		if r.affiliation("bob@example.com") != AffNone || r.affiliation("hecate@example.com") != AffNone {
			t.Error("a members-only registration was granted before approval")
		}
		_ = r.setAffiliation("bob@example.com", affEntry{Affiliation: AffMember})
	})
	// Only admins and owners approve.
	b := f.user(bob)
	f.send("<message id='a0' from='" + bob + "' to='" + testRoom + "'>" + approval("1") + "</message>")
	wantStanzas(t, "bob", b.take(), roomMsgError(bob, "a0", approval("1"), "auth", "forbidden", ""))
	// Refusing does nothing; approving makes a member, who is invited.
	f.send("<message id='a1' from='" + alice + "' to='" + testRoom + "'>" + approval("0") + "</message>")
	wantStanzas(t, "hecate", h.take())
	f.send("<message id='a2' from='" + alice + "' to='" + testRoom + "'>" + approval("1") + "</message>")
	wantStanzas(t, "alice", f.user(alice).take())
	if got := h.take(); len(got) != 1 || !strings.Contains(got[0], "<invite from='alice@example.com'") {
		t.Fatalf("approved user not told: %q", got)
	}
	f.inRoom(testRoom, func(r *room) {
		if r.affiliation("hecate@example.com") != AffMember || r.reservedNick("hecate@example.com") != "thirdwitch" {
			t.Errorf("approval not applied: %+v", r.affs["hecate@example.com"])
		}
	})
	if got := f.join(hecate, "thirdwitch"); len(got) < 2 || !strings.Contains(got[len(got)-2], "<status code='110'/>") {
		t.Fatalf("approved member could not enter: %q", got)
	}
}
