package pubsub

// Publish (§7.1), retract (§7.2) and items retrieval (§6.5).

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPublishNotifiesSubscribers(t *testing.T) {
	e := newCoreEnv(t, nil)
	e.createNode("juliet@example.com", "n", nil)
	for _, who := range []string{"romeo@example.com", "benvolio@example.com/laptop"} {
		_, err := e.svc.Subscribe(bgCtx, coreHost, jidOf(who), "n", jidOf(who), nil)
		mustOK(t, err)
	}
	e.rec.take()
	ids, err := e.svc.Publish(bgCtx, coreHost, jidOf("juliet@example.com/balcony"), "n",
		[]Item{{Payload: atomPayload(coreNSAtom, "To be")}}, nil)
	mustOK(t, err)
	if len(ids) != 1 || len(ids[0]) != 32 {
		t.Fatalf("generated ids = %v", ids)
	}
	evs := eventsOf(e.rec.take(), EventItems)
	if len(evs) != 1 {
		t.Fatalf("events = %+v", evs)
	}
	ev := evs[0]
	if got := recipientAddrs(ev.to); !slices.Equal(got, []string{"benvolio@example.com/laptop", "romeo@example.com"}) {
		t.Fatalf("recipients = %v", got)
	}
	it := ev.ev.Items[0]
	if it.ID != ids[0] || it.Publisher.String() != "juliet@example.com/balcony" || !it.Time.Equal(coreStart) ||
		!strings.Contains(string(it.Payload), "To be") || ev.ev.Node != "n" || ev.ev.Host != coreHost || ev.ev.Delayed {
		t.Fatalf("event = %+v", ev.ev)
	}
	// Republishing an id replaces the item (§7.1.2 note).
	e.publish("juliet@example.com", "n", ids[0], "Or not to be")
	page, err := e.svc.Items(bgCtx, coreHost, jidOf("romeo@example.com"), "n", ItemQuery{})
	mustOK(t, err)
	if len(page.Items) != 1 || !strings.Contains(string(page.Items[0].Payload), "Or not") {
		t.Fatalf("items = %+v", page.Items)
	}
}

func TestPublishPermissions(t *testing.T) {
	e := newCoreEnv(t, nil)
	e.createNode("juliet@example.com", "n", nil)
	mustOK(t, coreSetAff(e, "n", "nurse@example.com", AffPublisher))
	mustOK(t, coreSetAff(e, "n", "tybalt@example.com", AffPublishOnly))
	mustOK(t, coreSetAff(e, "n", "romeo@example.com", AffMember))
	mustOK(t, coreSetAff(e, "n", "paris@example.com", AffOutcast))
	for who, ok := range map[string]bool{
		"juliet@example.com": true, "nurse@example.com": true, "tybalt@example.com": true,
		"romeo@example.com": false, "paris@example.com": false, "stranger@example.com": false,
		"admin@example.com": true,
	} {
		_, err := e.svc.Publish(bgCtx, coreHost, jidOf(who), "n", []Item{{Payload: atomPayload(coreNSAtom, "x")}}, nil)
		if ok && err != nil {
			t.Errorf("%s: %v", who, err)
		}
		if !ok {
			wantCoreErr(t, err, "forbidden", "auth", "")
		}
	}
}

func TestPublishModels(t *testing.T) {
	e := newCoreEnv(t, nil)
	e.createNode("juliet@example.com", "subs", func(c *Config) { c.PublishModel = PublishSubscribers })
	e.createNode("juliet@example.com", "open", func(c *Config) { c.PublishModel = PublishOpen })
	mustOK(t, coreSetAff(e, "open", "paris@example.com", AffOutcast))
	pub := func(who, node string) error {
		_, err := e.svc.Publish(bgCtx, coreHost, jidOf(who), node, []Item{{Payload: atomPayload(coreNSAtom, "x")}}, nil)
		return err
	}
	wantCoreErr(t, pub("romeo@example.com", "subs"), "forbidden", "auth", "")
	_, err := e.svc.Subscribe(bgCtx, coreHost, jidOf("romeo@example.com/a"), "subs", jidOf("romeo@example.com/a"), nil)
	mustOK(t, err)
	mustOK(t, pub("romeo@example.com/b", "subs"))
	mustOK(t, pub("stranger@far.example", "open"))
	wantCoreErr(t, pub("paris@example.com", "open"), "forbidden", "auth", "")
}

