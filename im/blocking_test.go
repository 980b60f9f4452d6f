package im

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/data"
	"github.com/gavelhq/gavel/router"
	"github.com/gavelhq/gavel/xmlstream"
)

const (
	blockedErrXML     = `<error type='cancel'><not-acceptable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><blocked xmlns='urn:xmpp:blocking:errors'/></error>`
	unavailableErrXML = `<error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>`
)

// block makes sess's account block jids and discards what sess received.
func (f *imFixture) blockJIDs(sess *fakeSession, jids ...string) {
	f.t.Helper()
	f.client(sess, blockIQ("block", "b-setup", jids...))
	got := sess.take()
	if len(got) == 0 || got[len(got)-1].Type() != "result" {
		expectXML(f.t, "block", got, `<iq type='result'/>`)
	}
}

func blockIQ(op, id string, jids ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<iq type='set' id='%s'><%s xmlns='urn:xmpp:blocking'>`, id, op)
	for _, j := range jids {
		fmt.Fprintf(&b, `<item jid='%s'/>`, j)
	}
	fmt.Fprintf(&b, `</%s></iq>`, op)
	return b.String()
}

func storedBlocklist(t *testing.T, f *imFixture, bare string) []string {
	t.Helper()
	val, _, err := f.store.Get(context.Background(), data.BlocklistKey(bare))
	if err == data.ErrNotFound {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var doc blocklistDoc
	if err := json.Unmarshal(val, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Items
}

func TestBlocklistRetrieveBlockUnblockPushes(t *testing.T) {
	f := newIMFixture(t)
	f.account("alice")
	a1 := f.login("alice@example.com/one")
	a2 := f.login("alice@example.com/two")
	a3 := f.login("alice@example.com/three") // never asks for the list: no pushes

	// §3.2: empty list.
	f.client(a1, `<iq type='get' id='bl1'><blocklist xmlns='urn:xmpp:blocking'/></iq>`)
	expectXML(t, "one", a1.take(),
		`<iq type='result' id='bl1' from='alice@example.com' to='alice@example.com/one'><blocklist xmlns='urn:xmpp:blocking'/></iq>`)
	f.client(a2, `<iq type='get' id='bl2'><blocklist xmlns='urn:xmpp:blocking'/></iq>`)
	a2.take()

	// §3.3: block two JIDs (one twice, one non-canonical): pushes to the
	// interested resources, then the result.
	f.client(a1, blockIQ("block", "b1", "romeo@remote.test", "Spam.Test", "romeo@remote.test"))
	push := `<iq type='set' id='push' to='%s'><block xmlns='urn:xmpp:blocking'><item jid='romeo@remote.test'/><item jid='spam.test'/></block></iq>`
	expectXML(t, "one", a1.take(),
		fmt.Sprintf(push, "alice@example.com/one"),
		`<iq type='result' id='b1' from='alice@example.com' to='alice@example.com/one'/>`)
	expectXML(t, "two", a2.take(), fmt.Sprintf(push, "alice@example.com/two"))
	expectNothing(t, a3)
	if got := storedBlocklist(t, f, "alice@example.com"); !slices.Equal(got, []string{"romeo@remote.test", "spam.test"}) {
		t.Fatalf("stored %q", got)
	}

	// The list, sorted.
	f.client(a3, `<iq type='get' id='bl3'><blocklist xmlns='urn:xmpp:blocking'/></iq>`)
	expectXML(t, "three", a3.take(),
		`<iq type='result' id='bl3' from='alice@example.com' to='alice@example.com/three'><blocklist xmlns='urn:xmpp:blocking'><item jid='romeo@remote.test'/><item jid='spam.test'/></blocklist></iq>`)

	// Blocking what is blocked already changes nothing: no push.
	f.client(a1, blockIQ("block", "b2", "romeo@remote.test"))
	expectXML(t, "one", a1.take(), `<iq type='result' id='b2' from='alice@example.com' to='alice@example.com/one'/>`)
	expectNothing(t, a2, a3)

	// §3.4: unblock one (and one that was never blocked: ignored).
	f.client(a2, blockIQ("unblock", "u1", "romeo@remote.test", "nobody@remote.test"))
	unpush := `<iq type='set' id='push' to='%s'><unblock xmlns='urn:xmpp:blocking'><item jid='romeo@remote.test'/></unblock></iq>`
	expectXML(t, "one", a1.take(), fmt.Sprintf(unpush, "alice@example.com/one"))
	expectXML(t, "two", a2.take(), fmt.Sprintf(unpush, "alice@example.com/two"),
		`<iq type='result' id='u1' from='alice@example.com' to='alice@example.com/two'/>`)
	expectXML(t, "three", a3.take(), fmt.Sprintf(unpush, "alice@example.com/three"))

	// §3.5: unblock all, pushed as an empty <unblock/>.
	f.client(a1, `<iq type='set' id='u2'><unblock xmlns='urn:xmpp:blocking'/></iq>`)
	all := `<iq type='set' id='push' to='%s'><unblock xmlns='urn:xmpp:blocking'/></iq>`
	expectXML(t, "one", a1.take(), fmt.Sprintf(all, "alice@example.com/one"),
		`<iq type='result' id='u2' from='alice@example.com' to='alice@example.com/one'/>`)
	expectXML(t, "two", a2.take(), fmt.Sprintf(all, "alice@example.com/two"))
	expectXML(t, "three", a3.take(), fmt.Sprintf(all, "alice@example.com/three"))
	if got := storedBlocklist(t, f, "alice@example.com"); got != nil {
		t.Fatalf("stored after unblock all: %q", got)
	}

	// Unblock all of an empty list: a result, nothing pushed.
	f.client(a1, `<iq type='set' id='u3'><unblock xmlns='urn:xmpp:blocking'/></iq>`)
	expectXML(t, "one", a1.take(), `<iq type='result' id='u3' from='alice@example.com' to='alice@example.com/one'/>`)
	expectNothing(t, a2, a3)

	// Ended sessions leave no interest behind.
	f.logout(a1)
	f.logout(a2)
	f.logout(a3)
	if n := len(f.srv.state.blocking.interested); n != 0 {
		t.Fatalf("interest kept for %d accounts after logout", n)
	}
}

func TestBlockingErrors(t *testing.T) {
	f := newIMFixture(t)
	f.account("alice")
	f.account("bob")
	a := f.login("alice@example.com/a")
	b := f.login("bob@example.com/b")
	const from = "alice@example.com"

	for _, c := range []struct{ name, raw, typ, cond string }{
		{"empty block", `<iq type='set' id='e'><block xmlns='urn:xmpp:blocking'/></iq>`, "modify", "bad-request"},
		{"empty jid", `<iq type='set' id='e'><block xmlns='urn:xmpp:blocking'><item jid=''/></block></iq>`, "modify", "jid-malformed"},
		{"bad jid", `<iq type='set' id='e'><block xmlns='urn:xmpp:blocking'><item jid='ok@remote.test'/><item jid='a@b@c'/></block></iq>`, "modify", "jid-malformed"},
		{"bad unblock jid", `<iq type='set' id='e'><unblock xmlns='urn:xmpp:blocking'><item jid='@remote.test'/></unblock></iq>`, "modify", "jid-malformed"},
		{"no jid", `<iq type='set' id='e'><block xmlns='urn:xmpp:blocking'><item/></block></iq>`, "modify", "bad-request"},
		{"foreign child", `<iq type='set' id='e'><block xmlns='urn:xmpp:blocking'><x xmlns='urn:x' jid='a@b'/></block></iq>`, "modify", "bad-request"},
		{"block get", `<iq type='get' id='e'><block xmlns='urn:xmpp:blocking'><item jid='a@b'/></block></iq>`, "modify", "bad-request"},
		{"blocklist set", `<iq type='set' id='e'><blocklist xmlns='urn:xmpp:blocking'/></iq>`, "modify", "bad-request"},
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
	// A failed request changed nothing (no partial block).
	if got := storedBlocklist(t, f, "alice@example.com"); got != nil {
		t.Fatalf("stored after errors: %q", got)
	}

	// Another account's blocklist.
	f.client(b, `<iq type='get' id='o1' to='alice@example.com'><blocklist xmlns='urn:xmpp:blocking'/></iq>`)
	expectError(t, b, "iq", "o1", "alice@example.com", "auth", "forbidden")
	f.client(b, `<iq type='set' id='o2' to='alice@example.com'>`+blockIQ("block", "x", "bob@example.com")[len(`<iq type='set' id='x'>`):])
	expectError(t, b, "iq", "o2", "alice@example.com", "auth", "forbidden")

	// The list is bounded.
	many := make([]string, MaxBlocklistItems+1)
	for i := range many {
		many[i] = fmt.Sprintf("u%d@remote.test", i)
	}
	f.client(a, blockIQ("block", "full", many...))
	expectError(t, a, "iq", "full", from, "cancel", "not-allowed")
	f.client(a, blockIQ("block", "fits", many[:MaxBlocklistItems]...))
	expectXML(t, "alice", a.take(), `<iq type='result' id='fits' from='alice@example.com' to='alice@example.com/a'/>`)

	// Anonymous accounts: an empty list, and no blocking.
	anon := f.login("x@" + testAnon + "/r")
	f.client(anon, `<iq type='get' id='an1'><blocklist xmlns='urn:xmpp:blocking'/></iq>`)
	expectXML(t, "anon", anon.take(),
		`<iq type='result' id='an1' from='x@anon.example.com' to='x@anon.example.com/r'><blocklist xmlns='urn:xmpp:blocking'/></iq>`)
	f.client(anon, blockIQ("block", "an2", "romeo@remote.test"))
	expectError(t, anon, "iq", "an2", "x@anon.example.com", "cancel", "not-allowed")
}

func TestBlockedSenderInbound(t *testing.T) {
	f := newIMFixture(t)
	f.account("alice")
	a := f.login("alice@example.com/a")
	f.client(a, `<presence/>`)
	a.take()
	f.blockJIDs(a, "romeo@remote.test", "evil.test", "mallory@remote.test/bot", "gw.test/r")

	// Messages from a blocked JID: not delivered, service-unavailable (§3.3).
	f.route(`<message from='romeo@remote.test/orchard' to='alice@example.com' type='chat' id='m1'><body>hi</body></message>`)
	f.route(`<message from='romeo@remote.test/orchard' to='alice@example.com/a' id='m2'><body>hi</body></message>`)
	expectXML(t, "remote", f.takeRemote(),
		`<message from='alice@example.com' to='romeo@remote.test/orchard' type='error' id='m1'><body>hi</body>`+unavailableErrXML+`</message>`,
		`<message from='alice@example.com/a' to='romeo@remote.test/orchard' type='error' id='m2'><body>hi</body>`+unavailableErrXML+`</message>`)
	// iq get/set: service-unavailable, to the bare JID (answered by the
	// server) and to a resource alike; results and errors: dropped.
	f.route(`<iq from='romeo@remote.test/orchard' to='alice@example.com' type='get' id='i1'><vCard xmlns='vcard-temp'/></iq>`)
	f.route(`<iq from='romeo@remote.test/orchard' to='alice@example.com/a' type='set' id='i2'><x xmlns='urn:x'/></iq>`)
	f.route(`<iq from='romeo@remote.test/orchard' to='alice@example.com/a' type='result' id='i3'/>`)
	f.route(`<iq from='romeo@remote.test/orchard' to='alice@example.com/a' type='error' id='i4'/>`)
	f.route(`<message from='romeo@remote.test/orchard' to='alice@example.com/a' type='error' id='m3'/>`)
	expectXML(t, "remote", f.takeRemote(),
		`<iq from='alice@example.com' to='romeo@remote.test/orchard' type='error' id='i1'>`+unavailableErrXML+`</iq>`,
		`<iq from='alice@example.com/a' to='romeo@remote.test/orchard' type='error' id='i2'>`+unavailableErrXML+`</iq>`)
	// Presence of every kind: dropped without an answer.
	for _, typ := range []string{"", "unavailable", "subscribe", "subscribed", "unsubscribe", "unsubscribed", "probe", "error"} {
		f.route(`<presence from='romeo@remote.test/orchard' to='alice@example.com' type='` + typ + `'/>`)
		f.route(`<presence from='romeo@remote.test' to='alice@example.com/a' type='` + typ + `'/>`)
	}
	expectNothing(t, a)
	if got := f.takeRemote(); len(got) != 0 {
		expectXML(t, "remote", got)
	}
	d, _, err := f.srv.loadRoster(context.Background(), "alice@example.com")
	if err != nil || len(d.Items) != 0 || len(d.Pending) != 0 {
		t.Fatalf("a blocked subscription request reached the roster: %+v %v", d, err)
	}

	// Domain item: every JID of the domain; full-JID item: that resource only;
	// domain/resource item: that JID only.
	for _, c := range []struct {
		from    string
		blocked bool
	}{
		{"evil.test", true},
		{"anyone@evil.test/x", true},
		{"evil.test/service", true},
		{"mallory@remote.test/bot", true},
		{"mallory@remote.test/phone", false},
		{"mallory@remote.test", false},
		{"gw.test/r", true},
		{"gw.test", false},
		{"user@gw.test/r", false},
		{"juliet@remote.test/balcony", false},
		{"romeo@REMOTE.test/x", true},
	} {
		f.route(`<message from='` + c.from + `' to='alice@example.com/a' type='chat' id='d'><body>x</body></message>`)
		got, bounced := a.take(), f.takeRemote()
		if c.blocked && (len(got) != 0 || len(bounced) != 1 || bounced[0].Type() != "error") {
			t.Errorf("from %s: delivered %d, bounced %d; want blocked", c.from, len(got), len(bounced))
		}
		if !c.blocked && (len(got) != 1 || len(bounced) != 0) {
			t.Errorf("from %s: delivered %d, bounced %d; want delivered", c.from, len(got), len(bounced))
		}
	}

	// Unblocked: delivered again.
	f.client(a, blockIQ("unblock", "u", "romeo@remote.test"))
	a.take()
	f.route(`<message from='romeo@remote.test/orchard' to='alice@example.com' type='chat' id='m4'><body>back</body></message>`)
	expectDelivered(t, a, "romeo@remote.test/orchard", "m4", "back")
}

func TestBlockedOfflineMessageNotStored(t *testing.T) {
	f := newIMFixture(t)
	f.account("alice")
	a := f.login("alice@example.com/a")
	f.blockJIDs(a, "romeo@remote.test")
	f.logout(a)
	f.route(`<message from='romeo@remote.test/orchard' to='alice@example.com' type='chat' id='m1'><body>hi</body></message>`)
	expectXML(t, "remote", f.takeRemote(),
		`<message from='alice@example.com' to='romeo@remote.test/orchard' type='error' id='m1'><body>hi</body>`+unavailableErrXML+`</message>`)
	if last, _, _ := f.store.Last(context.Background(), data.OfflineStream("alice@example.com")); last != 0 {
		t.Fatalf("blocked message stored offline (%d entries)", last)
	}
}

func TestSendingToBlockedJID(t *testing.T) {
	f := newIMFixture(t)
	f.account("alice")
	f.account("bob")
	a1 := f.login("alice@example.com/one")
	a2 := f.login("alice@example.com/two")
	b := f.login("bob@example.com/b")
	f.client(b, `<presence/>`)
	f.blockJIDs(a1, "romeo@remote.test", "example.com")
	a2.take()
	b.take()

	// §3.3: not routed; <not-acceptable/> with <blocked/>, payload kept for messages.
	f.client(a1, `<message to='romeo@remote.test' type='chat' id='m1'><body>Can you hear me now?</body></message>`)
	expectXML(t, "one", a1.take(),
		`<message type='error' id='m1' from='romeo@remote.test' to='alice@example.com/one'><body>Can you hear me now?</body>`+blockedErrXML+`</message>`)
	f.client(a1, `<iq to='romeo@remote.test/orchard' type='get' id='i1'><query xmlns='jabber:iq:version'/></iq>`)
	expectXML(t, "one", a1.take(),
		`<iq type='error' id='i1' from='romeo@remote.test/orchard' to='alice@example.com/one'>`+blockedErrXML+`</iq>`)
	f.client(a1, `<presence to='romeo@remote.test' type='subscribe'/>`)
	expectXML(t, "one", a1.take(),
		`<presence type='error' from='romeo@remote.test' to='alice@example.com/one'>`+blockedErrXML+`</presence>`)
	f.client(a1, `<presence to='romeo@remote.test/orchard'/>`)
	expectXML(t, "one", a1.take(),
		`<presence type='error' from='romeo@remote.test/orchard' to='alice@example.com/one'>`+blockedErrXML+`</presence>`)
	// A domain item covers the domain's accounts.
	f.client(a1, `<message to='bob@example.com' id='m2'><body>x</body></message>`)
	expectXML(t, "one", a1.take(),
		`<message type='error' id='m2' from='bob@example.com' to='alice@example.com/one'><body>x</body>`+blockedErrXML+`</message>`)
	// Responses are dropped: nothing may answer them.
	f.client(a1, `<iq to='romeo@remote.test/orchard' type='result' id='i2'/>`)
	f.client(a1, `<message to='romeo@remote.test/orchard' type='error' id='m3'/>`)
	expectNothing(t, a1, b)
	if got := f.takeRemote(); len(got) != 0 {
		expectXML(t, "remote", got)
	}

	// The user's own resources are never blocked (§5 note), whatever the list says.
	f.client(a1, `<message to='alice@example.com/two' id='m4'><body>self</body></message>`)
	expectDelivered(t, a2, "alice@example.com/one", "m4", "self")
	// So is the user's own server, even with its domain blocked.
	f.client(a1, `<iq to='example.com' type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>`)
	expectXML(t, "one", a1.take(), `<iq type='result' id='p1' from='example.com' to='alice@example.com/one'/>`)
	// Others are routed.
	f.client(a1, `<message to='juliet@remote.test' id='m5'><body>ok</body></message>`)
	expectXML(t, "remote", f.takeRemote(), `<message to='juliet@remote.test' id='m5' from='alice@example.com/one'><body>ok</body></message>`)
}

func TestBlockingHidesPresence(t *testing.T) {
	f := newIMFixture(t)
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
	b := f.login("bob@example.com/b")
	f.client(b, `<presence/>`)
	a := f.login("alice@example.com/a")
	f.client(a, `<presence><status>here</status></presence>`)
	a.take()
	b.take()
	f.takeRemote()

	// §3.3: blocking sends unavailable presence to the blocked contacts that
	// receive the user's presence (bob, dave), not to carol (no 'from').
	f.blockJIDs(a, "bob@example.com", "dave@remote.test", "carol@remote.test")
	expectXML(t, "bob", b.take(), `<presence type='unavailable' from='alice@example.com/a' to='bob@example.com'/>`)
	expectXML(t, "remote", f.takeRemote(), `<presence type='unavailable' from='alice@example.com/a' to='dave@remote.test'/>`)

	// Bob no longer sees alice's presence, and alice no longer sees bob's.
	f.client(a, `<presence><status>still here</status></presence>`)
	expectNothing(t, b)
	f.takeRemote()
	a.take()
	f.client(b, `<presence><status>bob</status></presence>`)
	expectXML(t, "bob", b.take(), `<presence from='bob@example.com/b' to='bob@example.com/b'><status>bob</status></presence>`)
	expectNothing(t, a)
	// Bob's probe goes unanswered.
	f.route(`<presence type='probe' from='bob@example.com' to='alice@example.com'/>`)
	expectNothing(t, a, b)

	// §3.4: unblocking sends the current presence to those entitled to it.
	f.client(a, blockIQ("unblock", "u1", "bob@example.com"))
	a.take()
	expectXML(t, "bob", b.take(), `<presence from='alice@example.com/a' to='bob@example.com'><status>still here</status></presence>`)
	expectNothing(t, a)
	f.client(a, `<iq type='set' id='u2'><unblock xmlns='urn:xmpp:blocking'/></iq>`)
	a.take()
	expectXML(t, "remote", f.takeRemote(), `<presence from='alice@example.com/a' to='dave@remote.test'><status>still here</status></presence>`)

	// Directed presence targets (a room) are told too, once.
	f.client(a, `<presence to='lot7@auction.remote.test/alice'/>`)
	f.takeRemote()
	f.blockJIDs(a, "lot7@auction.remote.test")
	expectXML(t, "remote", f.takeRemote(), `<presence type='unavailable' from='alice@example.com/a' to='lot7@auction.remote.test/alice'/>`)
	f.client(a, blockIQ("unblock", "u4", "lot7@auction.remote.test"))
	a.take()
	f.blockJIDs(a, "lot7@auction.remote.test")
	if got := f.takeRemote(); len(got) != 0 {
		expectXML(t, "remote", got)
	}

	// A contact covered by an item that remains is not told anything.
	f.blockJIDs(a, "dave@remote.test", "remote.test")
	expectXML(t, "remote", f.takeRemote(), `<presence type='unavailable' from='alice@example.com/a' to='dave@remote.test'/>`)
	f.client(a, blockIQ("unblock", "u3", "dave@remote.test"))
	a.take()
	if got := f.takeRemote(); len(got) != 0 {
		expectXML(t, "remote", got)
	}
}

func TestBlocklistSurvivesRestartAndAccountDeletion(t *testing.T) {
	f := newIMFixture(t)
	f.account("alice")
	a := f.login("alice@example.com/a")
	f.blockJIDs(a, "romeo@remote.test")

	// A new server over the same store enforces the stored list.
	r2 := router.New(router.Options{})
	s2 := New(Options{Domain: testDomain}, r2, f.store, f.acc, nil)
	if !s2.IsBlocked(context.Background(), jid.MustParse("alice@example.com"), jid.MustParse("romeo@remote.test/x")) {
		t.Fatal("stored blocklist not loaded by a new server")
	}

	// Deleting the account removes the list and its cached copy.
	if err := f.acc.Delete(context.Background(), jid.MustParse("alice@example.com")); err != nil {
		t.Fatal(err)
	}
	if got := storedBlocklist(t, f, "alice@example.com"); got != nil {
		t.Fatalf("blocklist kept after account deletion: %q", got)
	}
	if f.srv.IsBlocked(context.Background(), jid.MustParse("alice@example.com"), jid.MustParse("romeo@remote.test")) {
		t.Fatal("cached blocklist outlived the account")
	}
}

func TestBlockConcurrentUpdates(t *testing.T) {
	f := newIMFixture(t)
	f.account("alice")
	const n = 16
	sessions := make([]*fakeSession, n)
	for i := range sessions {
		sessions[i] = f.login(fmt.Sprintf("alice@example.com/r%d", i))
	}
	var wg sync.WaitGroup
	for i, sess := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := mustStanza(t, blockIQ("block", "c", fmt.Sprintf("u%02d@remote.test", i)))
			f.srv.HandleClient(context.Background(), sess, st.WithAttrs("from", sess.jid.String(), "to", "alice@example.com"))
		}()
	}
	wg.Wait()
	got := storedBlocklist(t, f, "alice@example.com")
	if len(got) != n {
		t.Fatalf("stored %d items after %d concurrent blocks: %q", len(got), n, got)
	}
	for i := range n {
		if !f.srv.IsBlocked(context.Background(), jid.MustParse("alice@example.com"), jid.MustParse(fmt.Sprintf("u%02d@remote.test", i))) {
			t.Fatalf("u%02d not blocked (cache out of date)", i)
		}
	}
}

func TestBlockCacheBounded(t *testing.T) {
	var c blockCache
	for i := range blockCacheUsers + 10 {
		_, _, gen := c.get(fmt.Sprint(i))
		c.fill(fmt.Sprint(i), blocklist{}, gen)
	}
	if len(c.entries) != blockCacheUsers || len(c.ring) != blockCacheUsers {
		t.Fatalf("cache holds %d/%d entries, want %d", len(c.entries), len(c.ring), blockCacheUsers)
	}
	if _, ok, _ := c.get("0"); ok {
		t.Fatal("an entry never used since it was filled was not the one evicted")
	}
	// A hit gives its entry a second chance: the hand passes it by.
	if _, ok, _ := c.get("10"); !ok {
		t.Fatal("entry 10 missing")
	}
	for i := range 20 {
		c.fill(fmt.Sprint("new", i), blocklist{}, c.gen)
	}
	if _, ok, _ := c.get("10"); !ok {
		t.Fatal("a recently used entry was evicted before unused ones")
	}
	for i, e := range c.ring {
		if e.slot != i || c.entries[e.bare] != e {
			t.Fatalf("ring slot %d holds %q with slot %d", i, e.bare, e.slot)
		}
	}
	// A load that started before a write does not overwrite it.
	_, _, gen := c.get("u")
	c.replace("u", blocklist{"x": {}})
	c.fill("u", blocklist{}, gen)
	if set, ok, _ := c.get("u"); !ok || len(set) != 1 {
		t.Fatalf("stale load replaced a write: %v %v", set, ok)
	}
}

func TestBlockingAdvertisedOnServer(t *testing.T) {
	f := newIMFixture(t)
	f.account("alice")
	a := f.login("alice@example.com/a")
	f.client(a, `<iq type='get' id='d1' to='example.com'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`)
	got := a.take()
	if len(got) != 1 || !discoHasFeature(t, got[0], NSBlocking) {
		t.Fatalf("server disco#info lacks %s: %v", NSBlocking, got)
	}
}

// expectDelivered fails unless sess received exactly one message, from
// from with id and body (other payloads, e.g. a MAM stanza-id, are ignored).
func expectDelivered(t *testing.T, sess *fakeSession, from, id, body string) {
	t.Helper()
	got := sess.take()
	if len(got) != 1 {
		expectXML(t, sess.jid.String(), got, `<message/>`)
	}
	el, err := got[0].Element()
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Name.Local != xmlstream.KindMessage || got[0].From() != from || got[0].ID() != id ||
		el.ChildText(xmlstream.NSClient, "body") != body {
		t.Fatalf("%s received %s, want message %s from %s with body %q", sess.jid, got[0].Raw, id, from, body)
	}
}

// discoHasFeature reports whether a disco#info result lists feature v.
func discoHasFeature(t *testing.T, st *xmlstream.Stanza, v string) bool {
	t.Helper()
	el, err := st.Element()
	if err != nil {
		t.Fatal(err)
	}
	q := el.Child(nsDiscoInfo, "query")
	if q == nil {
		t.Fatalf("no disco#info query: %s", st.Raw)
	}
	for _, feat := range q.ChildrenNamed(nsDiscoInfo, "feature") {
		if feat.Attr("var") == v {
			return true
		}
	}
	return false
}

// The filters' cost per stanza. Every stanza to a local account runs
// blockInbound, so a cache hit must not touch the store.
func BenchmarkBlockInbound(b *testing.B) {
	const (
		chat     = `<message from='juliet@remote.test/balcony' to='alice@example.com' type='chat'><body>hi</body></message>`
		presence = `<presence from='bob@example.com/b' to='alice@example.com'/>` // also checks bob's list
	)
	for _, c := range []struct {
		name, raw string
		items     int
		cache     bool
	}{
		{"message-empty-cached", chat, 0, true},
		{"message-10items-cached", chat, 10, true},
		{"message-10items-storeread", chat, 10, false},
		{"localpresence-empty-cached", presence, 0, true},
	} {
		b.Run(c.name, func(b *testing.B) {
			st, err := data.OpenInMemory()
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			r := router.New(router.Options{})
			s := New(Options{Domain: testDomain}, r, st, nil, nil)
			r.HandleDomain(testDomain, s, true)
			if c.items > 0 {
				_, _, err := s.updateBlocklist(context.Background(), "alice@example.com", func(bl blocklist) error {
					for i := range c.items {
						bl[fmt.Sprintf("u%d@remote.test", i)] = struct{}{}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			to := jid.MustParse("alice@example.com")
			msg, err := xmlstream.ParseStanza([]byte(c.raw), xmlstream.NSClient, xmlstream.Limits{})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if !c.cache {
					s.state.blocking.cache.forget("alice@example.com")
				}
				if _, stop := s.blockInbound(ctx, to, msg); stop {
					b.Fatal("blocked")
				}
			}
		})
	}
}
