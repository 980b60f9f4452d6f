package server_test

// XEP-0050/XEP-0133 administration commands and the push command over real
// sockets, as the first-start administrator and as an ordinary user.

import (
	"context"
	"strings"
	"testing"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/internal/testserver"
	"github.com/gavelhq/gavel/internal/xmpptest"
	"github.com/gavelhq/gavel/server"
	"github.com/gavelhq/gavel/xmlstream"
)

const nsCommands = "http://jabber.org/protocol/commands"

// command sends a command request and returns the <command/> of the result
// (failing on an error).
func command(t *testing.T, c *xmpptest.Client, to, id, attrs, form string) *xmlstream.Element {
	t.Helper()
	body := "/>"
	if form != "" {
		body = "><x xmlns='jabber:x:data' type='submit'>" + form + "</x></command>"
	}
	c.SendRaw("<iq type='set' to='" + to + "' id='" + id + "'><command xmlns='" + nsCommands + "' " + attrs + body + "</iq>")
	res := c.Expect(t, xmpptest.IsID(id), wait)
	cmd := el(t, res).Child(nsCommands, "command")
	if res.Type() != "result" || cmd == nil {
		t.Fatalf("command %s: %s", attrs, res.Raw)
	}
	return cmd
}

func formValues(cmd *xmlstream.Element, v string) []string {
	x := cmd.Child("jabber:x:data", "x")
	if x == nil {
		return nil
	}
	var out []string
	for _, f := range x.ChildrenNamed("jabber:x:data", "field") {
		if f.Attr("var") == v {
			for _, val := range f.ChildrenNamed("jabber:x:data", "value") {
				out = append(out, val.Text())
			}
		}
	}
	return out
}

func fv(name string, values ...string) string {
	x := "<field var='" + name + "'>"
	for _, v := range values {
		x += "<value>" + v + "</value>"
	}
	return x + "</field>"
}

func login(t *testing.T, ts *testserver.Server, user, password, resource string) *xmpptest.Client {
	t.Helper()
	c := xmpptest.Dial(t, ts.C2SAddr)
	c.Domain = ts.Domain
	c.Login("SCRAM-SHA-256", user, password, resource)
	return c
}

func TestAdminCommands(t *testing.T) {
	ts := testserver.Start(t, func(c *server.Config) { c.Admins = []string{"boss@" + testserver.Domain} })
	pw := printedPasswords(ts.Stdout.String())
	admin := login(t, ts, "admin", pw[server.AdminJID(ts.Domain)], "console")
	startSession(t, admin)
	d := ts.Domain

	// The administrator sees the commands.
	admin.SendRaw("<iq type='get' to='" + d + "' id='list'><query xmlns='http://jabber.org/protocol/disco#items' node='" + nsCommands + "'/></iq>")
	list := admin.Expect(t, xmpptest.IsID("list"), wait)
	for _, node := range []string{"#add-user", "#delete-user", "#change-user-password", "#get-online-users-list", "#get-online-users-num", "#get-registered-users-num", "#announce"} {
		if !strings.Contains(string(list.Raw), "http://jabber.org/protocol/admin"+node) {
			t.Errorf("command list lacks %s: %s", node, list.Raw)
		}
	}

	// add-user, then the new account logs in.
	cmd := command(t, admin, d, "add1", "node='http://jabber.org/protocol/admin#add-user' action='execute'", "")
	sid := cmd.Attr("sessionid")
	if cmd.Attr("status") != "executing" || len(formValues(cmd, "FORM_TYPE")) != 1 {
		t.Fatalf("add-user form: %s", cmd)
	}
	cmd = command(t, admin, d, "add2", "node='http://jabber.org/protocol/admin#add-user' sessionid='"+sid+"'",
		fv("FORM_TYPE", "http://jabber.org/protocol/admin")+fv("accountjid", "juliet@"+d)+fv("password", "R0m30")+fv("password-verify", "R0m30"))
	if cmd.Attr("status") != "completed" {
		t.Fatalf("add-user: %s", cmd)
	}
	juliet := login(t, ts, "juliet", "R0m30", "balcony")

	// The same account again: conflict.
	cmd = command(t, admin, d, "add3", "node='http://jabber.org/protocol/admin#add-user'", "")
	admin.SendRaw("<iq type='set' to='" + d + "' id='add4'><command xmlns='" + nsCommands + "' node='http://jabber.org/protocol/admin#add-user' sessionid='" +
		cmd.Attr("sessionid") + "'><x xmlns='jabber:x:data' type='submit'>" + fv("accountjid", "juliet@"+d) + fv("password", "x") + "</x></command></iq>")
	admin.ExpectError(t, "conflict", wait)

	// Online users: the administrator and juliet.
	cmd = command(t, admin, d, "num", "node='http://jabber.org/protocol/admin#get-online-users-num'", "")
	if got := formValues(cmd, "onlineusersnum"); len(got) != 1 || got[0] != "2" {
		t.Errorf("online users num %v: %s", got, cmd)
	}
	cmd = command(t, admin, d, "ol1", "node='http://jabber.org/protocol/admin#get-online-users-list'", "")
	cmd = command(t, admin, d, "ol2", "node='http://jabber.org/protocol/admin#get-online-users-list' sessionid='"+cmd.Attr("sessionid")+"'",
		fv("max_items", "25"))
	if got := strings.Join(formValues(cmd, "onlineuserjids"), " "); got != "admin@"+d+" juliet@"+d {
		t.Errorf("online users list %q", got)
	}

	// change-user-password, delete-user: juliet's stream ends.
	cmd = command(t, admin, d, "cp1", "node='http://jabber.org/protocol/admin#change-user-password'", "")
	command(t, admin, d, "cp2", "node='http://jabber.org/protocol/admin#change-user-password' sessionid='"+cmd.Attr("sessionid")+"'",
		fv("accountjid", "juliet@"+d)+fv("password", "V3r0n4"))
	if err := ts.Accounts.Verify(context.Background(), jid.MustParse("juliet@"+d), "V3r0n4"); err != nil {
		t.Fatalf("change-user-password: %v", err)
	}
	cmd = command(t, admin, d, "del1", "node='http://jabber.org/protocol/admin#delete-user'", "")
	command(t, admin, d, "del2", "node='http://jabber.org/protocol/admin#delete-user' sessionid='"+cmd.Attr("sessionid")+"'",
		fv("accountjids", "juliet@"+d))
	juliet.ExpectStreamError(t, "not-authorized", wait)
	if ok, _ := ts.Accounts.Exists(context.Background(), jid.MustParse("juliet@"+d)); ok {
		t.Fatal("delete-user left the account")
	}
}

