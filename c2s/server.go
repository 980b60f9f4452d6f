package c2s

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/auth"
	"github.com/gavelhq/gavel/router"
)

// ErrServerClosed is returned by the Serve methods after Shutdown.
var ErrServerClosed = errors.New("c2s: server closed")

// ALPN protocol of direct TLS client connections (XEP-0368).
const alpnClient = "xmpp-client"

// Server accepts client streams on any number of listeners.
type Server struct {
	opts      Options
	router    *router.Router
	accounts  *auth.Accounts
	handler   Handler
	ctx       context.Context
	domains   []string // normalized; the first is the default
	pool      bufferPool
	directTLS *tls.Config

	mu         sync.Mutex
	conns      map[*conn]struct{}
	handshakes map[net.Conn]struct{} // direct TLS connections still in their handshake
	listeners  map[net.Listener]struct{}
	closed     bool
	wg         sync.WaitGroup
	bound      atomic.Int64 // sessions bound, attached or detached
	// smIDs are the resumable sessions by SM-ID (XEP-0198).
	smIDs    map[string]*session
	detached atomic.Int64
}

// New returns a server for the given options (defaults applied), routing
// bound sessions through r, authenticating against acc and handing
// stanzas to h.
func New(opts Options, r *router.Router, acc *auth.Accounts, h Handler) *Server {
	opts = opts.WithDefaults()
	s := &Server{opts: opts, router: r, accounts: acc, handler: h, ctx: context.Background(),
		conns: map[*conn]struct{}{}, handshakes: map[net.Conn]struct{}{}, listeners: map[net.Listener]struct{}{},
		smIDs: map[string]*session{}}
	for _, d := range opts.Domains {
		j, err := jid.Parse(d)
		if err != nil || j.Localpart() != "" || j.Resourcepart() != "" {
			opts.Logger.Error("c2s: ignoring invalid domain", "domain", d)
			continue
		}
		if !slices.Contains(s.domains, j.Domainpart()) {
			s.domains = append(s.domains, j.Domainpart())
		}
	}
	if len(s.domains) == 0 {
		opts.Logger.Error("c2s: no domains configured: every stream will fail with host-unknown")
	}
	if opts.TLSConfig != nil {
		s.directTLS = opts.TLSConfig.Clone()
		if !slices.Contains(s.directTLS.NextProtos, alpnClient) {
			s.directTLS.NextProtos = append(s.directTLS.NextProtos, alpnClient)
		}
	} else if opts.RequireTLS {
		opts.Logger.Warn("c2s: RequireTLS without a TLSConfig: TCP clients cannot authenticate")
	}
	return s
}

func (s *Server) defaultDomain() string {
	if len(s.domains) == 0 {
		return ""
	}
	return s.domains[0]
}

func (s *Server) serves(domain string) bool { return slices.Contains(s.domains, domain) }

// SessionCount is the number of bound sessions on this server's streams,
// including those detached and waiting to be resumed.
func (s *Server) SessionCount() int { return int(s.bound.Load()) }

// DetachedCount is the number of stream management sessions whose
// connection was lost and that wait to be resumed (XEP-0198).
func (s *Server) DetachedCount() int { return int(s.detached.Load()) }

// StreamCount is the number of open connections, bound or not.
func (s *Server) StreamCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// ServeTCP accepts client streams on l (port 5222 style: plain, STARTTLS
// offered when TLSConfig is set). It returns when l fails or after Shutdown
// (ErrServerClosed).
func (s *Server) ServeTCP(l net.Listener) error {
	return s.serveListener(l, func(raw net.Conn) {
		tr := newTCPTransport(TransportTCP, newSendConn(raw), nil, s.opts.TLSConfig, s.opts.Limits, &s.pool)
		c := s.newConn(tr, remoteAddr(raw.RemoteAddr()))
		tr.setActivity(c)
		if !s.track(c) {
			_ = raw.Close()
			return
		}
		go c.serve()
	})
}

