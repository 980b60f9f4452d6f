package pubsub

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/xmlstream"
)

// recordRouter keeps what the adapter routes.
type recordRouter struct {
	mu  sync.Mutex
	got []*xmlstream.Stanza
}

func (r *recordRouter) Route(_ context.Context, st *xmlstream.Stanza) {
	r.mu.Lock()
	r.got = append(r.got, st)
	r.mu.Unlock()
}

func (r *recordRouter) stanzas() []*xmlstream.Stanza {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*xmlstream.Stanza(nil), r.got...)
}

const testHost = "pubsub.example.org"

func newNotifyProtocol(t testing.TB) (*Protocol, *recordRouter) {
	t.Helper()
	rt := &recordRouter{}
	return NewProtocol(ProtocolOptions{Router: rt, Name: "PubSub"}), rt
}

func recipients(t testing.TB, jids ...string) []Recipient {
	t.Helper()
	out := make([]Recipient, len(jids))
	for i, s := range jids {
		out[i] = Recipient{JID: jid.MustParse(s)}
	}
	return out
}

// parsed re-reads a routed stanza from its bytes, as a client would.
func parsed(t testing.TB, st *xmlstream.Stanza) *xmlstream.Element {
	t.Helper()
	el, err := xmlstream.ParseElement(st.Raw, xmlstream.NSClient, xmlstream.Limits{})
	if err != nil {
		t.Fatalf("routed stanza does not parse: %v\n%s", err, st.Raw)
	}
	return el
}

func payloadItem(id string) Item {
	return Item{ID: id, Publisher: jid.MustParse("hamlet@denmark.lit/blogbot"),
		Payload: []byte(`<entry xmlns='http://www.w3.org/2005/Atom'><title>Soliloquy</title></entry>`),
		Time:    time.Date(2003, 12, 13, 18, 30, 2, 0, time.UTC)}
}

func TestNotifyItemsWithPayloadOnceForAll(t *testing.T) {
	p, rt := newNotifyProtocol(t)
	ev := &Event{Host: testHost, Node: "princely_musings", Kind: EventItems,
		Config: Config{DeliverPayloads: true, NotificationType: "headline"}, Items: []Item{payloadItem("ae890ac5")}}
	to := recipients(t, "francisco@denmark.lit", "bernardo@denmark.lit/phone", "horatio@denmark.lit")
	p.Notify(context.Background(), ev, to)
	got := rt.stanzas()
	if len(got) != 3 {
		t.Fatalf("%d stanzas routed, want 3", len(got))
	}
	var first []byte
	for i, st := range got {
		if st.To() != to[i].JID.String() || st.From() != testHost || st.Type() != "headline" {
			t.Fatalf("copy %d: to=%q from=%q type=%q", i, st.To(), st.From(), st.Type())
		}
		el := parsed(t, st)
		if el.Attr("to") != to[i].JID.String() {
			t.Fatalf("copy %d bytes say to=%q: %s", i, el.Attr("to"), st.Raw)
		}
		item := el.Child(NSPubSubEvent, "event").Child(NSPubSubEvent, "items").Child(NSPubSubEvent, "item")
		if item == nil || item.Attr("id") != "ae890ac5" || item.Attr("publisher") != "hamlet@denmark.lit" {
			t.Fatalf("copy %d item: %s", i, st.Raw)
		}
		if entry := item.Child("http://www.w3.org/2005/Atom", "entry"); entry == nil || entry.ChildText("", "title") != "Soliloquy" {
			t.Fatalf("copy %d payload: %s", i, st.Raw)
		}
		// Identical but for 'to' (the id is the event's).
		without := bytes.Replace(st.Raw, []byte(" to='"+to[i].JID.String()+"'"), nil, 1)
		if first == nil {
			first = without
		} else if !bytes.Equal(first, without) {
			t.Fatalf("copies differ beyond 'to':\n%s\n%s", first, without)
		}
	}
}

func TestNotifyItemsWithoutPayload(t *testing.T) {
	p, rt := newNotifyProtocol(t)
	ev := &Event{Host: testHost, Node: "n", Kind: EventItems, Config: Config{DeliverPayloads: false},
		Items: []Item{payloadItem("i1")}}
	p.Notify(context.Background(), ev, recipients(t, "a@x.example"))
	el := parsed(t, rt.stanzas()[0])
	item := el.Child(NSPubSubEvent, "event").Child(NSPubSubEvent, "items").Child(NSPubSubEvent, "item")
	if item == nil || item.Attr("id") != "i1" || len(item.Elements()) != 0 {
		t.Fatalf("notification-only item: %s", rt.stanzas()[0].Raw)
	}
	if el.Attr("type") != "" {
		t.Fatalf("no notification_type gives no type, got %q", el.Attr("type"))
	}
}

