package pubsub

// Subscribe (§6.1), unsubscribe (§6.2), options (§6.3), approval (§8.6),
// pending (§8.7), manage subscriptions (§8.8), retrieve subscriptions
// (§5.6), leases and temporary subscriptions (§12.4, §12.18).

import (
	"slices"
	"testing"
	"time"

	"mellium.im/xmpp/jid"
)

func TestSubscribeAndLastItem(t *testing.T) {
	e := newCoreEnv(t, nil)
	e.createNode("juliet@example.com", "n", func(c *Config) { c.SendLastPublishedItem = SendLastOnSub })
	e.publish("juliet@example.com", "n", "old", "x")
	e.publish("juliet@example.com", "n", "last", "y")
	e.rec.take()
	sub, err := e.svc.Subscribe(bgCtx, coreHost, jidOf("romeo@example.com/orchard"), "n", jidOf("romeo@example.com"), nil)
	mustOK(t, err)
	if sub.State != SubSubscribed || sub.SubID == "" || sub.JID.String() != "romeo@example.com" || sub.Node != "n" || !sub.Options.Deliver {
		t.Fatalf("subscription = %+v", sub)
	}
	evs := eventsOf(e.rec.take(), EventItems)
	if len(evs) != 1 || !evs[0].ev.Delayed || len(evs[0].ev.Items) != 1 || evs[0].ev.Items[0].ID != "last" ||
		!slices.Equal(recipientAddrs(evs[0].to), []string{"romeo@example.com"}) {
		t.Fatalf("last item events = %+v", evs)
	}
	// send_last_published_item never: nothing.
	e.createNode("juliet@example.com", "quiet", func(c *Config) { c.SendLastPublishedItem = SendLastNever })
	e.publish("juliet@example.com", "quiet", "a", "x")
	e.rec.take()
	_, err = e.svc.Subscribe(bgCtx, coreHost, jidOf("romeo@example.com"), "quiet", jidOf("romeo@example.com"), nil)
	mustOK(t, err)
	if evs := eventsOf(e.rec.take(), EventItems); len(evs) != 0 {
		t.Fatalf("never sent %+v", evs)
	}
}

