package pubsub

// Who may do what: the capability table of XEP-0060 §4.1 (table 4) per
// affiliation, and the access models of §4.5 with the errors of §6.1.3
// and §6.5.9.
//
// The table answers for explicit affiliations. Access models widen it for
// entities with affiliation "none": on an open, presence or roster node a
// "none" entity that passes the model may retrieve items (§6.5.2), and on
// an authorize node a subscribed one may. Admins and a PEP account act as
// owners.

import (
	"context"
	"slices"

	"mellium.im/xmpp/jid"
)

// action is one privileged operation of table 4.
type action int

const (
	actSubscribe action = iota
	actRetrieve
	actPublish
	actRetractOwn // delete an item the actor published
	actRetractAny // delete any item
	actPurge
	actConfigure
	actDelete
	actManage // subscriptions, affiliations, pending requests (owner use cases)
	numActions
)

// capabilities is XEP-0060 table 4, row per affiliation. Starred cells:
// publishers may delete any item and purge (the MAY of the note);
// publish-only entities delete only their own items (its SHOULD) and do
// not purge.
var capabilities = [AffOwner + 1][numActions]bool{
	//             subscribe retrieve publish retractOwn retractAny purge configure delete manage
	AffOwner:       {true, true, true, true, true, true, true, true, true},
	AffPublisher:   {true, true, true, true, true, true, false, false, false},
	AffPublishOnly: {false, false, true, true, false, false, false, false, false},
	AffMember:      {true, true, false, false, false, false, false, false, false},
	AffNone:        {true, false, false, false, false, false, false, false, false},
	AffOutcast:     {false, false, false, false, false, false, false, false, false},
}

// may answers the capability table.
func may(a Affiliation, act action) bool {
	if a < AffNone || a > AffOwner {
		return false
	}
	return capabilities[a][act]
}

// affiliation is bare's effective affiliation: admins and the PEP account
// are owners, others have what is stored.
func (n *nodeState) affiliation(bare string) Affiliation {
	if n.svc.admins[bare] || (n.svc.opts.PEP && bare == n.host) {
		return AffOwner
	}
	return n.affs[bare]
}

// storedAffiliation is bare's explicit affiliation (what §5.7 lists).
func (n *nodeState) storedAffiliation(bare string) Affiliation {
	if n.svc.opts.PEP && bare == n.host {
		return AffOwner
	}
	return n.affs[bare]
}

// requireOwner: the node exists and actor is an owner (else forbidden).
func (n *nodeState) requireOwner(actor jid.JID) error {
	if !n.exists {
		return errNodeNotFound()
	}
	if !may(n.affiliation(actor.Bare().String()), actManage) {
		return errForbidden()
	}
	return nil
}

// mayPublish applies table 4 and pubsub#publish_model.
func (n *nodeState) mayPublish(bare string) bool {
	a := n.affiliation(bare)
	if a == AffOutcast {
		return false
	}
	if may(a, actPublish) {
		return true
	}
	switch n.cfg.PublishModel {
	case PublishOpen:
		return true
	case PublishSubscribers:
		return n.hasSubscribed(bare)
	}
	return false
}

// purpose says what an access check is for.
type purpose int

const (
	purposeSubscribe purpose = iota // §6.1.3
	purposeRetrieve                 // §6.5.9
	purposeSee                      // disco, node listing
	purposeDeliver                  // notification recheck at delivery
)

// accessQuery is what the access model needs to know about an entity.
type accessQuery struct {
	cfg        *Config
	aff        Affiliation
	bare       jid.JID
	owners     func() []jid.JID // the node's owners (presence, roster)
	subscribed bool             // holds a subscription in state subscribed
}

// checkAccess applies table 4 and the node's access model (§4.5).
func (s *Service) checkAccess(ctx context.Context, q accessQuery, p purpose) *Error {
	switch q.aff {
	case AffOutcast:
		return errForbidden() // §6.1.3.8, §6.5.9.10
	case AffPublishOnly:
		if p == purposeSee {
			return nil
		}
		return errForbidden() // table 4: no subscribe, no retrieve
	case AffMember, AffPublisher, AffOwner:
		return nil // explicit affiliations pass every model (members are the whitelist)
	}
	switch q.cfg.AccessModel {
	case AccessOpen:
		return nil
	case AccessPresence:
		if s.inRoster(ctx, q, false) {
			return nil
		}
		return &Error{Cond: "not-authorized", Type: "auth", App: "presence-subscription-required"}
	case AccessRoster:
		if s.inRoster(ctx, q, true) {
			return nil
		}
		return &Error{Cond: "not-authorized", Type: "auth", App: "not-in-roster-group"}
	case AccessAuthorize:
		if (p == purposeRetrieve || p == purposeDeliver) && !q.subscribed {
			// Only approved subscribers read or receive items (§6.5.9.3);
			// PEP's implicit +notify interest is no approval.
			return &Error{Cond: "not-authorized", Type: "auth", App: "not-subscribed"}
		}
		return nil // subscribing makes a pending subscription
	}
	// Whitelist (and anything unknown): only affiliated entities.
	return &Error{Cond: "not-allowed", Type: "cancel", App: "closed-node"}
}

// inRoster: some owner's roster has the entity with subscription "from"
// or "both" (it may see the owner's presence) and, withGroups, in one of
// roster_groups_allowed.
func (s *Service) inRoster(ctx context.Context, q accessQuery, withGroups bool) bool {
	rel := s.opts.Relations
	if rel == nil || q.owners == nil {
		return false
	}
	for _, owner := range q.owners() {
		sub, groups := rel.Roster(ctx, owner, q.bare)
		if sub != "from" && sub != "both" {
			continue
		}
		if !withGroups {
			return true
		}
		for _, g := range groups {
			if slices.Contains(q.cfg.RosterGroupsAllowed, g) {
				return true
			}
		}
	}
	return false
}

// access runs checkAccess for bare against this node.
func (n *nodeState) access(bare jid.JID, p purpose) *Error {
	b := bare.String()
	q := accessQuery{cfg: &n.cfg, aff: n.affiliation(b), bare: bare, owners: n.owners,
		subscribed: n.hasSubscribed(b)}
	return n.svc.checkAccess(n.ctx, q, p)
}

// visibleTo: may bare see that the node exists (disco, listings)?
func (n *nodeState) visibleTo(bare string) bool {
	j, err := jid.Parse(bare)
	if err != nil {
		return false
	}
	return n.access(j, purposeSee) == nil
}
