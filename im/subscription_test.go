package im

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// The tables of RFC 6121 Appendix A, retyped here independently of
// subscription.go: existing state, stanza, new state, routed/delivered.
type subCase struct {
	from, typ, to string
	act           bool
}

var outboundCases = []subCase{
	// A.2.1 subscribe
	{"None", "subscribe", "None + Pending Out", true},
	{"None + Pending Out", "subscribe", "None + Pending Out", true},
	{"None + Pending In", "subscribe", "None + Pending Out/In", true},
	{"None + Pending Out/In", "subscribe", "None + Pending Out/In", true},
	{"To", "subscribe", "To", true},
	{"To + Pending In", "subscribe", "To + Pending In", true},
	{"From", "subscribe", "From + Pending Out", true},
	{"From + Pending Out", "subscribe", "From + Pending Out", true},
	{"Both", "subscribe", "Both", true},
	// A.2.2 unsubscribe
	{"None", "unsubscribe", "None", false},
	{"None + Pending Out", "unsubscribe", "None", true},
	{"None + Pending In", "unsubscribe", "None + Pending In", false},
	{"None + Pending Out/In", "unsubscribe", "None + Pending In", true},
	{"To", "unsubscribe", "None", true},
	{"To + Pending In", "unsubscribe", "None + Pending In", true},
	{"From", "unsubscribe", "From", false},
	{"From + Pending Out", "unsubscribe", "From", true},
	{"Both", "unsubscribe", "From", true},
	// A.2.3 subscribed
	{"None", "subscribed", "None", false},
	{"None + Pending Out", "subscribed", "None + Pending Out", false},
	{"None + Pending In", "subscribed", "From", true},
	{"None + Pending Out/In", "subscribed", "From + Pending Out", true},
	{"To", "subscribed", "To", false},
	{"To + Pending In", "subscribed", "Both", true},
	{"From", "subscribed", "From", false},
	{"From + Pending Out", "subscribed", "From + Pending Out", false},
	{"Both", "subscribed", "Both", false},
	// A.2.4 unsubscribed
	{"None", "unsubscribed", "None", false},
	{"None + Pending Out", "unsubscribed", "None + Pending Out", false},
	{"None + Pending In", "unsubscribed", "None", true},
	{"None + Pending Out/In", "unsubscribed", "None + Pending Out", true},
	{"To", "unsubscribed", "To", false},
	{"To + Pending In", "unsubscribed", "To", true},
	{"From", "unsubscribed", "None", true},
	{"From + Pending Out", "unsubscribed", "None + Pending Out", true},
	{"Both", "unsubscribed", "To", true},
}

var inboundCases = []subCase{
	// A.3.1 subscribe (From states: not delivered, auto-replied)
	{"None", "subscribe", "None + Pending In", true},
	{"None + Pending Out", "subscribe", "None + Pending Out/In", true},
	{"None + Pending In", "subscribe", "None + Pending In", false},
	{"None + Pending Out/In", "subscribe", "None + Pending Out/In", false},
	{"To", "subscribe", "To + Pending In", true},
	{"To + Pending In", "subscribe", "To + Pending In", false},
	{"From", "subscribe", "From", false},
	{"From + Pending Out", "subscribe", "From + Pending Out", false},
	{"Both", "subscribe", "Both", false},
	// A.3.2 unsubscribe
	{"None", "unsubscribe", "None", false},
	{"None + Pending Out", "unsubscribe", "None + Pending Out", false},
	{"None + Pending In", "unsubscribe", "None", true},
	{"None + Pending Out/In", "unsubscribe", "None + Pending Out", true},
	{"To", "unsubscribe", "To", false},
	{"To + Pending In", "unsubscribe", "To", true},
	{"From", "unsubscribe", "None", true},
	{"From + Pending Out", "unsubscribe", "None + Pending Out", true},
	{"Both", "unsubscribe", "To", true},
	// A.3.3 subscribed
	{"None", "subscribed", "None", false},
	{"None + Pending Out", "subscribed", "To", true},
	{"None + Pending In", "subscribed", "None + Pending In", false},
	{"None + Pending Out/In", "subscribed", "To + Pending In", true},
	{"To", "subscribed", "To", false},
	{"To + Pending In", "subscribed", "To + Pending In", false},
	{"From", "subscribed", "From", false},
	{"From + Pending Out", "subscribed", "Both", true},
	{"Both", "subscribed", "Both", false},
	// A.3.4 unsubscribed
	{"None", "unsubscribed", "None", false},
	{"None + Pending Out", "unsubscribed", "None", true},
	{"None + Pending In", "unsubscribed", "None + Pending In", false},
	{"None + Pending Out/In", "unsubscribed", "None + Pending In", true},
	{"To", "unsubscribed", "None", true},
	{"To + Pending In", "unsubscribed", "None + Pending In", true},
	{"From", "unsubscribed", "From", false},
	{"From + Pending Out", "unsubscribed", "From", true},
	{"Both", "unsubscribed", "From", true},
}