func TestSubscribeErrors(t *testing.T) {
	e := newCoreEnv(t, func(o *Options) { o.MaxSubscriptionsPerJID = 2 })
	e.createNode("juliet@example.com", "open", nil)
	e.createNode("juliet@example.com", "presence", func(c *Config) { c.AccessModel = AccessPresence })
	e.createNode("juliet@example.com", "roster", func(c *Config) {
		c.AccessModel = AccessRoster
		c.RosterGroupsAllowed = []string{"Friends"}
	})
	e.createNode("juliet@example.com", "white", func(c *Config) { c.AccessModel = AccessWhitelist })
	e.createNode("juliet@example.com", "auth", func(c *Config) { c.AccessModel = AccessAuthorize })
	e.createNode("juliet@example.com", "nosub", func(c *Config) { c.Subscribe = false })
	mustOK(t, coreSetAff(e, "open", "paris@example.com", AffOutcast))
	mustOK(t, coreSetAff(e, "open", "tybalt@example.com", AffPublishOnly))
	e.rel.set("juliet@example.com", "nurse@example.com", "both", "Family")
	sub := func(actor, who, node string, opts map[string][]string) error {
		_, err := e.svc.Subscribe(bgCtx, coreHost, jidOf(actor), node, jidOf(who), opts)
		return err
	}
	wantCoreErr(t, sub("romeo@example.com", "benvolio@example.com", "open", nil), "bad-request", "modify", "invalid-jid")
	wantCoreErr(t, sub("romeo@example.com", "romeo@example.com", "presence", nil), "not-authorized", "auth", "presence-subscription-required")
	wantCoreErr(t, sub("nurse@example.com", "nurse@example.com", "roster", nil), "not-authorized", "auth", "not-in-roster-group")
	wantCoreErr(t, sub("romeo@example.com", "romeo@example.com", "white", nil), "not-allowed", "cancel", "closed-node")
	wantCoreErr(t, sub("paris@example.com", "paris@example.com", "open", nil), "forbidden", "auth", "")
	wantCoreErr(t, sub("tybalt@example.com", "tybalt@example.com", "open", nil), "forbidden", "auth", "")
	wantCoreErr(t, sub("romeo@example.com", "romeo@example.com", "nosub", nil), "feature-not-implemented", "cancel", "unsupported")
	wantCoreErr(t, sub("romeo@example.com", "romeo@example.com", "nope", nil), "item-not-found", "cancel", "")
	wantCoreErr(t, sub("romeo@example.com", "romeo@example.com", "open", map[string][]string{"pubsub#deliver": {"maybe"}}), "bad-request", "modify", "invalid-options")
	// Pending: a second request is pending-subscription (§6.1.3.7).
	mustOK(t, sub("romeo@example.com", "romeo@example.com", "auth", nil))
	wantCoreErr(t, sub("romeo@example.com", "romeo@example.com", "auth", nil), "not-authorized", "auth", "pending-subscription")
	// Too many (§6.1.3.9): different options make new subscriptions.
	mustOK(t, sub("romeo@example.com", "romeo@example.com", "open", map[string][]string{"pubsub#show-values": {"away"}}))
	mustOK(t, sub("romeo@example.com", "romeo@example.com", "open", map[string][]string{"pubsub#show-values": {"dnd"}}))
	wantCoreErr(t, sub("romeo@example.com", "romeo@example.com", "open", map[string][]string{"pubsub#show-values": {"xa"}}),
		"policy-violation", "wait", "too-many-subscriptions")
	// The presence model admits a presence subscriber; an owner may
	// subscribe anyone; so may an admin.
	mustOK(t, sub("nurse@example.com", "nurse@example.com/a", "presence", nil))
	mustOK(t, sub("juliet@example.com", "benvolio@example.com", "white", nil))
	mustOK(t, sub("admin@example.com", "mercutio@example.com", "white", nil))
}

func TestSubscribeIdempotentAndMulti(t *testing.T) {
	e := newCoreEnv(t, nil)
	e.createNode("juliet@example.com", "n", nil)
	romeo := jidOf("romeo@example.com")
	a, err := e.svc.Subscribe(bgCtx, coreHost, romeo, "n", romeo, nil)
	mustOK(t, err)
	b, err := e.svc.Subscribe(bgCtx, coreHost, romeo, "n", romeo, nil)
	mustOK(t, err)
	if a.SubID != b.SubID {
		t.Fatalf("re-subscribe made a new subscription: %s %s", a.SubID, b.SubID)
	}
	c, err := e.svc.Subscribe(bgCtx, coreHost, romeo, "n", romeo, map[string][]string{"pubsub#show-values": {"chat"}})
	mustOK(t, err)
	if c.SubID == a.SubID {
		t.Fatal("different options did not make a new subscription")
	}
	mine, err := e.svc.Subscriptions(bgCtx, coreHost, jidOf("romeo@example.com/x"), "n")
	mustOK(t, err)
	if len(mine) != 2 {
		t.Fatalf("subscriptions = %+v", mine)
	}
	// A full-JID subscription is a separate JID (§6.1.6).
	d, err := e.svc.Subscribe(bgCtx, coreHost, romeo, "n", jidOf("romeo@example.com/phone"), nil)
	mustOK(t, err)
	if d.JID.String() != "romeo@example.com/phone" {
		t.Fatalf("full JID subscription = %+v", d)
	}
}

