package muc

// The muc#roomconfig form (§10.1.3, §10.2), first version: the fields the
// room implements now. The full §15.5.3 field set comes with the owner use
// cases; unknown fields in a submission are ignored (XEP-0004 §3.5 lets a
// form processor ignore what it does not know).

import (
	"slices"
	"strconv"
	"strings"

	"github.com/gavelhq/gavel/xmlstream"
)

const (
	fieldName          = "muc#roomconfig_roomname"
	fieldDesc          = "muc#roomconfig_roomdesc"
	fieldLang          = "muc#roomconfig_lang"
	fieldPersistent    = "muc#roomconfig_persistentroom"
	fieldPublic        = "muc#roomconfig_publicroom"
	fieldMembersOnly   = "muc#roomconfig_membersonly"
	fieldModerated     = "muc#roomconfig_moderatedroom"
	fieldPasswordOn    = "muc#roomconfig_passwordprotectedroom"
	fieldSecret        = "muc#roomconfig_roomsecret"
	fieldWhois         = "muc#roomconfig_whois"
	fieldMaxUsers      = "muc#roomconfig_maxusers"
	fieldChangeSubject = "muc#roomconfig_changesubject"
	fieldAllowPM       = "muc#roomconfig_allowpm"
	fieldPresenceBcast = "muc#roomconfig_presencebroadcast"
	fieldLogging       = "muc#roomconfig_enablelogging"
	fieldMaxHistory    = "muc#maxhistoryfetch"
	fieldAllowInvites  = "muc#roomconfig_allowinvites"
)

func formField(typ, v, label string, values ...string) *xmlstream.Element {
	f := xmlstream.NewElement(NSDataForms, "field", "type", typ, "var", v, "label", label)
	for _, val := range values {
		f.Append(xmlstream.NewElement(NSDataForms, "value").AppendText(val))
	}
	return f
}

func withOptions(f *xmlstream.Element, opts ...string) *xmlstream.Element {
	for i := 0; i+1 < len(opts); i += 2 {
		f.Append(xmlstream.NewElement(NSDataForms, "option", "label", opts[i]).Append(
			xmlstream.NewElement(NSDataForms, "value").AppendText(opts[i+1])))
	}
	return f
}

