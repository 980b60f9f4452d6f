package pubsub

// Affiliations: the owner's list and changes (§8.9), following the state
// chart of §4.1 and the side effects §8.7 asks for: an entity made owner
// or publisher (or member: members subscribe without approval here) has
// its pending subscription approved; an outcast or publish-only entity
// loses its subscriptions (pending ones are rejected, §8.7; the others
// end, since neither may be subscribed, table 4).

import (
	"mellium.im/xmpp/jid"
)

// affiliates lists the node's affiliations (§8.9.1): never "none"; the
// PEP account first, then by JID.
func (n *nodeState) affiliates() []Affiliate {
	out := []Affiliate{}
	if n.svc.opts.PEP {
		if j, err := jid.Parse(n.host); err == nil {
			out = append(out, Affiliate{Host: n.host, Node: n.name, JID: j, Affiliation: AffOwner})
		}
	}
	var rest []Affiliate
	for b, a := range n.affs {
		if n.svc.opts.PEP && b == n.host {
			continue
		}
		if j, err := jid.Parse(b); err == nil {
			rest = append(rest, Affiliate{Host: n.host, Node: n.name, JID: j, Affiliation: a})
		}
	}
	sortAffiliates(rest)
	return append(out, rest...)
}

func sortAffiliates(a []Affiliate) {
	for i := 1; i < len(a); i++ {
		for k := i; k > 0 && a[k].JID.String() < a[k-1].JID.String(); k-- {
			a[k], a[k-1] = a[k-1], a[k]
		}
	}
}

// explicitOwners counts the stored owners.
func (n *nodeState) explicitOwners() int {
	count := 0
	for _, a := range n.affs {
		if a == AffOwner {
			count++
		}
	}
	return count
}

// modifyAffiliations handles §8.9.2: naming one JID twice is bad-request
// (§8.9.2.4); an entry that cannot apply is returned with the affiliation
// it keeps; the others apply.
func (n *nodeState) modifyAffiliations(actor jid.JID, changes []Affiliate) ([]Affiliate, error) {
	if err := n.requireOwner(actor); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, c := range changes {
		b := c.JID.Bare().String()
		if seen[b] {
			return nil, &Error{Cond: "bad-request", Type: "modify", Text: "one JID named twice"}
		}
		seen[b] = true
	}
	var failed []Affiliate
	for _, c := range changes {
		bare := c.JID.Bare()
		b := bare.String()
		cur := n.storedAffiliation(b)
		if !n.modifyAffiliation(b, cur, c.Affiliation) {
			failed = append(failed, Affiliate{Host: n.host, Node: n.name, JID: bare, Affiliation: cur})
		}
	}
	return failed, nil
}

// modifyAffiliation applies one change; false if it may not.
func (n *nodeState) modifyAffiliation(bare string, cur, to Affiliation) bool {
	switch {
	case bare == "" || to < AffNone || to > AffOwner:
		return false
	case n.svc.opts.PEP && bare == n.host:
		return to == AffOwner // the account owns its nodes, always
	case cur == to:
		return true
	case cur == AffOwner && !n.svc.opts.PEP && n.explicitOwners() <= 1:
		return false // the last owner stays (§8.9.2.4)
	}
	if err := n.setAffiliation(bare, to); err != nil {
		n.log.Error("pubsub: storing affiliation failed", "err", err)
		return false
	}
	n.recips.invalidate() // whitelist membership decides delivery
	switch to {
	case AffOutcast, AffPublishOnly:
		n.dropSubsOf(bare) // neither may be subscribed (table 4)
	case AffOwner, AffPublisher, AffMember:
		for _, sub := range n.subs[bare] {
			if sub.State == SubPending {
				n.approve(sub)
			}
		}
	}
	return true
}
