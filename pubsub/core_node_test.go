package pubsub

// Node lifecycle: create (§8.1), configure (§8.2), default (§8.3), delete
// (§8.4), purge (§8.5), discovery (§5.2-5.4), hosts and node ids.

import (
	"slices"
	"strings"
	"testing"

	"github.com/gavelhq/gavel/data"
)

func TestCreateDefaultAndOwner(t *testing.T) {
	e := newCoreEnv(t, nil)
	got, err := e.svc.Create(bgCtx, coreHost, jidOf("juliet@example.com/balcony"), "princely_musings", nil)
	mustOK(t, err)
	if got != "princely_musings" {
		t.Fatalf("node = %q", got)
	}
	affs, err := e.svc.NodeAffiliations(bgCtx, coreHost, jidOf("juliet@example.com"), "princely_musings")
	mustOK(t, err)
	if len(affs) != 1 || affs[0].JID.String() != "juliet@example.com" || affs[0].Affiliation != AffOwner {
		t.Fatalf("affiliations = %+v", affs)
	}
	cfg, err := e.svc.NodeConfig(bgCtx, coreHost, jidOf("juliet@example.com"), "princely_musings")
	mustOK(t, err)
	if cfg.AccessModel != DefaultConfig().AccessModel || cfg.MaxItems != DefaultConfig().MaxItems {
		t.Fatalf("config = %+v", cfg)
	}
	info, err := e.svc.Info(bgCtx, coreHost, jidOf("romeo@example.com"), "princely_musings")
	mustOK(t, err)
	if info.Creator.String() != "juliet@example.com" || !info.Created.Equal(coreStart) || len(info.Owners) != 1 {
		t.Fatalf("info = %+v", info)
	}
}

func TestCreateInstantNode(t *testing.T) {
	e := newCoreEnv(t, nil)
	a, err := e.svc.Create(bgCtx, coreHost, jidOf("juliet@example.com"), "", nil)
	mustOK(t, err)
	b, err := e.svc.Create(bgCtx, coreHost, jidOf("juliet@example.com"), "", nil)
	mustOK(t, err)
	if a == "" || a == b {
		t.Fatalf("instant nodes %q %q", a, b)
	}
	nodes, err := e.svc.Nodes(bgCtx, coreHost, jidOf("romeo@example.com"), "", 0)
	mustOK(t, err)
	if len(nodes) != 2 {
		t.Fatalf("nodes = %v", nodes)
	}
}

func TestCreateErrors(t *testing.T) {
	e := newCoreEnv(t, nil)
	e.createNode("juliet@example.com", "n", nil)
	_, err := e.svc.Create(bgCtx, coreHost, jidOf("juliet@example.com"), "n", nil)
	wantCoreErr(t, err, "conflict", "cancel", "")
	// CreateLocalUsers: a remote user may not create.
	_, err = e.svc.Create(bgCtx, coreHost, jidOf("mallory@evil.example"), "m", nil)
	wantCoreErr(t, err, "forbidden", "auth", "")
	// Admins may, whatever their domain.
	_, err = e.svc.Create(bgCtx, coreHost, jidOf("admin@example.com"), "m", nil)
	mustOK(t, err)
	c := e.svc.DefaultConfig()
	c.AccessModel = "secret-handshake"
	_, err = e.svc.Create(bgCtx, coreHost, jidOf("juliet@example.com"), "x", &c)
	wantCoreErr(t, err, "not-acceptable", "modify", "unsupported-access-model")
	c = e.svc.DefaultConfig()
	c.MaxItems = e.svc.opts.MaxItemsLimit + 1
	_, err = e.svc.Create(bgCtx, coreHost, jidOf("juliet@example.com"), "x", &c)
	wantCoreErr(t, err, "not-acceptable", "modify", "")
	_, err = e.svc.Create(bgCtx, "other.example.com", jidOf("juliet@example.com"), "x", nil)
	wantCoreErr(t, err, "item-not-found", "cancel", "")
	_, err = e.svc.Create(bgCtx, coreHost, jidOf("juliet@example.com"), strings.Repeat("n", maxNodeIDLen+1), nil)
	wantCoreErr(t, err, "bad-request", "modify", "")
}

