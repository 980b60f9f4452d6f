// Package muc is Gavel's XEP-0045 Multi-User Chat service.
//
// Shape: Service (service.go) is the router.Handler of the MUC domain. It
// answers the service's own disco and hands every stanza for a room to that
// room's actor: one goroutine per ACTIVE room (room.go) that owns all of the
// room's state, so nothing in a room is locked. Rooms are activated lazily
// (the first stanza loads the room from the Store) and hibernated when idle
// and empty; nothing ever loads every room.
//
// One file per room feature: join.go (entering, §7.2), exit.go (§7.14),
// nick.go (§7.6), presence.go (availability §7.7 and the muc#user payload),
// message.go (groupchat §7.4), private.go (§7.5), subject.go (§8.1),
// history.go (join history served from the room's log), create.go (§10.1),
// config_form.go (muc#roomconfig), destroy.go (§10.9), disco.go (§6),
// persist.go (the Store layout), broadcast.go (encode-once fan-out),
// occupantid.go (XEP-0421), history_commit.go (group commit of the
// history log), mam.go (XEP-0313 on the room JID), selfping.go (XEP-0410),
// iqrelay.go (iqs to occupant JIDs).
package muc

import "github.com/gavelhq/gavel/xmlstream"

// Namespaces.
const (
	NSMUC        = "http://jabber.org/protocol/muc"
	NSMUCUser    = "http://jabber.org/protocol/muc#user"
	NSMUCOwner   = "http://jabber.org/protocol/muc#owner"
	NSMUCAdmin   = "http://jabber.org/protocol/muc#admin"
	NSStableID   = "http://jabber.org/protocol/muc#stable_id"
	NSRoomConfig = "http://jabber.org/protocol/muc#roomconfig"
	NSRoomInfo   = "http://jabber.org/protocol/muc#roominfo"
	NSOccupantID = "urn:xmpp:occupant-id:0"
	NSStanzaID   = "urn:xmpp:sid:0"
	NSDelay      = "urn:xmpp:delay"
	NSDiscoInfo  = "http://jabber.org/protocol/disco#info"
	NSDiscoItems = "http://jabber.org/protocol/disco#items"
	NSRSM        = "http://jabber.org/protocol/rsm"
	NSDataForms  = "jabber:x:data"
	NSPing       = "urn:xmpp:ping"
)

// Role is an occupant's role in the room (§5.1); it lasts one visit.
type Role string

const (
	RoleNone        Role = "none"
	RoleVisitor     Role = "visitor"
	RoleParticipant Role = "participant"
	RoleModerator   Role = "moderator"
)

// Affiliation is a user's long-lived relation to the room (§5.2), by bare JID.
type Affiliation string

const (
	AffOwner   Affiliation = "owner"
	AffAdmin   Affiliation = "admin"
	AffMember  Affiliation = "member"
	AffNone    Affiliation = "none"
	AffOutcast Affiliation = "outcast"
)

// rank orders affiliations: outcast < none < member < admin < owner.
func (a Affiliation) rank() int {
	switch a {
	case AffOwner:
		return 4
	case AffAdmin:
		return 3
	case AffMember:
		return 2
	case AffOutcast:
		return 0
	}
	return 1
}

// valid reports whether a is one of the five affiliations.
func (a Affiliation) valid() bool {
	switch a {
	case AffOwner, AffAdmin, AffMember, AffNone, AffOutcast:
		return true
	}
	return false
}

// Status codes (§15.6) used by this package.
const (
	statusNonAnonymous   = "100"
	statusConfigChanged  = "104"
	statusSelf           = "110"
	statusLoggingOn      = "170"
	statusLoggingOff     = "171"
	statusNowNonAnon     = "172"
	statusNowSemiAnon    = "173"
	statusCreated        = "201"
	statusNickAssigned   = "210"
	statusNickChanged    = "303"
	statusKicked         = "307"
	statusServiceRemoved = "333"
)

// mucError builds the stanza error of a MUC use case, with the room as 'by'
// (the XEP's examples name the room in every <error/>).
func mucError(by, typ, condition string) *xmlstream.StanzaError {
	return &xmlstream.StanzaError{Type: typ, Condition: condition, By: by}
}
