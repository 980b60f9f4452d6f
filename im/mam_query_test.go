package im

// XEP-0313 queries: paging through a large archive both ways with XEP-0059,
// filters, flipped pages, ids, metadata, form discovery and errors.

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gavelhq/gavel/mam"
	"github.com/gavelhq/gavel/xmlstream"
)

// mamAnswer is what a query produced.
type mamAnswer struct {
	results []mamResultMsg
	errCond string
	// From <fin/>: complete attribute, RSM first (with index), last, count
	// ("" when absent).
	complete, first, firstIndex, last, count string
}

type mamResultMsg struct {
	id, stamp string
	msg       *xmlstream.Element // the forwarded message
}

func (a *mamAnswer) ids() []string {
	out := make([]string, len(a.results))
	for i, r := range a.results {
		out[i] = r.id
	}
	return out
}

// body is the body of result i ("" if there is none).
func (a *mamAnswer) body(i int) string {
	if i >= len(a.results) {
		return ""
	}
	return a.results[i].msg.ChildText(xmlstream.NSClient, "body")
}

func (a *mamAnswer) bodies() []string {
	out := make([]string, len(a.results))
	for i := range a.results {
		out[i] = a.body(i)
	}
	return out
}

// queryMAM sends a query with payload inner from sess and checks the shape
// of everything it gets back: result messages from the archive to sess with
// the queryid, then one iq result with <fin/> (or an error).
func queryMAM(t *testing.T, f *imFixture, sess *fakeSession, id, inner string) *mamAnswer {
	t.Helper()
	qid := "qid-" + id
	f.client(sess, `<iq type='set' id='`+id+`'><query xmlns='urn:xmpp:mam:2' queryid='`+qid+`'>`+inner+`</query></iq>`)
	got := sess.take()
	if len(got) == 0 {
		t.Fatalf("query %s: no answer", id)
	}
	ans := &mamAnswer{}
	owner := sess.jid.Bare().String()
	for _, st := range got[:len(got)-1] {
		el, err := st.Element()
		if err != nil {
			t.Fatalf("query %s: unparsable result %s: %v", id, st.Raw, err)
		}
		res := el.Child(nsMAM, "result")
		fwd := res.Child(nsForward, "forwarded")
		if st.Name.Local != "message" || st.From() != owner || st.To() != sess.jid.String() || res == nil ||
			res.Attr("queryid") != qid || fwd == nil {
			t.Fatalf("query %s: malformed result %s", id, st.Raw)
		}
		msg := fwd.Child(xmlstream.NSClient, "message")
		delay := fwd.Child(nsDelay, "delay")
		if msg == nil || delay == nil {
			t.Fatalf("query %s: result without jabber:client message or delay: %s", id, st.Raw)
		}
		ans.results = append(ans.results, mamResultMsg{id: res.Attr("id"), stamp: delay.Attr("stamp"), msg: msg})
	}
	last := got[len(got)-1]
	if last.Name.Local != "iq" || last.ID() != id {
		t.Fatalf("query %s: ended with %s", id, last.Raw)
	}
	el, _ := last.Element()
	if last.Type() == "error" {
		if len(got) != 1 {
			t.Fatalf("query %s: results before an error", id)
		}
		for _, c := range el.Child("", "error").Elements() {
			if c.Name.Space == xmlstream.NSStanzas && c.Name.Local != "text" {
				ans.errCond = c.Name.Local
			}
		}
		return ans
	}
	fin := el.Child(nsMAM, "fin")
	if last.Type() != "result" || fin == nil {
		t.Fatalf("query %s: %s", id, last.Raw)
	}
	set := fin.Child(mam.NSRSM, "set")
	if set == nil {
		t.Fatalf("query %s: <fin/> without RSM <set/>: %s", id, last.Raw)
	}
	ans.complete = fin.Attr("complete")
	if fe := set.Child(mam.NSRSM, "first"); fe != nil {
		ans.first, ans.firstIndex = fe.Text(), fe.Attr("index")
	}
	ans.last = set.ChildText(mam.NSRSM, "last")
	ans.count = set.ChildText(mam.NSRSM, "count")
	if n := len(ans.results); n > 0 && (ans.first != ans.results[0].id || ans.last != ans.results[n-1].id) &&
		(ans.first != ans.results[n-1].id || ans.last != ans.results[0].id) { // flipped
		t.Fatalf("query %s: RSM first/last %s/%s do not match the results %v", id, ans.first, ans.last, ans.ids())
	}
	if len(ans.results) == 0 && (ans.first != "" || ans.last != "") {
		t.Fatalf("query %s: empty page with first/last", id)
	}
	return ans
}

