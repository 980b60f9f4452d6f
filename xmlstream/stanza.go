package xmlstream

import (
	"sync/atomic"
)

// Stanza is a top-level stream element as it travels through the server: the
// exact bytes plus the parsed top-level attributes. Routing reads the
// attributes and forwards Raw without re-encoding; handlers that need the
// content call Element. A Stanza is immutable once built: rewriting an
// attribute returns a new Stanza (WithAttrs), so one value can be shared by
// many recipients concurrently.
type Stanza struct {
	// Raw is the serialized element. For stanzas read from a c2s stream the
	// top-level element may rely on the stream's default namespace
	// (jabber:client), i.e. carry no xmlns of its own.
	Raw []byte
	// Name is the resolved name of the top-level element.
	Name Name
	// Attrs are the top-level attributes, unescaped.
	Attrs []Attr
	// Inherited is the default namespace in scope where Raw was read (the
	// stream's content namespace); it is needed to parse Raw standalone.
	Inherited string

	tree atomic.Pointer[Element]
}

// Kind names for the three stanza types.
const (
	KindMessage  = "message"
	KindPresence = "presence"
	KindIQ       = "iq"
)

// IsStanza reports whether s is a message, presence or iq in a content namespace.
func (s *Stanza) IsStanza() bool {
	if s.Name.Space != NSClient && s.Name.Space != NSServer {
		return false
	}
	switch s.Name.Local {
	case KindMessage, KindPresence, KindIQ:
		return true
	}
	return false
}

// Attr returns the value of the un-namespaced top-level attribute local.
func (s *Stanza) Attr(local string) string {
	for _, a := range s.Attrs {
		if a.Name.Space == "" && a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// Lang returns the top-level xml:lang.
func (s *Stanza) Lang() string {
	for _, a := range s.Attrs {
		if a.Name.Space == NSXML && a.Name.Local == "lang" {
			return a.Value
		}
	}
	return ""
}

func (s *Stanza) To() string   { return s.Attr("to") }
func (s *Stanza) From() string { return s.Attr("from") }
func (s *Stanza) Type() string { return s.Attr("type") }
func (s *Stanza) ID() string   { return s.Attr("id") }

// Element parses Raw into a tree. The tree is cached and shared: callers must
// not modify it (Copy it first).
func (s *Stanza) Element() (*Element, error) {
	if t := s.tree.Load(); t != nil {
		return t, nil
	}
	// Raw was already checked against the limits of the stream it came from
	// (or built by the server), so the defaults must not reject it here.
	lim := Limits{MaxStanzaBytes: len(s.Raw), MaxDepth: len(s.Raw), MaxAttrs: len(s.Raw), MaxNameBytes: len(s.Raw)}
	el, err := ParseElement(s.Raw, s.Inherited, lim)
	if err != nil {
		return nil, err
	}
	s.tree.Store(el)
	return el, nil
}

// NewStanza serializes el for a jabber:client context (the top-level xmlns is
// omitted when el is in jabber:client) and returns it as a Stanza whose tree is
// el itself; el must not be modified afterwards.
func NewStanza(el *Element) *Stanza {
	s := &Stanza{
		Raw:       el.AppendXML(nil, NSClient),
		Name:      el.Name,
		Attrs:     el.Attrs,
		Inherited: NSClient,
	}
	s.tree.Store(el)
	return s
}

// WithAttrs returns a copy of s with the given un-namespaced top-level
// attributes replaced, added, or (value "") removed, spliced into Raw without
// touching the rest of the bytes. Pairs are name, value.
func (s *Stanza) WithAttrs(pairs ...string) *Stanza {
	n := &Stanza{Name: s.Name, Inherited: s.Inherited}
	n.Attrs = make([]Attr, 0, len(s.Attrs)+len(pairs)/2)
	n.Attrs = append(n.Attrs, s.Attrs...)
	for i := 0; i+1 < len(pairs); i += 2 {
		n.Attrs = setAttr(n.Attrs, pairs[i], pairs[i+1])
	}
	n.Raw = spliceStartTag(s.Raw, pairs)
	return n
}

func setAttr(attrs []Attr, local, value string) []Attr {
	for i, a := range attrs {
		if a.Name.Space == "" && a.Name.Local == local {
			if value == "" {
				return append(attrs[:i], attrs[i+1:]...)
			}
			attrs[i].Value = value
			return attrs
		}
	}
	if value == "" {
		return attrs
	}
	return append(attrs, Attr{Name: Name{Local: local}, Value: value})
}

// spliceStartTag rewrites the start tag of raw: attributes named in pairs are
// dropped where they stand and the non-empty ones appended at the end of the tag.
func spliceStartTag(raw []byte, pairs []string) []byte {
	var arr [16]attrSpan
	spans, end := scanStartTag(raw, arr[:0])
	out := make([]byte, 0, len(raw)+64)
	pos := 0
	for _, sp := range spans {
		drop := false
		for i := 0; i+1 < len(pairs); i += 2 {
			if string(raw[sp.name0:sp.name1]) == pairs[i] {
				drop = true
				break
			}
		}
		if drop {
			out = append(out, raw[pos:sp.start]...)
			pos = sp.end
		}
	}
	out = append(out, raw[pos:end]...)
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" || setLater(pairs, i) {
			continue
		}
		out = append(out, ' ')
		out = append(out, pairs[i]...)
		out = append(out, "='"...)
		out = appendAttrEscaped(out, pairs[i+1])
		out = append(out, '\'')
	}
	return append(out, raw[end:]...)
}

// setLater reports whether the attribute of pair i is named again later in
// pairs; the last pair for a name wins, as in WithAttrs' Attrs.
func setLater(pairs []string, i int) bool {
	for j := i + 2; j+1 < len(pairs); j += 2 {
		if pairs[j] == pairs[i] {
			return true
		}
	}
	return false
}

type attrSpan struct {
	start, end   int // including the whitespace before the attribute
	name0, name1 int
}

// scanStartTag appends to spans the attributes of the first start tag of a
// well-formed element and returns the offset of its closing "/>" or ">".
func scanStartTag(raw []byte, spans []attrSpan) ([]attrSpan, int) {
	i := 0
	for i < len(raw) && raw[i] != '<' {
		i++
	}
	i++
	for i < len(raw) && !isSpace(raw[i]) && raw[i] != '>' && raw[i] != '/' {
		i++
	}
	for i < len(raw) {
		ws := i
		for i < len(raw) && isSpace(raw[i]) {
			i++
		}
		if i >= len(raw) || raw[i] == '>' || raw[i] == '/' {
			return spans, ws
		}
		n0 := i
		for i < len(raw) && raw[i] != '=' && !isSpace(raw[i]) {
			i++
		}
		n1 := i
		for i < len(raw) && raw[i] != '\'' && raw[i] != '"' {
			i++
		}
		if i >= len(raw) {
			return spans, len(raw)
		}
		q := raw[i]
		i++
		for i < len(raw) && raw[i] != q {
			i++
		}
		i++
		spans = append(spans, attrSpan{start: ws, end: i, name0: n0, name1: n1})
	}
	return spans, len(raw)
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
