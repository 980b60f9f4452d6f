package im

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/data"
)

func privateIQ(typ, id, payload string) string {
	return `<iq type='` + typ + `' id='` + id + `'><query xmlns='jabber:iq:private'>` + payload + `</query></iq>`
}

func privateResult(id, to, payload string) string {
	return `<iq type='result' id='` + id + `' from='alice@example.com' to='` + to + `'><query xmlns='jabber:iq:private'>` + payload + `</query></iq>`
}

func TestPrivateStoreAndRetrieve(t *testing.T) {
	f := newIMFixture(t)
	f.account("alice")
	a := f.login("alice@example.com/a")
	const to = "alice@example.com/a"

	// Nothing stored: the request's element comes back as sent.
	f.client(a, privateIQ("get", "g0", `<exodus xmlns='exodus:prefs'/>`))
	expectXML(t, "alice", a.take(), privateResult("g0", to, `<exodus xmlns='exodus:prefs'/>`))

	// §2.3 examples.
	prefs := `<exodus xmlns='exodus:prefs'><defaultnick>Hamlet</defaultnick></exodus>`
	f.client(a, privateIQ("set", "s1", prefs))
	expectXML(t, "alice", a.take(), `<iq type='result' id='s1' from='alice@example.com' to='alice@example.com/a'/>`)
	f.client(a, privateIQ("get", "g1", `<exodus xmlns='exodus:prefs'/>`))
	expectXML(t, "alice", a.take(), privateResult("g1", to, prefs))

	// Two namespaces in one set, the first with two elements: each
	// namespace is stored on its own, elements of one namespace together.
	marks := `<storage xmlns='storage:bookmarks'><conference jid='lot7@conference.example.com' autojoin='true'><nick>al</nick></conference></storage>`
	notes := `<n xmlns='urn:notes'>one</n><n xmlns='urn:notes'>two</n>`
	f.client(a, privateIQ("set", "s2", notes+marks))
	a.take()
	f.client(a, privateIQ("get", "g2", `<n xmlns='urn:notes'/>`))
	expectXML(t, "alice", a.take(), privateResult("g2", to, notes))
	f.client(a, privateIQ("get", "g3", `<storage xmlns='storage:bookmarks'/>`))
	expectXML(t, "alice", a.take(), privateResult("g3", to, marks))
	// The element name does not matter, the namespace does.
	f.client(a, privateIQ("get", "g4", `<other xmlns='exodus:prefs'/>`))
	expectXML(t, "alice", a.take(), privateResult("g4", to, prefs))

	// Another resource of the same account sees the same data.
	a2 := f.login("alice@example.com/two")
	f.client(a2, privateIQ("get", "g5", `<exodus xmlns='exodus:prefs'/>`))
	expectXML(t, "two", a2.take(), privateResult("g5", "alice@example.com/two", prefs))

	// An empty element deletes the namespace's data.
	f.client(a, privateIQ("set", "s3", `<exodus xmlns='exodus:prefs'/>`))
	a.take()
	if _, _, err := f.store.Get(context.Background(), data.PrivateKey("alice@example.com", "exodus:prefs")); err != data.ErrNotFound {
		t.Fatalf("empty set did not delete: %v", err)
	}
	f.client(a, privateIQ("get", "g6", `<exodus xmlns='exodus:prefs'/>`))
	expectXML(t, "alice", a.take(), privateResult("g6", to, `<exodus xmlns='exodus:prefs'/>`))

	// Deleting the account deletes every namespace.
	if err := f.acc.Delete(context.Background(), jid.MustParse("alice@example.com")); err != nil {
		t.Fatal(err)
	}
	if n, err := f.srv.countPrivate(context.Background(), "alice@example.com"); err != nil || n != 0 {
		t.Fatalf("%d namespaces kept after account deletion (%v)", n, err)
	}
}

