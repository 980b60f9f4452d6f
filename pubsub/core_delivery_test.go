package pubsub

// Recipients (§12.2, §12.6, §12.7), show-values, access rechecks at
// delivery, on_sub_and_presence, and PEP (XEP-0163): auto-create,
// publish-options, implicit recipients, node limit.

import (
	"slices"
	"strings"
	"testing"

	"mellium.im/xmpp/jid"
)

// publishTo publishes on node and returns the recipients of the items event.
func (e *coreEnv) publishTo(node string) []string {
	e.t.Helper()
	e.rec.take()
	e.publish("juliet@example.com", node, "", "x")
	evs := eventsOf(e.rec.take(), EventItems)
	if len(evs) > 1 {
		e.t.Fatalf("%d item events", len(evs))
	}
	if len(evs) == 0 {
		return nil
	}
	return recipientAddrs(evs[0].to)
}

func TestRecipientsGroupSubIDs(t *testing.T) {
	e := newCoreEnv(t, nil)
	e.createNode("juliet@example.com", "n", nil)
	romeo := jidOf("romeo@example.com")
	a, err := e.svc.Subscribe(bgCtx, coreHost, romeo, "n", romeo, nil)
	mustOK(t, err)
	b, err := e.svc.Subscribe(bgCtx, coreHost, romeo, "n", romeo, map[string][]string{"pubsub#include_body": {"1"}})
	mustOK(t, err)
	_, err = e.svc.Subscribe(bgCtx, coreHost, jidOf("benvolio@example.com"), "n", jidOf("benvolio@example.com"), nil)
	mustOK(t, err)
	ids := []string{a.SubID, b.SubID}
	slices.Sort(ids)
	want := []string{"benvolio@example.com", "romeo@example.com[" + ids[0] + "," + ids[1] + "]"}
	if got := e.publishTo("n"); !slices.Equal(got, want) {
		t.Fatalf("recipients = %v, want %v", got, want)
	}
	// The cache follows subscription changes.
	mustOK(t, e.svc.Unsubscribe(bgCtx, coreHost, romeo, "n", romeo, a.SubID))
	if got := e.publishTo("n"); !slices.Equal(got, []string{"benvolio@example.com", "romeo@example.com"}) {
		t.Fatalf("recipients after unsubscribe = %v", got)
	}
}

func TestPresenceBasedDelivery(t *testing.T) {
	e := newCoreEnv(t, nil)
	e.createNode("juliet@example.com", "n", func(c *Config) { c.PresenceBasedDelivery = true })
	for _, who := range []string{"romeo@example.com", "benvolio@example.com", "mercutio@example.com/phone"} {
		_, err := e.svc.Subscribe(bgCtx, coreHost, jidOf(who), "n", jidOf(who), nil)
		mustOK(t, err)
	}
	if got := e.publishTo("n"); len(got) != 0 {
		t.Fatalf("nobody online, recipients = %v", got)
	}
	e.rel.online("romeo@example.com/phone", "romeo@example.com/laptop", "mercutio@example.com/phone", "mercutio@example.com/desk")
	want := []string{"mercutio@example.com/phone", "romeo@example.com/laptop", "romeo@example.com/phone"}
	if got := e.publishTo("n"); !slices.Equal(got, want) {
		t.Fatalf("recipients = %v, want %v", got, want)
	}
	e.rel.offline("romeo@example.com/laptop")
	if got := e.publishTo("n"); !slices.Equal(got, []string{"mercutio@example.com/phone", "romeo@example.com/phone"}) {
		t.Fatalf("recipients = %v", got)
	}
}

