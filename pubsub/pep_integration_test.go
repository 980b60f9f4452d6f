package pubsub_test

// PEP (XEP-0163) end to end: real clients that advertise XEP-0115 caps
// with a real SHA-1 verification string and answer the server's
// disco#info query, roster contacts made with real subscription
// exchanges, and the node profiles clients use (XEP-0402 bookmarks,
// XEP-0084 avatars, OMEMO device lists, XEP-0223 private data).

import (
	"context"
	"strings"
	"testing"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/caps"
	"github.com/gavelhq/gavel/internal/xmpptest"
	"github.com/gavelhq/gavel/pubsub"
	"github.com/gavelhq/gavel/server"
	"github.com/gavelhq/gavel/xmlstream"
)

const (
	nsTune       = "http://jabber.org/protocol/tune"
	nsGeoloc     = "http://jabber.org/protocol/geoloc"
	nsBookmarks  = "urn:xmpp:bookmarks:1"
	nsAvatarData = "urn:xmpp:avatar:data"
	nsAvatarMeta = "urn:xmpp:avatar:metadata"
	nodeDevices  = "eu.siacs.conversations.axolotl.devicelist"
	capsNodeURI  = "https://gavel.test/client"
	nsPublishOpt = "http://jabber.org/protocol/pubsub#publish-options"
)

// capsInfo is the disco#info a test client advertises: one identity and
// the features (a per-client feature makes every client's ver unique, so
// each one is asked once).
func capsInfo(features []string) caps.Info {
	return caps.Info{Identities: []caps.Identity{{Category: "client", Type: "pc", Name: "gavel test"}}, Features: features}
}

func capsVer(t *testing.T, features []string) string {
	t.Helper()
	ver, err := caps.Hash("sha-1", capsInfo(features))
	if err != nil {
		t.Fatal(err)
	}
	return ver
}

// pepLogin logs name in as resource and sends initial presence with caps
// ver. It returns without answering the server's caps query.
func (e *env) pepLogin(name, resource, ver string) *user {
	e.t.Helper()
	c := xmpptest.Dial(e.t, e.ts.C2SAddr)
	c.Domain = e.ts.Domain
	full := c.Login("SCRAM-SHA-256", name, password(name), resource)
	bare := name + "@" + e.ts.Domain
	u := &user{t: e.t, c: c, full: full, bare: bare, svc: bare}
	presence := "<presence/>"
	if ver != "" {
		presence = "<presence><c xmlns='" + caps.NS + "' hash='sha-1' node='" + capsNodeURI + "' ver='" + ver + "'/></presence>"
	}
	u.send(presence)
	return u
}

// pepUser creates name and logs it in advertising features; it answers
// the caps query honestly.
func (e *env) pepUser(name, resource string, features ...string) *user {
	e.t.Helper()
	e.ts.CreateUser(name, password(name))
	return e.pepClient(name, resource, features...)
}

// pepClient logs an existing account in with features and answers the
// server's caps query (its feature set must be new to the server).
func (e *env) pepClient(name, resource string, features ...string) *user {
	e.t.Helper()
	features = append(features, "urn:gavel:test:"+name+":"+resource)
	ver := capsVer(e.t, features)
	u := e.pepLogin(name, resource, ver)
	u.answerCaps(ver, features)
	return u
}

// isCapsQuery matches the server's disco#info query for ver.
func isCapsQuery(ver string) func(*xmlstream.Stanza) bool {
	return func(st *xmlstream.Stanza) bool {
		if st.Name.Local != xmlstream.KindIQ || st.Type() != "get" {
			return false
		}
		el, err := st.Element()
		if err != nil {
			return false
		}
		q := el.Child(caps.NSDiscoInfo, "query")
		return q != nil && q.Attr("node") == capsNodeURI+"#"+ver
	}
}

// answerCaps waits for the caps query for ver and answers with features.
func (u *user) answerCaps(ver string, features []string) {
	u.t.Helper()
	q := u.expect("caps query for "+ver, isCapsQuery(ver))
	// From the bare JID of the account that needs the features: this one,
	// or a contact it sent presence to (XEP-0060 §9.2's example).
	if from, err := jid.Parse(q.From()); err != nil || from.Resourcepart() != "" || from.Localpart() == "" ||
		from.Domainpart() != u.full[strings.IndexByte(u.full, '@')+1:strings.IndexByte(u.full, '/')] {
		u.t.Fatalf("caps query from %q, want a local account's bare JID", q.From())
	}
	var b strings.Builder
	b.WriteString("<iq type='result' id='" + q.ID() + "' to='" + q.From() + "'><query xmlns='" + caps.NSDiscoInfo +
		"' node='" + capsNodeURI + "#" + ver + "'><identity category='client' type='pc' name='gavel test'/>")
	for _, f := range features {
		b.WriteString("<feature var='" + f + "'/>")
	}
	b.WriteString("</query></iq>")
	u.send(b.String())
	u.sync()
}

