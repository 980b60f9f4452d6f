package pubsub

// The PEP tracker alone: who is interested (+notify, own resources,
// contacts by roster subscription, blocking), its bounds, late and stale
// caps resolutions, and the last items it asks the core to send.

import (
	"context"
	"slices"
	"sort"
	"sync"
	"testing"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/caps"
)

// fakeCaps resolves vers from a table at once; vers in later are held
// until release.
type fakeCaps struct {
	mu      sync.Mutex
	known   map[string]caps.Features
	later   map[string][]func(caps.Features)
	queries int
}

func newFakeCaps() *fakeCaps {
	return &fakeCaps{known: map[string]caps.Features{}, later: map[string][]func(caps.Features){}}
}

func (f *fakeCaps) Resolve(_ context.Context, _, _ jid.JID, c caps.Caps, done func(caps.Features)) (caps.Features, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries++
	if fs, ok := f.known[c.Ver]; ok {
		return fs, true
	}
	f.later[c.Ver] = append(f.later[c.Ver], done)
	return nil, false
}

func (f *fakeCaps) release(ver string, features ...string) {
	f.mu.Lock()
	waiting := f.later[ver]
	delete(f.later, ver)
	f.mu.Unlock()
	for _, done := range waiting {
		done(caps.NewFeatures(features))
	}
}

func capsVerOf(ver string) *caps.Caps { return &caps.Caps{Hash: "sha-1", Node: "n", Ver: ver} }

func sortedJIDs(js []jid.JID) []string {
	out := make([]string, len(js))
	for i, j := range js {
		out[i] = j.String()
	}
	sort.Strings(out)
	return out
}

const tuneNode = "http://jabber.org/protocol/tune"

func TestPEPTrackerInterested(t *testing.T) {
	rel := newFakeRelations()
	fc := newFakeCaps()
	fc.known["notify"] = caps.NewFeatures([]string{tuneNode + "+notify"})
	fc.known["plain"] = caps.NewFeatures([]string{tuneNode})
	blocked := map[string]bool{}
	p := NewPEP(PEPOptions{Caps: fc, Relations: rel, MaxEntriesPerOwner: 6,
		Blocked: func(_ context.Context, _, c jid.JID) bool { return blocked[c.String()] }})
	owner := jidOf("juliet@example.com")
	rel.set("juliet@example.com", "romeo@example.com", "both")
	rel.set("juliet@example.com", "nurse@example.com", "from")
	rel.set("juliet@example.com", "tybalt@example.com", "to")

	p.SessionAvailable(bgCtx, jidOf("juliet@example.com/balcony"), capsVerOf("notify"), true)
	p.SessionAvailable(bgCtx, jidOf("juliet@example.com/phone"), capsVerOf("plain"), true)
	p.ContactAvailable(bgCtx, owner, jidOf("romeo@example.com/orchard"), capsVerOf("notify"))
	p.ContactAvailable(bgCtx, owner, jidOf("romeo@example.com/nocaps"), nil)
	p.ContactAvailable(bgCtx, owner, jidOf("nurse@example.com/chamber"), capsVerOf("plain"))
	p.ContactAvailable(bgCtx, owner, jidOf("tybalt@example.com/street"), capsVerOf("notify"))
	p.ContactAvailable(bgCtx, owner, jidOf("benvolio@example.com/x"), capsVerOf("notify"))    // not in the roster
	p.ContactAvailable(bgCtx, owner, jidOf("juliet@example.com/balcony"), capsVerOf("plain")) // own: ignored here
	if n := p.Tracked("juliet@example.com"); n != 6 {
		t.Fatalf("tracked %d, want 6 (a stranger is never tracked)", n)
	}
	want := []string{"juliet@example.com/balcony", "romeo@example.com/orchard"}
	if got := sortedJIDs(p.Interested(bgCtx, "juliet@example.com", tuneNode)); !slices.Equal(got, want) {
		t.Fatalf("interested = %v, want %v", got, want)
	}
	if got := p.Interested(bgCtx, "juliet@example.com", "urn:other"); len(got) != 0 {
		t.Fatalf("interested in another node: %v", got)
	}
	// Tybalt's subscription grows to "both": rechecked, now included.
	rel.set("juliet@example.com", "tybalt@example.com", "both")
	want = []string{"juliet@example.com/balcony", "romeo@example.com/orchard", "tybalt@example.com/street"}
	if got := sortedJIDs(p.Interested(bgCtx, "juliet@example.com", tuneNode)); !slices.Equal(got, want) {
		t.Fatalf("interested = %v, want %v", got, want)
	}
	// Blocking removes a contact, never the owner's resources.
	blocked["romeo@example.com"] = true
	want = []string{"juliet@example.com/balcony", "tybalt@example.com/street"}
	if got := sortedJIDs(p.Interested(bgCtx, "juliet@example.com", tuneNode)); !slices.Equal(got, want) {
		t.Fatalf("interested with romeo blocked = %v, want %v", got, want)
	}
	blocked["romeo@example.com"] = false

	// The bound: a seventh resource is not tracked.
	p.ContactAvailable(bgCtx, owner, jidOf("romeo@example.com/seventh"), capsVerOf("notify"))
	if n := p.Tracked("juliet@example.com"); n != 6 {
		t.Fatalf("tracked %d past the bound", n)
	}
	// Unavailable from a bare JID forgets every resource of it.
	p.ContactUnavailable(owner, jidOf("romeo@example.com"))
	p.SessionUnavailable(jidOf("juliet@example.com/balcony"))
	want = []string{"tybalt@example.com/street"}
	if got := sortedJIDs(p.Interested(bgCtx, "juliet@example.com", tuneNode)); !slices.Equal(got, want) {
		t.Fatalf("interested after unavailable = %v, want %v", got, want)
	}
	p.ForgetHost("juliet@example.com")
	if n := p.Tracked("juliet@example.com"); n != 0 {
		t.Fatalf("tracked %d after ForgetHost", n)
	}
}

