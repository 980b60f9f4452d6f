package im

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/gavelhq/gavel/data"
	"github.com/gavelhq/gavel/xmlstream"
)

const rosterNS = "xmlns='jabber:iq:roster'"

// errorOf returns the type and defined condition of an error stanza.
func errorOf(t *testing.T, st *xmlstream.Stanza) (typ, cond string) {
	t.Helper()
	el, err := st.Element()
	if err != nil {
		t.Fatal(err)
	}
	e := el.Child("", "error")
	if st.Type() != "error" || e == nil {
		t.Fatalf("not an error: %s", st.Raw)
	}
	for _, c := range e.Elements() {
		if c.Name.Space == xmlstream.NSStanzas && c.Name.Local != "text" {
			return e.Attr("type"), c.Name.Local
		}
	}
	t.Fatalf("error without condition: %s", st.Raw)
	return "", ""
}

// expectError fails unless sess received exactly one error reply to the
// stanza with id, of the given type and condition.
func expectError(t *testing.T, sess *fakeSession, kind, id, from, typ, cond string) {
	t.Helper()
	got := sess.take()
	if len(got) != 1 {
		expectXML(t, sess.jid.String(), got, "<"+kind+" type='error'/>")
	}
	st := got[0]
	if st.Name.Local != kind || st.ID() != id || st.From() != from || st.To() != sess.jid.String() {
		t.Fatalf("error reply has wrong addressing: %s", st.Raw)
	}
	if gt, gc := errorOf(t, st); gt != typ || gc != cond {
		t.Fatalf("error %s/%s, want %s/%s: %s", gt, gc, typ, cond, st.Raw)
	}
}

func TestRosterGetEmpty(t *testing.T) {
	f := newIMFixture(t)
	f.account("alice")
	a := f.login("alice@example.com/a")
	f.client(a, `<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>`)
	expectXML(t, "alice/a", a.take(),
		`<iq type='result' id='r1' from='alice@example.com' to='alice@example.com/a'><query xmlns='jabber:iq:roster'/></iq>`)
	if res, _ := f.router.Lookup(a.jid); !res.Interested {
		t.Fatal("a roster get must make the resource interested")
	}
}

func TestRosterSetPushesToInterestedOnly(t *testing.T) {
	f := newIMFixture(t)
	f.account("alice")
	a := f.login("alice@example.com/a")
	b := f.login("alice@example.com/b") // never asks for the roster
	c := f.login("alice@example.com/c")
	f.client(a, `<iq type='get' id='g'><query xmlns='jabber:iq:roster'/></iq>`)
	f.client(c, `<iq type='get' id='g'><query xmlns='jabber:iq:roster'/></iq>`)
	a.take()
	c.take()

	f.client(a, `<iq type='set' id='s1'><query xmlns='jabber:iq:roster'><item jid='Bob@Example.com' name='Bob'><group>Friends</group><group>Work</group></item></query></iq>`)
	d, _, _ := f.srv.loadRoster(context.Background(), "alice@example.com")
	ver := d.version()
	push := `<iq type='set' id='push' to='%s'><query xmlns='jabber:iq:roster' ver='` + ver + `'><item jid='bob@example.com' name='Bob' subscription='none'><group>Friends</group><group>Work</group></item></query></iq>`
	expectXML(t, "alice/a", a.take(),
		fmt.Sprintf(push, "alice@example.com/a"),
		`<iq type='result' id='s1' from='alice@example.com' to='alice@example.com/a'/>`)
	expectXML(t, "alice/c", c.take(), fmt.Sprintf(push, "alice@example.com/c"))
	expectNothing(t, b)

	// Update: name and groups replaced; ask/approved/subscription in a set are ignored.
	f.client(c, `<iq type='set' id='s2'><query xmlns='jabber:iq:roster'><item jid='bob@example.com' subscription='both' ask='subscribe' approved='true'><group>Family</group></item></query></iq>`)
	d, _, _ = f.srv.loadRoster(context.Background(), "alice@example.com")
	push2 := `<iq type='set' id='push' to='%s'><query xmlns='jabber:iq:roster' ver='` + d.version() + `'><item jid='bob@example.com' subscription='none'><group>Family</group></item></query></iq>`
	expectXML(t, "alice/a", a.take(), fmt.Sprintf(push2, "alice@example.com/a"))
	expectXML(t, "alice/c", c.take(), fmt.Sprintf(push2, "alice@example.com/c"),
		`<iq type='result' id='s2' from='alice@example.com' to='alice@example.com/c'/>`)
	expectNothing(t, b)

	f.client(b, `<iq type='get' id='g2'><query xmlns='jabber:iq:roster'/></iq>`)
	expectXML(t, "alice/b", b.take(),
		`<iq type='result' id='g2' from='alice@example.com' to='alice@example.com/b'><query xmlns='jabber:iq:roster'><item jid='bob@example.com' subscription='none'><group>Family</group></item></query></iq>`)
}