// sync returns once the server handled everything u sent before: a ping
// round trip on the same stream (the caps answer is verified on it).
func (u *user) sync() {
	u.t.Helper()
	domain := u.bare[strings.IndexByte(u.bare, '@')+1:]
	if res := u.iqTo(domain, "get", "<ping xmlns='urn:xmpp:ping'/>"); res.Type() != "result" {
		u.t.Fatalf("ping: %s", res.Raw)
	}
}

// isPresence matches available presence from full.
func isPresence(full string) func(*xmlstream.Stanza) bool {
	return func(st *xmlstream.Stanza) bool {
		return st.Name.Local == xmlstream.KindPresence && st.From() == full && st.Type() == ""
	}
}

// befriend makes a and b contacts with subscription "both" (RFC 6121
// §3.1), each waiting for the other's side, and each sees the other's
// presence with its caps.
func befriend(a, b *user) {
	a.t.Helper()
	isSub := func(from string) func(*xmlstream.Stanza) bool {
		return func(st *xmlstream.Stanza) bool {
			return st.Name.Local == xmlstream.KindPresence && st.Type() == "subscribe" && st.From() == from
		}
	}
	a.send("<presence type='subscribe' to='" + b.bare + "'/>")
	b.expect("subscription request", isSub(a.bare))
	b.send("<presence type='subscribed' to='" + a.bare + "'/>")
	a.expect("the contact's presence", isPresence(b.full))
	b.send("<presence type='subscribe' to='" + a.bare + "'/>")
	a.expect("subscription request", isSub(b.bare))
	a.send("<presence type='subscribed' to='" + b.bare + "'/>")
	b.expect("the contact's presence", isPresence(a.full))
}