func TestPublishNodeMissing(t *testing.T) {
	e := newCoreEnv(t, nil)
	// A remote user may not create nodes, so no auto-create: item-not-found.
	_, err := e.svc.Publish(bgCtx, coreHost, jidOf("mallory@evil.example"), "ghost", []Item{{Payload: atomPayload(coreNSAtom, "x")}}, nil)
	wantCoreErr(t, err, "item-not-found", "cancel", "")
	// A local user may: the node is auto-created (§7.1.4) and owned.
	e.publish("romeo@example.com", "auto", "a", "x")
	affs, err := e.svc.Affiliations(bgCtx, coreHost, jidOf("romeo@example.com"), "auto")
	mustOK(t, err)
	if len(affs) != 1 || affs[0].Affiliation != AffOwner {
		t.Fatalf("affiliations = %+v", affs)
	}
}

func TestPublishEventTypeErrors(t *testing.T) {
	e := newCoreEnv(t, nil)
	e.createNode("juliet@example.com", "persistent", func(c *Config) { c.MaxItems = 2; c.MaxPayloadSize = 64 })
	e.createNode("juliet@example.com", "notify-only", func(c *Config) { c.PersistItems = false; c.DeliverPayloads = false })
	e.createNode("juliet@example.com", "transient", func(c *Config) { c.PersistItems = false })
	e.createNode("juliet@example.com", "typed", func(c *Config) { c.Type = coreNSAtom })
	e.createNode("juliet@example.com", "notify-persist", func(c *Config) { c.DeliverPayloads = false })
	pub := func(node string, items ...Item) error {
		_, err := e.svc.Publish(bgCtx, coreHost, jidOf("juliet@example.com"), node, items, nil)
		return err
	}
	wantCoreErr(t, pub("persistent"), "bad-request", "modify", "item-required")
	wantCoreErr(t, pub("persistent", Item{ID: "a"}), "bad-request", "modify", "payload-required")
	wantCoreErr(t, pub("transient"), "bad-request", "modify", "payload-required")
	wantCoreErr(t, pub("notify-only", Item{ID: "a"}), "bad-request", "modify", "item-forbidden")
	wantCoreErr(t, pub("persistent", Item{Payload: atomPayload(coreNSAtom, strings.Repeat("x", 64))}), "not-acceptable", "modify", "payload-too-big")
	wantCoreErr(t, pub("typed", Item{Payload: atomPayload("urn:other", "x")}), "bad-request", "modify", "invalid-payload")
	wantCoreErr(t, pub("typed", Item{Payload: []byte("<not xml")}), "bad-request", "modify", "invalid-payload")
	wantCoreErr(t, pub("persistent", Item{Payload: atomPayload(coreNSAtom, "1")}, Item{Payload: atomPayload(coreNSAtom, "2")},
		Item{Payload: atomPayload(coreNSAtom, "3")}), "not-allowed", "cancel", "max-items-exceeded")
	wantCoreErr(t, pub("persistent", Item{ID: strings.Repeat("i", maxIDLen+1), Payload: atomPayload(coreNSAtom, "x")}), "bad-request", "modify", "")
	// What is allowed: typed payload, no item on a transient notification
	// node (an empty <items/> event), an empty item on a persistent
	// notification-only node.
	mustOK(t, pub("typed", Item{Payload: atomPayload(coreNSAtom, "x")}))
	_, err := e.svc.Subscribe(bgCtx, coreHost, jidOf("romeo@example.com"), "notify-only", jidOf("romeo@example.com"), nil)
	mustOK(t, err)
	e.rec.take()
	mustOK(t, pub("notify-only"))
	evs := eventsOf(e.rec.take(), EventItems)
	if len(evs) != 1 || len(evs[0].ev.Items) != 0 {
		t.Fatalf("notification-only events = %+v", evs)
	}
	mustOK(t, pub("notify-persist", Item{ID: "empty"}))
}

func TestPublishTrimsToMaxItems(t *testing.T) {
	e := newCoreEnv(t, nil)
	e.createNode("juliet@example.com", "n", func(c *Config) { c.MaxItems = 3 })
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		e.clock.Advance(time.Second)
		e.publish("juliet@example.com", "n", id, id)
	}
	page, err := e.svc.Items(bgCtx, coreHost, jidOf("romeo@example.com"), "n", ItemQuery{})
	mustOK(t, err)
	if ids := coreItemIDs(page.Items); !slices.Equal(ids, []string{"e", "d", "c"}) {
		t.Fatalf("items = %v", ids)
	}
}