func TestRosterSetErrors(t *testing.T) {
	long := strings.Repeat("x", MaxRosterNameBytes+1)
	for _, tc := range []struct {
		name, query, typ, cond string
	}{
		{"two items", `<item jid='a@example.com'/><item jid='b@example.com'/>`, "modify", "bad-request"},
		{"no item", ``, "modify", "bad-request"},
		{"foreign child", `<item jid='a@example.com'/><foo xmlns='urn:x'/>`, "modify", "bad-request"},
		{"no jid", `<item name='x'/>`, "modify", "bad-request"},
		{"malformed jid", `<item jid='a@b@c'/>`, "modify", "jid-malformed"},
		{"full jid", `<item jid='a@example.com/r'/>`, "modify", "bad-request"},
		{"own jid", `<item jid='alice@example.com'/>`, "cancel", "not-allowed"},
		{"empty group", `<item jid='a@example.com'><group></group></item>`, "modify", "not-acceptable"},
		{"duplicate group", `<item jid='a@example.com'><group>G</group><group>G</group></item>`, "modify", "bad-request"},
		{"long name", `<item jid='a@example.com' name='` + long + `'/>`, "modify", "not-acceptable"},
		{"long group", `<item jid='a@example.com'><group>` + long + `</group></item>`, "modify", "not-acceptable"},
		{"remove absent", `<item jid='a@example.com' subscription='remove'/>`, "cancel", "item-not-found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newIMFixture(t)
			f.account("alice")
			a := f.login("alice@example.com/a")
			f.client(a, `<iq type='get' id='g'><query xmlns='jabber:iq:roster'/></iq>`)
			a.take()
			f.client(a, `<iq type='set' id='e1'><query xmlns='jabber:iq:roster'>`+tc.query+`</query></iq>`)
			expectError(t, a, "iq", "e1", "alice@example.com", tc.typ, tc.cond)
			d, _, _ := f.srv.loadRoster(context.Background(), "alice@example.com")
			if len(d.Items) != 0 {
				t.Fatalf("a failed set changed the roster: %v", d.Items)
			}
		})
	}
}

func TestRosterOfAnotherAccountForbidden(t *testing.T) {
	f := newIMFixture(t)
	f.account("alice")
	f.account("bob")
	b := f.login("bob@example.com/b")
	f.client(b, `<iq type='get' id='x1' to='alice@example.com'><query xmlns='jabber:iq:roster'/></iq>`)
	expectError(t, b, "iq", "x1", "alice@example.com", "auth", "forbidden")
	f.client(b, `<iq type='set' id='x2' to='alice@example.com'><query xmlns='jabber:iq:roster'><item jid='eve@example.com'/></query></iq>`)
	expectError(t, b, "iq", "x2", "alice@example.com", "auth", "forbidden")
	// From another server, too.
	f.route(`<iq type='get' id='x3' from='mallory@remote.test/r' to='alice@example.com'><query xmlns='jabber:iq:roster'/></iq>`)
	got := f.takeRemote()
	if len(got) != 1 {
		t.Fatalf("remote got %d stanzas", len(got))
	}
	if typ, cond := errorOf(t, got[0]); typ != "auth" || cond != "forbidden" {
		t.Fatalf("got %s/%s", typ, cond)
	}
}