// mamForm builds the query form from var/value pairs.
func mamForm(pairs ...string) string {
	var b strings.Builder
	b.WriteString(`<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field>`)
	for i := 0; i+1 < len(pairs); i += 2 {
		fmt.Fprintf(&b, "<field var='%s'><value>%s</value></field>", pairs[i], pairs[i+1])
	}
	b.WriteString("</x>")
	return b.String()
}

// rsmSet builds an RSM <set/>; max < 0 leaves <max/> out.
func rsmSet(max int, after, before string, hasBefore bool) string {
	var b strings.Builder
	b.WriteString(`<set xmlns='http://jabber.org/protocol/rsm'>`)
	if max >= 0 {
		fmt.Fprintf(&b, "<max>%d</max>", max)
	}
	if after != "" {
		b.WriteString("<after>" + after + "</after>")
	}
	if hasBefore {
		b.WriteString("<before>" + before + "</before>")
	}
	b.WriteString("</set>")
	return b.String()
}

// fillArchive has alice send n numbered messages to romeo@remote.test, one
// second apart, and returns their archive ids in order.
func fillArchive(t *testing.T, f *imFixture, clock *testClock, a *fakeSession, n int) []string {
	t.Helper()
	for i := range n {
		f.client(a, fmt.Sprintf(`<message to='romeo@remote.test' type='chat' id='m%d'><body>%d</body></message>`, i, i))
		clock.advance(time.Second)
	}
	f.takeRemote()
	_, ids := mamArchived(t, f, "alice@example.com")
	if len(ids) != n {
		t.Fatalf("archived %d of %d", len(ids), n)
	}
	return ids
}

func TestMAMPagingThousandMessages(t *testing.T) {
	f, clock := newMAMFixture(t)
	a := f.mamLogin("alice@example.com/a", 0)
	a.take()
	want := fillArchive(t, f, clock, a, 1000)
	seen := map[string]bool{}
	for _, id := range want {
		if seen[id] {
			t.Fatalf("archive id %s given twice", id)
		}
		seen[id] = true
	}

	// Forwards: pages of 50 with <after/>.
	var got []string
	after := ""
	for page := 0; ; page++ {
		ans := queryMAM(t, f, a, "f"+strconv.Itoa(page), rsmSet(50, after, "", false))
		if ans.count != "1000" || ans.firstIndex != strconv.Itoa(len(got)) {
			t.Fatalf("forward page %d: count %s index %s", page, ans.count, ans.firstIndex)
		}
		for i := range ans.results {
			if b := ans.body(i); b != strconv.Itoa(len(got)+i) {
				t.Fatalf("forward page %d result %d has body %s", page, i, b)
			}
		}
		got = append(got, ans.ids()...)
		if ans.complete == "true" {
			if page != 19 {
				t.Fatalf("complete after %d pages", page+1)
			}
			break
		}
		if ans.complete != "false" || len(ans.results) != 50 || page > 20 {
			t.Fatalf("forward page %d: %d results, complete=%q", page, len(ans.results), ans.complete)
		}
		after = ans.last
	}
	if !slices.Equal(got, want) {
		t.Fatalf("forward paging returned %d ids, not the archive's %d in order", len(got), len(want))
	}

	// Backwards: the last page (empty <before/>), then <before/> the first.
	var back []string
	before := ""
	for page := 0; ; page++ {
		ans := queryMAM(t, f, a, "b"+strconv.Itoa(page), rsmSet(50, "", before, true))
		wantIndex := 1000 - len(back) - len(ans.results)
		if ans.count != "1000" || ans.firstIndex != strconv.Itoa(wantIndex) {
			t.Fatalf("backward page %d: count %s index %s, want index %d", page, ans.count, ans.firstIndex, wantIndex)
		}
		back = append(ans.ids(), back...) // each page is in chronological order
		if ans.complete == "true" {
			if page != 19 {
				t.Fatalf("complete after %d backward pages", page+1)
			}
			break
		}
		if len(ans.results) != 50 || page > 20 {
			t.Fatalf("backward page %d: %d results, complete=%q", page, len(ans.results), ans.complete)
		}
		before = ans.first
	}
	if !slices.Equal(back, want) {
		t.Fatalf("backward paging did not return every id exactly once in order")
	}
}