func TestShowValuesFilter(t *testing.T) {
	e := newCoreEnv(t, nil)
	e.createNode("juliet@example.com", "n", nil)
	romeo := jidOf("romeo@example.com")
	_, err := e.svc.Subscribe(bgCtx, coreHost, romeo, "n", romeo, map[string][]string{"pubsub#show-values": {"chat", "online"}})
	mustOK(t, err)
	_, err = e.svc.Subscribe(bgCtx, coreHost, jidOf("benvolio@example.com"), "n", jidOf("benvolio@example.com"), nil)
	mustOK(t, err)
	phone := jidOf("romeo@example.com/phone")
	e.rel.online("romeo@example.com/phone")
	e.svc.Available(bgCtx, phone, "away")
	if got := e.publishTo("n"); !slices.Equal(got, []string{"benvolio@example.com"}) {
		t.Fatalf("away: recipients = %v", got)
	}
	e.svc.Available(bgCtx, phone, "chat")
	if got := e.publishTo("n"); !slices.Equal(got, []string{"benvolio@example.com", "romeo@example.com"}) {
		t.Fatalf("chat: recipients = %v", got)
	}
	// With presence-based delivery the show picks sessions.
	e.createNode("juliet@example.com", "p", func(c *Config) { c.PresenceBasedDelivery = true })
	_, err = e.svc.Subscribe(bgCtx, coreHost, romeo, "p", romeo, map[string][]string{"pubsub#show-values": {"dnd"}})
	mustOK(t, err)
	e.rel.online("romeo@example.com/desk")
	e.svc.Available(bgCtx, jidOf("romeo@example.com/desk"), "dnd")
	if got := e.publishTo("p"); !slices.Equal(got, []string{"romeo@example.com/desk"}) {
		t.Fatalf("dnd: recipients = %v", got)
	}
}

// A JID with a show-filtered subscription and an unfiltered one gets
// notifications through the unfiltered one whatever its presence.
func TestShowFilteredBesideUnfiltered(t *testing.T) {
	e := newCoreEnv(t, nil)
	// No last item on presence: Available must not add events of its own.
	e.createNode("juliet@example.com", "n", func(c *Config) { c.SendLastPublishedItem = SendLastNever })
	romeo := jidOf("romeo@example.com")
	_, err := e.svc.Subscribe(bgCtx, coreHost, romeo, "n", romeo, map[string][]string{"pubsub#show-values": {"chat"}})
	mustOK(t, err)
	_, err = e.svc.Subscribe(bgCtx, coreHost, romeo, "n", romeo, map[string][]string{"pubsub#include_body": {"1"}})
	mustOK(t, err)
	// One delivery, for the unfiltered subscription only (its SubID).
	one := func(got []string) bool {
		return len(got) == 1 && strings.HasPrefix(got[0], "romeo@example.com[") && !strings.Contains(got[0], ",")
	}
	if got := e.publishTo("n"); !one(got) {
		t.Fatalf("offline: recipients = %v", got)
	}
	e.rel.online("romeo@example.com/phone")
	e.svc.Available(bgCtx, jidOf("romeo@example.com/phone"), "away")
	if got := e.publishTo("n"); !one(got) {
		t.Fatalf("away: recipients = %v", got)
	}
	e.svc.Available(bgCtx, jidOf("romeo@example.com/phone"), "chat")
	if got := e.publishTo("n"); len(got) != 1 || !strings.Contains(got[0], ",") {
		t.Fatalf("chat: both subscriptions expected: %v", got)
	}
}

func TestDeliveryRechecksAccess(t *testing.T) {
	e := newCoreEnv(t, nil)
	e.createNode("juliet@example.com", "presence", func(c *Config) { c.AccessModel = AccessPresence })
	e.createNode("juliet@example.com", "white", func(c *Config) { c.AccessModel = AccessWhitelist })
	e.rel.set("juliet@example.com", "nurse@example.com", "both")
	nurse := jidOf("nurse@example.com")
	_, err := e.svc.Subscribe(bgCtx, coreHost, nurse, "presence", nurse, nil)
	mustOK(t, err)
	if got := e.publishTo("presence"); !slices.Equal(got, []string{"nurse@example.com"}) {
		t.Fatalf("recipients = %v", got)
	}
	e.rel.set("juliet@example.com", "nurse@example.com", "none")
	if got := e.publishTo("presence"); len(got) != 0 {
		t.Fatalf("after the presence subscription ended: %v", got)
	}
	mustOK(t, coreSetAff(e, "white", "nurse@example.com", AffMember))
	_, err = e.svc.Subscribe(bgCtx, coreHost, nurse, "white", nurse, nil)
	mustOK(t, err)
	if got := e.publishTo("white"); !slices.Equal(got, []string{"nurse@example.com"}) {
		t.Fatalf("whitelist recipients = %v", got)
	}
	mustOK(t, coreSetAff(e, "white", "nurse@example.com", AffNone))
	if got := e.publishTo("white"); len(got) != 0 {
		t.Fatalf("off the whitelist: %v", got)
	}
}

