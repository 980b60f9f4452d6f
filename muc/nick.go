package muc

import (
	"context"

	"github.com/gavelhq/gavel/xmlstream"
)

// changeNick moves the occupant of session s to nick (§7.6): everyone gets
// unavailable presence from the old nick with the new one and status 303,
// then available presence from the new nick. All sessions of a
// multi-session occupant move together.
func (r *room) changeNick(ctx context.Context, st *xmlstream.Stanza, el *xmlstream.Element, s *session, nick string) {
	o := s.occ
	if other := r.occupants[nick]; other != nil {
		r.failNick(ctx, st, o.nick, xmlstream.ErrCancel, "conflict")
		return
	}
	if owner := r.nickOwner(nick); owner != "" && owner != o.bare {
		r.failNick(ctx, st, o.nick, xmlstream.ErrCancel, "conflict")
		return
	}
	if res := r.reservedNick(o.bare); r.cfg.EnforceReservedNick && res != "" && res != nick {
		r.failNick(ctx, st, o.nick, xmlstream.ErrCancel, "not-acceptable")
		return
	}
	s.pres = reflectable(el)
	// 303 from the old nick, carrying the new one.
	r.broadcastPresence(ctx, presenceSpec{occ: o, sess: s, typ: "unavailable", nick: nick,
		payload:  xmlstream.NewElement(xmlstream.NSClient, xmlstream.KindPresence),
		statuses: []string{statusNickChanged}}, []string{statusSelf}, nil)
	r.renameOccupant(o, nick)
	r.broadcastPresence(ctx, presenceSpec{occ: o, sess: s, id: st.ID()}, []string{statusSelf}, nil)
}

// failNick answers a refused nick change from the occupant's current
// occupant JID (§7.6 examples), with the request's payload.
func (r *room) failNick(ctx context.Context, st *xmlstream.Stanza, current, typ, condition string) {
	r.svc.bounce(ctx, st.WithAttrs("to", r.occupantJID(current)), mucError(r.addr, typ, condition))
}
