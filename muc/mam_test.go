package muc

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gavelhq/gavel/data"
	"github.com/gavelhq/gavel/mam"
	"github.com/gavelhq/gavel/xmlstream"
)

// say sends n groupchat messages "<prefix><i>" (i from 1) from full.
func sayN(f *fixture, full, prefix string, n int) {
	for i := 1; i <= n; i++ {
		s := prefix + strconv.Itoa(i)
		f.send("<message id='" + s + "' type='groupchat' from='" + full + "' to='" + testRoom + "'><body>" + s + "</body></message>")
	}
}

// mamPageResult is a parsed answer to a MAM query.
type mamPageResult struct {
	bodies, ids, froms []string
	itemJIDs           []string // <x muc#user><item jid/> per result ("" if none)
	fin                *xmlstream.Element
	errCond            string
}

// queryMAM sends a MAM query (inner is the <query/> content) from full and
// parses what full received: results then the iq.
func queryMAM(t *testing.T, f *fixture, full, inner string) mamPageResult {
	t.Helper()
	u := f.user(full)
	u.takeRaw()
	f.send("<iq type='set' id='mq' from='" + full + "' to='" + testRoom + "'><query xmlns='" + NSMAM + "' queryid='f27'>" + inner + "</query></iq>")
	var res mamPageResult
	got := u.takeRaw()
	if len(got) == 0 {
		t.Fatal("no answer to the MAM query")
	}
	for i, st := range got {
		el, err := st.Element()
		if err != nil {
			t.Fatal(err)
		}
		if i == len(got)-1 {
			if el.Name.Local != "iq" || st.ID() != "mq" {
				t.Fatalf("the iq must come last: %s", st.Raw)
			}
			if st.Type() == "error" {
				for _, c := range el.Child(xmlstream.NSClient, "error").Elements() {
					if c.Name.Space == xmlstream.NSStanzas && c.Name.Local != "text" {
						res.errCond = c.Name.Local
					}
				}
				return res
			}
			res.fin = el.Child(NSMAM, "fin")
			if res.fin == nil {
				t.Fatalf("no <fin/>: %s", st.Raw)
			}
			return res
		}
		r := el.Child(NSMAM, "result")
		if r == nil || r.Attr("queryid") != "f27" || el.Attr("from") != testRoom || el.Attr("to") != full {
			t.Fatalf("not a result for the query: %s", st.Raw)
		}
		m := r.Child(nsForward, "forwarded").Child(xmlstream.NSClient, "message")
		if m.Attr("to") != "" {
			t.Errorf("forwarded message with a 'to': %s", st.Raw)
		}
		if sid := m.Child(NSStanzaID, "stanza-id"); sid == nil || sid.Attr("id") != r.Attr("id") {
			t.Errorf("result id %q is not the message's stanza-id", r.Attr("id"))
		}
		res.bodies = append(res.bodies, m.ChildText(xmlstream.NSClient, "body"))
		res.ids = append(res.ids, r.Attr("id"))
		res.froms = append(res.froms, m.Attr("from"))
		jid := ""
		if x := m.Child(NSMUCUser, "x"); x != nil {
			jid = x.Child(NSMUCUser, "item").Attr("jid")
		}
		res.itemJIDs = append(res.itemJIDs, jid)
	}
	return res
}

func (p mamPageResult) set() (first, last, count, index string) {
	set := p.fin.Child(NSRSM, "set")
	if f := set.Child(NSRSM, "first"); f != nil {
		first, index = f.Text(), f.Attr("index")
	}
	return first, set.ChildText(NSRSM, "last"), set.ChildText(NSRSM, "count"), index
}

func rsmSet(inner string) string { return "<set xmlns='" + NSRSM + "'>" + inner + "</set>" }

func mamForm(fields ...string) string {
	s := "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>" + NSMAM + "</value></field>"
	for i := 0; i+1 < len(fields); i += 2 {
		s += "<field var='" + fields[i] + "'><value>" + fields[i+1] + "</value></field>"
	}
	return s + "</x>"
}

var stampAttr = regexp.MustCompile(`stamp='[^']*'`)

