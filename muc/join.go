package muc

import (
	"context"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/xmlstream"
)

// maxUsersAdminSlack is how many owners and admins may still enter a full
// room (§7.2.10: "up to some reasonable number of additional occupants").
const maxUsersAdminSlack = 10

// join handles a MUC join from a full JID that is not in the room (§7.2).
// The checks run in the order that leaks the least: a locked room first
// (it does not exist yet for others), bans, nick conflicts, membership,
// password, capacity.
func (r *room) join(ctx context.Context, st *xmlstream.Stanza, el, mucX *xmlstream.Element, from jid.JID, nick string) {
	bare := from.Bare().String()
	created := false
	if !r.exists {
		if err := r.create(ctx, bare); err != nil {
			r.svc.bounce(ctx, st, err)
			return
		}
		created = true
	}
	aff := r.affiliation(bare)
	if r.locked && aff != AffOwner {
		r.fail(ctx, st, xmlstream.ErrCancel, "item-not-found") // §7.2.11
		return
	}
	if aff == AffOutcast {
		r.fail(ctx, st, xmlstream.ErrAuth, "forbidden") // §7.2.8
		return
	}
	existing := r.occupants[nick]
	if existing != nil && existing.bare != bare {
		r.fail(ctx, st, xmlstream.ErrCancel, "conflict") // §7.2.9
		return
	}
	if owner := r.nickOwner(nick); owner != "" && owner != bare {
		r.fail(ctx, st, xmlstream.ErrCancel, "conflict") // reserved by another member
		return
	}
	if res := r.reservedNick(bare); r.cfg.EnforceReservedNick && res != "" && res != nick {
		r.fail(ctx, st, xmlstream.ErrCancel, "not-acceptable") // the reserved nick must be used
		return
	}
	if !r.admitsAffiliation(aff) {
		r.fail(ctx, st, xmlstream.ErrAuth, "registration-required") // §7.2.7
		return
	}
	if !r.passwordOK(aff, mucX) {
		r.fail(ctx, st, xmlstream.ErrAuth, "not-authorized") // §7.2.6
		return
	}
	if existing == nil && r.cfg.MaxUsers > 0 {
		limit := r.cfg.MaxUsers
		if aff.rank() >= AffAdmin.rank() {
			limit += maxUsersAdminSlack
		}
		if len(r.order) >= limit {
			r.fail(ctx, st, xmlstream.ErrWait, "service-unavailable") // §7.2.10
			return
		}
	}

	o := existing
	if o == nil {
		o = &occupant{nick: nick, bare: bare, role: r.defaultRole(aff), id: r.occupantID(bare)}
		r.addOccupant(o)
	}
	s := newSession(from.String(), o, reflectable(el))
	o.sessions = append(o.sessions, s)
	r.sessions[s.full] = s

	var codes []string
	if created {
		codes = append(codes, statusCreated)
	}
	r.sendJoinSequence(ctx, st, s, mucX, codes, !created)
}

// sendJoinSequence is what a joining session receives, in the order of
// §7.1: the other occupants' presence, the new presence broadcast ending
// with self-presence, history, subject. extraSelf adds status codes to the
// self-presence (201, 210).
func (r *room) sendJoinSequence(ctx context.Context, st *xmlstream.Stanza, s *session, mucX *xmlstream.Element, extraSelf []string, history bool) {
	o := s.occ
	// 1. Presence of every other occupant, from its representative session.
	seeJID := r.seesJIDs(o.role)
	for _, other := range r.order {
		if other == o || !r.cfg.broadcastsPresenceOf(other.role) {
			continue
		}
		r.sendTo(ctx, r.presenceElement(presenceSpec{occ: other, sess: other.primary(), withJID: seeJID}), s)
	}
	// 2. The newcomer's presence to everyone, self-presence last.
	self := []string{statusSelf}
	if r.cfg.nonAnonymous() {
		self = append(self, statusNonAnonymous)
	}
	if r.cfg.Logging {
		self = append(self, statusLoggingOn)
	}
	self = append(self, extraSelf...)
	p := presenceSpec{occ: o, sess: s, id: st.ID()}
	r.broadcastPresence(ctx, p, []string{statusSelf}, s)
	sp := p
	sp.withJID = true
	sp.statuses = self
	r.sendTo(ctx, r.presenceElement(sp), s)
	// 3. History, 4. subject.
	if history {
		r.sendHistory(ctx, s, parseHistoryRequest(mucX.Child(NSMUC, "history")))
	}
	r.sendSubject(ctx, s)
}

// resync answers a join from a session already in the room (§7.2.1, §17.3
// rule 3): the whole join sequence again, and the presence update to the
// others.
func (r *room) resync(ctx context.Context, st *xmlstream.Stanza, el, mucX *xmlstream.Element, s *session) {
	s.pres = reflectable(el)
	r.sendJoinSequence(ctx, st, s, mucX, nil, true)
}
