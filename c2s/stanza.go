package c2s

import (
	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/xmlstream"
)

// handleBound processes what a bound client sends: stanzas are checked,
// addressed and handed to the Handler in order (RFC 6120 §8).
func (c *conn) handleBound(st *xmlstream.Stanza) error {
	switch st.Name.Space {
	case nsSM:
		return c.handleSMBound(st)
	case nsCSI:
		return c.handleCSI(st)
	}
	if !st.IsStanza() || st.Name.Space != xmlstream.NSClient {
		return c.unexpected(st)
	}
	full := c.JID()
	if from := st.From(); from != "" {
		// §8.1.2.1: 'from' may only be the session's full or bare JID.
		j, err := jid.Parse(from)
		if err != nil || !(j.Equal(full) || j.Equal(full.Bare())) {
			return newStreamError(condInvalidFrom, "")
		}
	}
	if !c.sess.inbound(c) {
		return nil // resumed on another stream meanwhile
	}
	kind := st.Name.Local
	pairs := []string{"from", full.String()}
	if st.To() == "" && kind != xmlstream.KindPresence {
		// §10.3: no 'to' means the account itself.
		pairs = append(pairs, "to", full.Bare().String())
	}
	if kind == xmlstream.KindIQ {
		if c.isPingReply(st) {
			return nil
		}
		stamped := st.WithAttrs(pairs...)
		if handled := c.checkIQ(stamped); handled {
			return nil
		}
		c.opts.Metrics.StanzaIn(kind)
		c.srv.handler.HandleClient(c.ctx(), c.sess, stamped)
		return nil
	}
	c.opts.Metrics.StanzaIn(kind)
	c.srv.handler.HandleClient(c.ctx(), c.sess, st.WithAttrs(pairs...))
	return nil
}

// checkIQ enforces RFC 6120 §8.2.3 and answers what the stream itself owns
// (the legacy session, a second bind). It reports whether iq was answered.
func (c *conn) checkIQ(iq *xmlstream.Stanza) bool {
	typ := iq.Type()
	switch typ {
	case "get", "set":
	case "result", "error":
		if iq.ID() != "" {
			return false
		}
		if typ == "result" { // errors are never answered, only dropped
			c.sendStanza(xmlstream.ErrorReply(iq, xmlstream.BadRequest("An iq needs an id")))
		}
		return true
	default:
		c.sendStanza(xmlstream.ErrorReply(iq, xmlstream.BadRequest("Unknown iq type")))
		return true
	}
	if iq.ID() == "" {
		c.sendStanza(xmlstream.ErrorReply(iq, xmlstream.BadRequest("An iq needs an id")))
		return true
	}
	el, err := iq.Element()
	if err != nil {
		c.sendStanza(xmlstream.ErrorReply(iq, xmlstream.BadRequest("")))
		return true
	}
	children := el.Elements()
	if len(children) != 1 {
		c.sendStanza(xmlstream.ErrorReply(iq, xmlstream.BadRequest("An iq get or set carries exactly one payload")))
		return true
	}
	p := children[0]
	switch {
	case typ == "set" && p.Name == xmlstream.Name{Space: nsSession, Local: "session"}:
		// RFC 3921 session establishment, a no-op kept for older clients.
		c.sendStanza(xmlstream.ResultReply(iq, nil))
		return true
	case typ == "set" && p.Name == xmlstream.Name{Space: nsBind, Local: "bind"}:
		c.sendStanza(xmlstream.ErrorReply(iq, xmlstream.NotAllowed("A resource is already bound")))
		return true
	}
	return false
}
