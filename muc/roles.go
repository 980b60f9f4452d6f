package muc

// Role changes (§5.1.3, §8.2-8.5, §9.6-9.8): kick (role none, status 307),
// voice (visitor <-> participant), moderator status, and the role lists.
// Who may do what:
//
//   - only moderators change roles (forbidden otherwise); admins and owners
//     count as moderators even when not in the room;
//   - granting or revoking moderator status is an admin use case: the
//     actor must be an admin or owner (forbidden otherwise);
//   - nobody lowers the role of an admin or owner (§8.4: "MUST NOT allow the
//     voice privileges of an admin or owner to be removed by anyone", §9.7);
//     they can be kicked only by an actor of at least their affiliation
//     (§8.2) -- both refusals are not-allowed;
//   - a moderator cannot be kicked by a mere moderator (the role chart:
//     "kicked by an admin or owner"), and voice cannot be revoked from a user
//     whose affiliation is at or above the actor's (§8.4): not-allowed;
//   - kicking oneself is refused with conflict (§8.2 allows either).

import (
	"context"
	"slices"

	"github.com/gavelhq/gavel/xmlstream"
)

// roleRank orders roles; -1 for a value that is no role.
func roleRank(r Role) int {
	switch r {
	case RoleNone:
		return 0
	case RoleVisitor:
		return 1
	case RoleParticipant:
		return 2
	case RoleModerator:
		return 3
	}
	return -1
}

// checkRoleChange says whether actor may give it.occ the role it.role.
func (r *room) checkRoleChange(actor adminActor, it adminItem) *xmlstream.StanzaError {
	if actor.role != RoleModerator {
		return xmlstream.Forbidden("only moderators change roles")
	}
	o := it.occ
	target := r.affiliation(o.bare)
	actorIsAdmin := actor.aff.rank() >= AffAdmin.rank()
	if it.role == RoleNone && o.bare == actor.bare {
		return mucCancel("conflict", "you cannot kick yourself")
	}
	switch {
	case target.rank() >= AffAdmin.rank():
		switch it.role {
		case RoleModerator:
			return nil // what they are already
		case RoleNone:
			if actor.aff.rank() < target.rank() {
				return xmlstream.NotAllowed("a user cannot be kicked by a moderator with a lower affiliation")
			}
			return nil
		}
		return xmlstream.NotAllowed("admins and owners keep their voice and moderator status")
	case it.role == RoleModerator:
		if !actorIsAdmin {
			return xmlstream.Forbidden("only admins and owners grant moderator status")
		}
	case o.role == RoleModerator && it.role != RoleModerator:
		if it.role == RoleNone {
			if !actorIsAdmin {
				return xmlstream.NotAllowed("a moderator can be kicked only by an admin or owner")
			}
		} else if !actorIsAdmin {
			return xmlstream.Forbidden("only admins and owners revoke moderator status")
		}
	case it.role == RoleNone:
		if actor.aff.rank() < target.rank() {
			return xmlstream.NotAllowed("a user cannot be kicked by a moderator with a lower affiliation")
		}
	case it.role == RoleVisitor && o.role != RoleVisitor:
		if target.rank() >= actor.aff.rank() {
			return xmlstream.NotAllowed("voice cannot be revoked from a user whose affiliation is at or above yours")
		}
	}
	return nil
}

// applyRoleChange gives the occupant its new role and records what to send.
func (r *room) applyRoleChange(it adminItem, ev *adminEvents) {
	o := it.occ
	if r.occupants[o.nick] != o || o.role == it.role {
		return // removed by an earlier item, or nothing changes
	}
	if it.role == RoleNone {
		r.removeByAdmin(o, r.affiliation(o.bare), statusKicked, it.reason, ev)
		return
	}
	old := o.role
	o.role = it.role
	ev.add(adminEvent{occ: o, oldRole: old, reason: it.reason})
}

// roleAfterAffiliation is the role an occupant has once its affiliation
// went from old to aff (§5.1.3 note): the role an affiliation brings is
// gained, the moderator status an admin or owner held is lost with it.
func (r *room) roleAfterAffiliation(current Role, old, aff Affiliation) Role {
	def := r.defaultRole(aff)
	if old.rank() >= AffAdmin.rank() && aff.rank() < AffAdmin.rank() {
		return def
	}
	if roleRank(def) > roleRank(current) {
		return def
	}
	return current
}

// removeByAdmin takes o out of the room now (later items and broadcasts no
// longer see it) and records its removal with code (301, 307, 321, 322).
func (r *room) removeByAdmin(o *occupant, aff Affiliation, code, reason string, ev *adminEvents) {
	ev.add(adminEvent{occ: o, removed: true, oldRole: o.role, aff: aff, code: code, reason: reason})
	r.removeOccupant(o)
}

// roleList answers a role list request (§8.5 voice list, §9.8 moderator
// list; visitors for moderators as well): every field of §17.4 rule 5.
func (r *room) roleList(role Role, actor adminActor) ([]*xmlstream.Element, *xmlstream.StanzaError) {
	switch role {
	case RoleModerator:
		if actor.aff.rank() < AffAdmin.rank() {
			return nil, xmlstream.Forbidden("only admins and owners see the moderator list")
		}
	case RoleParticipant, RoleVisitor:
		if actor.role != RoleModerator {
			return nil, xmlstream.Forbidden("only moderators see the voice list")
		}
	default:
		return nil, xmlstream.BadRequest("no list for role " + string(role))
	}
	var out []*xmlstream.Element
	for _, o := range r.order {
		if o.role == role {
			out = append(out, xmlstream.NewElement(NSMUCAdmin, "item", "affiliation", string(r.affiliation(o.bare)),
				"jid", o.primary().full, "nick", o.nick, "role", string(o.role)))
		}
	}
	return out, nil
}

