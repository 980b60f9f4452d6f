package im

// XEP-0313 archiving and XEP-0359 stanza ids: what is archived, in which
// archive, with which id, and what the delivered copies carry. Queries are
// in mam_query_test.go.

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/data"
	"github.com/gavelhq/gavel/mam"
	"github.com/gavelhq/gavel/router"
	"github.com/gavelhq/gavel/xmlstream"
)

// newMAMFixture is an imFixture with alice and bob and a fixed clock.
func newMAMFixture(t *testing.T) (*imFixture, *testClock) {
	t.Helper()
	f := newIMFixture(t)
	clock := &testClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	f.srv.state.services.clock = clock.now
	f.account("alice")
	f.account("bob")
	return f, clock
}

// mamLogin logs in full and sends initial presence with priority prio.
func (f *imFixture) mamLogin(full string, prio int) *fakeSession {
	f.t.Helper()
	s := f.login(full)
	f.client(s, fmt.Sprintf("<presence><priority>%d</priority></presence>", prio))
	return s
}

// mamArchived returns the decoded entries of bare's archive with their ids.
func mamArchived(t *testing.T, f *imFixture, bare string) ([]mamRecord, []string) {
	t.Helper()
	es, err := f.store.Read(context.Background(), data.MAMStream(bare), 1, 0)
	if err != nil {
		t.Fatalf("reading archive of %s: %v", bare, err)
	}
	var recs []mamRecord
	var ids []string
	for _, e := range es {
		r, err := decodeMAMRecord(e.Data)
		if err != nil {
			t.Fatalf("archive entry %d of %s: %v", e.Seq, bare, err)
		}
		recs = append(recs, r)
		ids = append(ids, mam.ID(e.Seq, r.nonce))
	}
	return recs, ids
}

// mamStanzaIDs returns the by -> id of the direct <stanza-id/> children of st.
func mamStanzaIDs(t *testing.T, st *xmlstream.Stanza) map[string][]string {
	t.Helper()
	el, err := st.Element()
	if err != nil {
		t.Fatalf("unparsable %s: %v", st.Raw, err)
	}
	out := map[string][]string{}
	for _, c := range el.ChildrenNamed(nsStanzaID, "stanza-id") {
		out[c.Attr("by")] = append(out[c.Attr("by")], c.Attr("id"))
	}
	return out
}

// mamWithoutIDs renders st canonically without its direct <stanza-id/> children.
func mamWithoutIDs(t *testing.T, st *xmlstream.Stanza) string {
	t.Helper()
	el, err := st.Element()
	if err != nil {
		t.Fatalf("unparsable %s: %v", st.Raw, err)
	}
	c := el.Copy()
	c.RemoveChildren(nsStanzaID, "stanza-id")
	return canonElement(c, true)
}

// mamMessages keeps the messages of got.
func mamMessages(got []*xmlstream.Stanza) []*xmlstream.Stanza {
	var out []*xmlstream.Stanza
	for _, st := range got {
		if st.Name.Local == xmlstream.KindMessage {
			out = append(out, st)
		}
	}
	return out
}

