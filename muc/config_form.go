package muc

// The muc#roomconfig form (§10.1.3, §10.2, registry §15.5.3): every
// registered field, plus muc#roomconfig_enablearchiving (the field MAM
// clients send). The owner and admin lists are not configuration but
// affiliations: the form shows them and a submission replaces them,
// with the presence updates §10.2 prescribes. Unknown fields in a
// submission are ignored (XEP-0004 lets a form processor ignore what it
// does not know); a value out of range is not-acceptable (§10.1.3).

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"mellium.im/xmpp/jid"

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
	fieldGetMemberList = "muc#roomconfig_getmemberlist"
	fieldLogging       = "muc#roomconfig_enablelogging"
	fieldArchiving     = "muc#roomconfig_enablearchiving"
	fieldMaxHistory    = "muc#maxhistoryfetch"
	fieldAllowInvites  = "muc#roomconfig_allowinvites"
	fieldPubSub        = "muc#roomconfig_pubsub"
	fieldRoomAdmins    = "muc#roomconfig_roomadmins"
	fieldRoomOwners    = "muc#roomconfig_roomowners"
)

// Limits on submitted values; the stanza size limit bounds the rest.
const (
	maxRoomNameLen = 256
	maxRoomDescLen = 2048
	maxPasswordLen = 256
	maxPubSubLen   = 1024
	maxLangLen     = 35 // RFC 5646 §4.4.1 recommends supporting 35
	maxListedJIDs  = 1000
)

func formField(typ, v, label string, values ...string) *xmlstream.Element {
	f := xmlstream.NewElement(NSDataForms, "field", "type", typ, "var", v, "label", label)
	for _, val := range values {
		f.Append(xmlstream.NewElement(NSDataForms, "value").AppendText(val))
	}
	return f
}

