package c2s

import (
	"errors"
	"time"

	"github.com/gavelhq/gavel/router"
	"github.com/gavelhq/gavel/xmlstream"
)

// handleUnbound: after SASL only resource binding is allowed (RFC 6120 §7).
func (c *conn) handleUnbound(st *xmlstream.Stanza) error {
	if st.Name.Space == nsSM {
		return c.handleSMUnbound(st)
	}
	if st.Name == (xmlstream.Name{Space: xmlstream.NSClient, Local: xmlstream.KindIQ}) && st.Type() == "set" {
		el, err := st.Element()
		if err != nil {
			return newStreamError(condBadFormat, "")
		}
		if b := el.Child(nsBind, "bind"); b != nil {
			return c.bind(st, b)
		}
	}
	return c.unexpected(st)
}

// bind binds the requested resource, or a generated one (RFC 6120 §7.6).
func (c *conn) bind(st *xmlstream.Stanza, req *xmlstream.Element) error {
	if st.ID() == "" {
		c.sendStanza(xmlstream.ErrorReply(st, xmlstream.BadRequest("An iq needs an id")))
		return nil
	}
	res := req.ChildText(nsBind, "resource")
	if res == "" {
		// An empty <resource/> asks for a generated one, as no resource does.
		res = router.GenerateResource()
	}
	full, err := c.user.WithResource(res)
	if err != nil {
		// §7.7.2.1: a resourcepart that cannot be processed.
		c.sendStanza(xmlstream.ErrorReply(st, xmlstream.BadRequest("Invalid resourcepart")))
		return nil
	}
	// The JID is known before the router publishes the session, so
	// Update/Unbind from other goroutines find it; Bind may still rename.
	// c.sess is set first too: a Send right after publication may read it.
	s := newSession(c)
	s.full.Store(&full)
	c.sess = s
	bound, err := c.srv.router.Bind(s, c.user, full.Resourcepart())
	if err != nil {
		c.sess = nil
	}
	switch {
	case errors.Is(err, router.ErrConflict):
		c.sendStanza(xmlstream.ErrorReply(st, &xmlstream.StanzaError{Type: xmlstream.ErrCancel, Condition: "conflict"}))
		return nil
	case errors.Is(err, router.ErrTooManyResources):
		c.sendStanza(xmlstream.ErrorReply(st, xmlstream.ResourceConstraint("Too many resources bound for this account")))
		return nil
	case err != nil:
		c.sendStanza(xmlstream.ErrorReply(st, xmlstream.BadRequest("Invalid resourcepart")))
		return nil
	}
	s.full.Store(&bound)
	c.srv.bound.Add(1)
	c.opts.Metrics.SessionBound(c.tr.name())
	c.timerMu.Lock()
	if c.authTimer != nil {
		c.authTimer.Stop()
	}
	c.timerMu.Unlock()
	c.startKeepalive()

	result := xmlstream.NewElement(xmlstream.NSClient, xmlstream.KindIQ, "id", st.ID(), "type", "result")
	result.Append(xmlstream.NewElement(nsBind, "bind").Append(
		xmlstream.NewElement(nsBind, "jid").AppendText(bound.String())))
	c.sendStanza(xmlstream.NewStanza(result))
	c.log.Debug("c2s: bound", "jid", bound.String())
	return nil
}

// startKeepalive arms the idle timer of a bound session.
func (c *conn) startKeepalive() {
	c.timerMu.Lock()
	defer c.timerMu.Unlock()
	if c.timersDead {
		return
	}
	c.ka.timer = time.AfterFunc(c.opts.IdleTimeout, c.keepaliveTick)
}
