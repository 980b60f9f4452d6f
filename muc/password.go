package muc

// Password-protected rooms (§7.2.6, muc#roomconfig_passwordprotectedroom
// and _roomsecret): entry needs <password/> in the join's
// <x xmlns='http://jabber.org/protocol/muc'/>; mediated invitations carry
// the password to the invitee (invite.go).

import (
	"crypto/subtle"

	"github.com/gavelhq/gavel/xmlstream"
)

// passwordOK reports whether a join with affiliation aff and MUC payload
// mucX passes the room's password. Owners enter without it; the
// comparison takes the same time wherever the strings differ.
func (r *room) passwordOK(aff Affiliation, mucX *xmlstream.Element) bool {
	if !r.cfg.PasswordProtected || aff == AffOwner {
		return true
	}
	given := mucX.ChildText(NSMUC, "password")
	return subtle.ConstantTimeCompare([]byte(given), []byte(r.cfg.Password)) == 1
}
