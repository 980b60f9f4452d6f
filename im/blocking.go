package im

// XEP-0191 blocking command: the blocklist get/block/unblock handlers, the
// pushes to the resources that asked for the list, and enforcement through
// the filters of hooks.go.
//
// Enforcement (§3.3, with XEP-0016's matching order, §6):
//   - inbound, from a blocked JID to the user: presence of any type is
//     dropped without an answer; a message or an iq get/set is answered with
//     <service-unavailable/> (the user appears offline); iq results and
//     errors, and message errors, are dropped;
//   - outbound, from the user to a blocked JID: not routed; the sending
//     resource gets <not-acceptable/> with <blocked
//     xmlns='urn:xmpp:blocking:errors'/>, except for errors and iq results,
//     which are dropped (nothing may answer them);
//   - presence the server sends on the user's behalf to a local account the
//     user blocked (broadcasts, probe answers) is dropped at the recipient's
//     inbound filter, so a blocked local contact never sees the user online.
//
// A user's resources never block one another (§5 note), and the user's own
// server domain is never blocked (the client needs it). Each stanza to or
// from a local account consults the list, so lists live in an LRU cache
// (cached empty lists included) that every write replaces; a store read
// happens only on a cache miss.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/data"
	"github.com/gavelhq/gavel/router"
	"github.com/gavelhq/gavel/xmlstream"
)

// Namespaces of XEP-0191.
const (
	NSBlocking       = "urn:xmpp:blocking"
	NSBlockingErrors = "urn:xmpp:blocking:errors"
)

// MaxBlocklistItems bounds one user's blocklist; a block that would exceed
// it fails with <not-allowed/> and changes nothing.
const MaxBlocklistItems = 1000

// blockCacheUsers bounds the number of blocklists held in memory.
const blockCacheUsers = 10000

// blocklist is a set of canonical JID strings (bare, full, domain or
// domain/resource). A cached blocklist is never modified: writes replace it.
type blocklist map[string]struct{}

// match reports whether stanzas to or from j are blocked (XEP-0191 §6:
// the full JID, then the bare JID, then the domain; a domain/resource item
// is matched by the full-JID lookup).
func (b blocklist) match(j jid.JID) bool {
	if len(b) == 0 {
		return false
	}
	if _, ok := b[j.String()]; ok {
		return true
	}
	if j.Resourcepart() != "" && j.Localpart() != "" {
		if _, ok := b[j.Bare().String()]; ok {
			return true
		}
	}
	if j.Localpart() != "" || j.Resourcepart() != "" {
		if _, ok := b[j.Domainpart()]; ok {
			return true
		}
	}
	return false
}

// sorted returns the items in a stable order.
func (b blocklist) sorted() []string {
	out := make([]string, 0, len(b))
	for k := range b {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// blocklistDoc is the stored form under data.BlocklistKey.
type blocklistDoc struct {
	Items []string `json:"i"`
}

// blockState is the in-memory part of blocking.
type blockState struct {
	cache blockCache

	mu sync.Mutex
	// interested: per bare JID, the sessions that retrieved the blocklist
	// and so receive pushes (§3.3). Entries of ended sessions are removed
	// when they end or at the next push.
	interested map[string]map[router.Session]struct{}
}

// blockCache caches blocklists by bare JID, evicting by CLOCK (second
// chance) rather than LRU: a hit only sets its entry's reference bit, and
// only if unset, under a read lock. An LRU hit moved list neighbours under
// an exclusive lock, and every stanza delivered to a local account looks
// its recipient up here: in a 10,000-occupant room's fan-out those writes
// to cold memory were a noticeable part of each copy. A load that started
// before a write must not fill the cache with what it read, so every write
// bumps gen and loads only insert when gen did not move.
type blockCache struct {
	mu      sync.RWMutex
	gen     uint64
	entries map[string]*blockEntry
	ring    []*blockEntry // the clock; at most blockCacheUsers
	hand    int
}

type blockEntry struct {
	bare string
	set  blocklist
	ref  atomic.Bool // used since the hand last passed
	slot int         // index in ring
}

func (c *blockCache) get(bare string) (blocklist, bool, uint64) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if e, ok := c.entries[bare]; ok {
		if !e.ref.Load() {
			e.ref.Store(true)
		}
		return e.set, true, c.gen
	}
	return nil, false, c.gen
}

// fill caches set as loaded at generation gen, unless a write came since.
func (c *blockCache) fill(bare string, set blocklist, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen == c.gen {
		c.putLocked(bare, set)
	}
}

// replace caches set as just written.
func (c *blockCache) replace(bare string, set blocklist) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.putLocked(bare, set)
}