func TestRosterVersioning(t *testing.T) {
	f := newIMFixture(t)
	f.account("alice")
	a := f.login("alice@example.com/a")
	// A client without a cached roster sends ver=''.
	f.client(a, `<iq type='get' id='v1'><query xmlns='jabber:iq:roster' ver=''/></iq>`)
	expectXML(t, "alice/a", a.take(),
		`<iq type='result' id='v1' from='alice@example.com' to='alice@example.com/a'><query xmlns='jabber:iq:roster' ver='0'/></iq>`)
	// Current version: empty result, no roster.
	f.client(a, `<iq type='get' id='v2'><query xmlns='jabber:iq:roster' ver='0'/></iq>`)
	expectXML(t, "alice/a", a.take(), `<iq type='result' id='v2' from='alice@example.com' to='alice@example.com/a'/>`)

	f.client(a, `<iq type='set' id='s'><query xmlns='jabber:iq:roster'><item jid='bob@example.com'/></query></iq>`)
	got := a.take()
	if len(got) != 2 {
		t.Fatalf("want push and result, got %d", len(got))
	}
	el, _ := got[0].Element()
	v1 := el.Child(NSRoster, "query").Attr("ver")
	if v1 == "" || v1 == "0" {
		t.Fatalf("push version %q", v1)
	}
	// The old version gets the whole roster with the new version.
	f.client(a, `<iq type='get' id='v3'><query xmlns='jabber:iq:roster' ver='0'/></iq>`)
	expectXML(t, "alice/a", a.take(),
		`<iq type='result' id='v3' from='alice@example.com' to='alice@example.com/a'><query xmlns='jabber:iq:roster' ver='`+v1+`'><item jid='bob@example.com' subscription='none'/></query></iq>`)
	f.client(a, `<iq type='get' id='v4'><query xmlns='jabber:iq:roster' ver='`+v1+`'/></iq>`)
	expectXML(t, "alice/a", a.take(), `<iq type='result' id='v4' from='alice@example.com' to='alice@example.com/a'/>`)

	// A change of pending requests only does not change the version.
	f.route(`<presence type='subscribe' from='carol@remote.test' to='alice@example.com'/>`)
	d, _, _ := f.srv.loadRoster(context.Background(), "alice@example.com")
	if d.version() != v1 || len(d.Pending) != 1 {
		t.Fatalf("version %q pending %d, want %q and 1", d.version(), len(d.Pending), v1)
	}
	// A second item change bumps it again.
	f.client(a, `<iq type='set' id='s2'><query xmlns='jabber:iq:roster'><item jid='bob@example.com' name='B'/></query></iq>`)
	a.take()
	d, _, _ = f.srv.loadRoster(context.Background(), "alice@example.com")
	if d.version() == v1 {
		t.Fatal("an item change must change the version")
	}
}

func TestRosterRemoveCancelsSubscriptions(t *testing.T) {
	f := newIMFixture(t)
	f.account("alice")
	a := f.login("alice@example.com/a")
	f.client(a, `<iq type='get' id='g'><query xmlns='jabber:iq:roster'/></iq>`)
	f.client(a, `<presence/>`)
	putRoster(t, f, "alice@example.com", &rosterDoc{Epoch: "e", Seq: 1,
		Items: map[string]*rosterItem{"dave@remote.test": {JID: "dave@remote.test", To: true, From: true}}})
	a.take()
	f.takeRemote()

	f.client(a, `<iq type='set' id='rm'><query xmlns='jabber:iq:roster'><item jid='dave@remote.test' subscription='remove'/></query></iq>`)
	expectXML(t, "alice/a", a.take(),
		`<iq type='set' id='push' to='alice@example.com/a'><query xmlns='jabber:iq:roster' ver='e-2'><item jid='dave@remote.test' subscription='remove'/></query></iq>`,
		`<iq type='result' id='rm' from='alice@example.com' to='alice@example.com/a'/>`)
	expectXML(t, "remote", f.takeRemote(),
		`<presence from='alice@example.com' to='dave@remote.test' type='unsubscribe'/>`,
		`<presence from='alice@example.com' to='dave@remote.test' type='unsubscribed'/>`,
		`<presence from='alice@example.com/a' to='dave@remote.test' type='unavailable'/>`)
	d, _, _ := f.srv.loadRoster(context.Background(), "alice@example.com")
	if len(d.Items) != 0 {
		t.Fatalf("item not removed: %v", d.Items)
	}

	// A pending request of an item is denied on removal; no unavailable.
	putRoster(t, f, "alice@example.com", &rosterDoc{Epoch: "e", Seq: 5,
		Items:   map[string]*rosterItem{"erin@remote.test": {JID: "erin@remote.test"}},
		Pending: map[string]pendingSub{"erin@remote.test": {Raw: "<presence type='subscribe'/>"}}})
	f.client(a, `<iq type='set' id='rm2'><query xmlns='jabber:iq:roster'><item jid='erin@remote.test' subscription='remove'/></query></iq>`)
	a.take()
	expectXML(t, "remote", f.takeRemote(),
		`<presence from='alice@example.com' to='erin@remote.test' type='unsubscribed'/>`)
}

// putRoster overwrites a roster document (test setup).
func putRoster(t *testing.T, f *imFixture, bare string, d *rosterDoc) {
	t.Helper()
	if d.Items == nil {
		d.Items = map[string]*rosterItem{}
	}
	if d.Pending == nil {
		d.Pending = map[string]pendingSub{}
	}
	val, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.Put(context.Background(), data.RosterKey(bare), val); err != nil {
		t.Fatal(err)
	}
}