func TestUnsubscribe(t *testing.T) {
	e := newCoreEnv(t, nil)
	e.createNode("juliet@example.com", "n", nil)
	romeo := jidOf("romeo@example.com")
	a, err := e.svc.Subscribe(bgCtx, coreHost, romeo, "n", romeo, nil)
	mustOK(t, err)
	_, err = e.svc.Subscribe(bgCtx, coreHost, romeo, "n", romeo, map[string][]string{"pubsub#show-values": {"chat"}})
	mustOK(t, err)
	wantCoreErr(t, e.svc.Unsubscribe(bgCtx, coreHost, romeo, "n", romeo, ""), "bad-request", "modify", "subid-required")
	wantCoreErr(t, e.svc.Unsubscribe(bgCtx, coreHost, romeo, "n", romeo, "bogus"), "not-acceptable", "modify", "invalid-subid")
	wantCoreErr(t, e.svc.Unsubscribe(bgCtx, coreHost, jidOf("benvolio@example.com"), "n", romeo, a.SubID), "forbidden", "auth", "")
	wantCoreErr(t, e.svc.Unsubscribe(bgCtx, coreHost, romeo, "n", jidOf("romeo@example.com/other"), ""), "unexpected-request", "cancel", "not-subscribed")
	wantCoreErr(t, e.svc.Unsubscribe(bgCtx, coreHost, romeo, "nope", romeo, ""), "item-not-found", "cancel", "")
	mustOK(t, e.svc.Unsubscribe(bgCtx, coreHost, jidOf("romeo@example.com/x"), "n", romeo, a.SubID))
	mustOK(t, e.svc.Unsubscribe(bgCtx, coreHost, romeo, "n", romeo, ""))
	wantCoreErr(t, e.svc.Unsubscribe(bgCtx, coreHost, romeo, "n", romeo, ""), "unexpected-request", "cancel", "not-subscribed")
	// An owner may unsubscribe someone, who is told (§8.8.4).
	_, err = e.svc.Subscribe(bgCtx, coreHost, romeo, "n", romeo, nil)
	mustOK(t, err)
	e.rec.take()
	mustOK(t, e.svc.Unsubscribe(bgCtx, coreHost, jidOf("juliet@example.com"), "n", romeo, ""))
	evs := eventsOf(e.rec.take(), EventSubscription)
	if len(evs) != 1 || evs[0].ev.Subscription.State != SubNone || !slices.Equal(recipientAddrs(evs[0].to), []string{"romeo@example.com"}) {
		t.Fatalf("subscription events = %+v", evs)
	}
}

func TestSubscriptionOptions(t *testing.T) {
	e := newCoreEnv(t, nil)
	e.createNode("juliet@example.com", "n", nil)
	romeo := jidOf("romeo@example.com")
	s, err := e.svc.Subscribe(bgCtx, coreHost, romeo, "n", romeo, nil)
	mustOK(t, err)
	got, err := e.svc.SubscriptionOptions(bgCtx, coreHost, romeo, "n", romeo, "")
	mustOK(t, err)
	if got.SubID != s.SubID || !got.Options.Deliver {
		t.Fatalf("options = %+v", got)
	}
	mustOK(t, e.svc.SetSubscriptionOptions(bgCtx, coreHost, romeo, "n", romeo, s.SubID, map[string][]string{"pubsub#deliver": {"0"}}))
	got, err = e.svc.SubscriptionOptions(bgCtx, coreHost, romeo, "n", romeo, s.SubID)
	mustOK(t, err)
	if got.Options.Deliver {
		t.Fatal("deliver still on")
	}
	// deliver off: no notifications.
	e.rec.take()
	e.publish("juliet@example.com", "n", "a", "x")
	if evs := eventsOf(e.rec.take(), EventItems); len(evs) != 0 {
		t.Fatalf("delivered with deliver off: %+v", evs)
	}
	wantCoreErr(t, e.svc.SetSubscriptionOptions(bgCtx, coreHost, romeo, "n", romeo, "", map[string][]string{"pubsub#bogus": {"1"}}),
		"bad-request", "modify", "invalid-options")
	_, err = e.svc.SubscriptionOptions(bgCtx, coreHost, jidOf("benvolio@example.com"), "n", romeo, "")
	wantCoreErr(t, err, "forbidden", "auth", "")
	_, err = e.svc.SubscriptionOptions(bgCtx, coreHost, jidOf("benvolio@example.com"), "n", jidOf("benvolio@example.com"), "")
	wantCoreErr(t, err, "unexpected-request", "modify", "not-subscribed")
	_, err = e.svc.SubscriptionOptions(bgCtx, coreHost, romeo, "n", romeo, "bogus")
	wantCoreErr(t, err, "not-acceptable", "modify", "invalid-subid")
	_, err = e.svc.SubscriptionOptions(bgCtx, coreHost, romeo, "n", jid.JID{}, "")
	wantCoreErr(t, err, "bad-request", "modify", "jid-required")
	_, err = e.svc.SubscriptionOptions(bgCtx, coreHost, romeo, "nope", romeo, "")
	wantCoreErr(t, err, "item-not-found", "cancel", "")
	if d := e.svc.DefaultSubscriptionOptions(); !d.Deliver {
		t.Fatalf("default options = %+v", d)
	}
}

