package im

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/xmlstream"
)

const stanzaNS = "urn:ietf:params:xml:ns:xmpp-stanzas"

// preAuth sends raw as c2s hands a pre-authentication iq to the registrar
// (no 'from', 'to' the stream's host) and returns the reply (nil: none).
func preAuth(t *testing.T, r *Registrar, domain, ip, raw string) *xmlstream.Stanza {
	t.Helper()
	st := mustStanza(t, raw).WithAttrs("from", "", "to", domain)
	return r.HandlePreAuth(context.Background(), domain, netip.MustParseAddr(ip), st)
}

func expectReply(t *testing.T, what string, got *xmlstream.Stanza, want string) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: no reply, want %s", what, want)
	}
	expectXML(t, what, []*xmlstream.Stanza{got}, want)
}

func errXML(id, typ, cond, text string) string {
	x := `<iq from='example.com' id='` + id + `' type='error'><error type='` + typ + `'><` + cond + ` xmlns='` + stanzaNS + `'/>`
	if text != "" {
		x += `<text xmlns='` + stanzaNS + `'>` + text + `</text>`
	}
	return x + `</error></iq>`
}

func TestPreAuthRegistrationForm(t *testing.T) {
	f := newIMFixture(t)
	r := f.srv.NewRegistrar(RegistrationOptions{Open: true})
	expectReply(t, "get", preAuth(t, r, testDomain, "192.0.2.1", `<iq type='get' id='reg1'><query xmlns='jabber:iq:register'/></iq>`),
		`<iq from='example.com' id='reg1' type='result'><query xmlns='jabber:iq:register'>`+
			`<instructions>Choose a username and password to register with this server.</instructions>`+
			`<username/><password/>`+
			`<x xmlns='jabber:x:data' type='form'><title>Account Registration</title>`+
			`<instructions>Choose a username and password to register with this server.</instructions>`+
			`<field type='hidden' var='FORM_TYPE'><value>jabber:iq:register</value></field>`+
			`<field type='text-single' label='Username' var='username'><required/></field>`+
			`<field type='text-private' label='Password' var='password'><required/></field>`+
			`</x></query></iq>`)
	if fs := r.StreamFeatures(testDomain); len(fs) != 1 || canonElement(fs[0], false) != "<{http://jabber.org/features/iq-register}register></register>" {
		t.Errorf("stream features %v", fs)
	}
	// Not offered on the anonymous host: its users have no accounts.
	if fs := r.StreamFeatures(testAnon); len(fs) != 0 {
		t.Errorf("registration offered on the anonymous domain: %v", fs)
	}
	// Anything else before authentication is not the registrar's.
	if got := preAuth(t, r, testDomain, "192.0.2.1", `<iq type='get' id='v'><query xmlns='jabber:iq:version'/></iq>`); got != nil {
		t.Errorf("version query answered: %s", got.Raw)
	}
}

func TestPreAuthRegisterAndErrors(t *testing.T) {
	f := newIMFixture(t)
	r := f.srv.NewRegistrar(RegistrationOptions{Open: true})
	ip := "192.0.2.1"
	expectReply(t, "register", preAuth(t, r, testDomain, ip,
		`<iq type='set' id='reg2'><query xmlns='jabber:iq:register'><username>Bill</username><password>Calliope1</password></query></iq>`),
		`<iq from='example.com' id='reg2' type='result'/>`)
	// The username was normalized (PRECIS) and the password works.
	if err := f.acc.Verify(context.Background(), jid.MustParse("bill@example.com"), "Calliope1"); err != nil {
		t.Fatalf("registered account does not verify: %v", err)
	}
	for _, c := range []struct{ name, query, want string }{
		{"conflict", `<username>bill</username><password>m1cro$oft!</password>`,
			errXML("x", "cancel", "conflict", "This username is taken")},
		{"no password", `<username>juliet</username>`,
			errXML("x", "modify", "not-acceptable", "A username and a password are required")},
		{"empty password", `<username>juliet</username><password/>`,
			errXML("x", "modify", "not-acceptable", "A username and a password are required")},
		{"no username", `<password>longenough</password>`,
			errXML("x", "modify", "not-acceptable", "A username and a password are required")},
		{"invalid username", `<username>juliet@capulet</username><password>longenough</password>`,
			errXML("x", "modify", "not-acceptable", "This username is not allowed")},
		{"weak password", `<username>juliet</username><password>short</password>`,
			errXML("x", "modify", "not-acceptable", "The password is too short")},
		{"remove", `<remove/>`,
			errXML("x", "wait", "unexpected-request", "Authenticate before cancelling a registration")},
		{"form of wrong type", `<x xmlns='jabber:x:data' type='form'/>`,
			errXML("x", "modify", "bad-request", "The data form must be of type &apos;submit&apos;")},
	} {
		got := preAuth(t, r, testDomain, ip, `<iq type='set' id='x'><query xmlns='jabber:iq:register'>`+c.query+`</query></iq>`)
		expectReply(t, c.name, got, c.want)
	}
	// The data form takes precedence over legacy fields (§4).
	expectReply(t, "form", preAuth(t, r, testDomain, ip,
		`<iq type='set' id='reg3'><query xmlns='jabber:iq:register'><x xmlns='jabber:x:data' type='submit'>`+
			`<field var='FORM_TYPE'><value>jabber:iq:register</value></field>`+
			`<field var='username'><value>juliet</value></field><field var='password'><value>R0m30R0m30</value></field>`+
			`</x></query></iq>`),
		`<iq from='example.com' id='reg3' type='result'/>`)
	if err := f.acc.Verify(context.Background(), jid.MustParse("juliet@example.com"), "R0m30R0m30"); err != nil {
		t.Fatalf("form registration: %v", err)
	}
}