// forget drops bare's entry (account deleted).
func (c *blockCache) forget(bare string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if e, ok := c.entries[bare]; ok {
		c.removeLocked(e)
	}
}

func (c *blockCache) putLocked(bare string, set blocklist) {
	if c.entries == nil {
		c.entries = map[string]*blockEntry{}
	}
	if e, ok := c.entries[bare]; ok {
		e.set = set
		e.ref.Store(true)
		return
	}
	for len(c.ring) >= blockCacheUsers {
		c.evictLocked()
	}
	e := &blockEntry{bare: bare, set: set, slot: len(c.ring)}
	c.ring = append(c.ring, e)
	c.entries[bare] = e
}

// evictLocked advances the hand to the first entry not used since its
// last pass (clearing reference bits on the way) and removes it.
func (c *blockCache) evictLocked() {
	for {
		if c.hand >= len(c.ring) {
			c.hand = 0
		}
		e := c.ring[c.hand]
		if e.ref.Swap(false) {
			c.hand++
			continue
		}
		c.removeLocked(e)
		return
	}
}

// removeLocked drops e; the ring's last entry takes its slot.
func (c *blockCache) removeLocked(e *blockEntry) {
	last := c.ring[len(c.ring)-1]
	c.ring[e.slot], last.slot = last, e.slot
	c.ring[len(c.ring)-1] = nil
	c.ring = c.ring[:len(c.ring)-1]
	delete(c.entries, e.bare)
}

func registerBlocking(s *Server) {
	// §3.1: the server advertises the feature in its own disco#info.
	s.AddServerFeature(NSBlocking)
	s.HandleAccountIQ(NSBlocking, "blocklist", s.handleBlocklist)
	s.HandleAccountIQ(NSBlocking, "block", s.handleBlockChange)
	s.HandleAccountIQ(NSBlocking, "unblock", s.handleBlockChange)
	s.AddInboundFilter(OrderBlocking, s.blockInbound)
	s.AddOutboundFilter(OrderBlocking, s.blockOutbound)
	s.OnSessionEnded(func(_ context.Context, sess router.Session, _ router.Resource) {
		s.forgetBlocklistInterest(sess)
	})
	if s.accounts != nil {
		s.accounts.OnDelete(func(ctx context.Context, bare jid.JID) error {
			key := bare.Bare().String()
			err := s.store.Delete(ctx, data.BlocklistKey(key))
			s.state.blocking.cache.forget(key)
			return err
		})
	}
}

