// Package s2s federates Gavel with other XMPP servers (RFC 6120 server-to-
// server streams) using Server Dialback (XEP-0220, keys per XEP-0185) over
// STARTTLS. Outbound: one verified stream per (local domain, remote domain)
// pair, created on the first stanza, stanzas queued (bounded) until the
// remote server accepts the dialback key. Inbound: the peer's key is checked
// by calling back its authoritative server before any of its stanzas is
// accepted; stanzas are then routed like any other, with their namespace
// normalized to jabber:client so handlers see one content namespace.
package s2s

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/gavelhq/gavel/router"
	"github.com/gavelhq/gavel/xmlstream"
)

// Namespaces of server streams and dialback.
const (
	nsDialback        = "jabber:server:dialback"
	nsDialbackFeature = "urn:xmpp:features:dialback"
	nsTLS             = "urn:ietf:params:xml:ns:xmpp-tls"
)

// Options configure federation.
type Options struct {
	// IsLocal reports whether a domain is served here (accounts or services).
	IsLocal func(domain string) bool
	// TLSConfig holds the server certificate for inbound STARTTLS and is the
	// base for outbound TLS. Nil disables TLS (tests only).
	TLSConfig *tls.Config
	// RequireTLS refuses dialback on unencrypted streams, both ways.
	RequireTLS bool
	// VerifyCertificates makes outbound TLS verify the peer certificate
	// against the system roots. Off by default: dialback authenticates the
	// peer, TLS provides confidentiality (as Prosody's s2s_secure_auth=false).
	VerifyCertificates bool
	// Hosts maps a remote domain to "host:port", bypassing DNS (static
	// peering, tests).
	Hosts map[string]string
	// Secret keys dialback (XEP-0185); random when empty.
	Secret []byte
	// Limits for inbound streams.
	Limits xmlstream.Limits
	// ConnectTimeout bounds resolving, connecting and dialback (default 20s).
	ConnectTimeout time.Duration
	// IdleTimeout closes an outbound stream unused this long (default 10m).
	IdleTimeout time.Duration
	// QueueLimit is the number of stanzas held per pending outbound stream (default 1000).
	QueueLimit int
	// RetryAfter: after a failed connection to a domain, stanzas for it are
	// bounced at once for this long instead of dialing again for each one
	// (default 1m).
	RetryAfter time.Duration
	Logger     *slog.Logger
}

func (o *Options) defaults() {
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 20 * time.Second
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 10 * time.Minute
	}
	if o.QueueLimit <= 0 {
		o.QueueLimit = 1000
	}
	if o.RetryAfter <= 0 {
		o.RetryAfter = time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if len(o.Secret) == 0 {
		o.Secret = make([]byte, 32)
		_, _ = rand.Read(o.Secret)
	}
	if o.IsLocal == nil {
		o.IsLocal = func(string) bool { return false }
	}
}

// Service is the s2s component: a router.Handler for remote domains and
// the listener for inbound server streams.
type Service struct {
	opts   Options
	router *router.Router
	log    *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	closed    bool
	out       map[pair]*outbound  // outbound streams by (local, remote)
	failed    map[pair]failure    // recent failures, bounced without dialing
	in        map[string]*inbound // inbound streams by our stream id
	listeners map[net.Listener]struct{}
}

// pair is a (local domain, remote domain) association.
type pair struct{ local, remote string }

// New returns a Service routing inbound stanzas through r.
func New(o Options, r *router.Router) *Service {
	o.defaults()
	ctx, cancel := context.WithCancel(context.Background())
	return &Service{opts: o, router: r, log: o.Logger, ctx: ctx, cancel: cancel,
		out: map[pair]*outbound{}, failed: map[pair]failure{}, in: map[string]*inbound{}, listeners: map[net.Listener]struct{}{}}
}

// ErrClosed is returned by Serve after Shutdown.
var ErrClosed = errors.New("s2s: service closed")

// Serve accepts inbound server streams on l until Shutdown.
func (s *Service) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	for {
		c, err := l.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			delete(s.listeners, l)
			s.mu.Unlock()
			if closed {
				return ErrClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			return err
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveInbound(c)
		}()
	}
}

