package pubsub_test

// XEP-0060 end to end: a real server on loopback, real client streams,
// the exact XML of the spec's examples. Helpers first, then one test per
// group of use cases (this file: discovery, publish/subscribe, items;
// integration_owner_test.go: the owner's use cases, approval, restart).

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gavelhq/gavel/internal/testserver"
	"github.com/gavelhq/gavel/internal/xmpptest"
	"github.com/gavelhq/gavel/pubsub"
	"github.com/gavelhq/gavel/server"
	"github.com/gavelhq/gavel/xmlstream"
)

const (
	wait  = 10 * time.Second
	quiet = 300 * time.Millisecond // how long "nothing arrives" is watched

	nsAtom  = "http://www.w3.org/2005/Atom"
	nsData  = "jabber:x:data"
	nsRSM   = "http://jabber.org/protocol/rsm"
	nsDelay = "urn:xmpp:delay"
	nsSHIM  = "http://jabber.org/protocol/shim"
)

// env is one running server and its pubsub service domain.
type env struct {
	t   *testing.T
	ts  *testserver.Server
	svc string
}

func startEnv(t *testing.T, mutate func(*server.Config)) *env {
	t.Helper()
	ts := testserver.Start(t, mutate)
	return &env{t: t, ts: ts, svc: "pubsub." + ts.Domain}
}

func password(name string) string { return "pw-" + name + "-0123456789" }

// user creates an account and logs it in (available, so that messages to
// its bare JID reach it).
func (e *env) user(name string) *user {
	e.t.Helper()
	e.ts.CreateUser(name, password(name))
	return e.login(name)
}

// login logs an existing account in.
func (e *env) login(name string) *user {
	e.t.Helper()
	c := xmpptest.Dial(e.t, e.ts.C2SAddr)
	c.Domain = e.ts.Domain
	full := c.Login("SCRAM-SHA-256", name, password(name), "res")
	u := &user{t: e.t, c: c, full: full, bare: name + "@" + e.ts.Domain, svc: e.svc}
	u.send("<presence/>")
	return u
}

// user is a logged-in client that keeps what it has not looked at yet, so
// a notification that arrives before an iq result is not lost.
type user struct {
	t          *testing.T
	c          *xmpptest.Client
	full, bare string
	svc        string
	queue      []*xmlstream.Stanza
	seq        int
}

func (u *user) send(raw string) { u.t.Helper(); u.c.SendRaw(raw) }

// next returns the first stanza (queued or arriving within timeout) that
// pred accepts.
func (u *user) next(pred func(*xmlstream.Stanza) bool, timeout time.Duration) (*xmlstream.Stanza, bool) {
	u.t.Helper()
	for i, st := range u.queue {
		if pred(st) {
			u.queue = append(u.queue[:i], u.queue[i+1:]...)
			return st, true
		}
	}
	deadline := time.Now().Add(timeout)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return nil, false
		}
		st, err := u.c.Next(left)
		if err == xmpptest.ErrTimeout {
			return nil, false
		}
		if err != nil {
			u.t.Fatalf("%s: stream: %v", u.bare, err)
		}
		if pred(st) {
			return st, true
		}
		if len(u.queue) > 1000 {
			u.t.Fatalf("%s: too many unexpected stanzas", u.bare)
		}
		u.queue = append(u.queue, st)
	}
}

func (u *user) expect(what string, pred func(*xmlstream.Stanza) bool) *xmlstream.Stanza {
	u.t.Helper()
	st, ok := u.next(pred, wait)
	if !ok {
		u.t.Fatalf("%s: no %s within %v; unread: %s", u.bare, what, wait, u.unread())
	}
	return st
}

// nothing fails if a stanza pred accepts arrives within quiet.
func (u *user) nothing(what string, pred func(*xmlstream.Stanza) bool) {
	u.t.Helper()
	if st, ok := u.next(pred, quiet); ok {
		u.t.Fatalf("%s: unexpected %s: %s", u.bare, what, st.Raw)
	}
}

func (u *user) unread() string {
	var b strings.Builder
	for _, st := range u.queue {
		b.Write(st.Raw)
		b.WriteByte('\n')
	}
	return b.String()
}

