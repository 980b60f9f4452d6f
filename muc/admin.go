package muc

// The muc#admin query (§8-§10.8): one protocol for two kinds of change.
// An <item/> with 'role' changes an occupant's role for this visit
// (roles.go: kick, voice, moderator status); an <item/> with 'affiliation'
// changes a bare JID's lasting relation to the room (affiliation_change.go:
// ban, membership, admin and owner status). A get asks for one list.
//
// A set is all or nothing: every item is parsed and checked against the room
// as it is before any is applied, and a store failure rolls back the
// affiliations already written. Then the stanzas go out in the order the
// XEP gives (§8.2): removed occupants hear of their removal first, then the
// requester gets the result, then everyone else hears of every change.

import (
	"context"
	"strings"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/xmlstream"
)

const (
	// maxAdminItems bounds the items of one set (a ban list, a member list).
	maxAdminItems = 500
	// maxReasonLen bounds a <reason/>, which may be stored with a ban.
	maxReasonLen = 1024
)

// adminItem is one parsed <item/> of a muc#admin set.
type adminItem struct {
	role Role        // a role change ("" for an affiliation change)
	aff  Affiliation // an affiliation change ("" for a role change)
	// Role change: the occupant's nick. Affiliation change: the reserved
	// nick to set when nickSet ("" unsets it, §9.5).
	nick    string
	nickSet bool
	bare    string    // affiliation change: the target's bare JID
	occ     *occupant // role change: the target occupant
	reason  string
}

// adminActor is who asks, with the privileges that decide what it may do.
type adminActor struct {
	bare string
	aff  Affiliation
	// role is the actor's role in the room; admins and owners act as
	// moderators whether or not they are in the room (they would be).
	role Role
	occ  *occupant // the actor's occupant, if in the room
}

// actorFor finds the actor behind from: privileges follow the bare JID
// (§8, §9: "the <user@host> of the 'from' address").
func (r *room) actorFor(from jid.JID) adminActor {
	bare := from.Bare().String()
	a := adminActor{bare: bare, aff: r.affiliation(bare), role: RoleNone}
	if s := r.sessions[from.String()]; s != nil {
		a.occ, a.role = s.occ, s.occ.role
	} else {
		for _, o := range r.order {
			if o.bare == bare && roleRank(o.role) > roleRank(a.role) {
				a.occ, a.role = o, o.role
			}
		}
	}
	if a.aff.rank() >= AffAdmin.rank() {
		a.role = RoleModerator
	}
	return a
}

// adminQuery answers a muc#admin iq itself: the result must go out between
// the presence of removed occupants and everyone else's (§8.2).
func (r *room) adminQuery(ctx context.Context, st *xmlstream.Stanza, typ string, q *xmlstream.Element, from jid.JID) {
	if !r.exists {
		r.svc.bounce(ctx, st, xmlstream.ItemNotFound())
		return
	}
	actor := r.actorFor(from)
	if typ == "get" {
		list, err := r.adminList(q, actor)
		if err != nil {
			r.svc.bounce(ctx, st, err)
			return
		}
		r.send(ctx, xmlstream.ResultReply(st, list))
		return
	}
	items, err := r.parseAdminItems(q)
	if err != nil {
		if actor.role != RoleModerator {
			// Tell those who may change nothing nothing else (not even
			// which nicks are in the room).
			err = xmlstream.Forbidden("only moderators change roles")
		}
		r.svc.bounce(ctx, st, err)
		return
	}
	if err := r.runAdminChanges(ctx, actor, items, func() {
		r.send(ctx, xmlstream.ResultReply(st, nil))
	}); err != nil {
		r.svc.bounce(ctx, st, err)
	}
}

// parseAdminItems reads the items of a set (§17.4 rules 4-6): each changes a
// role (by nick) or an affiliation (by JID; a nick of an occupant is
// accepted too), never both. A target may appear once.
func (r *room) parseAdminItems(q *xmlstream.Element) ([]adminItem, *xmlstream.StanzaError) {
	var items []adminItem
	seenNick, seenBare := map[string]bool{}, map[string]bool{}
	for _, el := range q.Elements() {
		if el.Name.Space != NSMUCAdmin {
			continue // a foreign extension: not ours to refuse
		}
		if el.Name.Local != "item" {
			return nil, xmlstream.BadRequest("a muc#admin query holds only items")
		}
		if len(items) == maxAdminItems {
			return nil, xmlstream.BadRequest("too many items in one request")
		}
		it, err := r.parseAdminItem(el)
		if err != nil {
			return nil, err
		}
		if it.role != "" {
			if seenNick[it.nick] {
				return nil, xmlstream.BadRequest("an occupant appears twice")
			}
			seenNick[it.nick] = true
		} else {
			if seenBare[it.bare] {
				return nil, xmlstream.BadRequest("a JID appears twice")
			}
			seenBare[it.bare] = true
		}
		items = append(items, it)
	}
	if len(items) == 0 {
		return nil, xmlstream.BadRequest("no item to change")
	}
	return items, nil
}