func boolValue(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// configForm is the form filled in with cfg.
func configForm(room string, cfg RoomConfig) *xmlstream.Element {
	x := xmlstream.NewElement(NSDataForms, "x", "type", "form")
	x.Append(xmlstream.NewElement(NSDataForms, "title").AppendText("Configuration for " + room))
	maxUsers := "none"
	if cfg.MaxUsers > 0 {
		maxUsers = strconv.Itoa(cfg.MaxUsers)
	}
	roles := make([]string, len(cfg.PresenceBroadcast))
	for i, r := range cfg.PresenceBroadcast {
		roles[i] = string(r)
	}
	x.Append(
		formField("hidden", "FORM_TYPE", "", NSRoomConfig),
		formField("text-single", fieldName, "Natural-Language Room Name", cfg.Name),
		formField("text-single", fieldDesc, "Short Description of Room", cfg.Description),
		formField("text-single", fieldLang, "Natural Language for Room Discussions", cfg.Lang),
		formField("boolean", fieldPersistent, "Make Room Persistent?", boolValue(cfg.Persistent)),
		formField("boolean", fieldPublic, "Make Room Publicly Searchable?", boolValue(cfg.Public)),
		formField("boolean", fieldMembersOnly, "Make Room Members-Only?", boolValue(cfg.MembersOnly)),
		formField("boolean", fieldModerated, "Make Room Moderated?", boolValue(cfg.Moderated)),
		formField("boolean", fieldPasswordOn, "Password Required to Enter?", boolValue(cfg.PasswordProtected)),
		formField("text-private", fieldSecret, "Password", cfg.Password),
		withOptions(formField("list-single", fieldWhois, "Who May Discover Real JIDs?", cfg.Whois),
			"Moderators Only", WhoisModerators, "Anyone", WhoisAnyone),
		withOptions(formField("list-single", fieldMaxUsers, "Maximum Number of Occupants", maxUsers),
			"10", "10", "20", "20", "30", "30", "50", "50", "100", "100", "None", "none"),
		formField("boolean", fieldChangeSubject, "Allow Occupants to Change Subject?", boolValue(cfg.ChangeSubject)),
		withOptions(formField("list-single", fieldAllowPM, "Who Can Send Private Messages?", cfg.AllowPM),
			"Anyone", PMAnyone, "Anyone with Voice", PMParticipants, "Moderators Only", PMModerators, "Nobody", PMNone),
		withOptions(formField("list-multi", fieldPresenceBcast, "Roles for which Presence is Broadcasted", roles...),
			"Moderator", string(RoleModerator), "Participant", string(RoleParticipant), "Visitor", string(RoleVisitor)),
		formField("boolean", fieldLogging, "Enable Public Logging?", boolValue(cfg.Logging)),
		formField("text-single", fieldMaxHistory, "Maximum Number of History Messages Returned by Room", strconv.Itoa(cfg.MaxHistoryFetch)),
		formField("boolean", fieldAllowInvites, "Allow Occupants to Invite Others?", boolValue(cfg.AllowInvites)),
	)
	return x
}

// formValues reads a submitted form: var -> values.
func formValues(x *xmlstream.Element) map[string][]string {
	out := map[string][]string{}
	for _, f := range x.ChildrenNamed(NSDataForms, "field") {
		var vals []string
		for _, v := range f.ChildrenNamed(NSDataForms, "value") {
			vals = append(vals, v.Text())
		}
		out[f.Attr("var")] = vals
	}
	return out
}

func notAcceptable(text string) *xmlstream.StanzaError {
	return &xmlstream.StanzaError{Type: xmlstream.ErrModify, Condition: "not-acceptable", Text: text}
}

// applyConfigForm returns cfg changed by a submitted form. A value outside
// a field's range is not-acceptable (§10.1.3), as is a password-protected
// room without a password.
func applyConfigForm(cfg RoomConfig, x *xmlstream.Element) (RoomConfig, error) {
	vals := formValues(x)
	if ft, ok := vals["FORM_TYPE"]; ok && (len(ft) != 1 || ft[0] != NSRoomConfig) {
		return cfg, xmlstream.BadRequest("FORM_TYPE must be " + NSRoomConfig)
	}
	cfg = cfg.clone()
	single := func(v string) (string, bool) {
		vs, ok := vals[v]
		if !ok {
			return "", false
		}
		if len(vs) == 0 {
			return "", true
		}
		return vs[0], true
	}
	var err error
	boolean := func(v string, dst *bool) {
		s, ok := single(v)
		if !ok || err != nil {
			return
		}
		switch strings.TrimSpace(s) {
		case "1", "true":
			*dst = true
		case "0", "false", "":
			*dst = false
		default:
			err = notAcceptable(v + " must be a boolean")
		}
	}
	text := func(v string, dst *string) {
		if s, ok := single(v); ok {
			*dst = s
		}
	}
	text(fieldName, &cfg.Name)
	text(fieldDesc, &cfg.Description)
	text(fieldLang, &cfg.Lang)
	text(fieldSecret, &cfg.Password)
	boolean(fieldPersistent, &cfg.Persistent)
	boolean(fieldPublic, &cfg.Public)
	boolean(fieldMembersOnly, &cfg.MembersOnly)
	boolean(fieldModerated, &cfg.Moderated)
	boolean(fieldPasswordOn, &cfg.PasswordProtected)
	boolean(fieldChangeSubject, &cfg.ChangeSubject)
	boolean(fieldLogging, &cfg.Logging)
	boolean(fieldAllowInvites, &cfg.AllowInvites)
	if err != nil {
		return cfg, err
	}
	if s, ok := single(fieldWhois); ok {
		if s != WhoisModerators && s != WhoisAnyone {
			return cfg, notAcceptable("whois must be moderators or anyone")
		}
		cfg.Whois = s
	}
	if s, ok := single(fieldMaxUsers); ok {
		switch s = strings.TrimSpace(s); s {
		case "none", "", "0":
			cfg.MaxUsers = 0
		default:
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 {
				return cfg, notAcceptable("maxusers must be a positive number or none")
			}
			cfg.MaxUsers = n
		}
	}
	if s, ok := single(fieldAllowPM); ok {
		switch s {
		case PMAnyone, PMParticipants, PMModerators, PMNone:
			cfg.AllowPM = s
		default:
			return cfg, notAcceptable("allowpm must be anyone, participants, moderators or none")
		}
	}
	if vs, ok := vals[fieldPresenceBcast]; ok {
		roles := []Role{}
		for _, v := range vs {
			r := Role(v)
			if r != RoleModerator && r != RoleParticipant && r != RoleVisitor {
				return cfg, notAcceptable("presencebroadcast takes moderator, participant and visitor")
			}
			if !slices.Contains(roles, r) {
				roles = append(roles, r)
			}
		}
		cfg.PresenceBroadcast = roles
	}
	if s, ok := single(fieldMaxHistory); ok {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if s = strings.TrimSpace(s); s == "" {
			n, err = 0, nil
		}
		if err != nil || n < 0 {
			return cfg, notAcceptable("maxhistoryfetch must be a non-negative number")
		}
		cfg.MaxHistoryFetch = n
	}
	if cfg.PasswordProtected && cfg.Password == "" {
		return cfg, notAcceptable("a password-protected room needs a password")
	}
	return cfg, nil
}