func TestPreAuthRegistrationClosed(t *testing.T) {
	f := newIMFixture(t)
	r := f.srv.NewRegistrar(RegistrationOptions{Open: false})
	if fs := r.StreamFeatures(testDomain); len(fs) != 0 {
		t.Errorf("closed registration advertised: %v", fs)
	}
	expectReply(t, "get", preAuth(t, r, testDomain, "192.0.2.1", `<iq type='get' id='g'><query xmlns='jabber:iq:register'/></iq>`),
		errXML("g", "cancel", "service-unavailable", ""))
	expectReply(t, "set", preAuth(t, r, testDomain, "192.0.2.1",
		`<iq type='set' id='s'><query xmlns='jabber:iq:register'><username>eve</username><password>longenough</password></query></iq>`),
		errXML("s", "cancel", "not-allowed", "In-band registration is disabled on this server"))
	if ok, _ := f.acc.Exists(context.Background(), jid.MustParse("eve@example.com")); ok {
		t.Fatal("account created while registration is closed")
	}
	// The anonymous host has no accounts to register, open or not.
	open := f.srv.NewRegistrar(RegistrationOptions{Open: true})
	got := preAuth(t, open, testAnon, "192.0.2.1", `<iq type='get' id='g'><query xmlns='jabber:iq:register'/></iq>`)
	expectXML(t, "anon", []*xmlstream.Stanza{got},
		`<iq from='anon.example.com' id='g' type='error'><error type='cancel'><service-unavailable xmlns='`+stanzaNS+`'/></error></iq>`)
}

func TestRegistrationThrottle(t *testing.T) {
	f := newIMFixture(t)
	r := f.srv.NewRegistrar(RegistrationOptions{Open: true, MaxPerIP: 2, Window: time.Hour, Exempt: []netip.Prefix{}})
	now := time.Unix(1_000_000, 0)
	r.throttle.now = func() time.Time { return now }
	reg := func(ip, user, id string) *xmlstream.Stanza {
		return preAuth(t, r, testDomain, ip, `<iq type='set' id='`+id+`'><query xmlns='jabber:iq:register'><username>`+
			user+`</username><password>longenough</password></query></iq>`)
	}
	ok := func(id string) string { return `<iq from='example.com' id='` + id + `' type='result'/>` }
	throttled := func(id string) string {
		return errXML(id, "wait", "not-acceptable", "Too many registrations from your address; try again later")
	}
	expectReply(t, "1st", reg("192.0.2.7", "u1", "a"), ok("a"))
	// A failed registration does not use up a slot.
	expectReply(t, "conflict", reg("192.0.2.7", "u1", "b"), errXML("b", "cancel", "conflict", "This username is taken"))
	expectReply(t, "2nd", reg("192.0.2.7", "u2", "c"), ok("c"))
	expectReply(t, "3rd", reg("192.0.2.7", "u3", "d"), throttled("d"))
	expectReply(t, "other address", reg("192.0.2.8", "u3", "e"), ok("e"))
	// An IPv6 /64 counts as one address.
	expectReply(t, "v6 1", reg("2001:db8::1", "u4", "f"), ok("f"))
	expectReply(t, "v6 2", reg("2001:db8::2", "u5", "g"), ok("g"))
	expectReply(t, "v6 3", reg("2001:db8::3", "u6", "h"), throttled("h"))
	now = now.Add(time.Hour)
	expectReply(t, "next window", reg("192.0.2.7", "u6", "i"), ok("i"))

	// Loopback is exempt by default.
	d := f.srv.NewRegistrar(RegistrationOptions{Open: true, MaxPerIP: 1})
	for i, u := range []string{"l1", "l2", "l3"} {
		got := preAuth(t, d, testDomain, "127.0.0.1", `<iq type='set' id='l'><query xmlns='jabber:iq:register'><username>`+
			u+`</username><password>longenough</password></query></iq>`)
		expectReply(t, "loopback "+string(rune('1'+i)), got, ok("l"))
	}
}