// iq sends an iq of type typ to the service with payload and returns the
// answer.
func (u *user) iq(typ, payload string) *xmlstream.Stanza {
	u.t.Helper()
	return u.iqTo(u.svc, typ, payload)
}

func (u *user) iqTo(to, typ, payload string) *xmlstream.Stanza {
	u.t.Helper()
	u.seq++
	id := fmt.Sprintf("q%d", u.seq)
	u.send("<iq type='" + typ + "' id='" + id + "' to='" + to + "'>" + payload + "</iq>")
	return u.expect("answer to iq "+id, func(st *xmlstream.Stanza) bool {
		return st.Name.Local == xmlstream.KindIQ && st.ID() == id
	})
}

// ok sends an iq that must succeed and returns the answer parsed.
func (u *user) ok(typ, payload string) *xmlstream.Element {
	u.t.Helper()
	st := u.iq(typ, payload)
	if st.Type() != "result" {
		u.t.Fatalf("%s: iq %s failed: %s\nrequest: %s", u.bare, typ, st.Raw, payload)
	}
	return parse(u.t, st)
}

// fails sends an iq that must fail with condition cond, error type typ and
// the pubsub#errors element app ("" for none); it returns the <error/>.
func (u *user) fails(typ, payload, errType, cond, app string) *xmlstream.Element {
	u.t.Helper()
	st := u.iq(typ, payload)
	return checkError(u.t, st, errType, cond, app)
}

func checkError(t *testing.T, st *xmlstream.Stanza, errType, cond, app string) *xmlstream.Element {
	t.Helper()
	if st.Type() != "error" {
		t.Fatalf("want error %s/%s, got %s", cond, app, st.Raw)
	}
	e := parse(t, st).Child("", "error")
	if got := xmpptest.ErrorCondition(st); got != cond || e.Attr("type") != errType {
		t.Fatalf("error %s type %s, want %s type %s: %s", got, e.Attr("type"), cond, errType, st.Raw)
	}
	var gotApp *xmlstream.Element
	for _, c := range e.Elements() {
		if c.Name.Space == pubsub.NSPubSubErrors {
			gotApp = c
		}
	}
	switch {
	case app == "" && gotApp != nil:
		t.Fatalf("unexpected pubsub error <%s/>: %s", gotApp.Name.Local, st.Raw)
	case app != "" && (gotApp == nil || gotApp.Name.Local != app):
		t.Fatalf("want pubsub error <%s/>: %s", app, st.Raw)
	}
	return e
}

// event waits for a notification from the service whose <event/> child
// satisfies match.
func (u *user) event(what string, match func(ev *xmlstream.Element) bool) *xmlstream.Element {
	u.t.Helper()
	st := u.expect(what, u.isEvent(match))
	return parse(u.t, st)
}

func (u *user) noEvent(what string, match func(ev *xmlstream.Element) bool) {
	u.t.Helper()
	u.nothing(what, u.isEvent(match))
}

func (u *user) isEvent(match func(ev *xmlstream.Element) bool) func(*xmlstream.Stanza) bool {
	return func(st *xmlstream.Stanza) bool {
		if st.Name.Local != xmlstream.KindMessage || st.From() != u.svc {
			return false
		}
		el, err := st.Element()
		if err != nil {
			return false
		}
		ev := el.Child(pubsub.NSPubSubEvent, "event")
		return ev != nil && match(ev)
	}
}

func parse(t *testing.T, st *xmlstream.Stanza) *xmlstream.Element {
	t.Helper()
	el, err := st.Element()
	if err != nil {
		t.Fatalf("unparsable %s: %v", st.Raw, err)
	}
	return el
}

// ps and owner wrap requests in <pubsub/> of the two namespaces.
func ps(body string) string {
	return "<pubsub xmlns='http://jabber.org/protocol/pubsub'>" + body + "</pubsub>"
}

func owner(body string) string {
	return "<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'>" + body + "</pubsub>"
}

// form is a submitted data form of formType with fields as var, value pairs.
func form(formType string, pairs ...string) string {
	var b strings.Builder
	b.WriteString("<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>" + formType + "</value></field>")
	for i := 0; i+1 < len(pairs); i += 2 {
		b.WriteString("<field var='" + pairs[i] + "'><value>" + pairs[i+1] + "</value></field>")
	}
	b.WriteString("</x>")
	return b.String()
}

