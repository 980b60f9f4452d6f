package im

// Rosters (RFC 6121 §2): the roster document in the Store, the jabber:iq:roster
// get/set/remove handler, versioning (§2.6) and roster pushes (§2.1.6).

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/data"
	"github.com/gavelhq/gavel/router"
	"github.com/gavelhq/gavel/xmlstream"
)

// Namespaces of the roster and of the stream features it advertises.
const (
	NSRoster      = "jabber:iq:roster"
	NSRosterVer   = "urn:xmpp:features:rosterver"
	NSPreApproval = "urn:xmpp:features:pre-approval"
)

// Limits on what one account can make the server store.
const (
	// MaxRosterItems is the number of items one roster may hold; a roster set
	// or a subscription that would add one more fails with not-allowed.
	MaxRosterItems = 1000
	// MaxPendingSubscriptions bounds stored inbound subscription requests;
	// requests beyond it are dropped (a stranger cannot grow the document).
	MaxPendingSubscriptions = 500
	// maxPendingStanzaBytes: a larger stored request is kept as a bare
	// <presence type='subscribe'/> without its payload.
	maxPendingStanzaBytes = 4096
	// MaxRosterNameBytes and MaxGroupNameBytes bound names (RFC 6121 §2.3.3
	// not-acceptable); MaxGroupsPerItem bounds the groups of one item.
	MaxRosterNameBytes = 1024
	MaxGroupNameBytes  = 1024
	MaxGroupsPerItem   = 64
	// casRetries bounds compare-and-set retries under contention.
	casRetries = 64
)

// Subscription values of a roster item.
const (
	subNone = "none"
	subTo   = "to"
	subFrom = "from"
	subBoth = "both"
)

// rosterItem is one contact as stored.
type rosterItem struct {
	JID    string   `json:"j"`
	Name   string   `json:"n,omitempty"`
	Groups []string `json:"g,omitempty"`
	To     bool     `json:"t,omitempty"` // the user receives the contact's presence
	From   bool     `json:"f,omitempty"` // the contact receives the user's presence
	Ask    bool     `json:"a,omitempty"` // outbound request pending (ask='subscribe')
	// Approved: a pre-approved inbound subscription (RFC 6121 §3.4).
	Approved bool `json:"p,omitempty"`
}

func (it *rosterItem) subscription() string {
	switch {
	case it.To && it.From:
		return subBoth
	case it.To:
		return subTo
	case it.From:
		return subFrom
	}
	return subNone
}

// pendingSub is a stored inbound subscription request (RFC 6121 §3.1.3),
// kept until the user approves or denies it.
type pendingSub struct {
	Raw       string `json:"r"` // the request as received
	Inherited string `json:"i,omitempty"`
}

// rosterDoc is the whole roster of one account, stored as one value under
// data.RosterKey and updated only by compare-and-set, so the subscription
// state of an item and its pending request always change together.
type rosterDoc struct {
	// Epoch is random per document: versions of a deleted and re-created
	// roster never repeat.
	Epoch   string                 `json:"e"`
	Seq     uint64                 `json:"s"` // bumped on every item change
	Items   map[string]*rosterItem `json:"i,omitempty"`
	Pending map[string]pendingSub  `json:"p,omitempty"` // by contact bare JID
}

// emptyRosterVer is the version of a roster that was never written.
const emptyRosterVer = "0"

// version is the roster version string (RFC 6121 §2.6).
func (d *rosterDoc) version() string {
	if d.Epoch == "" {
		return emptyRosterVer
	}
	return d.Epoch + "-" + strconv.FormatUint(d.Seq, 10)
}

func (d *rosterDoc) item(contact string) *rosterItem { return d.Items[contact] }

// sortedItems returns the items ordered by JID (stable roster output).
func (d *rosterDoc) sortedItems() []*rosterItem {
	out := make([]*rosterItem, 0, len(d.Items))
	for _, it := range d.Items {
		out = append(out, it)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].JID < out[j].JID })
	return out
}

// clone deep-copies d so an update function can modify it freely.
func (d *rosterDoc) clone() *rosterDoc {
	c := &rosterDoc{Epoch: d.Epoch, Seq: d.Seq,
		Items: make(map[string]*rosterItem, len(d.Items)), Pending: make(map[string]pendingSub, len(d.Pending))}
	for k, it := range d.Items {
		n := *it
		n.Groups = append([]string(nil), it.Groups...)
		c.Items[k] = &n
	}
	for k, p := range d.Pending {
		c.Pending[k] = p
	}
	return c
}

