// Package xmpptest is a small XMPP client for integration tests: it speaks
// TCP (with STARTTLS), direct TLS and WebSocket (RFC 7395), authenticates
// with mellium.im/sasl's client mechanisms, binds, and reads with deadlines
// so a test fails with a clear message instead of hanging.
//
//	c := xmpptest.Dial(t, addr)
//	c.Domain = "example.com"
//	c.Open()
//	c.StartTLS()
//	if err := c.Auth("SCRAM-SHA-256", "alice", "secret"); err != nil { t.Fatal(err) }
//	full := c.Bind("phone")
//	c.SendRaw("<presence/>")
//	c.Expect(t, xmpptest.IsKind("presence"), time.Second)
package xmpptest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/gavelhq/gavel/xmlstream"
)

// DefaultTimeout bounds every wait that takes no explicit timeout.
const DefaultTimeout = 5 * time.Second

// Namespaces the client uses.
const (
	NSTLS     = "urn:ietf:params:xml:ns:xmpp-tls"
	NSSASL    = "urn:ietf:params:xml:ns:xmpp-sasl"
	NSBind    = "urn:ietf:params:xml:ns:xmpp-bind"
	NSSession = "urn:ietf:params:xml:ns:xmpp-session"
)

// ErrTimeout is returned by Next when nothing arrived in time.
var ErrTimeout = errors.New("xmpptest: timeout")

// Client is a test XMPP client. It is not safe for concurrent use, except
// that Close may be called at any time.
type Client struct {
	t testing.TB
	// Domain is the 'to' of stream headers and the TLS server name
	// (default "localhost").
	Domain string
	// Lang is the xml:lang of stream headers (default "en").
	Lang string

	// Header is the server's last stream header (or <open/>).
	Header xmlstream.StreamHeader
	// Features are the server's last <stream:features/>.
	Features *xmlstream.Element
	// JID is the full JID after Bind.
	JID string

	ws      *websocket.Conn
	wsCtx   context.Context
	cancel  context.CancelFunc
	raw     net.Conn
	conn    net.Conn // raw or TLS
	dec     *xmlstream.Decoder
	lim     xmlstream.Limits
	pending chan readResult // the read in flight, if any
	ended   bool            // the server's stream end was seen

	sm smClient // XEP-0198 counters (sm.go)

	closeOnce sync.Once
}

type readResult struct {
	st     *xmlstream.Stanza
	header *xmlstream.StreamHeader
	err    error
}

// Dial connects over TCP; the stream is not opened yet (see Open).
func Dial(t testing.TB, addr string) *Client {
	t.Helper()
	raw, err := net.DialTimeout("tcp", addr, DefaultTimeout)
	if err != nil {
		t.Fatalf("xmpptest: dial %s: %v", addr, err)
	}
	return newTCPClient(t, raw, raw)
}

// DialDirectTLS connects with TLS from the first byte (XEP-0368, ALPN
// xmpp-client), trusting any certificate.
func DialDirectTLS(t testing.TB, addr, domain string) *Client {
	t.Helper()
	raw, err := net.DialTimeout("tcp", addr, DefaultTimeout)
	if err != nil {
		t.Fatalf("xmpptest: dial %s: %v", addr, err)
	}
	tc := tls.Client(raw, &tls.Config{ServerName: domain, InsecureSkipVerify: true, NextProtos: []string{"xmpp-client"}})
	_ = raw.SetDeadline(time.Now().Add(DefaultTimeout))
	if err := tc.Handshake(); err != nil {
		_ = raw.Close()
		t.Fatalf("xmpptest: direct TLS handshake with %s: %v", addr, err)
	}
	_ = raw.SetDeadline(time.Time{})
	c := newTCPClient(t, raw, tc)
	c.Domain = domain
	return c
}

func newTCPClient(t testing.TB, raw, conn net.Conn) *Client {
	c := &Client{t: t, Domain: "localhost", Lang: "en", raw: raw, conn: conn}
	c.dec = xmlstream.NewDecoder(conn, c.lim)
	t.Cleanup(c.Close)
	return c
}

// DialWebSocket connects to an RFC 7395 endpoint (ws:// or wss://) with the
// "xmpp" subprotocol.
func DialWebSocket(t testing.TB, url string) *Client {
	t.Helper()
	return DialWebSocketOptions(t, url, &websocket.DialOptions{Subprotocols: []string{"xmpp"}})
}

// DialWebSocketOptions is DialWebSocket with explicit dial options.
func DialWebSocketOptions(t testing.TB, url string, opts *websocket.DialOptions) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, url, opts)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		t.Fatalf("xmpptest: WebSocket dial %s: %v", url, err)
	}
	ws.SetReadLimit(1 << 20)
	c := &Client{t: t, Domain: "localhost", Lang: "en", ws: ws}
	c.wsCtx, c.cancel = context.WithCancel(context.Background())
	t.Cleanup(c.Close)
	return c
}

// IsWebSocket reports whether the client speaks RFC 7395 framing.
func (c *Client) IsWebSocket() bool { return c.ws != nil }

