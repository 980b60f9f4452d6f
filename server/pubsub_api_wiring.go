package server

import (
	"net/http"

	"github.com/gavelhq/gavel/webui"
)

// pubsubAPI is the HTTP publish API (docs/pubsub-api.md) over the pubsub
// service, or nil (no route) unless pubsub.api is on. Tokens live in the
// store; `gavel token` makes them.
func (s *Server) pubsubAPI() http.Handler {
	if !s.cfg.PubSub.API || s.pubsub == nil {
		return nil
	}
	return webui.NewPubSubAPI(webui.PubSubAPIOptions{
		Service:    s.pubsub,
		Host:       s.cfg.Services.PubSub,
		Tokens:     webui.NewTokens(s.store),
		MaxPayload: s.cfg.PubSub.MaxPayloadSize,
		Logger:     s.log.With("pkg", "webui", "api", "pubsub"),
	})
}