func TestMAMArchivesBothSidesAndStampsRecipientCopy(t *testing.T) {
	f, clock := newMAMFixture(t)
	a := f.mamLogin("alice@example.com/a", 0)
	b := f.mamLogin("bob@example.com/b", 0)
	a.take()
	b.take()

	f.client(a, `<message to='bob@example.com' type='chat' id='m1'><body>hi bob</body></message>`)

	aliceRecs, _ := mamArchived(t, f, "alice@example.com")
	bobRecs, bobIDs := mamArchived(t, f, "bob@example.com")
	if len(aliceRecs) != 1 || len(bobRecs) != 1 {
		t.Fatalf("archived %d for alice, %d for bob; want 1 each", len(aliceRecs), len(bobRecs))
	}
	if r := aliceRecs[0]; !r.outgoing || r.with != "bob@example.com" || r.time != clock.now().UnixNano() {
		t.Errorf("alice's entry: outgoing=%v with=%q time=%d", r.outgoing, r.with, r.time)
	}
	if r := bobRecs[0]; r.outgoing || r.with != "alice@example.com/a" {
		t.Errorf("bob's entry: outgoing=%v with=%q", r.outgoing, r.with)
	}
	if !strings.Contains(string(aliceRecs[0].raw), "<body>hi bob</body>") || !strings.Contains(string(bobRecs[0].raw), "<body>hi bob</body>") {
		t.Errorf("archived stanzas lost the body: %q / %q", aliceRecs[0].raw, bobRecs[0].raw)
	}

	got := mamMessages(b.take())
	if len(got) != 1 {
		t.Fatalf("bob got %d messages", len(got))
	}
	ids := mamStanzaIDs(t, got[0])
	if len(ids) != 1 || len(ids["bob@example.com"]) != 1 || ids["bob@example.com"][0] != bobIDs[0] {
		t.Fatalf("bob's copy carries stanza ids %v, want exactly by=bob@example.com id=%s", ids, bobIDs[0])
	}
	if w, g := canonRaw(t, `<message from='alice@example.com/a' to='bob@example.com' type='chat' id='m1'><body>hi bob</body></message>`),
		mamWithoutIDs(t, got[0]); g != w {
		t.Errorf("bob's copy:\n%s\nwant (besides the stanza-id):\n%s", g, w)
	}
	expectNothing(t, a)
}

func TestMAMOutgoingToRemoteCarriesNoSenderID(t *testing.T) {
	f, _ := newMAMFixture(t)
	a := f.mamLogin("alice@example.com/a", 0)
	f.client(a, `<message to='romeo@remote.test' type='chat' id='r1'><body>out</body></message>`)
	out := f.takeRemote()
	if len(out) != 1 {
		t.Fatalf("routed %d stanzas to the remote domain", len(out))
	}
	if ids := mamStanzaIDs(t, out[0]); len(ids) != 0 {
		t.Fatalf("the contact sees the sender's archive id: %s", out[0].Raw)
	}
	recs, _ := mamArchived(t, f, "alice@example.com")
	if len(recs) != 1 || recs[0].with != "romeo@remote.test" || !recs[0].outgoing {
		t.Fatalf("alice's archive: %+v", recs)
	}
}

func TestMAMForgedStanzaIDsStripped(t *testing.T) {
	f, _ := newMAMFixture(t)
	a := f.mamLogin("alice@example.com/a", 0)
	a.take()

	// From a remote contact: forged ids by alice (any spelling of her JID)
	// go; someone else's id stays (XEP-0359 §4 rule 3); hers is added.
	f.route(`<message from='romeo@remote.test/x' to='alice@example.com' type='chat' id='f1'><body>x</body>` +
		`<stanza-id xmlns='urn:xmpp:sid:0' by='alice@example.com' id='forged1'/>` +
		`<stanza-id xmlns='urn:xmpp:sid:0' by='ALICE@example.com' id='forged2'/>` +
		`<stanza-id xmlns='urn:xmpp:sid:0' by='remote.test' id='theirs'/></message>`)
	_, aliceIDs := mamArchived(t, f, "alice@example.com")
	got := mamMessages(a.take())
	if len(got) != 1 {
		t.Fatalf("alice got %d messages", len(got))
	}
	ids := mamStanzaIDs(t, got[0])
	if len(ids["alice@example.com"]) != 1 || ids["alice@example.com"][0] != aliceIDs[0] || len(ids["ALICE@example.com"]) != 0 {
		t.Errorf("alice's ids after forging: %v (archive id %s)", ids, aliceIDs[0])
	}
	if len(ids["remote.test"]) != 1 || ids["remote.test"][0] != "theirs" {
		t.Errorf("a stanza id by someone else was removed: %v", ids)
	}
	recs, _ := mamArchived(t, f, "alice@example.com")
	if strings.Contains(string(recs[0].raw), "forged") {
		t.Errorf("the archived copy keeps forged ids: %s", recs[0].raw)
	}

	// Even an unarchived message (no body) loses forged ids.
	f.route(`<message from='romeo@remote.test/x' to='alice@example.com' type='chat'><active xmlns='http://jabber.org/protocol/chatstates'/>` +
		`<stanza-id xmlns='urn:xmpp:sid:0' by='alice@example.com' id='forged3'/></message>`)
	got = mamMessages(a.take())
	if len(got) != 1 || len(mamStanzaIDs(t, got[0])) != 0 {
		t.Fatalf("chat state with a forged id delivered as %v", got)
	}

	// A client that forges its own account's id: removed before routing.
	f.client(a, `<message to='romeo@remote.test' type='chat'><body>y</body><stanza-id xmlns='urn:xmpp:sid:0' by='alice@example.com' id='forged4'/></message>`)
	out := f.takeRemote()
	if len(out) != 1 || strings.Contains(string(out[0].Raw), "forged4") || len(mamStanzaIDs(t, out[0])) != 0 {
		t.Fatalf("routed: %v", out)
	}
}

