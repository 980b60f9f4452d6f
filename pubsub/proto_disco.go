package pubsub

// Service discovery (XEP-0060 §5.1-§5.5): the service's identity and
// features (§10, only what is really offered), its nodes (disco#items,
// XEP-0059 paging), a node's identity with its meta-data form (§5.3,
// §5.4), and a node's items as disco items named by item id (§5.5).

import (
	"context"
	"slices"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/mam"
	"github.com/gavelhq/gavel/xmlstream"
)

// maxListedNodes bounds how many nodes one disco#items answer reads when
// it has to page backwards or by index.
const maxListedNodes = 10000

// Features lists the disco#info features of a pubsub service (XEP-0060
// §10; pep adds PEP's own, XEP-0163 §8). Only what the core and this
// adapter implement is listed: no collections, no leases, no get-pending
// ad-hoc command.
func Features(pep bool) []string {
	names := []string{
		"access-authorize", "access-open", "access-presence", "access-roster", "access-whitelist",
		"auto-create", "config-node", "create-and-configure", "create-nodes",
		"delete-items", "delete-nodes", "instant-nodes", "item-ids", "last-published",
		"manage-subscriptions", "member-affiliation", "meta-data", "modify-affiliations",
		"multi-items", "multi-subscribe", "outcast-affiliation", "persistent-items",
		"presence-notifications", "publish", "publish-only-affiliation", "publish-options",
		"publisher-affiliation", "purge-nodes", "retract-items", "retrieve-affiliations",
		"retrieve-default", "retrieve-default-sub", "retrieve-items", "retrieve-subscriptions",
		"rsm", "subscribe", "subscription-notifications", "subscription-options",
	}
	if pep {
		names = append(names, "auto-subscribe", "filtered-notifications", "presence-subscribe")
	}
	out := []string{NSPubSub, nsRSM}
	for _, n := range names {
		out = append(out, NSPubSub+"#"+n)
	}
	slices.Sort(out)
	return out
}

// HandleDisco answers a disco#info or disco#items query addressed to host
// (the service domain, or a PEP account for its nodes): the service
// itself without a 'node', a node with one. Errors are
// *xmlstream.StanzaError.
func (p *Protocol) HandleDisco(ctx context.Context, host string, iq *xmlstream.Stanza, q *xmlstream.Element) (*xmlstream.Element, error) {
	if iq.Type() != "get" || q.Name.Local != "query" {
		return nil, xmlstream.ServiceUnavailable()
	}
	if p.svc == nil {
		return nil, xmlstream.ServiceUnavailable()
	}
	actor, err := jid.Parse(iq.From())
	if err != nil {
		return nil, xmlstream.JIDMalformed()
	}
	var res *xmlstream.Element
	switch q.Name.Space {
	case nsDiscoInfo:
		res, err = p.discoInfo(ctx, host, actor, q.Attr("node"))
	case nsDiscoItems:
		res, err = p.discoItems(ctx, host, actor, q)
	default:
		return nil, xmlstream.ServiceUnavailable()
	}
	if err != nil {
		return nil, p.stanzaError(err)
	}
	return res, nil
}

// discoInfo is the service's identity and features, or a node's identity
// and meta-data.
func (p *Protocol) discoInfo(ctx context.Context, host string, actor jid.JID, node string) (*xmlstream.Element, error) {
	res := xmlstream.NewElement(nsDiscoInfo, "query", "node", node)
	if node == "" {
		typ := "service"
		if p.svc.IsPEP() {
			typ = "pep"
		}
		res.Append(xmlstream.NewElement(nsDiscoInfo, "identity", "category", "pubsub", "type", typ, "name", p.opts.Name))
		appendFeatures(res, append(Features(p.svc.IsPEP()), nsDiscoInfo, nsDiscoItems, nsPing))
		return res, nil
	}
	info, err := p.svc.Info(ctx, host, actor, node)
	if err != nil {
		return nil, err
	}
	res.Append(xmlstream.NewElement(nsDiscoInfo, "identity", "category", "pubsub", "type", "leaf"))
	appendFeatures(res, []string{NSPubSub, nsDiscoInfo, nsDiscoItems})
	res.Append(metaDataForm(&info))
	return res, nil
}