// stateFlags decomposes a state name independently of subscription.go.
func stateFlags(t *testing.T, name string) (to, from, out, in bool) {
	t.Helper()
	switch name {
	case "None":
	case "None + Pending Out":
		out = true
	case "None + Pending In":
		in = true
	case "None + Pending Out/In":
		out, in = true, true
	case "To":
		to = true
	case "To + Pending In":
		to, in = true, true
	case "From":
		from = true
	case "From + Pending Out":
		from, out = true, true
	case "Both":
		to, from = true, true
	default:
		t.Fatalf("no state %q", name)
	}
	return
}

const contactJID = "contact@remote.test"

// subFixture: alice online at alice@example.com/a (interested, available
// with <show>away</show>), with contact in the given state.
func subFixture(t *testing.T, state string) (*imFixture, *fakeSession) {
	t.Helper()
	f := newIMFixture(t)
	f.account("alice")
	to, from, out, in := stateFlags(t, state)
	d := &rosterDoc{Epoch: "e", Seq: 7, Items: map[string]*rosterItem{}, Pending: map[string]pendingSub{}}
	if to || from || out {
		d.Items[contactJID] = &rosterItem{JID: contactJID, Name: "C", To: to, From: from, Ask: out}
	}
	if in {
		d.Pending[contactJID] = pendingSub{Raw: `<presence type='subscribe' from='contact@remote.test' to='alice@example.com'/>`, Inherited: "jabber:client"}
	}
	putRoster(t, f, "alice@example.com", d)
	a := f.login("alice@example.com/a")
	f.client(a, `<iq type='get' id='g'><query xmlns='jabber:iq:roster'/></iq>`)
	f.client(a, `<presence><show>away</show></presence>`)
	a.take()
	f.takeRemote()
	return f, a
}

// itemXML is the roster item expected for a state.
func itemXML(t *testing.T, state string, approved bool) string {
	to, from, out, _ := stateFlags(t, state)
	sub := map[[2]bool]string{{false, false}: "none", {true, false}: "to", {false, true}: "from", {true, true}: "both"}[[2]bool{to, from}]
	x := fmt.Sprintf(`<item jid='contact@remote.test' name='C' subscription='%s'`, sub)
	if out {
		x += ` ask='subscribe'`
	}
	if approved {
		x += ` approved='true'`
	}
	return x + `/>`
}

// hasItem: states in which the test roster has an item for the contact.
func hasItem(t *testing.T, state string) bool {
	to, from, out, _ := stateFlags(t, state)
	return to || from || out
}

func pushXML(ver, item string) string {
	return `<iq type='set' id='push' to='alice@example.com/a'><query xmlns='jabber:iq:roster' ver='` + ver + `'>` + item + `</query></iq>`
}

func checkState(t *testing.T, f *imFixture, want string) {
	t.Helper()
	d, _, err := f.srv.loadRoster(context.Background(), "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if got := stateOf(d, contactJID).String(); got != want {
		t.Fatalf("state %q, want %q", got, want)
	}
}