func TestMAMWhatIsArchived(t *testing.T) {
	cases := []struct {
		name, msg string
		archived  bool
	}{
		{"chat with body", `<message type='chat'><body>x</body></message>`, true},
		{"normal with body", `<message><body>x</body></message>`, true},
		{"unknown type with body", `<message type='whatever'><body>x</body></message>`, true},
		{"chat state only", `<message type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>`, false},
		{"headline", `<message type='headline'><body>x</body></message>`, false},
		{"groupchat", `<message type='groupchat'><body>x</body></message>`, false},
		{"error", `<message type='error'><body>x</body><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>`, false},
		{"no-store", `<message type='chat'><body>x</body><no-store xmlns='urn:xmpp:hints'/></message>`, false},
		{"no-permanent-store", `<message type='chat'><body>x</body><no-permanent-store xmlns='urn:xmpp:hints'/></message>`, false},
		{"store hint without body", `<message type='chat'><x xmlns='urn:example'/><store xmlns='urn:xmpp:hints'/></message>`, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, _ := newMAMFixture(t)
			a := f.mamLogin("alice@example.com/a", 0)
			f.mamLogin("bob@example.com/b", 0)
			// Outgoing: alice to bob; incoming: from a remote contact to alice.
			f.client(a, strings.Replace(c.msg, "<message", "<message to='bob@example.com'", 1))
			f.route(strings.Replace(c.msg, "<message", "<message from='romeo@remote.test/r' to='alice@example.com'", 1))
			want := 0
			if c.archived {
				want = 1
			}
			aliceRecs, _ := mamArchived(t, f, "alice@example.com")
			bobRecs, _ := mamArchived(t, f, "bob@example.com")
			if len(aliceRecs) != 2*want || len(bobRecs) != want {
				t.Fatalf("alice archived %d (want %d), bob %d (want %d)", len(aliceRecs), 2*want, len(bobRecs), want)
			}
		})
	}
}

func TestMAMToOwnAccountArchivedOnce(t *testing.T) {
	f, _ := newMAMFixture(t)
	a := f.mamLogin("alice@example.com/a", 0)
	b := f.mamLogin("alice@example.com/b", 0)
	a.take()
	b.take()
	f.client(a, `<message to='alice@example.com/b' type='chat'><body>note</body></message>`)
	recs, ids := mamArchived(t, f, "alice@example.com")
	if len(recs) != 1 || recs[0].outgoing || recs[0].with != "alice@example.com/a" {
		t.Fatalf("archive: %+v", recs)
	}
	got := mamMessages(b.take())
	if len(got) != 1 || mamStanzaIDs(t, got[0])["alice@example.com"][0] != ids[0] {
		t.Fatalf("b got %v", got)
	}
}

func TestMAMNotArchivedWhenRejected(t *testing.T) {
	f, _ := newMAMFixture(t)
	// Normal message to a resource that is not bound: bounced, not archived.
	f.route(`<message from='romeo@remote.test/r' to='alice@example.com/gone' type='normal'><body>x</body></message>`)
	// To an account that does not exist.
	f.route(`<message from='romeo@remote.test/r' to='nobody@example.com' type='chat'><body>x</body></message>`)
	if recs, _ := mamArchived(t, f, "alice@example.com"); len(recs) != 0 {
		t.Fatalf("archived a bounced message: %+v", recs)
	}
	if recs, _ := mamArchived(t, f, "nobody@example.com"); len(recs) != 0 {
		t.Fatalf("archived for a missing account: %+v", recs)
	}
	// Chat to a gone resource is delivered as if to the bare JID: archived
	// (and stored offline).
	f.route(`<message from='romeo@remote.test/r' to='alice@example.com/gone' type='chat'><body>x</body></message>`)
	if recs, _ := mamArchived(t, f, "alice@example.com"); len(recs) != 1 {
		t.Fatalf("chat to a gone resource archived %d times", len(recs))
	}
}

