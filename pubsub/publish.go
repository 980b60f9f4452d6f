package pubsub

// Items: publish (§7.1) with auto-create and publish-options (§7.1.4,
// §7.1.5), retract (§7.2), purge (§8.5) and retrieval (§6.5). The item
// log (items.go) stores them; this file decides what may happen.

import (
	"bytes"
	"slices"
	"sort"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/xmlstream"
)

// maxAllItems bounds a retrieval that asks for every item: beyond it the
// answer is the newest maxAllItems as a result-set page (§6.5.4).
const maxAllItems = 1000

// publish handles §7.1 (items already bounded by Service.checkItems).
func (n *nodeState) publish(actor jid.JID, items []Item, opts *PublishOptions) ([]string, error) {
	pre := preconditions(opts)
	created := false
	if !n.exists {
		// Auto-create (§7.1.4) for whoever may create nodes here, with
		// the default configuration and the preconditions (§7.1.5).
		if !n.svc.mayCreate(n.host, actor) {
			return nil, errNodeNotFound()
		}
		c := n.svc.DefaultConfig()
		for v, vals := range pre {
			if err := c.Set(v, vals); err != nil {
				if e, ok := err.(*Error); ok {
					return nil, e
				}
				return nil, errNotAcceptable("")
			}
		}
		if err := n.svc.checkConfig(&c); err != nil {
			return nil, err
		}
		if err := n.create(actor, c); err != nil {
			return nil, err
		}
		created = true
	}
	bare := actor.Bare().String()
	if !n.mayPublish(bare) {
		return nil, errForbidden() // §7.1.3.1
	}
	if len(pre) > 0 && !created && !n.cfg.Matches(pre) {
		return nil, &Error{Cond: "conflict", Type: "cancel", App: "precondition-not-met"} // §7.1.5
	}
	if err := n.checkEventType(items); err != nil {
		return nil, err
	}
	if len(items) == 0 {
		// A transient notification-only node: an empty <items/> event.
		if n.cfg.DeliverNotifications {
			n.notify(&Event{Kind: EventItems}, n.itemRecipients())
		}
		return nil, nil
	}
	now := n.now()
	published := make([]Item, len(items))
	ids := make([]string, len(items))
	for i, it := range items {
		if it.ID == "" {
			it.ID = randomID()
		}
		it.Publisher = actor
		it.Time = now
		it.Payload = bytes.Clone(it.Payload) // ours from here on: stored, cached, notified
		published[i], ids[i] = it, it.ID
	}
	if n.cfg.PersistItems {
		l, err := n.itemLog()
		if err != nil {
			return nil, errInternal("opening the item log failed")
		}
		for _, it := range published {
			// One durable write: the item, and the oldest items it
			// pushes out beyond max_items.
			_, dropped, err := l.PutTrim(n.ctx, it, n.maxItems())
			if err != nil {
				n.lastKnown = false
				if e, ok := err.(*Error); ok {
					return nil, e
				}
				n.log.Error("pubsub: storing item failed", "err", err)
				return nil, errInternal("storing the item failed")
			}
			n.forgetLast(dropped)
		}
		n.noteItemTime(now)
	}
	last := published[len(published)-1]
	n.last, n.lastKnown = &last, true
	if n.cfg.DeliverNotifications {
		n.notify(&Event{Kind: EventItems, Items: published}, n.itemRecipients())
	}
	return ids, nil
}

// preconditions are the publish-options fields without FORM_TYPE.
func preconditions(opts *PublishOptions) map[string][]string {
	if opts == nil || len(opts.Fields) == 0 {
		return nil
	}
	pre := make(map[string][]string, len(opts.Fields))
	for v, vals := range opts.Fields {
		if v != "FORM_TYPE" {
			pre[v] = vals
		}
	}
	return pre
}

// checkEventType applies §4.3's table and the payload checks of §7.1.3.
func (n *nodeState) checkEventType(items []Item) error {
	persistent, payloads := n.cfg.PersistItems, n.cfg.DeliverPayloads
	if len(items) == 0 {
		switch {
		case persistent:
			return errBadRequest("item-required") // §7.1.3.6
		case payloads:
			return errBadRequest("payload-required")
		}
		return nil
	}
	if !persistent && !payloads {
		return errBadRequest("item-forbidden")
	}
	if persistent && len(items) > n.maxItems() {
		return &Error{Cond: "not-allowed", Type: "cancel", App: "max-items-exceeded"} // §12.10
	}
	limit := n.svc.opts.MaxPayloadLimit
	if n.cfg.MaxPayloadSize > 0 && n.cfg.MaxPayloadSize < limit {
		limit = n.cfg.MaxPayloadSize
	}
	for _, it := range items {
		if len(it.Payload) == 0 {
			if payloads {
				return errBadRequest("payload-required")
			}
			continue
		}
		if len(it.Payload) > limit {
			return errNotAcceptable("payload-too-big") // §7.1.3.4
		}
		if n.cfg.Type != "" && payloadNamespace(it.Payload) != n.cfg.Type {
			return errBadRequest("invalid-payload") // §7.1.3.5
		}
	}
	return nil
}

// payloadNamespace is the namespace of a payload's root element ("" when
// it does not parse).
func payloadNamespace(payload []byte) string {
	el, err := xmlstream.ParseElement(payload, "", xmlstream.Limits{})
	if err != nil {
		return ""
	}
	return el.Name.Space
}