// loadBlocklist reads bare's blocklist from the store with its revision.
func (s *Server) loadBlocklist(ctx context.Context, bare string) (blocklist, uint64, error) {
	val, rev, err := s.store.Get(ctx, data.BlocklistKey(bare))
	if errors.Is(err, data.ErrNotFound) {
		return blocklist{}, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	var doc blocklistDoc
	if err := json.Unmarshal(val, &doc); err != nil {
		return nil, 0, fmt.Errorf("im: corrupt blocklist of %s: %w", bare, err)
	}
	set := make(blocklist, len(doc.Items))
	for _, it := range doc.Items {
		set[it] = struct{}{}
	}
	return set, rev, nil
}

// blocklistOf returns user's blocklist, from the cache when possible. A
// read failure is logged and treated as an empty list (the stanza flows).
func (s *Server) blocklistOf(ctx context.Context, user jid.JID) blocklist {
	return s.blocklistByBare(ctx, user.String(), user.Domainpart())
}

// blocklistByBare is blocklistOf for a canonical bare JID string and its domain.
func (s *Server) blocklistByBare(ctx context.Context, bare, domain string) blocklist {
	if s.opts.AnonymousDomain != "" && domain == s.opts.AnonymousDomain {
		return nil // anonymous accounts keep no blocklist
	}
	c := &s.state.blocking.cache
	set, ok, gen := c.get(bare)
	if ok {
		return set
	}
	set, _, err := s.loadBlocklist(ctx, bare)
	if err != nil {
		s.log.Error("blocklist unreadable", "user", bare, "err", err)
		return nil
	}
	c.fill(bare, set, gen)
	return set
}

// exempt reports whether stanzas between user and other are outside the
// blocklist: the user's own resources (§5 note) and the user's own server
// (the domain JID itself), which the client needs whatever the list says.
func exempt(user, other jid.JID) bool {
	return other.Bare().Equal(user) ||
		(other.Localpart() == "" && other.Resourcepart() == "" && other.Domainpart() == user.Domainpart())
}

// IsBlocked reports whether user (a local bare JID) blocks communication
// with other. Presence broadcasts on user's behalf should skip such contacts.
func (s *Server) IsBlocked(ctx context.Context, user, other jid.JID) bool {
	user = user.Bare()
	if exempt(user, other) {
		return false
	}
	return s.blocklistOf(ctx, user).match(other)
}

// updateBlocklist applies fn to a copy of bare's list and writes it with
// compare-and-set, retrying on a concurrent write. It returns the lists
// before and after the write that happened (equal when fn changed nothing).
func (s *Server) updateBlocklist(ctx context.Context, bare string, fn func(b blocklist) error) (before, after blocklist, err error) {
	for range casRetries {
		old, rev, err := s.loadBlocklist(ctx, bare)
		if err != nil {
			return nil, nil, err
		}
		cur := make(blocklist, len(old))
		for k := range old {
			cur[k] = struct{}{}
		}
		if err := fn(cur); err != nil {
			return nil, nil, err
		}
		if sameBlocklist(old, cur) {
			return old, old, nil
		}
		val, err := json.Marshal(blocklistDoc{Items: cur.sorted()})
		if err != nil {
			return nil, nil, err
		}
		if len(cur) == 0 {
			err = s.store.DeleteIf(ctx, data.BlocklistKey(bare), rev)
		} else {
			_, err = s.store.CompareAndSet(ctx, data.BlocklistKey(bare), val, rev)
		}
		if errors.Is(err, data.ErrRevision) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		s.state.blocking.cache.replace(bare, cur)
		return old, cur, nil
	}
	return nil, nil, xmlstream.ResourceConstraint("blocklist is being updated too often")
}

func sameBlocklist(a, b blocklist) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			return false
		}
	}
	return true
}

// ownRequest checks that iq comes from one of the resources of the account
// it is addressed to, and returns the requesting full JID and the account.
func ownRequest(iq *xmlstream.Stanza) (from, owner jid.JID, err error) {
	from, err = jid.Parse(iq.From())
	if err != nil || iq.From() == "" {
		return jid.JID{}, jid.JID{}, xmlstream.Forbidden("")
	}
	owner, err = jid.Parse(iq.To())
	if err != nil || !from.Bare().Equal(owner.Bare()) {
		return jid.JID{}, jid.JID{}, xmlstream.Forbidden("")
	}
	return from, owner.Bare(), nil
}

// handleBlocklist answers a blocklist retrieval (§3.2) and marks the
// requesting resource as interested in pushes.
func (s *Server) handleBlocklist(ctx context.Context, iq *xmlstream.Stanza, q *xmlstream.Element) (*xmlstream.Element, error) {
	from, owner, err := ownRequest(iq)
	if err != nil {
		return nil, err
	}
	if iq.Type() != "get" {
		return nil, xmlstream.BadRequest("the blocklist is retrieved with an iq get")
	}
	s.markBlocklistInterest(owner.String(), from)
	res := xmlstream.NewElement(NSBlocking, "blocklist")
	if s.isAnonymous(owner) {
		return res, nil
	}
	set, _, err := s.loadBlocklist(ctx, owner.String())
	if err != nil {
		return nil, err
	}
	for _, it := range set.sorted() {
		res.Append(xmlstream.NewElement(NSBlocking, "item", "jid", it))
	}
	return res, nil
}

