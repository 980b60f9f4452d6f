package bench

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/gavelhq/gavel/xmlstream"
)

// Namespaces the client speaks.
const (
	nsTLS      = "urn:ietf:params:xml:ns:xmpp-tls"
	nsSASL     = "urn:ietf:params:xml:ns:xmpp-sasl"
	nsBind     = "urn:ietf:params:xml:ns:xmpp-bind"
	nsSession  = "urn:ietf:params:xml:ns:xmpp-session"
	nsPing     = "urn:xmpp:ping"
	nsRegister = "jabber:iq:register"
)

// Dialer opens client connections as a Config describes. It is safe for
// concurrent use.
type Dialer struct {
	cfg   *Config
	cache *SCRAMCache
	// spread: number of source addresses 127.0.0.1..127.0.0.spread to
	// rotate over; 0 or 1 uses the kernel's choice.
	spread int
	// RcvBuf (may be nil) gives connection idx a socket receive buffer of
	// that many bytes (0: the kernel's autotuned default). S4 shrinks the
	// slow readers' buffers so their backlog builds up in the server.
	RcvBuf func(idx int) int
}

// NewDialer returns a dialer for cfg. total is the number of connections
// the run will open; above cfg.SpreadAbove their source addresses rotate
// over 127.0.0.x with about SpreadAbove/2 connections per address.
func NewDialer(cfg *Config, cache *SCRAMCache, total int) *Dialer {
	d := &Dialer{cfg: cfg, cache: cache}
	if cfg.SpreadAbove > 0 && total > cfg.SpreadAbove {
		per := max(cfg.SpreadAbove/2, 1)
		d.spread = min((total+per-1)/per, 250)
	}
	return d
}

// netDialer returns the dialer for connection number idx.
func (d *Dialer) netDialer(idx int) *net.Dialer {
	nd := &net.Dialer{Timeout: d.cfg.ConnectTimeout}
	if d.spread > 1 {
		nd.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+idx%d.spread))}
	}
	if d.RcvBuf != nil {
		if n := d.RcvBuf(idx); n > 0 {
			nd.Control = rcvBufControl(n)
		}
	}
	return nd
}

func (d *Dialer) tlsConfig(alpn bool) *tls.Config {
	c := &tls.Config{
		ServerName: d.cfg.Domain,
		// Loopback benchmarks against self-signed certificates.
		InsecureSkipVerify: true,
		MinVersion:         tls.VersionTLS12,
	}
	if !d.cfg.PQTLS {
		c.CurvePreferences = []tls.CurveID{tls.X25519}
	}
	if alpn {
		c.NextProtos = []string{"xmpp-client"}
	}
	return c
}

// Client is one XMPP client connection. Send may be called from any
// goroutine; Next from one goroutine at a time.
type Client struct {
	d      *Dialer
	raw    net.Conn // TCP
	conn   net.Conn // raw or TLS over it
	dec    *xmlstream.Decoder
	ws     *websocket.Conn
	wsCtx  context.Context
	wsStop context.CancelFunc

	wmu sync.Mutex

	// Set by Login.
	JID       string
	Mechanism string
	TLS       bool

	closeOnce sync.Once
}

// SetReadBuffer sets the TCP socket's receive buffer (no-op on WebSocket).
func (c *Client) SetReadBuffer(n int) error {
	if tc, ok := c.raw.(*net.TCPConn); ok {
		return tc.SetReadBuffer(n)
	}
	return nil
}

