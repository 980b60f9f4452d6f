package im

// Stanzas a session never confirmed (XEP-0198 §4 "Acks"): when a stream
// management session ends without being resumed (the resumption window ran
// out, the client closed its stream cleanly with stanzas unacknowledged, the
// resource was replaced, the server shut down), c2s hands back every stanza
// the client did not acknowledge, plus what client state indication
// (XEP-0352) still held. The XEP asks the server to treat them "in the same
// way that it would treat a stanza sent to an unavailable resource":
//
//   - message of type normal or chat (or unknown, RFC 6121 §5.2.2): delivered
//     as if sent to the account's bare JID (§8.5.2): to the other available
//     resources of highest non-negative priority, else offline storage
//     (XEP-0160, which stamps a XEP-0203 delay), else an error to the sender;
//     the session itself is already unbound, so nothing loops back to it;
//   - a message that carries nothing worth storing (chat states, receipts,
//     markers only) goes to the other available resources, and is dropped
//     without an error when there are none: a typing notification that
//     bounced would only confuse the sender;
//   - headline: to the other available resources, dropped if none (§8.5.2);
//   - groupchat and error messages are dropped: the room keeps its history
//     and learns from the session's unavailable presence that the occupant
//     left; errors are never answered;
//   - carbon copies (XEP-0280 <sent/>/<received/>) and MAM results
//     (XEP-0313 <result/>) are dropped: the original went to its recipient,
//     and a query's results belong to the session that asked;
//   - iq get/set: service-unavailable to the sender (§8.5.3.2.3): nobody
//     will answer it; iq result/error and presence are dropped (presence
//     state is recomputed by the next session: probes and initial presence).

import (
	"context"

	"github.com/gavelhq/gavel/router"
	"github.com/gavelhq/gavel/xmlstream"
)

// Undelivered implements c2s.Handler: sts were sent to sess (already
// unbound) but never acknowledged by its client; they are re-routed,
// stored offline or bounced as described above, in order.
func (s *Server) Undelivered(ctx context.Context, sess router.Session, sts []*xmlstream.Stanza) {
	bare := sess.JID().Bare()
	for _, st := range sts {
		switch st.Name.Local {
		case xmlstream.KindIQ:
			if t := st.Type(); t == "get" || t == "set" {
				s.bounce(ctx, st, xmlstream.ServiceUnavailable())
			}
		case xmlstream.KindMessage:
			switch st.Type() {
			case "error", "groupchat":
				continue
			case "headline":
				s.messageToBare(ctx, bare, st)
				continue
			}
			el, err := st.Element()
			if err != nil || isCopyOrResult(el) {
				continue
			}
			if worthStoring(st.Type(), el) {
				s.messageToBare(ctx, bare, st)
				continue
			}
			if targets := s.topPriority(bare.String()); len(targets) > 0 {
				s.delivered(ctx, bare, st, targets)
			}
		}
		// Presence is dropped.
	}
}

// isCopyOrResult reports a message that only wraps another one for this
// session: a carbon copy or a MAM query result.
func isCopyOrResult(el *xmlstream.Element) bool {
	return el.Child(nsCarbons, "sent") != nil || el.Child(nsCarbons, "received") != nil ||
		el.Child(nsMAM, "result") != nil
}
