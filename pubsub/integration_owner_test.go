package pubsub_test

// XEP-0060 end to end, continued: the owner's use cases (§8), subscription
// options and multiple subscriptions (§6.3, §6.1.6, §12.7), the approval
// flow (§8.6), the last published item (§6.1.7), and restart persistence.

import (
	"strings"
	"testing"

	"github.com/gavelhq/gavel/pubsub"
	"github.com/gavelhq/gavel/server"
	"github.com/gavelhq/gavel/xmlstream"
)

func TestIntegrationCreateConfigureDelete(t *testing.T) {
	e := startEnv(t, nil)
	ann, ben := e.user("ann"), e.user("ben")

	// §8.1.2 with default configuration; a second time conflicts.
	ann.create("princely_musings")
	ann.fails("set", ps("<create node='princely_musings'/>"), "cancel", "conflict", "")
	// Instant node: the service names it.
	res := ann.ok("set", ps("<create/>"))
	instant := res.Child(pubsub.NSPubSub, "pubsub").Child(pubsub.NSPubSub, "create").Attr("node")
	if instant == "" {
		t.Fatalf("instant node result: %s", res.String())
	}
	ann.ok("get", "<query xmlns='http://jabber.org/protocol/disco#info' node='"+instant+"'/>")
	// §8.1.3 create and configure; <configure/> must follow and take no node.
	ann.create("configured", "pubsub#title", "Princely Musings (Atom)", "pubsub#access_model", "whitelist", "pubsub#max_items", "20")
	ann.fails("set", ps("<configure>"+nodeConfig()+"</configure><create node='x'/>"), "modify", "bad-request", "")
	ann.fails("set", ps("<create node='y'/><configure node='y'>"+nodeConfig()+"</configure>"), "modify", "bad-request", "")
	ann.fails("set", ps("<create node='coll'/><configure>"+nodeConfig("pubsub#node_type", "collection")+"</configure>"),
		"cancel", "feature-not-implemented", "unsupported")
	ann.fails("set", ps("<create node='bad'/><configure>"+nodeConfig("pubsub#access_model", "nobody")+"</configure>"),
		"modify", "not-acceptable", "unsupported-access-model")
	ann.fails("set", ps("<create node='bad'/><configure>"+nodeConfig("pubsub#max_items", "many")+"</configure>"),
		"modify", "not-acceptable", "")

	// §8.2: the form shows the configuration; a submission changes what it names.
	conf := ann.ok("get", owner("<configure node='configured'/>"))
	x := conf.Child(pubsub.NSPubSubOwner, "pubsub").Child(pubsub.NSPubSubOwner, "configure").Child(nsData, "x")
	vals := formValues(x)
	if x.Attr("type") != "form" || vals["FORM_TYPE"][0] != "http://jabber.org/protocol/pubsub#node_config" ||
		vals["pubsub#title"][0] != "Princely Musings (Atom)" || vals["pubsub#access_model"][0] != "whitelist" || vals["pubsub#max_items"][0] != "20" {
		t.Fatalf("configuration form: %v", vals)
	}
	ann.ok("set", owner("<configure node='configured'>"+nodeConfig("pubsub#access_model", "open")+"</configure>"))
	vals = formValues(ann.ok("get", owner("<configure node='configured'/>")).
		Child(pubsub.NSPubSubOwner, "pubsub").Child(pubsub.NSPubSubOwner, "configure").Child(nsData, "x"))
	if vals["pubsub#access_model"][0] != "open" || vals["pubsub#title"][0] != "Princely Musings (Atom)" {
		t.Fatalf("after submission: %v", vals)
	}
	ann.ok("set", owner("<configure node='configured'><x xmlns='jabber:x:data' type='cancel'/></configure>"))
	ben.fails("get", owner("<configure node='configured'/>"), "auth", "forbidden", "")
	ben.fails("set", owner("<configure node='configured'>"+nodeConfig("pubsub#title", "Mine")+"</configure>"), "auth", "forbidden", "")
	ann.fails("get", owner("<configure/>"), "modify", "bad-request", "nodeid-required")
	ann.fails("get", owner("<configure node='nope'/>"), "cancel", "item-not-found", "")
	ann.fails("set", owner("<configure node='configured'/>"), "modify", "bad-request", "")

	// §8.3 default configuration; collections are not offered.
	def := ann.ok("get", owner("<default/>"))
	if formValues(def.Child(pubsub.NSPubSubOwner, "pubsub").Child(pubsub.NSPubSubOwner, "default").Child(nsData, "x"))["pubsub#access_model"][0] != "open" {
		t.Fatalf("default configuration: %s", def.String())
	}
	ann.fails("get", owner("<default type='collection'/>"), "cancel", "feature-not-implemented", "unsupported")

	// Configuration change notifications (§8.2.5) with the form.
	ann.ok("set", owner("<configure node='princely_musings'>"+nodeConfig("pubsub#notify_config", "1", "pubsub#notify_delete", "1", "pubsub#notify_retract", "1")+"</configure>"))
	ben.subscribe("princely_musings", ben.bare)
	ann.ok("set", owner("<configure node='princely_musings'>"+nodeConfig("pubsub#title", "Renamed")+"</configure>"))
	msg := ben.event("configuration notification", func(ev *xmlstream.Element) bool {
		return ev.Child(pubsub.NSPubSubEvent, "configuration") != nil
	})
	c := msg.Child(pubsub.NSPubSubEvent, "event").Child(pubsub.NSPubSubEvent, "configuration")
	if c.Attr("node") != "princely_musings" || formValues(c.Child(nsData, "x"))["pubsub#title"][0] != "Renamed" {
		t.Fatalf("configuration notification: %s", msg.String())
	}

	// §8.5 purge, notified.
	ann.publish("princely_musings", "a", entry("a"))
	ben.event("item", itemEvent("princely_musings", "a"))
	ben.fails("set", owner("<purge node='princely_musings'/>"), "auth", "forbidden", "")
	ann.ok("set", owner("<purge node='princely_musings'/>"))
	ben.event("purge notification", func(ev *xmlstream.Element) bool {
		p := ev.Child(pubsub.NSPubSubEvent, "purge")
		return p != nil && p.Attr("node") == "princely_musings"
	})
	if ids := itemIDs(ann.ok("get", ps("<items node='princely_musings'/>"))); len(ids) != 0 {
		t.Fatalf("items after purge: %v", ids)
	}
	ann.fails("set", owner("<purge node='nope'/>"), "cancel", "item-not-found", "")

	// §8.4 delete with a redirect, notified.
	ben.fails("set", owner("<delete node='princely_musings'/>"), "auth", "forbidden", "")
	ann.ok("set", owner("<delete node='princely_musings'><redirect uri='xmpp:"+e.svc+"?;node=configured'/></delete>"))
	msg = ben.event("deletion notification", func(ev *xmlstream.Element) bool {
		return ev.Child(pubsub.NSPubSubEvent, "delete") != nil
	})
	del := msg.Child(pubsub.NSPubSubEvent, "event").Child(pubsub.NSPubSubEvent, "delete")
	if del.Attr("node") != "princely_musings" || del.Child(pubsub.NSPubSubEvent, "redirect").Attr("uri") != "xmpp:"+e.svc+"?;node=configured" {
		t.Fatalf("deletion notification: %s", msg.String())
	}
	ann.fails("set", owner("<delete node='princely_musings'/>"), "cancel", "item-not-found", "")
	ann.fails("set", owner("<delete/>"), "modify", "bad-request", "nodeid-required")
	ann.fails("get", owner("<delete node='configured'/>"), "modify", "bad-request", "")
}