func TestLastItemOnPresence(t *testing.T) {
	e := newCoreEnv(t, nil)
	e.createNode("juliet@example.com", "n", nil) // on_sub_and_presence by default
	e.createNode("juliet@example.com", "quiet", func(c *Config) { c.SendLastPublishedItem = SendLastOnSub })
	romeo := jidOf("romeo@example.com")
	for _, n := range []string{"n", "quiet"} {
		_, err := e.svc.Subscribe(bgCtx, coreHost, romeo, n, romeo, nil)
		mustOK(t, err)
		e.publish("juliet@example.com", n, "last", "x")
	}
	e.rec.take()
	phone := jidOf("romeo@example.com/phone")
	e.svc.Available(bgCtx, phone, "")
	// Barrier: requests to the node run after the posted presence one.
	_, err := e.svc.Subscriptions(bgCtx, coreHost, romeo, "n")
	mustOK(t, err)
	evs := eventsOf(e.rec.take(), EventItems)
	if len(evs) != 1 || !evs[0].ev.Delayed || evs[0].ev.Node != "n" || !slices.Equal(recipientAddrs(evs[0].to), []string{"romeo@example.com/phone"}) {
		t.Fatalf("presence events = %+v", evs)
	}
	// A show change of a known session is not a new presence.
	e.svc.Available(bgCtx, phone, "away")
	_, err = e.svc.Subscriptions(bgCtx, coreHost, romeo, "n")
	mustOK(t, err)
	if evs := e.rec.take(); len(evs) != 0 {
		t.Fatalf("show change sent %+v", evs)
	}
}

func newPEPEnv(t *testing.T, mutate func(*Options)) *coreEnv {
	return newCoreEnv(t, func(o *Options) {
		o.PEP, o.Host, o.Admins = true, "", nil
		if mutate != nil {
			mutate(o)
		}
	})
}

const julietHost = "juliet@example.com"