func newEpoch() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// loadRoster reads the roster of bare; a missing roster is empty.
func (s *Server) loadRoster(ctx context.Context, bare string) (*rosterDoc, uint64, error) {
	val, rev, err := s.store.Get(ctx, data.RosterKey(bare))
	if errors.Is(err, data.ErrNotFound) {
		return &rosterDoc{Items: map[string]*rosterItem{}, Pending: map[string]pendingSub{}}, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	d := &rosterDoc{}
	if err := json.Unmarshal(val, d); err != nil {
		return nil, 0, fmt.Errorf("im: corrupt roster of %s: %w", bare, err)
	}
	if d.Items == nil {
		d.Items = map[string]*rosterItem{}
	}
	if d.Pending == nil {
		d.Pending = map[string]pendingSub{}
	}
	return d, rev, nil
}

// updateRoster applies fn to a copy of bare's roster and writes the result
// with compare-and-set, retrying from a fresh read when another update won
// the race, so concurrent updates never lose one another. fn may run several
// times and must derive everything from the document it is given. It returns
// the document before and after the update that was written (equal contents
// when fn changed nothing, in which case nothing is written).
func (s *Server) updateRoster(ctx context.Context, bare string, fn func(d *rosterDoc) error) (before, after *rosterDoc, err error) {
	for range casRetries {
		old, rev, err := s.loadRoster(ctx, bare)
		if err != nil {
			return nil, nil, err
		}
		cur := old.clone()
		if err := fn(cur); err != nil {
			return nil, nil, err
		}
		oldItems, _ := json.Marshal(old.Items)
		newItems, _ := json.Marshal(cur.Items)
		itemsChanged := string(oldItems) != string(newItems)
		if !itemsChanged && pendingEqual(old.Pending, cur.Pending) {
			return old, old, nil
		}
		if cur.Epoch == "" {
			cur.Epoch = newEpoch()
		}
		if itemsChanged {
			cur.Seq++
		}
		val, err := json.Marshal(cur)
		if err != nil {
			return nil, nil, err
		}
		if _, err := s.store.CompareAndSet(ctx, data.RosterKey(bare), val, rev); err != nil {
			if errors.Is(err, data.ErrRevision) {
				continue
			}
			return nil, nil, err
		}
		return old, cur, nil
	}
	return nil, nil, xmlstream.ResourceConstraint("roster is being updated too often")
}

func pendingEqual(a, b map[string]pendingSub) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// itemElement renders an item for a roster result or push.
func itemElement(it *rosterItem) *xmlstream.Element {
	el := xmlstream.NewElement(NSRoster, "item", "jid", it.JID, "name", it.Name, "subscription", it.subscription())
	if it.Ask {
		el.SetAttr("ask", "subscribe")
	}
	if it.Approved {
		el.SetAttr("approved", "true")
	}
	for _, g := range it.Groups {
		el.Append(xmlstream.NewElement(NSRoster, "group").AppendText(g))
	}
	return el
}

// pushRoster sends a roster push (RFC 6121 §2.1.6) of item to every
// interested resource of bare, with the roster version.
func (s *Server) pushRoster(bare string, item *xmlstream.Element, ver string) {
	for _, r := range s.router.Resources(bare) {
		if !r.Interested {
			continue
		}
		q := xmlstream.NewElement(NSRoster, "query", "ver", ver).Append(item)
		// No 'from': a push from the server on the account's behalf
		// (RFC 6121 §2.1.6 allows none or the bare JID).
		iq := xmlstream.NewElement(xmlstream.NSClient, xmlstream.KindIQ,
			"to", r.Full, "type", "set", "id", pushID()).Append(q)
		r.Session.Send(xmlstream.NewStanza(iq))
	}
}

// pushItemChange pushes contact's item if it differs between before and after.
func (s *Server) pushItemChange(bare, contact string, before, after *rosterDoc) {
	b, a := before.item(contact), after.item(contact)
	switch {
	case a == nil && b == nil:
		return
	case a == nil:
		s.pushRoster(bare, xmlstream.NewElement(NSRoster, "item", "jid", contact, "subscription", "remove"), after.version())
	case b == nil || !sameItem(a, b):
		s.pushRoster(bare, itemElement(a), after.version())
	}
}

func sameItem(a, b *rosterItem) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func pushID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "push-" + hex.EncodeToString(b[:])
}

