package muc

import (
	"context"
	"slices"
	"strings"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/xmlstream"
)

// presenceSpec describes one presence from an occupant JID.
type presenceSpec struct {
	occ      *occupant
	sess     *session // whose real JID and presence payload are shown
	typ      string   // "" or "unavailable"
	id       string
	role     Role        // "" means occ.role
	aff      Affiliation // "" means the current affiliation
	nick     string      // <item nick=.../> (303)
	reason   string
	statuses []string
	withJID  bool
	payload  *xmlstream.Element // children to reflect; nil means sess.pres
	extra    *xmlstream.Element // appended inside <x/> (e.g. <destroy/>)
}

// presenceElement builds the presence without 'to'.
func (r *room) presenceElement(p presenceSpec) *xmlstream.Element {
	role := p.role
	if role == "" {
		role = p.occ.role
	}
	aff := p.aff
	if aff == "" {
		aff = r.affiliation(p.occ.bare)
	}
	el := xmlstream.NewElement(xmlstream.NSClient, xmlstream.KindPresence,
		"from", r.occupantJID(p.occ.nick), "id", p.id, "type", p.typ)
	payload := p.payload
	if payload == nil && p.sess != nil {
		payload = p.sess.pres
	}
	if payload != nil {
		for _, c := range payload.Children {
			if c.Elem != nil {
				el.Append(c.Elem)
			}
		}
	}
	item := xmlstream.NewElement(NSMUCUser, "item", "affiliation", string(aff), "role", string(role), "nick", p.nick)
	if p.withJID && p.sess != nil {
		item.SetAttr("jid", p.sess.full)
	}
	if p.reason != "" {
		item.Append(xmlstream.NewElement(NSMUCUser, "reason").AppendText(p.reason))
	}
	x := xmlstream.NewElement(NSMUCUser, "x").Append(item)
	codes := slices.Clone(p.statuses)
	slices.Sort(codes)
	for _, c := range slices.Compact(codes) {
		x.Append(xmlstream.NewElement(NSMUCUser, "status", "code", c))
	}
	x.Append(p.extra)
	el.Append(x)
	el.Append(xmlstream.NewElement(NSOccupantID, "occupant-id", "id", p.occ.id))
	return el
}

// reflectable returns a copy of a client's presence keeping only what the
// room may pass on: MUC payloads and forged occupant-ids are dropped
// (§17.3 rule 6, XEP-0421 §4), top-level attributes are the room's.
func reflectable(el *xmlstream.Element) *xmlstream.Element {
	out := xmlstream.NewElement(xmlstream.NSClient, el.Name.Local)
	for _, c := range el.Children {
		if c.Elem == nil {
			continue
		}
		switch c.Elem.Name.Space {
		case NSMUC, NSMUCUser, NSMUCOwner, NSMUCAdmin, NSOccupantID:
			continue
		}
		if c.Elem.Name.Local == "error" && (c.Elem.Name.Space == xmlstream.NSClient || c.Elem.Name.Space == xmlstream.NSServer) {
			continue
		}
		out.Append(c.Elem)
	}
	return out
}

// broadcastPresence sends occupant o's presence (spec p, without statuses
// for others) to every session in the room: self sessions get selfCodes
// (110 always) and their real JID; others see the real JID if their role
// allows. skip, if set, receives nothing (it gets its own sequence).
func (r *room) broadcastPresence(ctx context.Context, p presenceSpec, selfCodes []string, skip *session) {
	if !r.cfg.broadcastsPresenceOf(p.occ.role) {
		// A silent role (muc#roomconfig_presencebroadcast): only the
		// occupant itself hears of its joins, changes and exits.
		r.sendSelfPresence(ctx, p, selfCodes, skip)
		return
	}
	others := p
	others.withJID = false
	var anonTo, openTo []*session
	for _, o := range r.order {
		if o == p.occ {
			continue
		}
		for _, s := range o.sessions {
			if s == skip {
				continue
			}
			if r.seesJIDs(o.role) {
				openTo = append(openTo, s)
			} else {
				anonTo = append(anonTo, s)
			}
		}
	}
	if len(openTo) > 0 {
		op := others
		op.withJID = true
		newTemplate(r.presenceElement(op)).fanout(ctx, r.svc.router, openTo)
	}
	if len(anonTo) > 0 {
		newTemplate(r.presenceElement(others)).fanout(ctx, r.svc.router, anonTo)
	}
	r.sendSelfPresence(ctx, p, selfCodes, skip)
}

