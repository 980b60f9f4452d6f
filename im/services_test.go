package im

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/auth"
	"github.com/gavelhq/gavel/data"
	"github.com/gavelhq/gavel/router"
	"github.com/gavelhq/gavel/xmlstream"
)

// Fixture for the offline and service tests: a Server for example.org on a
// real router and an in-memory store. Stanzas the server sends to full JIDs
// and to remote.test are captured instead of delivered, so these tests do not
// depend on the presence/delivery code.

const (
	svcDomain = "example.org"
	svcAnon   = "anon.example.org"
	svcRemote = "romeo@remote.test/home"
)

var svcClock = time.Date(2025, 3, 14, 15, 9, 26, 535_000_000, time.UTC)

type svcFixture struct {
	t      *testing.T
	srv    *Server
	router *router.Router
	store  data.Store
	acc    *auth.Accounts

	mu   sync.Mutex
	sent []*xmlstream.Stanza
}

func newSvcFixture(t *testing.T, o Options) *svcFixture {
	t.Helper()
	st, err := data.OpenInMemory()
	if err != nil {
		t.Fatalf("OpenInMemory: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	if o.Domain == "" {
		o.Domain = svcDomain
	}
	if o.AnonymousDomain == "" {
		o.AnonymousDomain = svcAnon
	}
	f := &svcFixture{t: t, router: router.New(router.Options{}), store: st}
	f.acc = auth.New(st, auth.Options{AnonymousDomain: o.AnonymousDomain})
	f.srv = New(o, f.router, st, f.acc, nil)
	f.srv.state.services.clock = func() time.Time { return svcClock }
	local := router.HandlerFunc(func(ctx context.Context, s *xmlstream.Stanza) {
		if to, err := jid.Parse(s.To()); err == nil && to.Localpart() != "" && to.Resourcepart() != "" {
			f.capture(s)
			return
		}
		f.srv.HandleStanza(ctx, s)
	})
	f.router.HandleDomain(o.Domain, local, true)
	f.router.HandleDomain(o.AnonymousDomain, local, true)
	f.router.HandleRemote(router.HandlerFunc(func(_ context.Context, s *xmlstream.Stanza) { f.capture(s) }))
	return f
}

func (f *svcFixture) capture(s *xmlstream.Stanza) {
	f.mu.Lock()
	f.sent = append(f.sent, s)
	f.mu.Unlock()
}

// take returns and forgets the captured stanzas, serialized.
func (f *svcFixture) take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, s := range f.sent {
		out = append(out, string(s.Raw))
	}
	f.sent = nil
	return out
}

// route sends raw (a jabber:client stanza) through the router as if a stream had read it.
func (f *svcFixture) route(raw string) {
	f.t.Helper()
	f.router.Route(context.Background(), parseStanza(f.t, raw))
}

// exchange routes raw and expects exactly one stanza back.
func (f *svcFixture) exchange(raw, want string) {
	f.t.Helper()
	f.route(raw)
	got := f.take()
	if len(got) != 1 || got[0] != want {
		f.t.Fatalf("sent\n  %s\ngot\n  %q\nwant\n  %q", raw, got, want)
	}
}

// silent routes raw and expects no answer at all.
func (f *svcFixture) silent(raw string) {
	f.t.Helper()
	f.route(raw)
	if got := f.take(); len(got) != 0 {
		f.t.Fatalf("sent\n  %s\ngot %q, want no answer", raw, got)
	}
}

func parseStanza(t *testing.T, raw string) *xmlstream.Stanza {
	t.Helper()
	st, err := xmlstream.ParseStanza([]byte(raw), xmlstream.NSClient, xmlstream.Limits{})
	if err != nil {
		t.Fatalf("ParseStanza(%s): %v", raw, err)
	}
	return st
}

// svcSession is a bound session that records what it is sent. It refuses
// (like a closed session) once it accepted acceptN stanzas, if acceptN >= 0.
type svcSession struct {
	jid     jid.JID
	mu      sync.Mutex
	got     []*xmlstream.Stanza
	acceptN int
}

func newSvcSession(full string) *svcSession {
	return &svcSession{jid: jid.MustParse(full), acceptN: -1}
}

func (s *svcSession) JID() jid.JID { return s.jid }
func (s *svcSession) Send(st *xmlstream.Stanza) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.acceptN >= 0 && len(s.got) >= s.acceptN {
		return false
	}
	s.got = append(s.got, st)
	return true
}
func (s *svcSession) Close(condition, text string) {}