// retract handles §7.2: all ids or none.
func (n *nodeState) retract(actor jid.JID, ids []string, notify bool) error {
	if !n.exists {
		return errNodeNotFound()
	}
	bare := actor.Bare().String()
	aff := n.affiliation(bare)
	if !may(aff, actRetractOwn) {
		return errForbidden() // §7.2.3.1
	}
	if !n.cfg.PersistItems {
		return unsupported("persistent-items") // §7.2.3.5
	}
	l, err := n.itemLog()
	if err != nil {
		return errInternal("opening the item log failed")
	}
	for _, id := range ids {
		it, ok, err := l.Get(n.ctx, id)
		if err != nil {
			return errInternal("reading items failed")
		}
		if !ok {
			return errNodeNotFound() // §7.2.3.2: no such item
		}
		if !may(aff, actRetractAny) && it.Publisher.Bare().String() != bare {
			return errForbidden()
		}
	}
	removed, err := l.Delete(n.ctx, ids)
	n.forgetLast(removed)
	n.expiryKnown = false
	if err != nil {
		n.log.Error("pubsub: deleting items failed", "err", err)
		return errInternal("deleting items failed")
	}
	if len(removed) > 0 && (notify || (n.cfg.NotifyRetract && n.cfg.DeliverNotifications)) {
		n.notify(&Event{Kind: EventRetract, Retracted: removed}, n.itemRecipients())
	}
	return nil
}

// purge handles §8.5: owners, and publishers (table 4's starred "Yes").
func (n *nodeState) purge(actor jid.JID) error {
	if !n.exists {
		return errNodeNotFound()
	}
	if !may(n.affiliation(actor.Bare().String()), actPurge) {
		return errForbidden()
	}
	if !n.cfg.PersistItems {
		return unsupported("persistent-items") // §8.5.3.3
	}
	if err := n.dropAllItems(); err != nil {
		n.log.Error("pubsub: purging failed", "err", err)
		return errInternal("purging failed")
	}
	n.last, n.lastKnown = nil, true
	if n.cfg.NotifyRetract && n.cfg.DeliverNotifications {
		n.notify(&Event{Kind: EventPurge}, n.plainRecipients(false))
	}
	return nil
}

// retrieve handles §6.5.
func (n *nodeState) retrieve(actor jid.JID, q ItemQuery) (ItemPage, error) {
	if !n.exists {
		return ItemPage{}, errNodeNotFound()
	}
	bare := actor.Bare()
	if err := n.checkRetrieveSubID(bare.String(), q.SubID); err != nil {
		return ItemPage{}, err
	}
	if err := n.access(bare, purposeRetrieve); err != nil {
		return ItemPage{}, err
	}
	if !n.cfg.PersistItems {
		// §6.5.7: a transient node returns its last published item.
		var list []Item
		if it := n.lastItem(); it != nil && (len(q.IDs) == 0 || slices.Contains(q.IDs, it.ID)) {
			list = []Item{*it}
		}
		page := ItemPage{Items: list, Count: len(list)}
		if len(list) == 1 && q.Page != nil {
			page.First, page.Last = list[0].ID, list[0].ID
		}
		return page, nil
	}
	l, err := n.itemLog()
	if err != nil {
		return ItemPage{}, errInternal("opening the item log failed")
	}
	var page ItemPage
	switch {
	case len(q.IDs) > 0:
		seen := map[string]bool{}
		for _, id := range q.IDs {
			if seen[id] {
				continue
			}
			seen[id] = true
			it, ok, err := l.Get(n.ctx, id)
			if err != nil {
				return ItemPage{}, errInternal("reading items failed")
			}
			if ok && !n.expired(it.Time) {
				page.Items = append(page.Items, it)
			}
		}
		sort.SliceStable(page.Items, func(i, k int) bool { return page.Items[i].Time.After(page.Items[k].Time) })
		return page, nil // §6.5.9.11: unknown ids are simply absent
	case q.Page != nil:
		page, err = l.Page(n.ctx, *q.Page)
	case q.MaxItems > 0:
		page.Items, err = l.Latest(n.ctx, min(q.MaxItems, n.svc.opts.MaxItemsLimit))
	case l.Count() > maxAllItems:
		page, err = l.Page(n.ctx, PageRequest{Max: maxAllItems, Index: -1})
	default:
		page.Items, err = l.Latest(n.ctx, 0)
	}
	if err != nil {
		if e, ok := err.(*Error); ok {
			return ItemPage{}, e
		}
		return ItemPage{}, errInternal("reading items failed")
	}
	return page, nil
}

// checkRetrieveSubID applies §6.5.9.1-2 to the requester's own
// subscriptions: a SubID must be one of them; none is needed unless the
// node serves subscribers only (authorize) and there are several.
func (n *nodeState) checkRetrieveSubID(bare, subid string) error {
	mine := n.subs[bare]
	if subid != "" {
		if len(mine) == 0 {
			return nil
		}
		for _, sub := range mine {
			if sub.SubID == subid {
				return nil
			}
		}
		return errNotAcceptable("invalid-subid")
	}
	if n.cfg.AccessModel != AccessAuthorize || n.affiliation(bare) >= AffMember {
		return nil
	}
	subscribed := 0
	for _, sub := range mine {
		if sub.State == SubSubscribed {
			subscribed++
		}
	}
	if subscribed > 1 {
		return errBadRequest("subid-required")
	}
	return nil
}