func TestMAMAnonymousNotArchived(t *testing.T) {
	f, _ := newMAMFixture(t)
	anon := f.mamLogin("x1@anon.example.com/r", 0)
	f.client(anon, `<message to='romeo@remote.test' type='chat'><body>x</body></message>`)
	f.route(`<message from='romeo@remote.test/r' to='x1@anon.example.com/r' type='chat'><body>y</body></message>`)
	if recs, _ := mamArchived(t, f, "x1@anon.example.com"); len(recs) != 0 {
		t.Fatalf("anonymous account archived: %+v", recs)
	}
}

func TestMAMPreferences(t *testing.T) {
	f, _ := newMAMFixture(t)
	a := f.mamLogin("alice@example.com/a", 0)
	a.take()

	f.client(a, `<iq type='get' id='p1'><prefs xmlns='urn:xmpp:mam:2'/></iq>`)
	expectXML(t, "prefs get", a.take(), `<iq type='result' id='p1' from='alice@example.com' to='alice@example.com/a'><prefs xmlns='urn:xmpp:mam:2' default='always'><always/><never/></prefs></iq>`)

	send := func(from string) {
		f.route(`<message from='` + from + `' to='alice@example.com/a' type='chat'><body>x</body></message>`)
		a.take()
	}
	count := func() int {
		recs, _ := mamArchived(t, f, "alice@example.com")
		return len(recs)
	}

	// never, with an always exception (bare matches any resource).
	f.client(a, `<iq type='set' id='p2'><prefs xmlns='urn:xmpp:mam:2' default='never'><always><jid>Romeo@Remote.test</jid></always><never/></prefs></iq>`)
	expectXML(t, "prefs set", a.take(), `<iq type='result' id='p2' from='alice@example.com' to='alice@example.com/a'><prefs xmlns='urn:xmpp:mam:2' default='never'><always><jid>romeo@remote.test</jid></always><never/></prefs></iq>`)
	send("mercutio@remote.test/m")
	if n := count(); n != 0 {
		t.Fatalf("default never archived %d", n)
	}
	send("romeo@remote.test/r")
	if n := count(); n != 1 {
		t.Fatalf("always-listed contact archived %d", n)
	}

	// always, with a full-JID never entry: only that resource is skipped.
	f.client(a, `<iq type='set' id='p3'><prefs xmlns='urn:xmpp:mam:2' default='always'><always/><never><jid>romeo@remote.test/secret</jid></never></prefs></iq>`)
	a.take()
	send("romeo@remote.test/secret")
	send("romeo@remote.test/other")
	if n := count(); n != 2 {
		t.Fatalf("after never-listing one resource: %d archived, want 2", n)
	}

	// roster: only contacts in the roster.
	f.client(a, `<iq type='set' id='p4'><prefs xmlns='urn:xmpp:mam:2' default='roster'/></iq>`)
	a.take()
	send("tybalt@remote.test/t")
	if n := count(); n != 2 {
		t.Fatalf("default roster archived a stranger: %d", n)
	}
	f.client(a, `<iq type='set' id='r1'><query xmlns='jabber:iq:roster'><item jid='tybalt@remote.test'/></query></iq>`)
	a.take()
	send("tybalt@remote.test/t")
	if n := count(); n != 3 {
		t.Fatalf("default roster skipped a roster contact: %d", n)
	}

	// Outgoing messages follow the same preferences ('to' is the target).
	f.client(a, `<message to='mercutio@remote.test' type='chat'><body>x</body></message>`)
	if n := count(); n != 3 {
		t.Fatalf("roster default archived an outgoing message to a stranger: %d", n)
	}

	// Errors.
	f.client(a, `<iq type='set' id='e1'><prefs xmlns='urn:xmpp:mam:2' default='sometimes'/></iq>`)
	mamExpectError(t, a, "e1", "modify", "bad-request")
	f.client(a, `<iq type='set' id='e2'><prefs xmlns='urn:xmpp:mam:2' default='always'><always><jid>@@</jid></always></prefs></iq>`)
	mamExpectError(t, a, "e2", "modify", "jid-malformed")
	b := f.mamLogin("bob@example.com/b", 0)
	b.take()
	f.client(b, `<iq type='get' id='e3' to='alice@example.com'><prefs xmlns='urn:xmpp:mam:2'/></iq>`)
	mamExpectError(t, b, "e3", "auth", "forbidden")
}