func TestMAMResultsExactStanzas(t *testing.T) {
	f := twoInRoom(t)
	f.send("<message id='m1' type='groupchat' from='" + bob + "' to='" + testRoom + "'><body>Hail to thee</body>" +
		"<x xmlns='" + NSMUCUser + "'><item jid='forged@example.com'/></x></message>")
	// A private message never enters the archive.
	f.send("<message id='pm' type='chat' from='" + alice + "' to='" + testRoom + "/second'><body>psst</body></message>")
	f.drainAll()
	var sid string
	f.inRoom(testRoom, func(r *room) {
		es, _ := f.store.Read(context.Background(), data.MUCHistoryStream(testRoom), 1, 0)
		if len(es) != 1 {
			t.Fatalf("%d log entries", len(es))
		}
		rec, _ := decodeHistoryRecord(es[0].Data)
		sid = mam.ID(es[0].Seq, rec.nonce)
	})
	inner := "<message xmlns='jabber:client' from='" + testRoom + "/second' id='m1' type='groupchat'><body>Hail to thee</body>" + oid +
		"<stanza-id xmlns='" + NSStanzaID + "' by='" + testRoom + "' id='*'/>"
	result := func(to, extra string) string {
		return "<message from='" + testRoom + "' to='" + to + "'><result xmlns='" + NSMAM + "' id='*' queryid='f27'>" +
			"<forwarded xmlns='" + nsForward + "'><delay xmlns='" + NSDelay + "' stamp='*'/>" + inner + extra + "</message></forwarded></result></message>"
	}
	fin := func(to string) string {
		return "<iq from='" + testRoom + "' id='mq' to='" + to + "' type='result'><fin xmlns='" + NSMAM + "' complete='true'>" +
			"<set xmlns='" + NSRSM + "'><first index='0'>" + sid + "</first><last>" + sid + "</last><count>1</count></set></fin></iq>"
	}
	query := func(full string) []string {
		f.user(full)
		f.send("<iq type='set' id='mq' from='" + full + "' to='" + testRoom + "'><query xmlns='" + NSMAM + "' queryid='f27'/></iq>")
		got := f.user(full).take()
		for i := range got {
			got[i] = stampAttr.ReplaceAllString(got[i], "stamp='*'")
		}
		return got
	}
	// A non-occupant of an open, semi-anonymous room: no real JIDs, and
	// the forged <x/> the sender put in was never stored (§8.4.2).
	wantStanzas(t, "carol", query(carol), result(carol, ""), fin(carol))
	// The owner may see real JIDs: the sender's bare JID is added.
	wantStanzas(t, "alice", query(alice),
		result(alice, "<x xmlns='"+NSMUCUser+"'><item jid='bob@example.com'/></x>"), fin(alice))
	// The delay stamp is the archive time, at millisecond precision.
	f.send("<iq type='set' id='mq' from='" + carol + "' to='" + testRoom + "'><query xmlns='" + NSMAM + "'/></iq>")
	got := f.user(carol).takeRaw()
	el, _ := got[0].Element()
	stamp := el.Child(NSMAM, "result").Child(nsForward, "forwarded").Child(NSDelay, "delay").Attr("stamp")
	at, err := time.Parse(time.RFC3339Nano, stamp)
	if err != nil || time.Since(at) > time.Minute || time.Since(at) < 0 || !strings.HasSuffix(stamp, "Z") {
		t.Errorf("delay stamp %q", stamp)
	}
}

func TestMAMFormAndMetadata(t *testing.T) {
	f := twoInRoom(t)
	f.user(carol)
	f.send("<iq type='get' id='md' from='" + carol + "' to='" + testRoom + "'><metadata xmlns='" + NSMAM + "'/></iq>")
	wantStanzas(t, "carol", f.user(carol).take(),
		"<iq from='"+testRoom+"' id='md' to='"+carol+"' type='result'><metadata xmlns='"+NSMAM+"'/></iq>")
	sayN(f, bob, "m", 3)
	f.send("<iq type='get' id='md' from='" + carol + "' to='" + testRoom + "'><metadata xmlns='" + NSMAM + "'/></iq>")
	got := f.user(carol).takeRaw()
	el, _ := got[0].Element()
	md := el.Child(NSMAM, "metadata")
	all := queryMAM(t, f, carol, "")
	if md.Child(NSMAM, "start").Attr("id") != all.ids[0] || md.Child(NSMAM, "end").Attr("id") != all.ids[2] ||
		md.Child(NSMAM, "start").Attr("timestamp") == "" {
		t.Errorf("metadata %s, ids %q", got[0].Raw, all.ids)
	}
	f.send("<iq type='get' id='form' from='" + carol + "' to='" + testRoom + "'><query xmlns='" + NSMAM + "'/></iq>")
	field := func(typ, v string) string { return "<field type='" + typ + "' var='" + v + "'/>" }
	wantStanzas(t, "carol", f.user(carol).take(),
		"<iq from='"+testRoom+"' id='form' to='"+carol+"' type='result'><query xmlns='"+NSMAM+"'><x xmlns='jabber:x:data' type='form'>"+
			"<field type='hidden' var='FORM_TYPE'><value>"+NSMAM+"</value></field>"+
			field("jid-single", "with")+field("text-single", "start")+field("text-single", "end")+
			field("text-single", "before-id")+field("text-single", "after-id")+
			"<field type='list-multi' var='ids'><validate xmlns='"+mam.NSXDataValidate+"' datatype='xs:string'><open/></validate></field>"+
			"</x></query></iq>")
}

