package muc

import (
	"context"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/xmlstream"
)

// privateMessage relays a message to one occupant (§7.5), subject to
// muc#roomconfig_allowpm. All sessions of the recipient get it.
func (r *room) privateMessage(ctx context.Context, st *xmlstream.Stanza, el *xmlstream.Element, from jid.JID, nick string) {
	s := r.sessions[from.String()]
	if s == nil {
		r.fail(ctx, st, xmlstream.ErrCancel, "not-acceptable")
		return
	}
	if st.Type() == "groupchat" {
		r.fail(ctx, st, xmlstream.ErrModify, "bad-request")
		return
	}
	if !r.mayPM(s.occ.role) {
		r.fail(ctx, st, xmlstream.ErrCancel, "not-allowed")
		return
	}
	target := r.occupants[nick]
	if target == nil {
		r.fail(ctx, st, xmlstream.ErrCancel, "item-not-found")
		return
	}
	out := r.reflectedMessage(el, s.occ, st.ID(), xmlstream.KindMessage)
	out.SetAttr("type", st.Type())
	// §7.5: the <x/> marks it as a MUC PM (for carbons); the room adds it.
	out.Append(xmlstream.NewElement(NSMUCUser, "x"))
	newTemplate(out).fanout(ctx, r.svc.router, target.sessions)
}

// mayPM applies muc#roomconfig_allowpm to the sender's role.
func (r *room) mayPM(role Role) bool {
	switch r.cfg.AllowPM {
	case PMNone:
		return false
	case PMModerators:
		return role == RoleModerator
	case PMParticipants:
		return role == RoleModerator || role == RoleParticipant
	}
	return role != RoleNone
}