func TestPEPTrackerLateAndStaleCaps(t *testing.T) {
	rel := newFakeRelations()
	fc := newFakeCaps()
	p := NewPEP(PEPOptions{Caps: fc, Relations: rel})
	owner := jidOf("juliet@example.com")
	rel.set("juliet@example.com", "romeo@example.com", "both")
	romeo := jidOf("romeo@example.com/orchard")

	p.ContactAvailable(bgCtx, owner, romeo, capsVerOf("v1"))
	if got := p.Interested(bgCtx, "juliet@example.com", tuneNode); len(got) != 0 {
		t.Fatalf("interested before resolution: %v", got)
	}
	// The same presence again does not ask again.
	p.ContactAvailable(bgCtx, owner, romeo, capsVerOf("v1"))
	if fc.queries != 1 {
		t.Fatalf("%d resolutions for one ver", fc.queries)
	}
	// New caps before v1 resolved: v1's late answer is dropped.
	p.ContactAvailable(bgCtx, owner, romeo, capsVerOf("v2"))
	fc.release("v1", tuneNode+"+notify")
	if got := p.Interested(bgCtx, "juliet@example.com", tuneNode); len(got) != 0 {
		t.Fatalf("a stale resolution was used: %v", got)
	}
	fc.release("v2", tuneNode+"+notify")
	if got := sortedJIDs(p.Interested(bgCtx, "juliet@example.com", tuneNode)); !slices.Equal(got, []string{romeo.String()}) {
		t.Fatalf("interested after resolution = %v", got)
	}
	// Presence without caps: no interest any more.
	p.ContactAvailable(bgCtx, owner, romeo, nil)
	if got := p.Interested(bgCtx, "juliet@example.com", tuneNode); len(got) != 0 {
		t.Fatalf("interested without caps: %v", got)
	}
}

