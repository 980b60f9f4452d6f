package server

import "context"

// newPubSub builds the XEP-0060 service at cfg.Services.PubSub from the
// pubsub: section and registers it with the router and in disco#items.
// (Wired by the pubsub adapter work.)
func (s *Server) newPubSub() error { return nil }

// stopPubSub stops the node actors before the streams and the store close.
func (s *Server) stopPubSub(ctx context.Context) error { return nil }