func (s *svcSession) received() []*xmlstream.Stanza {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.got)
}

// bind makes an account exist for the router (a bound resource).
func (f *svcFixture) bind(full string) *svcSession {
	f.t.Helper()
	sess := newSvcSession(full)
	if _, err := f.router.Bind(sess, sess.jid.Bare(), sess.jid.Resourcepart()); err != nil {
		f.t.Fatalf("Bind: %v", err)
	}
	return sess
}

const (
	stanzasNS = "urn:ietf:params:xml:ns:xmpp-stanzas"
	svcFrom   = "from='example.org' to='romeo@remote.test/home'"
)

func TestServerDiscoInfo(t *testing.T) {
	f := newSvcFixture(t, Options{SoftwareName: "Gavel"})
	f.srv.AddServerFeature("urn:example:extra", "msgoffline") // a duplicate is listed once
	f.srv.AddServerIdentity(xmlstream.NewElement(nsDiscoInfo, "identity", "category", "pubsub", "type", "pep"))

	f.srv.mu.RLock()
	features := slices.Clone(f.srv.serverFeatures)
	f.srv.mu.RUnlock()
	for _, want := range []string{nsDiscoInfo, nsDiscoItems, "msgoffline", nsPing, nsVersion, nsTime, "urn:example:extra"} {
		if !slices.Contains(features, want) {
			t.Errorf("server features %q lack %q", features, want)
		}
	}
	slices.Sort(features)
	features = slices.Compact(features)
	var fx strings.Builder
	for _, v := range features {
		fx.WriteString("<feature var='" + v + "'/>")
	}
	f.exchange(
		`<iq from='romeo@remote.test/home' to='example.org' id='d1' type='get'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`,
		`<iq `+svcFrom+` id='d1' type='result'><query xmlns='http://jabber.org/protocol/disco#info'>`+
			`<identity category='server' type='im' name='Gavel'/><identity category='pubsub' type='pep'/>`+
			fx.String()+`</query></iq>`)

	// XEP-0030 §7: an unknown node does not exist.
	f.exchange(
		`<iq from='romeo@remote.test/home' to='example.org' id='d2' type='get'><query xmlns='http://jabber.org/protocol/disco#info' node='urn:example:no-such-node'/></iq>`,
		`<iq `+svcFrom+` id='d2' type='error'><error type='cancel'><item-not-found xmlns='`+stanzasNS+`'/></error></iq>`)
	f.exchange(
		`<iq from='romeo@remote.test/home' to='example.org' id='d3' type='set'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`,
		`<iq `+svcFrom+` id='d3' type='error'><error type='cancel'><feature-not-implemented xmlns='`+stanzasNS+`'/>`+
			`<text xmlns='`+stanzasNS+`'>only iq get is defined for this namespace</text></error></iq>`)
}

func TestServerDiscoItems(t *testing.T) {
	f := newSvcFixture(t, Options{})
	f.exchange(
		`<iq from='romeo@remote.test/home' to='example.org' id='i0' type='get'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>`,
		`<iq `+svcFrom+` id='i0' type='result'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>`)
	f.srv.AddServerItem("conference.example.org", "Chatrooms")
	f.srv.AddServerItem("auction.example.org", "")
	f.srv.AddServerItem("conference.example.org", "Rooms") // replaces the name, keeps the place
	f.exchange(
		`<iq from='romeo@remote.test/home' to='example.org' id='i1' type='get'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>`,
		`<iq `+svcFrom+` id='i1' type='result'><query xmlns='http://jabber.org/protocol/disco#items'>`+
			`<item jid='conference.example.org' name='Rooms'/><item jid='auction.example.org'/></query></iq>`)
	f.exchange(
		`<iq from='romeo@remote.test/home' to='example.org' id='i2' type='get'><query xmlns='http://jabber.org/protocol/disco#items' node='x'/></iq>`,
		`<iq `+svcFrom+` id='i2' type='error'><error type='cancel'><item-not-found xmlns='`+stanzasNS+`'/></error></iq>`)
}