func TestMAMFilters(t *testing.T) {
	f, clock := newMAMFixture(t)
	a := f.mamLogin("alice@example.com/a", 0)
	b := f.mamLogin("bob@example.com/b", 0)
	a.take()
	t0 := clock.now()
	// 0: alice->bob, 1: romeo/x->alice, 2: alice->romeo/y, 3: bob->alice,
	// 4: romeo/x->alice, 5: alice->alice/a (to herself); a minute apart.
	steps := []func(){
		func() { f.client(a, `<message to='bob@example.com' type='chat'><body>0</body></message>`) },
		func() {
			f.route(`<message from='romeo@remote.test/x' to='alice@example.com' type='chat'><body>1</body></message>`)
		},
		func() { f.client(a, `<message to='romeo@remote.test/y' type='chat'><body>2</body></message>`) },
		func() { f.client(b, `<message to='alice@example.com' type='chat'><body>3</body></message>`) },
		func() {
			f.route(`<message from='romeo@remote.test/x' to='alice@example.com' type='chat'><body>4</body></message>`)
		},
		func() { f.client(a, `<message to='alice@example.com/a' type='chat'><body>5</body></message>`) },
	}
	for _, step := range steps {
		step()
		clock.advance(time.Minute)
	}
	a.take()
	b.take()
	f.takeRemote()
	_, ids := mamArchived(t, f, "alice@example.com")
	at := func(min int) string { return t0.Add(time.Duration(min) * time.Minute).Format(time.RFC3339) }

	cases := []struct {
		name, query string
		bodies      []string
		count       string
	}{
		{"everything", "", []string{"0", "1", "2", "3", "4", "5"}, "6"},
		{"with bare", mamForm("with", "romeo@remote.test"), []string{"1", "2", "4"}, ""},
		{"with full", mamForm("with", "romeo@remote.test/x"), []string{"1", "4"}, ""},
		{"with local contact", mamForm("with", "bob@example.com"), []string{"0", "3"}, ""},
		{"with own JID: only messages to oneself", mamForm("with", "alice@example.com"), []string{"5"}, ""},
		{"start", mamForm("start", at(2)), []string{"2", "3", "4", "5"}, "4"},
		{"end", mamForm("end", at(2)), []string{"0", "1", "2"}, "3"},
		{"start and end", mamForm("start", at(1), "end", at(3)), []string{"1", "2", "3"}, "3"},
		{"start after end", mamForm("start", at(4), "end", at(1)), nil, "0"},
		{"start with offset", mamForm("start", t0.Add(4*time.Minute).In(time.FixedZone("x", -5*3600)).Format(time.RFC3339)), []string{"4", "5"}, "2"},
		{"start with fraction", mamForm("start", t0.Add(3*time.Minute-time.Millisecond).Format("2006-01-02T15:04:05.000Z07:00")), []string{"3", "4", "5"}, "3"},
		{"with and start", mamForm("with", "romeo@remote.test", "start", at(2)), []string{"2", "4"}, ""},
		{"after-id", mamForm("after-id", ids[3]), []string{"4", "5"}, "2"},
		{"before-id", mamForm("before-id", ids[2]), []string{"0", "1"}, "2"},
		{"between ids", mamForm("after-id", ids[0], "before-id", ids[4]), []string{"1", "2", "3"}, "3"},
		{"ids", `<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>urn:xmpp:mam:2</value></field><field var='ids'><value>` + ids[4] + `</value><value>` + ids[1] + `</value></field></x>`, []string{"1", "4"}, "2"},
		{"ids and with", `<x xmlns='jabber:x:data' type='submit'><field var='ids'><value>` + ids[0] + `</value><value>` + ids[1] + `</value></field><field var='with'><value>bob@example.com</value></field></x>`, []string{"0"}, "1"},
		{"empty form values are no filter", `<x xmlns='jabber:x:data' type='submit'><field var='with'/><field var='start'><value></value></field></x>`, []string{"0", "1", "2", "3", "4", "5"}, "6"},
	}
	for i, c := range cases {
		ans := queryMAM(t, f, a, "c"+strconv.Itoa(i), c.query)
		if ans.errCond != "" || !slices.Equal(ans.bodies(), c.bodies) || ans.count != c.count || ans.complete != "true" {
			t.Errorf("%s: bodies %v count %q complete %q err %q; want %v count %q", c.name, ans.bodies(), ans.count, ans.complete, ans.errCond, c.bodies, c.count)
		}
	}

	// Result stamps are the archive times.
	ans := queryMAM(t, f, a, "stamps", "")
	for i, r := range ans.results {
		if w := stamp(t0.Add(time.Duration(i) * time.Minute)); r.stamp != w {
			t.Errorf("result %d stamped %s, want %s", i, r.stamp, w)
		}
	}

	// <index/> jumps; with a page size it pages on.
	idx := queryMAM(t, f, a, "idx", `<set xmlns='http://jabber.org/protocol/rsm'><max>2</max><index>3</index></set>`)
	if !slices.Equal(idx.bodies(), []string{"3", "4"}) || idx.firstIndex != "3" || idx.complete != "false" {
		t.Errorf("index 3: %v index %s complete %s", idx.bodies(), idx.firstIndex, idx.complete)
	}
	past := queryMAM(t, f, a, "idx2", `<set xmlns='http://jabber.org/protocol/rsm'><index>6</index></set>`)
	if len(past.results) != 0 || past.complete != "true" || past.count != "6" {
		t.Errorf("index past the end: %v complete %s count %s", past.bodies(), past.complete, past.count)
	}

	// Flipped page: same results, sent newest first; RSM unchanged.
	flip := queryMAM(t, f, a, "flip", rsmSet(3, "", "", true)+"<flip-page/>")
	if !slices.Equal(flip.bodies(), []string{"5", "4", "3"}) || flip.first != flip.results[2].id || flip.last != flip.results[0].id {
		t.Errorf("flipped last page: %v first %s last %s", flip.bodies(), flip.first, flip.last)
	}

	// max 0: the count only.
	cnt := queryMAM(t, f, a, "cnt", rsmSet(0, "", "", false))
	if len(cnt.results) != 0 || cnt.count != "6" || cnt.complete != "false" {
		t.Errorf("max 0: %d results count %s complete %s", len(cnt.results), cnt.count, cnt.complete)
	}

	// The forwarded message is the original stanza, namespace-correct.
	one := queryMAM(t, f, a, "one", mamForm("ids", ids[2]))
	if len(one.results) != 1 {
		t.Fatalf("ids query: %v", one.bodies())
	}
	if g, w := canonElement(one.results[0].msg, true), canonRaw(t, `<message from='alice@example.com/a' to='romeo@remote.test/y' type='chat'><body>2</body></message>`); g != w {
		t.Errorf("forwarded message:\n%s\nwant\n%s", g, w)
	}
}