// Dial connects (connection number idx of the run) without opening the stream.
func (d *Dialer) Dial(ctx context.Context, idx int) (*Client, error) {
	c := &Client{d: d}
	if d.cfg.Transport == "ws" {
		nd := d.netDialer(idx)
		hc := &http.Client{Transport: &http.Transport{DialContext: nd.DialContext, TLSClientConfig: d.tlsConfig(false)}}
		ws, resp, err := websocket.Dial(ctx, d.cfg.WSURL, &websocket.DialOptions{HTTPClient: hc, Subprotocols: []string{"xmpp"}})
		if resp != nil && resp.Body != nil {
			_ = resp.Body.Close()
		}
		if err != nil {
			return nil, fmt.Errorf("websocket dial: %w", err)
		}
		ws.SetReadLimit(1 << 20)
		c.ws = ws
		c.wsCtx, c.wsStop = context.WithCancel(context.Background())
		c.TLS = strings.HasPrefix(d.cfg.WSURL, "wss://")
		return c, nil
	}
	raw, err := d.netDialer(idx).DialContext(ctx, "tcp", d.cfg.Addr)
	if err != nil {
		return nil, err
	}
	c.raw, c.conn = raw, raw
	if d.cfg.TLS == "direct" {
		tc := tls.Client(raw, d.tlsConfig(true))
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = raw.Close()
			return nil, fmt.Errorf("TLS handshake: %w", err)
		}
		c.conn, c.TLS = tc, true
	}
	c.dec = xmlstream.NewDecoder(c.conn, xmlstream.Limits{})
	return c, nil
}

// Send writes one element (or stream header) as is; on WebSocket it is one message.
func (c *Client) Send(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.ws != nil {
		return c.ws.Write(c.wsCtx, websocket.MessageText, b)
	}
	_, err := c.conn.Write(b)
	return err
}

// SendString is Send for a string.
func (c *Client) SendString(s string) error { return c.Send([]byte(s)) }

// Next returns the next top-level element. It returns
// xmlstream.ErrStreamEnd at the server's </stream:stream> or <close/>.
func (c *Client) Next() (*xmlstream.Stanza, error) {
	if c.ws == nil {
		return c.dec.Next()
	}
	st, hdr, err := c.nextWS()
	if err == nil && hdr {
		return nil, errors.New("unexpected <open/>")
	}
	return st, err
}

func (c *Client) nextWS() (st *xmlstream.Stanza, header bool, err error) {
	for {
		typ, b, err := c.ws.Read(c.wsCtx)
		if err != nil {
			return nil, false, err
		}
		if typ != websocket.MessageText {
			return nil, false, errors.New("binary WebSocket message")
		}
		if len(strings.TrimSpace(string(b))) == 0 {
			continue
		}
		st, err := xmlstream.ParseStanza(b, "", xmlstream.Limits{})
		if err != nil {
			return nil, false, fmt.Errorf("bad WebSocket message: %w", err)
		}
		switch st.Name {
		case xmlstream.Name{Space: xmlstream.NSFraming, Local: "open"}:
			return st, true, nil
		case xmlstream.Name{Space: xmlstream.NSFraming, Local: "close"}:
			return nil, false, xmlstream.ErrStreamEnd
		}
		return st, false, nil
	}
}

// Close ends the stream and the connection without waiting for the
// server's answer. Safe to call more than once and concurrently.
func (c *Client) Close() {
	c.closeOnce.Do(func() {
		if c.ws != nil {
			ctx, cancel := context.WithTimeout(c.wsCtx, 200*time.Millisecond)
			_ = c.ws.Write(ctx, websocket.MessageText, []byte("<close xmlns='"+xmlstream.NSFraming+"'/>"))
			cancel()
			_ = c.ws.CloseNow()
			c.wsStop()
			return
		}
		_ = c.conn.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
		_, _ = c.conn.Write([]byte("</stream:stream>"))
		_ = c.raw.Close()
	})
}

// Abort closes the connection at once, unblocking readers and writers.
func (c *Client) Abort() {
	c.closeOnce.Do(func() {
		if c.ws != nil {
			_ = c.ws.CloseNow()
			c.wsStop()
			return
		}
		_ = c.raw.Close()
	})
}

// ns is the content namespace declaration stanzas need: RFC 7395 messages
// are standalone documents; on TCP the stream header declares it.
func (c *Client) ns() string {
	if c.ws != nil {
		return " xmlns='jabber:client'"
	}
	return ""
}

// setDeadline bounds the blocking reads and writes of the login.
func (c *Client) setDeadline(t time.Time) {
	if c.raw != nil {
		_ = c.raw.SetDeadline(t)
	}
}