func TestIntegrationManageSubscriptionsAffiliations(t *testing.T) {
	e := startEnv(t, nil)
	ann, ben, cat := e.user("ann"), e.user("ben"), e.user("cat")
	ann.create("n")
	ben.subscribe("n", ben.bare)

	// §8.8.1: the owner's list.
	subs := ann.ok("get", owner("<subscriptions node='n'/>")).Child(pubsub.NSPubSubOwner, "pubsub").Child(pubsub.NSPubSubOwner, "subscriptions")
	if subs.Attr("node") != "n" || !strings.Contains(subs.String(), "jid='"+ben.bare+"'") || !strings.Contains(subs.String(), "subscription='subscribed'") {
		t.Fatalf("subscriptions: %s", subs.String())
	}
	ben.fails("get", owner("<subscriptions node='n'/>"), "auth", "forbidden", "")
	ann.fails("get", owner("<subscriptions node='nope'/>"), "cancel", "item-not-found", "")

	// §8.8.2: the owner subscribes cat and removes ben; both are told (§8.8.4).
	ann.ok("set", owner("<subscriptions node='n'><subscription jid='"+cat.bare+"' subscription='subscribed'/>"+
		"<subscription jid='"+ben.bare+"' subscription='none'/></subscriptions>"))
	cat.event("subscription notification", func(ev *xmlstream.Element) bool {
		s := ev.Child(pubsub.NSPubSubEvent, "subscription")
		return s != nil && s.Attr("jid") == cat.bare && s.Attr("subscription") == "subscribed"
	})
	ben.event("unsubscription notification", func(ev *xmlstream.Element) bool {
		s := ev.Child(pubsub.NSPubSubEvent, "subscription")
		return s != nil && s.Attr("jid") == ben.bare && s.Attr("subscription") == "none"
	})
	ann.publish("n", "after", entry("after"))
	cat.event("item", itemEvent("n", "after"))
	ben.noEvent("item after removal", itemEvent("n", "after"))

	// §5.6/§5.7: an entity's own subscriptions and affiliations.
	own := cat.ok("get", ps("<subscriptions/>")).Child(pubsub.NSPubSub, "pubsub").Child(pubsub.NSPubSub, "subscriptions")
	if s := own.Child(pubsub.NSPubSub, "subscription"); s == nil || s.Attr("node") != "n" || s.Attr("jid") != cat.bare {
		t.Fatalf("own subscriptions: %s", own.String())
	}
	affs := ann.ok("get", ps("<affiliations/>")).Child(pubsub.NSPubSub, "pubsub").Child(pubsub.NSPubSub, "affiliations")
	if a := affs.Child(pubsub.NSPubSub, "affiliation"); a == nil || a.Attr("node") != "n" || a.Attr("affiliation") != "owner" {
		t.Fatalf("own affiliations: %s", affs.String())
	}
	if len(ben.ok("get", ps("<affiliations/>")).Child(pubsub.NSPubSub, "pubsub").Child(pubsub.NSPubSub, "affiliations").Elements()) != 0 {
		t.Fatal("ben has affiliations")
	}

	// §8.9: make ben a publisher, cat an outcast.
	ben.fails("set", ps("<publish node='n'><item>"+entry("x")+"</item></publish>"), "auth", "forbidden", "")
	ann.ok("set", owner("<affiliations node='n'><affiliation jid='"+ben.bare+"' affiliation='publisher'/>"+
		"<affiliation jid='"+cat.bare+"' affiliation='outcast'/></affiliations>"))
	ben.publish("n", "by-ben", entry("by ben"))
	cat.fails("get", ps("<items node='n'/>"), "auth", "forbidden", "")
	cat.fails("set", ps("<subscribe node='n' jid='"+cat.bare+"'/>"), "auth", "forbidden", "")
	list := ann.ok("get", owner("<affiliations node='n'/>")).Child(pubsub.NSPubSubOwner, "pubsub").Child(pubsub.NSPubSubOwner, "affiliations")
	got := map[string]string{}
	for _, a := range list.ChildrenNamed(pubsub.NSPubSubOwner, "affiliation") {
		got[a.Attr("jid")] = a.Attr("affiliation")
	}
	if got[ann.bare] != "owner" || got[ben.bare] != "publisher" || got[cat.bare] != "outcast" {
		t.Fatalf("affiliations: %v", got)
	}
	ben.fails("get", owner("<affiliations node='n'/>"), "auth", "forbidden", "")
	ann.fails("set", owner("<affiliations node='n'><affiliation jid='"+ben.bare+"' affiliation='king'/></affiliations>"), "modify", "bad-request", "")
	ann.fails("set", owner("<affiliations node='n'><affiliation jid='"+ben.bare+"' affiliation='member'/>"+
		"<affiliation jid='"+ben.bare+"' affiliation='none'/></affiliations>"), "modify", "bad-request", "")

	// §8.9.2.4: the last owner cannot go; the error names the entry, unchanged.
	st := ann.iq("set", owner("<affiliations node='n'><affiliation jid='"+ann.bare+"' affiliation='none'/></affiliations>"))
	checkError(t, st, "modify", "not-acceptable", "")
	failed := parse(t, st).Child(pubsub.NSPubSubOwner, "pubsub").Child(pubsub.NSPubSubOwner, "affiliations").Child(pubsub.NSPubSubOwner, "affiliation")
	if failed == nil || failed.Attr("jid") != ann.bare || failed.Attr("affiliation") != "owner" {
		t.Fatalf("failed entry: %s", st.Raw)
	}
}

