package server_test

// XEP-0077 in-band registration over real sockets: register before
// authenticating, log in with the new account, duplicates, closed
// registration, password change, cancellation.

import (
	"context"
	"strings"
	"testing"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/internal/testserver"
	"github.com/gavelhq/gavel/internal/xmpptest"
	"github.com/gavelhq/gavel/server"
)

const nsRegisterFeature = "http://jabber.org/features/iq-register"

// preAuthClient opens a stream and negotiates STARTTLS, stopping before SASL.
func preAuthClient(t *testing.T, ts *testserver.Server) *xmpptest.Client {
	t.Helper()
	c := xmpptest.Dial(t, ts.C2SAddr)
	c.Domain = ts.Domain
	c.Open()
	c.StartTLS()
	return c
}

func registerIQ(id, user, password string) string {
	return "<iq type='set' id='" + id + "'><query xmlns='jabber:iq:register'><username>" + user +
		"</username><password>" + password + "</password></query></iq>"
}

func TestInBandRegistration(t *testing.T) {
	ts := testserver.Start(t, nil) // dev mode: registration open
	c := preAuthClient(t, ts)
	if !c.HasFeature(nsRegisterFeature, "register") {
		t.Fatalf("registration not advertised before authentication: %s", c.Features)
	}
	c.SendRaw("<iq type='get' id='reg1'><query xmlns='jabber:iq:register'/></iq>")
	form := c.Expect(t, xmpptest.IsID("reg1"), wait)
	q := el(t, form).Child("jabber:iq:register", "query")
	if form.Type() != "result" || q == nil || q.Child("jabber:iq:register", "username") == nil ||
		q.Child("jabber:iq:register", "password") == nil || q.Child("jabber:x:data", "x") == nil {
		t.Fatalf("registration form: %s", form.Raw)
	}
	c.SendRaw(registerIQ("reg2", "newbie", "correct horse"))
	if res := c.Expect(t, xmpptest.IsID("reg2"), wait); res.Type() != "result" || len(el(t, res).Elements()) != 0 {
		t.Fatalf("registration: %s", res.Raw)
	}
	// The same stream goes on to authenticate with the new account.
	if err := c.Auth("SCRAM-SHA-256", "newbie", "correct horse"); err != nil {
		t.Fatalf("login on the registering stream: %v", err)
	}
	full := c.Bind("r")
	if !strings.HasPrefix(full, "newbie@"+ts.Domain+"/") {
		t.Fatalf("bound %s", full)
	}
	if c.HasFeature(nsRegisterFeature, "register") {
		t.Error("registration advertised after authentication")
	}

	// And so does a new connection.
	c2 := xmpptest.Dial(t, ts.C2SAddr)
	c2.Domain = ts.Domain
	c2.Login("SCRAM-SHA-1", "newbie", "correct horse", "second")

	// The name is taken now.
	d := preAuthClient(t, ts)
	d.SendRaw(registerIQ("dup", "newbie", "an0ther password"))
	if got := xmpptest.ErrorCondition(d.ExpectError(t, "conflict", wait)); got != "conflict" {
		t.Fatalf("duplicate: %s", got)
	}
	// Missing fields and weak passwords are not acceptable; the stream
	// stays open for another try.
	d.SendRaw("<iq type='set' id='nopw'><query xmlns='jabber:iq:register'><username>other</username></query></iq>")
	d.ExpectError(t, "not-acceptable", wait)
	d.SendRaw(registerIQ("weak", "other", "short"))
	d.ExpectError(t, "not-acceptable", wait)
	d.SendRaw(registerIQ("ok", "other", "long enough"))
	if res := d.Expect(t, xmpptest.IsID("ok"), wait); res.Type() != "result" {
		t.Fatalf("second registration on a stream: %s", res.Raw)
	}
	// Anything else before authentication still ends the stream.
	d.SendRaw("<iq type='get' id='v'><query xmlns='jabber:iq:version'/></iq>")
	d.ExpectStreamError(t, "not-authorized", wait)
}

func TestInBandRegistrationClosed(t *testing.T) {
	ts := testserver.Start(t, func(c *server.Config) { c.Registration.Open = false })
	c := preAuthClient(t, ts)
	if c.HasFeature(nsRegisterFeature, "register") {
		t.Fatalf("closed registration advertised: %s", c.Features)
	}
	c.SendRaw("<iq type='get' id='g'><query xmlns='jabber:iq:register'/></iq>")
	c.ExpectError(t, "service-unavailable", wait)
	c.SendRaw(registerIQ("s", "mallory", "long enough"))
	c.ExpectError(t, "not-allowed", wait)
	if ok, _ := ts.Accounts.Exists(context.Background(), jid.MustParse("mallory@"+ts.Domain)); ok {
		t.Fatal("account created with registration closed")
	}
}

func TestInBandPasswordChangeAndCancel(t *testing.T) {
	ts := testserver.Start(t, nil)
	ts.CreateUser("carol", "first password")
	carol := xmpptest.Dial(t, ts.C2SAddr)
	carol.Domain = ts.Domain
	carol.Login("SCRAM-SHA-256", "carol", "first password", "a")

	carol.SendRaw("<iq type='get' id='g'><query xmlns='jabber:iq:register'/></iq>")
	if q := el(t, carol.Expect(t, xmpptest.IsID("g"), wait)).Child("jabber:iq:register", "query"); q == nil ||
		q.Child("jabber:iq:register", "registered") == nil || q.ChildText("jabber:iq:register", "username") != "carol" {
		t.Fatalf("registered get: %v", q)
	}
	carol.SendRaw("<iq type='set' to='" + ts.Domain + "' id='pw'><query xmlns='jabber:iq:register'><username>carol</username><password>second password</password></query></iq>")
	if res := carol.Expect(t, xmpptest.IsID("pw"), wait); res.Type() != "result" {
		t.Fatalf("password change: %s", res.Raw)
	}
	old := xmpptest.Dial(t, ts.C2SAddr)
	old.Domain = ts.Domain
	old.Open()
	old.StartTLS()
	if err := old.Auth("SCRAM-SHA-256", "carol", "first password"); err == nil {
		t.Fatal("the old password still works")
	}
	phone := xmpptest.Dial(t, ts.C2SAddr)
	phone.Domain = ts.Domain
	phone.Login("PLAIN", "carol", "second password", "phone")

	// Cancel: the result, then both streams end with not-authorized.
	carol.SendRaw("<iq type='set' id='unreg1'><query xmlns='jabber:iq:register'><remove/></query></iq>")
	if res := carol.Expect(t, xmpptest.IsID("unreg1"), wait); res.Type() != "result" {
		t.Fatalf("cancel: %s", res.Raw)
	}
	carol.ExpectStreamError(t, "not-authorized", wait)
	phone.ExpectStreamError(t, "not-authorized", wait)

	again := xmpptest.Dial(t, ts.C2SAddr)
	again.Domain = ts.Domain
	again.Open()
	again.StartTLS()
	if err := again.Auth("SCRAM-SHA-256", "carol", "second password"); err == nil {
		t.Fatal("login succeeded after the account was cancelled")
	}
}
