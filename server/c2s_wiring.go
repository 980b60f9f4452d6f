package server

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/gavelhq/gavel/c2s"
	"github.com/gavelhq/gavel/im"
	"github.com/gavelhq/gavel/xmlstream"
)

// c2sServer is what the server needs of the client listeners.
type c2sServer interface {
	ServeTCP(ln net.Listener) error
	ServeDirectTLS(ln net.Listener) error
	WebSocketHandler() http.Handler
	Shutdown(ctx context.Context) error
}

// c2sOptions translates the configuration into c2s.Options.
func (s *Server) c2sOptions() c2s.Options {
	cfg := s.cfg
	domains := []string{cfg.Domain}
	if cfg.Auth.AnonymousDomain != "" {
		domains = append(domains, cfg.Auth.AnonymousDomain)
	}
	reg := s.registrar()
	return c2s.Options{
		Domains:                   domains,
		TLSConfig:                 s.tls,
		RequireTLS:                cfg.C2S.RequireTLS,
		PlainWithoutTLSOnLoopback: cfg.Dev,
		Limits:                    streamLimits(cfg),
		AuthTimeout:               cfg.C2S.AuthTimeout,
		IdleTimeout:               cfg.C2S.IdlePing,
		PingTimeout:               cfg.C2S.PingTimeout,
		MaxAuthAttempts:           cfg.C2S.MaxAuthAttempts,
		WriteQueueBytes:           cfg.C2S.WriteQueueBytes,
		WriteTimeout:              cfg.C2S.WriteTimeout,
		SendBufferBytes:           cfg.C2S.SendBufferBytes,
		InboundBytesPerSecond:     cfg.C2S.InboundBytesPerSecond,
		InboundBurstBytes:         cfg.C2S.InboundBurstBytes,
		WebSocketOrigins:          cfg.WebSocket.Origins,
		WebSocketSecure:           cfg.WebSocket.AssumeSecure,
		ResumeTimeout:             resumeTimeout(cfg.C2S.SM.ResumeTimeout),
		MaxUnackedStanzas:         cfg.C2S.SM.MaxUnacked,
		MaxUnackedBytes:           cfg.C2S.SM.MaxUnackedBytes,
		CSIMaxHeld:                cfg.C2S.CSI.MaxHeld,
		Logger:                    s.log.With("pkg", "c2s"),
		Metrics:                   c2sMetrics{s.metrics},
		// In-band registration is a feature before authentication (XEP-0077
		// §5); roster versioning and pre-approval are features of the stream
		// after it (RFC 6121 §2.6.1, §3.4.1).
		ExtraFeatures: func(domain string, authenticated bool) []*xmlstream.Element {
			if !authenticated {
				return reg.StreamFeatures(domain)
			}
			return s.IM.StreamFeatures()
		},
		PreAuthIQ: func(ctx context.Context, c c2s.PreAuthInfo, iq *xmlstream.Stanza) *xmlstream.Stanza {
			return reg.HandlePreAuth(ctx, c.Domain, c.RemoteIP, iq)
		},
	}
}

// registrar is in-band registration (XEP-0077) before authentication,
// open when registration.open is set (the default in dev mode).
func (s *Server) registrar() *im.Registrar {
	r := s.cfg.Registration
	exempt := make([]netip.Prefix, 0, len(r.ThrottleExempt))
	for _, p := range r.ThrottleExempt {
		exempt = append(exempt, netip.MustParsePrefix(p)) // validated with the config
	}
	return s.IM.NewRegistrar(im.RegistrationOptions{
		Open:     r.Open,
		MaxPerIP: r.MaxPerIP,
		Window:   r.Window,
		Exempt:   exempt,
	})
}

// resumeTimeout maps the configured resume window to c2s.Options, where
// 0 means "the default" and a negative value disables resumption.
func resumeTimeout(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// streamLimits are the parser limits of every inbound stream (clients and
// federated servers alike).
func streamLimits(cfg Config) xmlstream.Limits {
	return xmlstream.Limits{
		MaxStanzaBytes: cfg.C2S.Limits.MaxStanzaBytes,
		MaxDepth:       cfg.C2S.Limits.MaxDepth,
		MaxAttrs:       cfg.C2S.Limits.MaxAttrs,
	}
}

// newC2S builds the client listeners over the IM core, timing each
// stanza's routing.
func (s *Server) newC2S() (c2sServer, error) {
	h := timedHandler{Handler: s.IM, hist: s.metrics.routing}
	return c2s.New(s.c2sOptions(), s.Router, s.Accounts, h), nil
}