func TestRosterLimit(t *testing.T) {
	f := newIMFixture(t)
	f.account("alice")
	d := &rosterDoc{Epoch: "e", Items: map[string]*rosterItem{}}
	for i := range MaxRosterItems {
		j := fmt.Sprintf("c%d@example.com", i)
		d.Items[j] = &rosterItem{JID: j}
	}
	putRoster(t, f, "alice@example.com", d)
	a := f.login("alice@example.com/a")
	f.client(a, `<iq type='set' id='full'><query xmlns='jabber:iq:roster'><item jid='one-more@example.com'/></query></iq>`)
	expectError(t, a, "iq", "full", "alice@example.com", "cancel", "not-allowed")
	// Updating an existing item still works.
	f.client(a, `<iq type='set' id='upd'><query xmlns='jabber:iq:roster'><item jid='c1@example.com' name='x'/></query></iq>`)
	expectXML(t, "alice/a", a.take(), `<iq type='result' id='upd' from='alice@example.com' to='alice@example.com/a'/>`)
	// A subscription that needs a new item is refused too.
	f.client(a, `<presence type='subscribe' to='one-more@remote.test'/>`)
	expectError(t, a, "presence", "", "one-more@remote.test", "cancel", "not-allowed")
	if got := f.takeRemote(); len(got) != 0 {
		t.Fatalf("refused subscription was routed: %s", got[0].Raw)
	}
}

func TestRosterConcurrentUpdatesLoseNothing(t *testing.T) {
	f := newIMFixture(t)
	f.account("alice")
	a := f.login("alice@example.com/a")
	b := f.login("alice@example.com/b")
	const n = 40
	var wg sync.WaitGroup
	for _, sess := range []*fakeSession{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				f.client(sess, fmt.Sprintf(`<iq type='set' id='%d'><query xmlns='jabber:iq:roster'><item jid='%s-%d@example.com'/></query></iq>`,
					i, sess.jid.Resourcepart(), i))
			}
		}()
	}
	// Inbound subscription requests race with the sets on the same document.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range n {
			f.route(fmt.Sprintf(`<presence type='subscribe' from='s%d@remote.test' to='alice@example.com'/>`, i))
		}
	}()
	wg.Wait()
	d, _, err := f.srv.loadRoster(context.Background(), "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Items) != 2*n || len(d.Pending) != n {
		t.Fatalf("%d items and %d pending, want %d and %d", len(d.Items), len(d.Pending), 2*n, n)
	}
	if d.Seq != 2*n {
		t.Fatalf("version sequence %d, want %d", d.Seq, 2*n)
	}
	for _, sess := range []*fakeSession{a, b} {
		results := 0
		for _, st := range sess.take() {
			if st.Type() == "result" {
				results++
			}
		}
		if results != n {
			t.Fatalf("%s got %d results, want %d", sess.jid, results, n)
		}
	}
}

func TestRosterDeletedWithAccount(t *testing.T) {
	f := newIMFixture(t)
	alice := f.account("alice")
	a := f.login("alice@example.com/a")
	f.client(a, `<iq type='set' id='s'><query xmlns='jabber:iq:roster'><item jid='bob@example.com'/></query></iq>`)
	f.logout(a)
	if err := f.acc.Delete(context.Background(), alice); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.store.Get(context.Background(), data.RosterKey("alice@example.com")); err != data.ErrNotFound {
		t.Fatalf("roster still stored after account deletion: %v", err)
	}
}

func TestAnonymousRoster(t *testing.T) {
	f := newIMFixture(t)
	a := f.login("x1@anon.example.com/r")
	f.client(a, `<iq type='get' id='g'><query xmlns='jabber:iq:roster' ver=''/></iq>`)
	expectXML(t, "anon", a.take(),
		`<iq type='result' id='g' from='x1@anon.example.com' to='x1@anon.example.com/r'><query xmlns='jabber:iq:roster'/></iq>`)
	f.client(a, `<iq type='set' id='s'><query xmlns='jabber:iq:roster'><item jid='bob@example.com'/></query></iq>`)
	expectError(t, a, "iq", "s", "x1@anon.example.com", "cancel", "not-allowed")
}

func TestStreamFeatures(t *testing.T) {
	f := newIMFixture(t)
	var got []string
	for _, el := range f.srv.StreamFeatures() {
		got = append(got, el.String())
	}
	want := []string{`<ver xmlns='urn:xmpp:features:rosterver'/>`, `<sub xmlns='urn:xmpp:features:pre-approval'/>`}
	if strings.Join(got, "") != strings.Join(want, "") {
		t.Fatalf("features %v, want %v", got, want)
	}
}