// TestMAMPagingThrough500 pages through 500 room messages forwards with
// <after/>, backwards with <before/>, and by <index/>.
func TestMAMPagingThrough500(t *testing.T) {
	f := twoInRoom(t)
	sayN(f, bob, "m", 500)
	f.drainAll()
	want := func(i int) string { return "m" + strconv.Itoa(i) }

	// Forwards, 50 at a time.
	var seen []string
	after := ""
	for page := 0; ; page++ {
		q := rsmSet("<max>50</max>")
		if after != "" {
			q = rsmSet("<max>50</max><after>" + after + "</after>")
		}
		p := queryMAM(t, f, carol, q)
		first, last, count, index := p.set()
		if count != "500" || index != strconv.Itoa(page*50) || len(p.bodies) != 50 {
			t.Fatalf("page %d: count %s index %s, %d results", page, count, index, len(p.bodies))
		}
		if first != p.ids[0] || last != p.ids[49] {
			t.Fatalf("page %d: first/last %s/%s do not name the results", page, first, last)
		}
		seen = append(seen, p.bodies...)
		if complete := p.fin.Attr("complete"); complete != strconv.FormatBool(page == 9) {
			t.Fatalf("page %d: complete=%s", page, complete)
		}
		if page == 9 {
			break
		}
		after = last
	}
	for i, b := range seen {
		if b != want(i+1) {
			t.Fatalf("forward paging: result %d is %q, want %q", i, b, want(i+1))
		}
	}

	// Backwards from the end (<before/> empty), pages still chronological.
	var back []string
	before := ""
	for page := 0; page < 10; page++ {
		p := queryMAM(t, f, carol, rsmSet("<max>50</max><before>"+before+"</before>"))
		_, _, count, index := p.set()
		if count != "500" || index != strconv.Itoa(450-page*50) || len(p.bodies) != 50 {
			t.Fatalf("back page %d: count %s index %s, %d results", page, count, index, len(p.bodies))
		}
		if p.bodies[0] != want(451-page*50) || p.bodies[49] != want(500-page*50) {
			t.Fatalf("back page %d: %s..%s", page, p.bodies[0], p.bodies[49])
		}
		if complete := p.fin.Attr("complete"); complete != strconv.FormatBool(page == 9) {
			t.Fatalf("back page %d: complete=%s", page, complete)
		}
		back = append(p.bodies, back...)
		before = p.ids[0]
	}
	if strings.Join(back, ",") != strings.Join(seen, ",") {
		t.Fatal("backward paging saw other messages than forward paging")
	}

	// <index/> jumps; past the end is an empty page.
	p := queryMAM(t, f, carol, rsmSet("<max>3</max><index>250</index>"))
	if strings.Join(p.bodies, ",") != "m251,m252,m253" {
		t.Errorf("index 250: %q", p.bodies)
	}
	p = queryMAM(t, f, carol, rsmSet("<max>3</max><index>900</index>"))
	if len(p.bodies) != 0 || p.fin.Attr("complete") != "true" {
		t.Errorf("index past the end: %q", p.bodies)
	}
	// No <max/>: 50; a huge one is clamped to 250 and not complete.
	if p := queryMAM(t, f, carol, ""); len(p.bodies) != 50 || p.bodies[0] != "m1" || p.fin.Attr("complete") != "false" {
		t.Errorf("default page: %d results from %q", len(p.bodies), p.bodies[0])
	}
	if p := queryMAM(t, f, carol, rsmSet("<max>100000</max>")); len(p.bodies) != 250 || p.fin.Attr("complete") != "false" {
		t.Errorf("clamped page: %d results", len(p.bodies))
	}
	// <max>0</max>: just the count.
	if p := queryMAM(t, f, carol, rsmSet("<max>0</max>")); len(p.bodies) != 0 {
		t.Errorf("max 0: %d results", len(p.bodies))
	} else if _, _, count, _ := p.set(); count != "500" {
		t.Errorf("max 0: count %s", count)
	}
	// <flip-page/>: the last page, newest first.
	p = queryMAM(t, f, carol, rsmSet("<max>3</max><before/>")+"<flip-page/>")
	if strings.Join(p.bodies, ",") != "m500,m499,m498" {
		t.Errorf("flipped last page: %q", p.bodies)
	}
	// Retention: what was trimmed is gone from queries too.
	f.inRoom(testRoom, func(r *room) {
		_ = f.store.Truncate(context.Background(), data.MUCHistoryStream(testRoom), 401)
	})
	p = queryMAM(t, f, carol, rsmSet("<max>2</max>"))
	if _, _, count, _ := p.set(); count != "100" || p.bodies[0] != "m401" {
		t.Errorf("after truncation: count %s, first %q", count, p.bodies[0])
	}
}

