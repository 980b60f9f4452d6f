// Package c2s is the client-to-server stream: transports (TCP with STARTTLS,
// direct TLS, WebSocket per RFC 7395), negotiation (STARTTLS, SASL, resource
// binding), the per-connection reader and bounded, coalescing writer, stream
// errors, keepalive pings and the input limits. It hands every stanza of a
// bound session to a Handler and knows nothing of rosters or rooms.
package c2s

import (
	"context"

	"github.com/gavelhq/gavel/router"
	"github.com/gavelhq/gavel/xmlstream"
)

// Handler processes what bound client sessions send.
type Handler interface {
	// HandleClient is called, in order, for each stanza a bound session
	// sends, with 'from' already stamped to the session's full JID.
	// Messages and iqs without 'to' have been addressed to the account's
	// bare JID (RFC 6120 §10.3); presence without 'to' is left as is
	// (a broadcast).
	HandleClient(ctx context.Context, s router.Session, st *xmlstream.Stanza)
	// SessionEnded is called once when a session that bound a resource
	// ends (streams that never bound are not reported); last is the
	// resource state when it was unbound (the stream has already called
	// router.Unbind). bound=false if the router had already removed it (a
	// newer session replaced it): there is nothing to clean up then.
	SessionEnded(ctx context.Context, s router.Session, last router.Resource, bound bool)
	// Undelivered is called after SessionEnded with the stanzas sent to
	// the session that its client never acknowledged (XEP-0198), followed by
	// those client state indication (XEP-0352) still held back, in the
	// order they were sent. The XEP asks to treat them as stanzas to an
	// unavailable resource: re-route or store messages, bounce iq
	// requests. Not called when there are none.
	Undelivered(ctx context.Context, s router.Session, sts []*xmlstream.Stanza)
}