func TestOutboundSubscriptionTransitions(t *testing.T) {
	for _, tc := range outboundCases {
		t.Run(tc.from+" "+tc.typ, func(t *testing.T) {
			f, a := subFixture(t, tc.from)
			// Sent to a full JID: the server addresses the bare JID, from the user's bare JID (§3.1.2).
			f.client(a, `<presence id='o1' type='`+tc.typ+`' to='contact@remote.test/phone'/>`)
			checkState(t, f, tc.to)

			var remote []string
			if tc.act {
				remote = append(remote, `<presence id='o1' type='`+tc.typ+`' from='alice@example.com' to='contact@remote.test'/>`)
			}
			_, fromBefore, _, inBefore := stateFlags(t, tc.from)
			_, fromAfter, _, _ := stateFlags(t, tc.to)
			if !fromBefore && fromAfter {
				// §3.1.5: the new subscriber gets the user's current presence.
				remote = append(remote, `<presence from='alice@example.com/a' to='contact@remote.test'><show>away</show></presence>`)
			}
			if fromBefore && !fromAfter {
				// §3.2.2: the former subscriber learns the user is gone.
				remote = append(remote, `<presence from='alice@example.com/a' to='contact@remote.test' type='unavailable'/>`)
			}
			expectXML(t, "remote", f.takeRemote(), remote...)

			// Pre-approval (§3.4): 'subscribed' with no request and no subscription.
			approved := tc.typ == "subscribed" && !tc.act && !fromBefore && !inBefore
			var pushes []string
			switch {
			case approved:
				pushes = append(pushes, pushXML("e-8", itemXMLNamed(t, tc.to, true, hasItem(t, tc.from))))
			case itemChanged(t, tc.from, tc.to):
				pushes = append(pushes, pushXML("e-8", itemXMLNamed(t, tc.to, false, hasItem(t, tc.from))))
			}
			expectXML(t, "alice/a", a.take(), pushes...)
		})
	}
}

// itemXMLNamed is itemXML, without the name when the item is new.
func itemXMLNamed(t *testing.T, state string, approved, existed bool) string {
	x := itemXML(t, state, approved)
	if !existed {
		x = strings.Replace(x, ` name='C'`, "", 1)
	}
	return x
}

func TestInboundSubscriptionTransitions(t *testing.T) {
	for _, tc := range inboundCases {
		t.Run(tc.from+" "+tc.typ, func(t *testing.T) {
			f, a := subFixture(t, tc.from)
			in := `<presence id='i1' type='` + tc.typ + `' from='contact@remote.test' to='alice@example.com'><status>hi</status></presence>`
			f.route(in)
			checkState(t, f, tc.to)

			var toAlice []string
			if itemChanged(t, tc.from, tc.to) && hasItem(t, tc.from) {
				toAlice = append(toAlice, pushXML("e-8", itemXML(t, tc.to, false)))
			}
			if tc.act {
				toAlice = append(toAlice, in)
			}
			expectXML(t, "alice/a", a.take(), toAlice...)

			_, fromBefore, _, _ := stateFlags(t, tc.from)
			_, fromAfter, _, _ := stateFlags(t, tc.to)
			var remote []string
			if tc.typ == "subscribe" && fromBefore {
				// §3.1.3: already subscribed, the server answers for the user.
				remote = append(remote, `<presence from='alice@example.com' to='contact@remote.test' type='subscribed'/>`,
					`<presence from='alice@example.com/a' to='contact@remote.test'><show>away</show></presence>`)
			}
			if fromBefore && !fromAfter {
				// §3.3.3: unavailable from each available resource.
				remote = append(remote, `<presence from='alice@example.com/a' to='contact@remote.test' type='unavailable'/>`)
			}
			expectXML(t, "remote", f.takeRemote(), remote...)
		})
	}
}

func TestPreApproval(t *testing.T) {
	f, a := subFixture(t, "None")
	f.client(a, `<presence type='subscribed' to='contact@remote.test'/>`)
	expectXML(t, "remote", f.takeRemote())
	expectXML(t, "alice/a", a.take(), pushXML("e-8", `<item jid='contact@remote.test' subscription='none' approved='true'/>`))

	// The contact's request is approved without asking alice.
	f.route(`<presence type='subscribe' from='contact@remote.test' to='alice@example.com'/>`)
	checkState(t, f, "From")
	expectXML(t, "alice/a", a.take(), pushXML("e-9", `<item jid='contact@remote.test' subscription='from'/>`))
	expectXML(t, "remote", f.takeRemote(),
		`<presence from='alice@example.com' to='contact@remote.test' type='subscribed'/>`,
		`<presence from='alice@example.com/a' to='contact@remote.test'><show>away</show></presence>`)

	// 'unsubscribed' cancels a pre-approval.
	f2, a2 := subFixture(t, "To")
	f2.client(a2, `<presence type='subscribed' to='contact@remote.test'/>`)
	expectXML(t, "alice/a", a2.take(), pushXML("e-8", `<item jid='contact@remote.test' name='C' subscription='to' approved='true'/>`))
	f2.client(a2, `<presence type='unsubscribed' to='contact@remote.test'/>`)
	expectXML(t, "alice/a", a2.take(), pushXML("e-9", `<item jid='contact@remote.test' name='C' subscription='to'/>`))
	expectXML(t, "remote", f2.takeRemote())
	f2.route(`<presence type='subscribe' from='contact@remote.test' to='alice@example.com'/>`)
	checkState(t, f2, "To + Pending In")
	expectXML(t, "alice/a", a2.take(), `<presence type='subscribe' from='contact@remote.test' to='alice@example.com'/>`)
	expectXML(t, "remote", f2.takeRemote())
}

