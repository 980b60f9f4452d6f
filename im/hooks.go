package im

// Hook points for features that act on stanzas in flight (blocking, MAM,
// carbons, last activity...). Each feature registers in its own file from
// its register function; the order constants below fix who runs first, so
// e.g. a blocked message is never archived and an archived message carries
// its stanza-id when carbons copy it.

import (
	"context"
	"sort"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/router"
	"github.com/gavelhq/gavel/xmlstream"
)

// Filter order: lower runs first.
const (
	OrderBlocking = 100 // XEP-0191: stop stanzas to/from blocked JIDs
	OrderArchive  = 200 // XEP-0313: archive, stamp XEP-0359 stanza-id
	OrderCarbons  = 300 // XEP-0280: copy to the account's other resources
)

// OutboundFilter sees a stanza a bound local session sent, before it is
// routed ('from' stamped). It returns the stanza to continue with (possibly
// rewritten), or stop=true when it has dealt with it (answered or dropped).
type OutboundFilter func(ctx context.Context, sess router.Session, st *xmlstream.Stanza) (out *xmlstream.Stanza, stop bool)

// InboundFilter sees a stanza addressed to a local account (bare or full
// JID, any sender), before delivery, iq dispatch or offline storage.
type InboundFilter func(ctx context.Context, to jid.JID, st *xmlstream.Stanza) (out *xmlstream.Stanza, stop bool)

// DeliveredHook runs after a message to a local account was handed to
// sessions (recipients: those that got it; empty when it went offline).
type DeliveredHook func(ctx context.Context, to jid.JID, st *xmlstream.Stanza, recipients []router.Session)

// SessionEndedHook runs after a bound session ended (its presence already
// handled); last is its final resource state.
type SessionEndedHook func(ctx context.Context, sess router.Session, last router.Resource)

type hooks struct {
	outbound  []orderedOut
	inbound   []orderedIn
	delivered []DeliveredHook
	ended     []SessionEndedHook
	presence  presenceHooks // presence_hooks.go
	disco     accountDisco  // disco.go: what other features add to disco on accounts
}

type orderedOut struct {
	order int
	f     OutboundFilter
}

type orderedIn struct {
	order int
	f     InboundFilter
}

// AddOutboundFilter registers f at position order (see the Order constants).
// Registration happens at construction, before any stanza flows.
func (s *Server) AddOutboundFilter(order int, f OutboundFilter) {
	s.hooks.outbound = append(s.hooks.outbound, orderedOut{order, f})
	sort.SliceStable(s.hooks.outbound, func(i, j int) bool { return s.hooks.outbound[i].order < s.hooks.outbound[j].order })
}

// AddInboundFilter registers f at position order.
func (s *Server) AddInboundFilter(order int, f InboundFilter) {
	s.hooks.inbound = append(s.hooks.inbound, orderedIn{order, f})
	sort.SliceStable(s.hooks.inbound, func(i, j int) bool { return s.hooks.inbound[i].order < s.hooks.inbound[j].order })
}

// OnDelivered registers a DeliveredHook.
func (s *Server) OnDelivered(h DeliveredHook) { s.hooks.delivered = append(s.hooks.delivered, h) }

// OnSessionEnded registers a SessionEndedHook.
func (s *Server) OnSessionEnded(h SessionEndedHook) { s.hooks.ended = append(s.hooks.ended, h) }

func (s *Server) filterOutbound(ctx context.Context, sess router.Session, st *xmlstream.Stanza) (*xmlstream.Stanza, bool) {
	for _, h := range s.hooks.outbound {
		var stop bool
		if st, stop = h.f(ctx, sess, st); stop {
			return nil, true
		}
	}
	return st, false
}

func (s *Server) filterInbound(ctx context.Context, to jid.JID, st *xmlstream.Stanza) (*xmlstream.Stanza, bool) {
	for _, h := range s.hooks.inbound {
		var stop bool
		if st, stop = h.f(ctx, to, st); stop {
			return nil, true
		}
	}
	return st, false
}

// delivered sends st to each session and runs the DeliveredHooks with those
// that accepted it.
func (s *Server) delivered(ctx context.Context, to jid.JID, st *xmlstream.Stanza, sessions []sender) {
	var got []router.Session
	for _, t := range sessions {
		rs, isSession := t.(router.Session)
		var ok bool
		if isSession {
			ok = router.SendVia(ctx, rs, st) // held for the caller's batch, if any
		} else {
			ok = t.Send(st)
		}
		if ok && isSession && len(s.hooks.delivered) > 0 {
			got = append(got, rs)
		}
	}
	for _, h := range s.hooks.delivered {
		h(ctx, to, st, got)
	}
}
