package pubsub

// PEP (XEP-0163) on top of the core: the implicit subscriptions. The core
// serves every account's nodes (Options.PEP); this file tracks, per
// account, who is online and wants what:
//
//   - the account's own available resources (XEP-0060 §9.1.1) and the
//     available resources of its roster contacts that send it presence
//     (§9.1.2), each with its XEP-0115 caps;
//   - the caps resolved to features (package caps: verified and cached
//     ver, or a disco#info query to that entity), of which a feature
//     node+"+notify" asks for the node's notifications (§9.2, "filtered
//     notifications").
//
// PEP implements Interest: the core adds these entities to a node's
// recipients and checks each against the node's access model. And it
// sends the last published item of every such node when an entity comes
// online (XEP-0163 §4.3.4: initial presence, including the owner's own
// resources) or its caps, resolved later or changed, add a +notify.
//
// Presence comes from the IM core's hooks (server/pep_wiring.go): a local
// session's broadcast presence, and presence that reached an account's
// bare JID. Only roster contacts are tracked (a stranger cannot grow the
// table), at most MaxEntriesPerOwner per account.

import (
	"context"
	"log/slog"
	"strings"
	"sync"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/caps"
)

// DefaultMaxEntriesPerOwner bounds the tracked resources of one account.
const DefaultMaxEntriesPerOwner = 4096

// notifySuffix marks interest in a node's notifications (XEP-0060 §9.2).
const notifySuffix = "+notify"

// CapsResolver turns a <c/> into features (*caps.Resolver implements it):
// at once when known, else later through done.
type CapsResolver interface {
	Resolve(ctx context.Context, from, entity jid.JID, c caps.Caps, done func(caps.Features)) (caps.Features, bool)
}

// PEPOptions configure a PEP.
type PEPOptions struct {
	Caps CapsResolver
	// Relations gives a contact's subscription in the owner's roster.
	Relations Relations
	// Blocked reports whether owner blocked contact (XEP-0163 §4.3.3: no
	// notifications then); nil: nobody is.
	Blocked            func(ctx context.Context, owner, contact jid.JID) bool
	MaxEntriesPerOwner int
	Logger             *slog.Logger
}

// PEP tracks implicit PEP subscriptions; it implements Interest.
type PEP struct {
	opts PEPOptions
	svc  *Service

	mu     sync.RWMutex
	owners map[string]map[string]*pepEntry // owner bare -> full JID -> entry
}

// pepEntry is one available resource that PEP notifications may reach.
type pepEntry struct {
	full jid.JID
	own  bool   // one of the owner's resources
	sub  string // a contact's roster subscription when last checked
	caps caps.Caps
	// hasCaps: the presence carried a <c/>; gen counts caps changes so a
	// late resolution of older caps is dropped.
	hasCaps  bool
	gen      uint64
	features caps.Features // resolved features (nil: none yet or none trusted)
}