func TestPendingSubscriptionRedeliveredAtLogin(t *testing.T) {
	f := newIMFixture(t)
	f.account("alice")
	// Alice is offline: the request waits.
	req := `<presence id='q1' type='subscribe' from='contact@remote.test' to='alice@example.com'><status>it is me</status></presence>`
	f.route(req)
	a := f.login("alice@example.com/a")
	expectNothing(t, a)
	f.client(a, `<presence/>`)
	expectXML(t, "alice/a", a.take(),
		`<presence from='alice@example.com/a' to='alice@example.com/a'/>`,
		req)
	// Still pending at the next login, until answered.
	b := f.login("alice@example.com/b")
	f.client(b, `<presence/>`)
	expectXML(t, "alice/b", b.take(),
		`<presence from='alice@example.com/b' to='alice@example.com/b'/>`,
		`<presence from='alice@example.com/a' to='alice@example.com/b'/>`,
		req)
	a.take()
	f.client(b, `<presence type='subscribed' to='contact@remote.test'/>`)
	checkState(t, f, "From")
	f.logout(a)
	f.logout(b)
	c := f.login("alice@example.com/c")
	f.client(c, `<presence/>`)
	expectXML(t, "alice/c", c.take(), `<presence from='alice@example.com/c' to='alice@example.com/c'/>`)
}

// Two local users go through the whole handshake; every stanza crosses the router.
func TestLocalSubscriptionHandshake(t *testing.T) {
	f := newIMFixture(t)
	f.account("alice")
	f.account("bob")
	a := f.login("alice@example.com/a")
	b := f.login("bob@example.com/b")
	for _, s := range []*fakeSession{a, b} {
		f.client(s, `<iq type='get' id='g'><query xmlns='jabber:iq:roster'/></iq>`)
		f.client(s, `<presence/>`)
		s.take()
	}
	ver := func(bare string) string {
		d, _, _ := f.srv.loadRoster(context.Background(), bare)
		return d.version()
	}

	f.client(a, `<presence type='subscribe' to='bob@example.com/b'/>`)
	expectXML(t, "alice", a.take(), `<iq type='set' id='push' to='alice@example.com/a'><query xmlns='jabber:iq:roster' ver='`+ver("alice@example.com")+`'><item jid='bob@example.com' subscription='none' ask='subscribe'/></query></iq>`)
	expectXML(t, "bob", b.take(), `<presence type='subscribe' from='alice@example.com' to='bob@example.com'/>`)

	f.client(b, `<presence type='subscribed' to='alice@example.com'/>`)
	expectXML(t, "bob", b.take(), `<iq type='set' id='push' to='bob@example.com/b'><query xmlns='jabber:iq:roster' ver='`+ver("bob@example.com")+`'><item jid='alice@example.com' subscription='from'/></query></iq>`)
	expectXML(t, "alice", a.take(),
		`<iq type='set' id='push' to='alice@example.com/a'><query xmlns='jabber:iq:roster' ver='`+ver("alice@example.com")+`'><item jid='bob@example.com' subscription='to'/></query></iq>`,
		`<presence type='subscribed' from='bob@example.com' to='alice@example.com'/>`,
		`<presence from='bob@example.com/b' to='alice@example.com'/>`)

	// Bob subscribes back; alice is pre-approved by nobody, so she is asked.
	f.client(b, `<presence type='subscribe' to='alice@example.com'/>`)
	b.take()
	expectXML(t, "alice", a.take(), `<presence type='subscribe' from='bob@example.com' to='alice@example.com'/>`)
	f.client(a, `<presence type='subscribed' to='bob@example.com'/>`)
	a.take()
	b.take()
	for _, u := range []string{"alice@example.com", "bob@example.com"} {
		d, _, _ := f.srv.loadRoster(context.Background(), u)
		if len(d.Items) != 1 || len(d.Pending) != 0 {
			t.Fatalf("%s: %d items %d pending", u, len(d.Items), len(d.Pending))
		}
		for _, it := range d.Items {
			if it.subscription() != subBoth || it.Ask || it.Approved {
				t.Fatalf("%s: item %+v, want both", u, *it)
			}
		}
	}

	// Bob's server lost track (only From on his side): a new
	// subscribe is answered by alice's server without asking her (§3.1.3),
	// which brings bob back to Both.
	putRoster(t, f, "bob@example.com", &rosterDoc{Epoch: "b", Seq: 1, Items: map[string]*rosterItem{
		"alice@example.com": {JID: "alice@example.com", From: true}}})
	f.client(b, `<presence type='subscribe' to='alice@example.com'/>`)
	expectNothing(t, a)
	expectXML(t, "bob", b.take(),
		`<iq type='set' id='push' to='bob@example.com/b'><query xmlns='jabber:iq:roster' ver='b-2'><item jid='alice@example.com' subscription='from' ask='subscribe'/></query></iq>`,
		`<iq type='set' id='push' to='bob@example.com/b'><query xmlns='jabber:iq:roster' ver='b-3'><item jid='alice@example.com' subscription='both'/></query></iq>`,
		`<presence type='subscribed' from='alice@example.com' to='bob@example.com'/>`,
		`<presence from='alice@example.com/a' to='bob@example.com'/>`)

	// Bob's presence now reaches alice and vice versa.
	f.client(a, `<presence><status>here</status></presence>`)
	expectXML(t, "bob", b.take(), `<presence from='alice@example.com/a' to='bob@example.com'><status>here</status></presence>`)
	a.take()
}