func TestRegistrationThrottleBounded(t *testing.T) {
	th := regThrottle{max: 1, window: time.Minute, now: time.Now, entries: map[string]*regWindow{}}
	now := time.Unix(1_000_000, 0)
	th.now = func() time.Time { return now }
	for i := range maxThrottledAddrs {
		ip := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		if !th.reserve(ip) {
			t.Fatalf("address %d refused", i)
		}
	}
	fresh := netip.MustParseAddr("192.0.2.99")
	if th.reserve(fresh) {
		t.Fatal("a full table of live windows accepted a new address")
	}
	now = now.Add(time.Minute)
	if !th.reserve(fresh) {
		t.Fatal("expired windows were not swept")
	}
	if len(th.entries) != 1 {
		t.Fatalf("table holds %d entries after the sweep, want 1", len(th.entries))
	}
}

func TestRegisteredGetAndPasswordChange(t *testing.T) {
	f := newIMFixture(t)
	f.account("alice")
	a := f.login("alice@example.com/a")
	f.client(a, `<iq type='get' id='g'><query xmlns='jabber:iq:register'/></iq>`)
	expectXML(t, "get", a.take(), `<iq from='alice@example.com' to='alice@example.com/a' id='g' type='result'>`+
		`<query xmlns='jabber:iq:register'><instructions>You are registered. Send a new password to change it, or &lt;remove/&gt; to delete the account.</instructions>`+
		`<registered/><username>alice</username></query></iq>`)

	// §3.3, addressed to the server as in the XEP's example.
	f.client(a, `<iq type='set' to='example.com' id='c1'><query xmlns='jabber:iq:register'><username>alice</username><password>n3wpassword</password></query></iq>`)
	expectXML(t, "change", a.take(), `<iq from='example.com' to='alice@example.com/a' id='c1' type='result'/>`)
	if err := f.acc.Verify(context.Background(), jid.MustParse("alice@example.com"), "n3wpassword"); err != nil {
		t.Fatalf("new password: %v", err)
	}
	ae := func(id, typ, cond, text string) string {
		x := `<iq from='alice@example.com' to='alice@example.com/a' id='` + id + `' type='error'><error type='` + typ + `'><` + cond + ` xmlns='` + stanzaNS + `'/>`
		if text != "" {
			x += `<text xmlns='` + stanzaNS + `'>` + text + `</text>`
		}
		return x + `</error></iq>`
	}
	for _, c := range []struct{ name, query, want string }{
		{"other user", `<username>bob</username><password>longenough</password>`,
			ae("x", "auth", "forbidden", "Only the account&apos;s own password can be changed")},
		{"empty password", `<username>alice</username><password/>`,
			ae("x", "modify", "bad-request", "A password change needs the username and the new password")},
		{"no username", `<password>longenough</password>`,
			ae("x", "modify", "bad-request", "A password change needs the username and the new password")},
		{"short", `<username>alice</username><password>short</password>`,
			ae("x", "modify", "not-acceptable", "The password is too short")},
		{"wrong old password", `<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>jabber:iq:register:changepassword</value></field>` +
			`<field var='username'><value>alice@example.com</value></field><field var='old_password'><value>nope</value></field>` +
			`<field var='password'><value>an0therpass</value></field></x>`,
			ae("x", "modify", "not-authorized", "The old password is wrong")},
		{"nothing", `<email>a@example.net</email>`,
			ae("x", "modify", "bad-request", "A password change needs the username and the new password")},
	} {
		f.client(a, `<iq type='set' id='x'><query xmlns='jabber:iq:register'>`+c.query+`</query></iq>`)
		expectXML(t, c.name, a.take(), c.want)
	}
	if err := f.acc.Verify(context.Background(), jid.MustParse("alice@example.com"), "n3wpassword"); err != nil {
		t.Fatalf("a refused change altered the password: %v", err)
	}
	// The form with the right old password and the bare JID as username.
	f.client(a, `<iq type='set' id='c2'><query xmlns='jabber:iq:register'><x xmlns='jabber:x:data' type='submit'>`+
		`<field var='FORM_TYPE'><value>jabber:iq:register:changepassword</value></field>`+
		`<field var='username'><value>alice@example.com</value></field><field var='old_password'><value>n3wpassword</value></field>`+
		`<field var='password'><value>an0therpass</value></field></x></query></iq>`)
	expectXML(t, "form change", a.take(), `<iq from='alice@example.com' to='alice@example.com/a' id='c2' type='result'/>`)
	if err := f.acc.Verify(context.Background(), jid.MustParse("alice@example.com"), "an0therpass"); err != nil {
		t.Fatalf("form change: %v", err)
	}

	// Somebody else cannot register with alice's account or the server.
	f.account("bob")
	b := f.login("bob@example.com/b")
	f.client(b, `<iq type='set' to='alice@example.com' id='o'><query xmlns='jabber:iq:register'><remove/></query></iq>`)
	expectXML(t, "bob", b.take(), `<iq from='alice@example.com' to='bob@example.com/b' id='o' type='error'><error type='cancel'><service-unavailable xmlns='`+stanzaNS+`'/></error></iq>`)
	f.route(`<iq from='mallory@remote.test/x' to='example.com' type='get' id='r'><query xmlns='jabber:iq:register'/></iq>`)
	expectXML(t, "remote", f.takeRemote(), `<iq from='example.com' to='mallory@remote.test/x' id='r' type='error'><error type='cancel'><service-unavailable xmlns='`+stanzaNS+`'/></error></iq>`)
	if closed := a.closed; closed != "" {
		t.Fatalf("alice's session closed: %s", closed)
	}
}