func TestIntegrationSubscriptionOptionsAndSubIDs(t *testing.T) {
	e := startEnv(t, nil)
	ann, ben := e.user("ann"), e.user("ben")
	ann.create("n")

	// §6.4 default options; §6.3.7 subscribe and configure at once.
	def := ben.ok("get", ps("<default/>")).Child(pubsub.NSPubSub, "pubsub").Child(pubsub.NSPubSub, "default")
	if formValues(def.Child(nsData, "x"))["FORM_TYPE"][0] != "http://jabber.org/protocol/pubsub#subscribe_options" {
		t.Fatalf("default options: %s", def.String())
	}
	res := ben.ok("set", ps("<subscribe node='n' jid='"+ben.bare+"'/><options>"+
		form("http://jabber.org/protocol/pubsub#subscribe_options", "pubsub#deliver", "1")+"</options>"))
	p := res.Child(pubsub.NSPubSub, "pubsub")
	first := p.Child(pubsub.NSPubSub, "subscription")
	if first.Attr("subscription") != "subscribed" || first.Attr("subid") == "" {
		t.Fatalf("subscription: %s", res.String())
	}
	if x := p.Child(pubsub.NSPubSub, "options").Child(nsData, "x"); x == nil || x.Attr("type") != "result" {
		t.Fatalf("options in the result: %s", res.String())
	}
	ben.fails("set", ps("<subscribe node='n' jid='"+ben.bare+"'/><options node='n'>"+
		form("http://jabber.org/protocol/pubsub#subscribe_options")+"</options>"), "modify", "bad-request", "")

	// §6.3.2: the options form; §6.3.5: submit it.
	o := ben.ok("get", ps("<options node='n' jid='"+ben.bare+"'/>")).Child(pubsub.NSPubSub, "pubsub").Child(pubsub.NSPubSub, "options")
	if x := o.Child(nsData, "x"); x == nil || x.Attr("type") != "form" || formValues(x)["pubsub#deliver"] == nil {
		t.Fatalf("options form: %s", o.String())
	}
	ben.ok("set", ps("<options node='n' jid='"+ben.bare+"'>"+form("http://jabber.org/protocol/pubsub#subscribe_options", "pubsub#deliver", "1")+"</options>"))
	ben.fails("set", ps("<options node='n' jid='"+ben.bare+"'>"+form("http://jabber.org/protocol/pubsub#subscribe_options", "pubsub#deliver", "maybe")+"</options>"),
		"modify", "bad-request", "invalid-options")
	ben.fails("get", ps("<options node='n'/>"), "modify", "bad-request", "jid-required")
	ben.fails("get", ps("<options node='n' jid='"+ann.bare+"'/>"), "auth", "forbidden", "")
	ann.fails("get", ps("<options node='n' jid='"+ann.bare+"'/>"), "modify", "unexpected-request", "not-subscribed")

	// §6.1.6: subscribing again answers the same subscription; with other
	// options it is a second one, with its own SubID.
	if again := ben.subscribe("n", ben.bare); again.Attr("subid") != first.Attr("subid") {
		t.Fatalf("subscribing again: %s", again.String())
	}
	res = ben.ok("set", ps("<subscribe node='n' jid='"+ben.bare+"'/><options>"+
		form("http://jabber.org/protocol/pubsub#subscribe_options", "pubsub#include_body", "1")+"</options>"))
	second := res.Child(pubsub.NSPubSub, "pubsub").Child(pubsub.NSPubSub, "subscription")
	if second.Attr("subid") == "" || second.Attr("subid") == first.Attr("subid") {
		t.Fatalf("second subscription: %s", second.String())
	}
	// One notification naming both SubIDs (§7.1.2.4, §12.7).
	ann.publish("n", "both", entry("both"))
	msg := ben.event("notification with SubIDs", itemEvent("n", "both"))
	var subids []string
	for _, h := range msg.Child(nsSHIM, "headers").ChildrenNamed(nsSHIM, "header") {
		if h.Attr("name") == "SubID" {
			subids = append(subids, h.Text())
		}
	}
	if len(subids) != 2 || !strings.Contains(strings.Join(subids, " "), first.Attr("subid")) || !strings.Contains(strings.Join(subids, " "), second.Attr("subid")) {
		t.Fatalf("SubID headers %v: %s", subids, msg.String())
	}
	ben.noEvent("a second notification of the same item", itemEvent("n", "both"))

	// With two subscriptions the SubID is needed (§6.2.3.1, §6.3.4.4).
	ben.fails("set", ps("<unsubscribe node='n' jid='"+ben.bare+"'/>"), "modify", "bad-request", "subid-required")
	ben.fails("get", ps("<options node='n' jid='"+ben.bare+"'/>"), "modify", "bad-request", "subid-required")
	ben.fails("set", ps("<unsubscribe node='n' jid='"+ben.bare+"' subid='bogus'/>"), "modify", "not-acceptable", "invalid-subid")
	ben.ok("set", ps("<unsubscribe node='n' jid='"+ben.bare+"' subid='"+second.Attr("subid")+"'/>"))
	ann.publish("n", "one", entry("one"))
	if msg := ben.event("notification", itemEvent("n", "one")); msg.Child(nsSHIM, "headers") != nil {
		t.Fatalf("headers with a single subscription: %s", msg.String())
	}
}

