package pubsub

// Test helpers for the core: a real Badger store in a temporary
// directory, a recording Notifier, fake Relations and Interest, and a
// settable clock.

import (
	"context"
	"errors"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/data"
)

const coreHost = "pubsub.example.com"

var coreStart = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func jidOf(s string) jid.JID { return jid.MustParse(s) }

// coreClock is a settable clock.
type coreClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *coreClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *coreClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// coreEvent is one Notify call.
type coreEvent struct {
	ev *Event
	to []Recipient
}

// coreRecorder is a Notifier that records what it is asked to deliver.
type coreRecorder struct {
	mu     sync.Mutex
	events []coreEvent
	auths  []AuthorizationRequest
}

func (r *coreRecorder) Notify(_ context.Context, ev *Event, to []Recipient) {
	r.mu.Lock()
	r.events = append(r.events, coreEvent{ev: ev, to: slices.Clone(to)})
	r.mu.Unlock()
}

func (r *coreRecorder) RequestAuthorization(_ context.Context, req AuthorizationRequest) {
	r.mu.Lock()
	r.auths = append(r.auths, req)
	r.mu.Unlock()
}

// take returns and forgets the recorded events.
func (r *coreRecorder) take() []coreEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.events
	r.events = nil
	return out
}

func (r *coreRecorder) takeAuths() []AuthorizationRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.auths
	r.auths = nil
	return out
}

// of returns the events of one kind among evs.
func eventsOf(evs []coreEvent, kind EventKind) []coreEvent {
	var out []coreEvent
	for _, e := range evs {
		if e.ev.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

// addrs renders recipients as sorted "jid[subid,subid]" strings.
func recipientAddrs(to []Recipient) []string {
	out := make([]string, len(to))
	for i, r := range to {
		out[i] = r.JID.String()
		if len(r.SubIDs) > 0 {
			ids := slices.Clone(r.SubIDs)
			sort.Strings(ids)
			out[i] += "[" + strings.Join(ids, ",") + "]"
		}
	}
	sort.Strings(out)
	return out
}

// fakeRelations is a fake Relations: rosters by owner and contact, and
// available sessions by bare JID.
type fakeRelations struct {
	mu     sync.Mutex
	roster map[string]fakeRosterEntry // owner + "|" + contact
	avail  map[string][]jid.JID
}

type fakeRosterEntry struct {
	sub    string
	groups []string
}

func newFakeRelations() *fakeRelations {
	return &fakeRelations{roster: map[string]fakeRosterEntry{}, avail: map[string][]jid.JID{}}
}

func (r *fakeRelations) set(owner, contact, sub string, groups ...string) {
	r.mu.Lock()
	r.roster[owner+"|"+contact] = fakeRosterEntry{sub, groups}
	r.mu.Unlock()
}

func (r *fakeRelations) online(fulls ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range fulls {
		fj := jidOf(f)
		b := fj.Bare().String()
		r.avail[b] = append(r.avail[b], fj)
	}
}

func (r *fakeRelations) offline(full string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fj := jidOf(full)
	b := fj.Bare().String()
	r.avail[b] = slices.DeleteFunc(r.avail[b], func(x jid.JID) bool { return x.Equal(fj) })
}

func (r *fakeRelations) Roster(_ context.Context, owner, contact jid.JID) (string, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.roster[owner.Bare().String()+"|"+contact.Bare().String()]
	if !ok {
		return "none", nil
	}
	return e.sub, e.groups
}

func (r *fakeRelations) Available(bare jid.JID) []jid.JID {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.avail[bare.String()])
}

// fakeInterest is a fake Interest.
type fakeInterest struct {
	mu  sync.Mutex
	who map[string][]jid.JID // host + "|" + node
}

func (i *fakeInterest) Interested(_ context.Context, host, node string) []jid.JID {
	i.mu.Lock()
	defer i.mu.Unlock()
	return slices.Clone(i.who[host+"|"+node])
}

// coreEnv is one test's service and its fakes.
type coreEnv struct {
	t     testing.TB
	dir   string
	store data.Store
	svc   *Service
	rec   *coreRecorder
	rel   *fakeRelations
	clock *coreClock
	opts  Options
}

// newCoreEnv opens a Badger store in a temporary directory and a service on
// it; mutate adjusts the options.
func newCoreEnv(t testing.TB, mutate func(*Options)) *coreEnv {
	t.Helper()
	e := &coreEnv{t: t, dir: t.TempDir(), rec: &coreRecorder{}, rel: newFakeRelations(), clock: &coreClock{now: coreStart}}
	e.opts = Options{
		Host: coreHost, Notifier: e.rec, Relations: e.rel, Now: e.clock.Now,
		LocalDomains: []string{"example.com"}, Admins: []string{"admin@example.com"},
	}
	if mutate != nil {
		mutate(&e.opts)
	}
	e.open()
	t.Cleanup(e.close)
	return e
}

// open (re)opens the store and the service.
func (e *coreEnv) open() {
	e.t.Helper()
	st, err := data.Open(e.dir, data.DefaultOptions())
	if err != nil {
		e.t.Fatalf("open store: %v", err)
	}
	e.store = st
	o := e.opts
	o.Store = st
	svc, err := New(o)
	if err != nil {
		e.t.Fatalf("New: %v", err)
	}
	e.svc = svc
}

// close stops the service and closes the store.
func (e *coreEnv) close() {
	if e.svc == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.svc.Close(ctx); err != nil {
		e.t.Errorf("Close: %v", err)
	}
	if err := e.store.Close(); err != nil {
		e.t.Errorf("store Close: %v", err)
	}
	e.svc, e.store = nil, nil
}

// restart closes and reopens everything on the same directory.
func (e *coreEnv) restart() {
	e.close()
	e.open()
}

var bgCtx = context.Background()

// wantCoreErr checks err is an *Error with cond, type and app.
func wantCoreErr(t testing.TB, err error, cond, typ, app string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want %s/%s/%s", err, cond, typ, app)
	}
	if e.Cond != cond || e.Type != typ || e.App != app {
		t.Fatalf("err = %s/%s/%s (%v), want %s/%s/%s", e.Cond, e.Type, e.App, e, cond, typ, app)
	}
}

