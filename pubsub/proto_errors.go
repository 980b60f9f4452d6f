package pubsub

// Errors on the wire (XEP-0060 §7 of each use case, §16.2 pubsub#errors):
// a core *Error becomes
//
//	<error type='T'><COND xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>
//	  <APP xmlns='http://jabber.org/protocol/pubsub#errors' [feature='F']/></error>
//
// one to one. The adapter's own refusals (malformed requests) are built
// here with the same type, so every error takes one path.

import (
	"context"
	"errors"

	"github.com/gavelhq/gavel/xmlstream"
)

// stanzaError maps err to the stanza error sent back. Anything that is
// neither a core *Error nor a *xmlstream.StanzaError is a fault here,
// logged and answered with internal-server-error.
func (p *Protocol) stanzaError(err error) *xmlstream.StanzaError {
	var se *xmlstream.StanzaError
	if errors.As(err, &se) {
		return se
	}
	var pe *Error
	if errors.As(err, &pe) {
		return wireError(pe)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return &xmlstream.StanzaError{Type: xmlstream.ErrWait, Condition: "resource-constraint"}
	}
	p.log.Error("pubsub request failed", "err", err)
	return xmlstream.InternalServerError()
}

// wireError is the stanza error of a core Error.
func wireError(e *Error) *xmlstream.StanzaError {
	se := &xmlstream.StanzaError{Type: e.Type, Condition: e.Cond, Text: e.Text}
	if se.Type == "" {
		se.Type = xmlstream.ErrCancel
	}
	if se.Condition == "" {
		se.Condition = "undefined-condition"
	}
	if e.App != "" {
		se.App = xmlstream.NewElement(NSPubSubErrors, e.App, "feature", e.Feature)
	}
	return se
}

// The adapter's own errors: what a malformed request gets.

// badRequest is <bad-request/> without a pubsub condition.
func badRequest(text string) *Error {
	return &Error{Cond: "bad-request", Type: "modify", Text: text}
}

// errNodeIDRequired: the request names no node (§7.2.3.3, §8.2.3.3).
func errNodeIDRequired() *Error { return errBadRequest("nodeid-required") }

// errItemRequired: a retract without <item id/> (§7.2.3.4).
func errItemRequired() *Error { return errBadRequest("item-required") }

// errJIDRequired: subscribe/unsubscribe/options without jid (§6.3.4.3).
func errJIDRequired() *Error { return errBadRequest("jid-required") }

// errInvalidJID: a jid attribute that is not a JID (§6.1.3.1).
func errInvalidJID() *Error { return errBadRequest("invalid-jid") }

// errInvalidPayload: an item with more than one payload element, or with
// text beside it (§7.1.3.6).
func errInvalidPayload() *Error { return errBadRequest("invalid-payload") }

// errUnsupported: a feature this service does not offer (§16.2: e.g.
// "collections").
func errUnsupported(feature string) *Error { return unsupported(feature) }