func nodeConfig(pairs ...string) string {
	return form("http://jabber.org/protocol/pubsub#node_config", pairs...)
}

func entry(title string) string {
	return "<entry xmlns='" + nsAtom + "'><title>" + title + "</title></entry>"
}

// publish publishes one item and returns its id.
func (u *user) publish(node, id, payload string) string {
	u.t.Helper()
	item := "<item>" + payload + "</item>"
	if id != "" {
		item = "<item id='" + id + "'>" + payload + "</item>"
	}
	res := u.ok("set", ps("<publish node='"+node+"'>"+item+"</publish>"))
	got := res.Child(pubsub.NSPubSub, "pubsub").Child(pubsub.NSPubSub, "publish").Child(pubsub.NSPubSub, "item").Attr("id")
	if got == "" || (id != "" && got != id) {
		u.t.Fatalf("publish result names item %q, want %q", got, id)
	}
	return got
}

func (u *user) create(node string, configPairs ...string) {
	u.t.Helper()
	body := "<create node='" + node + "'/>"
	if len(configPairs) > 0 {
		body += "<configure>" + nodeConfig(configPairs...) + "</configure>"
	}
	u.ok("set", ps(body))
}

// subscribe subscribes jid and returns the <subscription/> answered.
func (u *user) subscribe(node, jid string) *xmlstream.Element {
	u.t.Helper()
	res := u.ok("set", ps("<subscribe node='"+node+"' jid='"+jid+"'/>"))
	s := res.Child(pubsub.NSPubSub, "pubsub").Child(pubsub.NSPubSub, "subscription")
	if s == nil || s.Attr("node") != node || s.Attr("jid") != jid {
		u.t.Fatalf("subscribe result: %s", res.String())
	}
	return s
}

// itemEvent matches an items notification for node naming item id.
func itemEvent(node, id string) func(*xmlstream.Element) bool {
	return func(ev *xmlstream.Element) bool {
		items := ev.Child(pubsub.NSPubSubEvent, "items")
		if items == nil || items.Attr("node") != node {
			return false
		}
		for _, it := range items.ChildrenNamed(pubsub.NSPubSubEvent, "item") {
			if it.Attr("id") == id {
				return true
			}
		}
		return false
	}
}

func eventItem(msg *xmlstream.Element) *xmlstream.Element {
	return msg.Child(pubsub.NSPubSubEvent, "event").Child(pubsub.NSPubSubEvent, "items").Child(pubsub.NSPubSubEvent, "item")
}

// itemIDs lists the ids of <items/> in an items result.
func itemIDs(res *xmlstream.Element) []string {
	var ids []string
	items := res.Child(pubsub.NSPubSub, "pubsub").Child(pubsub.NSPubSub, "items")
	for _, it := range items.ChildrenNamed(pubsub.NSPubSub, "item") {
		ids = append(ids, it.Attr("id"))
	}
	return ids
}

// formValues reads the fields of a data form by var.
func formValues(x *xmlstream.Element) map[string][]string {
	out := map[string][]string{}
	if x == nil {
		return out
	}
	for _, f := range x.ChildrenNamed(nsData, "field") {
		vals := []string{}
		for _, v := range f.ChildrenNamed(nsData, "value") {
			vals = append(vals, v.Text())
		}
		out[f.Attr("var")] = vals
	}
	return out
}

