package muc

// Test helpers: a real router and in-memory store, recording sessions bound
// for the local domain (a stand-in for the IM core that delivers to full
// JIDs), and a canonical XML form for exact comparisons that hides only
// what is random (generated ids, occupant-ids, history stamps).

import (
	"context"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/data"
	"github.com/gavelhq/gavel/router"
	"github.com/gavelhq/gavel/xmlstream"
)

const (
	testDomain  = "example.com"
	testService = "conference.example.com"
	testRoom    = "coven@conference.example.com"
)

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type fakeSession struct {
	jid jid.JID
	mu  sync.Mutex
	got []*xmlstream.Stanza
}

func (f *fakeSession) JID() jid.JID { return f.jid }
func (f *fakeSession) Send(st *xmlstream.Stanza) bool {
	f.mu.Lock()
	f.got = append(f.got, st)
	f.mu.Unlock()
	return true
}
func (f *fakeSession) Close(string, string) {}

// take returns what the session received since the last take, canonical.
func (f *fakeSession) take() []string {
	f.mu.Lock()
	got := f.got
	f.got = nil
	f.mu.Unlock()
	out := make([]string, len(got))
	for i, st := range got {
		out[i] = canonicalStanza(st)
	}
	return out
}

// takeRaw returns the received stanzas themselves.
func (f *fakeSession) takeRaw() []*xmlstream.Stanza {
	f.mu.Lock()
	defer f.mu.Unlock()
	got := f.got
	f.got = nil
	return got
}

type fixture struct {
	t      testing.TB
	store  data.Store
	router *router.Router
	svc    *Service
	opts   Options
	users  map[string]*fakeSession
}

// localDelivery stands in for the IM core: stanzas to a bound full JID go
// to its session, to a bare JID to all its sessions.
type localDelivery struct{ r *router.Router }

func (d localDelivery) HandleStanza(ctx context.Context, st *xmlstream.Stanza) {
	to, err := jid.Parse(st.To())
	if err != nil {
		return
	}
	if to.Resourcepart() != "" {
		if res, ok := d.r.Lookup(to); ok {
			res.Session.Send(st)
		}
		return
	}
	for _, res := range d.r.Resources(to.String()) {
		res.Session.Send(st)
	}
}

func newFixture(t testing.TB, mutate func(*Options)) *fixture {
	t.Helper()
	st, err := data.OpenInMemory()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return newFixtureOn(t, st, mutate)
}