func TestAuthorizeFlow(t *testing.T) {
	e := newCoreEnv(t, nil)
	e.createNode("juliet@example.com", "n", func(c *Config) { c.AccessModel = AccessAuthorize; c.NotifySub = true })
	mustOK(t, coreSetAff(e, "n", "nurse@example.com", AffOwner))
	e.publish("juliet@example.com", "n", "last", "x")
	e.rec.take()
	romeo := jidOf("romeo@example.com")
	s, err := e.svc.Subscribe(bgCtx, coreHost, romeo, "n", romeo, nil)
	mustOK(t, err)
	if s.State != SubPending {
		t.Fatalf("state = %v", s.State)
	}
	auths := e.rec.takeAuths()
	if len(auths) != 1 || auths[0].SubID != s.SubID || auths[0].Subscriber.String() != "romeo@example.com" || len(auths[0].Owners) != 2 {
		t.Fatalf("authorization requests = %+v", auths)
	}
	// Not yet a subscriber: nothing delivered; NodeSubscriptions does not
	// list pending ones, PendingSubscriptions does.
	if evs := eventsOf(e.rec.take(), EventItems); len(evs) != 0 {
		t.Fatalf("pending subscriber got %+v", evs)
	}
	subs, err := e.svc.NodeSubscriptions(bgCtx, coreHost, jidOf("juliet@example.com"), "n")
	mustOK(t, err)
	if len(subs) != 0 {
		t.Fatalf("node subscriptions = %+v", subs)
	}
	pending, err := e.svc.PendingSubscriptions(bgCtx, coreHost, jidOf("nurse@example.com"), "n")
	mustOK(t, err)
	if len(pending) != 1 || pending[0].SubID != s.SubID {
		t.Fatalf("pending = %+v", pending)
	}
	_, err = e.svc.PendingSubscriptions(bgCtx, coreHost, romeo, "n")
	wantCoreErr(t, err, "forbidden", "auth", "")
	wantCoreErr(t, e.svc.Authorize(bgCtx, coreHost, romeo, "n", romeo, "", true), "forbidden", "auth", "")
	mustOK(t, e.svc.Authorize(bgCtx, coreHost, jidOf("nurse@example.com/x"), "n", romeo, s.SubID, true))
	evs := e.rec.take()
	subEvs := eventsOf(evs, EventSubscription)
	if len(subEvs) != 2 || subEvs[0].ev.Subscription.State != SubSubscribed ||
		!slices.Equal(recipientAddrs(subEvs[0].to), []string{"romeo@example.com"}) ||
		!slices.Equal(recipientAddrs(subEvs[1].to), []string{"juliet@example.com", "nurse@example.com"}) {
		t.Fatalf("subscription events = %+v", subEvs)
	}
	if items := eventsOf(evs, EventItems); len(items) != 1 || !items[0].ev.Delayed {
		t.Fatalf("last item on approval = %+v", items)
	}
	wantCoreErr(t, e.svc.Authorize(bgCtx, coreHost, jidOf("juliet@example.com"), "n", romeo, "", true), "unexpected-request", "cancel", "not-subscribed")
	// Denial removes the request and tells the subscriber.
	benvolio := jidOf("benvolio@example.com")
	_, err = e.svc.Subscribe(bgCtx, coreHost, benvolio, "n", benvolio, nil)
	mustOK(t, err)
	e.rec.take()
	mustOK(t, e.svc.Authorize(bgCtx, coreHost, jidOf("juliet@example.com"), "n", benvolio, "", false))
	subEvs = eventsOf(e.rec.take(), EventSubscription)
	if len(subEvs) == 0 || subEvs[0].ev.Subscription.State != SubNone || recipientAddrs(subEvs[0].to)[0] != "benvolio@example.com" {
		t.Fatalf("denial events = %+v", subEvs)
	}
	mine, err := e.svc.Subscriptions(bgCtx, coreHost, benvolio, "n")
	mustOK(t, err)
	if len(mine) != 0 {
		t.Fatalf("denied subscription remains: %+v", mine)
	}
}

