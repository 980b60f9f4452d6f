package im

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/data"
)

// lastFixture: alice's roster has bob (both, local), carol@remote.test
// (to: may not see alice's presence) and dave@remote.test (from); the
// server started at the clock's start.
func lastFixture(t *testing.T) (*imFixture, *testClock) {
	t.Helper()
	f := newIMFixture(t)
	clock := &testClock{t: time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)}
	f.srv.state.services.clock = clock.now
	f.srv.state.last.started = clock.now()
	f.account("alice")
	f.account("bob")
	putRoster(t, f, "alice@example.com", &rosterDoc{Epoch: "e", Seq: 1, Items: map[string]*rosterItem{
		"bob@example.com":   {JID: "bob@example.com", To: true, From: true},
		"carol@remote.test": {JID: "carol@remote.test", To: true},
		"dave@remote.test":  {JID: "dave@remote.test", From: true},
	}})
	putRoster(t, f, "bob@example.com", &rosterDoc{Epoch: "b", Seq: 1, Items: map[string]*rosterItem{
		"alice@example.com": {JID: "alice@example.com", To: true, From: true},
	}})
	return f, clock
}

func lastGet(from, to, id string) string {
	return `<iq type='get' id='` + id + `' from='` + from + `' to='` + to + `'><query xmlns='jabber:iq:last'/></iq>`
}

func TestServerUptime(t *testing.T) {
	f, clock := lastFixture(t)
	clock.advance(123456 * time.Second)
	f.route(lastGet("romeo@remote.test/orchard", "example.com", "u1"))
	expectXML(t, "remote", f.takeRemote(),
		`<iq type='result' id='u1' from='example.com' to='romeo@remote.test/orchard'><query xmlns='jabber:iq:last' seconds='123456'/></iq>`)
	f.route(`<iq type='set' id='u2' from='romeo@remote.test/orchard' to='example.com'><query xmlns='jabber:iq:last'/></iq>`)
	got := f.takeRemote()
	if len(got) != 1 {
		t.Fatalf("got %d stanzas", len(got))
	}
	if typ, cond := errorOf(t, got[0]); typ != "cancel" || cond != "feature-not-implemented" {
		t.Fatalf("set: %s/%s", typ, cond)
	}
}

