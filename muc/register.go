package muc

// Registering with a room (§7.10), approving registrations (§9.9) and
// discovering one's reserved nickname (§7.12).
//
// A registration is membership plus a reserved nick. In an open room it is
// granted at once; in a members-only room it is a request for membership:
// the room's owners and admins each get the §9.9 approval form (at their
// bare JIDs, so an absent admin finds it offline), and an admin's
// submission with muc#register_allow=1 makes the user a member. Like voice
// approvals this is stateless: the form names the user (muc#jid) and the
// nick, and an admin may add members anyway.

import (
	"context"
	"slices"
	"strings"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/xmlstream"
)

// Namespaces of registration.
const (
	NSRegister    = "jabber:iq:register"
	NSMUCRegister = "http://jabber.org/protocol/muc#register"
)

const (
	fieldRegisterNick  = "muc#register_roomnick"
	fieldRegisterAllow = "muc#register_allow"
	// fieldRegisterJID names the user in an approval form; §9.9 lets the
	// service supplement the form, and muc#jid is the registry's "User ID".
	fieldRegisterJID = "muc#jid"
	// reservedNickNode is the disco#info node of §7.12.
	reservedNickNode = "x-roomuser-item"
	// maxApprovalRecipients bounds the approval forms one request sends.
	maxApprovalRecipients = 20
)

// registerQuery answers jabber:iq:register to the room (§7.10). It sends
// the answer itself: the result of a registration precedes the presence
// that tells the room of the new member.
func (r *room) registerQuery(ctx context.Context, st *xmlstream.Stanza, typ string, q *xmlstream.Element, from jid.JID) {
	answered := false
	answer := func(res *xmlstream.Element) {
		if !answered {
			answered = true
			r.send(ctx, xmlstream.ResultReply(st, res))
		}
	}
	res, err := r.registerRequest(ctx, typ, q, from, func() { answer(nil) })
	if err != nil {
		r.svc.bounce(ctx, st, err)
		return
	}
	answer(res)
}

func (r *room) registerRequest(ctx context.Context, typ string, q *xmlstream.Element, from jid.JID, answer func()) (*xmlstream.Element, *xmlstream.StanzaError) {
	bare := from.Bare().String()
	if !r.exists || (r.locked && r.affiliation(bare) != AffOwner) {
		return nil, xmlstream.ItemNotFound()
	}
	aff := r.affiliation(bare)
	if aff == AffOutcast {
		return nil, xmlstream.NotAllowed("")
	}
	if typ == "get" {
		res := xmlstream.NewElement(NSRegister, "query")
		if aff.rank() >= AffMember.rank() {
			res.Append(xmlstream.NewElement(NSRegister, "registered"))
			if nick := r.reservedNick(bare); nick != "" {
				res.Append(xmlstream.NewElement(NSRegister, "username").AppendText(nick))
			}
			return res, nil
		}
		res.Append(xmlstream.NewElement(NSRegister, "instructions").AppendText(
			"Choose the nickname to reserve in this room."))
		res.Append(registrationForm(r.jid.Localpart()))
		return res, nil
	}
	if q.Child(NSRegister, "remove") != nil {
		return nil, xmlstream.FeatureNotImplemented("cancelling a registration is done by an admin")
	}
	x := q.Child(NSDataForms, "x")
	if x == nil || x.Attr("type") != "submit" {
		return nil, xmlstream.BadRequest("expected a submitted muc#register form")
	}
	vals := formValues(x)
	if ft, ok := vals["FORM_TYPE"]; ok && (len(ft) != 1 || ft[0] != NSMUCRegister) {
		return nil, xmlstream.BadRequest("FORM_TYPE must be " + NSMUCRegister)
	}
	nick, err := r.registrationNick(vals, bare)
	if err != nil {
		return nil, err
	}
	if r.cfg.MembersOnly && aff == AffNone {
		r.askRegistrationApproval(ctx, from, nick)
		return nil, nil
	}
	if err := r.register(ctx, from, bare, nick, answer); err != nil {
		return nil, err
	}
	return nil, nil
}

// registrationForm is the muc#register form of §7.10.
func registrationForm(room string) *xmlstream.Element {
	nick := formField("text-single", fieldRegisterNick, "Desired Nickname")
	nick.Append(xmlstream.NewElement(NSDataForms, "required"))
	return xmlstream.NewElement(NSDataForms, "x", "type", "form").Append(
		xmlstream.NewElement(NSDataForms, "title").AppendText(room+" Registration"),
		xmlstream.NewElement(NSDataForms, "instructions").AppendText(
			"Please provide the following information to register with this room."),
		formField("hidden", "FORM_TYPE", "", NSMUCRegister),
		nick)
}

