package im

// Placeholders for offline storage and the server-domain services.

import (
	"context"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/router"
	"github.com/gavelhq/gavel/xmlstream"
)

func registerServices(s *Server) {}

// toServer: message or presence addressed to the server domain itself.
func (s *Server) toServer(ctx context.Context, st *xmlstream.Stanza) {}

// storeOffline keeps a message for an account with no available resource
// (XEP-0160); false if it was not stored (quota, type), so the caller bounces or drops.
func (s *Server) storeOffline(ctx context.Context, to jid.JID, st *xmlstream.Stanza) bool {
	return false
}

// sendOffline delivers and removes stored messages when a session sends its
// initial presence with non-negative priority.
func (s *Server) sendOffline(ctx context.Context, sess router.Session) {}