func mustOK(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// payload builds a namespaced payload element.
func atomPayload(ns, text string) []byte {
	return []byte("<entry xmlns='" + ns + "'>" + text + "</entry>")
}

const coreNSAtom = "http://www.w3.org/2005/Atom"

// createNode creates a node owned by owner with the default config,
// changed by mutate.
func (e *coreEnv) createNode(owner, node string, mutate func(*Config)) {
	e.t.Helper()
	c := e.svc.DefaultConfig()
	if mutate != nil {
		mutate(&c)
	}
	if _, err := e.svc.Create(bgCtx, e.host(), jidOf(owner), node, &c); err != nil {
		e.t.Fatalf("Create %s: %v", node, err)
	}
}

// castNode creates node "n" owned by juliet, with nurse a publisher,
// tybalt publish-only and romeo a member subscribed to it: the cast of the
// permission tests.
func (e *coreEnv) castNode() {
	e.t.Helper()
	e.createNode("juliet@example.com", "n", nil)
	for who, aff := range map[string]Affiliation{
		"nurse@example.com": AffPublisher, "tybalt@example.com": AffPublishOnly, "romeo@example.com": AffMember,
	} {
		mustOK(e.t, coreSetAff(e, "n", who, aff))
	}
	_, err := e.svc.Subscribe(bgCtx, coreHost, jidOf("romeo@example.com"), "n", jidOf("romeo@example.com"), nil)
	mustOK(e.t, err)
}

// host is the host tests use: the service's, or with PEP the owner's.
func (e *coreEnv) host() string {
	if e.opts.PEP {
		return "juliet@example.com"
	}
	return coreHost
}

// publish publishes one item and returns its id.
func (e *coreEnv) publish(actor, node, id, text string) string {
	e.t.Helper()
	ids, err := e.svc.Publish(bgCtx, e.host(), jidOf(actor), node, []Item{{ID: id, Payload: atomPayload(coreNSAtom, text)}}, nil)
	if err != nil {
		e.t.Fatalf("Publish to %s: %v", node, err)
	}
	return ids[0]
}

// coreItemIDs lists the ids of items.
func coreItemIDs(items []Item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.ID
	}
	return out
}
