package c2s

import (
	"github.com/gavelhq/gavel/xmlstream"
)

// preAuthIQ offers an iq sent before authentication to Options.PreAuthIQ
// (in-band registration). It reports whether a reply was sent. With TLS
// required and not yet negotiated nothing is served: credentials must not
// travel in the clear any more than SASL's do.
func (c *conn) preAuthIQ(iq *xmlstream.Stanza) bool {
	if c.opts.PreAuthIQ == nil || c.tlsRequired() {
		return false
	}
	if t := iq.Type(); t != "get" && t != "set" {
		return false
	}
	if iq.ID() == "" {
		c.sendStanza(xmlstream.ErrorReply(iq, xmlstream.BadRequest("An iq needs an id")))
		return true
	}
	info := PreAuthInfo{Domain: c.domain, RemoteIP: c.remote, Secure: c.tr.secure()}
	// The client has no address yet: the handler answers to nobody, from
	// the host (RFC 6120 §8.1.2.1 lets the reply carry no 'to').
	reply := c.opts.PreAuthIQ(c.ctx(), info, iq.WithAttrs("from", "", "to", c.domain))
	if reply == nil {
		return false
	}
	c.sendStanza(reply.WithAttrs("to", ""))
	return true
}
