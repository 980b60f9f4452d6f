package pubsub

// CONTRACT STUB: the XEP-0060 adapter. The adapter helper fills it in
// (protocol.go dispatches; one proto_*.go file per use case group) and
// keeps the exported names and signatures; PEP wiring and the HTTP API
// use them.

import (
	"context"
	"log/slog"

	"github.com/gavelhq/gavel/xmlstream"
)

// Router is what the adapter needs of the server's router (*router.Router
// implements it). Route must not block on a recipient.
type Router interface {
	Route(ctx context.Context, st *xmlstream.Stanza)
}

// ProtocolOptions configure a Protocol.
type ProtocolOptions struct {
	Router Router
	Logger *slog.Logger
	// Name is the disco identity name of the service (non-PEP).
	Name string
}

// Protocol speaks XEP-0060 for one Service: it answers iqs, handles the
// messages a service receives (subscription approval forms), and, as the
// Service's Notifier, encodes each Event once and fans it out.
type Protocol struct {
	opts ProtocolOptions
	svc  *Service
}

// NewProtocol builds the adapter; Attach gives it its Service (the
// Service takes the Protocol as Notifier, so they are built in two steps).
func NewProtocol(o ProtocolOptions) *Protocol { return &Protocol{opts: o} }

// Attach sets the Service the adapter serves.
func (p *Protocol) Attach(s *Service) { p.svc = s }

// HandleStanza implements router.Handler for a non-PEP service's domain
// (iqs, messages, presence to the service and its nodes).
func (p *Protocol) HandleStanza(ctx context.Context, st *xmlstream.Stanza) {}

// HandleIQ answers a pubsub iq (payload {pubsub}pubsub or
// {pubsub#owner}pubsub) addressed to host: the service domain, or a PEP
// account's bare JID (im calls it as an account IQ handler). It returns
// the result payload (nil: empty result) or a *xmlstream.StanzaError.
func (p *Protocol) HandleIQ(ctx context.Context, host string, iq *xmlstream.Stanza, payload *xmlstream.Element) (*xmlstream.Element, error) {
	return nil, xmlstream.ServiceUnavailable()
}

// Notify implements Notifier.
func (p *Protocol) Notify(ctx context.Context, ev *Event, to []Recipient) {}

// RequestAuthorization implements Notifier.
func (p *Protocol) RequestAuthorization(ctx context.Context, req AuthorizationRequest) {}
