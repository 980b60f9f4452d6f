package xmlstream

import (
	"errors"
	"fmt"
	"io"
)

// Limits bound what one peer can make the decoder hold. Zero fields take the
// defaults below.
type Limits struct {
	MaxStanzaBytes int // bytes in one top-level element, start tag to end tag
	MaxDepth       int // element nesting inside a stanza (the stanza itself is depth 1)
	MaxAttrs       int // attributes (including namespace declarations) on one element
	MaxNameBytes   int // bytes in one element or attribute name
}

// Default limits.
const (
	DefaultMaxStanzaBytes = 256 << 10
	DefaultMaxDepth       = 64
	DefaultMaxAttrs       = 64
	DefaultMaxNameBytes   = 1024
)

// WithDefaults returns l with zero fields set to the defaults.
func (l Limits) WithDefaults() Limits {
	if l.MaxStanzaBytes <= 0 {
		l.MaxStanzaBytes = DefaultMaxStanzaBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxAttrs <= 0 {
		l.MaxAttrs = DefaultMaxAttrs
	}
	if l.MaxNameBytes <= 0 {
		l.MaxNameBytes = DefaultMaxNameBytes
	}
	return l
}

// StreamError conditions (RFC 6120 §4.9.3) that decoder errors map to.
const (
	CondNotWellFormed    = "not-well-formed"
	CondPolicyViolation  = "policy-violation"
	CondRestrictedXML    = "restricted-xml"
	CondInvalidNamespace = "invalid-namespace"
	CondBadFormat        = "bad-format"
	CondUnsupportedEnc   = "unsupported-encoding"
)

// Error is a decoding failure; Condition is the stream error to send.
type Error struct {
	Condition string
	Msg       string
	Offset    int64
}

func (e *Error) Error() string {
	return fmt.Sprintf("xmlstream: %s at byte %d: %s", e.Condition, e.Offset, e.Msg)
}

// Condition returns the RFC 6120 stream error condition for err: the
// decoder's own condition, or "" for I/O errors (connection lost).
func Condition(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Condition
	}
	return ""
}

// ErrStreamEnd is returned by Decoder.Next when the peer closed the stream
// with </stream:stream>.
var ErrStreamEnd = errors.New("xmlstream: stream closed by peer")

// StreamHeader is the parsed <stream:stream> opening tag.
type StreamHeader struct {
	Name      Name   // {NSStream, "stream"} when correct
	Content   string // default namespace declared on it (jabber:client, jabber:server)
	Attrs     []Attr // its attributes: to, from, version, id, xml:lang
	Prefixes  map[string]string
	RawPrefix string // prefix used for the stream namespace ("stream")
}

// Attr returns an un-namespaced attribute of the header.
func (h StreamHeader) Attr(local string) string {
	for _, a := range h.Attrs {
		if a.Name.Space == "" && a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// Lang returns xml:lang of the header.
func (h StreamHeader) Lang() string {
	for _, a := range h.Attrs {
		if a.Name.Space == NSXML && a.Name.Local == "lang" {
			return a.Value
		}
	}
	return ""
}

// Decoder reads an XMPP stream: an optional XML declaration, the stream
// header, then top-level elements. It is not safe for concurrent use.
type Decoder struct {
	impl *lexer
}

// NewDecoder returns a decoder reading from r with the given limits.
func NewDecoder(r io.Reader, lim Limits) *Decoder {
	return &Decoder{impl: newLexer(r, lim.WithDefaults())}
}

// Reset discards all state and reads a new stream from r (stream restart
// after STARTTLS or SASL; r is the new, possibly TLS-wrapped, reader).
func (d *Decoder) Reset(r io.Reader) { d.impl.reset(r) }

// ReadHeader reads the XML declaration (if any) and the stream header.
func (d *Decoder) ReadHeader() (StreamHeader, error) { return d.impl.readHeader() }

// Next returns the next top-level element of the stream. Whitespace between
// elements (keepalives) is skipped. At </stream:stream> it returns ErrStreamEnd.
// Raw of the returned stanza is a fresh slice the caller owns; if the element
// uses a prefix declared on the stream header (the stream prefix included,
// as in <stream:error/>), the declaration is copied into its start tag so Raw
// stands alone.
func (d *Decoder) Next() (*Stanza, error) { return d.impl.next() }

// ParseElement parses one complete element from raw (a standalone document,
// as in a WebSocket message, or a stanza's Raw). inherited is the default
// namespace in scope (NSClient for stanza Raw from a client stream, "" for a
// standalone document). Leading and trailing whitespace is allowed.
func ParseElement(raw []byte, inherited string, lim Limits) (*Element, error) {
	return parseElement(raw, inherited, lim.WithDefaults())
}

// ParseStanza parses one complete top-level element from raw like ParseElement,
// but returns it as a Stanza (Raw = raw without surrounding whitespace).
func ParseStanza(raw []byte, inherited string, lim Limits) (*Stanza, error) {
	return parseStanza(raw, inherited, lim.WithDefaults())
}