// parseBlockItems returns the canonical JIDs of the <item/> children of a
// block or unblock, without duplicates, in request order.
func parseBlockItems(q *xmlstream.Element) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, c := range q.Elements() {
		if c.Name != (xmlstream.Name{Space: NSBlocking, Local: "item"}) {
			return nil, xmlstream.BadRequest("only <item/> elements are allowed")
		}
		raw, ok := c.LookupAttr("jid")
		if !ok {
			return nil, xmlstream.BadRequest("an item needs a jid")
		}
		j, err := jid.Parse(raw)
		if err != nil || raw == "" {
			return nil, xmlstream.JIDMalformed()
		}
		if k := j.String(); !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out, nil
}

// handleBlockChange answers block (§3.3), unblock (§3.4) and unblock all (§3.5).
func (s *Server) handleBlockChange(ctx context.Context, iq *xmlstream.Stanza, q *xmlstream.Element) (*xmlstream.Element, error) {
	_, owner, err := ownRequest(iq)
	if err != nil {
		return nil, err
	}
	if iq.Type() != "set" {
		return nil, xmlstream.BadRequest("block and unblock are iq sets")
	}
	block := q.Name.Local == "block"
	items, err := parseBlockItems(q)
	if err != nil {
		return nil, err
	}
	if block && len(items) == 0 {
		return nil, xmlstream.BadRequest("a block needs at least one item")
	}
	if s.isAnonymous(owner) {
		return nil, xmlstream.NotAllowed("anonymous accounts keep no blocklist")
	}
	bare := owner.String()
	before, after, err := s.updateBlocklist(ctx, bare, func(b blocklist) error {
		switch {
		case block:
			for _, it := range items {
				b[it] = struct{}{}
			}
			if len(b) > MaxBlocklistItems {
				return xmlstream.NotAllowed("the blocklist is full")
			}
		case len(items) == 0:
			clear(b)
		default:
			for _, it := range items {
				delete(b, it)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Only what changed is pushed; a request that changed nothing is
	// answered without pushes.
	if block {
		added := difference(after, before)
		if len(added) > 0 {
			s.pushBlocklist(bare, "block", added)
		}
		s.presenceOnBlockChange(ctx, owner, added, before, true)
		return nil, nil
	}
	removed := difference(before, after)
	switch {
	case len(removed) == 0:
	case len(items) == 0:
		s.pushBlocklist(bare, "unblock", nil) // §3.5: unblock all is pushed as such
	default:
		s.pushBlocklist(bare, "unblock", removed)
	}
	s.presenceOnBlockChange(ctx, owner, removed, after, false)
	return nil, nil
}

// difference returns the items of a that are not in b, sorted.
func difference(a, b blocklist) []string {
	var out []string
	for k := range a {
		if _, ok := b[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// markBlocklistInterest records that the session at from asked for the blocklist.
func (s *Server) markBlocklistInterest(bare string, from jid.JID) {
	res, ok := s.router.Lookup(from)
	if !ok {
		return
	}
	st := &s.state.blocking
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.interested == nil {
		st.interested = map[string]map[router.Session]struct{}{}
	}
	set := st.interested[bare]
	if set == nil {
		set = map[router.Session]struct{}{}
		st.interested[bare] = set
	}
	set[res.Session] = struct{}{}
}

// forgetBlocklistInterest drops sess (ended) from the interested sessions.
func (s *Server) forgetBlocklistInterest(sess router.Session) {
	bare := sess.JID().Bare().String()
	st := &s.state.blocking
	st.mu.Lock()
	defer st.mu.Unlock()
	if set := st.interested[bare]; set != nil {
		delete(set, sess)
		if len(set) == 0 {
			delete(st.interested, bare)
		}
	}
}

// pushBlocklist sends <block/> or <unblock/> with items (none: unblock
// all) to every bound resource of bare that retrieved the blocklist.
func (s *Server) pushBlocklist(bare, op string, items []string) {
	resources := s.router.Resources(bare)
	st := &s.state.blocking
	st.mu.Lock()
	var targets []router.Resource
	if set := st.interested[bare]; set != nil {
		bound := make(map[router.Session]bool, len(resources))
		for _, r := range resources {
			bound[r.Session] = true
			if _, ok := set[r.Session]; ok {
				targets = append(targets, r)
			}
		}
		for sess := range set {
			if !bound[sess] {
				delete(set, sess) // replaced without an end notice
			}
		}
		if len(set) == 0 {
			delete(st.interested, bare)
		}
	}
	st.mu.Unlock()
	for _, r := range targets {
		payload := xmlstream.NewElement(NSBlocking, op)
		for _, it := range items {
			payload.Append(xmlstream.NewElement(NSBlocking, "item", "jid", it))
		}
		iq := xmlstream.NewElement(xmlstream.NSClient, xmlstream.KindIQ,
			"to", r.Full, "type", "set", "id", pushID()).Append(payload)
		r.Session.Send(xmlstream.NewStanza(iq))
	}
}

// presenceOnBlockChange tells the contacts entitled to the user's presence
// (subscription from or both) what blocking changed for them: unavailable
// presence once they become blocked (§3.3), the current presence once they
// are no longer blocked (§3.4). changed are the items added or removed;
// other is the list that decides whether a contact was (block) or still is
// (unblock) covered by another item, in which case nothing changes for it.
func (s *Server) presenceOnBlockChange(ctx context.Context, owner jid.JID, changed []string, other blocklist, block bool) {
	if len(changed) == 0 {
		return
	}
	d := s.rosterOrEmpty(ctx, owner)
	changedSet := make(blocklist, len(changed))
	for _, c := range changed {
		changedSet[c] = struct{}{}
	}
	var targets []string
	seen := map[string]bool{}
	add := func(t string) {
		if !seen[t] {
			seen[t] = true
			targets = append(targets, t)
		}
	}
	for _, it := range d.sortedItems() {
		if !it.From {
			continue
		}
		contact, err := jid.Parse(it.JID)
		if err != nil {
			continue
		}
		if changedSet.match(contact) && !other.match(contact) {
			add(it.JID)
		}
	}
	// A full-JID item blocks one resource of a contact: that resource is told.
	for _, c := range changed {
		j, err := jid.Parse(c)
		if err != nil || j.Resourcepart() == "" {
			continue
		}
		if it := d.item(j.Bare().String()); it != nil && it.From && !other.match(j) && !seen[it.JID] {
			add(c)
		}
	}
	for _, t := range targets {
		if block {
			s.sendUnavailableFromAll(ctx, owner, t)
		} else {
			s.sendPresenceFromAll(ctx, owner, t)
		}
	}
	if block {
		s.endDirectedPresence(ctx, owner, changedSet, other, seen)
	}
}

// endDirectedPresence sends unavailable presence to the directed-presence
// targets (RFC 6121 §4.6) of owner's resources that just became blocked,
// and forgets them: they too were receiving the user's presence (§3.3).
// done are targets already told.
func (s *Server) endDirectedPresence(ctx context.Context, owner jid.JID, changed, before blocklist, done map[string]bool) {
	for _, r := range s.router.Resources(owner.String()) {
		p := &s.state.presence
		p.mu.Lock()
		var hit []string
		for target := range p.directed[r.Session] {
			j, err := jid.Parse(target)
			if err == nil && changed.match(j) && !before.match(j) && !done[target] && !done[j.Bare().String()] {
				hit = append(hit, target)
			}
		}
		p.mu.Unlock()
		sort.Strings(hit)
		for _, target := range hit {
			s.state.presence.removeDirected(r.Session, target)
			s.send(ctx, subscriptionStanza(r.Full, target, "unavailable"))
		}
	}
}

// blockInbound enforces the recipient's blocklist on stanzas to a local
// account, and the sender's on presence a local account's server sends on
// its behalf.
func (s *Server) blockInbound(ctx context.Context, to jid.JID, st *xmlstream.Stanza) (*xmlstream.Stanza, bool) {
	raw := st.From()
	if raw == "" {
		return st, false
	}
	user := to.Bare()
	set := s.blocklistOf(ctx, user)
	// Available presence from an account of this server also needs the
	// sender's list. A local 'from' was stamped by c2s, so its raw form is
	// canonical and serves as the cache key without a parse.
	var senderSet blocklist
	if st.Name.Local == xmlstream.KindPresence && st.Type() == "" {
		if bare, domain, ok := rawBareJID(raw); ok && s.router.IsLocal(domain) {
			senderSet = s.blocklistByBare(ctx, bare, domain)
		}
	}
	if len(set) == 0 && len(senderSet) == 0 {
		return st, false // the common case: no parse of 'from'
	}
	from, err := jid.Parse(raw)
	if err != nil || exempt(user, from) {
		return st, false
	}
	if set.match(from) {
		s.rejectFromBlocked(ctx, st)
		return nil, true
	}
	// Available presence from a local account that blocked the recipient
	// (a broadcast or probe answer sent for it): hidden. Unavailable
	// presence still flows, so a contact blocked while it saw the user
	// online learns that the user went away (§3.3).
	if senderSet.match(to) {
		return nil, true
	}
	return st, false
}

// rawBareJID splits an unparsed user@domain[/resource] into its bare JID
// and domain, as written (not normalized); ok is false without a localpart.
func rawBareJID(j string) (bare, domain string, ok bool) {
	if i := strings.IndexByte(j, '/'); i >= 0 {
		j = j[:i]
	}
	i := strings.IndexByte(j, '@')
	if i <= 0 {
		return "", "", false
	}
	return j, j[i+1:], true
}

// rejectFromBlocked answers (or drops) a stanza from a JID the recipient
// blocked (§3.3): the user appears offline to it.
func (s *Server) rejectFromBlocked(ctx context.Context, st *xmlstream.Stanza) {
	switch st.Name.Local {
	case xmlstream.KindMessage:
		s.bounce(ctx, st, xmlstream.ServiceUnavailable()) // errors are never answered
	case xmlstream.KindIQ:
		if t := st.Type(); t == "get" || t == "set" {
			s.bounce(ctx, st, xmlstream.ServiceUnavailable())
		}
	}
	// Presence of any type: no answer, no error.
}

// blockedError is the error for a stanza the user sent to a JID it blocked.
func blockedError() *xmlstream.StanzaError {
	return &xmlstream.StanzaError{Type: xmlstream.ErrCancel, Condition: "not-acceptable",
		App: xmlstream.NewElement(NSBlockingErrors, "blocked")}
}

// blockOutbound stops stanzas a user's client sends to a JID the user blocked.
func (s *Server) blockOutbound(ctx context.Context, sess router.Session, st *xmlstream.Stanza) (*xmlstream.Stanza, bool) {
	raw := st.To()
	if raw == "" {
		return st, false
	}
	user := sess.JID().Bare()
	set := s.blocklistOf(ctx, user)
	if len(set) == 0 {
		return st, false
	}
	to, err := jid.Parse(raw)
	if err != nil || exempt(user, to) || !set.match(to) {
		return st, false
	}
	typ := st.Type()
	if typ == "error" || (st.Name.Local == xmlstream.KindIQ && typ == "result") {
		return nil, true // a response: nobody to tell
	}
	// Straight back to the session: routed, the error would come from the
	// blocked JID and be dropped by the user's own inbound filter.
	if reply := xmlstream.ErrorReply(st, blockedError()); reply != nil {
		sess.Send(reply)
	}
	return nil, true
}
