package muc

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/gavelhq/gavel/data"
	"github.com/gavelhq/gavel/mam"
	"github.com/gavelhq/gavel/xmlstream"
)

func TestGroupchatReflectedWithStanzaIDAndArchivedFirst(t *testing.T) {
	f := twoInRoom(t)
	f.send("<message id='hysf1v37' type='groupchat' from='" + bob + "' to='" + testRoom + "'><body>tis time</body>" +
		"<stanza-id xmlns='" + NSStanzaID + "' by='" + testRoom + "' id='forged'/><occupant-id xmlns='" + NSOccupantID + "' id='forged'/>" +
		// An id claimed in a recipient's name is dropped too.
		"<stanza-id xmlns='" + NSStanzaID + "' by='" + alice + "' id='forged2'/></message>")
	want := func(to string) string {
		return "<message from='" + testRoom + "/second' id='hysf1v37' to='" + to + "' type='groupchat'><body>tis time</body>" +
			oid + "<stanza-id xmlns='" + NSStanzaID + "' by='" + testRoom + "' id='*'/></message>"
	}
	a := f.user(alice).takeRaw()
	b := f.user(bob).takeRaw()
	if len(a) != 1 || len(b) != 1 {
		t.Fatalf("got %d and %d messages", len(a), len(b))
	}
	wantStanzas(t, "alice", []string{canonicalStanza(a[0])}, want(alice))
	wantStanzas(t, "bob", []string{canonicalStanza(b[0])}, want(bob))
	// The stanza-id names the log entry, which holds the same message.
	el, _ := a[0].Element()
	sid := el.Child(NSStanzaID, "stanza-id").Attr("id")
	seq, nonce, ok := mam.ParseID(sid)
	if !ok || seq != 1 {
		t.Fatalf("stanza-id %q: seq %d", sid, seq)
	}
	entries, err := f.store.Read(context.Background(), data.MUCHistoryStream(testRoom), 1, 0)
	if err != nil || len(entries) != 1 {
		t.Fatalf("log: %v %d entries", err, len(entries))
	}
	rec, err := decodeHistoryRecord(entries[0].Data)
	if err != nil || rec.nonce != nonce || rec.bare != "bob@example.com" || rec.nick != "second" {
		t.Fatalf("record %+v %v", rec, err)
	}
	if !strings.Contains(string(rec.raw), "tis time") || strings.Contains(string(rec.raw), "forged") {
		t.Fatalf("archived %s", rec.raw)
	}
	// The occupant-id is the same for alice and bob and stable for bob.
	if got, want := el.Child(NSOccupantID, "occupant-id").Attr("id"), oidOf(f, "bob@example.com"); got != want {
		t.Errorf("occupant-id %q, want %q", got, want)
	}
}

func oidOf(f *fixture, bare string) string {
	var id string
	f.inRoom(testRoom, func(r *room) { id = r.occupantID(bare) })
	return id
}

func TestGroupchatErrors(t *testing.T) {
	f := twoInRoom(t, fieldModerated, "1")
	c := f.user(carol)
	cases := []struct {
		name, from, raw, want string
	}{
		{"non-occupant", carol, "<message id='x' type='groupchat' from='" + carol + "' to='" + testRoom + "'><body>hi</body></message>",
			"<message from='" + testRoom + "' id='x' to='" + carol + "' type='error'><body>hi</body><error by='" + testRoom + "' type='cancel'><not-acceptable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>"},
		{"wrong type", carol, "<message id='x' type='chat' from='" + carol + "' to='" + testRoom + "'><body>hi</body></message>",
			"<message from='" + testRoom + "' id='x' to='" + carol + "' type='error'><body>hi</body><error type='modify'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>messages to the room must be of type groupchat</text></error></message>"},
		{"no such room", carol, "<message id='x' type='groupchat' from='" + carol + "' to='nope@" + testService + "'><body>hi</body></message>",
			"<message from='nope@" + testService + "' id='x' to='" + carol + "' type='error'><body>hi</body><error by='nope@" + testService + "' type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f.send(tc.raw)
			wantStanzas(t, "carol", c.take(), tc.want)
		})
	}
	// A visitor in a moderated room has no voice (§7.4).
	f.join(carol, "third")
	f.drainAll()
	f.send("<message id='v' type='groupchat' from='" + carol + "' to='" + testRoom + "'><body>hi</body></message>")
	wantStanzas(t, "carol", c.take(),
		"<message from='"+testRoom+"' id='v' to='"+carol+"' type='error'><body>hi</body><error by='"+testRoom+"' type='auth'><forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>")
	wantStanzas(t, "alice", f.user(alice).take())
}