func TestCancelRegistration(t *testing.T) {
	f := newIMFixture(t)
	alice := f.account("alice")
	a := f.login("alice@example.com/a")
	a2 := f.login("alice@example.com/phone")
	f.client(a, `<presence/>`)
	putRoster(t, f, "alice@example.com", &rosterDoc{Epoch: "e", Seq: 1,
		Items: map[string]*rosterItem{
			"dave@remote.test":  {JID: "dave@remote.test", To: true, From: true},
			"erin@remote.test":  {JID: "erin@remote.test", Ask: true},
			"frank@remote.test": {JID: "frank@remote.test", From: true},
		},
		Pending: map[string]pendingSub{"gina@remote.test": {Raw: "<presence type='subscribe'/>"}}})
	a.take()
	a2.take()
	f.takeRemote()

	// <remove/> must be alone.
	f.client(a, `<iq type='set' id='u0'><query xmlns='jabber:iq:register'><remove/><username>alice</username></query></iq>`)
	expectXML(t, "not alone", a.take(), `<iq from='alice@example.com' to='alice@example.com/a' id='u0' type='error'><error type='modify'>`+
		`<bad-request xmlns='`+stanzaNS+`'/><text xmlns='`+stanzaNS+`'>&lt;remove/&gt; must be the only child of &lt;query/&gt;</text></error></iq>`)

	f.client(a, `<iq type='set' id='unreg1'><query xmlns='jabber:iq:register'><remove/></query></iq>`)
	expectXML(t, "result", a.take(), `<iq from='alice@example.com' to='alice@example.com/a' id='unreg1' type='result'/>`)
	if a.closed != "not-authorized" || a2.closed != "not-authorized" {
		t.Fatalf("sessions closed with %q and %q, want not-authorized", a.closed, a2.closed)
	}
	if ok, _ := f.acc.Exists(context.Background(), alice); ok {
		t.Fatal("account still exists")
	}
	expectXML(t, "contacts", f.takeRemote(),
		`<presence from='alice@example.com/a' to='dave@remote.test' type='unavailable'/>`,
		`<presence from='alice@example.com' to='dave@remote.test' type='unsubscribed'/>`,
		`<presence from='alice@example.com' to='dave@remote.test' type='unsubscribe'/>`,
		`<presence from='alice@example.com' to='erin@remote.test' type='unsubscribe'/>`,
		`<presence from='alice@example.com/a' to='frank@remote.test' type='unavailable'/>`,
		`<presence from='alice@example.com' to='frank@remote.test' type='unsubscribed'/>`,
		`<presence from='alice@example.com' to='gina@remote.test' type='unsubscribed'/>`)
	d, _, _ := f.srv.loadRoster(context.Background(), "alice@example.com")
	if len(d.Items) != 0 {
		t.Fatalf("roster survived: %v", d.Items)
	}

	// An anonymous session has nothing to cancel.
	anon := f.login("x1@anon.example.com/r")
	f.client(anon, `<iq type='set' id='u'><query xmlns='jabber:iq:register'><remove/></query></iq>`)
	expectXML(t, "anonymous", anon.take(), `<iq from='x1@anon.example.com' to='x1@anon.example.com/r' id='u' type='error'><error type='auth'><registration-required xmlns='`+stanzaNS+`'/></error></iq>`)
	if anon.closed != "" {
		t.Fatal("anonymous session closed")
	}
}
