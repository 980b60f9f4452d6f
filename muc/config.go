package muc

import "slices"

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

// RoomConfig is a room's configuration. It is stored as JSON in the room's
// document: add fields with zero values that mean "as before".
type RoomConfig struct {
	Name        string `json:"name,omitempty"`
	Description string `json:"desc,omitempty"`
	Lang        string `json:"lang,omitempty"`
	Public      bool   `json:"public"`
	Persistent  bool   `json:"persistent"`
	MembersOnly bool   `json:"members_only,omitempty"`
	Moderated   bool   `json:"moderated,omitempty"`
	// PasswordProtected rooms admit only who supplies Password (§7.2.5).
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
	// Logging announces a public log (status 170).
	Logging bool `json:"logging,omitempty"`
	// MaxHistoryFetch caps the history sent on join (0: the service cap).
	MaxHistoryFetch int  `json:"max_history_fetch,omitempty"`
	AllowInvites    bool `json:"allow_invites,omitempty"`
	// EnforceReservedNick makes users with a reserved nick use it (§7.2 not-acceptable).
	EnforceReservedNick bool `json:"enforce_reserved_nick,omitempty"`
}

// DefaultRoomConfig is what a new room starts with unless Options say otherwise:
// public, temporary, open, unmoderated, semi-anonymous, PMs from anyone.
func DefaultRoomConfig() RoomConfig {
	return RoomConfig{
		Public:            true,
		Whois:             WhoisModerators,
		AllowPM:           PMAnyone,
		PresenceBroadcast: []Role{RoleModerator, RoleParticipant, RoleVisitor},
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
		c.PresenceBroadcast = []Role{RoleModerator, RoleParticipant, RoleVisitor}
	}
	if c.MaxUsers < 0 {
		c.MaxUsers = 0
	}
	if c.MaxHistoryFetch < 0 {
		c.MaxHistoryFetch = 0
	}
}

// clone returns a deep copy.
func (c RoomConfig) clone() RoomConfig {
	c.PresenceBroadcast = slices.Clone(c.PresenceBroadcast)
	return c
}

// nonAnonymous reports whether every occupant sees real JIDs.
func (c *RoomConfig) nonAnonymous() bool { return c.Whois == WhoisAnyone }

// broadcastsPresenceOf reports whether presence of an occupant with role r
// is broadcast (muc#roomconfig_presencebroadcast).
func (c *RoomConfig) broadcastsPresenceOf(r Role) bool {
	return slices.Contains(c.PresenceBroadcast, r)
}