func TestSubject(t *testing.T) {
	f := twoInRoom(t)
	// A participant may not change it by default (§8.1).
	f.send("<message id='s1' type='groupchat' from='" + bob + "' to='" + testRoom + "'><subject>mine</subject></message>")
	wantStanzas(t, "bob", f.user(bob).take(),
		"<message from='"+testRoom+"' id='s1' to='"+bob+"' type='error'><subject>mine</subject><error by='"+testRoom+"' type='auth'><forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>")
	// The moderator can; everyone sees it from her occupant JID.
	f.send("<message id='s2' type='groupchat' from='" + alice + "' to='" + testRoom + "'><subject>Fire Burn</subject></message>")
	want := func(to string) string {
		return "<message from='" + testRoom + "/first' id='s2' to='" + to + "' type='groupchat'><subject>Fire Burn</subject>" + oid + "</message>"
	}
	wantStanzas(t, "bob", f.user(bob).take(), want(bob))
	wantStanzas(t, "alice", f.user(alice).take(), want(alice))
	// A newcomer gets it last, with a delay stamp.
	got := f.join(carol, "third")
	wantStanzas(t, "carol", got[len(got)-1:],
		"<message from='"+testRoom+"/first' id='*' to='"+carol+"' type='groupchat'><subject>Fire Burn</subject>"+
			"<delay xmlns='"+NSDelay+"' from='"+testRoom+"' stamp='2026-03-01T12:00:00.000Z'/></message>")
	// A message with subject AND body is a normal message, not a change.
	f.drainAll()
	f.send("<message id='s3' type='groupchat' from='" + bob + "' to='" + testRoom + "'><subject>x</subject><body>b</body></message>")
	if got := f.user(alice).take(); len(got) != 1 || !strings.Contains(got[0], "<body>b</body>") {
		t.Fatalf("subject+body: %q", got)
	}
	f.inRoom(testRoom, func(r *room) {
		if r.subject.Text != "Fire Burn" {
			t.Errorf("subject changed to %q", r.subject.Text)
		}
	})
}

func TestPrivateMessages(t *testing.T) {
	f := twoInRoom(t)
	f.send("<message id='p1' type='chat' from='" + bob + "' to='" + testRoom + "/first'><body>psst</body></message>")
	wantStanzas(t, "alice", f.user(alice).take(),
		"<message from='"+testRoom+"/second' id='p1' to='"+alice+"' type='chat'><body>psst</body>"+oid+"<x xmlns='"+NSMUCUser+"'/></message>")
	errMsg := func(to, id, typ, cond, body string) string {
		return "<message from='" + to + "' id='" + id + "' to='" + bob + "' type='error'><body>" + body + "</body><error by='" + testRoom + "' type='" + typ + "'><" + cond + " xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>"
	}
	f.send("<message id='p2' type='groupchat' from='" + bob + "' to='" + testRoom + "/first'><body>x</body></message>")
	wantStanzas(t, "bob", f.user(bob).take(), errMsg(testRoom+"/first", "p2", "modify", "bad-request", "x"))
	f.send("<message id='p3' type='chat' from='" + bob + "' to='" + testRoom + "/nobody'><body>x</body></message>")
	wantStanzas(t, "bob", f.user(bob).take(), errMsg(testRoom+"/nobody", "p3", "cancel", "item-not-found", "x"))
	f.inRoom(testRoom, func(r *room) { r.cfg.AllowPM = PMModerators })
	f.send("<message id='p4' type='chat' from='" + bob + "' to='" + testRoom + "/first'><body>x</body></message>")
	wantStanzas(t, "bob", f.user(bob).take(), errMsg(testRoom+"/first", "p4", "cancel", "not-allowed", "x"))
	wantStanzas(t, "alice", f.user(alice).take())
}

