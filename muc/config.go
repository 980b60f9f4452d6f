package muc

import (
	"reflect"
	"slices"
)

// Who may discover occupants' real JIDs (muc#roomconfig_whois).
const (
	WhoisModerators = "moderators" // semi-anonymous
	WhoisAnyone     = "anyone"     // non-anonymous
)

// Who may send private messages (muc#roomconfig_allowpm).
const (
	PMAnyone       = "anyone"
	PMParticipants = "participants"
	PMModerators   = "moderators"
	PMNone         = "none"
)

// RoomConfig is a room's configuration: every muc#roomconfig field of
// XEP-0045 §15.5.3 except the admin and owner lists, which are
// affiliations (config_form.go maps them). It is stored as JSON in the
// room's document: add fields with zero values that mean "as before".
// docs/muc.md has the table of fields, defaults and meanings.
type RoomConfig struct {
	Name        string `json:"name,omitempty"`
	Description string `json:"desc,omitempty"`
	Lang        string `json:"lang,omitempty"`
	Public      bool   `json:"public"`
	Persistent  bool   `json:"persistent"`
	// MembersOnly rooms admit only members, admins and owners (§7.2.7).
	MembersOnly bool `json:"members_only,omitempty"`
	// Moderated rooms give unaffiliated users no voice (§7.2, §8.3).
	Moderated bool `json:"moderated,omitempty"`
	// PasswordProtected rooms admit only who supplies Password (§7.2.6).
	PasswordProtected bool   `json:"password_protected,omitempty"`
	Password          string `json:"password,omitempty"`
	// Whois is WhoisModerators (semi-anonymous) or WhoisAnyone.
	Whois string `json:"whois"`
	// MaxUsers limits occupants (0: no limit); owners and admins may
	// still enter beyond it (§7.2.10).
	MaxUsers int `json:"max_users,omitempty"`
	// ChangeSubject lets participants change the subject (§8.1).
	ChangeSubject bool `json:"change_subject,omitempty"`
	// AllowPM is who may send private messages (PM* constants).
	AllowPM string `json:"allow_pm"`
	// PresenceBroadcast lists the roles whose presence is broadcast.
	PresenceBroadcast []Role `json:"presence_broadcast"`
	// GetMemberList lists the roles that may retrieve the member list
	// (§7.11, muc#roomconfig_getmemberlist); admins and owners always may.
	GetMemberList []Role `json:"get_member_list"`
	// Logging announces a public log (status 170).
	Logging bool `json:"logging,omitempty"`
	// Archiving makes the room's log available to MAM queries
	// (muc#roomconfig_enablearchiving). The log itself is always kept:
	// it serves join history.
	Archiving bool `json:"archiving,omitempty"`
	// MaxHistoryFetch caps the history sent on join (0: the service cap).
	MaxHistoryFetch int `json:"max_history_fetch,omitempty"`
	// AllowInvites lets occupants without moderator rights send mediated
	// invitations (§7.8.2); in a members-only room such an invitation
	// also makes the invitee a member.
	AllowInvites bool `json:"allow_invites,omitempty"`
	// PubSub is the XMPP URI of an associated publish-subscribe node.
	PubSub string `json:"pubsub,omitempty"`
	// EnforceReservedNick makes users with a reserved nick use it (§7.2 not-acceptable).
	EnforceReservedNick bool `json:"enforce_reserved_nick,omitempty"`
}

// allRoles are the roles an occupant can have, in the order forms list them.
var allRoles = []Role{RoleModerator, RoleParticipant, RoleVisitor}

// DefaultRoomConfig is what a new room starts with unless Options say otherwise:
// public, temporary, open, unmoderated, semi-anonymous, PMs from anyone,
// presence of every role broadcast, member list visible to every role,
// archived for MAM.
func DefaultRoomConfig() RoomConfig {
	return RoomConfig{
		Public:            true,
		Whois:             WhoisModerators,
		AllowPM:           PMAnyone,
		PresenceBroadcast: slices.Clone(allRoles),
		GetMemberList:     slices.Clone(allRoles),
		Archiving:         true,
	}
}

// normalize fills values a stored or submitted config may lack.
func (c *RoomConfig) normalize() {
	if c.Whois != WhoisAnyone {
		c.Whois = WhoisModerators
	}
	switch c.AllowPM {
	case PMAnyone, PMParticipants, PMModerators, PMNone:
	default:
		c.AllowPM = PMAnyone
	}
	if c.PresenceBroadcast == nil {
		c.PresenceBroadcast = slices.Clone(allRoles)
	}
	if c.GetMemberList == nil {
		c.GetMemberList = slices.Clone(allRoles)
	}
	if c.MaxUsers < 0 {
		c.MaxUsers = 0
	}
	if c.MaxHistoryFetch < 0 {
		c.MaxHistoryFetch = 0
	}
	if !c.PasswordProtected {
		c.Password = ""
	}
}

// clone returns a deep copy.
func (c RoomConfig) clone() RoomConfig {
	c.PresenceBroadcast = slices.Clone(c.PresenceBroadcast)
	c.GetMemberList = slices.Clone(c.GetMemberList)
	return c
}

// equal reports whether two configurations are the same.
func (c RoomConfig) equal(o RoomConfig) bool {
	if !slices.Equal(c.PresenceBroadcast, o.PresenceBroadcast) || !slices.Equal(c.GetMemberList, o.GetMemberList) {
		return false
	}
	c.PresenceBroadcast, o.PresenceBroadcast = nil, nil
	c.GetMemberList, o.GetMemberList = nil, nil
	return reflect.DeepEqual(c, o)
}

// nonAnonymous reports whether every occupant sees real JIDs.
func (c *RoomConfig) nonAnonymous() bool { return c.Whois == WhoisAnyone }

// broadcastsPresenceOf reports whether presence of an occupant with role r
// is broadcast (muc#roomconfig_presencebroadcast).
func (c *RoomConfig) broadcastsPresenceOf(r Role) bool {
	return slices.Contains(c.PresenceBroadcast, r)
}