func TestAdminCommandsForbiddenToUsers(t *testing.T) {
	ts := testserver.Start(t, nil)
	pw := printedPasswords(ts.Stdout.String())
	alice := login(t, ts, "alice", pw["alice@"+ts.Domain], "a")
	alice.SendRaw("<iq type='get' to='" + ts.Domain + "' id='list'><query xmlns='http://jabber.org/protocol/disco#items' node='" + nsCommands + "'/></iq>")
	list := alice.Expect(t, xmpptest.IsID("list"), wait)
	if q := el(t, list).Child("http://jabber.org/protocol/disco#items", "query"); list.Type() != "result" || q == nil || len(q.Elements()) != 0 {
		t.Fatalf("a user's command list: %s", list.Raw)
	}
	for _, node := range []string{"http://jabber.org/protocol/admin#add-user", "http://jabber.org/protocol/admin#get-online-users-num", "urn:gavel:push:0"} {
		alice.SendRaw("<iq type='set' to='" + ts.Domain + "' id='x'><command xmlns='" + nsCommands + "' node='" + node + "' action='execute'/></iq>")
		st := alice.ExpectError(t, "forbidden", wait)
		if xmpptest.ErrorType(st) != "cancel" {
			t.Errorf("%s: forbidden of type %q", node, xmpptest.ErrorType(st))
		}
	}
}

func TestPushCommandOnlineAndOffline(t *testing.T) {
	ts := testserver.Start(t, nil)
	pw := printedPasswords(ts.Stdout.String())
	d := ts.Domain
	admin := login(t, ts, "admin", pw[server.AdminJID(d)], "console")
	bob := login(t, ts, "bob", pw["bob@"+d], "phone")
	startSession(t, bob)
	// Wait until bob's presence is processed: his own presence comes back.
	bob.Expect(t, xmpptest.And(xmpptest.IsKind("presence"), from(bob.JID)), wait)

	cmd := command(t, admin, d, "p1", "node='urn:gavel:push:0' action='execute'", "")
	cmd = command(t, admin, d, "p2", "node='urn:gavel:push:0' sessionid='"+cmd.Attr("sessionid")+"'",
		fv("FORM_TYPE", "urn:gavel:push:0")+fv("audience", "list")+fv("recipients", "bob", "alice@"+d)+
			fv("subject", "Lot 7")+fv("body", "Bidding opens now")+fv("url", "https://example.com/lot/7"))
	if cmd.Attr("status") != "completed" {
		t.Fatalf("push: %s", cmd)
	}
	if got := formValues(cmd, "delivered"); len(got) != 1 || got[0] != "1" {
		t.Errorf("delivered %v: %s", got, cmd)
	}
	if got := formValues(cmd, "stored"); len(got) != 1 || got[0] != "1" {
		t.Errorf("stored %v: %s", got, cmd)
	}

	headline := func(c *xmpptest.Client) *xmlstream.Element {
		t.Helper()
		st := c.Expect(t, xmpptest.And(xmpptest.IsKind("message"), typ("headline")), wait)
		m := el(t, st)
		if st.From() != d || m.ChildText("jabber:client", "body") != "Bidding opens now" ||
			m.ChildText("jabber:client", "subject") != "Lot 7" ||
			m.Child("jabber:x:oob", "x") == nil || m.Child("jabber:x:oob", "x").ChildText("jabber:x:oob", "url") != "https://example.com/lot/7" {
			t.Fatalf("push message: %s", st.Raw)
		}
		return m
	}
	headline(bob)

	// alice was offline: she gets it when she comes online, delayed.
	alice := login(t, ts, "alice", pw["alice@"+d], "laptop")
	startSession(t, alice)
	if m := headline(alice); m.Child("urn:xmpp:delay", "delay") == nil {
		t.Errorf("offline push without delay: %s", m)
	}
}