func TestHistoryLimits(t *testing.T) {
	f := twoInRoom(t)
	for i := 1; i <= 30; i++ {
		f.send("<message id='h" + strconv.Itoa(i) + "' type='groupchat' from='" + bob + "' to='" + testRoom + "'><body>m" + strconv.Itoa(i) + "</body></message>")
	}
	bodies := func(got []string) []string {
		var out []string
		for _, g := range got {
			if i := strings.Index(g, "<body>"); i >= 0 {
				if !strings.Contains(g, "<delay xmlns='"+NSDelay+"' from='"+testRoom+"' stamp='*'/>") {
					t.Errorf("history without delay: %s", g)
				}
				out = append(out, g[i+6:strings.Index(g, "</body>")])
			}
		}
		return out
	}
	joinWith := func(history string) []string {
		f.send("<presence type='unavailable' from='" + carol + "' to='" + testRoom + "/third'/>")
		c := f.user(carol)
		c.take()
		f.send("<presence from='" + carol + "' to='" + testRoom + "/third'><x xmlns='" + NSMUC + "'>" + history + "</x></presence>")
		got := c.take()
		// Order: 2 presences, self, history..., subject.
		if !strings.Contains(got[2], "<status code='110'/>") || !strings.Contains(got[len(got)-1], "<subject/>") {
			t.Fatalf("join order with history: %q", got)
		}
		return bodies(got)
	}
	if got := joinWith(""); len(got) != 30 || got[0] != "m1" || got[29] != "m30" {
		t.Errorf("default history: %q", got)
	}
	if got := joinWith("<history maxstanzas='3'/>"); strings.Join(got, ",") != "m28,m29,m30" {
		t.Errorf("maxstanzas=3: %q", got)
	}
	if got := joinWith("<history maxchars='0'/>"); len(got) != 0 {
		t.Errorf("maxchars=0: %q", got)
	}
	// maxchars counts whole stanzas as sent: room for exactly two.
	var size int
	f.inRoom(testRoom, func(r *room) {
		entries, _ := f.store.ReadBack(context.Background(), data.MUCHistoryStream(testRoom), data.AnySeq, 2)
		for _, e := range entries {
			rec, _ := decodeHistoryRecord(e.Data)
			el, _ := xmlstream.ParseElement(rec.raw, xmlstream.NSClient, xmlstream.Limits{})
			el.Append(delayElement(testRoom, testNow))
			size += len(newTemplate(el).stanza(newSession(carol, nil, nil)).Raw)
		}
	})
	if got := joinWith("<history maxchars='" + strconv.Itoa(size+5) + "'/>"); strings.Join(got, ",") != "m29,m30" {
		t.Errorf("maxchars for two: %q", got)
	}
	if got := joinWith("<history since='2999-01-01T00:00:00Z'/>"); len(got) != 0 {
		t.Errorf("since the future: %q", got)
	}
	if got := joinWith("<history since='1970-01-01T00:00:00Z' maxstanzas='2'/>"); strings.Join(got, ",") != "m29,m30" {
		t.Errorf("since epoch, 2: %q", got)
	}
	// The room's muc#maxhistoryfetch caps everything.
	f.inRoom(testRoom, func(r *room) { r.cfg.MaxHistoryFetch = 4 })
	if got := joinWith("<history maxstanzas='20'/>"); strings.Join(got, ",") != "m27,m28,m29,m30" {
		t.Errorf("room cap 4: %q", got)
	}
}