// registrationNick reads and checks the nick of a registration form for
// bare: required (bad-request), a valid resourcepart (jid-malformed), not
// reserved by or in use by someone else (conflict).
func (r *room) registrationNick(vals map[string][]string, bare string) (string, *xmlstream.StanzaError) {
	vs := vals[fieldRegisterNick]
	if len(vs) != 1 || strings.TrimSpace(vs[0]) == "" {
		return "", xmlstream.BadRequest(fieldRegisterNick + " is required")
	}
	nick := vs[0]
	if j, err := jid.Parse(r.addr + "/" + nick); err != nil || j.Resourcepart() != nick {
		return "", xmlstream.JIDMalformed()
	}
	if owner := r.nickOwner(nick); owner != "" && owner != bare {
		return "", &xmlstream.StanzaError{Type: xmlstream.ErrCancel, Condition: "conflict"}
	}
	if o := r.occupants[nick]; o != nil && o.bare != bare {
		return "", &xmlstream.StanzaError{Type: xmlstream.ErrCancel, Condition: "conflict"}
	}
	return nick, nil
}

// register makes bare a member (if it was less) with nick reserved (§7.10).
// The change goes the way of muc#admin changes (affiliation_change.go): if
// bare is in the room everyone gets its presence with the new affiliation;
// a user an admin approved while away gets the §9.5 invitation. A user who
// registered itself has the iq result (answer, sent before any presence)
// and needs no notice.
func (r *room) register(ctx context.Context, by jid.JID, bare, nick string, answer func()) *xmlstream.StanzaError {
	e := r.affs[bare]
	old := e.Affiliation
	if e.Affiliation.rank() < AffMember.rank() {
		e.Affiliation = AffMember
	}
	e.Nick = nick
	if e.Affiliation == old || r.svc.isAdmin(bare) {
		if err := r.setAffiliation(bare, e); err != nil { // only the nick changes
			r.log.Error("storing registration failed", "err", err)
			return xmlstream.InternalServerError()
		}
		return nil
	}
	ev := &adminEvents{}
	if err := r.applyAffiliations([]adminItem{{aff: e.Affiliation, bare: bare}}, map[string]affEntry{bare: e}, ev); err != nil {
		return err
	}
	if by.Bare().String() == bare {
		ev.list = slices.DeleteFunc(ev.list, func(e adminEvent) bool { return e.absent == bare })
	}
	ev.send(ctx, r, r.actorFor(by), answer)
	return nil
}

// askRegistrationApproval sends the §9.9 form to the room's owners and admins.
func (r *room) askRegistrationApproval(ctx context.Context, from jid.JID, nick string) {
	x := xmlstream.NewElement(NSDataForms, "x", "type", "form").Append(
		xmlstream.NewElement(NSDataForms, "title").AppendText("Registration request"),
		xmlstream.NewElement(NSDataForms, "instructions").AppendText(
			"To approve this registration request, select the \"Allow this person to register with the room?\" checkbox and click OK. To skip this request, click the cancel button."),
		formField("hidden", "FORM_TYPE", "", NSMUCRegister),
		formField("jid-single", fieldRegisterJID, "User ID", from.Bare().String()),
		formField("text-single", fieldRegisterNick, "Desired Nickname", nick),
		formField("boolean", fieldRegisterAllow, "Allow this person to register with the room?", "0"),
	)
	approvers := append(r.affiliated(AffOwner), r.affiliated(AffAdmin)...)
	if len(approvers) > maxApprovalRecipients {
		approvers = approvers[:maxApprovalRecipients]
	}
	for _, to := range approvers {
		msg := xmlstream.NewElement(xmlstream.NSClient, xmlstream.KindMessage,
			"from", r.addr, "id", newID(), "to", to).Append(x)
		r.send(ctx, xmlstream.NewStanza(msg))
	}
}

// approveRegistration handles an admin's submitted approval form (§9.9).
func (r *room) approveRegistration(ctx context.Context, from jid.JID, vals map[string][]string) *xmlstream.StanzaError {
	if r.affiliation(from.Bare().String()).rank() < AffAdmin.rank() {
		return mucError(r.addr, xmlstream.ErrAuth, "forbidden")
	}
	allow := vals[fieldRegisterAllow]
	if len(allow) != 1 {
		return xmlstream.BadRequest(fieldRegisterAllow + " is required")
	}
	switch strings.TrimSpace(allow[0]) {
	case "1", "true":
	case "0", "false":
		return nil // refused: nothing to do
	default:
		return xmlstream.BadRequest(fieldRegisterAllow + " must be a boolean")
	}
	js := vals[fieldRegisterJID]
	if len(js) != 1 {
		return xmlstream.BadRequest(fieldRegisterJID + " is required")
	}
	user, err := jid.Parse(strings.TrimSpace(js[0]))
	if err != nil {
		return xmlstream.JIDMalformed()
	}
	bare := user.Bare().String()
	nick, serr := r.registrationNick(vals, bare)
	if serr != nil {
		return serr
	}
	return r.register(ctx, from, bare, nick, nil)
}

// reservedNickInfo answers disco#info on node x-roomuser-item (§7.12):
// the reserved nick as the identity's name, or an empty query.
func (r *room) reservedNickInfo(from jid.JID) *xmlstream.Element {
	res := xmlstream.NewElement(NSDiscoInfo, "query", "node", reservedNickNode)
	if nick := r.reservedNick(from.Bare().String()); nick != "" {
		res.Append(xmlstream.NewElement(NSDiscoInfo, "identity", "category", "conference", "name", nick, "type", "text"))
	}
	return res
}
