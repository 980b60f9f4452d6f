package xmpptest

import (
	"strconv"
	"time"

	"github.com/gavelhq/gavel/xmlstream"
)

// Namespaces of XEP-0198 stream management and XEP-0352 client state
// indication.
const (
	NSSM  = "urn:xmpp:sm:3"
	NSCSI = "urn:xmpp:csi:0"
)

// smClient is the client side of stream management: it counts the stanzas
// received since <enabled/> (or <resumed/>) like a real client does.
type smClient struct {
	on       bool
	received uint32
	// AutoAck answers the server's <r/> inside Next, so tests that do not
	// look at acks never see them.
	autoAck bool
}

// smObserve counts a stanza read while SM is on; it reports whether the
// element was an ack request answered automatically.
func (c *Client) smObserve(st *xmlstream.Stanza) bool {
	if !c.sm.on || st == nil {
		return false
	}
	if st.Name.Space == xmlstream.NSClient || (c.ws != nil && st.Name.Space == "") {
		switch st.Name.Local {
		case xmlstream.KindMessage, xmlstream.KindPresence, xmlstream.KindIQ:
			c.sm.received++
		}
		return false
	}
	if c.sm.autoAck && st.Name == (xmlstream.Name{Space: NSSM, Local: "r"}) {
		_ = c.write([]byte(c.ackElement()))
		return true
	}
	return false
}

func (c *Client) ackElement() string {
	return "<a xmlns='" + NSSM + "' h='" + strconv.FormatUint(uint64(c.sm.received), 10) + "'/>"
}

// SMReceived is the number of stanzas received since stream management
// was enabled or resumed (the client's 'h').
func (c *Client) SMReceived() uint32 { return c.sm.received }

// SetAutoAck makes Next answer the server's <r/> by itself (and hide it).
func (c *Client) SetAutoAck(on bool) { c.sm.autoAck = on }

// EnableSM sends <enable/> (resume='true' when resume) and returns the
// <enabled/> element; a <failed/> answer fails the test (see TryEnableSM).
func (c *Client) EnableSM(resume bool) *xmlstream.Element {
	c.t.Helper()
	el := c.TryEnableSM(resume, "")
	if el.Name.Local != "enabled" {
		c.t.Fatalf("xmpptest: stream management not enabled: %s", el.String())
	}
	return el
}

// TryEnableSM sends <enable/> with the given attributes and returns the
// answer, <enabled/> or <failed/>. max is sent when not "".
func (c *Client) TryEnableSM(resume bool, max string) *xmlstream.Element {
	c.t.Helper()
	req := "<enable xmlns='" + NSSM + "'"
	if resume {
		req += " resume='true'"
	}
	if max != "" {
		req += " max='" + max + "'"
	}
	c.SendRaw(req + "/>")
	st := c.Expect(c.t, func(st *xmlstream.Stanza) bool {
		return st.Name.Space == NSSM && (st.Name.Local == "enabled" || st.Name.Local == "failed")
	}, DefaultTimeout)
	el, err := st.Element()
	if err != nil {
		c.t.Fatalf("xmpptest: unparsable %s: %v", st.Raw, err)
	}
	if el.Name.Local == "enabled" {
		c.sm.on, c.sm.received = true, 0
	}
	return el
}

// Ack sends <a h/> with the number of stanzas received.
func (c *Client) Ack() {
	c.t.Helper()
	c.SendRaw(c.ackElement())
}

// RequestAck sends <r/> and returns the server's 'h' from its <a/>;
// stanzas arriving before the answer are counted and skipped.
func (c *Client) RequestAck() uint32 {
	c.t.Helper()
	c.SendRaw("<r xmlns='" + NSSM + "'/>")
	return c.ExpectAck(DefaultTimeout)
}

// ExpectAck waits for the server's <a h/> and returns h.
func (c *Client) ExpectAck(timeout time.Duration) uint32 {
	c.t.Helper()
	st := c.Expect(c.t, IsName(NSSM, "a"), timeout)
	h, err := strconv.ParseUint(st.Attr("h"), 10, 32)
	if err != nil {
		c.t.Fatalf("xmpptest: <a/> with a bad 'h': %s", st.Raw)
	}
	return uint32(h)
}

// Resume sends <resume previd h/> (after authentication, instead of
// binding) and returns the answer, <resumed/> or <failed/>. On <resumed/>
// the counter continues from h, as a client's does.
func (c *Client) Resume(previd string, h uint32) *xmlstream.Element {
	c.t.Helper()
	c.SendRaw("<resume xmlns='" + NSSM + "' previd='" + string(xmlstream.AppendEscaped(nil, previd)) +
		"' h='" + strconv.FormatUint(uint64(h), 10) + "'/>")
	st := c.Expect(c.t, func(st *xmlstream.Stanza) bool {
		return st.Name.Space == NSSM && (st.Name.Local == "resumed" || st.Name.Local == "failed")
	}, DefaultTimeout)
	el, err := st.Element()
	if err != nil {
		c.t.Fatalf("xmpptest: unparsable %s: %v", st.Raw, err)
	}
	if el.Name.Local == "resumed" {
		c.sm.on, c.sm.received = true, h
	}
	return el
}

// SMFailure returns the condition inside an SM <failed/> element.
func SMFailure(el *xmlstream.Element) string {
	if el == nil || el.Name.Local != "failed" {
		return ""
	}
	if f := el.FirstElement(); f != nil {
		return f.Name.Local
	}
	return ""
}

// LoginNoBind opens the stream, negotiates STARTTLS when offered (TCP) and
// authenticates, leaving the stream ready for Bind or Resume.
func (c *Client) LoginNoBind(mechanism, user, password string) {
	c.t.Helper()
	c.Open()
	if c.ws == nil && c.HasFeature(NSTLS, "starttls") {
		c.StartTLS()
	}
	if err := c.Auth(mechanism, user, password); err != nil {
		c.t.Fatalf("xmpptest: login as %s with %s: %v", user, mechanism, err)
	}
}