func TestPublishOptionsOnExistingNode(t *testing.T) {
	e := newCoreEnv(t, nil)
	e.createNode("juliet@example.com", "n", nil)
	pub := func(fields map[string][]string) error {
		_, err := e.svc.Publish(bgCtx, coreHost, jidOf("juliet@example.com"), "n",
			[]Item{{Payload: atomPayload(coreNSAtom, "x")}}, &PublishOptions{Fields: fields})
		return err
	}
	mustOK(t, pub(map[string][]string{"FORM_TYPE": {"http://jabber.org/protocol/pubsub#publish-options"}, "pubsub#access_model": {"open"}}))
	wantCoreErr(t, pub(map[string][]string{"pubsub#access_model": {"whitelist"}}), "conflict", "cancel", "precondition-not-met")
	wantCoreErr(t, pub(map[string][]string{"pubsub#no_such_field": {"1"}}), "conflict", "cancel", "precondition-not-met")
}

func TestRetract(t *testing.T) {
	e := newCoreEnv(t, nil)
	e.castNode()
	e.publish("juliet@example.com", "n", "j1", "x")
	e.publish("tybalt@example.com", "n", "t1", "x")
	e.publish("nurse@example.com", "n", "n1", "x")
	e.rec.take()
	wantCoreErr(t, e.svc.Retract(bgCtx, coreHost, jidOf("romeo@example.com"), "n", []string{"j1"}, true), "forbidden", "auth", "")
	// Publish-only deletes only its own items (table 4 note).
	wantCoreErr(t, e.svc.Retract(bgCtx, coreHost, jidOf("tybalt@example.com"), "n", []string{"j1"}, true), "forbidden", "auth", "")
	wantCoreErr(t, e.svc.Retract(bgCtx, coreHost, jidOf("juliet@example.com"), "n", []string{"j1", "nope"}, true), "item-not-found", "cancel", "")
	wantCoreErr(t, e.svc.Retract(bgCtx, coreHost, jidOf("juliet@example.com"), "n", nil, true), "bad-request", "modify", "item-required")
	wantCoreErr(t, e.svc.Retract(bgCtx, coreHost, jidOf("juliet@example.com"), "n", []string{""}, true), "bad-request", "modify", "item-required")
	wantCoreErr(t, e.svc.Retract(bgCtx, coreHost, jidOf("juliet@example.com"), "nope", []string{"j1"}, true), "item-not-found", "cancel", "")
	if evs := e.rec.take(); len(evs) != 0 {
		t.Fatalf("failed retracts notified: %+v", evs)
	}
	mustOK(t, e.svc.Retract(bgCtx, coreHost, jidOf("tybalt@example.com/x"), "n", []string{"t1"}, true))
	mustOK(t, e.svc.Retract(bgCtx, coreHost, jidOf("nurse@example.com"), "n", []string{"j1"}, false)) // notify_retract is on by default
	evs := eventsOf(e.rec.take(), EventRetract)
	if len(evs) != 2 || !slices.Equal(evs[0].ev.Retracted, []string{"t1"}) || !slices.Equal(evs[1].ev.Retracted, []string{"j1"}) ||
		!slices.Equal(recipientAddrs(evs[0].to), []string{"romeo@example.com"}) {
		t.Fatalf("retract events = %+v", evs)
	}
	page, err := e.svc.Items(bgCtx, coreHost, jidOf("romeo@example.com"), "n", ItemQuery{})
	mustOK(t, err)
	if ids := coreItemIDs(page.Items); !slices.Equal(ids, []string{"n1"}) {
		t.Fatalf("items = %v", ids)
	}
	e.createNode("juliet@example.com", "quiet", func(c *Config) { c.NotifyRetract = false })
	e.publish("juliet@example.com", "quiet", "q", "x")
	e.rec.take()
	mustOK(t, e.svc.Retract(bgCtx, coreHost, jidOf("juliet@example.com"), "quiet", []string{"q"}, false))
	if evs := eventsOf(e.rec.take(), EventRetract); len(evs) != 0 {
		t.Fatalf("retract notified without notify: %+v", evs)
	}
	e.createNode("juliet@example.com", "transient", func(c *Config) { c.PersistItems = false })
	wantCoreErr(t, e.svc.Retract(bgCtx, coreHost, jidOf("juliet@example.com"), "transient", []string{"x"}, true), "feature-not-implemented", "cancel", "unsupported")
}

