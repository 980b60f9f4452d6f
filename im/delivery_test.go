package im

import (
	"context"
	"testing"

	"github.com/gavelhq/gavel/data"
)

// deliveryFixture: alice with resources p5a and p5b (priority 5), p1
// (priority 1), neg (priority -1) and idle (bound, never available); bob
// online as the sender.
func deliveryFixture(t *testing.T) (f *imFixture, bob *fakeSession, res map[string]*fakeSession) {
	t.Helper()
	f = newIMFixture(t)
	f.account("alice")
	f.account("bob")
	res = map[string]*fakeSession{}
	for name, prio := range map[string]string{"p5a": "5", "p5b": "5", "p1": "1", "neg": "-1", "idle": ""} {
		s := f.login("alice@example.com/" + name)
		if prio != "" {
			f.client(s, `<presence><priority>`+prio+`</priority></presence>`)
		}
		res[name] = s
	}
	for _, s := range res {
		s.take()
	}
	bob = f.login("bob@example.com/b")
	return f, bob, res
}

// sidXML is the stanza-id alice's archive stamps on what it delivers (the
// id itself is random; canon compares it as "SID").
const sidXML = `<stanza-id xmlns='urn:xmpp:sid:0' by='alice@example.com' id='SID'/>`

func TestMessageToBareJID(t *testing.T) {
	f, bob, res := deliveryFixture(t)
	all := []*fakeSession{res["p5a"], res["p5b"], res["p1"], res["neg"], res["idle"], bob}

	// chat, normal and unknown types: the highest non-negative priority, all
	// resources sharing it; 'to' is not rewritten (§8.5.2.1.1).
	for _, typ := range []string{"chat", "normal", "", "bogus"} {
		msg := `<message type='` + typ + `' id='m' to='alice@example.com'><body>hi</body></message>`
		f.client(bob, msg)
		// Archived for alice (XEP-0313), so delivered with her stanza-id.
		want := `<message type='` + typ + `' id='m' from='bob@example.com/b' to='alice@example.com'><body>hi</body>` + sidXML + `</message>`
		expectXML(t, "p5a "+typ, res["p5a"].take(), want)
		expectXML(t, "p5b "+typ, res["p5b"].take(), want)
		expectNothing(t, all...)
	}
	// headline: every non-negative available resource.
	f.client(bob, `<message type='headline' to='alice@example.com'><body>news</body></message>`)
	want := `<message type='headline' from='bob@example.com/b' to='alice@example.com'><body>news</body></message>`
	for _, n := range []string{"p5a", "p5b", "p1"} {
		expectXML(t, n, res[n].take(), want)
	}
	expectNothing(t, all...)
	// groupchat: service-unavailable.
	f.client(bob, `<message type='groupchat' id='gc' to='alice@example.com'><body>x</body></message>`)
	expectError(t, bob, "message", "gc", "alice@example.com", "cancel", "service-unavailable")
	expectNothing(t, all...)
	// error: ignored.
	f.client(bob, `<message type='error' id='er' to='alice@example.com'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>`)
	expectNothing(t, all...)
	// iq results and errors to the bare JID are consumed.
	f.client(bob, `<iq type='result' id='r' to='alice@example.com'/>`)
	expectNothing(t, all...)
}

func TestMessageToBareJIDNegativeOnlyGoesOffline(t *testing.T) {
	f := newIMFixture(t)
	f.account("alice")
	f.account("bob")
	neg := f.login("alice@example.com/neg")
	f.client(neg, `<presence><priority>-3</priority></presence>`)
	neg.take()
	bob := f.login("bob@example.com/b")
	f.client(bob, `<message type='chat' id='o1' to='alice@example.com'><body>later</body></message>`)
	expectNothing(t, neg, bob)
	last, _, err := f.store.Last(context.Background(), data.OfflineStream("alice@example.com"))
	if err != nil || last != 1 {
		t.Fatalf("offline queue last=%d err=%v, want 1 message stored", last, err)
	}
	// Becoming non-negative fetches the stored message (XEP-0160).
	f.client(neg, `<presence><priority>1</priority></presence>`)
	got := neg.take()
	if len(got) != 2 || got[1].Name.Local != "message" || got[1].ID() != "o1" || got[1].From() != "bob@example.com/b" {
		t.Fatalf("after positive presence got %d stanzas", len(got))
	}
	el, _ := got[1].Element()
	if el.ChildText("", "body") != "later" {
		t.Fatalf("offline message %s", got[1].Raw)
	}
}

