package s2s

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gavelhq/gavel/xmlstream"
)

// outbound is our stream to a remote server for one domain pair. Stanzas
// queue while it connects and authenticates; one writer goroutine drains the
// queue, concatenating what is pending into one write.
type outbound struct {
	s *Service
	p pair

	mu     sync.Mutex
	queue  []*xmlstream.Stanza
	closed bool
	wake   chan struct{}
	c      *conn
}

func newOutbound(s *Service, p pair) *outbound {
	return &outbound{s: s, p: p, wake: make(chan struct{}, 1)}
}

// enqueue queues st, or bounces it when the queue is full; it returns
// false, having done nothing, when the stream is already closed.
func (o *outbound) enqueue(st *xmlstream.Stanza) bool {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return false
	}
	if len(o.queue) >= o.s.opts.QueueLimit {
		o.mu.Unlock()
		o.s.router.Bounce(o.s.ctx, st, xmlstream.ResourceConstraint("too many stanzas queued for "+o.p.remote))
		return true
	}
	o.queue = append(o.queue, st)
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
	return true
}

// shutdown closes the stream politely.
func (o *outbound) shutdown() {
	o.mu.Lock()
	c := o.c
	o.mu.Unlock()
	if c != nil {
		_ = c.write([]byte("</stream:stream>"))
		c.Close()
	}
}

// fail marks the stream dead and bounces everything still queued.
func (o *outbound) fail(cond string) {
	o.mu.Lock()
	o.closed = true
	q := o.queue
	o.queue = nil
	c := o.c
	o.mu.Unlock()
	if c != nil {
		c.Close()
	}
	for _, st := range q {
		o.s.router.Bounce(o.s.ctx, st, &xmlstream.StanzaError{Type: xmlstream.ErrCancel, Condition: cond})
	}
}

func (o *outbound) run() {
	ctx, cancel := context.WithTimeout(o.s.ctx, o.s.opts.ConnectTimeout)
	c, err := o.s.connect(ctx, o.p.local, o.p.remote, true)
	if err == nil {
		err = o.authenticate(c)
	}
	if c != nil {
		c.detach()
	}
	cancel()
	if err != nil {
		o.s.log.Info("s2s outbound failed", "local", o.p.local, "remote", o.p.remote, "err", err)
		cond := "remote-server-not-found"
		if errors.Is(err, context.DeadlineExceeded) {
			cond = "remote-server-timeout"
		}
		if c != nil {
			c.Close()
		}
		o.s.rememberFailure(o.p, cond)
		o.fail(cond)
		return
	}
	_ = c.SetDeadline(time.Time{})
	o.mu.Lock()
	o.c = c
	o.mu.Unlock()
	o.s.log.Info("s2s outbound ready", "local", o.p.local, "remote", o.p.remote)

	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		o.readLoop(c)
	}()
	idle := time.NewTimer(o.s.opts.IdleTimeout)
	defer idle.Stop()
	for {
		select {
		case <-o.wake:
		case <-idle.C:
			o.shutdown()
			<-readerDone
			o.fail("remote-server-timeout")
			return
		case <-readerDone:
			o.fail("remote-server-timeout")
			return
		case <-o.s.ctx.Done():
			o.shutdown()
			<-readerDone
			o.fail("remote-server-timeout")
			return
		}
		o.mu.Lock()
		q := o.queue
		o.queue = nil
		o.mu.Unlock()
		if len(q) == 0 {
			continue
		}
		var buf []byte
		for _, st := range q {
			buf = append(buf, outboundRaw(st)...)
		}
		if err := c.write(buf); err != nil {
			c.Close()
			<-readerDone
			for _, st := range q {
				o.s.router.Bounce(o.s.ctx, st, &xmlstream.StanzaError{Type: xmlstream.ErrWait, Condition: "remote-server-timeout"})
			}
			o.fail("remote-server-timeout")
			return
		}
		if !idle.Stop() {
			select {
			case <-idle.C:
			default:
			}
		}
		idle.Reset(o.s.opts.IdleTimeout)
	}
}

// outboundRaw returns the bytes to write on a jabber:server stream: a stanza
// that declares xmlns='jabber:client' itself (from a WebSocket client) has
// the declaration dropped so it inherits the server stream's namespace.
func outboundRaw(st *xmlstream.Stanza) []byte {
	if declaresXMLNS(st.Raw) {
		return st.WithAttrs("xmlns", "").Raw
	}
	return st.Raw
}

// declaresXMLNS reports whether the start tag of raw has an xmlns attribute.
func declaresXMLNS(raw []byte) bool {
	for i := 0; i+6 < len(raw) && raw[i] != '>'; i++ {
		if raw[i] == ' ' && string(raw[i+1:i+6]) == "xmlns" && (raw[i+6] == '=' || raw[i+6] == ' ') {
			return true
		}
	}
	return false
}