func TestMAMQueryErrors(t *testing.T) {
	f, clock := newMAMFixture(t)
	a := f.mamLogin("alice@example.com/a", 0)
	a.take()
	ids := fillArchive(t, f, clock, a, 3)
	seq, nonce, _ := mam.ParseID(ids[1])
	wrongNonce := mam.ID(seq, nonce+1)
	beyond := mam.ID(seq+10, nonce)

	cases := []struct{ name, query, cond string }{
		{"RSM after unknown", rsmSet(5, "nonsense", "", false), "item-not-found"},
		{"RSM after wrong nonce", rsmSet(5, wrongNonce, "", false), "item-not-found"},
		{"RSM before beyond the end", rsmSet(5, "", beyond, true), "item-not-found"},
		{"after-id unknown", mamForm("after-id", "nonsense"), "item-not-found"},
		{"before-id unknown", mamForm("before-id", wrongNonce), "item-not-found"},
		{"ids unknown", mamForm("ids", beyond), "item-not-found"},
		{"bad start", mamForm("start", "yesterday"), "bad-request"},
		{"bad end", mamForm("end", "2026-13-01T00:00:00Z"), "bad-request"},
		{"bad with", mamForm("with", "@bad@"), "bad-request"},
		{"two values", `<x xmlns='jabber:x:data' type='submit'><field var='with'><value>a@b</value><value>c@d</value></field></x>`, "bad-request"},
		{"field twice", mamForm("with", "a@b", "with", "c@d"), "bad-request"},
		{"wrong FORM_TYPE", `<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>urn:xmpp:mam:1</value></field></x>`, "bad-request"},
		{"form not submitted", `<x xmlns='jabber:x:data' type='form'/>`, "bad-request"},
		{"unknown field", mamForm("{urn:example}full-text", "x"), "feature-not-implemented"},
		{"include-groupchat unsupported", mamForm("include-groupchat", "true"), "feature-not-implemented"},
		{"no max", rsmSet(-1, "", "", false), ""},
		{"max not a number", `<set xmlns='http://jabber.org/protocol/rsm'><max>ten</max></set>`, "bad-request"},
		{"max negative", `<set xmlns='http://jabber.org/protocol/rsm'><max>-1</max></set>`, "bad-request"},
		{"empty after", `<set xmlns='http://jabber.org/protocol/rsm'><after/></set>`, "bad-request"},
		{"index with 'with'", mamForm("with", "romeo@remote.test") + `<set xmlns='http://jabber.org/protocol/rsm'><index>1</index></set>`, "feature-not-implemented"},
	}
	for i, c := range cases {
		ans := queryMAM(t, f, a, "e"+strconv.Itoa(i), c.query)
		if ans.errCond != c.cond {
			t.Errorf("%s: condition %q, want %q", c.name, ans.errCond, c.cond)
		}
	}

	// Too many ids.
	many := make([]string, mam.MaxIDs+1)
	for i := range many {
		many[i] = "<value>" + ids[0] + "</value>"
	}
	if ans := queryMAM(t, f, a, "many", `<x xmlns='jabber:x:data' type='submit'><field var='ids'>`+strings.Join(many, "")+`</field></x>`); ans.errCond != "policy-violation" {
		t.Errorf("too many ids: %q", ans.errCond)
	}

	// Someone else's archive: forbidden, with the error type auth.
	b := f.mamLogin("bob@example.com/b", 0)
	b.take()
	f.client(b, `<iq type='set' id='x1' to='alice@example.com'><query xmlns='urn:xmpp:mam:2'/></iq>`)
	mamExpectError(t, b, "x1", "auth", "forbidden")
	f.client(b, `<iq type='get' id='x2' to='alice@example.com'><metadata xmlns='urn:xmpp:mam:2'/></iq>`)
	mamExpectError(t, b, "x2", "auth", "forbidden")
}

