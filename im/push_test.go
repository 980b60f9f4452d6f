package im

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/gavelhq/gavel/xmlstream"
)

const pushPayloadXML = `<subject>Auction</subject><body>Lot 7 opens now</body>` +
	`<x xmlns='jabber:x:oob'><url>https://example.com/lots/7</url></x><store xmlns='urn:xmpp:hints'/>`

func TestPushOnlineAndOffline(t *testing.T) {
	f := newAdminFixture(t)
	f.srv.state.services.clock = func() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) }
	f.account("alice")
	f.account("bob")
	f.account("carol")
	a := f.login("alice@example.com/a")
	f.client(a, `<presence/>`)
	idle := f.login("alice@example.com/idle") // bound, never available: gets nothing
	a.take()

	res, err := f.srv.Push(context.Background(), PushRequest{
		Recipients: []string{"alice", "bob@example.com", "alice@example.com", "ghost"},
		Subject:    "Auction", Body: "Lot 7 opens now", URL: "https://example.com/lots/7"})
	if err != nil {
		t.Fatal(err)
	}
	want := PushResult{Recipients: 2, Delivered: 1, Stored: 1, Unknown: []string{"ghost@example.com"}}
	if !reflect.DeepEqual(res, want) {
		t.Fatalf("result %+v, want %+v", res, want)
	}
	expectXML(t, "alice", withoutStanzaIDs(t, a.take()), `<message from='example.com' to='alice@example.com' type='headline' id='push-x'>`+pushPayloadXML+`</message>`)
	expectNothing(t, idle)

	// bob gets it at his next login, with the offline delay stamp.
	b := f.login("bob@example.com/b")
	f.client(b, `<presence/>`)
	var got []*xmlstream.Stanza
	for _, st := range b.take() {
		if st.Name.Local == xmlstream.KindMessage {
			got = append(got, st)
		}
	}
	expectXML(t, "bob", withoutStanzaIDs(t, got), `<message from='example.com' to='bob@example.com' type='headline' id='push-x'>`+pushPayloadXML+
		`<delay xmlns='urn:xmpp:delay' from='example.com' stamp='2026-03-01T12:00:00.000Z'>Offline Storage</delay></message>`)

	// Everybody registered: admin, alice, bob, carol (the admin account does not exist here).
	res, err = f.srv.Push(context.Background(), PushRequest{Audience: PushToAll, Body: "all"})
	if err != nil {
		t.Fatal(err)
	}
	if want := (PushResult{Recipients: 3, Delivered: 2, Stored: 1}); !reflect.DeepEqual(res, want) {
		t.Fatalf("all: %+v, want %+v", res, want)
	}
	// Online: accounts with a bound resource (alice, bob), whether or not available.
	res, err = f.srv.Push(context.Background(), PushRequest{Audience: PushToOnline, Body: "online"})
	if err != nil {
		t.Fatal(err)
	}
	if want := (PushResult{Recipients: 2, Delivered: 2}); !reflect.DeepEqual(res, want) {
		t.Fatalf("online: %+v, want %+v", res, want)
	}
}

func TestPushValidation(t *testing.T) {
	f := newAdminFixture(t)
	for _, c := range []struct {
		req   PushRequest
		field string
	}{
		{PushRequest{Recipients: []string{"a"}}, "body"},
		{PushRequest{Recipients: []string{"a"}, Body: "x", URL: "not a url"}, "url"},
		{PushRequest{Audience: "everyone", Body: "x"}, "audience"},
		{PushRequest{Recipients: []string{"a@remote.test"}, Body: "x"}, "recipients"},
		{PushRequest{Recipients: []string{"a@example.com/r"}, Body: "x"}, "recipients"},
		{PushRequest{Recipients: []string{" "}, Body: "x"}, "recipients"},
		{PushRequest{Recipients: []string{"a"}, Body: string(make([]byte, MaxPushBodyBytes+1))}, "body"},
	} {
		_, err := f.srv.Push(context.Background(), c.req)
		var pe *PushError
		if !errors.As(err, &pe) || pe.Field != c.field {
			t.Errorf("%+v: error %v, want one about %s", c.req, err, c.field)
		}
	}
}

func TestPushCommand(t *testing.T) {
	f := newAdminFixture(t)
	f.account("admin")
	f.account("bob")
	adm := f.login(testAdmin + "/a")
	full := testAdmin + "/a"
	r, sid := f.execute(adm, NodePush)
	expectXML(t, "form", []*xmlstream.Stanza{r}, iqFrom(full, "e1", "result")+
		`<command xmlns='http://jabber.org/protocol/commands' node='urn:gavel:push:0' sessionid='`+sid+`' status='executing' xml:lang='en'>`+
		`<actions execute='complete'><complete/></actions>`+
		`<x xmlns='jabber:x:data' type='form'><title>Push Notification</title>`+
		`<instructions>Send a headline message to accounts of this server. Those not online get it at their next login.</instructions>`+
		`<field type='hidden' var='FORM_TYPE'><value>urn:gavel:push:0</value></field>`+
		`<field type='list-single' label='Recipients' var='audience'><required/><value>list</value>`+
		`<option label='The accounts listed below'><value>list</value></option>`+
		`<option label='All online accounts'><value>online</value></option>`+
		`<option label='All registered accounts'><value>all</value></option></field>`+
		`<field type='jid-multi' label='Accounts (user or user@domain)' var='recipients'/>`+
		`<field type='text-single' label='Subject' var='subject'/>`+
		`<field type='text-multi' label='Message' var='body'><required/></field>`+
		`<field type='text-single' label='Link (optional)' var='url'/>`+
		`</x></command></iq>`)
	pushType := `<field var='FORM_TYPE'><value>urn:gavel:push:0</value></field>`
	expectXML(t, "no body", []*xmlstream.Stanza{f.submit(adm, NodePush, sid, "", pushType+field("audience", "list")+field("recipients", "bob"))},
		cmdErr(full, "e2", "modify", "bad-request", "bad-payload", "body is empty"))
	r = f.submit(adm, NodePush, sid, "complete", pushType+field("audience", "list")+
		field("recipients", "bob@example.com", "nobody@example.com")+field("body", "Lot 7", "opens now"))
	expectXML(t, "done", []*xmlstream.Stanza{r}, completed(full, "e2", NodePush, sid,
		`<note type='info'>Push sent to 1 recipients: 0 delivered, 1 stored offline, 0 dropped</note>`+
			`<note type='warn'>No such account: nobody@example.com</note>`+
			`<x xmlns='jabber:x:data' type='result'><field type='hidden' var='FORM_TYPE'><value>urn:gavel:push:0</value></field>`+
			`<field label='Recipients' var='recipients'><value>1</value></field>`+
			`<field label='Delivered online' var='delivered'><value>0</value></field>`+
			`<field label='Stored offline' var='stored'><value>1</value></field>`+
			`<field label='Dropped' var='dropped'><value>0</value></field>`+
			`<field type='jid-multi' label='No such account' var='unknown'><value>nobody@example.com</value></field></x>`))
}

// withoutStanzaIDs drops XEP-0359 stanza-ids, which archiving adds or not
// (mam.go's business, not push's).
func withoutStanzaIDs(t *testing.T, sts []*xmlstream.Stanza) []*xmlstream.Stanza {
	t.Helper()
	out := make([]*xmlstream.Stanza, len(sts))
	for i, st := range sts {
		el, err := st.Element()
		if err != nil {
			t.Fatal(err)
		}
		c := el.Copy()
		c.RemoveChildren(nsStanzaID, "stanza-id")
		out[i] = xmlstream.NewStanza(c)
	}
	return out
}