// mamExpectError checks that sess received exactly one iq error with id.
func mamExpectError(t *testing.T, sess *fakeSession, id, typ, cond string) {
	t.Helper()
	got := sess.take()
	if len(got) != 1 || got[0].ID() != id || got[0].Type() != "error" {
		expectXML(t, sess.jid.String(), got, "<iq type='error' id='"+id+"'/>")
	}
	el, _ := got[0].Element()
	e := el.Child("", "error")
	if e == nil || e.Attr("type") != typ || e.Child(xmlstream.NSStanzas, cond) == nil {
		t.Fatalf("iq %s: got %s, want %s/%s", id, got[0].Raw, typ, cond)
	}
}

func TestMAMRetention(t *testing.T) {
	f, clock := newMAMFixture(t)
	f.srv.state.mam.retention = time.Hour
	a := f.mamLogin("alice@example.com/a", 0)
	a.take()
	for i := range 10 {
		f.route(fmt.Sprintf(`<message from='romeo@remote.test/r' to='alice@example.com/a' type='chat'><body>%d</body></message>`, i))
		clock.advance(10 * time.Minute) // messages at 0, 10, ..., 90 min
	}
	a.take()
	// Now at 100 min: messages older than 40 min are expired (0..30 min).
	ans := queryMAM(t, f, a, "q1", "")
	if len(ans.results) != 6 || ans.body(0) != "4" || ans.count != "6" {
		t.Fatalf("query after expiry: %d results from %q, count %s; want 6 from 4", len(ans.results), ans.body(0), ans.count)
	}
	// An expired id is gone.
	_, ids := mamArchived(t, f, "alice@example.com")
	bad := queryMAM(t, f, a, "q2", rsmSet(5, ids[0], "", false))
	if bad.errCond != "item-not-found" {
		t.Fatalf("RSM after an expired id: %q", bad.errCond)
	}
	// Storage is trimmed by ExpireArchives.
	if err := f.srv.ExpireArchives(context.Background()); err != nil {
		t.Fatal(err)
	}
	last, first, err := f.store.Last(context.Background(), data.MAMStream("alice@example.com"))
	if err != nil || first != 5 || last != 10 {
		t.Fatalf("after ExpireArchives: first %d last %d err %v, want 5..10", first, last, err)
	}
}

func TestMAMRetentionOnAppend(t *testing.T) {
	f, clock := newMAMFixture(t)
	f.srv.state.mam.retention = time.Hour
	ctx := context.Background()
	owner := jid.MustParse("alice@example.com")
	peer := jid.MustParse("romeo@remote.test")
	for i := 1; i <= mamRetentionEvery; i++ {
		if _, err := f.srv.archive(ctx, owner, false, peer, []byte("<message/>")); err != nil {
			t.Fatal(err)
		}
		if i == 100 {
			clock.advance(2 * time.Hour) // the first 100 expire
		}
	}
	_, first, err := f.store.Last(ctx, data.MAMStream("alice@example.com"))
	if err != nil || first != 101 {
		t.Fatalf("after %d appends: first retained %d (err %v), want 101", mamRetentionEvery, first, err)
	}
}