func TestMAMPageLimits(t *testing.T) {
	f, clock := newMAMFixture(t)
	a := f.mamLogin("alice@example.com/a", 0)
	a.take()
	fillArchive(t, f, clock, a, mam.MaxPage+10)

	// A larger max is clamped to mam.MaxPage; the page is not complete.
	ans := queryMAM(t, f, a, "big", rsmSet(100000, "", "", false))
	if len(ans.results) != mam.MaxPage || ans.complete != "false" {
		t.Fatalf("max 100000: %d results, complete %s", len(ans.results), ans.complete)
	}
	// No max: the default page.
	if ans := queryMAM(t, f, a, "def", ""); len(ans.results) != mam.DefaultPage || ans.complete != "false" {
		t.Fatalf("no max: %d results, complete %s", len(ans.results), ans.complete)
	}

	// A page stops at mam.PageBytes of stanzas (at least one result).
	big := strings.Repeat("x", 100<<10)
	for range 4 {
		f.client(a, `<message to='romeo@remote.test' type='chat'><body>`+big+`</body></message>`)
	}
	f.takeRemote()
	last := queryMAM(t, f, a, "bytes", rsmSet(10, "", "", true))
	if len(last.results) != 2 || last.complete != "false" {
		t.Fatalf("4 x 100 KiB: page of %d, complete %s; want 2 (%d bytes per page)", len(last.results), last.complete, mam.PageBytes)
	}
}