// Open sends the stream opening for Domain and reads the server's header and
// features; it fails the test if either does not come.
func (c *Client) Open() *xmlstream.Element {
	c.t.Helper()
	if c.ws != nil {
		c.SendRaw(fmt.Sprintf("<open xmlns='%s' to='%s' version='1.0' xml:lang='%s'/>", xmlstream.NSFraming, c.Domain, c.Lang))
	} else {
		c.SendRaw(fmt.Sprintf("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='%s' to='%s' version='1.0' xml:lang='%s'>",
			xmlstream.NSStream, c.Domain, c.Lang))
	}
	return c.ReadOpen()
}

// ReadOpen reads the server's stream header and features (after Open or a
// hand-written header sent with SendRaw).
func (c *Client) ReadOpen() *xmlstream.Element {
	c.t.Helper()
	h, err := c.NextHeader(DefaultTimeout)
	if err != nil {
		c.t.Fatalf("xmpptest: no stream header from the server: %v", err)
	}
	c.Header = h
	st := c.Expect(c.t, IsName(xmlstream.NSStream, "features"), DefaultTimeout)
	f, err := st.Element()
	if err != nil {
		c.t.Fatalf("xmpptest: unparsable features: %v", err)
	}
	c.Features = f
	return f
}

// SendRaw writes s as is (one WebSocket message on WebSocket).
func (c *Client) SendRaw(s string) {
	c.t.Helper()
	if err := c.write([]byte(s)); err != nil {
		c.t.Fatalf("xmpptest: write: %v", err)
	}
}

// Send writes el as a standalone element (its namespace declared).
func (c *Client) Send(el *xmlstream.Element) {
	c.t.Helper()
	c.SendRaw(el.String())
}

// TrySend writes s and returns the error instead of failing the test.
func (c *Client) TrySend(s string) error { return c.write([]byte(s)) }

func (c *Client) write(b []byte) error {
	if c.ws != nil {
		ctx, cancel := context.WithTimeout(c.wsCtx, DefaultTimeout)
		defer cancel()
		return c.ws.Write(ctx, websocket.MessageText, b)
	}
	_ = c.conn.SetWriteDeadline(time.Now().Add(DefaultTimeout))
	_, err := c.conn.Write(b)
	return err
}

// Next returns the next top-level element within timeout. It returns
// xmlstream.ErrStreamEnd at the server's </stream:stream> (or <close/>),
// ErrTimeout when nothing came in time (the read stays pending for the next
// call), or the connection's error.
func (c *Client) Next(timeout time.Duration) (*xmlstream.Stanza, error) {
	deadline := time.Now().Add(timeout)
	for {
		r := c.await(max(time.Until(deadline), 0), false)
		if r.err == nil && r.header != nil {
			return nil, fmt.Errorf("xmpptest: unexpected stream header (id %q)", r.header.Attr("id"))
		}
		if errors.Is(r.err, xmlstream.ErrStreamEnd) {
			c.ended = true
		}
		if r.err == nil && c.smObserve(r.st) {
			continue // an ack request answered by AutoAck
		}
		return r.st, r.err
	}
}

// NextHeader reads the server's stream header (or <open/>) within timeout.
func (c *Client) NextHeader(timeout time.Duration) (xmlstream.StreamHeader, error) {
	r := c.await(timeout, true)
	if r.err != nil {
		return xmlstream.StreamHeader{}, r.err
	}
	if r.header == nil {
		return xmlstream.StreamHeader{}, fmt.Errorf("xmpptest: expected a stream header, got %s", r.st.Raw)
	}
	return *r.header, nil
}

func (c *Client) await(timeout time.Duration, header bool) readResult {
	if c.pending == nil {
		ch := make(chan readResult, 1)
		c.pending = ch
		go func() { ch <- c.read(header) }()
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case r := <-c.pending:
		c.pending = nil
		return r
	case <-t.C:
		return readResult{err: ErrTimeout}
	}
}

// read runs on its own goroutine, one read at a time.
func (c *Client) read(header bool) readResult {
	if c.ws == nil {
		if header {
			h, err := c.dec.ReadHeader()
			if err != nil {
				return readResult{err: err}
			}
			return readResult{header: &h}
		}
		st, err := c.dec.Next()
		return readResult{st: st, err: err}
	}
	for {
		typ, b, err := c.ws.Read(c.wsCtx)
		if err != nil {
			return readResult{err: err}
		}
		if typ != websocket.MessageText {
			return readResult{err: fmt.Errorf("xmpptest: binary WebSocket message")}
		}
		if strings.TrimSpace(string(b)) == "" {
			continue
		}
		st, err := xmlstream.ParseStanza(b, "", c.lim)
		if err != nil {
			return readResult{err: fmt.Errorf("xmpptest: bad WebSocket message %q: %w", b, err)}
		}
		switch st.Name {
		case xmlstream.Name{Space: xmlstream.NSFraming, Local: "open"}:
			h := xmlstream.StreamHeader{Name: st.Name, Attrs: st.Attrs}
			return readResult{header: &h}
		case xmlstream.Name{Space: xmlstream.NSFraming, Local: "close"}:
			return readResult{err: xmlstream.ErrStreamEnd}
		}
		return readResult{st: st}
	}
}