func TestModifySubscriptions(t *testing.T) {
	e := newCoreEnv(t, nil)
	e.createNode("juliet@example.com", "n", nil)
	mustOK(t, coreSetAff(e, "n", "paris@example.com", AffOutcast))
	romeo, polonius := jidOf("romeo@example.com"), jidOf("polonius@example.com")
	_, err := e.svc.Subscribe(bgCtx, coreHost, polonius, "n", polonius, nil)
	mustOK(t, err)
	_, err = e.svc.ModifySubscriptions(bgCtx, coreHost, romeo, "n", nil)
	wantCoreErr(t, err, "forbidden", "auth", "")
	_, err = e.svc.ModifySubscriptions(bgCtx, coreHost, jidOf("juliet@example.com"), "nope", nil)
	wantCoreErr(t, err, "item-not-found", "cancel", "")
	e.rec.take()
	failed, err := e.svc.ModifySubscriptions(bgCtx, coreHost, jidOf("juliet@example.com"), "n", []Subscription{
		{JID: polonius, State: SubNone},
		{JID: romeo, State: SubSubscribed},
		{JID: jidOf("paris@example.com"), State: SubSubscribed},    // an outcast may not be subscribed
		{JID: jidOf("bard@example.com"), State: SubPending},        // owners set subscribed or none
		{JID: romeo, SubID: "bogus", State: SubSubscribed},         // no such subid
		{JID: jidOf("mercutio@example.com"), State: SubSubscribed}, // fine
	})
	mustOK(t, err)
	var got []string
	for _, f := range failed {
		got = append(got, f.JID.String()+"="+f.State.String())
	}
	if !slices.Equal(got, []string{"paris@example.com=none", "bard@example.com=none", "romeo@example.com=none"}) {
		t.Fatalf("failed = %v", got)
	}
	subs, err := e.svc.NodeSubscriptions(bgCtx, coreHost, jidOf("juliet@example.com"), "n")
	mustOK(t, err)
	var list []string
	for _, s := range subs {
		list = append(list, s.JID.String())
	}
	if !slices.Equal(list, []string{"mercutio@example.com", "romeo@example.com"}) {
		t.Fatalf("subscriptions = %v", list)
	}
	subEvs := eventsOf(e.rec.take(), EventSubscription)
	var told []string
	for _, ev := range subEvs {
		told = append(told, ev.to[0].JID.String()+"="+ev.ev.Subscription.State.String())
	}
	if !slices.Equal(told, []string{"polonius@example.com=none", "romeo@example.com=subscribed", "mercutio@example.com=subscribed"}) {
		t.Fatalf("told %v", told)
	}
}

