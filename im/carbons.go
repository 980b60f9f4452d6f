package im

// XEP-0280 Message Carbons: a resource that enabled carbons gets a copy of
// the eligible messages its account sends from other resources (<sent/>) and
// receives on other resources (<received/>), each wrapped in XEP-0297
// <forwarded/> around the original stanza's bytes, from the account's bare
// JID to the resource's full JID.
//
// Eligible messages (§6.1), in a message sent or received:
//   - type chat; type normal (or unknown, RFC 6121 §5.2.2) with a <body/>;
//     any non-groupchat message with an IM payload: receipts (XEP-0184),
//     chat states (XEP-0085), markers (XEP-0333); XEP-0249 invitations and
//     XEP-0045 mediated invitations;
//   - never groupchat, headline or error messages (the server does not
//     track which message an error answers, so it copies none and does not
//     advertise urn:xmpp:carbons:rules:0), nor private messages received
//     from a MUC occupant (the room already copies them);
//   - never a message with <private xmlns='urn:xmpp:carbons:2'/> (§7) or a
//     XEP-0334 <no-copy/> hint;
//   - never a message that itself contains a <sent/> or <received/> carbon
//     (§11: only the account's own server may issue carbons; a copy of a
//     forged one would arrive from the user's bare JID and look genuine).
//
// A message to the account itself is copied once, as received, and never
// back to the resource that sent it.
//
// State: the set of carbons-enabled sessions per account, in memory. A
// session leaves it when it ends; a session replaced by a newer one on the
// same resource (SessionEnded with bound=false runs no hook) is no longer
// bound, so it is never a target, and is pruned at the account's next
// enable or session end.

import (
	"context"
	"sync"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/router"
	"github.com/gavelhq/gavel/xmlstream"
)

const (
	nsCarbons     = "urn:xmpp:carbons:2"
	nsReceipts    = "urn:xmpp:receipts"
	nsChatMarkers = "urn:xmpp:chat-markers:0"
	nsConference  = "jabber:x:conference"
	nsMUCUser     = "http://jabber.org/protocol/muc#user"
)

// carbonsState is the set of carbons-enabled sessions of each account.
type carbonsState struct {
	mu      sync.RWMutex
	enabled map[string]map[router.Session]struct{} // bare JID -> sessions
}

func (c *carbonsState) enable(bare string, sess router.Session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.enabled == nil {
		c.enabled = map[string]map[router.Session]struct{}{}
	}
	set := c.enabled[bare]
	if set == nil {
		set = map[router.Session]struct{}{}
		c.enabled[bare] = set
	}
	set[sess] = struct{}{}
}

func (c *carbonsState) disable(bare string, sess router.Session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if set := c.enabled[bare]; set != nil {
		delete(set, sess)
		if len(set) == 0 {
			delete(c.enabled, bare)
		}
	}
}

// anyEnabled reports whether some session of bare enabled carbons.
func (c *carbonsState) anyEnabled(bare string) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.enabled[bare]) > 0
}

func (c *carbonsState) isEnabled(bare string, sess router.Session) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	_, ok := c.enabled[bare][sess]
	return ok
}

// prune keeps only the sessions of bare that are still bound (live).
func (c *carbonsState) prune(bare string, live []router.Resource) {
	c.mu.Lock()
	defer c.mu.Unlock()
	set := c.enabled[bare]
	for sess := range set {
		found := false
		for _, r := range live {
			if r.Session == sess {
				found = true
				break
			}
		}
		if !found {
			delete(set, sess)
		}
	}
	if len(set) == 0 {
		delete(c.enabled, bare)
	}
}

func registerCarbons(s *Server) {
	s.AddServerFeature(nsCarbons)
	s.HandleAccountIQ(nsCarbons, "enable", s.handleCarbons)
	s.HandleAccountIQ(nsCarbons, "disable", s.handleCarbons)
	s.AddOutboundFilter(OrderCarbons, s.sentCarbons)
	s.OnDelivered(s.receivedCarbons)
	s.OnSessionEnded(func(_ context.Context, sess router.Session, _ router.Resource) {
		bare := sess.JID().Bare().String()
		s.state.carbons.disable(bare, sess)
		s.state.carbons.prune(bare, s.router.Resources(bare))
	})
}