func TestIntegrationAuthorizationFlow(t *testing.T) {
	e := startEnv(t, nil)
	ann, ben, cat := e.user("ann"), e.user("ben"), e.user("cat")
	ann.create("guarded", "pubsub#access_model", "authorize")

	// §6.1.4: pending; the owner gets the §8.6 form.
	s := ben.subscribe("guarded", ben.bare)
	if s.Attr("subscription") != "pending" {
		t.Fatalf("subscription: %s", s.String())
	}
	ben.fails("set", ps("<subscribe node='guarded' jid='"+ben.bare+"'/>"), "auth", "not-authorized", "pending-subscription")
	approval := func(subscriber string) (*xmlstream.Stanza, map[string][]string) {
		st := ann.expect("approval request", func(st *xmlstream.Stanza) bool {
			if st.Name.Local != xmlstream.KindMessage || st.From() != e.svc {
				return false
			}
			x := parse(t, st).Child(nsData, "x")
			return x != nil && formValues(x)["pubsub#subscriber_jid"] != nil && formValues(x)["pubsub#subscriber_jid"][0] == subscriber
		})
		return st, formValues(parse(t, st).Child(nsData, "x"))
	}
	req, vals := approval(ben.bare)
	if vals["FORM_TYPE"][0] != "http://jabber.org/protocol/pubsub#subscribe_authorization" || vals["pubsub#node"][0] != "guarded" {
		t.Fatalf("approval form: %s", req.Raw)
	}
	answer := func(req *xmlstream.Stanza, vals map[string][]string, allow string) {
		pairs := []string{"pubsub#node", "guarded", "pubsub#subscriber_jid", vals["pubsub#subscriber_jid"][0], "pubsub#allow", allow}
		if v := vals["pubsub#subid"]; len(v) > 0 {
			pairs = append(pairs, "pubsub#subid", v[0])
		}
		ann.send("<message to='" + e.svc + "' id='" + req.ID() + "'>" +
			form("http://jabber.org/protocol/pubsub#subscribe_authorization", pairs...) + "</message>")
	}
	// A cancelled form leaves it pending (§8.6).
	ann.send("<message to='" + e.svc + "' id='" + req.ID() + "'><x xmlns='jabber:x:data' type='cancel'>" +
		"<field var='FORM_TYPE'><value>http://jabber.org/protocol/pubsub#subscribe_authorization</value></field></x></message>")
	ben.noEvent("a decision on a cancelled form", func(ev *xmlstream.Element) bool { return ev.Child(pubsub.NSPubSubEvent, "subscription") != nil })
	answer(req, vals, "true")
	ben.event("approval", func(ev *xmlstream.Element) bool {
		s := ev.Child(pubsub.NSPubSubEvent, "subscription")
		return s != nil && s.Attr("node") == "guarded" && s.Attr("jid") == ben.bare && s.Attr("subscription") == "subscribed"
	})
	ann.publish("guarded", "g1", entry("for the approved"))
	ben.event("item after approval", itemEvent("guarded", "g1"))

	// Denied: the subscriber is told none.
	cat.subscribe("guarded", cat.bare)
	req, vals = approval(cat.bare)
	answer(req, vals, "false")
	cat.event("denial", func(ev *xmlstream.Element) bool {
		s := ev.Child(pubsub.NSPubSubEvent, "subscription")
		return s != nil && s.Attr("jid") == cat.bare && s.Attr("subscription") == "none"
	})
	cat.fails("get", ps("<items node='guarded'/>"), "auth", "not-authorized", "not-subscribed")

	// Only an owner decides.
	cat.subscribe("guarded", cat.bare)
	_, vals = approval(cat.bare)
	cat.send("<message to='" + e.svc + "' id='forged'>" + form("http://jabber.org/protocol/pubsub#subscribe_authorization",
		"pubsub#node", "guarded", "pubsub#subscriber_jid", cat.bare, "pubsub#allow", "true", "pubsub#subid", first(vals["pubsub#subid"])) + "</message>")
	st := cat.expect("error", func(st *xmlstream.Stanza) bool { return st.ID() == "forged" })
	checkError(t, st, "auth", "forbidden", "")
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

func TestIntegrationLastPublishedItem(t *testing.T) {
	e := startEnv(t, nil)
	ann, ben := e.user("ann"), e.user("ben")
	ann.create("status", "pubsub#send_last_published_item", "on_sub")
	ann.publish("status", "old", entry("old"))
	ann.publish("status", "latest", entry("latest"))

	// §6.1.7: the last item, delayed, right after subscribing.
	ben.subscribe("status", ben.bare)
	msg := ben.event("last published item", itemEvent("status", "latest"))
	if d := msg.Child(nsDelay, "delay"); d == nil || d.Attr("stamp") == "" {
		t.Fatalf("no delay on the last item: %s", msg.String())
	}
	ben.noEvent("an older item", itemEvent("status", "old"))

	ann.create("quiet", "pubsub#send_last_published_item", "never")
	ann.publish("quiet", "q", entry("q"))
	ben.subscribe("quiet", ben.bare)
	ben.noEvent("an item from a never node", itemEvent("quiet", "q"))
}

func TestIntegrationRestartPersistence(t *testing.T) {
	e := startEnv(t, nil)
	ann, ben := e.user("ann"), e.user("ben")
	ann.create("durable", "pubsub#title", "Durable", "pubsub#max_items", "5")
	ann.publish("durable", "kept", entry("kept"))
	ben.subscribe("durable", ben.bare)
	dir := e.ts.DataDir
	shutdown(t, e.ts)

	e2 := startEnv(t, func(c *server.Config) { c.DataDir = dir })
	ann2, ben2 := e2.login("ann"), e2.login("ben")
	if ids := itemIDs(ben2.ok("get", ps("<items node='durable'/>"))); strings.Join(ids, ",") != "kept" {
		t.Fatalf("items after restart: %v", ids)
	}
	vals := formValues(ann2.ok("get", owner("<configure node='durable'/>")).
		Child(pubsub.NSPubSubOwner, "pubsub").Child(pubsub.NSPubSubOwner, "configure").Child(nsData, "x"))
	if first(vals["pubsub#title"]) != "Durable" || first(vals["pubsub#max_items"]) != "5" {
		t.Fatalf("configuration after restart: %v", vals)
	}
	subs := ben2.ok("get", ps("<subscriptions node='durable'/>"))
	if !strings.Contains(subs.String(), "subscription='subscribed'") {
		t.Fatalf("subscription after restart: %s", subs.String())
	}
	ann2.publish("durable", "fresh", entry("fresh"))
	ben2.event("notification after restart", itemEvent("durable", "fresh"))
}
