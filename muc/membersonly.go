package muc

// Members-only rooms (§7.2.7, muc#roomconfig_membersonly): only members,
// admins and owners enter; turning the option on removes everyone else
// with status 322 (§10.2); invitations by those who may invite make the
// invitee a member (§7.8.2, invite.go). Who may read the member list
// (muc#roomconfig_getmemberlist) is decided with the other list requests
// in affiliation_change.go.

import (
	"context"
	"slices"

	"github.com/gavelhq/gavel/xmlstream"
)

// statusMembersOnlyRemoval: removed because the room became members-only.
const statusMembersOnlyRemoval = "322"

// admitsAffiliation reports whether a user with affiliation a may enter
// as far as membership goes.
func (r *room) admitsAffiliation(a Affiliation) bool {
	return !r.cfg.MembersOnly || a.rank() >= AffMember.rank()
}

// removeNonMembers takes every occupant without membership out of the
// room: unavailable presence with role none and 322 to everyone, 110 added
// for the occupant itself (§10.2).
func (r *room) removeNonMembers(ctx context.Context) {
	for _, o := range slices.Clone(r.order) {
		if r.admitsAffiliation(r.affiliation(o.bare)) {
			continue
		}
		p := presenceSpec{occ: o, sess: o.primary(), typ: "unavailable", role: RoleNone,
			payload:  xmlstream.NewElement(xmlstream.NSClient, xmlstream.KindPresence),
			statuses: []string{statusMembersOnlyRemoval}}
		r.removeOccupant(o)
		r.broadcastPresence(ctx, p, []string{statusSelf}, nil)
	}
	r.afterExit(ctx)
}