func TestCreatePolicies(t *testing.T) {
	admins := newCoreEnv(t, func(o *Options) { o.Create = CreateAdmins })
	_, err := admins.svc.Create(bgCtx, coreHost, jidOf("juliet@example.com"), "n", nil)
	wantCoreErr(t, err, "forbidden", "auth", "")
	_, err = admins.svc.Create(bgCtx, coreHost, jidOf("admin@example.com"), "n", nil)
	mustOK(t, err)
	anyone := newCoreEnv(t, func(o *Options) { o.Create = CreateAnyone })
	_, err = anyone.svc.Create(bgCtx, coreHost, jidOf("stranger@far.example"), "n", nil)
	mustOK(t, err)
}

func TestNodeIDRequired(t *testing.T) {
	e := newCoreEnv(t, nil)
	wantCoreErr(t, e.svc.Delete(bgCtx, coreHost, jidOf("juliet@example.com"), "", ""), "bad-request", "modify", "nodeid-required")
	_, err := e.svc.NodeConfig(bgCtx, coreHost, jidOf("juliet@example.com"), "")
	wantCoreErr(t, err, "bad-request", "modify", "nodeid-required")
	wantCoreErr(t, e.svc.Retract(bgCtx, coreHost, jidOf("juliet@example.com"), "", []string{"a"}, false), "bad-request", "modify", "nodeid-required")
}

func TestConfigure(t *testing.T) {
	e := newCoreEnv(t, nil)
	e.createNode("juliet@example.com", "n", func(c *Config) { c.NotifyConfig = true; c.MaxItems = 5 })
	_, err := e.svc.Subscribe(bgCtx, coreHost, jidOf("romeo@example.com"), "n", jidOf("romeo@example.com"), nil)
	mustOK(t, err)
	for i := range 5 {
		e.publish("juliet@example.com", "n", string(rune('a'+i)), "x")
	}
	e.rec.take()
	// Not an owner: forbidden (§8.2.3.2).
	_, err = e.svc.NodeConfig(bgCtx, coreHost, jidOf("romeo@example.com"), "n")
	wantCoreErr(t, err, "forbidden", "auth", "")
	cfg, err := e.svc.NodeConfig(bgCtx, coreHost, jidOf("juliet@example.com"), "n")
	mustOK(t, err)
	wantCoreErr(t, e.svc.Configure(bgCtx, coreHost, jidOf("romeo@example.com"), "n", cfg), "forbidden", "auth", "")
	wantCoreErr(t, e.svc.Configure(bgCtx, coreHost, jidOf("juliet@example.com"), "nope", cfg), "item-not-found", "cancel", "")
	cfg.Title = "Princely Musings"
	cfg.MaxItems = 2
	mustOK(t, e.svc.Configure(bgCtx, coreHost, jidOf("juliet@example.com"), "n", cfg))
	got, err := e.svc.NodeConfig(bgCtx, coreHost, jidOf("juliet@example.com"), "n")
	mustOK(t, err)
	if got.Title != "Princely Musings" || got.MaxItems != 2 {
		t.Fatalf("config = %+v", got)
	}
	// Lowering max_items trimmed the oldest items.
	page, err := e.svc.Items(bgCtx, coreHost, jidOf("romeo@example.com"), "n", ItemQuery{})
	mustOK(t, err)
	if ids := coreItemIDs(page.Items); !slices.Equal(ids, []string{"e", "d"}) {
		t.Fatalf("items after trim = %v", ids)
	}
	// notify_config: subscribers hear of it (§8.2.5).
	evs := eventsOf(e.rec.take(), EventConfig)
	if len(evs) != 1 || !slices.Equal(recipientAddrs(evs[0].to), []string{"romeo@example.com"}) || evs[0].ev.Config.Title != "Princely Musings" {
		t.Fatalf("config events = %+v", evs)
	}
	bad := got
	bad.AccessModel = "nope"
	wantCoreErr(t, e.svc.Configure(bgCtx, coreHost, jidOf("juliet@example.com"), "n", bad), "not-acceptable", "modify", "unsupported-access-model")
}