func TestSubscriptionToUnknownLocalUserIgnored(t *testing.T) {
	f := newIMFixture(t)
	f.account("alice")
	a := f.login("alice@example.com/a")
	f.client(a, `<presence type='subscribe' to='nobody@example.com'/>`)
	// Only alice's own roster push (she is not interested: nothing) and no error (§8.5.1).
	expectNothing(t, a)
	d, _, _ := f.srv.loadRoster(context.Background(), "nobody@example.com")
	if len(d.Pending) != 0 {
		t.Fatal("a request to no such user was stored")
	}
}

func TestSubscriptionErrors(t *testing.T) {
	f := newIMFixture(t)
	f.account("alice")
	a := f.login("alice@example.com/a")
	f.client(a, `<presence type='subscribe' id='n1'/>`)
	expectError(t, a, "presence", "n1", "", "modify", "bad-request")
	anon := f.login("x@anon.example.com/r")
	f.client(anon, `<presence type='subscribe' id='n2' to='alice@example.com'/>`)
	expectError(t, anon, "presence", "n2", "alice@example.com", "cancel", "not-allowed")
	expectNothing(t, a)
}

// itemChanged: the roster item shows subscription and ask, not a pending
// inbound request, so only those changes are pushed.
func itemChanged(t *testing.T, from, to string) bool {
	t1, f1, o1, _ := stateFlags(t, from)
	t2, f2, o2, _ := stateFlags(t, to)
	return t1 != t2 || f1 != f2 || o1 != o2
}

func TestLargePendingRequestStoredBare(t *testing.T) {
	f := newIMFixture(t)
	f.account("alice")
	big := strings.Repeat("x", maxPendingStanzaBytes)
	f.route(`<presence type='subscribe' from='contact@remote.test' to='alice@example.com'><status>` + big + `</status></presence>`)
	a := f.login("alice@example.com/a")
	f.client(a, `<presence/>`)
	expectXML(t, "alice/a", a.take(),
		`<presence from='alice@example.com/a' to='alice@example.com/a'/>`,
		`<presence type='subscribe' from='contact@remote.test' to='alice@example.com'/>`)
}

func TestPendingRequestsBounded(t *testing.T) {
	f := newIMFixture(t)
	f.account("alice")
	d := &rosterDoc{Epoch: "e", Pending: map[string]pendingSub{}}
	for i := range MaxPendingSubscriptions {
		d.Pending[fmt.Sprintf("s%d@remote.test", i)] = pendingSub{Raw: "<presence type='subscribe'/>"}
	}
	putRoster(t, f, "alice@example.com", d)
	a := f.login("alice@example.com/a")
	f.client(a, `<iq type='get' id='g'><query xmlns='jabber:iq:roster'/></iq>`)
	a.take()
	f.route(`<presence type='subscribe' from='one-more@remote.test' to='alice@example.com'/>`)
	got, _, _ := f.srv.loadRoster(context.Background(), "alice@example.com")
	if len(got.Pending) != MaxPendingSubscriptions {
		t.Fatalf("%d pending, want the bound %d", len(got.Pending), MaxPendingSubscriptions)
	}
}