// NewPEP builds the tracker; Attach gives it the Service (which takes the
// PEP as its Interest).
func NewPEP(o PEPOptions) *PEP {
	if o.MaxEntriesPerOwner <= 0 {
		o.MaxEntriesPerOwner = DefaultMaxEntriesPerOwner
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &PEP{opts: o, owners: map[string]map[string]*pepEntry{}}
}

// Attach sets the PEP Service whose nodes' last items are sent.
func (p *PEP) Attach(s *Service) { p.svc = s }

// SessionAvailable: a local session sent broadcast available presence,
// with caps c (nil without <c/>); initial when it was unavailable before.
func (p *PEP) SessionAvailable(ctx context.Context, full jid.JID, c *caps.Caps, initial bool) {
	if full.Resourcepart() == "" {
		return
	}
	p.available(ctx, full.Bare(), full, true, "", c, initial)
}

// SessionUnavailable: a local session became unavailable.
func (p *PEP) SessionUnavailable(full jid.JID) {
	p.forget(full.Bare(), full)
}

// ContactAvailable: available presence from 'from' reached the local
// account owner. Tracked only for a full JID in owner's roster.
func (p *PEP) ContactAvailable(ctx context.Context, owner, from jid.JID, c *caps.Caps) {
	owner = owner.Bare()
	if from.Resourcepart() == "" || from.Bare().Equal(owner) {
		return // own resources come through SessionAvailable
	}
	sub, known := p.knownSub(owner, from)
	if !known {
		if p.opts.Relations == nil {
			return
		}
		sub, _ = p.opts.Relations.Roster(ctx, owner, from.Bare())
		if sub != "to" && sub != "from" && sub != "both" {
			return // not a contact: no implicit subscription (§9.1.2)
		}
	}
	p.available(ctx, owner, from, false, sub, c, false)
}

// ContactUnavailable: unavailable presence from 'from' reached owner (a
// bare 'from' means every resource of it).
func (p *PEP) ContactUnavailable(owner, from jid.JID) {
	owner = owner.Bare()
	if from.Bare().Equal(owner) {
		return
	}
	if from.Resourcepart() != "" {
		p.forget(owner, from)
		return
	}
	bare := from.String()
	p.mu.Lock()
	defer p.mu.Unlock()
	entries := p.owners[owner.String()]
	for k, e := range entries {
		if e.full.Bare().String() == bare {
			delete(entries, k)
		}
	}
	if len(entries) == 0 {
		delete(p.owners, owner.String())
	}
}

// ForgetHost drops what is tracked for an account (it was deleted).
func (p *PEP) ForgetHost(host string) {
	p.mu.Lock()
	delete(p.owners, host)
	p.mu.Unlock()
}

// Tracked is the number of resources tracked for owner (tests, metrics).
func (p *PEP) Tracked(owner string) int {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return len(p.owners[owner])
}

// Interested implements Interest: the owner's resources and its contacts'
// resources online whose features include node+"+notify". Contacts need
// a presence subscription to the owner ("from" or "both"); the core then
// applies the node's access model to each.
func (p *PEP) Interested(ctx context.Context, host, node string) []jid.JID {
	want := node + notifySuffix
	var out, recheck []jid.JID
	p.mu.RLock()
	for _, e := range p.owners[host] {
		if !e.features.Has(want) {
			continue
		}
		switch {
		case e.own, e.sub == "from", e.sub == "both":
			out = append(out, e.full)
		default:
			recheck = append(recheck, e.full) // "to" when seen: may have changed
		}
	}
	p.mu.RUnlock()
	if len(out)+len(recheck) == 0 {
		return nil
	}
	owner, err := jid.Parse(host)
	if err != nil {
		return nil
	}
	for _, full := range recheck {
		if p.opts.Relations == nil {
			break
		}
		sub, _ := p.opts.Relations.Roster(ctx, owner, full.Bare())
		p.setSub(owner, full, sub)
		if sub == "from" || sub == "both" {
			out = append(out, full)
		}
	}
	if p.opts.Blocked == nil {
		return out
	}
	kept := out[:0]
	for _, full := range out {
		if full.Bare().Equal(owner) || !p.opts.Blocked(ctx, owner, full.Bare()) {
			kept = append(kept, full)
		}
	}
	return kept
}

// knownSub returns the recorded subscription of a tracked contact.
func (p *PEP) knownSub(owner, full jid.JID) (string, bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if e := p.owners[owner.String()][full.String()]; e != nil {
		return e.sub, true
	}
	return "", false
}

func (p *PEP) setSub(owner, full jid.JID, sub string) {
	p.mu.Lock()
	if e := p.owners[owner.String()][full.String()]; e != nil {
		e.sub = sub
	}
	p.mu.Unlock()
}

// available records full as available for owner with caps c and resolves
// them. A new entry (initial presence) gets the last items of every node
// it wants; a known one only of nodes its new caps add.
func (p *PEP) available(ctx context.Context, owner, full jid.JID, own bool, sub string, c *caps.Caps, reset bool) {
	ok, key := owner.String(), full.String()
	p.mu.Lock()
	entries := p.owners[ok]
	e := entries[key]
	if reset && e != nil {
		delete(entries, key)
		e = nil
	}
	var prev caps.Features
	initial := e == nil
	if initial {
		if len(entries) >= p.opts.MaxEntriesPerOwner {
			p.mu.Unlock()
			p.opts.Logger.Warn("pep: too many tracked resources", "owner", ok)
			return
		}
		if entries == nil {
			entries = map[string]*pepEntry{}
			p.owners[ok] = entries
		}
		e = &pepEntry{full: full, own: own, sub: sub}
		entries[key] = e
	} else {
		if (c == nil && !e.hasCaps) || (c != nil && e.hasCaps && *c == e.caps) {
			p.mu.Unlock()
			return // a subsequent presence with the same caps: nothing new
		}
		prev = e.features
	}
	e.hasCaps = c != nil
	if c != nil {
		e.caps = *c
	}
	e.gen++
	gen := e.gen
	if c == nil {
		e.features = nil
	}
	p.mu.Unlock()
	if c == nil || p.opts.Caps == nil {
		return
	}
	base := context.WithoutCancel(ctx)
	done := func(f caps.Features) { p.resolved(base, owner, full, gen, initial, prev, f) }
	if f, known := p.opts.Caps.Resolve(ctx, owner, full, *c, done); known {
		done(f)
	}
}

// resolved stores features for the entry (if its caps did not change
// since) and sends the last items of the nodes they newly ask for.
func (p *PEP) resolved(ctx context.Context, owner, full jid.JID, gen uint64, initial bool, prev, f caps.Features) {
	p.mu.Lock()
	e := p.owners[owner.String()][full.String()]
	if e == nil || e.gen != gen {
		p.mu.Unlock()
		return
	}
	e.features = f
	own := e.own
	p.mu.Unlock()
	wanted := map[string]bool{}
	for feature := range f {
		node, ok := strings.CutSuffix(feature, notifySuffix)
		if ok && node != "" && (initial || !prev.Has(feature)) {
			wanted[node] = true
		}
	}
	if len(wanted) == 0 || p.svc == nil {
		return
	}
	if !own && p.opts.Blocked != nil && p.opts.Blocked(ctx, owner, full.Bare()) {
		return
	}
	p.sendLast(ctx, owner, full, wanted)
}

// sendLast sends full the last item of each of owner's nodes in wanted
// (the core checks the access model and send_last_published_item).
func (p *PEP) sendLast(ctx context.Context, owner, full jid.JID, wanted map[string]bool) {
	host := owner.String()
	// The owner's listing is every node, without access checks per node.
	nodes, err := p.svc.Nodes(ctx, host, owner, "", 0)
	if err != nil {
		p.opts.Logger.Warn("pep: listing nodes failed", "owner", host, "err", err)
		return
	}
	for _, node := range nodes {
		if wanted[node] {
			p.svc.SendLast(ctx, host, node, full)
		}
	}
}

// forget drops one tracked resource.
func (p *PEP) forget(owner, full jid.JID) {
	ok := owner.String()
	p.mu.Lock()
	defer p.mu.Unlock()
	entries := p.owners[ok]
	delete(entries, full.String())
	if len(entries) == 0 {
		delete(p.owners, ok)
	}
}