func TestItemsRetrieval(t *testing.T) {
	e := newCoreEnv(t, nil)
	e.createNode("juliet@example.com", "n", func(c *Config) { c.MaxItems = 20 })
	for i := range 5 {
		e.clock.Advance(time.Second)
		e.publish("juliet@example.com", "n", string(rune('a'+i)), "x")
	}
	get := func(q ItemQuery) ItemPage {
		t.Helper()
		p, err := e.svc.Items(bgCtx, coreHost, jidOf("romeo@example.com"), "n", q)
		mustOK(t, err)
		return p
	}
	if ids := coreItemIDs(get(ItemQuery{}).Items); !slices.Equal(ids, []string{"e", "d", "c", "b", "a"}) {
		t.Fatalf("all = %v", ids)
	}
	if ids := coreItemIDs(get(ItemQuery{MaxItems: 2}).Items); !slices.Equal(ids, []string{"e", "d"}) {
		t.Fatalf("max_items 2 = %v", ids)
	}
	if ids := coreItemIDs(get(ItemQuery{IDs: []string{"b", "zz", "d", "b"}}).Items); !slices.Equal(ids, []string{"d", "b"}) {
		t.Fatalf("by id = %v", ids)
	}
	p := get(ItemQuery{Page: &PageRequest{Max: 2, Index: -1}})
	if ids := coreItemIDs(p.Items); !slices.Equal(ids, []string{"e", "d"}) || p.First != "e" || p.Last != "d" || p.Count != 5 || p.FirstIndex != 0 {
		t.Fatalf("page 1 = %+v", p)
	}
	p = get(ItemQuery{Page: &PageRequest{Max: 2, After: "d", Index: -1}})
	if ids := coreItemIDs(p.Items); !slices.Equal(ids, []string{"c", "b"}) || p.FirstIndex != 2 {
		t.Fatalf("page 2 = %+v", p)
	}
	// An empty node answers an empty list (§6.5.9.11).
	e.createNode("juliet@example.com", "empty", nil)
	p, err := e.svc.Items(bgCtx, coreHost, jidOf("romeo@example.com"), "empty", ItemQuery{})
	mustOK(t, err)
	if len(p.Items) != 0 {
		t.Fatalf("empty node items = %v", p.Items)
	}
	_, err = e.svc.Items(bgCtx, coreHost, jidOf("romeo@example.com"), "nope", ItemQuery{})
	wantCoreErr(t, err, "item-not-found", "cancel", "")
}

func TestItemsAccessErrors(t *testing.T) {
	e := newCoreEnv(t, nil)
	e.createNode("juliet@example.com", "presence", func(c *Config) { c.AccessModel = AccessPresence })
	e.createNode("juliet@example.com", "roster", func(c *Config) {
		c.AccessModel = AccessRoster
		c.RosterGroupsAllowed = []string{"Friends"}
	})
	e.createNode("juliet@example.com", "white", func(c *Config) { c.AccessModel = AccessWhitelist })
	e.createNode("juliet@example.com", "auth", func(c *Config) { c.AccessModel = AccessAuthorize })
	e.createNode("juliet@example.com", "open", nil)
	mustOK(t, coreSetAff(e, "open", "paris@example.com", AffOutcast))
	mustOK(t, coreSetAff(e, "open", "tybalt@example.com", AffPublishOnly))
	e.rel.set("juliet@example.com", "nurse@example.com", "from", "Family")
	e.rel.set("juliet@example.com", "romeo@example.com", "both", "Friends")
	e.rel.set("juliet@example.com", "benvolio@example.com", "to", "Friends")
	items := func(who, node string) error {
		_, err := e.svc.Items(bgCtx, coreHost, jidOf(who), node, ItemQuery{})
		return err
	}
	wantCoreErr(t, items("stranger@example.com", "presence"), "not-authorized", "auth", "presence-subscription-required")
	wantCoreErr(t, items("benvolio@example.com", "presence"), "not-authorized", "auth", "presence-subscription-required")
	mustOK(t, items("nurse@example.com", "presence"))
	wantCoreErr(t, items("nurse@example.com", "roster"), "not-authorized", "auth", "not-in-roster-group")
	wantCoreErr(t, items("benvolio@example.com", "roster"), "not-authorized", "auth", "not-in-roster-group")
	mustOK(t, items("romeo@example.com", "roster"))
	wantCoreErr(t, items("romeo@example.com", "white"), "not-allowed", "cancel", "closed-node")
	mustOK(t, items("juliet@example.com", "white"))
	mustOK(t, items("admin@example.com", "white"))
	wantCoreErr(t, items("romeo@example.com", "auth"), "not-authorized", "auth", "not-subscribed")
	wantCoreErr(t, items("paris@example.com", "open"), "forbidden", "auth", "")
	wantCoreErr(t, items("tybalt@example.com", "open"), "forbidden", "auth", "")
	mustOK(t, items("anyone@far.example", "open"))
	// Members are on the whitelist.
	mustOK(t, coreSetAff(e, "white", "romeo@example.com", AffMember))
	mustOK(t, items("romeo@example.com", "white"))
	// A pending subscription is not a subscription (§6.5.9.3); an approved one is.
	_, err := e.svc.Subscribe(bgCtx, coreHost, jidOf("romeo@example.com"), "auth", jidOf("romeo@example.com"), nil)
	mustOK(t, err)
	wantCoreErr(t, items("romeo@example.com", "auth"), "not-authorized", "auth", "not-subscribed")
	mustOK(t, e.svc.Authorize(bgCtx, coreHost, jidOf("juliet@example.com"), "auth", jidOf("romeo@example.com"), "", true))
	mustOK(t, items("romeo@example.com/phone", "auth"))
}