func appendFeatures(q *xmlstream.Element, vars []string) {
	vars = slices.Clone(vars)
	slices.Sort(vars)
	for _, v := range slices.Compact(vars) {
		q.Append(xmlstream.NewElement(nsDiscoInfo, "feature", "var", v))
	}
}

// discoItems lists the nodes of host visible to actor, or a node's items.
func (p *Protocol) discoItems(ctx context.Context, host string, actor jid.JID, q *xmlstream.Element) (*xmlstream.Element, error) {
	set := q.Child(nsRSM, "set")
	rsm, err := mam.ParseRSM(set)
	if err != nil {
		return nil, err
	}
	if node := q.Attr("node"); node != "" {
		return p.discoNodeItems(ctx, host, actor, node, set != nil, rsm)
	}
	res := xmlstream.NewElement(nsDiscoItems, "query")
	size := rsm.Max
	if size < 0 || size > maxItemsPage {
		size = maxItemsPage
	}
	var names []string
	first := -1 // index of names[0] when known
	truncated := false
	if !rsm.HasBefore && rsm.Index < 0 {
		// Forward paging, the common case: read one more than asked.
		names, err = p.svc.Nodes(ctx, host, actor, rsm.After, size+1)
		if err != nil {
			return nil, err
		}
		if len(names) > size {
			names, truncated = names[:size], true
		}
		if !rsm.HasAfter {
			first = 0
		}
	} else {
		all, err := p.svc.Nodes(ctx, host, actor, "", maxListedNodes)
		if err != nil {
			return nil, err
		}
		lo, hi, err := rsmWindow(all, rsm, size)
		if err != nil {
			return nil, err
		}
		names, first, truncated = all[lo:hi], lo, lo > 0 || hi < len(all)
	}
	for _, n := range names {
		res.Append(xmlstream.NewElement(nsDiscoItems, "item", "jid", host, "node", n))
	}
	if set != nil || truncated {
		count, err := p.svc.CountNodes(ctx, host)
		if err != nil {
			return nil, err
		}
		f, l := "", ""
		if len(names) > 0 {
			f, l = names[0], names[len(names)-1]
		}
		res.Append(mam.RSMResult(f, l, first, count))
	}
	return res, nil
}

// rsmWindow is the [lo, hi) slice of sorted names that a backward or
// indexed XEP-0059 request selects.
func rsmWindow(names []string, rsm mam.RSMRequest, size int) (lo, hi int, err error) {
	n := len(names)
	switch {
	case rsm.Index >= 0:
		lo = min(rsm.Index, n)
		return lo, min(lo+size, n), nil
	case rsm.Before == "":
		return max(0, n-size), n, nil
	}
	hi, found := slices.BinarySearch(names, rsm.Before)
	if !found {
		return 0, 0, xmlstream.ItemNotFound()
	}
	return max(0, hi-size), hi, nil
}

// discoNodeItems lists a node's items as <item jid=host name=id/> (§5.5),
// newest first, paged like item retrieval.
func (p *Protocol) discoNodeItems(ctx context.Context, host string, actor jid.JID, node string, paged bool, rsm mam.RSMRequest) (*xmlstream.Element, error) {
	pr := &PageRequest{Max: maxItemsPage, Index: -1}
	if paged {
		pr = pageRequest(rsm)
	}
	page, err := p.svc.Items(ctx, host, actor, node, ItemQuery{Page: pr})
	if err != nil {
		return nil, err
	}
	res := xmlstream.NewElement(nsDiscoItems, "query", "node", node)
	for _, it := range page.Items {
		res.Append(xmlstream.NewElement(nsDiscoItems, "item", "jid", host, "name", it.ID))
	}
	if paged || page.Count > len(page.Items) {
		firstIndex := page.FirstIndex
		if page.First == "" {
			firstIndex = -1
		}
		res.Append(mam.RSMResult(page.First, page.Last, firstIndex, page.Count))
	}
	return res, nil
}
