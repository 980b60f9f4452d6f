package pubsub

// Who gets a notification (§12.2, §12.3, §12.6 presence-based delivery,
// §12.7 SubIDs), the last published item (§6.1.7, §12.9), and the
// presence the core is told about (Available, Unavailable).
//
// The recipients of a node are cached: built from the subscriptions on
// first use and dropped when subscriptions, affiliations or the
// configuration change, never by a KV scan per publish. When nothing
// depends on presence or rosters (no presence_based_delivery, no show
// filter, access model open/authorize/whitelist) the cached list is the
// answer as is; otherwise each publish resolves the cached targets
// against presence and rechecks the presence/roster access model.
// PEP adds the entities interested through +notify (XEP-0163 §4), each
// checked against the access model.

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"sync"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/data"
)

// allShows are the pubsub#show-values a subscriber can choose.
var allShows = []string{"away", "chat", "dnd", "online", "xa"}

// maxResourcesPerUser bounds the presence table per bare JID.
const maxResourcesPerUser = 1000

// presenceTable holds the show of each available local session the core
// was told about (Available/Unavailable).
type presenceTable struct {
	mu    sync.RWMutex
	users map[string]map[string]string // bare -> resource -> show
}

func (p *presenceTable) init() { p.users = map[string]map[string]string{} }

// set records a session's show; true when the session is new.
func (p *presenceTable) set(full jid.JID, show string) bool {
	bare, res := full.Bare().String(), full.Resourcepart()
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.users[bare]
	if m == nil {
		m = map[string]string{}
		p.users[bare] = m
	}
	_, known := m[res]
	if !known && len(m) >= maxResourcesPerUser {
		return false
	}
	m[res] = show
	return !known
}

// remove forgets a session; true when it was the bare JID's last one.
func (p *presenceTable) remove(full jid.JID) bool {
	bare := full.Bare().String()
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.users[bare]
	delete(m, full.Resourcepart())
	if len(m) == 0 {
		delete(p.users, bare)
		return true
	}
	return false
}

// snapshot lists the sessions of bare with their shows.
func (p *presenceTable) snapshot(bare jid.JID) []session {
	p.mu.RLock()
	defer p.mu.RUnlock()
	m := p.users[bare.String()]
	out := make([]session, 0, len(m))
	for res, show := range m {
		if full, err := bare.WithResource(res); err == nil {
			out = append(out, session{full: full, show: show})
		}
	}
	return out
}

func (p *presenceTable) show(bare, res string) string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.users[bare][res]
}

// session is one available resource and its presence show.
type session struct {
	full jid.JID
	show string
}

// sessions lists bare's available sessions: Relations says which, the
// presence table their show ("" when unknown: available). Without
// Relations the presence table alone answers.
func (s *Service) sessions(bare jid.JID) []session {
	rel := s.opts.Relations
	if rel == nil {
		return s.presence.snapshot(bare)
	}
	fulls := rel.Available(bare)
	out := make([]session, 0, len(fulls))
	b := bare.String()
	for _, f := range fulls {
		out = append(out, session{full: f, show: s.presence.show(b, f.Resourcepart())})
	}
	return out
}

// showFilter: do the options restrict delivery to some presence shows?
func showFilter(o *SubOptions) bool {
	if len(o.ShowValues) == 0 {
		return false
	}
	for _, v := range allShows {
		if !slices.Contains(o.ShowValues, v) {
			return true
		}
	}
	return false
}

// showAllowed: do the options let a session with this show receive?
func showAllowed(o *SubOptions, show string) bool {
	if !showFilter(o) {
		return true
	}
	if show == "" {
		show = "online"
	}
	return slices.Contains(o.ShowValues, show)
}

// recipientCache is a node's delivery targets, derived from its
// subscriptions.
type recipientCache struct {
	built   bool
	dynamic bool        // presence or rosters decide at each delivery
	targets []target    // by subscribed address
	static  []Recipient // the answer when !dynamic (never modified once built)
}

// target is one subscribed address and its deliverable subscriptions.
type target struct {
	addr jid.JID
	bare jid.JID
	subs []*Subscription
}