// Expect returns the first element matching pred within timeout, skipping
// others; it fails t if none comes or the stream ends.
func (c *Client) Expect(t testing.TB, pred func(*xmlstream.Stanza) bool, timeout time.Duration) *xmlstream.Stanza {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var skipped []string
	for {
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("xmpptest: expected element not received within %v; skipped: %v", timeout, skipped)
		}
		st, err := c.Next(left)
		if err != nil {
			t.Fatalf("xmpptest: expected element not received: %v; skipped: %v", err, skipped)
		}
		if pred(st) {
			return st
		}
		skipped = append(skipped, string(st.Raw))
	}
}

// ExpectError waits for a stanza of type error carrying condition and
// returns it.
func (c *Client) ExpectError(t testing.TB, condition string, timeout time.Duration) *xmlstream.Stanza {
	t.Helper()
	st := c.Expect(t, func(st *xmlstream.Stanza) bool { return st.Type() == "error" }, timeout)
	if got := ErrorCondition(st); got != condition {
		t.Fatalf("xmpptest: stanza error %q, want %q: %s", got, condition, st.Raw)
	}
	return st
}

// ExpectStreamError waits for <stream:error/> with condition, then for the
// end of the stream and the connection.
func (c *Client) ExpectStreamError(t testing.TB, condition string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var skipped []string
	for {
		st, err := c.Next(max(time.Until(deadline), time.Millisecond))
		if err != nil {
			t.Fatalf("xmpptest: expected stream error %q, got %v; skipped: %v", condition, err, skipped)
		}
		if st.Name != (xmlstream.Name{Space: xmlstream.NSStream, Local: "error"}) {
			skipped = append(skipped, string(st.Raw))
			continue
		}
		if got := StreamErrorCondition(st); got != condition {
			t.Fatalf("xmpptest: stream error %q, want %q: %s", got, condition, st.Raw)
		}
		break
	}
	c.ExpectEnd(t, time.Until(deadline)+time.Second)
}

// ExpectEnd waits for the server's end of stream (</stream:stream> or
// <close/>) followed by the connection's close.
func (c *Client) ExpectEnd(t testing.TB, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	if !c.ended {
		st, err := c.Next(max(time.Until(deadline), time.Millisecond))
		switch {
		case errors.Is(err, xmlstream.ErrStreamEnd):
			c.ended = true
		case err != nil:
			t.Fatalf("xmpptest: expected the end of the stream, got %v", err)
		default:
			t.Fatalf("xmpptest: expected the end of the stream, got %s", st.Raw)
		}
	}
	c.expectClosed(t, max(time.Until(deadline), time.Millisecond))
}

// expectClosed waits until the server closes the connection.
func (c *Client) expectClosed(t testing.TB, timeout time.Duration) {
	t.Helper()
	if c.ws != nil {
		ctx, cancel := context.WithTimeout(c.wsCtx, timeout)
		defer cancel()
		_, _, err := c.ws.Read(ctx)
		if err == nil {
			t.Fatalf("xmpptest: data after the end of the stream")
		}
		if ctx.Err() != nil {
			t.Fatalf("xmpptest: the server did not close the WebSocket within %v", timeout)
		}
		return
	}
	_ = c.conn.SetReadDeadline(time.Now().Add(timeout))
	var buf [64]byte
	n, err := c.conn.Read(buf[:])
	_ = c.conn.SetReadDeadline(time.Time{})
	if n > 0 {
		t.Fatalf("xmpptest: data after the end of the stream: %q", buf[:n])
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("xmpptest: the server did not close the connection within %v", timeout)
	}
}

// Close ends the stream politely if it is still open and closes the
// connection. It is registered with t.Cleanup and safe to call twice.
func (c *Client) Close() {
	c.closeOnce.Do(func() {
		if c.ws != nil {
			ctx, cancel := context.WithTimeout(c.wsCtx, 200*time.Millisecond)
			_ = c.ws.Write(ctx, websocket.MessageText, []byte("<close xmlns='"+xmlstream.NSFraming+"'/>"))
			cancel()
			_ = c.ws.CloseNow()
			c.cancel()
			return
		}
		_ = c.conn.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
		_, _ = c.conn.Write([]byte("</stream:stream>"))
		_ = c.raw.Close()
	})
}

// CloseNow drops the connection without ending the stream.
func (c *Client) CloseNow() {
	c.closeOnce.Do(func() {
		if c.ws != nil {
			_ = c.ws.CloseNow()
			c.cancel()
			return
		}
		_ = c.raw.Close()
	})
}

// Conn is the client's network connection (TCP clients only): tests use it
// to stop reading or to write bytes no XML writer would produce.
func (c *Client) Conn() net.Conn { return c.conn }