func TestLastActivityOfAccount(t *testing.T) {
	f, clock := lastFixture(t)
	b := f.login("bob@example.com/b")

	// Never logged out since records began: no information.
	f.client(b, `<iq type='get' id='l0' to='alice@example.com'><query xmlns='jabber:iq:last'/></iq>`)
	expectError(t, b, "iq", "l0", "alice@example.com", "cancel", "service-unavailable")

	a1 := f.login("alice@example.com/one")
	a2 := f.login("alice@example.com/two")
	f.client(a1, `<presence/>`)
	f.client(a2, `<presence/>`)

	// Online (a bound resource): seconds 0 (§3).
	f.client(b, `<iq type='get' id='l1' to='alice@example.com'><query xmlns='jabber:iq:last'/></iq>`)
	expectXML(t, "bob", b.take(), `<iq type='result' id='l1' from='alice@example.com' to='bob@example.com/b'><query xmlns='jabber:iq:last' seconds='0'/></iq>`)

	// One resource says goodbye and leaves; the other is still there.
	f.client(a1, `<presence type='unavailable'><status>Heading Home</status></presence>`)
	f.logout(a1)
	clock.advance(10 * time.Second)
	f.client(b, `<iq type='get' id='l2' to='alice@example.com'><query xmlns='jabber:iq:last'/></iq>`)
	expectXML(t, "bob", b.take(), `<iq type='result' id='l2' from='alice@example.com' to='bob@example.com/b'><query xmlns='jabber:iq:last' seconds='0'/></iq>`)

	// The last one goes: the logout is recorded with the last unavailable status.
	f.logout(a2)
	clock.advance(903 * time.Second)
	f.client(b, `<iq type='get' id='l3' to='alice@example.com'><query xmlns='jabber:iq:last'/></iq>`)
	expectXML(t, "bob", b.take(), `<iq type='result' id='l3' from='alice@example.com' to='bob@example.com/b'><query xmlns='jabber:iq:last' seconds='903'>Heading Home</query></iq>`)
	// Dave (subscription from) may ask too.
	f.takeRemote() // alice's presence broadcasts
	f.route(lastGet("dave@remote.test/x", "alice@example.com", "l4"))
	expectXML(t, "remote", f.takeRemote(), `<iq type='result' id='l4' from='alice@example.com' to='dave@remote.test/x'><query xmlns='jabber:iq:last' seconds='903'>Heading Home</query></iq>`)
	if n := len(f.srv.state.last.status); n != 0 {
		t.Fatalf("pending status kept for %d accounts", n)
	}

	// Not allowed to see alice's presence: forbidden (§3).
	f.account("eve")
	e := f.login("eve@example.com/e")
	f.client(e, `<iq type='get' id='f0' to='alice@example.com'><query xmlns='jabber:iq:last'/></iq>`)
	expectError(t, e, "iq", "f0", "alice@example.com", "auth", "forbidden")
	for i, from := range []string{"carol@remote.test/x", "stranger@remote.test/x", "remote.test"} {
		f.route(lastGet(from, "alice@example.com", "f"))
		got := f.takeRemote()
		if len(got) != 1 {
			t.Fatalf("%d: got %d stanzas", i, len(got))
		}
		if typ, cond := errorOf(t, got[0]); typ != "auth" || cond != "forbidden" {
			t.Fatalf("%s: %s/%s", from, typ, cond)
		}
	}

	// Available again then gone without a status: the old status is not reused.
	a3 := f.login("alice@example.com/three")
	f.client(a3, `<presence type='unavailable'><status>brb</status></presence>`)
	f.client(a3, `<presence/>`)
	f.logout(a3)
	clock.advance(5 * time.Second)
	f.client(b, `<iq type='get' id='l5' to='alice@example.com'><query xmlns='jabber:iq:last'/></iq>`)
	expectXML(t, "bob", b.take(), `<iq type='result' id='l5' from='alice@example.com' to='bob@example.com/b'><query xmlns='jabber:iq:last' seconds='5'/></iq>`)

	// The account asking about itself.
	a4 := f.login("alice@example.com/four")
	f.client(a4, `<iq type='get' id='l6'><query xmlns='jabber:iq:last'/></iq>`)
	expectXML(t, "alice", a4.take(), `<iq type='result' id='l6' from='alice@example.com' to='alice@example.com/four'><query xmlns='jabber:iq:last' seconds='0'/></iq>`)
	f.logout(a4)

	// Deleting the account deletes the record.
	if err := f.acc.Delete(context.Background(), jid.MustParse("alice@example.com")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.store.Get(context.Background(), data.LastActivityKey("alice@example.com")); err != data.ErrNotFound {
		t.Fatalf("last activity kept after account deletion: %v", err)
	}
}

func TestLastActivityStatusBounded(t *testing.T) {
	f, _ := lastFixture(t)
	a := f.login("alice@example.com/a")
	long := strings.Repeat("é", MaxLastStatusBytes) // 2 bytes each
	f.client(a, `<presence type='unavailable'><status>`+long+`</status></presence>`)
	f.logout(a)
	val, _, err := f.store.Get(context.Background(), data.LastActivityKey("alice@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(val), `"s":"`+long[:MaxLastStatusBytes]+`"`) {
		t.Fatalf("stored %q, want the status cut to %d bytes", val, MaxLastStatusBytes)
	}
	if got := truncateUTF8("aé", 2); got != "a" {
		t.Fatalf("truncateUTF8 split a character: %q", got)
	}
}

func TestIdleQueryToFullJIDNeedsPresenceAuthorization(t *testing.T) {
	f, _ := lastFixture(t)
	a := f.login("alice@example.com/a")
	f.client(a, `<presence/>`)
	a.take()
	f.takeRemote()

	// §4: not delivered to an entity not allowed to see alice's presence.
	f.route(lastGet("carol@remote.test/x", "alice@example.com/a", "q1"))
	expectXML(t, "remote", f.takeRemote(),
		`<iq type='error' id='q1' from='alice@example.com/a' to='carol@remote.test/x'><error type='auth'><forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`)
	expectNothing(t, a)
	// The same answer whether or not the resource exists (no presence leak).
	f.route(lastGet("carol@remote.test/x", "alice@example.com/gone", "q2"))
	if got := f.takeRemote(); len(got) != 1 || !strings.Contains(string(got[0].Raw), "forbidden") {
		t.Fatalf("query to a missing resource: %v", got)
	}
	// Allowed: routed to the client, which answers for itself.
	f.route(lastGet("dave@remote.test/x", "alice@example.com/a", "q3"))
	expectXML(t, "alice", a.take(), lastGet("dave@remote.test/x", "alice@example.com/a", "q3"))
	// Other iqs to the resource are not affected.
	f.route(`<iq type='get' id='q4' from='carol@remote.test/x' to='alice@example.com/a'><query xmlns='jabber:iq:version'/></iq>`)
	if got := a.take(); len(got) != 1 || got[0].ID() != "q4" {
		t.Fatalf("version query not delivered: %v", got)
	}
}

func TestLastActivityAnonymousAndAdvertised(t *testing.T) {
	f, _ := lastFixture(t)
	anon := f.login("x@" + testAnon + "/r")
	f.client(anon, `<presence type='unavailable'><status>bye</status></presence>`)
	f.logout(anon)
	if _, _, err := f.store.Get(context.Background(), data.LastActivityKey("x@"+testAnon)); err != data.ErrNotFound {
		t.Fatalf("anonymous logout recorded: %v", err)
	}
	a := f.login("alice@example.com/a")
	for _, to := range []string{"example.com", "alice@example.com"} {
		f.client(a, `<iq type='get' id='d' to='`+to+`'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`)
		if got := a.take(); len(got) != 1 || !discoHasFeature(t, got[0], NSLast) {
			t.Fatalf("%s disco#info lacks jabber:iq:last: %v", to, got)
		}
	}
}

// An account deleted while online (in-band cancel, admin delete) leaves no
// last-activity record when its sessions then close.
func TestLastActivityNotRecordedForDeletedAccount(t *testing.T) {
	f := newIMFixture(t)
	alice := f.account("alice")
	a := f.login("alice@example.com/a")
	f.client(a, "<presence/>")
	if err := f.acc.Delete(context.Background(), alice); err != nil {
		t.Fatal(err)
	}
	f.logout(a)
	if _, _, err := f.store.Get(context.Background(), data.LastActivityKey("alice@example.com")); !errors.Is(err, data.ErrNotFound) {
		t.Fatalf("last activity of a deleted account: err = %v, want not found", err)
	}
}