// open sends the stream header and returns the features.
func (c *Client) open() (*xmlstream.Element, error) {
	domain := c.d.cfg.Domain
	if c.ws != nil {
		if err := c.SendString("<open xmlns='" + xmlstream.NSFraming + "' to='" + domain + "' version='1.0'/>"); err != nil {
			return nil, err
		}
		st, hdr, err := c.nextWS()
		if err != nil {
			return nil, err
		}
		if !hdr {
			return nil, fmt.Errorf("expected <open/>, got %.200s", st.Raw)
		}
	} else {
		if err := c.SendString("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='" +
			xmlstream.NSStream + "' to='" + domain + "' version='1.0'>"); err != nil {
			return nil, err
		}
		if _, err := c.dec.ReadHeader(); err != nil {
			return nil, fmt.Errorf("stream header: %w", err)
		}
	}
	st, err := c.Next()
	if err != nil {
		return nil, fmt.Errorf("features: %w", err)
	}
	if st.Name != (xmlstream.Name{Space: xmlstream.NSStream, Local: "features"}) {
		return nil, fmt.Errorf("expected features, got %.200s", st.Raw)
	}
	return st.Element()
}

// restart prepares the decoder for a new stream on the same transport.
func (c *Client) restart() {
	if c.ws == nil {
		c.dec.Reset(c.conn)
	}
}

// expect reads the next element and fails unless it is in space.
func (c *Client) expect(space string) (*xmlstream.Stanza, error) {
	st, err := c.Next()
	if err != nil {
		return nil, err
	}
	if st.Name.Space != space {
		return nil, fmt.Errorf("unexpected %.200s", st.Raw)
	}
	return st, nil
}

// Login opens the stream, negotiates STARTTLS when configured and offered,
// authenticates, binds resource, sends initial presence and waits for the
// answer to a ping sent right after it, so the login is complete from the
// server's point of view when Login returns.
func (c *Client) Login(ctx context.Context, user, resource string) error {
	if dl, ok := ctx.Deadline(); ok {
		c.setDeadline(dl)
		defer c.setDeadline(time.Time{})
	}
	f, err := c.open()
	if err != nil {
		return err
	}
	if c.ws == nil && !c.TLS && c.d.cfg.TLS == "starttls" {
		if f.Child(nsTLS, "starttls") == nil {
			return errors.New("STARTTLS requested but not offered (use -tls none)")
		}
		if err := c.startTLS(ctx); err != nil {
			return err
		}
		if f, err = c.open(); err != nil {
			return err
		}
	}
	if err := c.auth(f, user); err != nil {
		return err
	}
	c.restart()
	if f, err = c.open(); err != nil {
		return err
	}
	if err := c.bind(resource); err != nil {
		return err
	}
	if s := f.Child(nsSession, "session"); s != nil && s.Child("", "optional") == nil {
		if err := c.iqRoundTrip("<iq type='set' id='sess'"+c.ns()+"><session xmlns='"+nsSession+"'/></iq>", "sess"); err != nil {
			return fmt.Errorf("session: %w", err)
		}
	}
	presence := "<presence" + c.ns() + "/>"
	ping := "<iq type='get' id='login-ping' to='" + c.d.cfg.Domain + "'" + c.ns() + "><ping xmlns='" + nsPing + "'/></iq>"
	if c.ws != nil { // one element per WebSocket message
		if err := c.SendString(presence); err != nil {
			return err
		}
		presence = ""
	}
	return c.iqRoundTrip(presence+ping, "login-ping")
}

func (c *Client) startTLS(ctx context.Context) error {
	if err := c.SendString("<starttls xmlns='" + nsTLS + "'/>"); err != nil {
		return err
	}
	st, err := c.expect(nsTLS)
	if err != nil {
		return err
	}
	if st.Name.Local != "proceed" {
		return fmt.Errorf("STARTTLS refused: %.200s", st.Raw)
	}
	tc := tls.Client(c.raw, c.d.tlsConfig(false))
	if err := tc.HandshakeContext(ctx); err != nil {
		return fmt.Errorf("TLS handshake: %w", err)
	}
	c.conn, c.TLS = tc, true
	c.dec = xmlstream.NewDecoder(tc, xmlstream.Limits{})
	return nil
}

