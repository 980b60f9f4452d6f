package muc

import (
	"context"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/xmlstream"
)

// handleMessage dispatches messages to the room JID (groupchat, subject)
// and to occupant JIDs (private messages).
func (r *room) handleMessage(ctx context.Context, st *xmlstream.Stanza, el *xmlstream.Element, from jid.JID, nick string) {
	typ := st.Type()
	if typ == "error" {
		// Ghost (§18.1.2): a delivery error from an occupant's address.
		if s := r.sessions[from.String()]; s != nil && isDeliveryError(el) {
			r.exit(ctx, s, nil, []string{statusServiceRemoved})
		}
		return
	}
	if !r.exists || (r.locked && r.sessions[from.String()] == nil) {
		r.fail(ctx, st, xmlstream.ErrCancel, "item-not-found") // §17.2 rule 3
		return
	}
	if nick != "" {
		r.privateMessage(ctx, st, el, from, nick)
		return
	}
	if typ != "groupchat" {
		if el.Child(NSMUCUser, "x") != nil || el.Child(NSDataForms, "x") != nil {
			r.handleRoomRequest(ctx, st, el, from) // invitations, declines, voice and registration approvals
			return
		}
		r.svc.bounce(ctx, st, xmlstream.BadRequest("messages to the room must be of type groupchat")) // §17.2 rule 1
		return
	}
	s := r.sessions[from.String()]
	if s == nil {
		r.fail(ctx, st, xmlstream.ErrCancel, "not-acceptable") // §7.4: not an occupant
		return
	}
	ns := el.Name.Space
	if subj := el.Child(ns, "subject"); subj != nil && el.Child(ns, "body") == nil && el.Child(ns, "thread") == nil {
		r.changeSubject(ctx, st, s, subj)
		return
	}
	if !r.mayTalk(s.occ.role) {
		r.fail(ctx, st, xmlstream.ErrAuth, "forbidden") // §7.4: a visitor in a moderated room
		return
	}
	r.groupchat(ctx, st, el, s)
}

// mayTalk reports whether role has voice.
func (r *room) mayTalk(role Role) bool {
	return role == RoleModerator || role == RoleParticipant
}

// groupchat reflects a message to all occupants (§7.4). A message with a
// body is archived first: it gets its XEP-0359 stanza-id from its place in
// the room's log, and is durable before anyone sees it (history_commit.go
// commits the messages of a busy room in batches).
func (r *room) groupchat(ctx context.Context, st *xmlstream.Stanza, el *xmlstream.Element, s *session) {
	out := r.reflectedMessage(el, s.occ, st.ID(), xmlstream.KindMessage)
	out.SetAttr("type", "groupchat")
	r.broadcastGroupchat(ctx, st, out, s.occ, el.Child(el.Name.Space, "body") != nil)
}

// reflectedMessage copies a client's message as the room sends it: from the
// sender's occupant JID, the client's id (§7.4 "stable id") or a new one,
// without anything only the room may say (stanza-ids by the room,
// occupant-ids, muc#user payloads), with the sender's occupant-id.
func (r *room) reflectedMessage(el *xmlstream.Element, o *occupant, id, kind string) *xmlstream.Element {
	if id == "" {
		id = newID()
	}
	out := xmlstream.NewElement(xmlstream.NSClient, kind, "from", r.occupantJID(o.nick), "id", id)
	if lang := el.Lang(); lang != "" {
		out.Attrs = append(out.Attrs, xmlstream.Attr{Name: xmlstream.Name{Space: xmlstream.NSXML, Local: "lang"}, Value: lang})
	}
	for _, c := range el.Children {
		e := c.Elem
		if e == nil {
			continue
		}
		switch {
		case e.Name.Space == NSOccupantID, e.Name.Space == NSMUCUser:
			continue
		case e.Name.Space == NSStanzaID && e.Name.Local == "stanza-id":
			// XEP-0359 §3: never pass on a forged id of ours — nor anyone
			// else's: only the room's own id (added once archived) goes out,
			// so recipients' servers need not inspect every fanned-out copy
			// for ids forged in their users' names.
			continue
		case e.Name.Local == "error" && e.Name.Space == el.Name.Space:
			continue
		}
		out.Append(e)
	}
	out.Append(xmlstream.NewElement(NSOccupantID, "occupant-id", "id", o.id))
	return out
}

// isDeliveryError reports whether an error stanza says the recipient is
// gone (the conditions §18.1.2 lists).
func isDeliveryError(el *xmlstream.Element) bool {
	e := el.Child(el.Name.Space, "error")
	if e == nil {
		return false
	}
	for _, c := range e.Elements() {
		if c.Name.Space != xmlstream.NSStanzas {
			continue
		}
		switch c.Name.Local {
		case "gone", "item-not-found", "recipient-unavailable", "redirect", "remote-server-not-found", "remote-server-timeout", "service-unavailable":
			return true
		}
	}
	return false
}
