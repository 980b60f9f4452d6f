package pubsub

// Owner management of a node's subscriptions (XEP-0060 §8.8) and
// affiliations (§8.9): the lists, and changes sent as deltas. When some
// changes of a request fail, the others are applied and the error reply
// carries the failed entries with their unchanged state (§8.8.2.4,
// §8.9.2.4).

import (
	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/xmlstream"
)

// maxChanges bounds the entries of one modification request.
const maxChanges = 1000

// nodeSubscriptions lists a node's subscriptions (§8.8.1): subscribed and
// unconfigured ones; none never and pending not (§8.8.1.2).
func (r *iqRequest) nodeSubscriptions(el *xmlstream.Element) (*xmlstream.Element, error) {
	node, err := nodeAttr(el)
	if err != nil {
		return nil, err
	}
	subs, err := r.svc().NodeSubscriptions(r.ctx, r.host, r.actor, node)
	if err != nil {
		return nil, err
	}
	list := xmlstream.NewElement(NSPubSubOwner, "subscriptions", "node", node)
	for _, s := range subs {
		if s.State == SubNone || s.State == SubPending {
			continue
		}
		list.Append(ownerSubscription(s))
	}
	return xmlstream.NewElement(NSPubSubOwner, "pubsub").Append(list), nil
}

func ownerSubscription(s Subscription) *xmlstream.Element {
	return xmlstream.NewElement(NSPubSubOwner, "subscription",
		"jid", s.JID.String(), "subscription", s.State.String(), "subid", s.SubID)
}

// modifySubscriptions applies an owner's subscription changes (§8.8.2).
// An entry without a 'subscription' attribute changes nothing.
func (r *iqRequest) modifySubscriptions(el *xmlstream.Element) (result, errPayload *xmlstream.Element, err error) {
	node, err := nodeAttr(el)
	if err != nil {
		return nil, nil, err
	}
	entries := el.ChildrenNamed(NSPubSubOwner, "subscription")
	if len(entries) > maxChanges {
		return nil, nil, &Error{Cond: "policy-violation", Type: "modify", Text: "too many changes in one request"}
	}
	var changes []Subscription
	for _, e := range entries {
		j, err := entryJID(e)
		if err != nil {
			return nil, nil, err
		}
		st, ok := e.LookupAttr("subscription")
		if !ok {
			continue
		}
		state, ok := ParseSubState(st)
		if !ok {
			return nil, nil, badRequest("unknown subscription state " + st)
		}
		changes = append(changes, Subscription{Host: r.host, Node: node, JID: j, SubID: e.Attr("subid"), State: state})
	}
	failed, err := r.svc().ModifySubscriptions(r.ctx, r.host, r.actor, node, changes)
	if err != nil || len(failed) == 0 {
		return nil, nil, err
	}
	list := xmlstream.NewElement(NSPubSubOwner, "subscriptions", "node", node)
	for _, s := range failed {
		list.Append(ownerSubscription(s))
	}
	return nil, xmlstream.NewElement(NSPubSubOwner, "pubsub").Append(list), errNotAcceptable("")
}

// nodeAffiliations lists a node's affiliations other than none (§8.9.1).
func (r *iqRequest) nodeAffiliations(el *xmlstream.Element) (*xmlstream.Element, error) {
	node, err := nodeAttr(el)
	if err != nil {
		return nil, err
	}
	affs, err := r.svc().NodeAffiliations(r.ctx, r.host, r.actor, node)
	if err != nil {
		return nil, err
	}
	list := xmlstream.NewElement(NSPubSubOwner, "affiliations", "node", node)
	for _, a := range affs {
		if a.Affiliation != AffNone {
			list.Append(ownerAffiliation(a))
		}
	}
	return xmlstream.NewElement(NSPubSubOwner, "pubsub").Append(list), nil
}

func ownerAffiliation(a Affiliate) *xmlstream.Element {
	return xmlstream.NewElement(NSPubSubOwner, "affiliation", "jid", a.JID.String(), "affiliation", a.Affiliation.String())
}

// modifyAffiliations applies an owner's affiliation changes (§8.9.2).
// Affiliations are held by bare JIDs; one JID twice is bad-request
// (§8.9.2.4).
func (r *iqRequest) modifyAffiliations(el *xmlstream.Element) (result, errPayload *xmlstream.Element, err error) {
	node, err := nodeAttr(el)
	if err != nil {
		return nil, nil, err
	}
	entries := el.ChildrenNamed(NSPubSubOwner, "affiliation")
	if len(entries) > maxChanges {
		return nil, nil, &Error{Cond: "policy-violation", Type: "modify", Text: "too many changes in one request"}
	}
	var changes []Affiliate
	seen := make(map[string]bool, len(entries))
	for _, e := range entries {
		j, err := entryJID(e)
		if err != nil {
			return nil, nil, err
		}
		j = j.Bare()
		if seen[j.String()] {
			return nil, nil, badRequest("one affiliation per JID")
		}
		seen[j.String()] = true
		v, ok := e.LookupAttr("affiliation")
		if !ok {
			continue
		}
		aff, ok := ParseAffiliation(v)
		if !ok {
			return nil, nil, badRequest("unknown affiliation " + v)
		}
		changes = append(changes, Affiliate{Host: r.host, Node: node, JID: j, Affiliation: aff})
	}
	failed, err := r.svc().ModifyAffiliations(r.ctx, r.host, r.actor, node, changes)
	if err != nil || len(failed) == 0 {
		return nil, nil, err
	}
	list := xmlstream.NewElement(NSPubSubOwner, "affiliations", "node", node)
	for _, a := range failed {
		list.Append(ownerAffiliation(a))
	}
	return nil, xmlstream.NewElement(NSPubSubOwner, "pubsub").Append(list), errNotAcceptable("")
}

// entryJID is the required 'jid' of a list entry.
func entryJID(e *xmlstream.Element) (jid.JID, error) {
	s := e.Attr("jid")
	if s == "" {
		return jid.JID{}, errJIDRequired()
	}
	j, err := jid.Parse(s)
	if err != nil {
		return jid.JID{}, errInvalidJID()
	}
	return j, nil
}
