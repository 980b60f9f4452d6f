package im

// Placeholders for the presence/roster/delivery files (RFC 6121 core).

import (
	"context"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/router"
	"github.com/gavelhq/gavel/xmlstream"
)

func registerRoster(s *Server) {}

// outboundPresence: presence a client sent (broadcast, directed, subscription outbound).
func (s *Server) outboundPresence(ctx context.Context, sess router.Session, st *xmlstream.Stanza) {}

// sessionEnded: unavailable broadcast for a session that ended.
func (s *Server) sessionEnded(ctx context.Context, sess router.Session, last router.Resource) {}

// toBare: message/presence (and iq result/error) to a local bare JID (RFC 6121 §8.5.2).
func (s *Server) toBare(ctx context.Context, to jid.JID, st *xmlstream.Stanza) {}

// toFull: any stanza to a local full JID (RFC 6121 §8.5.3).
func (s *Server) toFull(ctx context.Context, to jid.JID, st *xmlstream.Stanza) {}