func TestMessageToOfflineUser(t *testing.T) {
	f := newIMFixture(t)
	f.account("alice")
	f.account("bob")
	bob := f.login("bob@example.com/b")
	// Stored, then delivered at the next initial presence.
	f.client(bob, `<message type='normal' id='o2' to='alice@example.com'><body>while you were out</body></message>`)
	expectNothing(t, bob)
	// Not storable (nothing but metadata): bounced (§8.5.2.2.1).
	f.client(bob, `<message type='chat' id='o3' to='alice@example.com'/>`)
	expectError(t, bob, "message", "o3", "alice@example.com", "cancel", "service-unavailable")
	a := f.login("alice@example.com/a")
	f.client(a, `<presence/>`)
	got := a.take()
	if len(got) != 2 || got[1].ID() != "o2" {
		t.Fatalf("initial presence delivered %d stanzas", len(got))
	}
	// Anonymous users have no offline storage.
	f.login("x@anon.example.com/r")
	f.client(bob, `<message type='chat' id='o4' to='x@anon.example.com'><body>hi</body></message>`)
	expectError(t, bob, "message", "o4", "x@anon.example.com", "cancel", "service-unavailable")
}

func TestStanzasToNoSuchUser(t *testing.T) {
	f := newIMFixture(t)
	f.account("bob")
	bob := f.login("bob@example.com/b")
	// §8.5.1
	f.client(bob, `<message type='chat' id='n1' to='nobody@example.com'><body>x</body></message>`)
	expectError(t, bob, "message", "n1", "nobody@example.com", "cancel", "service-unavailable")
	f.client(bob, `<message type='chat' id='n2' to='nobody@example.com/r'><body>x</body></message>`)
	expectError(t, bob, "message", "n2", "nobody@example.com/r", "cancel", "service-unavailable")
	f.client(bob, `<iq type='get' id='n3' to='nobody@example.com/r'><ping xmlns='urn:xmpp:ping'/></iq>`)
	expectError(t, bob, "iq", "n3", "nobody@example.com/r", "cancel", "service-unavailable")
	for _, raw := range []string{
		`<presence to='nobody@example.com'/>`,
		`<presence type='unavailable' to='nobody@example.com'/>`,
		`<presence type='subscribed' to='nobody@example.com'/>`,
		`<presence type='unsubscribe' to='nobody@example.com'/>`,
		`<presence type='unsubscribed' to='nobody@example.com'/>`,
		`<presence to='nobody@example.com/r'/>`,
		`<message type='error' to='nobody@example.com'/>`,
	} {
		f.client(bob, raw)
		expectNothing(t, bob)
	}
}