func (c *recipientCache) invalidate() {
	c.built, c.dynamic, c.targets, c.static = false, false, nil, nil
}

// buildRecipients derives the targets from the subscriptions: state
// subscribed (or unconfigured, §4.2), pubsub#deliver on, and for a
// whitelist node an affiliation that is on the whitelist.
func (n *nodeState) buildRecipients() {
	c := &n.recips
	c.invalidate()
	model := n.cfg.AccessModel
	c.dynamic = n.cfg.PresenceBasedDelivery || model == AccessPresence || model == AccessRoster
	index := map[string]int{}
	for bareStr, list := range n.subs {
		aff := n.affiliation(bareStr)
		if !may(aff, actSubscribe) || (model == AccessWhitelist && aff < AffMember) {
			continue
		}
		for _, sub := range list {
			if (sub.State != SubSubscribed && sub.State != SubUnconfigured) || !sub.Options.Deliver {
				continue
			}
			addr := sub.JID.String()
			i, ok := index[addr]
			if !ok {
				i = len(c.targets)
				index[addr] = i
				c.targets = append(c.targets, target{addr: sub.JID, bare: sub.JID.Bare()})
			}
			c.targets[i].subs = append(c.targets[i].subs, sub)
			if showFilter(&sub.Options) {
				c.dynamic = true
			}
		}
	}
	sort.Slice(c.targets, func(i, k int) bool { return c.targets[i].addr.String() < c.targets[k].addr.String() })
	if !c.dynamic {
		c.static = make([]Recipient, 0, len(c.targets))
		for _, t := range c.targets {
			c.static = append(c.static, Recipient{JID: t.addr, SubIDs: subIDs(t.subs, len(t.subs))})
		}
	}
	c.built = true
}

// subIDs lists the ids of subs when the address holds several
// subscriptions (total), nil otherwise (§12.7).
func subIDs(subs []*Subscription, total int) []string {
	if total < 2 {
		return nil
	}
	ids := make([]string, len(subs))
	for i, s := range subs {
		ids[i] = s.SubID
	}
	return ids
}

// itemRecipients is who gets items and retractions: subscribers, then
// (PEP) the interested.
func (n *nodeState) itemRecipients() []Recipient {
	out := n.subscriberRecipients()
	if n.svc.opts.Interest != nil {
		out = n.withInterest(out)
	}
	return out
}

// subscriberRecipients resolves the cached targets (the cached list
// itself when it needs no resolution).
func (n *nodeState) subscriberRecipients() []Recipient {
	c := &n.recips
	if !c.built {
		n.buildRecipients()
	}
	if !c.dynamic {
		return c.static
	}
	recheck := n.cfg.AccessModel == AccessPresence || n.cfg.AccessModel == AccessRoster
	var res resolution
	for i := range c.targets {
		t := &c.targets[i]
		if recheck && n.access(t.bare, purposeDeliver) != nil {
			continue // no longer in the owner's roster (group)
		}
		n.resolve(&res, t.addr, t.subs)
	}
	return res.recipients()
}

// resolution gathers addresses and the subscriptions each delivery is
// for, merging an address reached twice.
type resolution struct {
	index map[string]int
	addrs []jid.JID
	subs  [][]*Subscription
	total []int // subscriptions of the address's target (SubIDs rule)
}

func (r *resolution) add(addr jid.JID, subs []*Subscription, total int) {
	if r.index == nil {
		r.index = map[string]int{}
	}
	key := addr.String()
	if i, ok := r.index[key]; ok {
		r.subs[i] = append(r.subs[i], subs...)
		r.total[i] += total
		return
	}
	r.index[key] = len(r.addrs)
	r.addrs = append(r.addrs, addr)
	r.subs = append(r.subs, slices.Clone(subs))
	r.total = append(r.total, total)
}

func (r *resolution) recipients() []Recipient {
	out := make([]Recipient, len(r.addrs))
	for i, a := range r.addrs {
		out[i] = Recipient{JID: a, SubIDs: subIDs(r.subs[i], r.total[i])}
	}
	return out
}