// HandleStanza implements router.Handler for domains not served here.
func (s *Service) HandleStanza(ctx context.Context, st *xmlstream.Stanza) {
	local, remote := domainOf(st.From()), domainOf(st.To())
	if local == "" || remote == "" || !s.opts.IsLocal(local) {
		s.router.Bounce(ctx, st, &xmlstream.StanzaError{Type: xmlstream.ErrCancel, Condition: "remote-server-not-found"})
		return
	}
	p := pair{local, remote}
	// A stream may close (idle, failed) between lookup and enqueue: then
	// take a fresh one, unless the domain just failed.
	for range 2 {
		if cond, down := s.recentlyFailed(p); down {
			s.router.Bounce(ctx, st, &xmlstream.StanzaError{Type: xmlstream.ErrCancel, Condition: cond})
			return
		}
		o := s.outboundFor(p)
		if o == nil {
			s.router.Bounce(ctx, st, &xmlstream.StanzaError{Type: xmlstream.ErrCancel, Condition: "remote-server-not-found", Text: "server shutting down"})
			return
		}
		if o.enqueue(st) {
			return
		}
		s.forget(p, o)
	}
	s.router.Bounce(ctx, st, &xmlstream.StanzaError{Type: xmlstream.ErrWait, Condition: "remote-server-timeout"})
}

// forget drops o from the table if it is still the stream for p.
func (s *Service) forget(p pair, o *outbound) {
	s.mu.Lock()
	if s.out[p] == o {
		delete(s.out, p)
	}
	s.mu.Unlock()
}

// Shutdown closes listeners and every stream and waits for their goroutines.
func (s *Service) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	for l := range s.listeners {
		l.Close()
	}
	outs := make([]*outbound, 0, len(s.out))
	for _, o := range s.out {
		outs = append(outs, o)
	}
	ins := make([]*inbound, 0, len(s.in))
	for _, in := range s.in {
		ins = append(ins, in)
	}
	s.mu.Unlock()
	s.cancel()
	for _, o := range outs {
		o.shutdown()
	}
	for _, in := range ins {
		in.streamError("system-shutdown", "")
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// failure is a failed outbound attempt remembered for Options.RetryAfter.
type failure struct {
	until time.Time
	cond  string
}

// maxRememberedFailures bounds the failure cache (one entry per domain pair).
const maxRememberedFailures = 10000

// recentlyFailed reports whether the last attempt for p failed within
// RetryAfter, and the condition to bounce with.
func (s *Service) recentlyFailed(p pair) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.failed[p]
	if !ok {
		return "", false
	}
	if time.Now().After(f.until) {
		delete(s.failed, p)
		return "", false
	}
	return f.cond, true
}

// rememberFailure records a failed attempt for p.
func (s *Service) rememberFailure(p pair, cond string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.failed) >= maxRememberedFailures {
		now := time.Now()
		for k, f := range s.failed {
			if now.After(f.until) {
				delete(s.failed, k)
			}
		}
		if len(s.failed) >= maxRememberedFailures {
			return // full of live entries: dial again rather than grow
		}
	}
	s.failed[p] = failure{until: time.Now().Add(s.opts.RetryAfter), cond: cond}
}

// outboundFor returns the outbound stream for p, starting it if needed.
func (s *Service) outboundFor(p pair) *outbound {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	if o := s.out[p]; o != nil {
		return o
	}
	o := newOutbound(s, p)
	s.out[p] = o
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		o.run()
		s.mu.Lock()
		if s.out[p] == o {
			delete(s.out, p)
		}
		s.mu.Unlock()
	}()
	return o
}

func domainOf(addr string) string {
	if addr == "" {
		return ""
	}
	// jid.Parse would validate; the router already did for 'to', and c2s
	// stamped 'from', so a cheap split is enough here.
	s := addr
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			s = s[:i]
			break
		}
	}
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '@' {
			return s[i+1:]
		}
	}
	return s
}