func TestConfigurePersistOffDropsItems(t *testing.T) {
	e := newCoreEnv(t, nil)
	e.createNode("juliet@example.com", "n", nil)
	e.publish("juliet@example.com", "n", "a", "x")
	e.publish("juliet@example.com", "n", "b", "y")
	cfg, err := e.svc.NodeConfig(bgCtx, coreHost, jidOf("juliet@example.com"), "n")
	mustOK(t, err)
	cfg.PersistItems = false
	mustOK(t, e.svc.Configure(bgCtx, coreHost, jidOf("juliet@example.com"), "n", cfg))
	count := 0
	mustOK(t, e.store.Scan(bgCtx, data.PubSubItemPrefix(coreHost, "n"), nil, 0, func(_, _ []byte, _ uint64) bool { count++; return true }))
	if count != 0 {
		t.Fatalf("%d items left in the store", count)
	}
}

func TestDefaultConfig(t *testing.T) {
	e := newCoreEnv(t, nil)
	if got := e.svc.DefaultConfig(); got.AccessModel != AccessOpen || !got.PersistItems {
		t.Fatalf("default = %+v", got)
	}
	pep := newCoreEnv(t, func(o *Options) { o.PEP = true; o.Host = "" })
	if got := pep.svc.DefaultConfig(); got.AccessModel != AccessPresence {
		t.Fatalf("PEP default = %+v", got)
	}
}

func TestDeleteWithRedirect(t *testing.T) {
	e := newCoreEnv(t, nil)
	e.createNode("juliet@example.com", "n", nil)
	e.createNode("juliet@example.com", "other", nil)
	_, err := e.svc.Subscribe(bgCtx, coreHost, jidOf("romeo@example.com"), "n", jidOf("romeo@example.com"), nil)
	mustOK(t, err)
	mustOK(t, coreSetAff(e, "n", "nurse@example.com", AffPublisher))
	e.publish("juliet@example.com", "n", "a", "x")
	e.rec.take()
	wantCoreErr(t, e.svc.Delete(bgCtx, coreHost, jidOf("romeo@example.com"), "n", ""), "forbidden", "auth", "")
	wantCoreErr(t, e.svc.Delete(bgCtx, coreHost, jidOf("juliet@example.com"), "nope", ""), "item-not-found", "cancel", "")
	redirect := "xmpp:" + coreHost + "?;node=other"
	mustOK(t, e.svc.Delete(bgCtx, coreHost, jidOf("juliet@example.com"), "n", redirect))
	evs := eventsOf(e.rec.take(), EventDelete)
	if len(evs) != 1 || evs[0].ev.Redirect != redirect || !slices.Equal(recipientAddrs(evs[0].to), []string{"romeo@example.com"}) {
		t.Fatalf("delete events = %+v", evs)
	}
	_, err = e.svc.Info(bgCtx, coreHost, jidOf("juliet@example.com"), "n")
	wantCoreErr(t, err, "item-not-found", "cancel", "")
	// Nothing of it is left in the Store.
	for _, prefix := range [][]byte{
		data.PubSubNodeKey(coreHost, "n"), data.PubSubAffPrefix(coreHost, "n"), data.PubSubSubPrefix(coreHost, "n"),
		data.PubSubItemPrefix(coreHost, "n"), data.PubSubJIDSubPrefix(coreHost, "romeo@example.com"),
		data.PubSubJIDAffPrefix(coreHost, "nurse@example.com"),
	} {
		mustOK(t, e.store.Scan(bgCtx, prefix, nil, 0, func(k, _ []byte, _ uint64) bool {
			t.Errorf("left behind: %q", k)
			return true
		}))
	}
	last, first, err := e.store.Last(bgCtx, data.PubSubItemsStream(coreHost, "n"))
	mustOK(t, err)
	if last+1 != first {
		t.Fatalf("item log not empty: %d..%d", first, last)
	}
	// The other node is untouched and the id can be reused.
	if _, err := e.svc.Info(bgCtx, coreHost, jidOf("juliet@example.com"), "other"); err != nil {
		t.Fatal(err)
	}
	e.createNode("juliet@example.com", "n", nil)
	page, err := e.svc.Items(bgCtx, coreHost, jidOf("juliet@example.com"), "n", ItemQuery{})
	mustOK(t, err)
	if len(page.Items) != 0 {
		t.Fatalf("recreated node has items %v", coreItemIDs(page.Items))
	}
}