func TestAccountDisco(t *testing.T) {
	f := newSvcFixture(t, Options{})
	f.bind("juliet@example.org/balcony")
	f.bind("guest1@anon.example.org/x")
	f.srv.AddAccountFeature("urn:example:pep")

	f.srv.mu.RLock()
	features := slices.Clone(f.srv.accountFeatures)
	f.srv.mu.RUnlock()
	slices.Sort(features)
	features = slices.Compact(features)
	if !slices.Contains(features, nsDiscoInfo) || !slices.Contains(features, nsPing) {
		t.Fatalf("account features %q", features)
	}
	var fx strings.Builder
	for _, v := range features {
		fx.WriteString("<feature var='" + v + "'/>")
	}
	infoReply := func(from, to, id, typ string) string {
		return `<iq from='` + from + `' to='` + to + `' id='` + id + `' type='result'><query xmlns='http://jabber.org/protocol/disco#info'>` +
			`<identity category='account' type='` + typ + `'/>` + fx.String() + `</query></iq>`
	}

	// The owner asks about its own account (from another resource).
	f.exchange(
		`<iq from='juliet@example.org/chamber' to='juliet@example.org' id='a1' type='get'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`,
		infoReply("juliet@example.org", "juliet@example.org/chamber", "a1", "registered"))
	f.exchange(
		`<iq from='guest1@anon.example.org/x' to='guest1@anon.example.org' id='a2' type='get'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`,
		infoReply("guest1@anon.example.org", "guest1@anon.example.org/x", "a2", "anonymous"))

	// A stranger learns nothing (XEP-0030 §8): service-unavailable, as for a missing account.
	strangerReq := `<iq from='romeo@remote.test/home' to='juliet@example.org' id='a3' type='get'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`
	unavailable := `<iq from='juliet@example.org' to='romeo@remote.test/home' id='a3' type='error'><error type='cancel'><service-unavailable xmlns='` + stanzasNS + `'/></error></iq>`
	f.exchange(strangerReq, unavailable)
	f.exchange(strings.Replace(strangerReq, "juliet@", "nobody@", 1), strings.Replace(unavailable, "juliet@", "nobody@", 1))

	// With a presence subscription the contact is answered.
	var asked []string
	f.srv.state.services.presenceAuthorized = func(_ context.Context, owner, requester jid.JID) bool {
		asked = append(asked, owner.String()+" "+requester.String())
		return requester.String() == "romeo@remote.test"
	}
	f.exchange(strangerReq, infoReply("juliet@example.org", "romeo@remote.test/home", "a3", "registered"))
	if want := []string{"juliet@example.org romeo@remote.test"}; !slices.Equal(asked, want) {
		t.Errorf("authorization asked %q, want %q", asked, want)
	}
	f.exchange(
		`<iq from='romeo@remote.test/home' to='juliet@example.org' id='a4' type='get'><query xmlns='http://jabber.org/protocol/disco#info' node='n'/></iq>`,
		`<iq from='juliet@example.org' to='romeo@remote.test/home' id='a4' type='error'><error type='cancel'><item-not-found xmlns='`+stanzasNS+`'/></error></iq>`)

	// disco#items never lists resources: empty for everyone, node mirrored.
	f.exchange(
		`<iq from='romeo@remote.test/home' to='juliet@example.org' id='a5' type='get'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>`,
		`<iq from='juliet@example.org' to='romeo@remote.test/home' id='a5' type='result'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>`)
	f.exchange(
		`<iq from='juliet@example.org/chamber' to='juliet@example.org' id='a6' type='get'><query xmlns='http://jabber.org/protocol/disco#items' node='n'/></iq>`,
		`<iq from='juliet@example.org' to='juliet@example.org/chamber' id='a6' type='result'><query xmlns='http://jabber.org/protocol/disco#items' node='n'/></iq>`)
}

func TestPing(t *testing.T) {
	f := newSvcFixture(t, Options{})
	f.bind("juliet@example.org/balcony")
	f.exchange(`<iq from='romeo@remote.test/home' to='example.org' id='p1' type='get'><ping xmlns='urn:xmpp:ping'/></iq>`,
		`<iq `+svcFrom+` id='p1' type='result'/>`)
	// XEP-0199 §4.2: a ping to a bare JID is answered by the server for the account.
	f.exchange(`<iq from='romeo@remote.test/home' to='juliet@example.org' id='p2' type='get'><ping xmlns='urn:xmpp:ping'/></iq>`,
		`<iq from='juliet@example.org' to='romeo@remote.test/home' id='p2' type='result'/>`)
	f.exchange(`<iq from='romeo@remote.test/home' to='example.org' id='p3' type='set'><ping xmlns='urn:xmpp:ping'/></iq>`,
		`<iq `+svcFrom+` id='p3' type='error'><error type='cancel'><feature-not-implemented xmlns='`+stanzasNS+`'/>`+
			`<text xmlns='`+stanzasNS+`'>only iq get is defined for this namespace</text></error></iq>`)
}