func TestItemsSubIDChecks(t *testing.T) {
	e := newCoreEnv(t, nil)
	e.createNode("juliet@example.com", "auth", func(c *Config) { c.AccessModel = AccessAuthorize })
	mustOK(t, coreSetAff(e, "auth", "romeo@example.com", AffMember))
	romeo := jidOf("romeo@example.com")
	s1, err := e.svc.Subscribe(bgCtx, coreHost, romeo, "auth", romeo, nil)
	mustOK(t, err)
	_, err = e.svc.Items(bgCtx, coreHost, romeo, "auth", ItemQuery{SubID: "bogus"})
	wantCoreErr(t, err, "not-acceptable", "modify", "invalid-subid")
	_, err = e.svc.Items(bgCtx, coreHost, romeo, "auth", ItemQuery{SubID: s1.SubID})
	mustOK(t, err)
	// Two subscriptions of a non-affiliated subscriber: subid-required.
	e.createNode("juliet@example.com", "auth2", func(c *Config) { c.AccessModel = AccessAuthorize })
	nurse := jidOf("nurse@example.com")
	var subids []string
	for _, show := range []string{"away", "dnd"} {
		sub, err := e.svc.Subscribe(bgCtx, coreHost, nurse, "auth2", nurse, map[string][]string{"pubsub#show-values": {show}})
		mustOK(t, err)
		if sub.State != SubPending {
			t.Fatalf("state = %v", sub.State)
		}
		pending, err := e.svc.PendingSubscriptions(bgCtx, coreHost, jidOf("juliet@example.com"), "auth2")
		mustOK(t, err)
		if len(pending) != 1 || pending[0].SubID != sub.SubID {
			t.Fatalf("pending = %+v", pending)
		}
		failed, err := e.svc.ModifySubscriptions(bgCtx, coreHost, jidOf("juliet@example.com"), "auth2",
			[]Subscription{{JID: nurse, SubID: sub.SubID, State: SubSubscribed}})
		mustOK(t, err)
		if len(failed) != 0 {
			t.Fatalf("failed %+v", failed)
		}
		subids = append(subids, sub.SubID)
	}
	_, err = e.svc.Items(bgCtx, coreHost, nurse, "auth2", ItemQuery{})
	wantCoreErr(t, err, "bad-request", "modify", "subid-required")
	_, err = e.svc.Items(bgCtx, coreHost, nurse, "auth2", ItemQuery{SubID: subids[1]})
	mustOK(t, err)
}

func TestTransientNodeKeepsLastItem(t *testing.T) {
	e := newCoreEnv(t, nil)
	e.createNode("juliet@example.com", "t", func(c *Config) { c.PersistItems = false })
	e.publish("juliet@example.com", "t", "a", "first")
	e.publish("juliet@example.com", "t", "b", "second")
	page, err := e.svc.Items(bgCtx, coreHost, jidOf("romeo@example.com"), "t", ItemQuery{})
	mustOK(t, err)
	if ids := coreItemIDs(page.Items); !slices.Equal(ids, []string{"b"}) {
		t.Fatalf("transient items = %v", ids)
	}
	count := 0
	mustOK(t, e.store.Scan(bgCtx, []byte("pubsub/item/"), nil, 0, func(_, _ []byte, _ uint64) bool { count++; return true }))
	if count != 0 {
		t.Fatalf("transient node stored %d items", count)
	}
	// The last item goes to a new subscriber (on_sub_and_presence).
	e.rec.take()
	_, err = e.svc.Subscribe(bgCtx, coreHost, jidOf("romeo@example.com"), "t", jidOf("romeo@example.com"), nil)
	mustOK(t, err)
	evs := eventsOf(e.rec.take(), EventItems)
	if len(evs) != 1 || !evs[0].ev.Delayed || evs[0].ev.Items[0].ID != "b" {
		t.Fatalf("last item = %+v", evs)
	}
}