func newFixtureOn(t testing.TB, st data.Store, mutate func(*Options)) *fixture {
	t.Helper()
	r := router.New(router.Options{})
	r.HandleDomain(testDomain, localDelivery{r}, true)
	o := Options{Domain: testService, Router: r, Store: st, LocalDomains: []string{testDomain},
		Admins: []string{"admin@example.com"}, Now: func() time.Time { return testNow },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if mutate != nil {
		mutate(&o)
	}
	svc, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	r.HandleDomain(testService, svc, false)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := svc.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return &fixture{t: t, store: st, router: r, svc: svc, opts: o, users: map[string]*fakeSession{}}
}

// user binds a session for full (once) and returns it.
func (f *fixture) user(full string) *fakeSession {
	if s := f.users[full]; s != nil {
		return s
	}
	j := jid.MustParse(full)
	s := &fakeSession{jid: j}
	if _, err := f.router.Bind(s, j.Bare(), j.Resourcepart()); err != nil {
		f.t.Fatal(err)
	}
	f.users[full] = s
	return s
}

// send routes raw (a jabber:client stanza with from and to) and waits until
// the room it is for processed it.
func (f *fixture) send(raw string) {
	f.t.Helper()
	st, err := xmlstream.ParseStanza([]byte(raw), xmlstream.NSClient, xmlstream.Limits{})
	if err != nil {
		f.t.Fatalf("bad test stanza %s: %v", raw, err)
	}
	f.router.Route(context.Background(), st)
	f.sync(st.To())
}

// sync waits until the room of to processed everything queued before.
func (f *fixture) sync(to string) {
	j, err := jid.Parse(to)
	if err != nil || j.Localpart() == "" {
		return
	}
	f.svc.do(context.Background(), j.Bare().String(), func(*room) {})
}

// inRoom runs fn in the room's actor.
func (f *fixture) inRoom(room string, fn func(r *room)) {
	f.t.Helper()
	if !f.svc.do(context.Background(), room, fn) {
		f.t.Fatal("room did not run the function")
	}
}

// join sends a MUC join and drains what the joiner received.
func (f *fixture) join(full, nick string) []string {
	f.t.Helper()
	s := f.user(full)
	f.send("<presence from='" + full + "' to='" + testRoom + "/" + nick + "'><x xmlns='" + NSMUC + "'/></presence>")
	return s.take()
}

// createInstant creates testRoom owned by full as an instant room with
// config fields (var -> value) and drains everyone.
func (f *fixture) createInstant(full, nick string, fields ...string) {
	f.t.Helper()
	f.join(full, nick)
	var b strings.Builder
	b.WriteString("<iq type='set' id='create' from='" + full + "' to='" + testRoom + "'><query xmlns='" + NSMUCOwner + "'><x xmlns='jabber:x:data' type='submit'>")
	for i := 0; i+1 < len(fields); i += 2 {
		b.WriteString("<field var='" + fields[i] + "'><value>" + fields[i+1] + "</value></field>")
	}
	b.WriteString("</x></query></iq>")
	f.send(b.String())
	got := f.user(full).take()
	if len(got) != 1 || !strings.Contains(got[0], "type='result'") {
		f.t.Fatalf("creating the room: %q", got)
	}
}

func (f *fixture) drainAll() {
	for _, s := range f.users {
		s.take()
	}
}

// canonicalStanza renders a stanza with attributes sorted, xmlns only where
// it changes, and random values replaced by '*'.
func canonicalStanza(st *xmlstream.Stanza) string {
	el, err := st.Element()
	if err != nil {
		return "UNPARSABLE " + string(st.Raw)
	}
	var b strings.Builder
	canonical(&b, el, xmlstream.NSClient)
	return b.String()
}

func canonical(b *strings.Builder, el *xmlstream.Element, parentNS string) {
	b.WriteString("<" + el.Name.Local)
	if el.Name.Space != parentNS {
		b.WriteString(" xmlns='" + el.Name.Space + "'")
	}
	attrs := append([]xmlstream.Attr(nil), el.Attrs...)
	sort.Slice(attrs, func(i, j int) bool { return attrs[i].Name.Local < attrs[j].Name.Local })
	for _, a := range attrs {
		v := a.Value
		switch {
		case el.Name.Local == "occupant-id" && a.Name.Local == "id",
			el.Name.Local == "stanza-id" && a.Name.Local == "id",
			el.Name.Local == "delay" && a.Name.Local == "stamp" && el.Attr("from") != "" && v != testNow.Format("2006-01-02T15:04:05.000Z"):
			v = "*"
		case a.Name.Local == "id" && len(v) == 16:
			v = "*" // generated by the room
		}
		name := a.Name.Local
		if a.Name.Space == xmlstream.NSXML {
			name = "xml:" + name
		}
		b.WriteString(" " + name + "='" + v + "'")
	}
	if len(el.Children) == 0 {
		b.WriteString("/>")
		return
	}
	b.WriteString(">")
	for _, c := range el.Children {
		if c.Elem != nil {
			canonical(b, c.Elem, el.Name.Space)
		} else {
			b.WriteString(c.Text)
		}
	}
	b.WriteString("</" + el.Name.Local + ">")
}

// wantStanzas compares canonical stanzas exactly, in order.
func wantStanzas(t testing.TB, who string, got []string, want ...string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s received %d stanzas, want %d:\n%s", who, len(got), len(want), strings.Join(got, "\n"))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%s stanza %d:\n got %s\nwant %s", who, i, got[i], want[i])
		}
	}
}

// Canonical fragments.
func userX(item string, codes ...string) string {
	s := "<x xmlns='" + NSMUCUser + "'>" + item
	for _, c := range codes {
		s += "<status code='" + c + "'/>"
	}
	return s + "</x>"
}

func item(aff, role string, extra ...string) string {
	s := "<item affiliation='" + aff + "'"
	if len(extra) > 0 && extra[0] != "" {
		s += " jid='" + extra[0] + "'"
	}
	if len(extra) > 1 && extra[1] != "" {
		s += " nick='" + extra[1] + "'"
	}
	return s + " role='" + role + "'/>"
}

const oid = "<occupant-id xmlns='" + NSOccupantID + "' id='*'/>"

func pres(from, to, id, typ, inner string) string {
	s := "<presence from='" + from + "'"
	if id != "" {
		s += " id='" + id + "'"
	}
	s += " to='" + to + "'"
	if typ != "" {
		s += " type='" + typ + "'"
	}
	return s + ">" + inner + oid + "</presence>"
}

func emptySubject(to string) string {
	return "<message from='" + testRoom + "' id='*' to='" + to + "' type='groupchat'><subject/></message>"
}
