package xmlstream

// Stanza error types (RFC 6120 §8.3.2).
const (
	ErrAuth     = "auth"
	ErrCancel   = "cancel"
	ErrContinue = "continue"
	ErrModify   = "modify"
	ErrWait     = "wait"
)

// StanzaError describes an RFC 6120 §8.3 error: a defined condition, its type,
// optional human text, and an optional application-specific element (e.g.
// <pubsub-error/> conditions, MUC's none).
type StanzaError struct {
	Type      string
	Condition string
	Text      string
	// By is the entity that generated the error (RFC 6120 §8.3.2 'by'), optional.
	By  string
	App *Element
}

func (e *StanzaError) Error() string {
	if e.Text != "" {
		return e.Condition + ": " + e.Text
	}
	return e.Condition
}

// Common errors, ready to use.
func BadRequest(text string) *StanzaError {
	return &StanzaError{Type: ErrModify, Condition: "bad-request", Text: text}
}
func ServiceUnavailable() *StanzaError {
	return &StanzaError{Type: ErrCancel, Condition: "service-unavailable"}
}
func FeatureNotImplemented(text string) *StanzaError {
	return &StanzaError{Type: ErrCancel, Condition: "feature-not-implemented", Text: text}
}
func ItemNotFound() *StanzaError { return &StanzaError{Type: ErrCancel, Condition: "item-not-found"} }
func Forbidden(text string) *StanzaError {
	return &StanzaError{Type: ErrAuth, Condition: "forbidden", Text: text}
}
func NotAllowed(text string) *StanzaError {
	return &StanzaError{Type: ErrCancel, Condition: "not-allowed", Text: text}
}
func JIDMalformed() *StanzaError { return &StanzaError{Type: ErrModify, Condition: "jid-malformed"} }
func InternalServerError() *StanzaError {
	return &StanzaError{Type: ErrCancel, Condition: "internal-server-error"}
}
func ResourceConstraint(text string) *StanzaError {
	return &StanzaError{Type: ErrWait, Condition: "resource-constraint", Text: text}
}

// Element builds the <error/> child.
func (e *StanzaError) Element() *Element {
	el := NewElement(NSClient, "error", "type", e.Type, "by", e.By)
	el.Append(NewElement(NSStanzas, e.Condition))
	if e.Text != "" {
		el.Append(NewElement(NSStanzas, "text").AppendText(e.Text))
	}
	if e.App != nil {
		el.Append(e.App)
	}
	return el
}

// ErrorReply builds the error response to st (RFC 6120 §8.3.1): from and to
// swapped, same id, type='error'. The original payload is included for
// message and presence (so the sender can tell which one failed), omitted for
// iq. It returns nil when st is itself an error, which must never be answered.
func ErrorReply(st *Stanza, e *StanzaError) *Stanza {
	if st.Type() == "error" {
		return nil
	}
	reply := NewElement(NSClient, st.Name.Local,
		"from", st.To(), "to", st.From(), "id", st.ID(), "type", "error")
	if st.Name.Local != KindIQ {
		if el, err := st.Element(); err == nil {
			for _, c := range el.Children {
				if c.Elem != nil && !(c.Elem.Name.Local == "error") {
					reply.Append(c.Elem)
				}
			}
		}
	}
	reply.Append(e.Element())
	return NewStanza(reply)
}

// ResultReply builds the type='result' answer to an iq, with an optional payload.
func ResultReply(iq *Stanza, payload *Element) *Stanza {
	r := NewElement(NSClient, KindIQ, "from", iq.To(), "to", iq.From(), "id", iq.ID(), "type", "result")
	r.Append(payload)
	return NewStanza(r)
}
