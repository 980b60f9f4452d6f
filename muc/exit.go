package muc

import (
	"context"

	"github.com/gavelhq/gavel/xmlstream"
)

// exit takes session s out of the room (§7.14). payload holds what the
// occupant's unavailable presence carried (a custom <status/>); codes are
// added for everyone (333 when the service removes a ghost).
func (r *room) exit(ctx context.Context, s *session, payload *xmlstream.Element, codes []string) {
	o := s.occ
	if payload == nil {
		payload = xmlstream.NewElement(xmlstream.NSClient, xmlstream.KindPresence)
	}
	gone := r.removeSession(s)
	p := presenceSpec{occ: o, sess: s, typ: "unavailable", role: RoleNone, payload: payload, statuses: codes}
	if gone {
		// Everyone else, then the leaver itself with 110.
		r.broadcastPresence(ctx, p, nil, nil)
	} else if r.cfg.broadcastsPresenceOf(o.role) {
		// The occupant stays through its other sessions: the others see
		// its presence from the session that now represents it.
		r.broadcastPresence(ctx, presenceSpec{occ: o, sess: o.primary()}, []string{statusSelf}, nil)
	}
	self := p
	self.withJID = true
	self.statuses = append(append([]string(nil), codes...), statusSelf)
	r.sendTo(ctx, r.presenceElement(self), s)
	r.afterExit(ctx)
}

// afterExit ends a room nobody is in any more when it must not outlive
// its last occupant: a locked room (never configured, §10.1.3) or a
// temporary one (§7.14).
func (r *room) afterExit(ctx context.Context) {
	if len(r.order) > 0 || !r.exists {
		return
	}
	if r.locked || !r.cfg.Persistent {
		r.erase(ctx)
	}
}