// chooseMechanism picks from the offered mechanisms per the config.
func (c *Client) chooseMechanism(f *xmlstream.Element) (string, error) {
	offered := map[string]bool{}
	if m := f.Child(nsSASL, "mechanisms"); m != nil {
		for _, e := range m.ChildrenNamed(nsSASL, "mechanism") {
			offered[strings.TrimSpace(e.Text())] = true
		}
	}
	want := []string{c.d.cfg.Mechanism}
	if c.d.cfg.Mechanism == "auto" {
		want = []string{"SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"}
	}
	for _, m := range want {
		if offered[m] {
			return m, nil
		}
	}
	names := make([]string, 0, len(offered))
	for m := range offered {
		names = append(names, m)
	}
	return "", fmt.Errorf("no usable SASL mechanism (wanted %v, offered %v)", want, names)
}

func (c *Client) auth(f *xmlstream.Element, user string) error {
	mech, err := c.chooseMechanism(f)
	if err != nil {
		return err
	}
	c.Mechanism = mech
	if mech == "PLAIN" {
		msg := "\x00" + user + "\x00" + c.d.cfg.Password
		if err := c.SendString(saslElement("auth", mech, []byte(msg))); err != nil {
			return err
		}
		return c.saslOutcome(nil)
	}
	sc, err := NewSCRAMClient(mech, user, c.d.cfg.Password, c.d.cache)
	if err != nil {
		return err
	}
	if err := c.SendString(saslElement("auth", mech, sc.First())); err != nil {
		return err
	}
	st, err := c.expect(nsSASL)
	if err != nil {
		return err
	}
	if st.Name.Local != "challenge" {
		return saslFailure(st)
	}
	data, err := saslData(st)
	if err != nil {
		return err
	}
	final, err := sc.Final(data)
	if err != nil {
		return err
	}
	if err := c.SendString(saslElement("response", "", final)); err != nil {
		return err
	}
	return c.saslOutcome(sc)
}

// saslOutcome reads <success/> (verifying SCRAM's server signature) or
// reports the failure.
func (c *Client) saslOutcome(sc *SCRAMClient) error {
	st, err := c.expect(nsSASL)
	if err != nil {
		return err
	}
	switch st.Name.Local {
	case "success":
		if sc == nil {
			return nil
		}
		data, err := saslData(st)
		if err != nil {
			return err
		}
		return sc.Verify(data)
	case "challenge": // RFC 6120 allows server-final in a challenge, then an empty success
		if sc == nil {
			return fmt.Errorf("unexpected %.200s", st.Raw)
		}
		data, err := saslData(st)
		if err != nil {
			return err
		}
		if err := sc.Verify(data); err != nil {
			return err
		}
		if err := c.SendString(saslElement("response", "", nil)); err != nil {
			return err
		}
		return c.saslOutcome(nil)
	}
	return saslFailure(st)
}

func saslFailure(st *xmlstream.Stanza) error {
	cond := "unknown"
	if el, err := st.Element(); err == nil && el.FirstElement() != nil {
		cond = el.FirstElement().Name.Local
	}
	return fmt.Errorf("SASL %s: %s", st.Name.Local, cond)
}

func saslData(st *xmlstream.Stanza) ([]byte, error) {
	el, err := st.Element()
	if err != nil {
		return nil, err
	}
	s := strings.TrimSpace(el.Text())
	if s == "" || s == "=" {
		return nil, nil
	}
	return base64.StdEncoding.DecodeString(s)
}

// saslElement builds <name mechanism=...>base64</name> (SASL elements carry
// their own namespace on every transport).
func saslElement(name, mechanism string, data []byte) string {
	var b strings.Builder
	b.WriteString("<" + name + " xmlns='" + nsSASL + "'")
	if mechanism != "" {
		b.WriteString(" mechanism='" + mechanism + "'")
	}
	b.WriteString(">")
	if len(data) == 0 {
		b.WriteString("=")
	} else {
		b.WriteString(base64.StdEncoding.EncodeToString(data))
	}
	b.WriteString("</" + name + ">")
	return b.String()
}

func (c *Client) bind(resource string) error {
	if err := c.SendString("<iq type='set' id='bind'" + c.ns() + "><bind xmlns='" + nsBind + "'><resource>" +
		string(xmlstream.AppendEscaped(nil, resource)) + "</resource></bind></iq>"); err != nil {
		return err
	}
	st, err := c.waitIQ("bind")
	if err != nil {
		return err
	}
	if st.Type() != "result" {
		return fmt.Errorf("bind: %.200s", st.Raw)
	}
	el, err := st.Element()
	if err != nil {
		return err
	}
	b := el.Child(nsBind, "bind")
	if b == nil || b.ChildText(nsBind, "jid") == "" {
		return fmt.Errorf("bind result without jid: %.200s", st.Raw)
	}
	c.JID = strings.TrimSpace(b.ChildText(nsBind, "jid"))
	return nil
}