// registerRoster registers the roster handler, the deletion hook and the
// presence-authorization check used by disco (XEP-0030 §8).
func registerRoster(s *Server) {
	s.HandleAccountIQ(NSRoster, "query", s.handleRoster)
	s.state.services.presenceAuthorized = s.presenceAuthorized
	if s.accounts != nil {
		s.accounts.OnDelete(func(ctx context.Context, bare jid.JID) error {
			return s.store.Delete(ctx, data.RosterKey(bare.String()))
		})
	}
}

// StreamFeatures are the stream features c2s advertises after binding on
// behalf of the IM core: roster versioning (RFC 6121 §2.6.1) and
// subscription pre-approval (§3.4.1).
func (s *Server) StreamFeatures() []*xmlstream.Element {
	return []*xmlstream.Element{
		xmlstream.NewElement(NSRosterVer, "ver"),
		xmlstream.NewElement(NSPreApproval, "sub"),
	}
}

// presenceAuthorized reports whether requester is subscribed to owner's
// presence (subscription 'from' or 'both' in owner's roster).
func (s *Server) presenceAuthorized(ctx context.Context, owner, requester jid.JID) bool {
	d, _, err := s.loadRoster(ctx, owner.Bare().String())
	if err != nil {
		return false
	}
	it := d.item(requester.Bare().String())
	return it != nil && it.From
}

// isAnonymous reports whether bare lives on the anonymous host (no roster).
func (s *Server) isAnonymous(bare jid.JID) bool {
	return s.opts.AnonymousDomain != "" && bare.Domainpart() == s.opts.AnonymousDomain
}

// handleRoster answers roster gets and sets (RFC 6121 §2.2-2.5).
func (s *Server) handleRoster(ctx context.Context, iq *xmlstream.Stanza, q *xmlstream.Element) (*xmlstream.Element, error) {
	from, err := jid.Parse(iq.From())
	if err != nil {
		return nil, xmlstream.Forbidden("")
	}
	owner, err := jid.Parse(iq.To())
	if err != nil || !from.Bare().Equal(owner.Bare()) {
		// Only the account's own resources manage its roster (§2.1.5, §2.3.3).
		return nil, xmlstream.Forbidden("")
	}
	owner = owner.Bare()
	if iq.Type() == "get" {
		return s.rosterGet(ctx, from, owner, q)
	}
	if s.isAnonymous(owner) {
		return nil, xmlstream.NotAllowed("anonymous accounts have no stored roster")
	}
	return s.rosterSet(ctx, owner, q)
}

// rosterGet returns the roster, or an empty result when the client's
// cached version is current (§2.6.3), and marks the resource interested.
func (s *Server) rosterGet(ctx context.Context, from, owner jid.JID, q *xmlstream.Element) (*xmlstream.Element, error) {
	if res, ok := s.router.Lookup(from); ok {
		s.router.Update(res.Session, func(r *router.Resource) { r.Interested = true })
	}
	if s.isAnonymous(owner) {
		return xmlstream.NewElement(NSRoster, "query"), nil
	}
	d, _, err := s.loadRoster(ctx, owner.String())
	if err != nil {
		return nil, err
	}
	clientVer, versioned := q.LookupAttr("ver")
	cur := d.version()
	if versioned && clientVer == cur {
		return nil, nil
	}
	res := xmlstream.NewElement(NSRoster, "query")
	if versioned {
		res.Attrs = append(res.Attrs, xmlstream.Attr{Name: xmlstream.Name{Local: "ver"}, Value: cur})
	}
	for _, it := range d.sortedItems() {
		res.Append(itemElement(it))
	}
	return res, nil
}

// parsedSet is a validated roster set.
type parsedSet struct {
	contact string
	name    string
	groups  []string
	remove  bool
}