func TestPrivateErrors(t *testing.T) {
	f := newIMFixture(t)
	f.account("alice")
	f.account("bob")
	a := f.login("alice@example.com/a")
	b := f.login("bob@example.com/b")
	const from = "alice@example.com"

	for _, c := range []struct{ name, raw, typ, cond string }{
		{"empty get", privateIQ("get", "e", ""), "modify", "not-acceptable"},
		{"empty set", privateIQ("set", "e", ""), "modify", "not-acceptable"},
		{"jabber:client", privateIQ("set", "e", `<x xmlns='jabber:client'/>`), "modify", "not-acceptable"},
		{"jabber:server", privateIQ("get", "e", `<x xmlns='jabber:server'/>`), "modify", "not-acceptable"},
		{"jabber:iq:private", privateIQ("set", "e", `<query xmlns='jabber:iq:private'/>`), "modify", "not-acceptable"},
		{"no namespace", `<iq type='set' id='e'><query xmlns='jabber:iq:private'><x xmlns=''/></query></iq>`, "modify", "not-acceptable"},
		{"two namespaces in a get", privateIQ("get", "e", `<a xmlns='urn:a'/><b xmlns='urn:b'/>`), "modify", "bad-request"},
		{"too large", privateIQ("set", "e", `<a xmlns='urn:a'>`+strings.Repeat("x", MaxPrivateBytes)+`</a>`), "modify", "not-acceptable"},
		{"reserved in a mixed set", privateIQ("set", "e", `<a xmlns='urn:a'/><x xmlns='jabber:client'/>`), "modify", "not-acceptable"},
	} {
		f.client(a, c.raw)
		got := a.take()
		if len(got) != 1 {
			t.Fatalf("%s: got %d stanzas", c.name, len(got))
		}
		if gt, gc := errorOf(t, got[0]); gt != c.typ || gc != c.cond || got[0].From() != from {
			t.Errorf("%s: %s/%s from %s, want %s/%s: %s", c.name, gt, gc, got[0].From(), c.typ, c.cond, got[0].Raw)
		}
	}
	if n, _ := f.srv.countPrivate(context.Background(), "alice@example.com"); n != 0 {
		t.Fatalf("failed sets stored %d namespaces", n)
	}

	// Another account's data, get or set, local or remote: forbidden.
	f.client(b, `<iq type='get' id='o1' to='alice@example.com'><query xmlns='jabber:iq:private'><a xmlns='urn:a'/></query></iq>`)
	expectError(t, b, "iq", "o1", "alice@example.com", "auth", "forbidden")
	f.client(b, `<iq type='set' id='o2' to='alice@example.com'><query xmlns='jabber:iq:private'><a xmlns='urn:a'>x</a></query></iq>`)
	expectError(t, b, "iq", "o2", "alice@example.com", "auth", "forbidden")
	f.route(`<iq type='get' id='o3' from='romeo@remote.test/x' to='alice@example.com'><query xmlns='jabber:iq:private'><a xmlns='urn:a'/></query></iq>`)
	got := f.takeRemote()
	if len(got) != 1 {
		t.Fatalf("remote got %d stanzas", len(got))
	}
	if typ, cond := errorOf(t, got[0]); typ != "auth" || cond != "forbidden" {
		t.Fatalf("remote get: %s/%s", typ, cond)
	}

	// Namespaces per account are bounded.
	for i := range MaxPrivateNamespaces {
		f.client(a, privateIQ("set", "n", fmt.Sprintf(`<a xmlns='urn:n%d'>x</a>`, i)))
		if got := a.take(); len(got) != 1 || got[0].Type() != "result" {
			t.Fatalf("set %d: %v", i, got)
		}
	}
	f.client(a, privateIQ("set", "over", `<a xmlns='urn:one-more'>x</a>`))
	expectError(t, a, "iq", "over", from, "cancel", "not-allowed")
	// Replacing an existing namespace still works.
	f.client(a, privateIQ("set", "repl", `<a xmlns='urn:n0'>y</a>`))
	expectXML(t, "alice", a.take(), `<iq type='result' id='repl' from='alice@example.com' to='alice@example.com/a'/>`)

	// Anonymous accounts keep none.
	anon := f.login("x@" + testAnon + "/r")
	f.client(anon, privateIQ("set", "an", `<a xmlns='urn:a'>x</a>`))
	expectError(t, anon, "iq", "an", "x@anon.example.com", "cancel", "not-allowed")
}
