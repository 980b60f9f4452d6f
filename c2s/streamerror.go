package c2s

import (
	"errors"

	"github.com/gavelhq/gavel/xmlstream"
)

// Stream error conditions used here (RFC 6120 §4.9.3).
const (
	condBadFormat          = "bad-format"
	condBadNamespacePrefix = "bad-namespace-prefix"
	condConflict           = "conflict"
	condConnectionTimeout  = "connection-timeout"
	condHostUnknown        = "host-unknown"
	condInvalidFrom        = "invalid-from"
	condInvalidNamespace   = "invalid-namespace"
	condNotAuthorized      = "not-authorized"
	condPolicyViolation    = "policy-violation"
	condSystemShutdown     = "system-shutdown"
	condUnsupportedStanza  = "unsupported-stanza-type"
	condUnsupportedVersion = "unsupported-version"
	condInternalError      = "internal-server-error"
	condUndefinedCondition = "undefined-condition"
)

// streamError ends the stream with <stream:error/>.
type streamError struct {
	cond, text string
	app        string // application-specific condition element, raw XML
}

func (e *streamError) Error() string {
	if e.text != "" {
		return "stream error " + e.cond + ": " + e.text
	}
	return "stream error " + e.cond
}

func newStreamError(cond, text string) error { return &streamError{cond: cond, text: text} }

// errClosing: the stream was closed by another goroutine (conflict,
// shutdown, a timer); the reader only waits for the peer's end.
var errClosing = errors.New("c2s: stream closing")

// conditionOf maps a reader error to the stream error to send: ours, or
// the decoder's (not-well-formed, policy-violation, restricted-xml...).
// "" means the connection itself failed and nothing can be sent.
func conditionOf(err error) (cond, text, app string) {
	var se *streamError
	if errors.As(err, &se) {
		return se.cond, se.text, se.app
	}
	return xmlstream.Condition(err), "", ""
}

// appendStreamError serializes <stream:error/>; declareNS adds the stream
// prefix declaration (RFC 7395 framing, where no stream element encloses it).
func appendStreamError(buf []byte, declareNS bool, cond, text, app string) []byte {
	buf = append(buf, "<stream:error"...)
	if declareNS {
		buf = append(buf, " xmlns:stream='"+xmlstream.NSStream+"'"...)
	}
	buf = append(buf, "><"...)
	buf = append(buf, cond...)
	buf = append(buf, " xmlns='"+xmlstream.NSStreams+"'/>"...)
	buf = append(buf, app...)
	if text != "" {
		buf = append(buf, "<text xmlns='"+xmlstream.NSStreams+"' xml:lang='en'>"...)
		buf = xmlstream.AppendEscaped(buf, text)
		buf = append(buf, "</text>"...)
	}
	return append(buf, "</stream:error>"...)
}

// appendFeatures serializes <stream:features/> with the given children.
func appendFeatures(buf []byte, declareNS bool, children []*xmlstream.Element) []byte {
	buf = append(buf, "<stream:features"...)
	if declareNS {
		buf = append(buf, " xmlns:stream='"+xmlstream.NSStream+"'"...)
	}
	buf = append(buf, '>')
	for _, ch := range children {
		buf = ch.AppendXML(buf, "")
	}
	return append(buf, "</stream:features>"...)
}

// streamHeader is what we answer an opening with.
type streamHeader struct {
	from, to, id, lang string
}

// appendAttrs writes the header's attributes, each with a leading space.
func (h streamHeader) appendAttrs(buf []byte) []byte {
	attr := func(name, v string) {
		if v == "" {
			return
		}
		buf = append(buf, ' ')
		buf = append(buf, name...)
		buf = append(buf, "='"...)
		buf = xmlstream.AppendEscaped(buf, v)
		buf = append(buf, '\'')
	}
	attr("from", h.from)
	attr("to", h.to)
	attr("id", h.id)
	attr("version", "1.0")
	attr("xml:lang", h.lang)
	return buf
}