func TestPEPAutoCreateAndOwnership(t *testing.T) {
	e := newPEPEnv(t, nil)
	ids, err := e.svc.Publish(bgCtx, julietHost, jidOf("juliet@example.com/balcony"), "urn:xmpp:avatar:metadata",
		[]Item{{ID: "abc", Payload: atomPayload("urn:xmpp:avatar:metadata", "x")}}, nil)
	mustOK(t, err)
	if !slices.Equal(ids, []string{"abc"}) {
		t.Fatalf("ids = %v", ids)
	}
	cfg, err := e.svc.NodeConfig(bgCtx, julietHost, jidOf("juliet@example.com"), "urn:xmpp:avatar:metadata")
	mustOK(t, err)
	if cfg.AccessModel != AccessPresence || cfg.MaxItems != 1 {
		t.Fatalf("config = %+v", cfg)
	}
	affs, err := e.svc.NodeAffiliations(bgCtx, julietHost, jidOf("juliet@example.com"), "urn:xmpp:avatar:metadata")
	mustOK(t, err)
	if got := affList(affs); !slices.Equal(got, []string{"juliet@example.com=owner"}) {
		t.Fatalf("affiliations = %v", got)
	}
	mine, err := e.svc.Affiliations(bgCtx, julietHost, jidOf("juliet@example.com/x"), "")
	mustOK(t, err)
	if len(mine) != 1 || mine[0].Node != "urn:xmpp:avatar:metadata" || mine[0].Affiliation != AffOwner {
		t.Fatalf("own affiliations = %+v", mine)
	}
	// Others may neither create nor publish on juliet's PEP service.
	_, err = e.svc.Publish(bgCtx, julietHost, jidOf("romeo@example.com"), "urn:xmpp:avatar:metadata",
		[]Item{{Payload: atomPayload("urn:xmpp:avatar:metadata", "x")}}, nil)
	wantCoreErr(t, err, "forbidden", "auth", "")
	_, err = e.svc.Publish(bgCtx, julietHost, jidOf("romeo@example.com"), "new", []Item{{Payload: atomPayload(coreNSAtom, "x")}}, nil)
	wantCoreErr(t, err, "item-not-found", "cancel", "")
	_, err = e.svc.Create(bgCtx, julietHost, jidOf("romeo@example.com"), "new", nil)
	wantCoreErr(t, err, "forbidden", "auth", "")
	// The account cannot lose its ownership.
	failed, err := e.svc.ModifyAffiliations(bgCtx, julietHost, jidOf("juliet@example.com"), "urn:xmpp:avatar:metadata",
		[]Affiliate{{JID: jidOf("juliet@example.com"), Affiliation: AffNone}})
	mustOK(t, err)
	if len(failed) != 1 {
		t.Fatalf("failed = %+v", failed)
	}
	// A host that is not a bare JID is no host.
	_, err = e.svc.Items(bgCtx, "example.com", jidOf("juliet@example.com"), "x", ItemQuery{})
	wantCoreErr(t, err, "item-not-found", "cancel", "")
}

func TestPEPPublishOptions(t *testing.T) {
	e := newPEPEnv(t, nil)
	node := "urn:xmpp:bookmarks:1"
	pub := func(fields map[string][]string) error {
		_, err := e.svc.Publish(bgCtx, julietHost, jidOf("juliet@example.com/balcony"), node,
			[]Item{{ID: "room@conference.example.com", Payload: atomPayload(node, "x")}}, &PublishOptions{Fields: fields})
		return err
	}
	opts := map[string][]string{"pubsub#persist_items": {"true"}, "pubsub#access_model": {"whitelist"}, "pubsub#max_items": {"max"}}
	mustOK(t, pub(opts))
	cfg, err := e.svc.NodeConfig(bgCtx, julietHost, jidOf("juliet@example.com"), node)
	mustOK(t, err)
	if cfg.AccessModel != AccessWhitelist || cfg.MaxItems != MaxItemsMax {
		t.Fatalf("auto-created config = %+v", cfg)
	}
	mustOK(t, pub(opts))
	wantCoreErr(t, pub(map[string][]string{"pubsub#access_model": {"presence"}}), "conflict", "cancel", "precondition-not-met")
	wantCoreErr(t, pub(map[string][]string{"pubsub#max_items": {"1"}}), "conflict", "cancel", "precondition-not-met")
	// Invalid values on auto-create are refused.
	_, err = e.svc.Publish(bgCtx, julietHost, jidOf("juliet@example.com"), "other",
		[]Item{{Payload: atomPayload(node, "x")}}, &PublishOptions{Fields: map[string][]string{"pubsub#access_model": {"bogus"}}})
	wantCoreErr(t, err, "not-acceptable", "modify", "")
}

func TestPEPMaxNodes(t *testing.T) {
	e := newPEPEnv(t, func(o *Options) { o.MaxNodesPerHost = 2 })
	e.publish("juliet@example.com", "a", "", "x")
	e.publish("juliet@example.com", "b", "", "x")
	_, err := e.svc.Publish(bgCtx, julietHost, jidOf("juliet@example.com"), "c", []Item{{Payload: atomPayload(coreNSAtom, "x")}}, nil)
	wantCoreErr(t, err, "not-allowed", "cancel", "max-nodes-exceeded")
	_, err = e.svc.Create(bgCtx, julietHost, jidOf("juliet@example.com"), "c", nil)
	wantCoreErr(t, err, "not-allowed", "cancel", "max-nodes-exceeded")
	mustOK(t, e.svc.Delete(bgCtx, julietHost, jidOf("juliet@example.com"), "a", ""))
	e.publish("juliet@example.com", "c", "", "x")
}

