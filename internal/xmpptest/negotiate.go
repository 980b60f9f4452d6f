package xmpptest

import (
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"mellium.im/sasl"

	"github.com/gavelhq/gavel/xmlstream"
)

// HasFeature reports whether the last features offer {space}local.
func (c *Client) HasFeature(space, local string) bool {
	return c.Features != nil && c.Features.Child(space, local) != nil
}

// Mechanisms lists the SASL mechanisms of the last features.
func (c *Client) Mechanisms() []string {
	var out []string
	if c.Features == nil {
		return nil
	}
	if m := c.Features.Child(NSSASL, "mechanisms"); m != nil {
		for _, e := range m.ChildrenNamed(NSSASL, "mechanism") {
			out = append(out, e.Text())
		}
	}
	return out
}

// StartTLS negotiates STARTTLS (trusting any certificate) and reopens the
// stream; it fails the test if the server does not proceed.
func (c *Client) StartTLS() *xmlstream.Element {
	c.t.Helper()
	if c.ws != nil {
		c.t.Fatalf("xmpptest: no STARTTLS on WebSocket")
	}
	c.SendRaw("<starttls xmlns='" + NSTLS + "'/>")
	st := c.Expect(c.t, func(st *xmlstream.Stanza) bool { return st.Name.Space == NSTLS }, DefaultTimeout)
	if st.Name.Local != "proceed" {
		c.t.Fatalf("xmpptest: STARTTLS refused: %s", st.Raw)
	}
	c.UpgradeTLS()
	return c.Open()
}

// UpgradeTLS runs the TLS handshake after the server's <proceed/> (for tests
// that drive STARTTLS by hand); the stream must then be reopened.
func (c *Client) UpgradeTLS() {
	c.t.Helper()
	tc := tls.Client(c.raw, &tls.Config{ServerName: c.Domain, InsecureSkipVerify: true})
	_ = c.raw.SetDeadline(time.Now().Add(DefaultTimeout))
	if err := tc.Handshake(); err != nil {
		c.t.Fatalf("xmpptest: TLS handshake: %v", err)
	}
	_ = c.raw.SetDeadline(time.Time{})
	c.conn = tc
	c.dec = xmlstream.NewDecoder(tc, c.lim)
}

// SASLFailure is a <failure/> the server answered authentication with.
type SASLFailure struct {
	Condition string
	Text      string
}

func (f *SASLFailure) Error() string { return "sasl failure: " + f.Condition + " " + f.Text }

// Mechanism returns mellium's client mechanism for name.
func Mechanism(name string) (sasl.Mechanism, bool) {
	switch name {
	case "SCRAM-SHA-256":
		return sasl.ScramSha256, true
	case "SCRAM-SHA-1":
		return sasl.ScramSha1, true
	case "SCRAM-SHA-256-PLUS":
		return sasl.ScramSha256Plus, true
	case "SCRAM-SHA-1-PLUS":
		return sasl.ScramSha1Plus, true
	case "PLAIN":
		return sasl.Plain, true
	case "ANONYMOUS":
		return sasl.Anonymous, true
	}
	return sasl.Mechanism{}, false
}