func TestStanzasToFullJID(t *testing.T) {
	f, bob, res := deliveryFixture(t)
	all := []*fakeSession{res["p5a"], res["p5b"], res["p1"], res["neg"], res["idle"], bob}

	// §8.5.3.1: a bound resource gets messages and iqs even if not
	// available, and even with negative priority.
	for _, n := range []string{"idle", "neg"} {
		f.client(bob, `<message type='normal' to='alice@example.com/`+n+`'><body>direct</body></message>`)
		expectXML(t, n, res[n].take(), `<message type='normal' from='bob@example.com/b' to='alice@example.com/`+n+`'><body>direct</body>`+sidXML+`</message>`)
		f.client(bob, `<iq type='get' id='q' to='alice@example.com/`+n+`'><query xmlns='jabber:iq:version'/></iq>`)
		expectXML(t, n, res[n].take(), `<iq type='get' id='q' from='bob@example.com/b' to='alice@example.com/`+n+`'><query xmlns='jabber:iq:version'/></iq>`)
		f.client(bob, `<presence to='alice@example.com/`+n+`'/>`)
		expectXML(t, n, res[n].take(), `<presence from='bob@example.com/b' to='alice@example.com/`+n+`'/>`)
	}
	expectNothing(t, all...)

	// §8.5.3.2: no such resource.
	gone := "alice@example.com/gone"
	f.client(bob, `<message type='chat' id='c' to='`+gone+`'><body>hi</body></message>`)
	want := `<message type='chat' id='c' from='bob@example.com/b' to='` + gone + `'><body>hi</body>` + sidXML + `</message>`
	expectXML(t, "p5a", res["p5a"].take(), want)
	expectXML(t, "p5b", res["p5b"].take(), want)
	for _, typ := range []string{"normal", "groupchat"} {
		f.client(bob, `<message type='`+typ+`' id='x' to='`+gone+`'><body>hi</body></message>`)
		expectError(t, bob, "message", "x", gone, "cancel", "service-unavailable")
	}
	f.client(bob, `<message type='headline' to='`+gone+`'><body>hi</body></message>`)
	f.client(bob, `<message type='error' to='`+gone+`'/>`)
	f.client(bob, `<presence to='`+gone+`'/>`)
	f.client(bob, `<presence type='unavailable' to='`+gone+`'/>`)
	f.client(bob, `<iq type='result' id='r' to='`+gone+`'/>`)
	expectNothing(t, all...)
	f.client(bob, `<iq type='set' id='s' to='`+gone+`'><query xmlns='jabber:iq:private'/></iq>`)
	expectError(t, bob, "iq", "s", gone, "cancel", "service-unavailable")

	// A subscription request to a full JID is one to the bare JID
	// (stamped bare by bob's server) and reaches every available resource.
	f.client(bob, `<presence type='subscribe' to='`+gone+`'/>`)
	sub := `<presence type='subscribe' from='bob@example.com' to='alice@example.com'/>`
	for _, n := range []string{"p5a", "p5b", "p1", "neg"} {
		expectXML(t, n, res[n].take(), sub)
	}
	expectNothing(t, all...)
	// From another server to a full JID: processed as for the bare JID
	// (§8.5.3.2.2), delivered as received, and stored as pending.
	in := `<presence type='subscribe' from='carol@remote.test' to='` + gone + `'/>`
	f.route(in)
	for _, n := range []string{"p5a", "p5b", "p1", "neg"} {
		expectXML(t, n, res[n].take(), in)
	}
	expectNothing(t, all...)
	d, _, _ := f.srv.loadRoster(context.Background(), "alice@example.com")
	if _, ok := d.Pending["carol@remote.test"]; !ok || len(d.Pending) != 2 {
		t.Fatalf("pending requests %v", d.Pending)
	}
}

func TestPresenceToBareJID(t *testing.T) {
	f, bob, res := deliveryFixture(t)
	// §8.5.2.1.2: every available resource, negative priority included, 'to' unchanged.
	f.client(bob, `<presence to='alice@example.com'><status>s</status></presence>`)
	want := `<presence from='bob@example.com/b' to='alice@example.com'><status>s</status></presence>`
	for _, n := range []string{"p5a", "p5b", "p1", "neg"} {
		expectXML(t, n, res[n].take(), want)
	}
	expectNothing(t, res["idle"], bob)
}

// A headline for an account with nobody online is dropped, unless it asks
// to be stored (XEP-0334 <store/>): then it waits in offline storage.
func TestHeadlineToOfflineAccount(t *testing.T) {
	f := newIMFixture(t)
	f.account("alice")
	f.route("<message from='news@remote.test' to='alice@example.com' type='headline' id='h1'><body>dropped</body></message>")
	f.route("<message from='news@remote.test' to='alice@example.com' type='headline' id='h2'><body>kept</body><store xmlns='urn:xmpp:hints'/></message>")
	if got := f.takeRemote(); len(got) != 0 {
		t.Fatalf("a headline was answered: %s", got[0].Raw)
	}
	a := f.login("alice@example.com/a")
	f.client(a, "<presence/>")
	var ids []string
	for _, st := range a.take() {
		if st.Name.Local == "message" {
			ids = append(ids, st.ID())
		}
	}
	if len(ids) != 1 || ids[0] != "h2" {
		t.Fatalf("delivered at login: %v, want [h2]", ids)
	}
}