func TestNotifyDelayedLastItem(t *testing.T) {
	p, rt := newNotifyProtocol(t)
	ev := &Event{Host: testHost, Node: "n", Kind: EventItems, Config: Config{DeliverPayloads: true},
		Items: []Item{payloadItem("last")}, Delayed: true}
	p.Notify(context.Background(), ev, recipients(t, "a@x.example"))
	el := parsed(t, rt.stanzas()[0])
	d := el.Child(nsDelay, "delay")
	if d == nil || d.Attr("stamp") != "2003-12-13T18:30:02Z" || d.Attr("from") != testHost {
		t.Fatalf("delay: %s", rt.stanzas()[0].Raw)
	}
	// XEP-0060 §6.1.7 puts it after the event.
	if els := el.Elements(); els[len(els)-1].Name.Local != "delay" {
		t.Fatalf("delay is not after the event: %s", rt.stanzas()[0].Raw)
	}
}

func TestNotifySubIDHeaders(t *testing.T) {
	p, rt := newNotifyProtocol(t)
	ev := &Event{Host: testHost, Node: "n", Kind: EventRetract, Retracted: []string{"r1"}}
	to := []Recipient{
		{JID: jid.MustParse("francisco@denmark.lit"), SubIDs: []string{"123-abc", "004-yyy"}},
		{JID: jid.MustParse("bernardo@denmark.lit")},
	}
	p.Notify(context.Background(), ev, to)
	got := rt.stanzas()
	if len(got) != 2 {
		t.Fatalf("%d stanzas", len(got))
	}
	for _, st := range got {
		el := parsed(t, st)
		if r := el.Child(NSPubSubEvent, "event").Child(NSPubSubEvent, "items").Child(NSPubSubEvent, "retract"); r == nil || r.Attr("id") != "r1" {
			t.Fatalf("retract: %s", st.Raw)
		}
		h := el.Child(nsSHIM, "headers")
		switch st.To() {
		case "francisco@denmark.lit":
			hs := h.ChildrenNamed(nsSHIM, "header")
			if len(hs) != 2 || hs[0].Attr("name") != "SubID" || hs[0].Text() != "123-abc" || hs[1].Text() != "004-yyy" {
				t.Fatalf("headers: %s", st.Raw)
			}
			if els := el.Elements(); els[len(els)-1].Name.Local != "headers" {
				t.Fatalf("headers are not the last child: %s", st.Raw)
			}
		default:
			if h != nil {
				t.Fatalf("single subscription got headers: %s", st.Raw)
			}
		}
	}
	// §12.7: no SHIM headers when the content does not depend on the subscription.
	rt.got = nil
	p.Notify(context.Background(), &Event{Host: testHost, Node: "n", Kind: EventPurge}, to[:1])
	if el := parsed(t, rt.stanzas()[0]); el.Child(nsSHIM, "headers") != nil {
		t.Fatalf("purge with headers: %s", rt.stanzas()[0].Raw)
	}
}

func TestNotifyNodeEvents(t *testing.T) {
	sub := &Subscription{Node: "n", JID: jid.MustParse("horatio@denmark.lit"), State: SubSubscribed, SubID: "s1"}
	cases := []struct {
		name  string
		ev    Event
		check func(ev *xmlstream.Element) bool
	}{
		{"purge", Event{Kind: EventPurge}, func(e *xmlstream.Element) bool {
			return e.Child(NSPubSubEvent, "purge").Attr("node") == "n"
		}},
		{"delete", Event{Kind: EventDelete}, func(e *xmlstream.Element) bool {
			d := e.Child(NSPubSubEvent, "delete")
			return d.Attr("node") == "n" && d.Child(NSPubSubEvent, "redirect") == nil
		}},
		{"delete-redirect", Event{Kind: EventDelete, Redirect: "xmpp:hamlet@denmark.lit?;node=blog"}, func(e *xmlstream.Element) bool {
			r := e.Child(NSPubSubEvent, "delete").Child(NSPubSubEvent, "redirect")
			return r != nil && r.Attr("uri") == "xmpp:hamlet@denmark.lit?;node=blog"
		}},
		{"config-notification-only", Event{Kind: EventConfig}, func(e *xmlstream.Element) bool {
			c := e.Child(NSPubSubEvent, "configuration")
			return c.Attr("node") == "n" && len(c.Elements()) == 0
		}},
		{"config-with-form", Event{Kind: EventConfig, Config: Config{DeliverPayloads: true}}, func(e *xmlstream.Element) bool {
			x := e.Child(NSPubSubEvent, "configuration").Child(xmlstream.NSDataForms, "x")
			return x != nil && x.Attr("type") == "result"
		}},
		{"subscription", Event{Kind: EventSubscription, Subscription: sub}, func(e *xmlstream.Element) bool {
			s := e.Child(NSPubSubEvent, "subscription")
			return s.Attr("node") == "n" && s.Attr("jid") == "horatio@denmark.lit" &&
				s.Attr("subscription") == "subscribed" && s.Attr("subid") == "s1"
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, rt := newNotifyProtocol(t)
			ev := c.ev
			ev.Host, ev.Node = testHost, "n"
			p.Notify(context.Background(), &ev, recipients(t, "a@x.example"))
			got := rt.stanzas()
			if len(got) != 1 {
				t.Fatalf("%d stanzas", len(got))
			}
			event := parsed(t, got[0]).Child(NSPubSubEvent, "event")
			if event == nil || len(event.Elements()) != 1 || !c.check(event) {
				t.Fatalf("event: %s", got[0].Raw)
			}
		})
	}
}