func fixedField(text string) *xmlstream.Element {
	return xmlstream.NewElement(NSDataForms, "field", "type", "fixed").Append(
		xmlstream.NewElement(NSDataForms, "value").AppendText(text))
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

func roleStrings(roles []Role) []string {
	out := make([]string, len(roles))
	for i, r := range roles {
		out[i] = string(r)
	}
	return out
}

var roleOptions = []string{"Moderator", string(RoleModerator), "Participant", string(RoleParticipant), "Visitor", string(RoleVisitor)}

// affiliated lists the bare JIDs with affiliation a, sorted.
func (r *room) affiliated(a Affiliation) []string {
	var out []string
	for bare, e := range r.affs {
		if e.Affiliation == a {
			out = append(out, bare)
		}
	}
	slices.Sort(out)
	return out
}

// configForm is the form filled in with the room's current configuration.
func (r *room) configForm() *xmlstream.Element {
	cfg := &r.cfg
	x := xmlstream.NewElement(NSDataForms, "x", "type", "form")
	x.Append(xmlstream.NewElement(NSDataForms, "title").AppendText("Configuration for \"" + r.jid.Localpart() + "\" Room"))
	maxUsers := "none"
	if cfg.MaxUsers > 0 {
		maxUsers = strconv.Itoa(cfg.MaxUsers)
	}
	maxUsersOpts := []string{"10", "10", "20", "20", "30", "30", "50", "50", "100", "100"}
	if maxUsers != "none" && !slices.Contains(maxUsersOpts, maxUsers) {
		maxUsersOpts = append(maxUsersOpts, maxUsers, maxUsers)
	}
	maxUsersOpts = append(maxUsersOpts, "None", "none")
	history := r.svc.opts.MaxHistoryFetch
	if cfg.MaxHistoryFetch > 0 && cfg.MaxHistoryFetch < history {
		history = cfg.MaxHistoryFetch
	}
	x.Append(
		formField("hidden", "FORM_TYPE", "", NSRoomConfig),
		formField("text-single", fieldName, "Natural-Language Room Name", cfg.Name),
		formField("text-single", fieldDesc, "Short Description of Room", cfg.Description),
		formField("text-single", fieldLang, "Natural Language for Room Discussions", cfg.Lang),
		formField("boolean", fieldLogging, "Enable Public Logging?", boolValue(cfg.Logging)),
		formField("boolean", fieldArchiving, "Archive Messages for Message Archive Management?", boolValue(cfg.Archiving)),
		formField("boolean", fieldChangeSubject, "Allow Occupants to Change Subject?", boolValue(cfg.ChangeSubject)),
		formField("boolean", fieldAllowInvites, "Allow Occupants to Invite Others?", boolValue(cfg.AllowInvites)),
		withOptions(formField("list-single", fieldAllowPM, "Who Can Send Private Messages?", cfg.AllowPM),
			"Anyone", PMAnyone, "Anyone with Voice", PMParticipants, "Moderators Only", PMModerators, "Nobody", PMNone),
		withOptions(formField("list-single", fieldMaxUsers, "Maximum Number of Occupants", maxUsers), maxUsersOpts...),
		withOptions(formField("list-multi", fieldPresenceBcast, "Roles for which Presence is Broadcasted", roleStrings(cfg.PresenceBroadcast)...), roleOptions...),
		withOptions(formField("list-multi", fieldGetMemberList, "Roles and Affiliations that May Retrieve Member List", roleStrings(cfg.GetMemberList)...), roleOptions...),
		formField("boolean", fieldPublic, "Make Room Publicly Searchable?", boolValue(cfg.Public)),
		formField("boolean", fieldPersistent, "Make Room Persistent?", boolValue(cfg.Persistent)),
		formField("boolean", fieldModerated, "Make Room Moderated?", boolValue(cfg.Moderated)),
		formField("boolean", fieldMembersOnly, "Make Room Members-Only?", boolValue(cfg.MembersOnly)),
		formField("boolean", fieldPasswordOn, "Password Required to Enter?", boolValue(cfg.PasswordProtected)),
		fixedField("If a password is required to enter this room, you must specify the password below."),
		formField("text-private", fieldSecret, "Password", cfg.Password),
		withOptions(formField("list-single", fieldWhois, "Who May Discover Real JIDs?", cfg.Whois),
			"Moderators Only", WhoisModerators, "Anyone", WhoisAnyone),
		formField("text-single", fieldMaxHistory, "Maximum Number of History Messages Returned by Room", strconv.Itoa(history)),
		formField("text-single", fieldPubSub, "XMPP URI of Associated Publish-Subscribe Node", cfg.PubSub),
		fixedField("You may specify additional people who have admin status in the room. Please provide one Jabber ID per line."),
		formField("jid-multi", fieldRoomAdmins, "Room Admins", r.affiliated(AffAdmin)...),
		fixedField("You may specify additional owners for this room. Please provide one Jabber ID per line."),
		formField("jid-multi", fieldRoomOwners, "Room Owners", r.affiliated(AffOwner)...),
	)
	return x
}

// formValues reads a submitted form: var -> values.
func formValues(x *xmlstream.Element) map[string][]string {
	out := map[string][]string{}
	for _, f := range x.ChildrenNamed(NSDataForms, "field") {
		vals := []string{}
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

// configSubmission is a parsed muc#roomconfig submission.
type configSubmission struct {
	cfg RoomConfig
	// owners and admins are the submitted lists of bare JIDs; nil when
	// the field was not submitted.
	owners, admins []string
}

// applyConfigForm returns cfg changed by a submitted form. A value outside
// a field's range is not-acceptable (§10.1.3), as is a password-protected
// room without a password; a malformed form is bad-request.
func applyConfigForm(cfg RoomConfig, x *xmlstream.Element) (configSubmission, error) {
	vals := formValues(x)
	sub := configSubmission{}
	if ft, ok := vals["FORM_TYPE"]; ok && (len(ft) != 1 || ft[0] != NSRoomConfig) {
		return sub, xmlstream.BadRequest("FORM_TYPE must be " + NSRoomConfig)
	}
	cfg = cfg.clone()
	var err error
	single := func(v string) (string, bool) {
		vs, ok := vals[v]
		switch {
		case !ok || err != nil:
			return "", false
		case len(vs) > 1:
			err = xmlstream.BadRequest(v + " takes one value")
			return "", false
		case len(vs) == 0:
			return "", true
		}
		return vs[0], true
	}
	boolean := func(v string, dst *bool) {
		s, ok := single(v)
		if !ok {
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
	text := func(v string, dst *string, max int) {
		s, ok := single(v)
		if !ok {
			return
		}
		if len(s) > max || !utf8.ValidString(s) {
			err = notAcceptable(v + " is too long")
			return
		}
		*dst = s
	}
	roles := func(v string, dst *[]Role) {
		vs, ok := vals[v]
		if !ok || err != nil {
			return
		}
		out := []Role{}
		for _, s := range vs {
			r := Role(strings.TrimSpace(s))
			if !slices.Contains(allRoles, r) {
				err = notAcceptable(v + " takes moderator, participant and visitor")
				return
			}
			if !slices.Contains(out, r) {
				out = append(out, r)
			}
		}
		*dst = out
	}
	text(fieldName, &cfg.Name, maxRoomNameLen)
	text(fieldDesc, &cfg.Description, maxRoomDescLen)
	text(fieldLang, &cfg.Lang, maxLangLen)
	text(fieldPubSub, &cfg.PubSub, maxPubSubLen)
	boolean(fieldPersistent, &cfg.Persistent)
	boolean(fieldPublic, &cfg.Public)
	boolean(fieldMembersOnly, &cfg.MembersOnly)
	boolean(fieldModerated, &cfg.Moderated)
	boolean(fieldChangeSubject, &cfg.ChangeSubject)
	boolean(fieldLogging, &cfg.Logging)
	boolean(fieldArchiving, &cfg.Archiving)
	boolean(fieldAllowInvites, &cfg.AllowInvites)
	roles(fieldPresenceBcast, &cfg.PresenceBroadcast)
	roles(fieldGetMemberList, &cfg.GetMemberList)
	if s, ok := single(fieldWhois); ok {
		if s = strings.TrimSpace(s); s != WhoisModerators && s != WhoisAnyone {
			err = notAcceptable("whois must be moderators or anyone")
		}
		cfg.Whois = s
	}
	if s, ok := single(fieldMaxUsers); ok {
		switch s = strings.TrimSpace(s); s {
		case "none", "", "0":
			cfg.MaxUsers = 0
		default:
			n, perr := strconv.Atoi(s)
			if perr != nil || n < 1 {
				err = notAcceptable("maxusers must be a positive number or none")
			}
			cfg.MaxUsers = n
		}
	}
	if s, ok := single(fieldAllowPM); ok {
		switch s = strings.TrimSpace(s); s {
		case PMAnyone, PMParticipants, PMModerators, PMNone:
			cfg.AllowPM = s
		default:
			err = notAcceptable("allowpm must be anyone, participants, moderators or none")
		}
	}
	if s, ok := single(fieldMaxHistory); ok {
		n, perr := 0, error(nil)
		if s = strings.TrimSpace(s); s != "" {
			n, perr = strconv.Atoi(s)
		}
		if perr != nil || n < 0 {
			err = notAcceptable("maxhistoryfetch must be a non-negative number")
		}
		cfg.MaxHistoryFetch = n
	}
	// The password: passwordprotectedroom says whether one is needed; a
	// client that only sets roomsecret means "protect with this".
	_, protectSent := vals[fieldPasswordOn]
	boolean(fieldPasswordOn, &cfg.PasswordProtected)
	if s, ok := single(fieldSecret); ok {
		if len(s) > maxPasswordLen || !utf8.ValidString(s) {
			err = notAcceptable("the password is too long")
		}
		cfg.Password = s
		if !protectSent {
			cfg.PasswordProtected = s != ""
		}
	}
	if err != nil {
		return sub, err
	}
	if cfg.Lang != "" && !validLangTag(cfg.Lang) {
		return sub, notAcceptable("lang must be a language tag")
	}
	if cfg.PubSub != "" && !strings.HasPrefix(cfg.PubSub, "xmpp:") {
		return sub, notAcceptable("pubsub must be an xmpp: URI")
	}
	if cfg.PasswordProtected && cfg.Password == "" {
		return sub, notAcceptable("a password-protected room needs a password")
	}
	if !cfg.PasswordProtected {
		cfg.Password = ""
	}
	sub.cfg = cfg
	if sub.admins, err = jidList(vals, fieldRoomAdmins); err != nil {
		return sub, err
	}
	if sub.owners, err = jidList(vals, fieldRoomOwners); err != nil {
		return sub, err
	}
	if sub.owners != nil && len(sub.owners) == 0 {
		// §10.2: a room always has an owner.
		return sub, &xmlstream.StanzaError{Type: xmlstream.ErrCancel, Condition: "conflict", Text: "a room needs an owner"}
	}
	return sub, nil
}

// jidList reads a jid-multi field as bare JIDs: nil if absent, empty
// values skipped, duplicates removed; a malformed JID is jid-malformed.
func jidList(vals map[string][]string, v string) ([]string, error) {
	vs, ok := vals[v]
	if !ok {
		return nil, nil
	}
	if len(vs) > maxListedJIDs {
		return nil, notAcceptable(v + " lists too many JIDs")
	}
	out := []string{}
	for _, s := range vs {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		j, err := jid.Parse(s)
		if err != nil {
			return nil, &xmlstream.StanzaError{Type: xmlstream.ErrModify, Condition: "jid-malformed", Text: v + ": " + s}
		}
		if b := j.Bare().String(); !slices.Contains(out, b) {
			out = append(out, b)
		}
	}
	return out, nil
}

// validLangTag checks the shape of an RFC 5646 tag: alphanumeric subtags
// of 1 to 8 characters separated by '-', the first alphabetic.
func validLangTag(s string) bool {
	for i, sub := range strings.Split(s, "-") {
		if len(sub) < 1 || len(sub) > 8 {
			return false
		}
		for _, c := range sub {
			alpha := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
			if !alpha && (i == 0 || c < '0' || c > '9') {
				return false
			}
		}
	}
	return true
}

// submitConfig applies a submitted form (§10.1.3, §10.2): every check
// first (form values, then the owner and admin lists with the checks of
// muc#admin changes), then the new configuration with its 104 message,
// then the list changes with the presence they cause (the muc#admin path,
// admin.go), then the removal (322) of non-members when the room became
// members-only.
func (r *room) submitConfig(ctx context.Context, x *xmlstream.Element, from jid.JID) error {
	sub, err := applyConfigForm(r.cfg, x)
	if err != nil {
		return err
	}
	actor := r.actorFor(from)
	changes := r.affiliationListChanges(sub)
	items := make([]adminItem, len(changes))
	next := map[string]affEntry{}
	for i, c := range changes {
		items[i] = adminItem{aff: c.aff, bare: c.bare}
		e, err := r.checkAffiliationChange(actor, items[i])
		if err != nil {
			return err
		}
		next[c.bare] = e
	}
	if err := r.checkAffiliationOutcome(next); err != nil {
		return err
	}
	if !r.locked && sub.cfg.equal(r.cfg) && len(changes) == 0 {
		return nil // nothing changed: no store write, no 104
	}
	wasMembersOnly := r.cfg.MembersOnly
	if err := r.configure(ctx, sub.cfg); err != nil {
		return err
	}
	if len(items) > 0 {
		if err := r.runAdminChanges(ctx, actor, items, nil); err != nil {
			return err
		}
	}
	if r.cfg.MembersOnly && !wasMembersOnly {
		r.removeNonMembers(ctx)
	}
	return nil
}

// affChange is one affiliation a config submission changes.
type affChange struct {
	bare string
	aff  Affiliation
}

// affiliationListChanges computes what the submitted owner and admin
// lists change. A submitted list is the full list (§15.5.3 "Full List of
// Room Owners"): an owner left out becomes an admin (or a member if the
// admin list was submitted without them), an admin left out becomes a
// member, so neither loses access to a members-only room (§10.2 examples).
func (r *room) affiliationListChanges(sub configSubmission) []affChange {
	if sub.owners == nil && sub.admins == nil {
		return nil
	}
	want := map[string]Affiliation{}
	for bare, e := range r.affs {
		want[bare] = e.Affiliation
	}
	if sub.admins != nil {
		for bare, a := range want {
			if a == AffAdmin {
				want[bare] = AffMember
			}
		}
		for _, b := range sub.admins {
			want[b] = AffAdmin
		}
	}
	if sub.owners != nil {
		for bare, a := range want {
			if a == AffOwner && !slices.Contains(sub.owners, bare) {
				if sub.admins != nil {
					want[bare] = AffMember
				} else {
					want[bare] = AffAdmin
				}
			}
		}
		for _, b := range sub.owners {
			want[b] = AffOwner
		}
	}
	var out []affChange
	for bare, a := range want {
		if r.affs[bare].Affiliation != a {
			out = append(out, affChange{bare, a})
		}
	}
	slices.SortFunc(out, func(a, b affChange) int { return strings.Compare(a.bare, b.bare) })
	return out
}