// readLoop consumes what the remote sends on our outbound stream (nothing
// but whitespace, stray dialback answers or a stream error) until it closes.
func (o *outbound) readLoop(c *conn) {
	for {
		el, err := c.next(0)
		if err != nil {
			return
		}
		if el.Name.Space == xmlstream.NSStream && el.Name.Local == "error" {
			o.s.log.Info("s2s outbound stream error", "remote", o.p.remote, "error", string(el.Raw))
			return
		}
	}
}

// connect opens a stream from local to remote, with STARTTLS when offered
// (or required by our policy), and returns it after the features.
func (s *Service) connect(ctx context.Context, local, remote string, wantTLS bool) (*conn, error) {
	nc, err := s.dial(ctx, remote)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	c := &conn{Conn: nc, dec: xmlstream.NewDecoder(nc, s.opts.Limits)}
	// Reads below block; closing the socket when ctx ends (timeout or
	// shutdown) is what interrupts them. The caller detaches this once
	// the stream is established.
	c.detach = context.AfterFunc(ctx, func() { nc.Close() })
	features, err := openStream(c, local, remote)
	if err != nil {
		c.Close()
		return nil, err
	}
	starttls := features.Child(nsTLS, "starttls")
	switch {
	case starttls != nil && s.opts.TLSConfig != nil && (wantTLS || starttls.Child(nsTLS, "required") != nil || s.opts.RequireTLS):
		if err := c.write([]byte("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")); err != nil {
			c.Close()
			return nil, err
		}
		el, err := c.dec.Next()
		if err != nil || el.Name.Space != nsTLS || el.Name.Local != "proceed" {
			c.Close()
			return nil, fmt.Errorf("s2s: STARTTLS refused by %s", remote)
		}
		cfg := s.opts.TLSConfig.Clone()
		cfg.ServerName = remote
		cfg.InsecureSkipVerify = !s.opts.VerifyCertificates
		cfg.MinVersion = tls.VersionTLS12
		cfg.Certificates = nil // no client certificate: we authenticate with dialback
		tc := tls.Client(nc, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			c.Close()
			return nil, fmt.Errorf("s2s: TLS with %s: %w", remote, err)
		}
		c.Conn = tc
		c.dec.Reset(tc)
		if _, err := openStream(c, local, remote); err != nil {
			c.Close()
			return nil, err
		}
	case s.opts.RequireTLS:
		c.Close()
		return nil, fmt.Errorf("s2s: %s does not offer STARTTLS", remote)
	}
	_ = c.SetDeadline(time.Time{})
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	return c, nil
}

// openStream sends our header, reads the peer's header and its features.
// The peer's stream id is kept in c.id.
func openStream(c *conn, local, remote string) (*xmlstream.Element, error) {
	if err := c.write(header(local, remote, "")); err != nil {
		return nil, err
	}
	h, err := c.dec.ReadHeader()
	if err != nil {
		return nil, err
	}
	if h.Content != xmlstream.NSServer {
		return nil, fmt.Errorf("s2s: %s answered with content namespace %q", remote, h.Content)
	}
	c.id = h.Attr("id")
	if h.Attr("version") == "" {
		return &xmlstream.Element{}, nil // pre-XMPP 1.0 peer: no features
	}
	el, err := c.dec.Next()
	if err != nil {
		return nil, err
	}
	if el.Name.Space != xmlstream.NSStream || el.Name.Local != "features" {
		return nil, fmt.Errorf("s2s: %s sent %s instead of stream features", remote, el.Name.Local)
	}
	return el.Element()
}

// authenticate sends our dialback key and waits for the verdict.
func (o *outbound) authenticate(c *conn) error {
	key := dialbackKey(o.s.opts.Secret, o.p.remote, o.p.local, c.id)
	if err := c.write(dialbackElement("result", o.p.local, o.p.remote, "", "", key)); err != nil {
		return err
	}
	for {
		el, err := c.dec.Next()
		if err != nil {
			return err
		}
		switch {
		case el.Name.Space == nsDialback && el.Name.Local == "result" &&
			el.From() == o.p.remote && el.To() == o.p.local:
			switch el.Type() {
			case "valid":
				return nil
			case "invalid":
				return fmt.Errorf("s2s: %s rejected our dialback key", o.p.remote)
			default:
				return fmt.Errorf("s2s: dialback error from %s: %s", o.p.remote, el.Raw)
			}
		case el.Name.Space == xmlstream.NSStream && el.Name.Local == "error":
			return fmt.Errorf("s2s: stream error from %s: %s", o.p.remote, el.Raw)
		}
	}
}