func TestMAMFilters(t *testing.T) {
	f := twoInRoom(t)
	// Messages a few milliseconds apart, so start and end can split them.
	for i := 1; i <= 8; i++ {
		who := bob
		if i%2 == 0 {
			who = alice
		}
		s := "m" + strconv.Itoa(i)
		f.send("<message id='" + s + "' type='groupchat' from='" + who + "' to='" + testRoom + "'><body>" + s + "</body></message>")
		time.Sleep(3 * time.Millisecond)
	}
	f.drainAll()
	all := queryMAM(t, f, carol, "")
	if len(all.ids) != 8 {
		t.Fatalf("%d results", len(all.ids))
	}
	es, err := f.store.Read(context.Background(), data.MUCHistoryStream(testRoom), 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	stampAt := func(i int) string { return stampOf(es[i].Time) }
	bodies := func(p mamPageResult) string { return strings.Join(p.bodies, ",") }
	cases := []struct {
		name, from, inner, want, err string
	}{
		{"start and end from stamps include both ends", carol, mamForm("start", stampAt(2), "end", stampAt(5)), "m3,m4,m5,m6", ""},
		{"start only", carol, mamForm("start", stampAt(6)), "m7,m8", ""},
		{"end in the past", carol, mamForm("end", "2000-01-01T00:00:00Z"), "", ""},
		{"with an occupant JID: that nick", carol, mamForm("with", testRoom+"/second"), "m1,m3,m5,m7", ""},
		{"with an unknown nick", carol, mamForm("with", testRoom+"/nobody"), "", ""},
		{"with the room: everything", carol, mamForm("with", testRoom), "m1,m2,m3,m4,m5,m6,m7,m8", ""},
		{"with a real JID, by the owner", alice, mamForm("with", "bob@example.com"), "m1,m3,m5,m7", ""},
		{"with a full real JID matches its bare JID", alice, mamForm("with", "alice@example.com/other"), "m2,m4,m6,m8", ""},
		{"with a real JID, semi-anonymous, not a moderator", carol, mamForm("with", "bob@example.com"), "", "forbidden"},
		{"with a real JID, by an occupant without moderation", bob, mamForm("with", "alice@example.com"), "", "forbidden"},
		{"after-id", carol, mamForm("after-id", all.ids[5]), "m7,m8", ""},
		{"before-id", carol, mamForm("before-id", all.ids[2]), "m1,m2", ""},
		{"after-id and before-id", carol, mamForm("after-id", all.ids[1], "before-id", all.ids[4]), "m3,m4", ""},
		{"ids", carol, "<x xmlns='jabber:x:data' type='submit'><field var='ids'><value>" + all.ids[6] + "</value><value>" + all.ids[0] + "</value></field></x>", "m1,m7", ""},
		{"with and RSM", carol, mamForm("with", testRoom+"/first") + rsmSet("<max>2</max><after>"+all.ids[1]+"</after>"), "m4,m6", ""},
		{"unknown id", carol, mamForm("after-id", "AAAAAAAAAAEAAAAA"), "", "item-not-found"},
		{"malformed id", carol, mamForm("before-id", "nope"), "", "item-not-found"},
		{"unknown RSM after", carol, rsmSet("<after>nope</after>"), "", "item-not-found"},
		{"unknown field", carol, mamForm("{urn:example}fulltext", "x"), "", "feature-not-implemented"},
		{"wrong FORM_TYPE", carol, "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>urn:xmpp:mam:1</value></field></x>", "", "bad-request"},
		{"bad start", carol, mamForm("start", "yesterday"), "", "bad-request"},
		{"bad with", carol, mamForm("with", "@@"), "", "bad-request"},
		{"bad max", carol, rsmSet("<max>-1</max>"), "", "bad-request"},
		{"index with a with filter", carol, mamForm("with", testRoom+"/first") + rsmSet("<index>1</index>"), "", "feature-not-implemented"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := queryMAM(t, f, tc.from, tc.inner)
			if p.errCond != tc.err {
				t.Fatalf("error %q, want %q", p.errCond, tc.err)
			}
			if tc.err == "" && bodies(p) != tc.want {
				t.Fatalf("results %q, want %q", bodies(p), tc.want)
			}
		})
	}
	// A 'with' filter has no count or index.
	p := queryMAM(t, f, carol, mamForm("with", testRoom+"/second"))
	if _, _, count, index := p.set(); count != "" || index != "" {
		t.Errorf("with filter: count %q index %q", count, index)
	}
	// In a non-anonymous room anyone who may read may filter by real JID,
	// and sees real JIDs.
	f.inRoom(testRoom, func(r *room) { r.cfg.Whois = WhoisAnyone })
	p = queryMAM(t, f, carol, mamForm("with", "bob@example.com"))
	if bodies(p) != "m1,m3,m5,m7" || p.itemJIDs[0] != "bob@example.com" {
		t.Errorf("non-anonymous: %q %q", bodies(p), p.itemJIDs)
	}
}

