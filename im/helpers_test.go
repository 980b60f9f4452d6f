package im

// Shared test helpers: a recording router.Session, a Server over an
// in-memory store with real accounts and router, and canonical XML for
// exact comparisons that do not depend on attribute order.

import (
	"context"
	"fmt"
	"sort"
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

const (
	testDomain = "example.com"
	testAnon   = "anon.example.com"
	testRemote = "remote.test"
)

// fakeSession is a router.Session that records every stanza it is sent.
type fakeSession struct {
	jid    jid.JID
	mu     sync.Mutex
	got    []*xmlstream.Stanza
	closed string
}

func newFakeSession(full string) *fakeSession { return &fakeSession{jid: jid.MustParse(full)} }

func (f *fakeSession) JID() jid.JID { return f.jid }

func (f *fakeSession) Send(st *xmlstream.Stanza) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, st)
	return true
}

func (f *fakeSession) Close(condition, text string) {
	f.mu.Lock()
	f.closed = condition
	f.mu.Unlock()
}

// take returns and forgets what the session received.
func (f *fakeSession) take() []*xmlstream.Stanza {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.got
	f.got = nil
	return out
}

// imFixture is a Server with a real router, in-memory store and accounts
// for testDomain and testAnon. Stanzas routed to any other domain are
// captured as "remote".
type imFixture struct {
	t      *testing.T
	srv    *Server
	router *router.Router
	store  data.Store
	acc    *auth.Accounts

	mu     sync.Mutex
	remote []*xmlstream.Stanza
}