// parseRosterSet validates a roster set (§2.3.3).
func parseRosterSet(owner jid.JID, q *xmlstream.Element) (*parsedSet, error) {
	items := q.ChildrenNamed(NSRoster, "item")
	if len(items) != 1 || len(q.Elements()) != 1 {
		return nil, xmlstream.BadRequest("a roster set carries exactly one item")
	}
	item := items[0]
	raw, ok := item.LookupAttr("jid")
	if !ok || raw == "" {
		return nil, xmlstream.BadRequest("the item has no jid")
	}
	j, err := jid.Parse(raw)
	if err != nil {
		return nil, xmlstream.JIDMalformed()
	}
	if j.Resourcepart() != "" {
		return nil, xmlstream.BadRequest("roster items are bare JIDs")
	}
	if j.Equal(owner) {
		return nil, xmlstream.NotAllowed("the account itself cannot be a roster item")
	}
	p := &parsedSet{contact: j.String()}
	// §2.1.2.5: of the subscription values a client may only send 'remove';
	// others, like 'ask' and 'approved', are ignored.
	if item.Attr("subscription") == "remove" {
		p.remove = true
		return p, nil
	}
	p.name = item.Attr("name")
	if len(p.name) > MaxRosterNameBytes {
		return nil, notAcceptable("the name is too long")
	}
	groups := item.ChildrenNamed(NSRoster, "group")
	if len(groups) > MaxGroupsPerItem {
		return nil, notAcceptable("too many groups")
	}
	seen := map[string]bool{}
	for _, g := range groups {
		name := g.Text()
		switch {
		case name == "":
			return nil, notAcceptable("empty group name")
		case len(name) > MaxGroupNameBytes:
			return nil, notAcceptable("the group name is too long")
		case seen[name]:
			return nil, xmlstream.BadRequest("duplicate group")
		}
		seen[name] = true
		p.groups = append(p.groups, name)
	}
	return p, nil
}

func notAcceptable(text string) *xmlstream.StanzaError {
	return &xmlstream.StanzaError{Type: xmlstream.ErrModify, Condition: "not-acceptable", Text: text}
}

// rosterSet adds, updates or removes one item (§2.3-2.5).
func (s *Server) rosterSet(ctx context.Context, owner jid.JID, q *xmlstream.Element) (*xmlstream.Element, error) {
	p, err := parseRosterSet(owner, q)
	if err != nil {
		return nil, err
	}
	bare := owner.String()
	if p.remove {
		return nil, s.rosterRemove(ctx, owner, p.contact)
	}
	_, after, err := s.updateRoster(ctx, bare, func(d *rosterDoc) error {
		it := d.Items[p.contact]
		if it == nil {
			if len(d.Items) >= MaxRosterItems {
				return xmlstream.NotAllowed("the roster is full")
			}
			it = &rosterItem{JID: p.contact}
			d.Items[p.contact] = it
		}
		it.Name, it.Groups = p.name, p.groups
		return nil
	})
	if err != nil {
		return nil, err
	}
	// §2.3.2: push the item to every interested resource, the sender included.
	s.pushRoster(bare, itemElement(after.item(p.contact)), after.version())
	return nil, nil
}

// rosterRemove deletes an item and cancels both directions of the
// subscription (§2.5.2): unsubscribe if the user was subscribed to the
// contact (or asked to be), unsubscribed if the contact was subscribed to
// the user (or had asked), with unavailable presence from each available
// resource when the contact was receiving it.
func (s *Server) rosterRemove(ctx context.Context, owner jid.JID, contact string) error {
	bare := owner.String()
	var hadPending bool
	before, after, err := s.updateRoster(ctx, bare, func(d *rosterDoc) error {
		if d.Items[contact] == nil {
			return xmlstream.ItemNotFound()
		}
		_, hadPending = d.Pending[contact]
		delete(d.Items, contact)
		delete(d.Pending, contact)
		return nil
	})
	if err != nil {
		return err
	}
	old := before.item(contact)
	s.pushRoster(bare, xmlstream.NewElement(NSRoster, "item", "jid", contact, "subscription", "remove"), after.version())
	if old.To || old.Ask {
		s.send(ctx, subscriptionStanza(bare, contact, "unsubscribe"))
	}
	if old.From || hadPending {
		s.send(ctx, subscriptionStanza(bare, contact, "unsubscribed"))
	}
	if old.From {
		s.sendUnavailableFromAll(ctx, owner, contact)
	}
	return nil
}
