package pubsub_test

// XEP-0060 end to end, continued: access models on subscribe (§6.1.3),
// node and service limits, who may create nodes, and auto-create (§7.1.4).

import (
	"strings"
	"testing"

	"github.com/gavelhq/gavel/pubsub"
	"github.com/gavelhq/gavel/server"
)

func TestIntegrationAccessAndLimits(t *testing.T) {
	e := startEnv(t, func(c *server.Config) { c.PubSub.MaxSubscriptionsPerJID = 2 })
	ann, ben := e.user("ann"), e.user("ben")

	// §6.1.3.2-§6.1.3.4: the access models refuse a stranger.
	ann.create("whitelisted", "pubsub#access_model", "whitelist")
	ben.fails("set", ps("<subscribe node='whitelisted' jid='"+ben.bare+"'/>"), "cancel", "not-allowed", "closed-node")
	ann.create("contacts", "pubsub#access_model", "presence")
	ben.fails("set", ps("<subscribe node='contacts' jid='"+ben.bare+"'/>"), "auth", "not-authorized", "presence-subscription-required")
	ann.create("friends", "pubsub#access_model", "roster", "pubsub#roster_groups_allowed", "Friends")
	ben.fails("set", ps("<subscribe node='friends' jid='"+ben.bare+"'/>"), "auth", "not-authorized", "not-in-roster-group")
	// A member of a whitelist node may.
	ann.ok("set", owner("<affiliations node='whitelisted'><affiliation jid='"+ben.bare+"' affiliation='member'/></affiliations>"))
	ben.subscribe("whitelisted", ben.bare)

	// §6.1.3.10: subscriptions switched off.
	ann.create("nosubs", "pubsub#subscribe", "0")
	e2 := ben.fails("set", ps("<subscribe node='nosubs' jid='"+ben.bare+"'/>"), "cancel", "feature-not-implemented", "unsupported")
	if u := e2.Child(pubsub.NSPubSubErrors, "unsupported"); u.Attr("feature") != "subscribe" {
		t.Fatalf("unsupported feature %q", u.Attr("feature"))
	}

	// §6.1.3.9: too many subscriptions of one JID (limit 2 here).
	ann.create("busy")
	ben.subscribe("busy", ben.bare)
	subOpts := func(body string) string {
		return ps("<subscribe node='busy' jid='" + ben.bare + "'/><options>" +
			form("http://jabber.org/protocol/pubsub#subscribe_options", "pubsub#include_body", body) + "</options>")
	}
	ben.ok("set", subOpts("1"))
	ben.fails("set", ps("<subscribe node='busy' jid='"+ben.bare+"'/><options>"+
		form("http://jabber.org/protocol/pubsub#subscribe_options", "pubsub#digest", "1")+"</options>"),
		"wait", "policy-violation", "too-many-subscriptions")

	// §7.1.3.5: a payload over the node's max_payload_size.
	ann.create("small", "pubsub#max_payload_size", "128")
	ann.fails("set", ps("<publish node='small'><item>"+entry(strings.Repeat("x", 200))+"</item></publish>"),
		"modify", "not-acceptable", "payload-too-big")
	ann.publish("small", "fits", entry("ok"))

	// §7.1.4: publishing to a missing node creates it for whoever may
	// create nodes, configured by the publish-options.
	ann.ok("set", ps("<publish node='fresh'><item id='1'>"+entry("first")+"</item></publish><publish-options>"+
		form("http://jabber.org/protocol/pubsub#publish-options", "pubsub#access_model", "whitelist")+"</publish-options>"))
	vals := formValues(ann.ok("get", owner("<configure node='fresh'/>")).
		Child(pubsub.NSPubSubOwner, "pubsub").Child(pubsub.NSPubSubOwner, "configure").Child(nsData, "x"))
	if first(vals["pubsub#access_model"]) != "whitelist" {
		t.Fatalf("auto-created node configuration: %v", vals)
	}
}

func TestIntegrationCreatePolicyAdmins(t *testing.T) {
	e := startEnv(t, func(c *server.Config) { c.PubSub.Create = "admins" })
	ann := e.user("ann")
	// §8.1.1: the service may keep node creation to its admins.
	ann.fails("set", ps("<create node='mine'/>"), "auth", "forbidden", "")
	ann.fails("set", ps("<create/>"), "auth", "forbidden", "")
	// No auto-create either: the node does not exist (§7.1.3.3).
	ann.fails("set", ps("<publish node='mine'><item>"+entry("x")+"</item></publish>"), "cancel", "item-not-found", "")
}
