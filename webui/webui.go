// Package webui is Gavel's HTTP side: one chi router carrying the operations
// endpoints (/healthz, /metrics), the XMPP WebSocket endpoint (RFC 7395) and,
// in later issues, the pages and the admin console.
//
// It never uses middleware.RealIP (the header is spoofable) and puts no
// timeout or compression middleware on the WebSocket route.
package webui

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
)

// WebSocketPath is where RFC 7395 clients connect (the path Prosody and
// ejabberd use, so clients' defaults find it).
const WebSocketPath = "/xmpp-websocket"

// Options are the handlers the server wires in; a nil handler leaves its
// route out (404).
type Options struct {
	// Metrics serves the Prometheus exposition format at /metrics.
	Metrics http.Handler
	// WebSocket serves the XMPP subprotocol at WebSocketPath.
	WebSocket http.Handler
	// Health reports whether the server can serve; a non-nil error makes
	// /healthz answer 503 with the error text.
	Health func(ctx context.Context) error
	// PubSubAPI serves the HTTP publish API at PubSubAPIPath (NewPubSubAPI).
	PubSubAPI http.Handler
}

// New returns the HTTP handler.
func New(o Options) http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.Recoverer)
	if o.WebSocket != nil {
		r.Handle(WebSocketPath, o.WebSocket)
	}
	r.Group(func(r chi.Router) {
		// Short endpoints get a deadline; the WebSocket route above must not.
		r.Use(middleware.Timeout(10 * time.Second))
		r.Get("/healthz", healthz(o.Health))
		if o.Metrics != nil {
			r.Handle("/metrics", o.Metrics)
		}
		if o.PubSubAPI != nil {
			r.Mount(PubSubAPIPath, o.PubSubAPI)
		}
	})
	return r
}

// healthz answers 200 {"status":"ok"} or 503 {"status":"unavailable","error":...}.
func healthz(check func(ctx context.Context) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body := map[string]string{"status": "ok"}
		code := http.StatusOK
		if check != nil {
			if err := check(r.Context()); err != nil {
				body = map[string]string{"status": "unavailable", "error": err.Error()}
				code = http.StatusServiceUnavailable
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(body)
	}
}