// Auth authenticates with mechanism. On success it reopens the stream and
// returns nil; a <failure/> comes back as *SASLFailure. Protocol
// violations by the server fail the test.
func (c *Client) Auth(mechanism, user, password string) error {
	c.t.Helper()
	mech, ok := Mechanism(mechanism)
	if !ok {
		c.t.Fatalf("xmpptest: unknown SASL mechanism %q", mechanism)
	}
	opts := []sasl.Option{sasl.Credentials(func() ([]byte, []byte, []byte) {
		return []byte(user), []byte(password), nil
	})}
	if tc, ok := c.conn.(*tls.Conn); ok {
		opts = append(opts, sasl.TLSState(tc.ConnectionState()))
	}
	n := sasl.NewClient(mech, opts...)
	_, resp, err := n.Step(nil)
	if err != nil {
		c.t.Fatalf("xmpptest: SASL start: %v", err)
	}
	c.SendRaw(saslElement("auth", mechanism, resp))
	for {
		st := c.Expect(c.t, func(st *xmlstream.Stanza) bool { return st.Name.Space == NSSASL }, DefaultTimeout)
		el, err := st.Element()
		if err != nil {
			c.t.Fatalf("xmpptest: unparsable SASL element: %v", err)
		}
		data, err := decode(el.Text())
		if err != nil {
			c.t.Fatalf("xmpptest: bad base64 from the server in %s: %v", st.Raw, err)
		}
		switch st.Name.Local {
		case "challenge":
			_, resp, err := n.Step(data)
			if err != nil {
				c.SendRaw("<abort xmlns='" + NSSASL + "'/>")
				c.t.Fatalf("xmpptest: SASL step: %v", err)
			}
			c.SendRaw(saslElement("response", "", resp))
		case "success":
			if len(data) > 0 {
				if _, _, err := n.Step(data); err != nil {
					c.t.Fatalf("xmpptest: the server's SASL success does not verify: %v", err)
				}
			}
			if c.ws == nil {
				c.dec.Reset(c.conn)
			}
			c.Open()
			return nil
		case "failure":
			f := &SASLFailure{Text: el.ChildText(NSSASL, "text")}
			if first := el.FirstElement(); first != nil {
				f.Condition = first.Name.Local
			}
			return f
		default:
			c.t.Fatalf("xmpptest: unexpected SASL element %s", st.Raw)
		}
	}
}

func saslElement(name, mechanism string, data []byte) string {
	var b strings.Builder
	b.WriteString("<" + name + " xmlns='" + NSSASL + "'")
	if mechanism != "" {
		b.WriteString(" mechanism='" + mechanism + "'")
	}
	switch {
	case data == nil:
		b.WriteString("/>")
		return b.String()
	case len(data) == 0:
		b.WriteString(">=")
	default:
		b.WriteString(">" + base64.StdEncoding.EncodeToString(data))
	}
	b.WriteString("</" + name + ">")
	return b.String()
}

func decode(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "=" {
		return nil, nil
	}
	return base64.StdEncoding.DecodeString(s)
}

// Bind binds resource ("" asks the server to generate one) and returns the
// full JID; a bind error fails the test (use TryBind to test errors).
func (c *Client) Bind(resource string) string {
	c.t.Helper()
	res := c.TryBind(resource)
	if res.Type() != "result" {
		c.t.Fatalf("xmpptest: bind failed: %s", res.Raw)
	}
	return c.JID
}

// TryBind sends the bind request and returns the server's answer (result
// or error); on a result it sets JID.
func (c *Client) TryBind(resource string) *xmlstream.Stanza {
	c.t.Helper()
	id := fmt.Sprintf("bind-%d", time.Now().UnixNano())
	body := "<bind xmlns='" + NSBind + "'/>"
	if resource != "" {
		body = "<bind xmlns='" + NSBind + "'><resource>" + string(xmlstream.AppendEscaped(nil, resource)) + "</resource></bind>"
	}
	c.SendRaw("<iq type='set' id='" + id + "'" + c.clientNS() + ">" + body + "</iq>")
	res := c.Expect(c.t, IsID(id), DefaultTimeout)
	if res.Type() == "result" {
		el, err := res.Element()
		if err != nil {
			c.t.Fatalf("xmpptest: unparsable bind result: %v", err)
		}
		b := el.Child(NSBind, "bind")
		if b == nil || b.ChildText(NSBind, "jid") == "" {
			c.t.Fatalf("xmpptest: bind result without <jid/>: %s", res.Raw)
		}
		c.JID = b.ChildText(NSBind, "jid")
	}
	return res
}

// clientNS is the xmlns attribute stanzas need on WebSocket.
func (c *Client) clientNS() string {
	if c.ws != nil {
		return " xmlns='jabber:client'"
	}
	return ""
}

// Login opens the stream, negotiates STARTTLS when offered (TCP),
// authenticates with mechanism and binds resource; it returns the full JID.
func (c *Client) Login(mechanism, user, password, resource string) string {
	c.t.Helper()
	c.Open()
	if c.ws == nil && c.HasFeature(NSTLS, "starttls") {
		c.StartTLS()
	}
	if err := c.Auth(mechanism, user, password); err != nil {
		c.t.Fatalf("xmpptest: login as %s with %s: %v", user, mechanism, err)
	}
	return c.Bind(resource)
}