func TestMAMAccess(t *testing.T) {
	f := twoInRoom(t)
	sayN(f, bob, "m", 2)
	f.drainAll()
	dave := "dave@example.com/pc"
	check := func(name, from, wantErr string) {
		t.Helper()
		p := queryMAM(t, f, from, "")
		if p.errCond != wantErr {
			t.Errorf("%s: error %q, want %q", name, p.errCond, wantErr)
		}
		if wantErr == "" && len(p.bodies) != 2 {
			t.Errorf("%s: %d results", name, len(p.bodies))
		}
	}
	check("open room, never entered", carol, "")
	f.inRoom(testRoom, func(r *room) { _ = r.setAffiliation("carol@example.com", affEntry{Affiliation: AffOutcast}) })
	check("outcast", carol, "forbidden")

	f.inRoom(testRoom, func(r *room) {
		r.cfg.MembersOnly = true
		_ = r.setAffiliation("dave@example.com", affEntry{Affiliation: AffMember})
	})
	check("members-only, not a member", "eve@example.com/x", "forbidden")
	check("members-only, member", dave, "")
	check("members-only, occupant without affiliation", bob, "forbidden")
	check("members-only, owner", alice, "")
	check("members-only, service admin", "admin@example.com/console", "")

	f.inRoom(testRoom, func(r *room) {
		r.cfg.MembersOnly = false
		r.cfg.PasswordProtected, r.cfg.Password = true, "cauldron"
	})
	check("password-protected, not in the room", dave, "forbidden")
	check("password-protected, in the room", bob, "")
	check("password-protected, owner", alice, "")

	f.inRoom(testRoom, func(r *room) { r.cfg.PasswordProtected, r.cfg.Archiving = false, false })
	check("archiving off", bob, "service-unavailable")
	f.send("<iq type='get' id='d' from='" + bob + "' to='" + testRoom + "'><query xmlns='" + NSDiscoInfo + "'/></iq>")
	if got := f.user(bob).take(); len(got) != 1 || strings.Contains(got[0], NSMAM) {
		t.Errorf("disco with archiving off: %q", got)
	}
	f.inRoom(testRoom, func(r *room) { r.cfg.Archiving = true })
	f.send("<iq type='get' id='d' from='" + bob + "' to='" + testRoom + "'><query xmlns='" + NSDiscoInfo + "'/></iq>")
	got := f.user(bob).take()
	for _, feature := range []string{NSMAM, NSMAMExtended, NSSelfPingOptimization} {
		if len(got) != 1 || !strings.Contains(got[0], "<feature var='"+feature+"'/>") {
			t.Errorf("room disco lacks %s: %q", feature, got)
		}
	}

	// No such room: item-not-found, from the room.
	f.send("<iq type='set' id='mq' from='" + carol + "' to='nope@" + testService + "'><query xmlns='" + NSMAM + "'/></iq>")
	wantStanzas(t, "carol", f.user(carol).take(),
		"<iq from='nope@"+testService+"' id='mq' to='"+carol+"' type='error'><error by='nope@"+testService+"' type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>")
	// Forbidden, exactly.
	f.inRoom(testRoom, func(r *room) { r.cfg.MembersOnly = true })
	f.send("<iq type='set' id='mq' from='" + carol + "' to='" + testRoom + "'><query xmlns='" + NSMAM + "'/></iq>")
	wantStanzas(t, "carol", f.user(carol).take(),
		"<iq from='"+testRoom+"' id='mq' to='"+carol+"' type='error'><error by='"+testRoom+"' type='auth'><forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>")
}