func TestDeleteWithoutNotifyDelete(t *testing.T) {
	e := newCoreEnv(t, nil)
	e.createNode("juliet@example.com", "n", func(c *Config) { c.NotifyDelete = false })
	_, err := e.svc.Subscribe(bgCtx, coreHost, jidOf("romeo@example.com"), "n", jidOf("romeo@example.com"), nil)
	mustOK(t, err)
	e.rec.take()
	mustOK(t, e.svc.Delete(bgCtx, coreHost, jidOf("juliet@example.com"), "n", ""))
	if evs := eventsOf(e.rec.take(), EventDelete); len(evs) != 0 {
		t.Fatalf("delete events without notify_delete: %+v", evs)
	}
}

func TestPurge(t *testing.T) {
	e := newCoreEnv(t, nil)
	e.castNode()
	e.publish("juliet@example.com", "n", "a", "x")
	e.rec.take()
	wantCoreErr(t, e.svc.Purge(bgCtx, coreHost, jidOf("romeo@example.com"), "n"), "forbidden", "auth", "")
	wantCoreErr(t, e.svc.Purge(bgCtx, coreHost, jidOf("tybalt@example.com"), "n"), "forbidden", "auth", "")
	wantCoreErr(t, e.svc.Purge(bgCtx, coreHost, jidOf("juliet@example.com"), "nope"), "item-not-found", "cancel", "")
	mustOK(t, e.svc.Purge(bgCtx, coreHost, jidOf("nurse@example.com"), "n")) // publishers may purge (table 4)
	page, err := e.svc.Items(bgCtx, coreHost, jidOf("romeo@example.com"), "n", ItemQuery{})
	mustOK(t, err)
	if len(page.Items) != 0 {
		t.Fatalf("items after purge: %v", coreItemIDs(page.Items))
	}
	evs := eventsOf(e.rec.take(), EventPurge)
	if len(evs) != 1 || !slices.Equal(recipientAddrs(evs[0].to), []string{"romeo@example.com"}) {
		t.Fatalf("purge events = %+v", evs)
	}
	e.createNode("juliet@example.com", "transient", func(c *Config) { c.PersistItems = false })
	wantCoreErr(t, e.svc.Purge(bgCtx, coreHost, jidOf("juliet@example.com"), "transient"), "feature-not-implemented", "cancel", "unsupported")
}

