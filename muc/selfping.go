package muc

// XEP-0410 MUC self-ping with the server optimization (§3.3): a ping from
// an occupant to its own occupant JID is answered by the room itself —
// result if the pinging full JID is joined under that nick — instead of
// being relayed to one of the occupant's clients. A ping from a full JID
// that is not in the room is answered not-acceptable whatever nick it
// names (§3.2), which tells a client that lost its place to rejoin.
// Pings to another occupant's nick are ordinary relayed iqs (iqrelay.go).

import (
	"context"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/xmlstream"
)

// NSSelfPingOptimization is the room feature of XEP-0410 §3.3.
const NSSelfPingOptimization = "http://jabber.org/protocol/muc#self-ping-optimization"

// selfPing answers st if it is a self-ping and reports whether it did.
func (r *room) selfPing(ctx context.Context, st *xmlstream.Stanza, payload *xmlstream.Element, from jid.JID, nick string) bool {
	if st.Type() != "get" || payload.Name != (xmlstream.Name{Space: NSPing, Local: "ping"}) {
		return false
	}
	s := r.sessions[from.String()]
	if s == nil {
		r.fail(ctx, st, xmlstream.ErrCancel, "not-acceptable")
		return true
	}
	if s.occ.nick != nick {
		return false // a ping to someone else: relayed
	}
	r.send(ctx, xmlstream.ResultReply(st, nil))
	return true
}
