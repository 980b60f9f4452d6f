package im

// Delivery of stanzas addressed to local accounts (RFC 6121 §8.5): which
// resources get a message or presence sent to a bare or full JID, offline
// storage, and the errors for what cannot be delivered.

import (
	"context"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/router"
	"github.com/gavelhq/gavel/xmlstream"
)

// toBare handles message and presence (and iq result/error) to a local bare
// JID (§8.5.2); iq get/set were answered by dispatchIQ already.
func (s *Server) toBare(ctx context.Context, to jid.JID, st *xmlstream.Stanza) {
	switch st.Name.Local {
	case xmlstream.KindMessage:
		s.messageToBare(ctx, to, st)
	case xmlstream.KindPresence:
		s.presenceToBare(ctx, to, st)
	case xmlstream.KindIQ:
		// An iq result or error to a bare JID answers an iq the server sent
		// on the account's behalf (SendIQ), or nothing: then it is consumed
		// (RFC 6120 §8.2.3).
		s.iqAnswer(st)
	}
}

// messageToBare applies §8.5.2.1.1 (some resource available) and
// §8.5.2.2.1 (none), after §8.5.1 (no such user).
func (s *Server) messageToBare(ctx context.Context, to jid.JID, st *xmlstream.Stanza) {
	typ := st.Type()
	if typ == "error" {
		return // never delivered to a bare JID, never answered
	}
	if !s.accountExists(ctx, to) {
		s.bounce(ctx, st, xmlstream.ServiceUnavailable())
		return
	}
	bare := to.String()
	switch typ {
	case "groupchat":
		s.bounce(ctx, st, xmlstream.ServiceUnavailable())
	case "headline":
		// To every non-negative available resource. With none, dropped
		// (§8.5.2.2.1) unless a XEP-0334 <store/> hint asks for offline
		// storage (storeOffline applies that rule).
		delivered := false
		for _, r := range s.router.Resources(bare) {
			if r.Available && r.Priority >= 0 {
				r.Session.Send(st)
				delivered = true
			}
		}
		if !delivered && !s.isAnonymous(to) {
			s.storeOffline(ctx, to, st)
		}
	default:
		// normal, chat, and unknown types (read as normal, §5.2.2).
		targets := s.topPriority(bare)
		if len(targets) > 0 {
			s.delivered(ctx, to, st, targets)
			return
		}
		if s.isAnonymous(to) || !s.storeOffline(ctx, to, st) {
			s.bounce(ctx, st, xmlstream.ServiceUnavailable())
		}
	}
}

// sender is what delivery needs of a session.
type sender interface{ Send(*xmlstream.Stanza) bool }

// topPriority returns the available resources of bare with the highest
// non-negative priority (all of them when several share it); a resource
// with negative priority never receives messages to the bare JID (§4.7.2.3).
func (s *Server) topPriority(bare string) []sender {
	var out []sender
	best := -1
	for _, r := range s.router.Resources(bare) {
		if !r.Available || r.Priority < 0 || r.Priority < best {
			continue
		}
		if r.Priority > best {
			best, out = r.Priority, out[:0]
		}
		out = append(out, r.Session)
	}
	return out
}

// presenceToBare applies §8.5.2.1.2 and §8.5.2.2.2.
func (s *Server) presenceToBare(ctx context.Context, to jid.JID, st *xmlstream.Stanza) {
	switch typ := st.Type(); {
	case isSubscriptionType(typ):
		s.inboundSubscription(ctx, to, st, typ)
	case typ == "probe":
		s.answerProbe(ctx, to, st)
	case typ == "" || typ == "unavailable" || typ == "error":
		// To all available resources, 'to' left as the bare JID; ignored
		// when there are none (and for no such user, §8.5.1).
		s.deliverToAvailable(to.String(), st)
		if typ != "error" {
			s.contactPresence(ctx, to, st)
		}
	}
	// Unknown presence types from another server are dropped.
}

// deliverToAvailable sends st unchanged to every available resource of bare.
func (s *Server) deliverToAvailable(bare string, st *xmlstream.Stanza) {
	for _, r := range s.router.Resources(bare) {
		if r.Available {
			r.Session.Send(st)
		}
	}
}

// toFull handles any stanza to a local full JID (§8.5.3).
func (s *Server) toFull(ctx context.Context, to jid.JID, st *xmlstream.Stanza) {
	res, bound := s.router.Lookup(to)
	typ := st.Type()
	switch st.Name.Local {
	case xmlstream.KindIQ:
		switch {
		case bound:
			res.Session.Send(st)
		case typ == "get" || typ == "set":
			s.bounce(ctx, st, xmlstream.ServiceUnavailable()) // §8.5.3.2.3, §8.5.1
		}
	case xmlstream.KindMessage:
		switch {
		case bound:
			s.delivered(ctx, to, st, []sender{res.Session})
		case typ == "chat":
			s.messageToBare(ctx, to.Bare(), st) // §8.5.3.2.1: as if to the bare JID
		case typ == "error", typ == "headline":
			// silently ignored
		default:
			// normal, groupchat: the resource is gone.
			s.bounce(ctx, st, xmlstream.ServiceUnavailable())
		}
	case xmlstream.KindPresence:
		switch {
		case isSubscriptionType(typ):
			// §8.5.3.1, §8.5.3.2.2: subscriptions are between bare JIDs.
			s.inboundSubscription(ctx, to.Bare(), st, typ)
		case typ == "probe":
			s.answerProbe(ctx, to.Bare(), st)
		case bound:
			router.SendVia(ctx, res.Session, st)
		}
		// Available/unavailable/error presence to an unbound resource is ignored.
	}
}