func TestMAMWithFilterScanLimit(t *testing.T) {
	f, clock := newMAMFixture(t)
	f.srv.state.mam.scanLimit = 100
	a := f.mamLogin("alice@example.com/a", 0)
	a.take()
	f.client(a, `<message to='bob@example.com' type='chat'><body>early</body></message>`)
	clock.advance(time.Second)
	for i := range 300 {
		f.client(a, fmt.Sprintf(`<message to='romeo@remote.test' type='chat'><body>%d</body></message>`, i))
	}
	clock.advance(time.Second)
	f.client(a, `<message to='bob@example.com' type='chat'><body>late</body></message>`)
	f.takeRemote()
	with := mamForm("with", "bob@example.com")

	// From the end: the late message is found, then the scan limit stops
	// the search for more, and the page honestly says it is not complete;
	// count and index are unknown.
	ans := queryMAM(t, f, a, "w1", with+rsmSet(10, "", "", true))
	if !slices.Equal(ans.bodies(), []string{"late"}) || ans.complete != "false" || ans.count != "" || ans.firstIndex != "" {
		t.Fatalf("with-filter from the end: %v complete %s count %q index %q", ans.bodies(), ans.complete, ans.count, ans.firstIndex)
	}
	// Paging back from it: nothing within the scan limit, not complete.
	ans = queryMAM(t, f, a, "w2", with+rsmSet(10, "", ans.first, true))
	if len(ans.results) != 0 || ans.complete != "false" {
		t.Fatalf("with-filter, page before late: %v complete %s", ans.bodies(), ans.complete)
	}
	// From the start: the early message, then the limit.
	ans = queryMAM(t, f, a, "w3", with)
	if !slices.Equal(ans.bodies(), []string{"early"}) || ans.complete != "false" {
		t.Fatalf("with-filter forward: %v complete %s", ans.bodies(), ans.complete)
	}
	// A time window narrows the scan: complete within it.
	ans = queryMAM(t, f, a, "w4", mamForm("with", "bob@example.com", "start", clock.now().Format(time.RFC3339)))
	if !slices.Equal(ans.bodies(), []string{"late"}) || ans.complete != "true" {
		t.Fatalf("with-filter from the last second: %v complete %s", ans.bodies(), ans.complete)
	}
	// Under the limit a with-query completes.
	f.srv.state.mam.scanLimit = 1000
	ans = queryMAM(t, f, a, "w5", with)
	if !slices.Equal(ans.bodies(), []string{"early", "late"}) || ans.complete != "true" {
		t.Fatalf("with-filter under the limit: %v complete %s", ans.bodies(), ans.complete)
	}
}