func TestPEPTrackerSendsLastItems(t *testing.T) {
	fc := newFakeCaps()
	var p *PEP
	e := newPEPEnv(t, func(o *Options) {
		p = NewPEP(PEPOptions{Caps: fc, Relations: o.Relations})
		o.Interest = p
	})
	p.Attach(e.svc)
	e.rel.set("juliet@example.com", "romeo@example.com", "both")
	juliet, owner := jidOf("juliet@example.com/balcony"), jidOf("juliet@example.com")
	for _, node := range []string{tuneNode, "urn:xmpp:avatar:metadata", "urn:quiet"} {
		_, err := e.svc.Publish(bgCtx, julietHost, juliet, node, []Item{{ID: "last", Payload: atomPayload(node, "x")}}, nil)
		mustOK(t, err)
	}
	e.rec.take()
	barrier := func() {
		for _, node := range []string{tuneNode, "urn:xmpp:avatar:metadata", "urn:quiet"} {
			_, err := e.svc.Info(bgCtx, julietHost, owner, node)
			mustOK(t, err)
		}
	}
	lastTo := func() []string {
		barrier()
		var out []string
		for _, ev := range eventsOf(e.rec.take(), EventItems) {
			if !ev.ev.Delayed {
				t.Fatalf("a live event during presence handling: %+v", ev.ev)
			}
			for _, r := range recipientAddrs(ev.to) {
				out = append(out, ev.ev.Node+" "+r)
			}
		}
		sort.Strings(out)
		return out
	}

	// Known caps: the last items of the +notify nodes at once.
	fc.known["both"] = caps.NewFeatures([]string{tuneNode + "+notify", "urn:xmpp:avatar:metadata+notify", "urn:unknown+notify"})
	romeo := jidOf("romeo@example.com/orchard")
	p.ContactAvailable(bgCtx, owner, romeo, capsVerOf("both"))
	want := []string{tuneNode + " " + romeo.String(), "urn:xmpp:avatar:metadata " + romeo.String()}
	if got := lastTo(); !slices.Equal(got, want) {
		t.Fatalf("last items = %v, want %v", got, want)
	}
	// A subsequent presence with the same caps: nothing.
	p.ContactAvailable(bgCtx, owner, romeo, capsVerOf("both"))
	if got := lastTo(); len(got) != 0 {
		t.Fatalf("last items on a subsequent presence: %v", got)
	}
	// Caps resolved later, adding one node: only that one.
	p.ContactAvailable(bgCtx, owner, romeo, capsVerOf("more"))
	fc.release("more", tuneNode+"+notify", "urn:xmpp:avatar:metadata+notify", "urn:quiet+notify")
	if got := lastTo(); !slices.Equal(got, []string{"urn:quiet " + romeo.String()}) {
		t.Fatalf("last items on new caps = %v", got)
	}
	// The owner's own new session gets them all; a re-sent initial
	// presence (a replaced session) too.
	fc.known["own"] = caps.NewFeatures([]string{tuneNode + "+notify"})
	p.SessionAvailable(bgCtx, juliet, capsVerOf("own"), true)
	if got := lastTo(); !slices.Equal(got, []string{tuneNode + " " + juliet.String()}) {
		t.Fatalf("own last items = %v", got)
	}
	p.SessionAvailable(bgCtx, juliet, capsVerOf("own"), true)
	if got := lastTo(); !slices.Equal(got, []string{tuneNode + " " + juliet.String()}) {
		t.Fatalf("own last items after a new initial presence = %v", got)
	}
	// A stranger is neither tracked nor sent anything.
	p.ContactAvailable(bgCtx, owner, jidOf("mallory@evil.example/x"), capsVerOf("both"))
	if got := lastTo(); len(got) != 0 {
		t.Fatalf("last items to a stranger: %v", got)
	}
}