func TestVersionAndTime(t *testing.T) {
	f := newSvcFixture(t, Options{SoftwareName: "Gavel", SoftwareVersion: "1.2.3"})
	f.exchange(`<iq from='romeo@remote.test/home' to='example.org' id='v1' type='get'><query xmlns='jabber:iq:version'/></iq>`,
		`<iq `+svcFrom+` id='v1' type='result'><query xmlns='jabber:iq:version'><name>Gavel</name><version>1.2.3</version></query></iq>`)
	f.exchange(`<iq from='romeo@remote.test/home' to='example.org' id='t1' type='get'><time xmlns='urn:xmpp:time'/></iq>`,
		`<iq `+svcFrom+` id='t1' type='result'><time xmlns='urn:xmpp:time'><tzo>+00:00</tzo><utc>2025-03-14T15:09:26.535Z</utc></time></iq>`)

	d := newSvcFixture(t, Options{})
	d.exchange(`<iq from='romeo@remote.test/home' to='example.org' id='v2' type='get'><query xmlns='jabber:iq:version'/></iq>`,
		`<iq `+svcFrom+` id='v2' type='result'><query xmlns='jabber:iq:version'><name>Gavel</name><version>dev</version></query></iq>`)
	// Version is the server's, not the account's: a bare JID does not answer it.
	d.bind("juliet@example.org/balcony")
	d.exchange(`<iq from='romeo@remote.test/home' to='juliet@example.org' id='v3' type='get'><query xmlns='jabber:iq:version'/></iq>`,
		`<iq from='juliet@example.org' to='romeo@remote.test/home' id='v3' type='error'><error type='cancel'><service-unavailable xmlns='`+stanzasNS+`'/></error></iq>`)
}

func TestToServer(t *testing.T) {
	f := newSvcFixture(t, Options{})
	// iq results and errors to the server are consumed (RFC 6120 §8.2.3).
	f.silent(`<iq from='romeo@remote.test/home' to='example.org' id='r1' type='result'/>`)
	f.silent(`<iq from='romeo@remote.test/home' to='example.org' id='r2' type='error'><error type='cancel'><service-unavailable xmlns='` + stanzasNS + `'/></error></iq>`)

	f.exchange(`<message from='romeo@remote.test/home' to='example.org' id='m1' type='chat'><body>hi</body></message>`,
		`<message `+svcFrom+` id='m1' type='error'><body>hi</body><error type='cancel'><service-unavailable xmlns='`+stanzasNS+`'/></error></message>`)
	f.exchange(`<message from='romeo@remote.test/home' to='example.org'><body>hi</body></message>`,
		`<message `+svcFrom+` type='error'><body>hi</body><error type='cancel'><service-unavailable xmlns='`+stanzasNS+`'/></error></message>`)
	f.exchange(`<message from='romeo@remote.test/home' to='example.org' type='groupchat'><body>hi</body></message>`,
		`<message `+svcFrom+` type='error'><body>hi</body><error type='cancel'><service-unavailable xmlns='`+stanzasNS+`'/></error></message>`)
	f.silent(`<message from='romeo@remote.test/home' to='example.org' type='headline'><body>news</body></message>`)
	f.silent(`<message from='romeo@remote.test/home' to='example.org' type='error'><error type='cancel'><service-unavailable xmlns='` + stanzasNS + `'/></error></message>`)

	f.exchange(`<presence from='romeo@remote.test/home' to='example.org' type='probe'/>`,
		`<presence from='example.org' to='romeo@remote.test' type='unsubscribed'/>`)
	f.exchange(`<presence from='romeo@remote.test' to='example.org' type='subscribe' id='s1'/>`,
		`<presence from='example.org' to='romeo@remote.test' type='unsubscribed'/>`)
	f.silent(`<presence from='romeo@remote.test/home' to='example.org'/>`)
	f.silent(`<presence from='romeo@remote.test/home' to='example.org' type='unavailable'/>`)
	f.silent(`<presence from='romeo@remote.test' to='example.org' type='unsubscribed'/>`)

	// Nothing is bound at domain/resource.
	f.exchange(`<message from='romeo@remote.test/home' to='example.org/x' type='chat'><body>hi</body></message>`,
		`<message from='example.org/x' to='romeo@remote.test/home' type='error'><body>hi</body><error type='cancel'><service-unavailable xmlns='`+stanzasNS+`'/></error></message>`)
}
