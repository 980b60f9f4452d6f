package im

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/auth"
	"github.com/gavelhq/gavel/data"
	"github.com/gavelhq/gavel/router"
	"github.com/gavelhq/gavel/xmlstream"
)

const testAdmin = "admin@example.com"

// newAdminFixture is newIMFixture with admin@example.com as administrator.
func newAdminFixture(t *testing.T) *imFixture {
	t.Helper()
	st, err := data.OpenInMemory()
	if err != nil {
		t.Fatalf("OpenInMemory: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	f := &imFixture{t: t, router: router.New(router.Options{}), store: st}
	f.acc = auth.New(st, auth.Options{AnonymousDomain: testAnon})
	f.srv = New(Options{Domain: testDomain, AnonymousDomain: testAnon, Admins: []string{testAdmin}}, f.router, st, f.acc, nil)
	f.router.HandleDomain(testDomain, f.srv, true)
	f.router.HandleDomain(testAnon, f.srv, true)
	f.router.HandleRemote(router.HandlerFunc(func(_ context.Context, s *xmlstream.Stanza) {
		f.mu.Lock()
		f.remote = append(f.remote, s)
		f.mu.Unlock()
	}))
	return f
}

// exchange sends raw from sess and returns its only reply.
func (f *imFixture) exchange(sess *fakeSession, raw string) *xmlstream.Stanza {
	f.t.Helper()
	f.client(sess, raw)
	got := sess.take()
	if len(got) != 1 {
		expectXML(f.t, "reply to "+raw, got, "<iq/>")
	}
	return got[0]
}

// sessionID is the sessionid of a command reply.
func sessionID(t *testing.T, st *xmlstream.Stanza) string {
	t.Helper()
	el, _ := st.Element()
	c := el.Child(NSCommands, "command")
	if c == nil || c.Attr("sessionid") == "" {
		t.Fatalf("no command session in %s", st.Raw)
	}
	return c.Attr("sessionid")
}

// execute starts node for sess and returns the reply and its session id.
func (f *imFixture) execute(sess *fakeSession, node string) (*xmlstream.Stanza, string) {
	f.t.Helper()
	r := f.exchange(sess, `<iq type='set' to='example.com' id='e1'><command xmlns='http://jabber.org/protocol/commands' node='`+node+`' action='execute'/></iq>`)
	return r, sessionID(f.t, r)
}

// submit sends a form for a session (action may be "").
func (f *imFixture) submit(sess *fakeSession, node, sid, action, fields string) *xmlstream.Stanza {
	f.t.Helper()
	act := ""
	if action != "" {
		act = ` action='` + action + `'`
	}
	return f.exchange(sess, `<iq type='set' to='example.com' id='e2'><command xmlns='http://jabber.org/protocol/commands' node='`+
		node+`' sessionid='`+sid+`'`+act+`><x xmlns='jabber:x:data' type='submit'>`+fields+`</x></command></iq>`)
}

func field(name string, values ...string) string {
	x := `<field var='` + name + `'>`
	for _, v := range values {
		x += `<value>` + v + `</value>`
	}
	return x + `</field>`
}

const adminFormType = `<field var='FORM_TYPE'><value>http://jabber.org/protocol/admin</value></field>`

// iqFrom is the opening of a reply from the domain to full.
func iqFrom(full, id, typ string) string {
	return `<iq from='example.com' to='` + full + `' id='` + id + `' type='` + typ + `'>`
}

func cmdErr(full, id, typ, cond, app, text string) string {
	x := iqFrom(full, id, "error") + `<error type='` + typ + `'><` + cond + ` xmlns='` + stanzaNS + `'/>`
	if text != "" {
		x += `<text xmlns='` + stanzaNS + `'>` + text + `</text>`
	}
	if app != "" {
		x += `<` + app + ` xmlns='http://jabber.org/protocol/commands'/>`
	}
	return x + `</error></iq>`
}

func completed(full, id, node, sid, inner string) string {
	return iqFrom(full, id, "result") + `<command xmlns='http://jabber.org/protocol/commands' node='` + node +
		`' sessionid='` + sid + `' status='completed' xml:lang='en'>` + inner + `</command></iq>`
}

func TestCommandDisco(t *testing.T) {
	f := newAdminFixture(t)
	f.account("admin")
	f.account("bob")
	adm := f.login(testAdmin + "/a")
	bob := f.login("bob@example.com/b")

	var items strings.Builder
	for _, c := range [][2]string{
		{NodeAddUser, "Add User"}, {NodeDeleteUser, "Delete User"}, {NodeChangeUserPassword, "Change User Password"},
		{NodeRegisteredUsersNum, "Get Number of Registered Users"}, {NodeOnlineUsersNum, "Get Number of Online Users"},
		{NodeOnlineUsersList, "Get List of Online Users"}, {NodeAnnounce, "Send Announcement to Online Users"},
		{NodePush, "Send Push Notification"},
	} {
		items.WriteString(`<item jid='example.com' node='` + c[0] + `' name='` + c[1] + `'/>`)
	}
	listQuery := `<iq type='get' to='example.com' id='l'><query xmlns='http://jabber.org/protocol/disco#items' node='http://jabber.org/protocol/commands'/></iq>`
	expectXML(t, "admin list", []*xmlstream.Stanza{f.exchange(adm, listQuery)},
		iqFrom(testAdmin+"/a", "l", "result")+`<query xmlns='http://jabber.org/protocol/disco#items' node='http://jabber.org/protocol/commands'>`+
			items.String()+`</query></iq>`)
	expectXML(t, "user list", []*xmlstream.Stanza{f.exchange(bob, listQuery)},
		iqFrom("bob@example.com/b", "l", "result")+`<query xmlns='http://jabber.org/protocol/disco#items' node='http://jabber.org/protocol/commands'/></iq>`)

	expectXML(t, "list info", []*xmlstream.Stanza{f.exchange(bob,
		`<iq type='get' to='example.com' id='i'><query xmlns='http://jabber.org/protocol/disco#info' node='http://jabber.org/protocol/commands'/></iq>`)},
		iqFrom("bob@example.com/b", "i", "result")+`<query xmlns='http://jabber.org/protocol/disco#info' node='http://jabber.org/protocol/commands'>`+
			`<identity category='automation' type='command-list' name='Commands'/><feature var='http://jabber.org/protocol/commands'/></query></iq>`)
	nodeInfo := `<iq type='get' to='example.com' id='n'><query xmlns='http://jabber.org/protocol/disco#info' node='` + NodeAddUser + `'/></iq>`
	expectXML(t, "node info", []*xmlstream.Stanza{f.exchange(adm, nodeInfo)},
		iqFrom(testAdmin+"/a", "n", "result")+`<query xmlns='http://jabber.org/protocol/disco#info' node='`+NodeAddUser+`'>`+
			`<identity category='automation' type='command-node' name='Add User'/>`+
			`<feature var='http://jabber.org/protocol/commands'/><feature var='jabber:x:data'/></query></iq>`)
	expectXML(t, "node info for a user", []*xmlstream.Stanza{f.exchange(bob, nodeInfo)},
		cmdErr("bob@example.com/b", "n", "cancel", "forbidden", "", ""))
	expectXML(t, "unknown node", []*xmlstream.Stanza{f.exchange(adm,
		`<iq type='get' to='example.com' id='u'><query xmlns='http://jabber.org/protocol/disco#info' node='urn:example:none'/></iq>`)},
		cmdErr(testAdmin+"/a", "u", "cancel", "item-not-found", "", ""))
	// The server itself still answers, and advertises the protocol.
	r := f.exchange(bob, `<iq type='get' to='example.com' id='s'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`)
	if !strings.Contains(string(r.Raw), `var="http://jabber.org/protocol/commands"`) && !strings.Contains(string(r.Raw), `var='http://jabber.org/protocol/commands'`) {
		t.Fatalf("server disco#info lacks the commands feature: %s", r.Raw)
	}
}

func TestAddUserCommand(t *testing.T) {
	f := newAdminFixture(t)
	f.account("admin")
	adm := f.login(testAdmin + "/a")
	full := testAdmin + "/a"

	r, sid := f.execute(adm, NodeAddUser)
	expectXML(t, "form", []*xmlstream.Stanza{r}, iqFrom(full, "e1", "result")+
		`<command xmlns='http://jabber.org/protocol/commands' node='`+NodeAddUser+`' sessionid='`+sid+`' status='executing' xml:lang='en'>`+
		`<actions execute='complete'><complete/></actions>`+
		`<x xmlns='jabber:x:data' type='form'><title>Adding a User</title><instructions>Fill out this form to add a user.</instructions>`+
		`<field type='hidden' var='FORM_TYPE'><value>http://jabber.org/protocol/admin</value></field>`+
		`<field type='jid-single' label='The Jabber ID for the account to be added' var='accountjid'><required/></field>`+
		`<field type='text-private' label='The password for this account' var='password'><required/></field>`+
		`<field type='text-private' label='Retype password' var='password-verify'/>`+
		`</x></command></iq>`)

	// Bad payloads leave the session where it was.
	for _, c := range []struct{ fields, text string }{
		{field("accountjid", "juliet@elsewhere.test") + field("password", "R0m30"), "&quot;juliet@elsewhere.test&quot; is not an account of example.com"},
		{field("accountjid", "juliet@example.com"), "a password is required"},
		{field("accountjid", "juliet@example.com") + field("password", "R0m30") + field("password-verify", "R0m31"), "the passwords do not match"},
		{field("accountjid", "juliet@example.com/r") + field("password", "R0m30"), "&quot;juliet@example.com/r&quot; is not a bare JID user@example.com"},
	} {
		expectXML(t, c.text, []*xmlstream.Stanza{f.submit(adm, NodeAddUser, sid, "", adminFormType+c.fields)},
			cmdErr(full, "e2", "modify", "bad-request", "bad-payload", c.text))
	}
	r = f.submit(adm, NodeAddUser, sid, "complete", adminFormType+field("accountjid", "juliet@example.com")+
		field("password", "R0m30")+field("password-verify", "R0m30"))
	expectXML(t, "done", []*xmlstream.Stanza{r}, completed(full, "e2", NodeAddUser, sid, `<note type='info'>Account juliet@example.com created</note>`))
	if err := f.acc.Verify(context.Background(), jid.MustParse("juliet@example.com"), "R0m30"); err != nil {
		t.Fatalf("added account: %v", err)
	}
	// The session is over.
	expectXML(t, "reuse", []*xmlstream.Stanza{f.submit(adm, NodeAddUser, sid, "", adminFormType)},
		cmdErr(full, "e2", "cancel", "not-allowed", "session-expired", ""))

	// An existing account is a conflict (XEP-0133 §5).
	_, sid = f.execute(adm, NodeAddUser)
	expectXML(t, "conflict", []*xmlstream.Stanza{f.submit(adm, NodeAddUser, sid, "", adminFormType+
		field("accountjid", "juliet@example.com")+field("password", "x"))},
		cmdErr(full, "e2", "cancel", "conflict", "", "juliet@example.com already exists"))
}

func TestCommandForbiddenToUsers(t *testing.T) {
	f := newAdminFixture(t)
	f.account("bob")
	bob := f.login("bob@example.com/b")
	for _, node := range []string{NodeAddUser, NodeDeleteUser, NodeOnlineUsersNum, NodeAnnounce, NodePush} {
		expectXML(t, node, []*xmlstream.Stanza{f.exchange(bob, `<iq type='set' to='example.com' id='x'><command xmlns='http://jabber.org/protocol/commands' node='`+node+`' action='execute'/></iq>`)},
			cmdErr("bob@example.com/b", "x", "cancel", "forbidden", "", ""))
	}
	if ok, _ := f.acc.Exists(context.Background(), jid.MustParse("bob@example.com")); !ok {
		t.Fatal("bob vanished")
	}
}

func TestCommandProtocolErrors(t *testing.T) {
	f := newAdminFixture(t)
	f.account("admin")
	f.account("admin2")
	adm := f.login(testAdmin + "/a")
	other := f.login(testAdmin + "/other")
	full := testAdmin + "/a"
	send := func(cmd string) *xmlstream.Stanza {
		return f.exchange(adm, `<iq type='set' to='example.com' id='p'>`+cmd+`</iq>`)
	}
	_, sid := f.execute(adm, NodeAnnounce)
	_, sidOther := f.execute(other, NodeAnnounce)
	_, sidAdd := f.execute(adm, NodeAddUser)
	cases := []struct{ name, cmd, want string }{
		{"get", ``, ""},
		{"no node", `<command xmlns='http://jabber.org/protocol/commands'/>`,
			cmdErr(full, "p", "modify", "bad-request", "", "the command has no node")},
		{"unknown node", `<command xmlns='http://jabber.org/protocol/commands' node='urn:example:none'/>`,
			cmdErr(full, "p", "cancel", "item-not-found", "", "")},
		{"malformed action", `<command xmlns='http://jabber.org/protocol/commands' node='` + NodeAnnounce + `' action='jump'/>`,
			cmdErr(full, "p", "modify", "bad-request", "malformed-action", "unknown action jump")},
		{"cancel without session", `<command xmlns='http://jabber.org/protocol/commands' node='` + NodeAnnounce + `' action='cancel'/>`,
			cmdErr(full, "p", "modify", "bad-request", "bad-action", "a new session starts with execute")},
		{"prev at first stage", `<command xmlns='http://jabber.org/protocol/commands' node='` + NodeAnnounce + `' sessionid='` + sid + `' action='prev'/>`,
			cmdErr(full, "p", "modify", "bad-request", "bad-action", "there is no previous stage")},
		{"next at last stage", `<command xmlns='http://jabber.org/protocol/commands' node='` + NodeAnnounce + `' sessionid='` + sid + `' action='next'/>`,
			cmdErr(full, "p", "modify", "bad-request", "bad-action", "action next is not allowed at this stage")},
		{"no form", `<command xmlns='http://jabber.org/protocol/commands' node='` + NodeAnnounce + `' sessionid='` + sid + `'/>`,
			cmdErr(full, "p", "modify", "bad-request", "bad-payload", "submit the form of this stage")},
		{"made-up session", `<command xmlns='http://jabber.org/protocol/commands' node='` + NodeAnnounce + `' sessionid='abc.def'/>`,
			cmdErr(full, "p", "modify", "bad-request", "bad-sessionid", "")},
		{"somebody else's session", `<command xmlns='http://jabber.org/protocol/commands' node='` + NodeAnnounce + `' sessionid='` + sidOther + `'/>`,
			cmdErr(full, "p", "modify", "bad-request", "bad-sessionid", "")},
		{"session of another node", `<command xmlns='http://jabber.org/protocol/commands' node='` + NodeAnnounce + `' sessionid='` + sidAdd + `'/>`,
			cmdErr(full, "p", "modify", "bad-request", "bad-sessionid", "")},
		{"cancel", `<command xmlns='http://jabber.org/protocol/commands' node='` + NodeAnnounce + `' sessionid='` + sid + `' action='cancel'/>`,
			iqFrom(full, "p", "result") + `<command xmlns='http://jabber.org/protocol/commands' node='` + NodeAnnounce + `' sessionid='` + sid + `' status='canceled' xml:lang='en'/></iq>`},
		{"after cancel", `<command xmlns='http://jabber.org/protocol/commands' node='` + NodeAnnounce + `' sessionid='` + sid + `'/>`,
			cmdErr(full, "p", "cancel", "not-allowed", "session-expired", "")},
	}
	for _, c := range cases {
		if c.name == "get" {
			r := f.exchange(adm, `<iq type='get' to='example.com' id='p'><command xmlns='http://jabber.org/protocol/commands' node='`+NodeAnnounce+`'/></iq>`)
			expectXML(t, c.name, []*xmlstream.Stanza{r}, cmdErr(full, "p", "cancel", "feature-not-implemented", "", "commands are executed with iq set"))
			continue
		}
		expectXML(t, c.name, []*xmlstream.Stanza{send(c.cmd)}, c.want)
	}
}

func TestCommandLocale(t *testing.T) {
	f := newAdminFixture(t)
	f.account("admin")
	adm := f.login(testAdmin + "/a")
	full := testAdmin + "/a"
	r := f.exchange(adm, `<iq type='set' to='example.com' id='p' xml:lang='de'><command xmlns='http://jabber.org/protocol/commands' node='`+NodeAnnounce+`'/></iq>`)
	sid := sessionID(t, r)
	expectXML(t, "switch", []*xmlstream.Stanza{f.exchange(adm, `<iq type='set' to='example.com' id='p' xml:lang='fr'><command xmlns='http://jabber.org/protocol/commands' node='`+
		NodeAnnounce+`' sessionid='`+sid+`'/></iq>`)},
		cmdErr(full, "p", "modify", "bad-request", "bad-locale", "this session uses de"))
	// The session survives a refused stage and continues in its language.
	f.client(adm, `<iq type='set' to='example.com' id='p'><command xmlns='http://jabber.org/protocol/commands' node='`+NodeAnnounce+
		`' sessionid='`+sid+`' xml:lang='de'><x xmlns='jabber:x:data' type='submit'>`+field("announcement", "hallo")+`</x></command></iq>`)
	expectXML(t, "done", adm.take(), `<message from='example.com' to='admin@example.com/a' type='headline' id='push-x'><body>hallo</body></message>`,
		completed(full, "p", NodeAnnounce, sid, `<note type='info'>Announcement sent to 1 sessions</note>`))
}

// twoStage is a command for exercising next/prev/complete.
func twoStage(done func(forms []submittedForm)) *adhocCommand {
	form := func(title string) func(context.Context) *xmlstream.Element {
		return func(context.Context) *xmlstream.Element {
			return newForm("form", "", title, "", formField{Var: "v", Type: "text-single"})
		}
	}
	return &adhocCommand{Node: "test", Name: "Test", Allowed: func(jid.JID) bool { return true },
		Stages: []commandStage{{Form: form("one"), Check: func(f submittedForm) string {
			if f.value("v") == "" {
				return "v is required"
			}
			return ""
		}}, {Form: form("two")}},
		Complete: func(_ context.Context, _ jid.JID, forms []submittedForm) (*commandResult, error) {
			done(forms)
			return &commandResult{Notes: []commandNote{{"info", "ok"}}}, nil
		}}
}

func TestCommandMultiStageAndExpiry(t *testing.T) {
	f := newAdminFixture(t)
	a := newAdhoc(f.srv)
	now := time.Unix(1_000_000, 0)
	a.now = func() time.Time { return now }
	var got []string
	a.add(twoStage(func(forms []submittedForm) {
		got = nil
		for _, fm := range forms {
			got = append(got, fm.value("v"))
		}
	}))
	iq := mustStanza(t, `<iq from='bob@example.com/b' to='example.com' type='set' id='i'/>`)
	run := func(cmd string) (*xmlstream.Element, error) {
		el, err := xmlstream.ParseElement([]byte(cmd), xmlstream.NSClient, xmlstream.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		return a.handle(context.Background(), iq, el)
	}
	step := func(sid, action, v string) string {
		x := `<command xmlns='http://jabber.org/protocol/commands' node='test' sessionid='` + sid + `' action='` + action + `'>`
		if v != "" {
			x += `<x xmlns='jabber:x:data' type='submit'>` + field("v", v) + `</x>`
		}
		return x + `</command>`
	}
	res, err := run(`<command xmlns='http://jabber.org/protocol/commands' node='test'/>`)
	if err != nil {
		t.Fatal(err)
	}
	sid := res.Attr("sessionid")
	want := func(what string, el *xmlstream.Element, err error, xml string) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if g, w := canonElement(el, false), canonRaw(t, xml); g != w {
			t.Fatalf("%s:\n got %s\nwant %s", what, g, w)
		}
	}
	stage := func(title, actions string) string {
		return `<command xmlns='http://jabber.org/protocol/commands' node='test' sessionid='` + sid + `' status='executing' xml:lang='en'>` +
			actions + `<x xmlns='jabber:x:data' type='form'><title>` + title + `</title><field type='text-single' var='v'/></x></command>`
	}
	want("stage 1", res, nil, stage("one", `<actions execute='next'><next/></actions>`))
	if _, err := run(step(sid, "next", "")); err == nil || err.Error() != "bad-request: submit the form of this stage" {
		t.Fatalf("next without form: %v", err)
	}
	_, err = run(`<command xmlns='http://jabber.org/protocol/commands' node='test' sessionid='` + sid +
		`'><x xmlns='jabber:x:data' type='submit'><field var='v'/></x></command>`)
	if se, ok := err.(*xmlstream.StanzaError); !ok || se.App == nil || se.App.Name.Local != "bad-payload" || se.Text != "v is required" {
		t.Fatalf("check error %v", err)
	}
	res, err = run(step(sid, "", "first")) // execute = next here
	want("stage 2", res, err, stage("two", `<actions execute='complete'><prev/><complete/></actions>`))
	res, err = run(step(sid, "prev", ""))
	want("back", res, err, stage("one", `<actions execute='next'><next/></actions>`))
	res, err = run(step(sid, "next", "again"))
	want("stage 2 again", res, err, stage("two", `<actions execute='complete'><prev/><complete/></actions>`))
	res, err = run(step(sid, "complete", "second"))
	want("complete", res, err, `<command xmlns='http://jabber.org/protocol/commands' node='test' sessionid='`+sid+`' status='completed' xml:lang='en'><note type='info'>ok</note></command>`)
	if fmt.Sprint(got) != "[again second]" {
		t.Fatalf("forms given to Complete: %v", got)
	}

	// Expiry.
	res, _ = run(`<command xmlns='http://jabber.org/protocol/commands' node='test'/>`)
	sid = res.Attr("sessionid")
	now = now.Add(adhocSessionTTL)
	if _, err := run(step(sid, "next", "x")); err == nil || !strings.Contains(err.Error(), "not-allowed") {
		t.Fatalf("expired session: %v", err)
	}

	// Per-requester limit: the oldest session is dropped.
	var sids []string
	for range adhocMaxSessionsPerJID + 1 {
		now = now.Add(time.Second)
		res, _ := run(`<command xmlns='http://jabber.org/protocol/commands' node='test'/>`)
		sids = append(sids, res.Attr("sessionid"))
	}
	if _, err := run(step(sids[0], "next", "x")); err == nil || !strings.Contains(err.Error(), "not-allowed") {
		t.Fatalf("oldest session kept beyond the limit: %v", err)
	}
	if _, err := run(step(sids[1], "next", "x")); err != nil {
		t.Fatalf("second-oldest session lost: %v", err)
	}
	a.mu.Lock()
	n := len(a.sessions)
	a.mu.Unlock()
	if n != adhocMaxSessionsPerJID {
		t.Fatalf("%d sessions kept, want %d", n, adhocMaxSessionsPerJID)
	}
}

func TestDeleteAndPasswordCommands(t *testing.T) {
	f := newAdminFixture(t)
	f.account("admin")
	f.account("carol")
	f.account("dan")
	adm := f.login(testAdmin + "/a")
	c := f.login("carol@example.com/c")
	full := testAdmin + "/a"

	_, sid := f.execute(adm, NodeChangeUserPassword)
	expectXML(t, "no account", []*xmlstream.Stanza{f.submit(adm, NodeChangeUserPassword, sid, "", adminFormType+
		field("accountjid", "nobody@example.com")+field("password", "V3r0n4"))},
		cmdErr(full, "e2", "cancel", "item-not-found", "", "No such account: nobody@example.com"))
	expectXML(t, "changed", []*xmlstream.Stanza{f.submit(adm, NodeChangeUserPassword, sid, "", adminFormType+
		field("accountjid", "dan@example.com")+field("password", "V3r0n4"))},
		completed(full, "e2", NodeChangeUserPassword, sid, `<note type='info'>Password of dan@example.com changed</note>`))
	if err := f.acc.Verify(context.Background(), jid.MustParse("dan@example.com"), "V3r0n4"); err != nil {
		t.Fatalf("password not changed: %v", err)
	}

	_, sid = f.execute(adm, NodeDeleteUser)
	expectXML(t, "empty", []*xmlstream.Stanza{f.submit(adm, NodeDeleteUser, sid, "", adminFormType+field("accountjids"))},
		cmdErr(full, "e2", "modify", "bad-request", "bad-payload", "name at least one account"))
	expectXML(t, "deleted", []*xmlstream.Stanza{f.submit(adm, NodeDeleteUser, sid, "", adminFormType+
		field("accountjids", "carol@example.com", "dan@example.com", "ghost@example.com"))},
		completed(full, "e2", NodeDeleteUser, sid,
			`<note type='info'>Deleted: carol@example.com, dan@example.com</note><note type='error'>No such account: ghost@example.com</note>`))
	if c.closed != "not-authorized" {
		t.Fatalf("deleted user's session closed with %q", c.closed)
	}
	for _, u := range []string{"carol@example.com", "dan@example.com"} {
		if ok, _ := f.acc.Exists(context.Background(), jid.MustParse(u)); ok {
			t.Fatalf("%s still exists", u)
		}
	}
}

func TestUserCountCommands(t *testing.T) {
	f := newAdminFixture(t)
	f.account("admin")
	for _, u := range []string{"u1", "u2", "u3"} {
		f.account(u)
	}
	adm := f.login(testAdmin + "/a")
	f.login("u1@example.com/x")
	f.login("u1@example.com/y")
	f.login("u2@example.com/x")
	f.login("z9@anon.example.com/r")
	full := testAdmin + "/a"
	result := func(fields string) string {
		return `<x xmlns='jabber:x:data' type='result'><field type='hidden' var='FORM_TYPE'><value>http://jabber.org/protocol/admin</value></field>` + fields + `</x>`
	}
	r, sid := f.execute(adm, NodeRegisteredUsersNum)
	expectXML(t, "registered", []*xmlstream.Stanza{r}, completed(full, "e1", NodeRegisteredUsersNum, sid,
		result(`<field label='The number of registered users' var='registeredusersnum'><value>4</value></field>`)))
	r, sid = f.execute(adm, NodeOnlineUsersNum)
	expectXML(t, "online", []*xmlstream.Stanza{r}, completed(full, "e1", NodeOnlineUsersNum, sid,
		result(`<field label='The number of online users' var='onlineusersnum'><value>4</value></field>`)))

	_, sid = f.execute(adm, NodeOnlineUsersList)
	expectXML(t, "bad max", []*xmlstream.Stanza{f.submit(adm, NodeOnlineUsersList, sid, "", adminFormType+field("max_items", "7"))},
		cmdErr(full, "e2", "modify", "bad-request", "bad-payload", "max_items must be one of 25, 50, 75, 100, 150, 200, none"))
	expectXML(t, "list", []*xmlstream.Stanza{f.submit(adm, NodeOnlineUsersList, sid, "", adminFormType+field("max_items", "none"))},
		completed(full, "e2", NodeOnlineUsersList, sid, result(`<field type='jid-multi' label='The list of all online users' var='onlineuserjids'>`+
			`<value>admin@example.com</value><value>u1@example.com</value><value>u2@example.com</value><value>z9@anon.example.com</value></field>`)))
}

func TestAnnounceCommand(t *testing.T) {
	f := newAdminFixture(t)
	f.account("admin")
	f.account("u1")
	adm := f.login(testAdmin + "/a")
	x := f.login("u1@example.com/x")
	y := f.login("u1@example.com/y")
	full := testAdmin + "/a"
	_, sid := f.execute(adm, NodeAnnounce)
	expectXML(t, "empty", []*xmlstream.Stanza{f.submit(adm, NodeAnnounce, sid, "", adminFormType+field("announcement", " "))},
		cmdErr(full, "e2", "modify", "bad-request", "bad-payload", "the announcement is empty"))
	f.client(adm, `<iq type='set' to='example.com' id='e2'><command xmlns='http://jabber.org/protocol/commands' node='`+NodeAnnounce+
		`' sessionid='`+sid+`'><x xmlns='jabber:x:data' type='submit'>`+adminFormType+field("announcement", "Going down", "in 2 minutes")+`</x></command></iq>`)
	expectXML(t, "admin", adm.take(),
		`<message from='example.com' to='admin@example.com/a' type='headline' id='push-x'><body>Going down
in 2 minutes</body></message>`,
		completed(full, "e2", NodeAnnounce, sid, `<note type='info'>Announcement sent to 3 sessions</note>`))
	for _, s := range []*fakeSession{x, y} {
		expectXML(t, s.jid.String(), s.take(), `<message from='example.com' to='`+s.jid.String()+`' type='headline' id='push-x'><body>Going down
in 2 minutes</body></message>`)
	}
}
