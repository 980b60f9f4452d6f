package muc

import (
	"strings"
	"sync"
	"testing"
	"time"
)

// testClock is a settable clock for Options.Now.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func voiceRequest(from, id, role string) string {
	return "<message id='" + id + "' from='" + from + "' to='" + testRoom + "'><x xmlns='jabber:x:data' type='submit'>" +
		cfField("FORM_TYPE", NSMUCRequest) + cfField(fieldRequestRole, role) + "</x></message>"
}

func voiceApproval(from, id, jid, nick, allow string) string {
	return "<message id='" + id + "' from='" + from + "' to='" + testRoom + "'><x xmlns='jabber:x:data' type='submit'>" +
		cfField("FORM_TYPE", NSMUCRequest) + cfField(fieldRequestRole, "participant") + cfField(fieldRequestJID, jid) +
		cfField(fieldRequestNick, nick) + cfField(fieldRequestAllow, allow) + "</x></message>"
}

func TestVoiceRequestAndApproval(t *testing.T) {
	clock := &testClock{t: testNow}
	f := newFixture(t, func(o *Options) { o.Now = clock.now })
	f.createInstant(alice, "first", fieldModerated, "1")
	f.join(bob, "second")
	f.drainAll()
	// §7.13: the visitor asks; §8.6: each moderator gets the approval form.
	f.send(voiceRequest(bob, "yd53c486", "participant"))
	wantStanzas(t, "alice", f.user(alice).take(), "<message from='"+testRoom+"' id='*' to='"+alice+"'>"+
		"<x xmlns='jabber:x:data' type='form'><title>Voice request</title>"+
		"<instructions>To approve this request for voice, select the \"Grant voice to this person?\" checkbox and click OK. To skip this request, click the cancel button.</instructions>"+
		"<field type='hidden' var='FORM_TYPE'><value>"+NSMUCRequest+"</value></field>"+
		"<field label='Requested role' type='list-single' var='muc#role'><value>participant</value></field>"+
		"<field label='User ID' type='jid-single' var='muc#jid'><value>"+bob+"</value></field>"+
		"<field label='Room Nickname' type='text-single' var='muc#roomnick'><value>second</value></field>"+
		"<field label='Grant voice to this person?' type='boolean' var='muc#request_allow'><value>false</value></field>"+
		"</x></message>")
	wantStanzas(t, "bob", f.user(bob).take())

	// Asking again at once is refused; after the interval it is allowed.
	f.send(voiceRequest(bob, "again", "participant"))
	wantStanzas(t, "bob", f.user(bob).take(), roomMsgError(bob, "again",
		"<x xmlns='jabber:x:data' type='submit'>"+cfField("FORM_TYPE", NSMUCRequest)+cfField(fieldRequestRole, "participant")+"</x>",
		"wait", "resource-constraint", "wait before asking for voice again"))
	wantStanzas(t, "alice", f.user(alice).take())
	clock.advance(voiceRequestInterval)
	f.send(voiceRequest(bob, "later", "participant"))
	if got := f.user(alice).take(); len(got) != 1 || !strings.Contains(got[0], "Voice request") {
		t.Fatalf("request after the interval: %q", got)
	}

	// Declining (allow false) or skipping (cancel) changes nothing.
	f.send(voiceApproval(alice, "no", bob, "second", "false"))
	f.send("<message id='skip' from='" + alice + "' to='" + testRoom + "'><x xmlns='jabber:x:data' type='cancel'/></message>")
	wantStanzas(t, "bob", f.user(bob).take())
	wantStanzas(t, "alice", f.user(alice).take())

	// Approval: §8.3 presence with the new role to everyone.
	f.send(voiceApproval(alice, "approve", bob, "second", "true"))
	wantStanzas(t, "bob", f.user(bob).take(), pres(testRoom+"/second", bob, "", "", userX(item("none", "participant", bob), "110")))
	wantStanzas(t, "alice", f.user(alice).take(), pres(testRoom+"/second", alice, "", "", userX(item("none", "participant", bob))))
	f.send("<message id='speak' type='groupchat' from='" + bob + "' to='" + testRoom + "'><body>thanks</body></message>")
	if got := f.user(alice).take(); len(got) != 1 || !strings.Contains(got[0], "<body>thanks</body>") {
		t.Fatalf("voice not granted: %q", got)
	}
	// Approving again is harmless: nothing is sent.
	f.drainAll()
	f.send(voiceApproval(alice, "twice", bob, "second", "1"))
	wantStanzas(t, "bob", f.user(bob).take())
	wantStanzas(t, "alice", f.user(alice).take())
}

func TestVoiceErrors(t *testing.T) {
	reqX := func(role string) string {
		return "<x xmlns='jabber:x:data' type='submit'>" + cfField("FORM_TYPE", NSMUCRequest) + cfField(fieldRequestRole, role) + "</x>"
	}
	apprX := func(jid, nick, allow string) string {
		return "<x xmlns='jabber:x:data' type='submit'>" + cfField("FORM_TYPE", NSMUCRequest) + cfField(fieldRequestRole, "participant") +
			cfField(fieldRequestJID, jid) + cfField(fieldRequestNick, nick) + cfField(fieldRequestAllow, allow) + "</x>"
	}
	cases := []struct {
		name, from, x, typ, cond, text string
	}{
		{"participant asks", carol, reqX("participant"), "cancel", "not-allowed", ""},
		{"non-occupant asks", hecate, reqX("participant"), "cancel", "not-acceptable", ""},
		{"asks for moderator", bob, reqX("moderator"), "modify", "bad-request", "a voice request asks for muc#role participant"},
		{"visitor approves", bob, apprX(bob, "second", "true"), "auth", "forbidden", ""},
		{"unknown nick", alice, apprX(bob, "nobody", "true"), "cancel", "item-not-found", ""},
		{"nick of someone else", alice, apprX(carol, "second", "true"), "cancel", "item-not-found", ""},
		{"bad boolean", alice, apprX(bob, "second", "maybe"), "modify", "bad-request", "muc#request_allow must be a boolean"},
		{"unknown form", alice, "<x xmlns='jabber:x:data' type='submit'>" + cfField("FORM_TYPE", "urn:x") + "</x>", "modify", "bad-request", "unknown FORM_TYPE"},
		{"form not submitted", alice, "<x xmlns='jabber:x:data' type='form'/>", "modify", "bad-request", "a form sent to the room must be a submit"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, nil)
			f.createInstant(alice, "first", fieldModerated, "1")
			f.join(bob, "second")
			f.inRoom(testRoom, func(r *room) { _ = r.setAffiliation("carol@example.com", affEntry{Affiliation: AffMember}) })
			f.join(carol, "third")
			u := f.user(c.from)
			f.drainAll()
			f.send("<message id='v' from='" + c.from + "' to='" + testRoom + "'>" + c.x + "</message>")
			wantStanzas(t, c.from, u.take(), roomMsgError(c.from, "v", c.x, c.typ, c.cond, c.text))
			for _, other := range []string{alice, bob, carol} {
				if other != c.from {
					wantStanzas(t, other, f.user(other).take())
				}
			}
			f.inRoom(testRoom, func(r *room) {
				if r.occupants["second"].role != RoleVisitor {
					t.Error("a refused request changed bob's role")
				}
			})
		})
	}
}
