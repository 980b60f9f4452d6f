package pubsub

// An account deleted on this server leaves nothing behind on the pubsub
// service: its subscriptions and affiliations go, and the nodes it alone
// owned are deleted (their subscribers told, per notify_delete) — the
// service's counterpart of DeleteHost for PEP.

import (
	"context"
	"slices"

	"mellium.im/xmpp/jid"
)

// ForgetUser removes bare's subscriptions and affiliations on host, and
// deletes the nodes bare was the only owner of.
func (s *Service) ForgetUser(ctx context.Context, host string, bare jid.JID) error {
	if err := s.checkHost(host); err != nil {
		return err
	}
	bare = bare.Bare()
	for pass := 0; pass < 100; pass++ {
		// Each pass removes what it lists, so the indexes shrink; a
		// user with more than maxListed entries takes several passes.
		subs, err := s.userSubscriptions(ctx, host, bare.String())
		if err != nil {
			return err
		}
		affs, err := s.userAffiliations(ctx, host, bare)
		if err != nil {
			return err
		}
		var nodes []string
		for _, sub := range subs {
			nodes = append(nodes, sub.Node)
		}
		for _, a := range affs {
			nodes = append(nodes, a.Node)
		}
		slices.Sort(nodes)
		nodes = slices.Compact(nodes)
		if len(nodes) == 0 {
			return nil
		}
		for _, node := range nodes {
			if err := s.run(ctx, host, node, func(n *nodeState) error { return n.forgetUser(bare.String()) }); err != nil {
				return err
			}
		}
		if len(subs) < maxListed && len(affs) < maxListed {
			return nil
		}
	}
	return nil
}

// forgetUser drops bare from this node; a node left without owner goes.
func (n *nodeState) forgetUser(bare string) error {
	if !n.exists {
		return nil
	}
	soleOwner := n.affs[bare] == AffOwner && n.explicitOwners() == 1
	if soleOwner {
		return n.eraseWith(true, "")
	}
	for _, sub := range slices.Clone(n.subs[bare]) {
		if err := n.dropSub(sub); err != nil {
			return errInternal("removing a subscription failed")
		}
	}
	if _, ok := n.affs[bare]; ok {
		if err := n.setAffiliation(bare, AffNone); err != nil {
			return errInternal("removing an affiliation failed")
		}
		n.recips.invalidate()
	}
	return nil
}
