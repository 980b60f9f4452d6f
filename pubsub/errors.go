package pubsub

// Error is a refusal from the core, in XEP-0060's own vocabulary: the
// RFC 6120 condition and type the spec names for the case, plus its
// pubsub#errors element (App) and, for App "unsupported", the feature name.
// The adapter turns it into a stanza error one to one.
type Error struct {
	Cond    string // e.g. "item-not-found", "forbidden", "not-acceptable"
	Type    string // "cancel", "auth", "modify", "wait"
	App     string // e.g. "closed-node", "payload-too-big"; "" for none
	Feature string // with App "unsupported": e.g. "retract-items"
	Text    string // optional human-readable text
}

func (e *Error) Error() string {
	s := "pubsub: " + e.Cond
	if e.App != "" {
		s += " (" + e.App
		if e.Feature != "" {
			s += " " + e.Feature
		}
		s += ")"
	}
	if e.Text != "" {
		s += ": " + e.Text
	}
	return s
}

// newError builds an Error; app may be "".
func newError(cond, typ, app string) *Error { return &Error{Cond: cond, Type: typ, App: app} }

// unsupported is <feature-not-implemented type='cancel'/> with
// <unsupported feature='...'/>.
func unsupported(feature string) *Error {
	return &Error{Cond: "feature-not-implemented", Type: "cancel", App: "unsupported", Feature: feature}
}

// Errors the core returns in many places (XEP-0060 §§6-8 name the type).
var (
	errNodeNotFound  = func() *Error { return newError("item-not-found", "cancel", "") }
	errForbidden     = func() *Error { return newError("forbidden", "auth", "") }
	errBadRequest    = func(app string) *Error { return newError("bad-request", "modify", app) }
	errNotAcceptable = func(app string) *Error { return newError("not-acceptable", "modify", app) }
	errInternal      = func(text string) *Error { return &Error{Cond: "internal-server-error", Type: "wait", Text: text} }
)
