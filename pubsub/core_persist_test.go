package pubsub

// Durability across restarts, item expiry (item_expire), idle actors.

import (
	"slices"
	"testing"
	"time"

	"github.com/gavelhq/gavel/data"
)

func TestRestartKeepsEverything(t *testing.T) {
	e := newCoreEnv(t, nil)
	e.createNode("juliet@example.com", "n", func(c *Config) {
		c.Title = "Princely Musings"
		c.AccessModel = AccessAuthorize
		c.MaxItems = 5
	})
	e.createNode("juliet@example.com", "other", nil)
	mustOK(t, coreSetAff(e, "n", "nurse@example.com", AffPublisher))
	mustOK(t, coreSetAff(e, "n", "paris@example.com", AffOutcast))
	romeo, benvolio := jidOf("romeo@example.com"), jidOf("benvolio@example.com/laptop")
	s1, err := e.svc.Subscribe(bgCtx, coreHost, romeo, "n", romeo, map[string][]string{"pubsub#show-values": {"chat"}})
	mustOK(t, err)
	mustOK(t, e.svc.Authorize(bgCtx, coreHost, jidOf("juliet@example.com"), "n", romeo, s1.SubID, true))
	s2, err := e.svc.Subscribe(bgCtx, coreHost, benvolio, "n", benvolio, nil) // stays pending
	mustOK(t, err)
	for _, id := range []string{"a", "b", "c"} {
		e.clock.Advance(time.Second)
		e.publish("nurse@example.com", "n", id, id)
	}

	e.restart()

	cfg, err := e.svc.NodeConfig(bgCtx, coreHost, jidOf("juliet@example.com"), "n")
	mustOK(t, err)
	if cfg.Title != "Princely Musings" || cfg.AccessModel != AccessAuthorize || cfg.MaxItems != 5 {
		t.Fatalf("config after restart = %+v", cfg)
	}
	affs, err := e.svc.NodeAffiliations(bgCtx, coreHost, jidOf("juliet@example.com"), "n")
	mustOK(t, err)
	if got := affList(affs); !slices.Equal(got, []string{"juliet@example.com=owner", "nurse@example.com=publisher", "paris@example.com=outcast"}) {
		t.Fatalf("affiliations after restart = %v", got)
	}
	subs, err := e.svc.NodeSubscriptions(bgCtx, coreHost, jidOf("juliet@example.com"), "n")
	mustOK(t, err)
	if len(subs) != 1 || subs[0].SubID != s1.SubID || subs[0].State != SubSubscribed || !slices.Equal(subs[0].Options.ShowValues, []string{"chat"}) {
		t.Fatalf("subscriptions after restart = %+v", subs)
	}
	pending, err := e.svc.PendingSubscriptions(bgCtx, coreHost, jidOf("juliet@example.com"), "n")
	mustOK(t, err)
	if len(pending) != 1 || pending[0].SubID != s2.SubID || pending[0].JID.String() != "benvolio@example.com/laptop" {
		t.Fatalf("pending after restart = %+v", pending)
	}
	page, err := e.svc.Items(bgCtx, coreHost, jidOf("nurse@example.com"), "n", ItemQuery{})
	mustOK(t, err)
	if ids := coreItemIDs(page.Items); !slices.Equal(ids, []string{"c", "b", "a"}) || page.Items[0].Publisher.String() != "nurse@example.com" {
		t.Fatalf("items after restart = %v", ids)
	}
	nodes, err := e.svc.Nodes(bgCtx, coreHost, jidOf("juliet@example.com"), "", 0)
	mustOK(t, err)
	if !slices.Equal(nodes, []string{"n", "other"}) {
		t.Fatalf("nodes after restart = %v", nodes)
	}
	mine, err := e.svc.Subscriptions(bgCtx, coreHost, romeo, "")
	mustOK(t, err)
	if len(mine) != 1 || mine[0].Node != "n" {
		t.Fatalf("romeo's subscriptions after restart = %+v", mine)
	}
	// And it goes on working: the last item for a new subscriber, trimming.
	e.rec.take()
	mustOK(t, e.svc.Authorize(bgCtx, coreHost, jidOf("juliet@example.com"), "n", benvolio, "", true))
	if evs := eventsOf(e.rec.take(), EventItems); len(evs) != 1 || evs[0].ev.Items[0].ID != "c" {
		t.Fatalf("last item after restart = %+v", evs)
	}
}

func TestItemExpiryOnAccess(t *testing.T) {
	e := newCoreEnv(t, nil)
	e.createNode("juliet@example.com", "n", func(c *Config) { c.ItemExpire = time.Hour })
	e.publish("juliet@example.com", "n", "old", "x")
	e.clock.Advance(40 * time.Minute)
	e.publish("juliet@example.com", "n", "new", "x")
	e.clock.Advance(30 * time.Minute) // "old" is 70 minutes old
	page, err := e.svc.Items(bgCtx, coreHost, jidOf("romeo@example.com"), "n", ItemQuery{})
	mustOK(t, err)
	if ids := coreItemIDs(page.Items); !slices.Equal(ids, []string{"new"}) {
		t.Fatalf("items = %v", ids)
	}
	// Really gone from the store, not just hidden.
	if _, _, err := e.store.Get(bgCtx, data.PubSubItemKey(coreHost, "n", "old")); err == nil {
		t.Fatal("expired item still indexed")
	}
	info, err := e.svc.Info(bgCtx, coreHost, jidOf("romeo@example.com"), "n")
	mustOK(t, err)
	if info.Items != 1 {
		t.Fatalf("info items = %d", info.Items)
	}
	// The last item expires too: nothing is sent to a new subscriber.
	e.clock.Advance(time.Hour)
	e.rec.take()
	_, err = e.svc.Subscribe(bgCtx, coreHost, jidOf("romeo@example.com"), "n", jidOf("romeo@example.com"), nil)
	mustOK(t, err)
	if evs := eventsOf(e.rec.take(), EventItems); len(evs) != 0 {
		t.Fatalf("expired last item sent: %+v", evs)
	}
}

func TestItemExpiryTimer(t *testing.T) {
	e := newCoreEnv(t, func(o *Options) { o.Now = time.Now })
	e.createNode("juliet@example.com", "n", func(c *Config) { c.ItemExpire = 100 * time.Millisecond })
	e.publish("juliet@example.com", "n", "a", "x")
	// Nobody asks the node anything: the actor's timer removes the item.
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, _, err := e.store.Get(bgCtx, data.PubSubItemKey(coreHost, "n", "a"))
		if err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("item never expired")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestIdleNodeStopsAndReloads(t *testing.T) {
	e := newCoreEnv(t, func(o *Options) { o.IdleTimeout = 20 * time.Millisecond })
	e.createNode("juliet@example.com", "n", nil)
	e.publish("juliet@example.com", "n", "a", "x")
	deadline := time.Now().Add(5 * time.Second)
	for e.svc.ActiveNodes() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d actors still running", e.svc.ActiveNodes())
		}
		time.Sleep(10 * time.Millisecond)
	}
	page, err := e.svc.Items(bgCtx, coreHost, jidOf("romeo@example.com"), "n", ItemQuery{})
	mustOK(t, err)
	if ids := coreItemIDs(page.Items); !slices.Equal(ids, []string{"a"}) {
		t.Fatalf("items after reload = %v", ids)
	}
	// A request for a node that does not exist leaves no actor behind.
	_, err = e.svc.Items(bgCtx, coreHost, jidOf("romeo@example.com"), "ghost", ItemQuery{})
	wantCoreErr(t, err, "item-not-found", "cancel", "")
}