func TestNotifyIDsDifferPerEvent(t *testing.T) {
	p, rt := newNotifyProtocol(t)
	for range 3 {
		p.Notify(context.Background(), &Event{Host: testHost, Node: "n", Kind: EventPurge}, recipients(t, "a@x.example"))
	}
	seen := map[string]bool{}
	for _, st := range rt.stanzas() {
		if st.ID() == "" || seen[st.ID()] {
			t.Fatalf("notification id %q empty or reused", st.ID())
		}
		seen[st.ID()] = true
	}
}

func TestRequestAuthorizationForm(t *testing.T) {
	p, rt := newNotifyProtocol(t)
	p.RequestAuthorization(context.Background(), AuthorizationRequest{Host: testHost, Node: "princely_musings",
		Owners:     []jid.JID{jid.MustParse("hamlet@denmark.lit"), jid.MustParse("ophelia@denmark.lit")},
		Subscriber: jid.MustParse("horatio@denmark.lit"), SubID: "123-abc"})
	got := rt.stanzas()
	if len(got) != 2 || got[0].To() != "hamlet@denmark.lit" || got[1].To() != "ophelia@denmark.lit" {
		t.Fatalf("routed: %v", got)
	}
	x := parsed(t, got[0]).Child(xmlstream.NSDataForms, "x")
	if x == nil || x.Attr("type") != "form" {
		t.Fatalf("no form: %s", got[0].Raw)
	}
	vals := map[string]string{}
	for _, f := range x.ChildrenNamed(xmlstream.NSDataForms, "field") {
		vals[f.Attr("var")] = f.ChildText(xmlstream.NSDataForms, "value")
	}
	want := map[string]string{"FORM_TYPE": formSubscribeAuth, "pubsub#subid": "123-abc", "pubsub#node": "princely_musings",
		"pubsub#subscriber_jid": "horatio@denmark.lit", "pubsub#allow": "false"}
	for k, v := range want {
		if vals[k] != v {
			t.Fatalf("field %s = %q, want %q: %s", k, vals[k], v, got[0].Raw)
		}
	}
}

// BenchmarkNotifyEncode measures one item notification (with payload) to
// 1,000 subscribers: encoded once, then one copy per recipient.
func BenchmarkNotifyEncode(b *testing.B) {
	const n = 1000
	to := make([]Recipient, n)
	for i := range to {
		to[i] = Recipient{JID: jid.MustParse("user" + strconv.Itoa(i) + "@example.com/res")}
	}
	ev := &Event{Host: testHost, Node: "princely_musings", Kind: EventItems,
		Config: Config{DeliverPayloads: true, NotificationType: "headline"},
		Items: []Item{{ID: "ae890ac52d0df67ed7cfdf51b644e901", Publisher: jid.MustParse("hamlet@denmark.lit/blogbot"),
			Payload: []byte(`<entry xmlns='http://www.w3.org/2005/Atom'><title>Soliloquy</title><summary>` +
				strings.Repeat("To be, or not to be: that is the question. ", 8) + `</summary></entry>`)}}}
	p := NewProtocol(ProtocolOptions{Router: countRouter{}})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		p.Notify(ctx, ev, to)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/recipient")
}

// countRouter stands for a router that costs nothing.
type countRouter struct{}

func (countRouter) Route(context.Context, *xmlstream.Stanza) {}