// waitIQ reads until the iq with id arrives, skipping other stanzas (the
// server may send presence or pings meanwhile). Bounded by the deadline of
// the connection and by maxSkipped.
func (c *Client) waitIQ(id string) (*xmlstream.Stanza, error) {
	const maxSkipped = 1000
	for range maxSkipped {
		st, err := c.Next()
		if err != nil {
			return nil, err
		}
		if st.Name.Space == xmlstream.NSStream && st.Name.Local == "error" {
			return nil, fmt.Errorf("stream error: %.300s", st.Raw)
		}
		if st.Name.Local == "iq" && st.ID() == id {
			return st, nil
		}
		c.AnswerPing(st)
	}
	return nil, fmt.Errorf("no answer to iq %q after %d other stanzas", id, maxSkipped)
}

// iqRoundTrip sends raw and waits for the iq with id; an error reply is an error.
func (c *Client) iqRoundTrip(raw, id string) error {
	if err := c.SendString(raw); err != nil {
		return err
	}
	st, err := c.waitIQ(id)
	if err != nil {
		return err
	}
	if st.Type() != "result" {
		return fmt.Errorf("iq %s: %.300s", id, st.Raw)
	}
	return nil
}

// AnswerPing answers an XEP-0199 ping from the server (or any iq get/set,
// with service-unavailable) and reports whether st was such an iq.
func (c *Client) AnswerPing(st *xmlstream.Stanza) bool {
	if st.Name.Local != "iq" || (st.Type() != "get" && st.Type() != "set") {
		return false
	}
	var b strings.Builder
	b.WriteString("<iq type='")
	isPing := false
	if el, err := st.Element(); err == nil && el.Child(nsPing, "ping") != nil {
		isPing = true
	}
	if isPing {
		b.WriteString("result'")
	} else {
		b.WriteString("error'")
	}
	b.WriteString(" id='")
	b.Write(xmlstream.AppendEscaped(nil, st.ID()))
	b.WriteString("'")
	if from := st.From(); from != "" {
		b.WriteString(" to='")
		b.Write(xmlstream.AppendEscaped(nil, from))
		b.WriteString("'")
	}
	b.WriteString(c.ns())
	if isPing {
		b.WriteString("/>")
	} else {
		b.WriteString("><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>")
	}
	_ = c.SendString(b.String())
	return true
}

// Register creates user in-band (XEP-0077) on an unauthenticated stream
// (STARTTLS first when configured and offered). An account that already
// exists counts as success.
func (c *Client) Register(ctx context.Context, user string) error {
	if dl, ok := ctx.Deadline(); ok {
		c.setDeadline(dl)
		defer c.setDeadline(time.Time{})
	}
	f, err := c.open()
	if err != nil {
		return err
	}
	if c.ws == nil && !c.TLS && c.d.cfg.TLS == "starttls" && f.Child(nsTLS, "starttls") != nil {
		if err := c.startTLS(ctx); err != nil {
			return err
		}
		if _, err = c.open(); err != nil {
			return err
		}
	}
	if err := c.SendString("<iq type='set' id='reg'" + c.ns() + "><query xmlns='" + nsRegister + "'><username>" + user +
		"</username><password>" + c.d.cfg.Password + "</password></query></iq>"); err != nil {
		return err
	}
	st, err := c.waitIQ("reg")
	if err != nil {
		return err
	}
	if st.Type() == "result" {
		return nil
	}
	if el, err := st.Element(); err == nil {
		if e := el.Child("", "error"); e != nil && e.Child(xmlstream.NSStanzas, "conflict") != nil {
			return nil
		}
	}
	return fmt.Errorf("registration of %s refused: %.300s", user, st.Raw)
}

// AccountName is the localpart of account i.
func AccountName(prefix string, i int) string { return prefix + strconv.Itoa(i) }