func TestPEPInterestRecipients(t *testing.T) {
	node := "http://jabber.org/protocol/tune"
	in := &fakeInterest{who: map[string][]jid.JID{julietHost + "|" + node: {
		jidOf("romeo@example.com/phone"), jidOf("mallory@evil.example/x"), jidOf("juliet@example.com/balcony"),
		jidOf("nurse@example.com/kitchen"), jidOf("romeo@example.com/phone"),
	}}}
	e := newPEPEnv(t, func(o *Options) { o.Interest = in })
	e.rel.set("juliet@example.com", "romeo@example.com", "both")
	e.rel.set("juliet@example.com", "nurse@example.com", "from")
	e.publish("juliet@example.com", node, "", "x") // auto-create
	want := []string{"juliet@example.com/balcony", "nurse@example.com/kitchen", "romeo@example.com/phone"}
	if got := e.publishTo(node); !slices.Equal(got, want) {
		t.Fatalf("recipients = %v, want %v", got, want)
	}
	// An explicit bare subscription covers the interested session.
	_, err := e.svc.Subscribe(bgCtx, julietHost, jidOf("nurse@example.com"), node, jidOf("nurse@example.com"), nil)
	mustOK(t, err)
	want = []string{"juliet@example.com/balcony", "nurse@example.com", "romeo@example.com/phone"}
	if got := e.publishTo(node); !slices.Equal(got, want) {
		t.Fatalf("recipients = %v, want %v", got, want)
	}
	// SendLast honours the access model.
	e.rec.take()
	e.svc.SendLast(bgCtx, julietHost, node, jidOf("romeo@example.com/phone"))
	e.svc.SendLast(bgCtx, julietHost, node, jidOf("mallory@evil.example/x"))
	_, err = e.svc.Info(bgCtx, julietHost, jidOf("juliet@example.com"), node) // barrier
	mustOK(t, err)
	evs := eventsOf(e.rec.take(), EventItems)
	if len(evs) != 1 || !evs[0].ev.Delayed || !slices.Equal(recipientAddrs(evs[0].to), []string{"romeo@example.com/phone"}) {
		t.Fatalf("SendLast events = %+v", evs)
	}
}

// On an authorize node, +notify interest is no approval: only approved
// subscribers (and affiliated entities) get items.
func TestPEPInterestOnAuthorizeNode(t *testing.T) {
	node := "urn:example:moods"
	in := &fakeInterest{who: map[string][]jid.JID{julietHost + "|" + node: {
		jidOf("romeo@example.com/phone"), jidOf("juliet@example.com/balcony"),
	}}}
	e := newPEPEnv(t, func(o *Options) { o.Interest = in })
	e.rel.set("juliet@example.com", "romeo@example.com", "both")
	_, err := e.svc.Publish(bgCtx, julietHost, jidOf("juliet@example.com/balcony"), node,
		[]Item{{Payload: []byte("<mood xmlns='urn:example:moods'/>")}},
		&PublishOptions{Fields: map[string][]string{"pubsub#access_model": {AccessAuthorize}}})
	mustOK(t, err)
	if got := e.publishTo(node); !slices.Equal(got, []string{"juliet@example.com/balcony"}) {
		t.Fatalf("unapproved contact notified: %v", got)
	}
	e.rec.take()
	e.svc.SendLast(bgCtx, julietHost, node, jidOf("romeo@example.com/phone"))
	_, err = e.svc.Info(bgCtx, julietHost, jidOf("juliet@example.com"), node) // barrier
	mustOK(t, err)
	if evs := eventsOf(e.rec.take(), EventItems); len(evs) != 0 {
		t.Fatalf("SendLast to an unapproved contact: %+v", evs)
	}
}
