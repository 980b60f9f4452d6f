package muc

// IQs to occupant JIDs (XEP-0045 §6.7, §18.2 rules 1-3). A get or set from
// an occupant to room@service/nick is relayed to that occupant's real JID
// with 'from' rewritten to the sender's occupant JID and a fresh id; the
// answer, which comes back to that occupant JID, is relayed to the
// sender's real JID from the target's occupant JID with the original id.
// Neither side ever learns the other's real JID from the room: headers are
// rewritten both ways and an error's 'by' is replaced by the occupant JID.
//
// Which real JID: the occupant's session that last spoke for it (its
// presence represents the occupant); a vCard-temp get goes to the
// occupant's bare JID instead, where vCards live (XEP-0054 §3.2: a user's
// vCard is retrieved from the bare JID; a client seldom answers one).
//
// Errors, checked in this order so that non-occupants learn nothing about
// who is in the room: a sender that is not in the room gets bad-request
// for disco queries (§6.7) and not-acceptable otherwise (as XEP-0410
// §3.2 does for pings); an unknown nick is item-not-found.
//
// Pending relays are a bounded table (relayMaxPending per room,
// relayMaxPerSender per sending session): beyond it a request gets
// resource-constraint. A relay unanswered after relayTimeout is answered
// remote-server-timeout and forgotten; an answer that arrives later, or
// with an unknown id, or from anyone but the entity the request went to,
// is dropped.

import (
	"context"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/xmlstream"
)

const (
	relayTimeout      = 60 * time.Second
	relayMaxPending   = 512
	relayMaxPerSender = 32
	nsVCardTemp       = "vcard-temp"
)

// relayTable is a room's pending relayed iqs, owned by its actor.
type relayTable struct {
	byID     map[string]*relayedIQ // by the id the room gave the relayed iq
	bySender map[string]int        // pending count per sending full JID
	armed    bool                  // an expiry timer is pending
}

// relayedIQ is one iq waiting for its answer.
type relayedIQ struct {
	id         string    // the id of the relayed request
	origID     string    // the sender's id
	sender     string    // the sender's full JID
	targetNick string    // the answer comes from room@service/targetNick
	target     string    // the real JID the request went to
	deadline   time.Time // on the service clock
}

// iqToOccupant handles a get or set to room@service/nick.
func (r *room) iqToOccupant(ctx context.Context, st *xmlstream.Stanza, payload *xmlstream.Element, from jid.JID, nick string) {
	if r.selfPing(ctx, st, payload, from, nick) {
		return
	}
	s := r.sessions[from.String()]
	if s == nil {
		if payload.Name.Space == NSDiscoInfo || payload.Name.Space == NSDiscoItems {
			r.fail(ctx, st, xmlstream.ErrModify, "bad-request") // §6.7
		} else {
			r.fail(ctx, st, xmlstream.ErrCancel, "not-acceptable")
		}
		return
	}
	target := r.occupants[nick]
	if target == nil {
		r.fail(ctx, st, xmlstream.ErrCancel, "item-not-found")
		return
	}
	to := target.primary().full
	if st.Type() == "get" && payload.Name == (xmlstream.Name{Space: nsVCardTemp, Local: "vCard"}) {
		to = target.bare
	}
	t := &r.relays
	now := r.svc.now()
	t.expire(ctx, r, now)
	if len(t.byID) >= relayMaxPending || t.bySender[s.full] >= relayMaxPerSender {
		r.svc.bounce(ctx, st, &xmlstream.StanzaError{Type: xmlstream.ErrWait, Condition: "resource-constraint", By: r.addr})
		return
	}
	if t.byID == nil {
		t.byID, t.bySender = map[string]*relayedIQ{}, map[string]int{}
	}
	p := &relayedIQ{id: newID(), origID: st.ID(), sender: s.full, targetNick: nick, target: to, deadline: now.Add(relayTimeout)}
	for t.byID[p.id] != nil {
		p.id = newID()
	}
	t.byID[p.id] = p
	t.bySender[s.full]++
	r.armRelayExpiry()
	r.send(ctx, st.WithAttrs("from", r.occupantJID(s.occ.nick), "to", to, "id", p.id))
}

// relayAnswer handles a result or error to an occupant JID: the answer to
// a relayed iq goes back to its sender.
func (r *room) relayAnswer(ctx context.Context, st *xmlstream.Stanza, el *xmlstream.Element, from jid.JID) {
	t := &r.relays
	p := t.byID[st.ID()]
	if p == nil || !sameJID(from, p.target) {
		return // unknown, expired, or not from whom it was asked
	}
	t.forget(p)
	if r.sessions[p.sender] == nil {
		return // the sender left the room meanwhile
	}
	fromOcc := r.occupantJID(p.targetNick)
	if st.Type() != "error" {
		r.send(ctx, st.WithAttrs("from", fromOcc, "to", p.sender, "id", p.origID))
		return
	}
	// An error's 'by' may name the target's real JID: say the occupant JID.
	out := el.Copy() // deep: the parsed tree is shared
	out.SetAttr("from", fromOcc).SetAttr("to", p.sender).SetAttr("id", p.origID)
	for _, e := range out.Elements() {
		if e.Name.Local == "error" && e.Attr("by") != "" {
			e.SetAttr("by", fromOcc)
		}
	}
	r.send(ctx, xmlstream.NewStanza(out))
}

// sameJID reports whether j is the JID s (both normalized by parsing).
func sameJID(j jid.JID, s string) bool {
	o, err := jid.Parse(s)
	return err == nil && j.Equal(o)
}

func (t *relayTable) forget(p *relayedIQ) {
	delete(t.byID, p.id)
	if t.bySender[p.sender]--; t.bySender[p.sender] <= 0 {
		delete(t.bySender, p.sender)
	}
}

// expire answers and forgets the relays whose deadline passed.
func (t *relayTable) expire(ctx context.Context, r *room, now time.Time) {
	for _, p := range t.byID {
		if now.Before(p.deadline) {
			continue
		}
		t.forget(p)
		if r.sessions[p.sender] == nil {
			continue
		}
		e := xmlstream.NewElement(xmlstream.NSClient, xmlstream.KindIQ,
			"from", r.occupantJID(p.targetNick), "to", p.sender, "id", p.origID, "type", "error")
		e.Append((&xmlstream.StanzaError{Type: xmlstream.ErrWait, Condition: "remote-server-timeout", By: r.addr}).Element())
		r.send(ctx, xmlstream.NewStanza(e))
	}
}

// armRelayExpiry makes sure the room looks at its pending relays once
// relayTimeout from now, while it has any. The timer only posts to the
// room's mailbox if the room is still active; a room that hibernated has
// no pending relays any more.
func (r *room) armRelayExpiry() {
	if r.relays.armed {
		return
	}
	r.relays.armed = true
	svc, addr := r.svc, r.addr
	var fire func()
	fire = func() {
		select {
		case <-svc.rooms.Stopping():
			return
		default:
		}
		if svc.active(addr) == nil {
			return
		}
		if !svc.deliver(svc.baseCtx, addr, envelope{fn: func(r *room) { r.expireRelays(svc.baseCtx) }}) {
			time.AfterFunc(time.Second, fire) // a full mailbox: try again soon
		}
	}
	time.AfterFunc(relayTimeout, fire)
}

// expireRelays runs when the expiry timer fires.
func (r *room) expireRelays(ctx context.Context) {
	r.relays.armed = false
	r.relays.expire(ctx, r, r.svc.now())
	if len(r.relays.byID) > 0 {
		r.armRelayExpiry()
	}
}