func TestMAMDeletedWithAccount(t *testing.T) {
	f, _ := newMAMFixture(t)
	a := f.mamLogin("alice@example.com/a", 0)
	f.client(a, `<iq type='set' id='p'><prefs xmlns='urn:xmpp:mam:2' default='roster'/></iq>`)
	f.route(`<message from='romeo@remote.test/r' to='alice@example.com/a' type='chat'><body>x</body></message>`)
	f.route(`<message from='romeo@remote.test/r' to='alice@example.com/a' type='chat'><body>x</body></message>`)
	f.logout(a)
	ctx := context.Background()
	if err := f.acc.Delete(ctx, jid.MustParse("alice@example.com")); err != nil {
		t.Fatal(err)
	}
	if last, _, err := f.store.Last(ctx, data.MAMStream("alice@example.com")); err != nil || last != 0 {
		t.Fatalf("archive left after account deletion: last %d err %v", last, err)
	}
	if _, _, err := f.store.Get(ctx, data.MAMPrefsKey("alice@example.com")); err != data.ErrNotFound {
		t.Fatalf("preferences left after account deletion: %v", err)
	}
}

func TestMAMDiscoFeatures(t *testing.T) {
	f, _ := newMAMFixture(t)
	a := f.mamLogin("alice@example.com/a", 0)
	a.take()
	f.client(a, `<iq type='get' id='d1'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`)
	got := a.take()
	if len(got) != 1 {
		t.Fatalf("disco: %d stanzas", len(got))
	}
	for _, v := range []string{nsMAM, nsMAMExtended, nsStanzaID} {
		if !strings.Contains(string(got[0].Raw), "var='"+v+"'") && !strings.Contains(string(got[0].Raw), `var="`+v+`"`) {
			t.Errorf("account disco#info lacks %s: %s", v, got[0].Raw)
		}
	}
}

// The archive ids are tested in package mam (id_test.go).
func TestMAMRecordRoundTrip(t *testing.T) {
	r := mamRecord{nonce: 0xdeadbeef, time: -5, outgoing: true, with: "a@b/c", raw: []byte("<message/>")}
	got, err := decodeMAMRecord(r.encode())
	if err != nil || got.nonce != r.nonce || got.time != r.time || !got.outgoing || got.with != r.with || string(got.raw) != string(r.raw) {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	for _, bad := range [][]byte{nil, {1}, {2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, append(r.encode()[:14], 0xff)} {
		if _, err := decodeMAMRecord(bad); err == nil {
			t.Errorf("decoded corrupt record %x", bad)
		}
	}
}

// Groupchat from a remote room is inspected for ids forged in the
// recipient's name; groupchat from this server's own MUC service is not
// (the service drops every client-supplied stanza-id before fan-out).
func TestGroupchatForgedStanzaIDs(t *testing.T) {
	f, _ := newMAMFixture(t)
	a := f.mamLogin("alice@example.com/a", 1)
	a.take()
	f.route(`<message from='room@chat.remote.test/eve' to='alice@example.com/a' type='groupchat' id='g1'><body>x</body>` +
		`<stanza-id xmlns='urn:xmpp:sid:0' by='alice@example.com' id='forged'/></message>`)
	got := a.take()
	if len(got) != 1 || strings.Contains(string(got[0].Raw), "forged") {
		t.Fatalf("remote groupchat with an id forged for alice: %v", got)
	}
	// A local service domain (registered like the MUC service is).
	f.router.HandleDomain("conference.example.com", router.HandlerFunc(func(context.Context, *xmlstream.Stanza) {}), false)
	if !f.srv.fromLocalService("room@conference.example.com/eve") || f.srv.fromLocalService("bob@example.com/b") ||
		f.srv.fromLocalService("room@chat.remote.test/eve") {
		t.Fatal("fromLocalService misclassifies")
	}
}

func TestMayBeArchivable(t *testing.T) {
	for raw, want := range map[string]bool{
		"<message><body>hi</body></message>":                                                          true,
		"<message type='headline'><store xmlns='urn:xmpp:hints'/><event/></message>":                  true,
		"<message><active xmlns='http://jabber.org/protocol/chatstates'/></message>":                  false,
		"<message type='headline'><event xmlns='http://jabber.org/protocol/pubsub#event'/></message>": false,
	} {
		if got := mayBeArchivable([]byte(raw)); got != want {
			t.Errorf("%s: got %v, want %v", raw, got, want)
		}
	}
}
