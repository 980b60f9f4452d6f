package pubsub

// Item retrieval (XEP-0060 §6.5): all items, the newest N (max_items),
// items by id, or a page (XEP-0059 <set/> beside <items/>). Items come
// newest first, as the core serves them and as RSM indexes them (index 0
// is the newest). One answer holds at most maxItemsPage items: a request
// for all of a larger node gets the newest page with an RSM <set/> saying
// so (§6.5.4).

import (
	"strconv"

	"github.com/gavelhq/gavel/mam"
	"github.com/gavelhq/gavel/xmlstream"
)

// Bounds of one retrieval.
const (
	maxItemsPage = 100  // items per answer without an explicit max_items
	maxItemIDs   = 1000 // ids named in one request
)

// items answers <items node='…' [max_items='N'] [subid='…']> with optional
// <item id/> children and an optional RSM <set/>.
func (r *iqRequest) items(el, set *xmlstream.Element) (*xmlstream.Element, error) {
	node, err := nodeAttr(el)
	if err != nil {
		return nil, err
	}
	q := ItemQuery{SubID: el.Attr("subid")}
	if v, ok := el.LookupAttr("max_items"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return nil, badRequest("max_items is a positive integer")
		}
		q.MaxItems = n
	}
	for _, it := range el.ChildrenNamed(NSPubSub, "item") {
		id := it.Attr("id")
		if id == "" {
			return nil, badRequest("<item/> in a retrieval names an id")
		}
		q.IDs = append(q.IDs, id)
	}
	if len(q.IDs) > maxItemIDs {
		return nil, &Error{Cond: "policy-violation", Type: "modify", Text: "too many item ids"}
	}
	paged := set != nil
	switch {
	case set != nil:
		if len(q.IDs) > 0 {
			return nil, badRequest("item ids and a result set page do not mix")
		}
		rsm, err := mam.ParseRSM(set)
		if err != nil {
			return nil, err
		}
		q.Page = pageRequest(rsm)
		q.MaxItems = 0
	case len(q.IDs) == 0 && q.MaxItems == 0:
		// All items: the newest page, with RSM when there are more (§6.5.4).
		q.Page = &PageRequest{Max: maxItemsPage, Index: -1}
	}
	page, err := r.svc().Items(r.ctx, r.host, r.actor, node, q)
	if err != nil {
		return nil, err
	}
	list := xmlstream.NewElement(NSPubSub, "items", "node", node)
	for _, it := range page.Items {
		list.Append(r.p.itemElement(NSPubSub, it, true))
	}
	res := xmlstream.NewElement(NSPubSub, "pubsub").Append(list)
	if q.Page != nil && (paged || page.Count > len(page.Items)) {
		firstIndex := page.FirstIndex
		if page.First == "" {
			firstIndex = -1
		}
		res.Append(mam.RSMResult(page.First, page.Last, firstIndex, page.Count))
	}
	return res, nil
}

// pageRequest maps a parsed XEP-0059 request onto the core's. No max, or
// one above maxItemsPage, is maxItemsPage; max 0 asks for the count only.
func pageRequest(rsm mam.RSMRequest) *PageRequest {
	p := &PageRequest{Max: rsm.Max, After: rsm.After, Before: rsm.Before, BeforeSet: rsm.HasBefore, Index: rsm.Index}
	if p.Max < 0 || p.Max > maxItemsPage {
		p.Max = maxItemsPage
	}
	return p
}

// itemElement is <item id publisher>payload</item> in namespace ns
// (pubsub for retrieval, pubsub#event for notifications). The publisher is
// shown as a bare JID, the same in every form of delivery (§7.1.2.3).
// A stored payload that no longer parses is left out and logged.
func (p *Protocol) itemElement(ns string, it Item, withPayload bool) *xmlstream.Element {
	el := xmlstream.NewElement(ns, "item", "id", it.ID)
	if pub := it.Publisher.Bare().String(); pub != "" {
		el.SetAttr("publisher", pub)
	}
	if withPayload && len(it.Payload) > 0 {
		payload, err := xmlstream.ParseElement(it.Payload, "", xmlstream.Limits{MaxStanzaBytes: len(it.Payload)})
		if err != nil {
			p.log.Error("pubsub: stored payload does not parse", "item", it.ID, "err", err)
		} else {
			el.Append(payload)
		}
	}
	return el
}