// resolve adds where a subscribed address gets a notification: the
// address itself; with presence_based_delivery only while available, a
// bare JID at each available session (§12.6); with show-values only when
// a session's show is among them.
func (n *nodeState) resolve(res *resolution, addr jid.JID, subs []*Subscription) {
	filtered := false
	for _, s := range subs {
		if showFilter(&s.Options) {
			filtered = true
		}
	}
	presenceBased := n.cfg.PresenceBasedDelivery
	if !presenceBased && !filtered {
		res.add(addr, subs, len(subs))
		return
	}
	sessions := n.svc.sessions(addr.Bare())
	if addr.Resourcepart() != "" {
		// A full-JID subscription only looks at that session.
		kept := sessions[:0:0]
		for _, se := range sessions {
			if se.full.Equal(addr) {
				kept = append(kept, se)
			}
		}
		sessions = kept
	}
	matching := func(show string) []*Subscription {
		var m []*Subscription
		for _, s := range subs {
			if showAllowed(&s.Options, show) {
				m = append(m, s)
			}
		}
		return m
	}
	if presenceBased && addr.Resourcepart() == "" {
		// To each available session whose show passes.
		for _, se := range sessions {
			if m := matching(se.show); len(m) > 0 {
				res.add(se.full, m, len(subs))
			}
		}
		return
	}
	// To addr itself: unfiltered subscriptions always (unless presence
	// based and addr is away), show-filtered ones when a session's show
	// passes.
	var union []*Subscription
	if !presenceBased {
		for _, s := range subs {
			if !showFilter(&s.Options) {
				union = append(union, s)
			}
		}
	}
	for _, se := range sessions {
		for _, s := range matching(se.show) {
			if !slices.Contains(union, s) {
				union = append(union, s)
			}
		}
	}
	if len(union) > 0 {
		res.add(addr, union, len(subs))
	}
}

// withInterest adds the PEP entities interested through +notify (never
// one already reached, by full or bare JID), access-checked.
func (n *nodeState) withInterest(out []Recipient) []Recipient {
	fulls := n.svc.opts.Interest.Interested(n.ctx, n.host, n.name)
	if len(fulls) == 0 {
		return out
	}
	seen := make(map[string]bool, len(out)+len(fulls))
	for _, r := range out {
		seen[r.JID.String()] = true
	}
	res := make([]Recipient, len(out), len(out)+len(fulls))
	copy(res, out)
	for _, f := range fulls {
		key := f.String()
		if seen[key] || seen[f.Bare().String()] {
			continue
		}
		if n.access(f.Bare(), purposeDeliver) != nil {
			continue
		}
		seen[key] = true
		res = append(res, Recipient{JID: f})
	}
	return res
}

// plainRecipients is who gets node-level events, without SubIDs (§12.16):
// every subscription whatever its state (node deletion, §8.4.2), or the
// subscribers items would reach (configuration, purge).
func (n *nodeState) plainRecipients(everyone bool) []Recipient {
	var out []Recipient
	if everyone {
		seen := map[string]bool{}
		for _, list := range n.subs {
			for _, sub := range list {
				if key := sub.JID.String(); !seen[key] {
					seen[key] = true
					out = append(out, Recipient{JID: sub.JID})
				}
			}
		}
		sort.Slice(out, func(i, k int) bool { return out[i].JID.String() < out[k].JID.String() })
		return out
	}
	for _, r := range n.subscriberRecipients() {
		out = append(out, Recipient{JID: r.JID})
	}
	return out
}

// sendLastOnSubscribe sends the last item to a new (or approved)
// subscription per send_last_published_item (§6.1.7, §12.9).
func (n *nodeState) sendLastOnSubscribe(sub *Subscription) {
	if n.cfg.SendLastPublishedItem == SendLastNever || !n.cfg.DeliverNotifications ||
		sub.State != SubSubscribed || !sub.Options.Deliver {
		return
	}
	it := n.lastItem()
	if it == nil {
		return
	}
	var res resolution
	n.resolve(&res, sub.JID, []*Subscription{sub})
	n.notify(&Event{Kind: EventItems, Items: []Item{*it}, Delayed: true}, res.recipients())
}

