package muc

import (
	"slices"
	"time"

	"github.com/gavelhq/gavel/xmlstream"
)

// occupant is one nick in the room. Several sessions (full JIDs) of the same
// bare JID may share it (§7.2.9 multi-session nicks); they see the room as
// one occupant.
type occupant struct {
	nick     string
	bare     string
	role     Role
	id       string     // XEP-0421 occupant-id
	sessions []*session // join order; the last one speaks for the occupant
	// lastVoiceRequest rate-limits voice requests (voice.go).
	lastVoiceRequest time.Time
}

// session is one full JID in the room.
type session struct {
	full   string
	occ    *occupant
	pres   *xmlstream.Element // the last presence it sent, MUC payloads removed
	toAttr []byte             // " to='<full>'", escaped once for fan-out
}

func newSession(full string, occ *occupant, pres *xmlstream.Element) *session {
	to := append([]byte(" to='"), xmlstream.AppendEscaped(nil, full)...)
	return &session{full: full, occ: occ, pres: pres, toAttr: append(to, '\'')}
}

// primary is the session whose presence represents the occupant.
func (o *occupant) primary() *session { return o.sessions[len(o.sessions)-1] }

// addOccupant puts a new occupant in the room.
func (r *room) addOccupant(o *occupant) {
	r.occupants[o.nick] = o
	r.order = append(r.order, o)
}

// removeOccupant takes o and all its sessions out of the room.
func (r *room) removeOccupant(o *occupant) {
	delete(r.occupants, o.nick)
	for _, s := range o.sessions {
		delete(r.sessions, s.full)
	}
	if i := slices.Index(r.order, o); i >= 0 {
		r.order = slices.Delete(r.order, i, i+1)
	}
}

// removeSession takes one session out; it reports whether the occupant is
// gone with it.
func (r *room) removeSession(s *session) bool {
	o := s.occ
	delete(r.sessions, s.full)
	if i := slices.Index(o.sessions, s); i >= 0 {
		o.sessions = slices.Delete(o.sessions, i, i+1)
	}
	if len(o.sessions) == 0 {
		r.removeOccupant(o)
		return true
	}
	return false
}

// renameOccupant moves o to nick.
func (r *room) renameOccupant(o *occupant, nick string) {
	delete(r.occupants, o.nick)
	o.nick = nick
	r.occupants[nick] = o
}

// defaultRole is the role an affiliation enters with (§5.1.2).
func (r *room) defaultRole(a Affiliation) Role {
	switch a {
	case AffOwner, AffAdmin:
		return RoleModerator
	case AffMember:
		return RoleParticipant
	case AffNone:
		if r.cfg.Moderated {
			return RoleVisitor
		}
		return RoleParticipant
	}
	return RoleNone
}

// seesJIDs reports whether a viewer with role v learns real JIDs (§7.2.4, §7.2.5).
func (r *room) seesJIDs(v Role) bool { return r.cfg.nonAnonymous() || v == RoleModerator }