// pepEvent matches a notification from the PEP service host.
func pepEvent(host string, match func(ev *xmlstream.Element) bool) func(*xmlstream.Stanza) bool {
	return func(st *xmlstream.Stanza) bool {
		if st.Name.Local != xmlstream.KindMessage || st.From() != host {
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

func publishOptions(pairs ...string) string {
	return "<publish-options>" + form(nsPublishOpt, pairs...) + "</publish-options>"
}

func tune(title string) string {
	return "<tune xmlns='" + nsTune + "'><artist>Gerald Finzi</artist><title>" + title + "</title></tune>"
}

// TestPEPNotifyFiltering: publish auto-creates the node (XEP-0163 §3);
// the owner's resources and contacts that asked with +notify get the
// notification from the account's bare JID (§4.3.1), a contact without
// +notify does not (§4.2), nor does a stranger that sent presence with
// +notify (access model presence), nor a contact whose caps hash does not
// verify (XEP-0115 §5.4).
func TestPEPNotifyFiltering(t *testing.T) {
	e := startEnv(t, nil)
	juliet := e.pepUser("juliet", "balcony", nsTune+"+notify")
	romeo := e.pepUser("romeo", "orchard", nsTune, nsTune+"+notify")
	nurse := e.pepUser("nurse", "chamber", nsTune)
	benvolio := e.pepUser("benvolio", "street", nsTune+"+notify")
	befriend(juliet, romeo)
	befriend(juliet, nurse)

	// Mallory is a contact whose ver is the hash of features without
	// +notify while its disco#info answer claims +notify: not trusted.
	e.ts.CreateUser("mallory", password("mallory"))
	honest := []string{nsTune, "urn:gavel:test:mallory"}
	lie := append([]string{nsTune + "+notify"}, honest...)
	malVer := capsVer(t, honest)
	mallory := e.pepLogin("mallory", "cellar", malVer)
	mallory.answerCaps(malVer, lie)
	befriend(juliet, mallory)

	// The stranger shares presence without a subscription (directed).
	benvolio.send("<presence to='" + juliet.bare + "'><c xmlns='" + caps.NS + "' hash='sha-1' node='" + capsNodeURI +
		"' ver='" + capsVer(t, []string{nsTune + "+notify", "urn:gavel:test:benvolio:street"}) + "'/></presence>")
	juliet.expect("benvolio's directed presence", isPresence(benvolio.full))

	id := juliet.publish(nsTune, "", tune("Introduction (Allegro vigoroso)"))
	isTune := pepEvent(juliet.bare, itemEvent(nsTune, id))
	msg := parse(t, romeo.expect("tune notification", isTune))
	if msg.Attr("to") != romeo.full {
		t.Fatalf("notification to %q, want the contact's full JID: %s", msg.Attr("to"), msg.String())
	}
	if it := eventItem(msg); it == nil || it.Child(nsTune, "tune") == nil {
		t.Fatalf("notification without the payload: %s", msg.String())
	}
	juliet.expect("the owner's own notification", isTune)
	nurse.nothing("a notification without +notify", isTune)
	benvolio.nothing("a notification to a stranger", isTune)
	mallory.nothing("a notification from unverified caps", isTune)

	// The contact may retrieve; the stranger may not (presence access).
	if got := romeo.iqTo(juliet.bare, "get", ps("<items node='"+nsTune+"'/>")); got.Type() != "result" {
		t.Fatalf("a contact's retrieval: %s", got.Raw)
	}
	res := benvolio.iqTo(juliet.bare, "get", ps("<items node='"+nsTune+"'/>"))
	checkError(t, res, "auth", "not-authorized", "presence-subscription-required")

	// Caps that change mid-session to add geoloc+notify: the last geoloc
	// item arrives without a new login (XEP-0163 §4.3.4 spirit: the
	// interest is new).
	juliet.publish(nsGeoloc, "here", "<geoloc xmlns='"+nsGeoloc+"'><locality>Verona</locality></geoloc>")
	romeo.nothing("a geoloc notification before asking", pepEvent(juliet.bare, itemEvent(nsGeoloc, "here")))
	more := []string{nsTune + "+notify", nsGeoloc + "+notify", "urn:gavel:test:romeo:orchard:2"}
	ver2 := capsVer(t, more)
	romeo.send("<presence><c xmlns='" + caps.NS + "' hash='sha-1' node='" + capsNodeURI + "' ver='" + ver2 + "'/></presence>")
	romeo.answerCaps(ver2, more)
	last := parse(t, romeo.expect("the last geoloc item", pepEvent(juliet.bare, itemEvent(nsGeoloc, "here"))))
	if last.Child(nsDelay, "delay") == nil {
		t.Fatalf("last item without <delay/>: %s", last.String())
	}
}

// TestPEPLastItemOnPresenceAndCapsCache: a contact's resource that comes
// online with +notify gets the last item (XEP-0163 §4.3.4), with a
// <delay/>; a second resource with the same caps is not asked again (the
// verified ver is cached, XEP-0115 §6.2), and neither after a restart
// (the cache is in the Store).
func TestPEPLastItemOnPresenceAndCapsCache(t *testing.T) {
	e := startEnv(t, nil)
	juliet := e.pepUser("juliet", "balcony", nsTune+"+notify")
	romeo := e.pepUser("romeo", "orchard", nsTune+"+notify")
	befriend(juliet, romeo)
	juliet.publish(nsTune, "t1", tune("first"))
	juliet.publish(nsTune, "t2", tune("second"))
	romeo.expect("live notification", pepEvent(juliet.bare, itemEvent(nsTune, "t2")))

	features := []string{nsTune + "+notify", "urn:gavel:test:shared"}
	ver := capsVer(t, features)
	phone := e.pepLogin("romeo", "phone", ver)
	phone.answerCaps(ver, features)
	msg := parse(t, phone.expect("last item on presence", pepEvent(juliet.bare, itemEvent(nsTune, "t2"))))
	if msg.Child(nsDelay, "delay") == nil || msg.Attr("to") != phone.full {
		t.Fatalf("last item: %s", msg.String())
	}
	phone.nothing("an older item", pepEvent(juliet.bare, itemEvent(nsTune, "t1")))

	// Same ver on another resource: no query, still the last item.
	pad := e.pepLogin("romeo", "pad", ver)
	pad.expect("last item on presence", pepEvent(juliet.bare, itemEvent(nsTune, "t2")))
	pad.nothing("a caps query for a cached ver", isCapsQuery(ver))

	// A subsequent presence (not initial) sends nothing again.
	pad.send("<presence><show>away</show><c xmlns='" + caps.NS + "' hash='sha-1' node='" + capsNodeURI + "' ver='" + ver + "'/></presence>")
	pad.nothing("a repeated last item", pepEvent(juliet.bare, itemEvent(nsTune, "t2")))

	// Unavailable, then back: initial again.
	pad.send("<presence type='unavailable'/>")
	pad.send("<presence><c xmlns='" + caps.NS + "' hash='sha-1' node='" + capsNodeURI + "' ver='" + ver + "'/></presence>")
	pad.expect("last item after coming back", pepEvent(juliet.bare, itemEvent(nsTune, "t2")))

	// After a restart the ver is still known.
	dir := e.ts.DataDir
	shutdown(t, e.ts)
	e2 := startEnv(t, func(c *server.Config) { c.DataDir = dir })
	again := e2.pepLogin("romeo", "desk", ver)
	again.nothing("a caps query after restart", isCapsQuery(ver))
}

// TestPEPBookmarksAndPrivateData: XEP-0402 publishes with publish-options
// (persist_items, max_items max, send_last_published_item never,
// access_model whitelist); other options against the existing node are
// precondition-not-met (XEP-0060 §7.1.5); a contact can neither read nor
// be notified. XEP-0223 private data likewise.
func TestPEPBookmarksAndPrivateData(t *testing.T) {
	e := startEnv(t, nil)
	juliet := e.pepUser("juliet", "balcony", nsBookmarks+"+notify")
	romeo := e.pepUser("romeo", "orchard", nsBookmarks+"+notify")
	befriend(juliet, romeo)
	phone := e.pepClient("juliet", "phone", nsBookmarks+"+notify")

	bookmarkOpts := publishOptions("pubsub#persist_items", "true", "pubsub#max_items", "max",
		"pubsub#send_last_published_item", "never", "pubsub#access_model", "whitelist")
	for _, room := range []string{"theplay@conference.shakespeare.lit", "orchard@conference.shakespeare.lit"} {
		juliet.ok("set", ps("<publish node='"+nsBookmarks+"'><item id='"+room+"'><conference xmlns='"+nsBookmarks+
			"' name='The Play' autojoin='true'><nick>JC</nick></conference></item></publish>"+bookmarkOpts))
		phone.expect("bookmark on the owner's other resource", pepEvent(juliet.bare, itemEvent(nsBookmarks, room)))
	}
	romeo.nothing("someone else's bookmarks", pepEvent(juliet.bare, itemEvent(nsBookmarks, "theplay@conference.shakespeare.lit")))
	// max_items max: both kept.
	if ids := itemIDs(juliet.ok("get", ps("<items node='"+nsBookmarks+"'/>"))); len(ids) != 2 {
		t.Fatalf("bookmarks kept: %v", ids)
	}
	res := romeo.iqTo(juliet.bare, "get", ps("<items node='"+nsBookmarks+"'/>"))
	checkError(t, res, "cancel", "not-allowed", "closed-node")
	// A publish whose preconditions the node does not meet.
	juliet.fails("set", ps("<publish node='"+nsBookmarks+"'><item id='x@y'><conference xmlns='"+nsBookmarks+"'/></item></publish>"+
		publishOptions("pubsub#access_model", "presence")), "cancel", "conflict", "precondition-not-met")
	// send_last_published_item never: a new resource gets nothing.
	pad := e.pepClient("juliet", "pad", nsBookmarks+"+notify")
	pad.nothing("a bookmark on presence", pepEvent(juliet.bare, func(*xmlstream.Element) bool { return true }))

	// XEP-0223: private data in a whitelist node.
	juliet.ok("set", ps("<publish node='storage:bookmarks'><item id='current'><storage xmlns='storage:bookmarks'/></item></publish>"+
		publishOptions("pubsub#persist_items", "true", "pubsub#access_model", "whitelist")))
	res = romeo.iqTo(juliet.bare, "get", ps("<items node='storage:bookmarks'/>"))
	checkError(t, res, "cancel", "not-allowed", "closed-node")
	if ids := itemIDs(juliet.ok("get", ps("<items node='storage:bookmarks'/>"))); len(ids) != 1 || ids[0] != "current" {
		t.Fatalf("private data: %v", ids)
	}
}

// TestPEPAvatarsDevicesAndDisco: XEP-0084 data and metadata nodes; an
// OMEMO device list published with access_model open that a stranger
// retrieves; the account's disco (XEP-0163 §6: identity pubsub/pep, the
// features; disco#items lists only the nodes the requester may see).
func TestPEPAvatarsDevicesAndDisco(t *testing.T) {
	e := startEnv(t, nil)
	juliet := e.pepUser("juliet", "balcony")
	romeo := e.pepUser("romeo", "orchard", nsAvatarMeta+"+notify")
	benvolio := e.pepUser("benvolio", "street")
	befriend(juliet, romeo)

	const hash = "111f4b3c50d7b0df729d299bc6f8e9ef9066971f"
	juliet.publish(nsAvatarData, hash, "<data xmlns='"+nsAvatarData+"'>iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==</data>")
	juliet.publish(nsAvatarMeta, hash, "<metadata xmlns='"+nsAvatarMeta+"'><info bytes='70' id='"+hash+"' height='1' type='image/png' width='1'/></metadata>")
	romeo.expect("avatar metadata", pepEvent(juliet.bare, itemEvent(nsAvatarMeta, hash)))
	romeo.nothing("avatar data (no +notify for it)", pepEvent(juliet.bare, itemEvent(nsAvatarData, hash)))
	data := parse(t, romeo.iqTo(juliet.bare, "get", ps("<items node='"+nsAvatarData+"'><item id='"+hash+"'/></items>")))
	if !strings.Contains(data.String(), "iVBORw0KGgo") {
		t.Fatalf("avatar data: %s", data.String())
	}

	juliet.ok("set", ps("<publish node='"+nodeDevices+"'><item id='current'><list xmlns='eu.siacs.conversations.axolotl'><device id='12345'/></list></item></publish>"+
		publishOptions("pubsub#access_model", "open")))
	got := benvolio.iqTo(juliet.bare, "get", ps("<items node='"+nodeDevices+"'/>"))
	if got.Type() != "result" || !strings.Contains(string(got.Raw), "12345") {
		t.Fatalf("a stranger reads an open device list: %s", got.Raw)
	}

	// Only the owner publishes or creates on its PEP service.
	res := romeo.iqTo(juliet.bare, "set", ps("<publish node='"+nsAvatarMeta+"'><item id='x'><metadata xmlns='"+nsAvatarMeta+"'/></item></publish>"))
	checkError(t, res, "auth", "forbidden", "")
	// No auto-create for others: the node does not exist (XEP-0060 §7.1.3.3).
	res = romeo.iqTo(juliet.bare, "set", ps("<publish node='urn:new'><item id='x'><x xmlns='urn:new'/></item></publish>"))
	checkError(t, res, "cancel", "item-not-found", "")
	res = romeo.iqTo(juliet.bare, "set", ps("<create node='urn:other'/>"))
	checkError(t, res, "auth", "forbidden", "")

	// Disco of the account.
	info := romeo.iqTo(juliet.bare, "get", "<query xmlns='http://jabber.org/protocol/disco#info'/>")
	for _, want := range []string{"category='pubsub' type='pep'", "category='account'", pubsub.NSPubSub + "#publish-options",
		pubsub.NSPubSub + "#auto-create", pubsub.NSPubSub + "#filtered-notifications", pubsub.NSPubSub + "#pubsub-on-a-jid"} {
		if !strings.Contains(string(info.Raw), want) {
			t.Fatalf("account disco#info lacks %s: %s", want, info.Raw)
		}
	}
	items := romeo.iqTo(juliet.bare, "get", "<query xmlns='http://jabber.org/protocol/disco#items'/>")
	for _, node := range []string{nsAvatarData, nsAvatarMeta, nodeDevices} {
		if !strings.Contains(string(items.Raw), "node='"+node+"'") {
			t.Fatalf("contact's disco#items lacks %s: %s", node, items.Raw)
		}
	}
	stranger := benvolio.iqTo(juliet.bare, "get", "<query xmlns='http://jabber.org/protocol/disco#items'/>")
	if !strings.Contains(string(stranger.Raw), "node='"+nodeDevices+"'") || strings.Contains(string(stranger.Raw), "node='"+nsAvatarMeta+"'") {
		t.Fatalf("a stranger's disco#items must list the open node only: %s", stranger.Raw)
	}
	nodeInfo := romeo.iqTo(juliet.bare, "get", "<query xmlns='http://jabber.org/protocol/disco#info' node='"+nsAvatarMeta+"'/>")
	if nodeInfo.Type() != "result" || !strings.Contains(string(nodeInfo.Raw), "type='leaf'") {
		t.Fatalf("node disco#info: %s", nodeInfo.Raw)
	}
	res = benvolio.iqTo(juliet.bare, "get", "<query xmlns='http://jabber.org/protocol/disco#info' node='"+nsAvatarMeta+"'/>")
	checkError(t, res, "cancel", "item-not-found", "")
}

// TestPEPAccountDeletion: deleting an account deletes its nodes.
func TestPEPAccountDeletion(t *testing.T) {
	e := startEnv(t, nil)
	juliet := e.pepUser("juliet", "balcony")
	juliet.publish(nsTune, "t1", tune("gone soon"))
	juliet.c.Close()
	if err := e.ts.Accounts.Delete(context.Background(), jid.MustParse(juliet.bare)); err != nil {
		t.Fatal(err)
	}
	e.ts.CreateUser("juliet", password("juliet"))
	again := e.pepClient("juliet", "balcony2")
	again.fails("get", ps("<items node='"+nsTune+"'/>"), "cancel", "item-not-found", "")
}
