package muc

// Voice requests (§7.13) and their approval (§8.6): a visitor submits a
// muc#request form with muc#role=participant; every moderator in the room
// gets an approval form naming the visitor; a moderator who submits it
// with muc#request_allow=true grants voice (§8.3 presence to everyone).
//
// Approval is stateless: the submitted form names the occupant (nick and
// JID), and a moderator may grant voice anyway, so the room keeps no
// pending requests. A visitor may ask once per voiceRequestInterval, so it
// cannot flood the moderators.

import (
	"context"
	"strings"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/xmlstream"
)

// NSMUCRequest is the FORM_TYPE of voice requests (§15.5.2).
const NSMUCRequest = "http://jabber.org/protocol/muc#request"

const (
	fieldRequestRole  = "muc#role"
	fieldRequestJID   = "muc#jid"
	fieldRequestNick  = "muc#roomnick"
	fieldRequestAllow = "muc#request_allow"
)

// voiceRequestInterval is how long a visitor waits between voice requests.
const voiceRequestInterval = time.Minute

// requestVoice handles a visitor's voice request (§7.13).
func (r *room) requestVoice(ctx context.Context, from jid.JID, vals map[string][]string) *xmlstream.StanzaError {
	s := r.sessions[from.String()]
	if s == nil {
		return mucError(r.addr, xmlstream.ErrCancel, "not-acceptable") // not an occupant
	}
	if role := vals[fieldRequestRole]; len(role) != 1 || strings.TrimSpace(role[0]) != string(RoleParticipant) {
		return xmlstream.BadRequest("a voice request asks for muc#role participant")
	}
	o := s.occ
	if o.role != RoleVisitor {
		return mucError(r.addr, xmlstream.ErrCancel, "not-allowed") // only visitors lack voice
	}
	now := r.svc.now()
	if !o.lastVoiceRequest.IsZero() && now.Sub(o.lastVoiceRequest) < voiceRequestInterval {
		return &xmlstream.StanzaError{Type: xmlstream.ErrWait, Condition: "resource-constraint", By: r.addr,
			Text: "wait before asking for voice again"}
	}
	o.lastVoiceRequest = now
	form := voiceApprovalForm(from.String(), o.nick)
	var mods []*session
	for _, m := range r.order {
		if m.role == RoleModerator {
			mods = append(mods, m.sessions...)
		}
	}
	msg := xmlstream.NewElement(xmlstream.NSClient, xmlstream.KindMessage, "from", r.addr, "id", newID()).Append(form)
	newTemplate(msg).fanout(ctx, r.svc.router, mods)
	return nil
}

// voiceApprovalForm is the form of §8.6 for the visitor full/nick.
func voiceApprovalForm(full, nick string) *xmlstream.Element {
	x := xmlstream.NewElement(NSDataForms, "x", "type", "form")
	x.Append(
		xmlstream.NewElement(NSDataForms, "title").AppendText("Voice request"),
		xmlstream.NewElement(NSDataForms, "instructions").AppendText(
			"To approve this request for voice, select the \"Grant voice to this person?\" checkbox and click OK. To skip this request, click the cancel button."),
		formField("hidden", "FORM_TYPE", "", NSMUCRequest),
		formField("list-single", fieldRequestRole, "Requested role", string(RoleParticipant)),
		formField("jid-single", fieldRequestJID, "User ID", full),
		formField("text-single", fieldRequestNick, "Room Nickname", nick),
		formField("boolean", fieldRequestAllow, "Grant voice to this person?", "false"),
	)
	return x
}

// approveVoice handles a moderator's submitted approval form (§8.6).
func (r *room) approveVoice(ctx context.Context, from jid.JID, vals map[string][]string) *xmlstream.StanzaError {
	if !r.actsAsModerator(from) {
		return mucError(r.addr, xmlstream.ErrAuth, "forbidden")
	}
	one := func(v string) string {
		if vs := vals[v]; len(vs) == 1 {
			return strings.TrimSpace(vs[0])
		}
		return ""
	}
	switch one(fieldRequestAllow) {
	case "1", "true":
	case "0", "false":
		return nil // not approved: nothing happens
	default:
		return xmlstream.BadRequest("muc#request_allow must be a boolean")
	}
	if role, ok := vals[fieldRequestRole]; ok && (len(role) != 1 || strings.TrimSpace(role[0]) != string(RoleParticipant)) {
		return xmlstream.BadRequest("only voice (muc#role participant) is granted this way")
	}
	o := r.occupants[one(fieldRequestNick)]
	if o == nil {
		return mucError(r.addr, xmlstream.ErrCancel, "item-not-found") // gone, or renamed
	}
	if s := one(fieldRequestJID); s != "" {
		j, err := jid.Parse(s)
		if err != nil {
			return xmlstream.JIDMalformed()
		}
		if j.Bare().String() != o.bare {
			return mucError(r.addr, xmlstream.ErrCancel, "item-not-found") // the nick is someone else's now
		}
	}
	if o.role != RoleVisitor {
		return nil // has voice already
	}
	// §8.3 through the muc#admin path (admin.go): its checks, and the new
	// role to everyone.
	return r.changeRole(ctx, from, o.nick, RoleParticipant, "")
}

// actsAsModerator reports whether the sender may moderate: an occupant
// with the moderator role, or an admin or owner in the room or not.
func (r *room) actsAsModerator(from jid.JID) bool {
	if r.affiliation(from.Bare().String()).rank() >= AffAdmin.rank() {
		return true
	}
	s := r.sessions[from.String()]
	return s != nil && s.occ.role == RoleModerator
}