// sendSelfPresence sends p with selfCodes to the occupant's own sessions.
func (r *room) sendSelfPresence(ctx context.Context, p presenceSpec, selfCodes []string, skip *session) {
	self := p
	self.withJID = true
	self.statuses = append(slices.Clone(p.statuses), selfCodes...)
	var to []*session
	for _, s := range p.occ.sessions {
		if s != skip {
			to = append(to, s)
		}
	}
	if len(to) > 0 {
		newTemplate(r.presenceElement(self)).fanout(ctx, r.svc.router, to)
	}
}

// handlePresence dispatches presence to the room or an occupant JID (§17.3).
func (r *room) handlePresence(ctx context.Context, st *xmlstream.Stanza, el *xmlstream.Element, from jid.JID, nick string) {
	typ := st.Type()
	s := r.sessions[from.String()]
	switch typ {
	case "":
		if nick == "" {
			// §7.2.1: no nick.
			r.fail(ctx, st, xmlstream.ErrModify, "jid-malformed")
			return
		}
		if strings.TrimSpace(nick) == "" {
			r.fail(ctx, st, xmlstream.ErrModify, "jid-malformed")
			return
		}
		mucX := el.Child(NSMUC, "x")
		switch {
		case s == nil && mucX != nil:
			r.join(ctx, st, el, mucX, from, nick)
		case s == nil:
			r.kickNonOccupant(ctx, st, nick)
		case s.occ.nick != nick:
			r.changeNick(ctx, st, el, s, nick)
		case mucX != nil:
			r.resync(ctx, st, el, mucX, s)
		default:
			r.changeAvailability(ctx, st, el, s)
		}
	case "unavailable":
		if s != nil {
			r.exit(ctx, s, reflectable(el), nil)
		}
		// §17.3 rule 5: ignored from non-occupants.
	case "error":
		if s != nil {
			// Ghost (§18.1.2): the occupant's server bounced our presence.
			r.exit(ctx, s, nil, []string{statusServiceRemoved})
		}
	}
	// probe, subscriptions: not a MUC action, ignored (§17.3 rules 1, 4).
}

// changeAvailability reflects an occupant's new presence (§7.7).
func (r *room) changeAvailability(ctx context.Context, st *xmlstream.Stanza, el *xmlstream.Element, s *session) {
	s.pres = reflectable(el)
	o := s.occ
	// The session that spoke now represents the occupant.
	if o.primary() != s {
		i := slices.Index(o.sessions, s)
		o.sessions = append(slices.Delete(o.sessions, i, i+1), s)
	}
	r.broadcastPresence(ctx, presenceSpec{occ: o, sess: s, id: st.ID()}, []string{statusSelf}, nil)
}

// kickNonOccupant answers presence without <x/> from a non-occupant: the
// client lost sync or speaks groupchat 1.0 (§7.2.22): 110, 307, 333.
func (r *room) kickNonOccupant(ctx context.Context, st *xmlstream.Stanza, nick string) {
	x := xmlstream.NewElement(NSMUCUser, "x").Append(
		xmlstream.NewElement(NSMUCUser, "item", "affiliation", string(AffNone), "role", string(RoleNone)).Append(
			xmlstream.NewElement(NSMUCUser, "reason").AppendText("You are not in the room.")),
		xmlstream.NewElement(NSMUCUser, "status", "code", statusSelf),
		xmlstream.NewElement(NSMUCUser, "status", "code", statusKicked),
		xmlstream.NewElement(NSMUCUser, "status", "code", statusServiceRemoved))
	p := xmlstream.NewElement(xmlstream.NSClient, xmlstream.KindPresence,
		"from", r.occupantJID(nick), "to", st.From(), "type", "unavailable").Append(x)
	r.send(ctx, xmlstream.NewStanza(p))
}