// sendLastTo sends the last item to one address allowed to see it
// (SendLast: a PEP contact that came online with +notify).
func (n *nodeState) sendLastTo(to jid.JID) {
	if !n.exists || n.cfg.SendLastPublishedItem == SendLastNever || !n.cfg.DeliverNotifications {
		return
	}
	if n.access(to.Bare(), purposeDeliver) != nil {
		return
	}
	if it := n.lastItem(); it != nil {
		n.notify(&Event{Kind: EventItems, Items: []Item{*it}, Delayed: true}, []Recipient{{JID: to}})
	}
}

// presenceArrived sends the last item to a session that just became
// available, when one of its (or its bare JID's) subscriptions asks for
// it with on_sub_and_presence and its show passes.
func (n *nodeState) presenceArrived(full jid.JID, show string) {
	if !n.exists || n.cfg.SendLastPublishedItem != SendLastOnSubAndPresence || !n.cfg.DeliverNotifications {
		return
	}
	bare := full.Bare()
	wanted := false
	for _, sub := range n.subs[bare.String()] {
		if sub.State == SubSubscribed && sub.Options.Deliver && showAllowed(&sub.Options, show) &&
			(sub.JID.Equal(full) || sub.JID.Equal(bare)) {
			wanted = true
			break
		}
	}
	if !wanted || n.access(bare, purposeDeliver) != nil {
		return
	}
	if it := n.lastItem(); it != nil {
		n.notify(&Event{Kind: EventItems, Items: []Item{*it}, Delayed: true}, []Recipient{{JID: full}})
	}
}

// available records a session's presence; a new session gets the last
// items of its subscriptions on this service that ask for them (§12.9
// on_sub_and_presence). PEP leaves that to SendLast (+notify).
func (s *Service) available(ctx context.Context, full jid.JID, show string) {
	if full.Resourcepart() == "" || !s.presence.set(full, show) || s.opts.PEP {
		return
	}
	bare := full.Bare()
	subs, err := s.userSubscriptions(ctx, s.opts.Host, bare.String())
	if err != nil {
		s.log.Error("pubsub: reading subscriptions failed", "err", err)
		return
	}
	nodes := map[string]bool{}
	for _, sub := range subs {
		if sub.State == SubSubscribed && (sub.JID.Equal(full) || sub.JID.Equal(bare)) {
			nodes[sub.Node] = true
		}
	}
	for node := range nodes {
		// Only nodes that send on presence are woken up.
		if doc, ok := s.readDoc(ctx, s.opts.Host, node); !ok || doc.Config.SendLastPublishedItem != SendLastOnSubAndPresence {
			continue
		}
		s.post(s.opts.Host, node, func(n *nodeState) error {
			n.presenceArrived(full, show)
			return nil
		})
	}
}

// unavailable forgets a session and ends its temporary subscriptions
// (pubsub#expire "presence", §12.4) on this service.
func (s *Service) unavailable(ctx context.Context, full jid.JID) {
	if full.Resourcepart() == "" {
		return
	}
	last := s.presence.remove(full)
	if s.opts.PEP {
		return
	}
	bare := full.Bare()
	subs, err := s.userSubscriptions(ctx, s.opts.Host, bare.String())
	if err != nil {
		s.log.Error("pubsub: reading subscriptions failed", "err", err)
		return
	}
	nodes := map[string]bool{}
	for _, sub := range subs {
		if sub.Options.ExpireOnPresence && (sub.JID.Equal(full) || (last && sub.JID.Equal(bare))) {
			nodes[sub.Node] = true
		}
	}
	for node := range nodes {
		s.post(s.opts.Host, node, func(n *nodeState) error {
			n.presenceGone(full, last)
			return nil
		})
	}
}

// readDoc reads a node document outside its actor.
func (s *Service) readDoc(ctx context.Context, host, node string) (nodeDoc, bool) {
	val, _, err := s.store.Get(ctx, data.PubSubNodeKey(host, node))
	if err != nil {
		return nodeDoc{}, false
	}
	var doc nodeDoc
	if json.Unmarshal(val, &doc) != nil {
		return nodeDoc{}, false
	}
	return doc, true
}