func TestMAMFormAndMetadata(t *testing.T) {
	f, clock := newMAMFixture(t)
	a := f.mamLogin("alice@example.com/a", 0)
	a.take()
	f.client(a, `<iq type='get' id='form'><query xmlns='urn:xmpp:mam:2'/></iq>`)
	got := a.take()
	if len(got) != 1 || got[0].Type() != "result" {
		t.Fatalf("form: %v", got)
	}
	el, _ := got[0].Element()
	x := el.Child(nsMAM, "query").Child(nsDataForms, "x")
	var vars []string
	for _, fl := range x.ChildrenNamed(nsDataForms, "field") {
		vars = append(vars, fl.Attr("var"))
		if fl.Child(nsDataForms, "required") != nil {
			t.Errorf("field %s marked required (§4.1)", fl.Attr("var"))
		}
	}
	if !slices.Equal(vars, []string{"FORM_TYPE", "with", "start", "end", "before-id", "after-id", "ids"}) {
		t.Errorf("form fields %v", vars)
	}

	f.client(a, `<iq type='get' id='md0'><metadata xmlns='urn:xmpp:mam:2'/></iq>`)
	expectXML(t, "empty metadata", a.take(), `<iq type='result' id='md0' from='alice@example.com' to='alice@example.com/a'><metadata xmlns='urn:xmpp:mam:2'/></iq>`)

	t0 := clock.now()
	ids := fillArchive(t, f, clock, a, 3)
	f.client(a, `<iq type='get' id='md1'><metadata xmlns='urn:xmpp:mam:2'/></iq>`)
	expectXML(t, "metadata", a.take(), `<iq type='result' id='md1' from='alice@example.com' to='alice@example.com/a'><metadata xmlns='urn:xmpp:mam:2'>`+
		`<start id='`+ids[0]+`' timestamp='`+stamp(t0)+`'/><end id='`+ids[2]+`' timestamp='`+stamp(t0.Add(2*time.Second))+`'/></metadata></iq>`)
}

func TestMAMQueryOnEmptyArchive(t *testing.T) {
	f, _ := newMAMFixture(t)
	a := f.mamLogin("alice@example.com/a", 0)
	a.take()
	ans := queryMAM(t, f, a, "e", rsmSet(10, "", "", true))
	if len(ans.results) != 0 || ans.complete != "true" || ans.count != "0" {
		t.Fatalf("empty archive: %+v", ans)
	}
	if ans := queryMAM(t, f, a, "e2", mamForm("with", "bob@example.com")); ans.complete != "true" || ans.count != "" {
		t.Fatalf("empty archive with filter: %+v", ans)
	}
}

func TestMAMResultsOfIncomingFromServerStream(t *testing.T) {
	// A message from s2s relies on the jabber:server default namespace; its
	// archived copy is presented in jabber:client.
	f, _ := newMAMFixture(t)
	a := f.mamLogin("alice@example.com/a", 0)
	a.take()
	st, err := xmlstream.ParseStanza([]byte(`<message from='romeo@remote.test/r' to='alice@example.com' type='chat'><body>s2s</body></message>`), xmlstream.NSServer, xmlstream.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	f.router.Route(context.Background(), st)
	a.take()
	ans := queryMAM(t, f, a, "s", "")
	if len(ans.results) != 1 || ans.body(0) != "s2s" {
		t.Fatalf("results: %v", ans.bodies())
	}
}
