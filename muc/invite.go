package muc

// Mediated invitations and declines (§7.8.2), and the dispatch of every
// other non-groupchat message to the room itself: voice requests and
// approvals (voice.go), registration approvals (register.go).
//
// Direct invitations (XEP-0249, <x xmlns='jabber:x:conference'/>) go from
// client to client and never through the room; one inside a groupchat or
// private message is reflected untouched like any other payload.
//
// Invitations are stateless: a decline is relayed to whoever it names,
// with the decliner's bare JID as 'from', so the room is never an
// anonymous relay; the room does not learn whether an invitee exists
// (a remote one can't be checked), so it never answers item-not-found.

import (
	"context"
	"slices"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/xmlstream"
)

const (
	// maxInvitesPerMessage bounds the invitations one message carries.
	maxInvitesPerMessage = 20
	// maxInviteReasonLen bounds the <reason/> of an invitation or decline.
	maxInviteReasonLen = 1024
)

// handleRoomRequest handles a message of type normal (or chat, headline)
// to the room JID carrying a muc#user <x/> or a data form.
func (r *room) handleRoomRequest(ctx context.Context, st *xmlstream.Stanza, el *xmlstream.Element, from jid.JID) {
	if typ := st.Type(); typ != "" && typ != "normal" {
		// §7.8.2: invitations "MUST be explicitly or implicitly of type normal", so are requests.
		e := xmlstream.BadRequest("requests to the room are messages of type normal")
		e.By = r.addr
		r.svc.bounce(ctx, st, e)
		return
	}
	var err *xmlstream.StanzaError
	if x := el.Child(NSMUCUser, "x"); x != nil {
		invites, decline := x.ChildrenNamed(NSMUCUser, "invite"), x.Child(NSMUCUser, "decline")
		switch {
		case len(invites) > 0 && decline == nil:
			err = r.invite(ctx, st, from, invites)
		case decline != nil && len(invites) == 0:
			err = r.decline(ctx, st, from, decline)
		default:
			err = xmlstream.BadRequest("expected invitations or one decline")
		}
	} else {
		err = r.handleFormMessage(ctx, st, el.Child(NSDataForms, "x"), from)
	}
	if err != nil {
		if err.By == "" {
			err.By = r.addr
		}
		r.svc.bounce(ctx, st, err)
	}
}

// handleFormMessage dispatches a data form sent to the room by FORM_TYPE.
func (r *room) handleFormMessage(ctx context.Context, st *xmlstream.Stanza, x *xmlstream.Element, from jid.JID) *xmlstream.StanzaError {
	typ := x.Attr("type")
	if typ == "cancel" {
		return nil // a moderator or admin skipped a request (§8.6, §9.9)
	}
	if typ != "submit" {
		return xmlstream.BadRequest("a form sent to the room must be a submit")
	}
	vals := formValues(x)
	ft := vals["FORM_TYPE"]
	switch {
	case slices.Equal(ft, []string{NSMUCRequest}):
		if _, ok := vals[fieldRequestAllow]; ok {
			return r.approveVoice(ctx, from, vals)
		}
		return r.requestVoice(ctx, from, vals)
	case slices.Equal(ft, []string{NSMUCRegister}):
		return r.approveRegistration(ctx, from, vals)
	}
	return xmlstream.BadRequest("unknown FORM_TYPE")
}

// mayInvite reports whether the user behind from may send a mediated
// invitation: moderators (and admins and owners, in the room or not)
// always; other occupants if muc#roomconfig_allowinvites is on. In a
// members-only room an invitation adds a member, so there only admins and
// owners may, and others if the room allows invitations (§7.8.2).
func (r *room) mayInvite(from jid.JID) (bool, *xmlstream.StanzaError) {
	aff := r.affiliation(from.Bare().String())
	if aff.rank() >= AffAdmin.rank() {
		return true, nil
	}
	s := r.sessions[from.String()]
	if s == nil {
		return false, mucError(r.addr, xmlstream.ErrCancel, "not-acceptable") // not an occupant
	}
	if r.cfg.AllowInvites || (!r.cfg.MembersOnly && s.occ.role == RoleModerator) {
		return true, nil
	}
	return false, mucError(r.addr, xmlstream.ErrAuth, "forbidden")
}