func TestServiceWideSubscriptions(t *testing.T) {
	e := newCoreEnv(t, nil)
	for _, n := range []string{"a", "b", "c"} {
		e.createNode("juliet@example.com", n, nil)
	}
	romeo := jidOf("romeo@example.com/orchard")
	for _, n := range []string{"a", "c"} {
		_, err := e.svc.Subscribe(bgCtx, coreHost, romeo, n, romeo.Bare(), nil)
		mustOK(t, err)
	}
	_, err := e.svc.Subscribe(bgCtx, coreHost, romeo, "b", romeo, nil)
	mustOK(t, err)
	_, err = e.svc.Subscribe(bgCtx, coreHost, jidOf("benvolio@example.com"), "b", jidOf("benvolio@example.com"), nil)
	mustOK(t, err)
	all, err := e.svc.Subscriptions(bgCtx, coreHost, jidOf("romeo@example.com/other"), "")
	mustOK(t, err)
	var got []string
	for _, s := range all {
		got = append(got, s.Node+":"+s.JID.String()+":"+s.State.String())
	}
	if !slices.Equal(got, []string{"a:romeo@example.com:subscribed", "b:romeo@example.com/orchard:subscribed", "c:romeo@example.com:subscribed"}) {
		t.Fatalf("subscriptions = %v", got)
	}
	none, err := e.svc.Subscriptions(bgCtx, coreHost, jidOf("nobody@example.com"), "")
	mustOK(t, err)
	if none == nil || len(none) != 0 {
		t.Fatalf("no subscriptions = %#v", none)
	}
	_, err = e.svc.Subscriptions(bgCtx, coreHost, romeo, "nope")
	wantCoreErr(t, err, "item-not-found", "cancel", "")
}

func TestSubscriptionLease(t *testing.T) {
	e := newCoreEnv(t, nil)
	e.createNode("juliet@example.com", "n", nil)
	romeo := jidOf("romeo@example.com")
	expire := coreStart.Add(time.Hour).Format(time.RFC3339)
	_, err := e.svc.Subscribe(bgCtx, coreHost, romeo, "n", romeo, map[string][]string{"pubsub#expire": {expire}})
	mustOK(t, err)
	e.publish("juliet@example.com", "n", "a", "x")
	if evs := eventsOf(e.rec.take(), EventItems); len(evs) != 1 {
		t.Fatalf("before the lease ends: %+v", evs)
	}
	e.clock.Advance(2 * time.Hour)
	e.publish("juliet@example.com", "n", "b", "x")
	evs := e.rec.take()
	if items := eventsOf(evs, EventItems); len(items) != 0 {
		t.Fatalf("after the lease ended: %+v", items)
	}
	if subs := eventsOf(evs, EventSubscription); len(subs) != 1 || subs[0].ev.Subscription.State != SubNone {
		t.Fatalf("lease end events = %+v", subs)
	}
	mine, err := e.svc.Subscriptions(bgCtx, coreHost, romeo, "")
	mustOK(t, err)
	if len(mine) != 0 {
		t.Fatalf("expired subscription remains: %+v", mine)
	}
}

func TestTemporarySubscriptionEndsOnUnavailable(t *testing.T) {
	e := newCoreEnv(t, nil)
	e.createNode("juliet@example.com", "n", nil)
	phone, laptop := jidOf("romeo@example.com/phone"), jidOf("romeo@example.com/laptop")
	e.svc.Available(bgCtx, phone, "")
	e.svc.Available(bgCtx, laptop, "")
	temp := map[string][]string{"pubsub#expire": {"presence"}}
	_, err := e.svc.Subscribe(bgCtx, coreHost, phone, "n", phone, temp)
	mustOK(t, err)
	_, err = e.svc.Subscribe(bgCtx, coreHost, phone, "n", phone.Bare(), temp)
	mustOK(t, err)
	_, err = e.svc.Subscribe(bgCtx, coreHost, laptop, "n", laptop, nil) // not temporary
	mustOK(t, err)
	count := func() int {
		t.Helper()
		// Unavailable works in the background; Subscriptions goes through
		// the node's actor, after it.
		subs, err := e.svc.Subscriptions(bgCtx, coreHost, phone, "n")
		mustOK(t, err)
		return len(subs)
	}
	e.svc.Unavailable(bgCtx, phone)
	if n := count(); n != 2 {
		t.Fatalf("after the phone left: %d subscriptions", n)
	}
	e.svc.Unavailable(bgCtx, laptop) // the last session: the bare JID's temporary subscription ends
	if n := count(); n != 1 {
		t.Fatalf("after the last session left: %d subscriptions", n)
	}
}