func newIMFixture(t *testing.T) *imFixture {
	t.Helper()
	st, err := data.OpenInMemory()
	if err != nil {
		t.Fatalf("OpenInMemory: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	f := &imFixture{t: t, router: router.New(router.Options{}), store: st}
	f.acc = auth.New(st, auth.Options{AnonymousDomain: testAnon})
	f.srv = New(Options{Domain: testDomain, AnonymousDomain: testAnon}, f.router, st, f.acc, nil)
	f.router.HandleDomain(testDomain, f.srv, true)
	f.router.HandleDomain(testAnon, f.srv, true)
	f.router.HandleRemote(router.HandlerFunc(func(_ context.Context, s *xmlstream.Stanza) {
		f.mu.Lock()
		f.remote = append(f.remote, s)
		f.mu.Unlock()
	}))
	return f
}

// account creates user@testDomain.
func (f *imFixture) account(local string) jid.JID {
	f.t.Helper()
	j := jid.MustParse(local + "@" + testDomain)
	if err := f.acc.Create(context.Background(), j, "secret-"+local); err != nil {
		f.t.Fatalf("Create(%s): %v", j, err)
	}
	return j
}

// login binds a session at full (the account must exist, or be anonymous).
func (f *imFixture) login(full string) *fakeSession {
	f.t.Helper()
	sess := newFakeSession(full)
	if _, err := f.router.Bind(sess, sess.jid.Bare(), sess.jid.Resourcepart()); err != nil {
		f.t.Fatalf("Bind(%s): %v", full, err)
	}
	return sess
}

// logout unbinds sess and tells the server, as c2s does at stream end.
func (f *imFixture) logout(sess *fakeSession) {
	last, bound := f.router.Unbind(sess)
	f.srv.SessionEnded(context.Background(), sess, last, bound)
}

// client processes raw as sent by sess: 'from' stamped with its full JID
// and, for messages and iqs without 'to', 'to' set to its bare JID (what
// c2s does before HandleClient).
func (f *imFixture) client(sess *fakeSession, raw string) {
	f.t.Helper()
	st := mustStanza(f.t, raw)
	pairs := []string{"from", sess.jid.String()}
	if st.Name.Local != xmlstream.KindPresence && st.To() == "" {
		pairs = append(pairs, "to", sess.jid.Bare().String())
	}
	f.srv.HandleClient(context.Background(), sess, st.WithAttrs(pairs...))
}

// route routes raw as if it arrived from a trusted stream (s2s).
func (f *imFixture) route(raw string) {
	f.t.Helper()
	f.router.Route(context.Background(), mustStanza(f.t, raw))
}

// takeRemote returns and forgets the stanzas routed off this server.
func (f *imFixture) takeRemote() []*xmlstream.Stanza {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.remote
	f.remote = nil
	return out
}

func mustStanza(t *testing.T, raw string) *xmlstream.Stanza {
	t.Helper()
	st, err := xmlstream.ParseStanza([]byte(raw), xmlstream.NSClient, xmlstream.Limits{})
	if err != nil {
		t.Fatalf("ParseStanza(%s): %v", raw, err)
	}
	return st
}

// canonElement renders el with sorted attributes and explicit namespaces,
// so equal XML compares equal whatever the attribute order. A top-level
// roster push id ("push-...") becomes "push", and the random id of an
// XEP-0359 <stanza-id/> becomes "SID" (its 'by' is still compared).
func canonElement(el *xmlstream.Element, top bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "<{%s}%s", el.Name.Space, el.Name.Local)
	attrs := make([]string, 0, len(el.Attrs))
	stanzaID := el.Name == xmlstream.Name{Space: "urn:xmpp:sid:0", Local: "stanza-id"}
	for _, a := range el.Attrs {
		v := a.Value
		if top && a.Name.Space == "" && a.Name.Local == "id" && strings.HasPrefix(v, "push-") {
			v = "push"
		}
		if stanzaID && a.Name.Space == "" && a.Name.Local == "id" {
			v = "SID"
		}
		name := a.Name.Local
		if a.Name.Space != "" {
			name = "{" + a.Name.Space + "}" + name
		}
		attrs = append(attrs, fmt.Sprintf(" %s=%q", name, v))
	}
	sort.Strings(attrs)
	for _, a := range attrs {
		b.WriteString(a)
	}
	b.WriteString(">")
	for _, c := range el.Children {
		if c.Elem != nil {
			b.WriteString(canonElement(c.Elem, false))
		} else {
			b.WriteString(c.Text)
		}
	}
	b.WriteString("</" + el.Name.Local + ">")
	return b.String()
}

// canon renders a stanza canonically.
func canon(t *testing.T, st *xmlstream.Stanza) string {
	t.Helper()
	el, err := st.Element()
	if err != nil {
		t.Fatalf("unparsable stanza %q: %v", st.Raw, err)
	}
	return canonElement(el, true)
}

// canonRaw renders jabber:client XML canonically.
func canonRaw(t *testing.T, raw string) string {
	t.Helper()
	el, err := xmlstream.ParseElement([]byte(raw), xmlstream.NSClient, xmlstream.Limits{})
	if err != nil {
		t.Fatalf("ParseElement(%s): %v", raw, err)
	}
	return canonElement(el, true)
}

// expectXML fails unless got holds exactly the stanzas want, in order.
func expectXML(t *testing.T, what string, got []*xmlstream.Stanza, want ...string) {
	t.Helper()
	g := make([]string, len(got))
	for i, st := range got {
		g[i] = canon(t, st)
	}
	w := make([]string, len(want))
	for i, raw := range want {
		w[i] = canonRaw(t, raw)
	}
	if strings.Join(g, "\n") != strings.Join(w, "\n") {
		t.Fatalf("%s received:\n  %s\nwant:\n  %s", what, strings.Join(g, "\n  "), strings.Join(w, "\n  "))
	}
}

// expectNothing fails if sessions received anything.
func expectNothing(t *testing.T, sessions ...*fakeSession) {
	t.Helper()
	for _, s := range sessions {
		if got := s.take(); len(got) != 0 {
			expectXML(t, s.jid.String(), got)
		}
	}
}

// testClock is a settable server clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