// invite relays invitations (§7.8.2): one message from the room per
// invitee, with the inviter's full JID, the reason, the <continue/> of
// §7.9 and the room password. In a members-only room an unaffiliated
// invitee becomes a member.
func (r *room) invite(ctx context.Context, st *xmlstream.Stanza, from jid.JID, invites []*xmlstream.Element) *xmlstream.StanzaError {
	if ok, err := r.mayInvite(from); !ok {
		return err
	}
	if len(invites) > maxInvitesPerMessage {
		return notAcceptable("too many invitations in one message")
	}
	// Check every invitation before sending any.
	invitees := make([]jid.JID, len(invites))
	for i, inv := range invites {
		to := inv.Attr("to")
		if to == "" {
			return xmlstream.BadRequest("an invitation needs 'to'")
		}
		j, err := jid.Parse(to)
		if err != nil {
			return xmlstream.JIDMalformed()
		}
		if len(inv.ChildText(NSMUCUser, "reason")) > maxInviteReasonLen {
			return notAcceptable("the reason is too long")
		}
		invitees[i] = j
	}
	for i, inv := range invites {
		if r.cfg.MembersOnly {
			bare := invitees[i].Bare().String()
			if r.affiliation(bare) == AffNone {
				if err := r.setAffiliation(bare, affEntry{Affiliation: AffMember, Nick: r.affs[bare].Nick}); err != nil {
					r.log.Error("storing invited member failed", "err", err)
					return xmlstream.InternalServerError()
				}
			}
		}
		id := st.ID()
		if id == "" || len(invites) > 1 {
			id = newID()
		}
		out := xmlstream.NewElement(NSMUCUser, "invite", "from", from.String())
		if reason := inv.Child(NSMUCUser, "reason"); reason != nil {
			out.Append(xmlstream.NewElement(NSMUCUser, "reason").AppendText(reason.Text()))
		}
		if c := inv.Child(NSMUCUser, "continue"); c != nil {
			out.Append(xmlstream.NewElement(NSMUCUser, "continue", "thread", c.Attr("thread")))
		}
		x := xmlstream.NewElement(NSMUCUser, "x").Append(out)
		if r.cfg.PasswordProtected {
			x.Append(xmlstream.NewElement(NSMUCUser, "password").AppendText(r.cfg.Password))
		}
		msg := xmlstream.NewElement(xmlstream.NSClient, xmlstream.KindMessage,
			"from", r.addr, "id", id, "to", invitees[i].String()).Append(x)
		r.send(ctx, xmlstream.NewStanza(msg))
	}
	return nil
}

// decline relays an invitee's decline to the inviter (§7.8.2), from the
// room, naming the decliner by bare JID. A decline to the bare JID of an
// occupant reaches that occupant's sessions in the room (§7.8.2 example);
// any other address gets it as given.
func (r *room) decline(ctx context.Context, st *xmlstream.Stanza, from jid.JID, d *xmlstream.Element) *xmlstream.StanzaError {
	to := d.Attr("to")
	if to == "" {
		return xmlstream.BadRequest("a decline needs 'to'")
	}
	inviter, err := jid.Parse(to)
	if err != nil {
		return xmlstream.JIDMalformed()
	}
	if len(d.ChildText(NSMUCUser, "reason")) > maxInviteReasonLen {
		return notAcceptable("the reason is too long")
	}
	out := xmlstream.NewElement(NSMUCUser, "decline", "from", from.Bare().String())
	if reason := d.Child(NSMUCUser, "reason"); reason != nil {
		out.Append(xmlstream.NewElement(NSMUCUser, "reason").AppendText(reason.Text()))
	}
	id := st.ID()
	if id == "" {
		id = newID()
	}
	msg := xmlstream.NewElement(xmlstream.NSClient, xmlstream.KindMessage, "from", r.addr, "id", id).Append(
		xmlstream.NewElement(NSMUCUser, "x").Append(out))
	var to2 []*session
	switch {
	case inviter.Resourcepart() != "" && r.sessions[inviter.String()] != nil:
		to2 = []*session{r.sessions[inviter.String()]}
	case inviter.Resourcepart() == "":
		for _, o := range r.order {
			if o.bare == inviter.String() {
				to2 = append(to2, o.sessions...)
			}
		}
	}
	if len(to2) > 0 {
		newTemplate(msg).fanout(ctx, r.svc.router, to2)
		return nil
	}
	msg.SetAttr("to", inviter.String())
	r.send(ctx, xmlstream.NewStanza(msg))
	return nil
}
