package pubsub

import (
	"context"
	"errors"
	"testing"

	"github.com/gavelhq/gavel/data"
	"github.com/gavelhq/gavel/xmlstream"
)

// newAdapter is a Protocol over a core on an in-memory store.
func newAdapter(t *testing.T) (*Protocol, *recordRouter) {
	t.Helper()
	db, err := data.OpenInMemory()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	rt := &recordRouter{}
	p := NewProtocol(ProtocolOptions{Router: rt, Name: "PubSub"})
	svc, err := New(Options{Host: testHost, Store: db, Notifier: p, LocalDomains: []string{"denmark.lit"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Close(context.Background()) })
	p.Attach(svc)
	return p, rt
}

func iqStanza(t *testing.T, typ, payload string) (*xmlstream.Stanza, *xmlstream.Element) {
	t.Helper()
	st, err := xmlstream.ParseStanza([]byte("<iq type='"+typ+"' id='t1' from='hamlet@denmark.lit/elsinore' to='"+testHost+"'>"+payload+"</iq>"),
		xmlstream.NSClient, xmlstream.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	el, err := st.Element()
	if err != nil {
		t.Fatal(err)
	}
	return st, el.FirstElement()
}

// TestAdapterRefusesMalformedRequests covers the errors the adapter owns:
// what it answers before the core is asked anything.
func TestAdapterRefusesMalformedRequests(t *testing.T) {
	p, _ := newAdapter(t)
	const ps, own = "<pubsub xmlns='http://jabber.org/protocol/pubsub'>", "<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'>"
	cases := []struct {
		name, typ, payload string
		cond, app, feature string
	}{
		{"empty", "get", ps + "</pubsub>", "bad-request", "", ""},
		{"two verbs", "get", ps + "<items node='n'/><subscriptions/></pubsub>", "bad-request", "", ""},
		{"pair out of order", "set", ps + "<configure/><create node='n'/></pubsub>", "bad-request", "", ""},
		{"wrong pair", "set", ps + "<create node='n'/><options/></pubsub>", "bad-request", "", ""},
		{"unknown verb", "get", ps + "<frobnicate/></pubsub>", "bad-request", "", ""},
		{"items by set", "set", ps + "<items node='n'/></pubsub>", "bad-request", "", ""},
		{"publish by get", "get", ps + "<publish node='n'/></pubsub>", "bad-request", "", ""},
		{"rsm beside publish", "set", ps + "<publish node='n'/><set xmlns='http://jabber.org/protocol/rsm'/></pubsub>", "bad-request", "", ""},
		{"publish without node", "set", ps + "<publish><item/></publish></pubsub>", "bad-request", "nodeid-required", ""},
		{"two items", "set", ps + "<publish node='n'><item id='a'/><item id='b'/></publish></pubsub>", "bad-request", "", ""},
		{"two payloads", "set", ps + "<publish node='n'><item><a xmlns='urn:a'/><b xmlns='urn:b'/></item></publish></pubsub>", "bad-request", "invalid-payload", ""},
		{"text beside payload", "set", ps + "<publish node='n'><item>hello<a xmlns='urn:a'/></item></publish></pubsub>", "bad-request", "invalid-payload", ""},
		{"payload in pubsub ns", "set", ps + "<publish node='n'><item><entry/></item></publish></pubsub>", "bad-request", "invalid-payload", ""},
		{"publish-options not a form", "set", ps + "<publish node='n'><item/></publish><publish-options><x xmlns='jabber:x:data' type='form'/></publish-options></pubsub>", "bad-request", "", ""},
		{"publish-options wrong FORM_TYPE", "set", ps + "<publish node='n'><item/></publish><publish-options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>urn:other</value></field></x></publish-options></pubsub>", "bad-request", "", ""},
		{"retract without item", "set", ps + "<retract node='n'/></pubsub>", "bad-request", "item-required", ""},
		{"retract item without id", "set", ps + "<retract node='n'><item/></retract></pubsub>", "bad-request", "item-required", ""},
		{"retract notify not boolean", "set", ps + "<retract node='n' notify='yes'><item id='a'/></retract></pubsub>", "bad-request", "", ""},
		{"subscribe without jid", "set", ps + "<subscribe node='n'/></pubsub>", "bad-request", "jid-required", ""},
		{"subscribe bad jid", "set", ps + "<subscribe node='n' jid='@'/></pubsub>", "bad-request", "invalid-jid", ""},
		{"subscribe without node", "set", ps + "<subscribe jid='hamlet@denmark.lit'/></pubsub>", "bad-request", "nodeid-required", ""},
		{"options with node after subscribe", "set", ps + "<subscribe node='n' jid='hamlet@denmark.lit'/><options node='n'/></pubsub>", "bad-request", "", ""},
		{"unsubscribe without jid", "set", ps + "<unsubscribe node='n'/></pubsub>", "bad-request", "jid-required", ""},
		{"options without jid", "get", ps + "<options node='n'/></pubsub>", "bad-request", "jid-required", ""},
		{"options without node", "get", ps + "<options jid='hamlet@denmark.lit'/></pubsub>", "bad-request", "nodeid-required", ""},
		{"options set without form", "set", ps + "<options node='n' jid='hamlet@denmark.lit'/></pubsub>", "bad-request", "", ""},
		{"items without node", "get", ps + "<items/></pubsub>", "bad-request", "nodeid-required", ""},
		{"items max_items zero", "get", ps + "<items node='n' max_items='0'/></pubsub>", "bad-request", "", ""},
		{"items rsm bad max", "get", ps + "<items node='n'/><set xmlns='http://jabber.org/protocol/rsm'><max>-1</max></set></pubsub>", "bad-request", "", ""},
		{"create configure with node", "set", ps + "<create node='n'/><configure node='n'/></pubsub>", "bad-request", "", ""},
		{"owner two verbs", "set", own + "<purge node='n'/><delete node='n'/></pubsub>", "bad-request", "", ""},
		{"owner unknown", "get", own + "<items node='n'/></pubsub>", "bad-request", "", ""},
		{"configure without node", "get", own + "<configure/></pubsub>", "bad-request", "nodeid-required", ""},
		{"configure set without form", "set", own + "<configure node='n'/></pubsub>", "bad-request", "", ""},
		{"delete without node", "set", own + "<delete/></pubsub>", "bad-request", "nodeid-required", ""},
		{"delete by get", "get", own + "<delete node='n'/></pubsub>", "bad-request", "", ""},
		{"redirect without uri", "set", own + "<delete node='n'><redirect/></delete></pubsub>", "bad-request", "", ""},
		{"purge without node", "set", own + "<purge/></pubsub>", "bad-request", "nodeid-required", ""},
		{"default by set", "set", own + "<default/></pubsub>", "bad-request", "", ""},
		{"default collection", "get", own + "<default type='collection'/></pubsub>", "feature-not-implemented", "unsupported", "collections"},
		{"subscriptions without node", "get", own + "<subscriptions/></pubsub>", "bad-request", "nodeid-required", ""},
		{"subscription entry without jid", "set", own + "<subscriptions node='n'><subscription subscription='none'/></subscriptions></pubsub>", "bad-request", "jid-required", ""},
		{"subscription entry bad state", "set", own + "<subscriptions node='n'><subscription jid='a@b' subscription='maybe'/></subscriptions></pubsub>", "bad-request", "", ""},
		{"affiliation entry bad jid", "set", own + "<affiliations node='n'><affiliation jid='@' affiliation='member'/></affiliations></pubsub>", "bad-request", "invalid-jid", ""},
		{"affiliation twice", "set", own + "<affiliations node='n'><affiliation jid='a@b' affiliation='member'/><affiliation jid='a@b/r' affiliation='none'/></affiliations></pubsub>", "bad-request", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, payload := iqStanza(t, c.typ, c.payload)
			res, err := p.HandleIQ(context.Background(), testHost, st, payload)
			var se *xmlstream.StanzaError
			if !errors.As(err, &se) {
				t.Fatalf("result %v, err %v; want %s", res, err, c.cond)
			}
			if se.Condition != c.cond {
				t.Fatalf("condition %s, want %s (%v)", se.Condition, c.cond, se)
			}
			app := ""
			if se.App != nil {
				app = se.App.Name.Local
				if se.App.Name.Space != NSPubSubErrors {
					t.Fatalf("app element in %s", se.App.Name.Space)
				}
			}
			if app != c.app || (se.App != nil && se.App.Attr("feature") != c.feature) {
				t.Fatalf("app %q feature %q, want %q %q", app, se.App.Attr("feature"), c.app, c.feature)
			}
		})
	}
}

func TestStanzaErrorMapping(t *testing.T) {
	p, _ := newNotifyProtocol(t)
	se := p.stanzaError(unsupported("retract-items"))
	want := `<error xmlns='jabber:client' type='cancel'><feature-not-implemented xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>` +
		`<unsupported xmlns='http://jabber.org/protocol/pubsub#errors' feature='retract-items'/></error>`
	if got := se.Element().String(); got != want {
		t.Fatalf("got %s", got)
	}
	se = p.stanzaError(&Error{Cond: "not-authorized", Type: "auth", App: "presence-subscription-required"})
	if se.Type != "auth" || se.Condition != "not-authorized" || se.App.Name.Local != "presence-subscription-required" || se.App.Attr("feature") != "" {
		t.Fatalf("got %+v", se)
	}
	if se := p.stanzaError(errors.New("disk on fire")); se.Condition != "internal-server-error" {
		t.Fatalf("plain error: %+v", se)
	}
	if se := p.stanzaError(context.DeadlineExceeded); se.Condition != "resource-constraint" || se.Type != "wait" {
		t.Fatalf("deadline: %+v", se)
	}
	orig := xmlstream.ItemNotFound()
	if se := p.stanzaError(orig); se != orig {
		t.Fatal("a stanza error is passed on as is")
	}
}