// ServeDirectTLS accepts streams that start with TLS (XEP-0368, ALPN
// "xmpp-client"). TLSConfig is required.
func (s *Server) ServeDirectTLS(l net.Listener) error {
	if s.directTLS == nil {
		return errors.New("c2s: direct TLS needs Options.TLSConfig")
	}
	return s.serveListener(l, func(raw net.Conn) {
		if !s.trackHandshake(raw, true) {
			_ = raw.Close()
			return
		}
		go s.handshakeDirectTLS(raw)
	})
}

// handshakeDirectTLS runs the handshake on its own goroutine, then starts
// a fresh reader goroutine: the handshake's deep stack is not kept for the
// life of the connection (perf.md §3.3).
func (s *Server) handshakeDirectTLS(raw net.Conn) {
	defer s.trackHandshake(raw, false)
	sc := newSendConn(raw) // blocking until the transport takes over
	tc := tls.Server(sc, s.directTLS)
	_ = raw.SetDeadline(time.Now().Add(s.opts.AuthTimeout))
	if err := tc.Handshake(); err != nil {
		s.opts.Logger.Debug("c2s: direct TLS handshake failed", "remote", raw.RemoteAddr().String(), "err", err)
		_ = raw.Close()
		return
	}
	_ = raw.SetDeadline(time.Time{})
	tr := newTCPTransport(TransportDirectTLS, sc, tc, nil, s.opts.Limits, &s.pool)
	c := s.newConn(tr, remoteAddr(raw.RemoteAddr()))
	tr.setActivity(c)
	if !s.track(c) {
		_ = raw.Close()
		return
	}
	go c.serve()
}

func (s *Server) serveListener(l net.Listener, handle func(net.Conn)) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
	}()
	var delay time.Duration
	for {
		raw, err := l.Accept()
		if err != nil {
			if s.isClosed() {
				return ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			// Out of file descriptors and the like: back off, keep serving.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.opts.Logger.Warn("c2s: accept failed", "err", err, "retry_in", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		if tc, ok := raw.(*net.TCPConn); ok && s.opts.SendBufferBytes > 0 {
			// A bounded kernel buffer makes a stalled reader show in the
			// write queue and the write deadline: with autotuning the
			// kernel alone absorbs minutes of a busy room.
			_ = tc.SetWriteBuffer(s.opts.SendBufferBytes)
		}
		handle(raw)
	}
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// track registers a connection; false once shut down.
func (s *Server) track(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.wg.Done()
}

func (s *Server) trackHandshake(raw net.Conn, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !add {
		delete(s.handshakes, raw)
		s.wg.Done()
		return true
	}
	if s.closed {
		return false
	}
	s.handshakes[raw] = struct{}{}
	s.wg.Add(1)
	return true
}

// Shutdown stops the listeners, closes every stream with a system-shutdown
// stream error (RFC 6120 §4.9.3.19) and waits until every connection
// goroutine has ended. When ctx expires first, the remaining connections are
// cut at once and ctx's error is returned.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	for l := range s.listeners {
		_ = l.Close()
	}
	for raw := range s.handshakes {
		_ = raw.Close()
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.closeStream(condSystemShutdown, "", false)
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		s.mu.Lock()
		for c := range s.conns {
			c.hardClose()
		}
		s.mu.Unlock()
		<-done
		err = ctx.Err()
	}
	// Sessions waiting for a resume end now, while the Handler can still
	// store what they hold (no stream detaches once closed is set).
	s.mu.Lock()
	waiting := make([]*session, 0, len(s.smIDs))
	for _, ss := range s.smIDs {
		waiting = append(waiting, ss)
	}
	s.mu.Unlock()
	for _, ss := range waiting {
		ss.expire()
	}
	return err
}

func remoteAddr(a net.Addr) netip.Addr {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.AddrPort().Addr().Unmap()
	case nil:
		return netip.Addr{}
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}