func (r *room) parseAdminItem(el *xmlstream.Element) (adminItem, *xmlstream.StanzaError) {
	var it adminItem
	roleAttr, hasRole := el.LookupAttr("role")
	affAttr, hasAff := el.LookupAttr("affiliation")
	if hasRole == hasAff {
		return it, xmlstream.BadRequest("an item changes either a role or an affiliation")
	}
	it.reason = el.ChildText(NSMUCAdmin, "reason")
	if len(it.reason) > maxReasonLen {
		return it, notAcceptable("the reason is too long")
	}
	nick, hasNick := el.LookupAttr("nick")
	if hasRole {
		it.role = Role(roleAttr)
		if roleRank(it.role) < 0 {
			return it, xmlstream.BadRequest("unknown role " + roleAttr)
		}
		if nick == "" {
			return it, xmlstream.BadRequest("a role change names the occupant's nick")
		}
		it.nick = nick
		if it.occ = r.occupants[nick]; it.occ == nil {
			return it, xmlstream.ItemNotFound()
		}
		return it, nil
	}
	it.aff = Affiliation(affAttr)
	if !it.aff.valid() {
		return it, xmlstream.BadRequest("unknown affiliation " + affAttr)
	}
	if j, ok := el.LookupAttr("jid"); ok {
		parsed, err := jid.Parse(strings.TrimSpace(j))
		if err != nil {
			return it, xmlstream.JIDMalformed()
		}
		// §10.3: a full JID stands for its bare JID.
		it.bare = parsed.Bare().String()
		if hasNick {
			if nick != "" {
				if _, err := jid.New("x", r.jid.Domainpart(), nick); err != nil {
					return it, xmlstream.JIDMalformed()
				}
			}
			it.nick, it.nickSet = nick, true
		}
		return it, nil
	}
	if nick == "" {
		return it, xmlstream.BadRequest("an affiliation change names a JID")
	}
	// Clients often ban an occupant by nick: use its real bare JID.
	o := r.occupants[nick]
	if o == nil {
		return it, xmlstream.ItemNotFound()
	}
	it.bare = o.bare
	return it, nil
}

// runAdminChanges checks every item, applies them all or none, and sends
// what they cause. between, if set, runs after removed occupants were told
// and before anyone else is (the iq result goes there). Other parts of the
// room call it too (the owner and admin lists of the configuration form).
func (r *room) runAdminChanges(ctx context.Context, actor adminActor, items []adminItem, between func()) *xmlstream.StanzaError {
	newAffs := map[string]affEntry{}
	for _, it := range items {
		var err *xmlstream.StanzaError
		if it.role != "" {
			err = r.checkRoleChange(actor, it)
		} else {
			var e affEntry
			e, err = r.checkAffiliationChange(actor, it)
			newAffs[it.bare] = e
		}
		if err != nil {
			return err
		}
	}
	if err := r.checkAffiliationOutcome(newAffs); err != nil {
		return err
	}
	var ev adminEvents
	if err := r.applyAffiliations(items, newAffs, &ev); err != nil {
		return err
	}
	for _, it := range items {
		if it.role != "" {
			r.applyRoleChange(it, &ev)
		}
	}
	ev.send(ctx, r, actor, between)
	return nil
}

// changeRole is a role change made by another part of the room (an
// approved voice request, §8.6), with the checks and presence of an iq set.
func (r *room) changeRole(ctx context.Context, from jid.JID, nick string, role Role, reason string) *xmlstream.StanzaError {
	o := r.occupants[nick]
	if o == nil {
		return xmlstream.ItemNotFound()
	}
	return r.runAdminChanges(ctx, r.actorFor(from), []adminItem{{role: role, nick: nick, occ: o, reason: reason}}, nil)
}

// adminList answers a get: the one list its single item asks for.
func (r *room) adminList(q *xmlstream.Element, actor adminActor) (*xmlstream.Element, *xmlstream.StanzaError) {
	items := q.ChildrenNamed(NSMUCAdmin, "item")
	if len(items) != 1 {
		return nil, xmlstream.BadRequest("a list request holds exactly one item")
	}
	roleAttr, hasRole := items[0].LookupAttr("role")
	affAttr, hasAff := items[0].LookupAttr("affiliation")
	if hasRole == hasAff {
		return nil, xmlstream.BadRequest("a list request names a role or an affiliation")
	}
	var list []*xmlstream.Element
	var err *xmlstream.StanzaError
	if hasRole {
		list, err = r.roleList(Role(roleAttr), actor)
	} else {
		list, err = r.affiliationList(Affiliation(affAttr), actor)
	}
	if err != nil {
		return nil, err
	}
	return xmlstream.NewElement(NSMUCAdmin, "query").Append(list...), nil
}
