package c2s

import (
	"strconv"
	"strings"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/xmlstream"
)

// Namespaces of stream negotiation (RFC 6120) and the legacy session.
const (
	nsTLS     = "urn:ietf:params:xml:ns:xmpp-tls"
	nsSASL    = "urn:ietf:params:xml:ns:xmpp-sasl"
	nsBind    = "urn:ietf:params:xml:ns:xmpp-bind"
	nsSession = "urn:ietf:params:xml:ns:xmpp-session"
	nsPing    = "urn:xmpp:ping"
)

// open reads the client's stream opening and answers with our header and
// the features for the current stage.
func (c *conn) open() error {
	o, err := c.tr.readOpen()
	if err != nil {
		return err
	}
	domain, err := c.checkHost(o.to)
	if err != nil {
		return err
	}
	c.q.setDomain(domain)
	if err := checkVersion(o.version); err != nil {
		return err
	}
	c.domain = domain
	c.lang = pickLang(o.lang)
	h := streamHeader{from: domain, id: newStreamID(), lang: c.lang}
	if o.from != "" {
		// RFC 6120 §4.7.2: answer to the 'from' the client gave, if valid.
		if j, err := jid.Parse(o.from); err == nil {
			h.to = j.String()
		}
	}
	c.q.pushHeader(c.tr.appendOpen(nil, h))
	c.send(appendFeatures(nil, c.tr.declareStreamNS(), c.features()))
	return nil
}

// checkHost validates the header's 'to' (RFC 6120 §4.7.2, §4.9.3.6). A
// missing 'to' means the default domain; after a restart it must not change.
func (c *conn) checkHost(to string) (string, error) {
	def := c.domain
	if def == "" {
		def = c.srv.defaultDomain()
	}
	if to == "" {
		if def == "" {
			return "", newStreamError(condHostUnknown, "No host given and none configured")
		}
		return def, nil
	}
	j, err := jid.Parse(to)
	if err != nil || j.Localpart() != "" || j.Resourcepart() != "" {
		return "", newStreamError(condHostUnknown, "")
	}
	d := j.Domainpart()
	if !c.srv.serves(d) {
		return "", newStreamError(condHostUnknown, "This server does not serve "+d)
	}
	if c.domain != "" && d != c.domain {
		return "", newStreamError(condHostUnknown, "The host changed on stream restart")
	}
	return d, nil
}

// checkVersion: RFC 6120 §4.7.5. A header without version is 0.9 and this
// server speaks only 1.x; a higher major or minor is answered with 1.0.
func checkVersion(v string) error {
	major, _, ok := strings.Cut(v, ".")
	n, err := strconv.Atoi(major)
	if !ok || err != nil || n < 1 {
		return newStreamError(condUnsupportedVersion, "XMPP 1.0 is required")
	}
	return nil
}

// pickLang keeps the client's xml:lang if it looks like a language tag.
func pickLang(l string) string {
	if l == "" || len(l) > 35 {
		return "en"
	}
	for i := 0; i < len(l); i++ {
		ch := l[i]
		if !(ch == '-' || ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9') {
			return "en"
		}
	}
	return l
}

// tlsRequired: STARTTLS is mandatory and not done yet.
func (c *conn) tlsRequired() bool { return c.opts.RequireTLS && !c.tr.secure() }

// features lists the stream features of the current stage (RFC 6120 §4.3.2).
func (c *conn) features() []*xmlstream.Element {
	var fs []*xmlstream.Element
	if !c.authenticated {
		if c.tr.canStartTLS() {
			st := xmlstream.NewElement(nsTLS, "starttls")
			if c.opts.RequireTLS {
				st.Append(xmlstream.NewElement(nsTLS, "required"))
			}
			fs = append(fs, st)
		}
		// With TLS mandatory, nothing but STARTTLS is offered (§5.3.1).
		if c.tlsRequired() {
			return fs
		}
		if mechs := c.srv.accounts.Mechanisms(c.connInfo()); len(mechs) > 0 {
			m := xmlstream.NewElement(nsSASL, "mechanisms")
			for _, name := range mechs {
				m.Append(xmlstream.NewElement(nsSASL, "mechanism").AppendText(name))
			}
			fs = append(fs, m)
		}
	} else {
		fs = append(fs, xmlstream.NewElement(nsBind, "bind"),
			xmlstream.NewElement(nsSession, "session").Append(xmlstream.NewElement(nsSession, "optional")),
			xmlstream.NewElement(nsSM, "sm"),
			xmlstream.NewElement(nsCSI, "csi"))
	}
	if c.opts.ExtraFeatures != nil {
		fs = append(fs, c.opts.ExtraFeatures(c.domain, c.authenticated)...)
	}
	return fs
}

// handle processes one top-level element; restart asks for a new stream
// opening (after STARTTLS and SASL success).
func (c *conn) handle(st *xmlstream.Stanza) (restart bool, err error) {
	switch {
	case !c.authenticated:
		return c.handleUnauthenticated(st)
	case c.sess == nil:
		return false, c.handleUnbound(st)
	default:
		return false, c.handleBound(st)
	}
}

func (c *conn) handleUnauthenticated(st *xmlstream.Stanza) (bool, error) {
	switch st.Name {
	case xmlstream.Name{Space: nsTLS, Local: "starttls"}:
		return c.startTLS()
	case xmlstream.Name{Space: nsSASL, Local: "auth"}:
		return c.saslAuth(st)
	case xmlstream.Name{Space: nsSASL, Local: "response"}:
		return c.saslResponse(st)
	case xmlstream.Name{Space: nsSASL, Local: "abort"}:
		return false, c.saslAbort()
	case xmlstream.Name{Space: xmlstream.NSClient, Local: xmlstream.KindIQ}:
		if c.preAuthIQ(st) {
			return false, nil
		}
	case xmlstream.Name{Space: nsSM, Local: "enable"}, xmlstream.Name{Space: nsSM, Local: "resume"}:
		// XEP-0198 §3, §9: not before authentication.
		return false, c.handleSMUnbound(st)
	}
	return false, c.unexpected(st)
}

// startTLS answers <starttls/> (RFC 6120 §5.4.2).
func (c *conn) startTLS() (bool, error) {
	if !c.tr.canStartTLS() {
		c.send([]byte("<failure xmlns='" + nsTLS + "'/>"))
		return false, errCloseStream
	}
	ack := c.q.pushFlush([]byte("<proceed xmlns='" + nsTLS + "'/>"))
	if ack == nil {
		return false, errClosing
	}
	select {
	case <-ack:
	case <-c.done:
		return false, errClosing
	}
	if c.q.isClosed() {
		return false, errClosing
	}
	c.q.restarted()
	if err := c.tr.startTLS(); err != nil {
		// §5.4.3.2: on a failed handshake the TCP connection is cut.
		c.log.Debug("c2s: TLS handshake failed", "err", err)
		return false, err
	}
	return true, nil
}

// unexpected picks the stream error for an element that has no place here.
func (c *conn) unexpected(st *xmlstream.Stanza) error {
	switch st.Name.Local {
	case xmlstream.KindMessage, xmlstream.KindPresence, xmlstream.KindIQ:
		if st.Name.Space != xmlstream.NSClient {
			return newStreamError(condInvalidNamespace, "Stanzas must be in "+xmlstream.NSClient)
		}
		if c.sess == nil {
			return newStreamError(condNotAuthorized, "Authenticate and bind a resource first")
		}
	}
	return newStreamError(condUnsupportedStanza, "")
}