func TestIntegrationDiscovery(t *testing.T) {
	e := startEnv(t, nil)
	ann := e.user("ann")

	// The server lists the service (XEP-0030 on the server's domain).
	items := ann.iqTo(e.ts.Domain, "get", "<query xmlns='http://jabber.org/protocol/disco#items'/>")
	if !strings.Contains(string(items.Raw), "jid='"+e.svc+"'") {
		t.Fatalf("server disco#items lacks %s: %s", e.svc, items.Raw)
	}
	// §5.1: identity pubsub/service and the features offered.
	info := ann.ok("get", "<query xmlns='http://jabber.org/protocol/disco#info'/>")
	q := info.Child("http://jabber.org/protocol/disco#info", "query")
	id := q.Child("", "identity")
	if id == nil || id.Attr("category") != "pubsub" || id.Attr("type") != "service" {
		t.Fatalf("service identity: %s", info.String())
	}
	features := map[string]bool{}
	for _, f := range q.ChildrenNamed("", "feature") {
		features[f.Attr("var")] = true
	}
	for _, f := range []string{"http://jabber.org/protocol/pubsub", "http://jabber.org/protocol/pubsub#publish",
		"http://jabber.org/protocol/pubsub#subscribe", "http://jabber.org/protocol/pubsub#create-nodes",
		"http://jabber.org/protocol/pubsub#meta-data", "http://jabber.org/protocol/pubsub#rsm", nsRSM} {
		if !features[f] {
			t.Errorf("feature %s missing", f)
		}
	}
	if features["http://jabber.org/protocol/pubsub#collections"] {
		t.Error("collections advertised but not offered")
	}
	// Ping answers (XEP-0199).
	ann.ok("get", "<ping xmlns='urn:xmpp:ping'/>")

	// Nodes (§5.2), paged with XEP-0059.
	for i := range 5 {
		ann.create(fmt.Sprintf("node%d", i), "pubsub#title", fmt.Sprintf("Node %d", i))
	}
	page := ann.ok("get", "<query xmlns='http://jabber.org/protocol/disco#items'><set xmlns='"+nsRSM+"'><max>2</max></set></query>")
	pq := page.Child("http://jabber.org/protocol/disco#items", "query")
	names := func(q *xmlstream.Element) (out []string) {
		for _, it := range q.ChildrenNamed("", "item") {
			if it.Attr("jid") != e.svc {
				t.Fatalf("node item jid %q", it.Attr("jid"))
			}
			out = append(out, it.Attr("node"))
		}
		return out
	}
	if got := names(pq); strings.Join(got, ",") != "node0,node1" {
		t.Fatalf("first page %v: %s", got, page.String())
	}
	set := pq.Child(nsRSM, "set")
	if set.ChildText(nsRSM, "count") != "5" || set.ChildText(nsRSM, "last") != "node1" {
		t.Fatalf("first page set: %s", page.String())
	}
	page = ann.ok("get", "<query xmlns='http://jabber.org/protocol/disco#items'><set xmlns='"+nsRSM+"'><max>2</max><after>node1</after></set></query>")
	if got := names(page.Child("http://jabber.org/protocol/disco#items", "query")); strings.Join(got, ",") != "node2,node3" {
		t.Fatalf("second page %v", got)
	}
	page = ann.ok("get", "<query xmlns='http://jabber.org/protocol/disco#items'><set xmlns='"+nsRSM+"'><max>2</max><before/></set></query>")
	if got := names(page.Child("http://jabber.org/protocol/disco#items", "query")); strings.Join(got, ",") != "node3,node4" {
		t.Fatalf("last page %v", got)
	}

	// Node information with meta-data (§5.3, §5.4).
	ni := ann.ok("get", "<query xmlns='http://jabber.org/protocol/disco#info' node='node1'/>")
	nq := ni.Child("http://jabber.org/protocol/disco#info", "query")
	if nq.Attr("node") != "node1" || nq.Child("", "identity").Attr("type") != "leaf" {
		t.Fatalf("node info: %s", ni.String())
	}
	meta := formValues(nq.Child(nsData, "x"))
	if meta["FORM_TYPE"][0] != "http://jabber.org/protocol/pubsub#meta-data" || meta["pubsub#title"][0] != "Node 1" ||
		meta["pubsub#creator"][0] != ann.bare || len(meta["pubsub#creation_date"]) != 1 || meta["pubsub#owner"][0] != ann.bare {
		t.Fatalf("meta-data: %v", meta)
	}
	ann.fails("get", "<query xmlns='http://jabber.org/protocol/disco#info' node='nope'/>", "cancel", "item-not-found", "")

	// A node's items as disco items named by item id (§5.5).
	ann.publish("node1", "first", entry("one"))
	ann.publish("node1", "second", entry("two"))
	di := ann.ok("get", "<query xmlns='http://jabber.org/protocol/disco#items' node='node1'/>")
	var got []string
	for _, it := range di.Child("http://jabber.org/protocol/disco#items", "query").ChildrenNamed("", "item") {
		if it.Attr("node") != "" || it.Attr("jid") != e.svc {
			t.Fatalf("item entry: %s", di.String())
		}
		got = append(got, it.Attr("name"))
	}
	if strings.Join(got, ",") != "second,first" {
		t.Fatalf("node items %v", got)
	}

	// Nothing else lives at the service.
	ann.fails("get", "<query xmlns='jabber:iq:version'/>", "cancel", "service-unavailable", "")
	ann.send("<iq type='get' id='res1' to='" + e.svc + "/x'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	checkError(t, ann.expect("error", func(st *xmlstream.Stanza) bool { return st.ID() == "res1" }), "cancel", "service-unavailable", "")
	ann.send("<message to='" + e.svc + "' id='m1'><body>hello?</body></message>")
	checkError(t, ann.expect("error", func(st *xmlstream.Stanza) bool { return st.ID() == "m1" }), "cancel", "service-unavailable", "")
	ann.send("<presence to='" + e.svc + "'/>")
	ann.nothing("an answer to presence", func(st *xmlstream.Stanza) bool { return st.From() == e.svc })
}

func TestIntegrationPublishSubscribe(t *testing.T) {
	e := startEnv(t, nil)
	ann, ben, cat := e.user("ann"), e.user("ben"), e.user("cat")
	ann.create("princely_musings")

	// §6.1: subscribe the bare JID.
	sub := ben.subscribe("princely_musings", ben.bare)
	if sub.Attr("subscription") != "subscribed" {
		t.Fatalf("subscription: %s", sub.String())
	}
	// §6.1.3.1: another entity's JID.
	cat.fails("set", ps("<subscribe node='princely_musings' jid='"+ben.bare+"'/>"), "modify", "bad-request", "invalid-jid")
	cat.fails("set", ps("<subscribe node='princely_musings'/>"), "modify", "bad-request", "jid-required")
	cat.fails("set", ps("<subscribe node='princely_musings' jid='@@'/>"), "modify", "bad-request", "invalid-jid")
	cat.fails("set", ps("<subscribe node='nope' jid='"+cat.bare+"'/>"), "cancel", "item-not-found", "")

	// §7.1: publish with an id; the subscriber gets the payload.
	ann.publish("princely_musings", "ae890ac52d0df67ed7cfdf51b644e901", entry("Soliloquy"))
	msg := ben.event("notification", itemEvent("princely_musings", "ae890ac52d0df67ed7cfdf51b644e901"))
	if msg.Attr("type") != "headline" || eventItem(msg).Child(nsAtom, "entry").ChildText(nsAtom, "title") != "Soliloquy" {
		t.Fatalf("notification: %s", msg.String())
	}
	cat.noEvent("notification to a non-subscriber", itemEvent("princely_musings", "ae890ac52d0df67ed7cfdf51b644e901"))

	// Without an id the service makes one and says which (§7.1.2).
	generated := ann.publish("princely_musings", "", entry("Untitled"))
	ben.event("notification of the generated id", itemEvent("princely_musings", generated))

	// Notifications without payloads (§7.1.2.2).
	ann.ok("set", owner("<configure node='princely_musings'>"+nodeConfig("pubsub#deliver_payloads", "0")+"</configure>"))
	ann.publish("princely_musings", "light", entry("Light"))
	msg = ben.event("notification without payload", itemEvent("princely_musings", "light"))
	if len(eventItem(msg).Elements()) != 0 {
		t.Fatalf("payload delivered: %s", msg.String())
	}

	// Publish errors (§7.1.3).
	cat.fails("set", ps("<publish node='princely_musings'><item>"+entry("x")+"</item></publish>"), "auth", "forbidden", "")
	ann.fails("set", ps("<publish node='princely_musings'><item>"+entry("a")+entry("b")+"</item></publish>"), "modify", "bad-request", "invalid-payload")
	ann.fails("set", ps("<publish node='princely_musings'><item id='1'/><item id='2'/></publish>"), "modify", "bad-request", "")
	ann.fails("set", ps("<publish><item>"+entry("x")+"</item></publish>"), "modify", "bad-request", "nodeid-required")
	ann.fails("set", ps("<publish node='princely_musings'><item>"+entry("x")+"</item></publish><subscribe node='princely_musings' jid='"+ann.bare+"'/>"),
		"modify", "bad-request", "")
	ann.fails("get", ps("<publish node='princely_musings'><item>"+entry("x")+"</item></publish>"), "modify", "bad-request", "")

	// Publish-options preconditions (§7.1.5).
	opts := func(access string) string {
		return "<publish-options>" + form("http://jabber.org/protocol/pubsub#publish-options", "pubsub#access_model", access) + "</publish-options>"
	}
	ann.fails("set", ps("<publish node='princely_musings'><item id='p'>"+entry("p")+"</item></publish>"+opts("whitelist")),
		"cancel", "conflict", "precondition-not-met")
	ann.ok("set", ps("<publish node='princely_musings'><item id='p'>"+entry("p")+"</item></publish>"+opts("open")))
	ben.event("notification after a met precondition", itemEvent("princely_musings", "p"))

	// §7.2: retract with notification.
	ann.ok("set", ps("<retract node='princely_musings' notify='true'><item id='light'/></retract>"))
	ben.event("retraction", func(ev *xmlstream.Element) bool {
		r := ev.Child(pubsub.NSPubSubEvent, "items").Child(pubsub.NSPubSubEvent, "retract")
		return r != nil && r.Attr("id") == "light"
	})
	ann.fails("set", ps("<retract node='princely_musings'/>"), "modify", "bad-request", "item-required")
	ann.fails("set", ps("<retract node='princely_musings'><item/></retract>"), "modify", "bad-request", "item-required")
	ann.fails("set", ps("<retract><item id='p'/></retract>"), "modify", "bad-request", "nodeid-required")
	ann.fails("set", ps("<retract node='princely_musings'><item id='nope'/></retract>"), "cancel", "item-not-found", "")
	cat.fails("set", ps("<retract node='princely_musings'><item id='p'/></retract>"), "auth", "forbidden", "")

	// §6.2: unsubscribe, and the errors.
	res := ben.ok("set", ps("<unsubscribe node='princely_musings' jid='"+ben.bare+"'/>"))
	if s := res.Child(pubsub.NSPubSub, "pubsub").Child(pubsub.NSPubSub, "subscription"); s == nil || s.Attr("subscription") != "none" {
		t.Fatalf("unsubscribe result: %s", res.String())
	}
	ben.fails("set", ps("<unsubscribe node='princely_musings' jid='"+ben.bare+"'/>"), "cancel", "unexpected-request", "not-subscribed")
	ben.fails("set", ps("<unsubscribe node='princely_musings'/>"), "modify", "bad-request", "jid-required")
	cat.fails("set", ps("<unsubscribe node='princely_musings' jid='"+ann.bare+"'/>"), "auth", "forbidden", "")
	ben.fails("set", ps("<unsubscribe node='nope' jid='"+ben.bare+"'/>"), "cancel", "item-not-found", "")
	ann.publish("princely_musings", "after", entry("After"))
	ben.noEvent("notification after unsubscribing", itemEvent("princely_musings", "after"))

	// Two verbs, unknown verbs, empty requests: bad-request.
	ben.fails("get", ps("<items node='princely_musings'/><subscriptions/>"), "modify", "bad-request", "")
	ben.fails("get", ps(""), "modify", "bad-request", "")
	ben.fails("get", owner("<purge node='princely_musings'/><delete node='princely_musings'/>"), "modify", "bad-request", "")
}

func TestIntegrationItemsRSM(t *testing.T) {
	e := startEnv(t, nil)
	ann, ben := e.user("ann"), e.user("ben")
	ann.create("feed", "pubsub#max_items", "50")
	for i := range 7 {
		ann.publish("feed", fmt.Sprintf("i%d", i), entry(fmt.Sprintf("entry %d", i)))
	}

	// All items (§6.5.2), newest first, payloads included.
	res := ben.ok("get", ps("<items node='feed'/>"))
	if got := strings.Join(itemIDs(res), ","); got != "i6,i5,i4,i3,i2,i1,i0" {
		t.Fatalf("all items: %s", got)
	}
	first := res.Child(pubsub.NSPubSub, "pubsub").Child(pubsub.NSPubSub, "items").Child(pubsub.NSPubSub, "item")
	if first.Child(nsAtom, "entry").ChildText(nsAtom, "title") != "entry 6" || first.Attr("publisher") != ann.bare {
		t.Fatalf("item: %s", first.String())
	}
	// The newest N (§6.5.7), by id (§6.5.8, several ids).
	if got := strings.Join(itemIDs(ben.ok("get", ps("<items node='feed' max_items='2'/>"))), ","); got != "i6,i5" {
		t.Fatalf("max_items=2: %s", got)
	}
	ids := itemIDs(ben.ok("get", ps("<items node='feed'><item id='i1'/><item id='i4'/></items>")))
	if len(ids) != 2 || !strings.Contains(strings.Join(ids, ","), "i1") || !strings.Contains(strings.Join(ids, ","), "i4") {
		t.Fatalf("by id: %v", ids)
	}
	if ids := itemIDs(ben.ok("get", ps("<items node='feed'><item id='gone'/></items>"))); len(ids) != 0 {
		t.Fatalf("missing id returned %v", ids)
	}

	// XEP-0059 pages: forward, then the last page.
	rsm := func(inner string) *xmlstream.Element {
		return ben.ok("get", ps("<items node='feed'/><set xmlns='"+nsRSM+"'>"+inner+"</set>"))
	}
	setOf := func(res *xmlstream.Element) *xmlstream.Element {
		return res.Child(pubsub.NSPubSub, "pubsub").Child(nsRSM, "set")
	}
	p1 := rsm("<max>3</max>")
	if got := strings.Join(itemIDs(p1), ","); got != "i6,i5,i4" {
		t.Fatalf("page 1: %s", got)
	}
	s := setOf(p1)
	if s.ChildText(nsRSM, "count") != "7" || s.ChildText(nsRSM, "first") != "i6" || s.Child(nsRSM, "first").Attr("index") != "0" || s.ChildText(nsRSM, "last") != "i4" {
		t.Fatalf("page 1 set: %s", s.String())
	}
	p2 := rsm("<max>3</max><after>i4</after>")
	if got := strings.Join(itemIDs(p2), ","); got != "i3,i2,i1" {
		t.Fatalf("page 2: %s", got)
	}
	if idx := setOf(p2).Child(nsRSM, "first").Attr("index"); idx != "3" {
		t.Fatalf("page 2 first index %s", idx)
	}
	last := rsm("<max>3</max><before/>")
	if got := strings.Join(itemIDs(last), ","); got != "i2,i1,i0" {
		t.Fatalf("last page: %s", got)
	}
	if got := strings.Join(itemIDs(rsm("<max>2</max><before>i4</before>")), ","); got != "i6,i5" {
		t.Fatalf("page before i4: %s", got)
	}
	ben.fails("get", ps("<items node='feed'/><set xmlns='"+nsRSM+"'><max>x</max></set>"), "modify", "bad-request", "")

	// Errors (§6.5.9).
	ben.fails("get", ps("<items/>"), "modify", "bad-request", "nodeid-required")
	ben.fails("get", ps("<items node='nope'/>"), "cancel", "item-not-found", "")
	ben.fails("get", ps("<items node='feed' max_items='0'/>"), "modify", "bad-request", "")
	ann.create("closed", "pubsub#access_model", "whitelist")
	ann.publish("closed", "secret", entry("secret"))
	ben.fails("get", ps("<items node='closed'/>"), "cancel", "not-allowed", "closed-node")
	ann.create("by-approval", "pubsub#access_model", "authorize")
	ben.fails("get", ps("<items node='by-approval'/>"), "auth", "not-authorized", "not-subscribed")
	ann.create("friends", "pubsub#access_model", "roster", "pubsub#roster_groups_allowed", "Friends")
	ben.fails("get", ps("<items node='friends'/>"), "auth", "not-authorized", "not-in-roster-group")
	ann.create("contacts", "pubsub#access_model", "presence")
	ben.fails("get", ps("<items node='contacts'/>"), "auth", "not-authorized", "presence-subscription-required")
	// The owner always may.
	if got := itemIDs(ann.ok("get", ps("<items node='closed'/>"))); len(got) != 1 {
		t.Fatalf("owner's retrieval: %v", got)
	}
}

// shutdown stops a test server now (its cleanup then does nothing).
func shutdown(t *testing.T, ts *testserver.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := ts.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}