// handleCarbons answers <enable/> and <disable/> (§4, §5): only from a
// bound resource of the account itself; repeating either is not an error.
func (s *Server) handleCarbons(_ context.Context, iq *xmlstream.Stanza, req *xmlstream.Element) (*xmlstream.Element, error) {
	if iq.Type() != "set" {
		return nil, xmlstream.BadRequest("carbons are enabled and disabled with iq set")
	}
	from, err1 := jid.Parse(iq.From())
	to, err2 := jid.Parse(iq.To())
	if err1 != nil || err2 != nil || !from.Bare().Equal(to.Bare()) {
		return nil, xmlstream.NotAllowed("only the account's own resources manage its carbons")
	}
	res, bound := s.router.Lookup(from)
	if !bound {
		return nil, xmlstream.NotAllowed("not a resource of this server")
	}
	bare := from.Bare().String()
	if req.Name.Local == "enable" {
		s.state.carbons.prune(bare, s.router.Resources(bare))
		s.state.carbons.enable(bare, res.Session)
	} else {
		s.state.carbons.disable(bare, res.Session)
	}
	return nil, nil
}

// carbonEligible applies the rules above; outgoing is true for a message
// the account sends.
func carbonEligible(typ string, el *xmlstream.Element, outgoing bool) bool {
	switch typ {
	case "groupchat", "headline", "error":
		return false
	}
	if el.Child(nsCarbons, "private") != nil || el.Child(nsHints, "no-copy") != nil ||
		el.Child(nsCarbons, "sent") != nil || el.Child(nsCarbons, "received") != nil {
		return false
	}
	mucUser := el.Child(nsMUCUser, "x")
	invitation := el.Child(nsConference, "x") != nil || (mucUser != nil && mucUser.Child(nsMUCUser, "invite") != nil)
	switch {
	case invitation:
		return true
	case mucUser != nil && !outgoing:
		return false // a private message from a room occupant
	case typ == "chat":
		return true
	case el.Child(el.Name.Space, "body") != nil:
		return true
	}
	for _, c := range el.Elements() {
		switch c.Name.Space {
		case nsReceipts, nsChatStates, nsChatMarkers:
			return true
		}
	}
	return false
}

// sentCarbons copies a message a local resource sends to the account's
// other carbons-enabled resources (§8), whether or not the sender enabled
// carbons itself.
func (s *Server) sentCarbons(_ context.Context, sess router.Session, st *xmlstream.Stanza) (*xmlstream.Stanza, bool) {
	if st.Name.Local != xmlstream.KindMessage {
		return st, false
	}
	owner := sess.JID().Bare()
	bare := owner.String()
	if !s.state.carbons.anyEnabled(bare) {
		return st, false
	}
	if to, err := jid.Parse(st.To()); err != nil || to.Bare().Equal(owner) {
		// Invalid (routing bounces it), or to the account itself: its
		// resources get received carbons instead.
		return st, false
	}
	el, err := st.Element()
	if err != nil || !carbonEligible(st.Type(), el, true) {
		return st, false
	}
	s.sendCarbons(bare, "sent", st, func(r router.Resource) bool { return r.Session != sess })
	return st, false
}

// receivedCarbons copies a delivered message to the recipient account's
// carbons-enabled resources that did not receive it (§7).
func (s *Server) receivedCarbons(_ context.Context, to jid.JID, st *xmlstream.Stanza, recipients []router.Session) {
	if st.Name.Local != xmlstream.KindMessage {
		return
	}
	bare := to.Bare().String()
	if !s.state.carbons.anyEnabled(bare) {
		return
	}
	el, err := st.Element()
	if err != nil || !carbonEligible(st.Type(), el, false) {
		return
	}
	sender := st.From()
	s.sendCarbons(bare, "received", st, func(r router.Resource) bool {
		if r.Full == sender {
			return false // one's own message to oneself is not copied back
		}
		for _, got := range recipients {
			if got == r.Session {
				return false
			}
		}
		return true
	})
}

// sendCarbons sends st wrapped in <sent/> or <received/> to each bound,
// carbons-enabled resource of bare that want accepts.
func (s *Server) sendCarbons(bare, wrap string, st *xmlstream.Stanza, want func(router.Resource) bool) {
	var inner []byte
	for _, r := range s.router.Resources(bare) {
		if !want(r) || !s.state.carbons.isEnabled(bare, r.Session) {
			continue
		}
		if inner == nil {
			inner = forwardedBytes(st.Raw)
		}
		r.Session.Send(forwardMessage([]string{"from", bare, "to", r.Full, "type", st.Type()},
			nsCarbons, wrap, nil, "", inner))
	}
}