func TestNodesVisibilityAndCount(t *testing.T) {
	e := newCoreEnv(t, nil)
	e.createNode("juliet@example.com", "a-open", nil)
	e.createNode("juliet@example.com", "b-white", func(c *Config) { c.AccessModel = AccessWhitelist })
	e.createNode("juliet@example.com", "c-presence", func(c *Config) { c.AccessModel = AccessPresence })
	e.createNode("juliet@example.com", "d-auth", func(c *Config) { c.AccessModel = AccessAuthorize })
	e.rel.set("juliet@example.com", "nurse@example.com", "both")
	count, err := e.svc.CountNodes(bgCtx, coreHost)
	mustOK(t, err)
	if count != 4 {
		t.Fatalf("count = %d", count)
	}
	cases := map[string][]string{
		"juliet@example.com": {"a-open", "b-white", "c-presence", "d-auth"},
		"admin@example.com":  {"a-open", "b-white", "c-presence", "d-auth"},
		"romeo@example.com":  {"a-open", "d-auth"},
		"nurse@example.com":  {"a-open", "c-presence", "d-auth"},
	}
	for who, want := range cases {
		got, err := e.svc.Nodes(bgCtx, coreHost, jidOf(who), "", 0)
		mustOK(t, err)
		if !slices.Equal(got, want) {
			t.Errorf("%s sees %v, want %v", who, got, want)
		}
	}
	got, err := e.svc.Nodes(bgCtx, coreHost, jidOf("juliet@example.com"), "a-open", 2)
	mustOK(t, err)
	if !slices.Equal(got, []string{"b-white", "c-presence"}) {
		t.Fatalf("page = %v", got)
	}
	_, err = e.svc.Info(bgCtx, coreHost, jidOf("romeo@example.com"), "b-white")
	wantCoreErr(t, err, "item-not-found", "cancel", "")
	mustOK(t, coreSetAff(e, "b-white", "romeo@example.com", AffMember))
	if _, err := e.svc.Info(bgCtx, coreHost, jidOf("romeo@example.com"), "b-white"); err != nil {
		t.Fatal(err)
	}
}

func TestInfoCounts(t *testing.T) {
	e := newCoreEnv(t, nil)
	e.createNode("juliet@example.com", "n", nil)
	mustOK(t, coreSetAff(e, "n", "nurse@example.com", AffPublisher))
	for _, who := range []string{"romeo@example.com", "benvolio@example.com"} {
		_, err := e.svc.Subscribe(bgCtx, coreHost, jidOf(who), "n", jidOf(who), nil)
		mustOK(t, err)
	}
	e.publish("nurse@example.com", "n", "a", "x")
	e.publish("nurse@example.com", "n", "b", "x")
	info, err := e.svc.Info(bgCtx, coreHost, jidOf("romeo@example.com"), "n")
	mustOK(t, err)
	if info.Subscribers != 2 || info.Items != 2 || len(info.Publishers) != 1 || info.Publishers[0].String() != "nurse@example.com" {
		t.Fatalf("info = %+v", info)
	}
}

func TestDeleteHost(t *testing.T) {
	e := newCoreEnv(t, func(o *Options) { o.PEP = true; o.Host = "" })
	for _, n := range []string{"urn:xmpp:avatar:data", "urn:xmpp:avatar:metadata", "http://jabber.org/protocol/tune"} {
		e.publish("juliet@example.com/balcony", n, "", "x")
	}
	_, err := e.svc.Publish(bgCtx, "romeo@example.com", jidOf("romeo@example.com/x"), "http://jabber.org/protocol/tune",
		[]Item{{Payload: atomPayload(coreNSAtom, "y")}}, nil)
	mustOK(t, err)
	mustOK(t, e.svc.DeleteHost(bgCtx, "juliet@example.com"))
	count, err := e.svc.CountNodes(bgCtx, "juliet@example.com")
	mustOK(t, err)
	if count != 0 {
		t.Fatalf("%d nodes left", count)
	}
	mustOK(t, e.store.Scan(bgCtx, []byte("pubsub/"), nil, 0, func(k, _ []byte, _ uint64) bool {
		if strings.Contains(string(k), "juliet@example.com") {
			t.Errorf("left behind: %q", k)
		}
		return true
	}))
	count, err = e.svc.CountNodes(bgCtx, "romeo@example.com")
	mustOK(t, err)
	if count != 1 {
		t.Fatalf("romeo has %d nodes", count)
	}
}

// coreSetAff makes bare's affiliation with node what a (by the node's first
// owner, juliet).
func coreSetAff(e *coreEnv, node, bare string, a Affiliation) error {
	failed, err := e.svc.ModifyAffiliations(bgCtx, e.host(), jidOf("juliet@example.com"), node, []Affiliate{{JID: jidOf(bare), Affiliation: a}})
	if err == nil && len(failed) > 0 {
		return &Error{Cond: "failed", Type: "test"}
	}
	return err
}