// adminEvent is one thing a set changed that occupants or the user hear of.
type adminEvent struct {
	occ     *occupant // nil for a notice to a user not in the room
	removed bool
	oldRole Role
	aff     Affiliation // shown in a removal (the occupant no longer has one)
	code    string      // removal status code
	reason  string
	// A user not in the room: its bare JID, new affiliation, and whether
	// the notice is an invitation (§9.5) rather than a 101 message.
	absent    string
	absentAff Affiliation
	invite    bool
}

type adminEvents struct{ list []adminEvent }

func (ev *adminEvents) add(e adminEvent) { ev.list = append(ev.list, e) }

// send delivers the events: removed occupants first, then between (the iq
// result), then everyone else, in item order (§8.2, §9.1).
func (ev *adminEvents) send(ctx context.Context, r *room, actor adminActor, between func()) {
	act := actor.element(r)
	for _, e := range ev.list {
		if e.removed {
			r.presenceToSelf(ctx, e.removalSpec(), act)
		}
	}
	if between != nil {
		between()
	}
	for _, e := range ev.list {
		switch {
		case e.removed:
			if r.cfg.broadcastsPresenceOf(e.oldRole) {
				r.presenceToOthers(ctx, e.removalSpec(), act)
			}
		case e.occ != nil:
			if r.occupants[e.occ.nick] != e.occ {
				continue // removed by a later item
			}
			p := presenceSpec{occ: e.occ, sess: e.occ.primary(), reason: e.reason}
			if r.cfg.broadcastsPresenceOf(e.oldRole) || r.cfg.broadcastsPresenceOf(e.occ.role) {
				r.presenceToOthers(ctx, p, nil)
			}
			r.presenceToSelf(ctx, p, nil)
			r.revealJIDs(ctx, e.occ, e.oldRole)
		default:
			r.notifyAbsent(ctx, e, actor)
		}
	}
	r.afterExit(ctx) // a temporary room whose last occupant was removed ends
}

// revealJIDs: a new moderator of a semi-anonymous room may now see real
// JIDs (§7.2.4), so it gets every other occupant's presence again, with
// them.
func (r *room) revealJIDs(ctx context.Context, o *occupant, was Role) {
	if r.cfg.nonAnonymous() || was == RoleModerator || o.role != RoleModerator {
		return
	}
	for _, other := range r.order {
		if other != o && r.cfg.broadcastsPresenceOf(other.role) {
			p := presenceSpec{occ: other, sess: other.primary(), withJID: true}
			newTemplate(r.presenceElement(p)).fanout(ctx, r.svc.router, o.sessions)
		}
	}
}

func (e adminEvent) removalSpec() presenceSpec {
	return presenceSpec{occ: e.occ, sess: e.occ.primary(), typ: "unavailable", role: RoleNone, aff: e.aff,
		reason: e.reason, statuses: []string{e.code},
		payload: xmlstream.NewElement(xmlstream.NSClient, xmlstream.KindPresence)}
}

// element is the <actor/> of a removal: the actor's nick if it is in the
// room; its bare JID only where JIDs are public anyway.
func (a adminActor) element(r *room) *xmlstream.Element {
	switch {
	case a.occ != nil:
		return xmlstream.NewElement(NSMUCUser, "actor", "nick", a.occ.nick)
	case a.bare != "" && r.cfg.nonAnonymous():
		return xmlstream.NewElement(NSMUCUser, "actor", "jid", a.bare)
	}
	return nil
}

// adminPresence is presenceElement with the <actor/> first in the item.
func (r *room) adminPresence(p presenceSpec, actor *xmlstream.Element) *xmlstream.Element {
	el := r.presenceElement(p)
	if actor == nil {
		return el
	}
	if x := el.Child(NSMUCUser, "x"); x != nil {
		if item := x.Child(NSMUCUser, "item"); item != nil {
			item.Children = append([]xmlstream.Child{{Elem: actor}}, item.Children...)
		}
	}
	return el
}

// presenceToSelf sends p with 110 to every session of its occupant.
func (r *room) presenceToSelf(ctx context.Context, p presenceSpec, actor *xmlstream.Element) {
	p.withJID = true
	p.statuses = append(slices.Clone(p.statuses), statusSelf)
	newTemplate(r.adminPresence(p, actor)).fanout(ctx, r.svc.router, p.occ.sessions)
}

// presenceToOthers sends p to every other occupant, with the real JID to
// those whose role lets them see it.
func (r *room) presenceToOthers(ctx context.Context, p presenceSpec, actor *xmlstream.Element) {
	var anonTo, openTo []*session
	for _, o := range r.order {
		if o == p.occ {
			continue
		}
		if r.seesJIDs(o.role) {
			openTo = append(openTo, o.sessions...)
		} else {
			anonTo = append(anonTo, o.sessions...)
		}
	}
	if len(openTo) > 0 {
		p.withJID = true
		newTemplate(r.adminPresence(p, actor)).fanout(ctx, r.svc.router, openTo)
	}
	if len(anonTo) > 0 {
		p.withJID = false
		newTemplate(r.adminPresence(p, actor)).fanout(ctx, r.svc.router, anonTo)
	}
}

// mucCancel is a cancel-type error with a text.
func mucCancel(condition, text string) *xmlstream.StanzaError {
	return &xmlstream.StanzaError{Type: xmlstream.ErrCancel, Condition: condition, Text: text}
}
