// Package xmlstream is Gavel's XML layer for XMPP streams: a namespace-aware
// lexer for the XML subset RFC 6120 §11 allows, the Stanza value routed through
// the server (raw bytes plus parsed top-level attributes), and a small element
// tree for the handlers that need to look inside a stanza or build a reply.
package xmlstream

import (
	"strings"
)

// Namespaces used throughout the server.
const (
	NSClient  = "jabber:client"
	NSServer  = "jabber:server"
	NSStream  = "http://etherx.jabber.org/streams"
	NSFraming = "urn:ietf:params:xml:ns:xmpp-framing"
	NSXML     = "http://www.w3.org/XML/1998/namespace"
	NSStanzas = "urn:ietf:params:xml:ns:xmpp-stanzas"
	NSStreams = "urn:ietf:params:xml:ns:xmpp-streams"
)

// Name is a namespace-resolved XML name.
type Name struct {
	Space string
	Local string
}

// Attr is one attribute with its value unescaped. Space is the resolved
// namespace of a prefixed attribute ("" for plain attributes, NSXML for xml:lang).
type Attr struct {
	Name  Name
	Value string
}

// Child is one node in an element's content: an element, or character data
// when Elem is nil. Keeping both in order preserves mixed content (XHTML-IM).
type Child struct {
	Elem *Element
	Text string
}

// Element is a parsed or constructed XML element.
type Element struct {
	Name     Name
	Attrs    []Attr
	Children []Child
}

// NewElement builds an element in namespace space with plain attributes given
// as name/value pairs; a pair with an empty value is skipped.
func NewElement(space, local string, attrs ...string) *Element {
	e := &Element{Name: Name{space, local}}
	for i := 0; i+1 < len(attrs); i += 2 {
		if attrs[i+1] != "" {
			e.Attrs = append(e.Attrs, Attr{Name: Name{Local: attrs[i]}, Value: attrs[i+1]})
		}
	}
	return e
}

// Attr returns the value of the un-namespaced attribute local, or "".
func (e *Element) Attr(local string) string {
	v, _ := e.LookupAttr(local)
	return v
}

// LookupAttr reports the value of the un-namespaced attribute local and whether it exists.
func (e *Element) LookupAttr(local string) (string, bool) {
	for _, a := range e.Attrs {
		if a.Name.Space == "" && a.Name.Local == local {
			return a.Value, true
		}
	}
	return "", false
}

// Lang returns xml:lang of this element ("" if absent).
func (e *Element) Lang() string {
	for _, a := range e.Attrs {
		if a.Name.Space == NSXML && a.Name.Local == "lang" {
			return a.Value
		}
	}
	return ""
}

// SetAttr sets (or, with an empty value, removes) the un-namespaced attribute local.
func (e *Element) SetAttr(local, value string) *Element {
	for i, a := range e.Attrs {
		if a.Name.Space == "" && a.Name.Local == local {
			if value == "" {
				e.Attrs = append(e.Attrs[:i], e.Attrs[i+1:]...)
			} else {
				e.Attrs[i].Value = value
			}
			return e
		}
	}
	if value != "" {
		e.Attrs = append(e.Attrs, Attr{Name: Name{Local: local}, Value: value})
	}
	return e
}

// Child returns the first child element with the given name; an empty space
// matches any namespace. Nil if none.
func (e *Element) Child(space, local string) *Element {
	for _, c := range e.Children {
		if c.Elem != nil && c.Elem.Name.Local == local && (space == "" || c.Elem.Name.Space == space) {
			return c.Elem
		}
	}
	return nil
}

// ChildrenNamed returns every child element with the given name (space "" = any).
func (e *Element) ChildrenNamed(space, local string) []*Element {
	var out []*Element
	for _, c := range e.Children {
		if c.Elem != nil && c.Elem.Name.Local == local && (space == "" || c.Elem.Name.Space == space) {
			out = append(out, c.Elem)
		}
	}
	return out
}

// Elements returns the child elements in order.
func (e *Element) Elements() []*Element {
	var out []*Element
	for _, c := range e.Children {
		if c.Elem != nil {
			out = append(out, c.Elem)
		}
	}
	return out
}

// FirstElement returns the first child element, or nil.
func (e *Element) FirstElement() *Element {
	for _, c := range e.Children {
		if c.Elem != nil {
			return c.Elem
		}
	}
	return nil
}

// Text returns the concatenated character data directly inside e.
func (e *Element) Text() string {
	var b strings.Builder
	for _, c := range e.Children {
		if c.Elem == nil {
			b.WriteString(c.Text)
		}
	}
	return b.String()
}

// ChildText returns the text of the first child named local in space ("" if absent).
func (e *Element) ChildText(space, local string) string {
	if c := e.Child(space, local); c != nil {
		return c.Text()
	}
	return ""
}

// Append adds child elements and returns e for chaining.
func (e *Element) Append(children ...*Element) *Element {
	for _, c := range children {
		if c != nil {
			e.Children = append(e.Children, Child{Elem: c})
		}
	}
	return e
}

// AppendText adds character data and returns e.
func (e *Element) AppendText(s string) *Element {
	if s != "" {
		e.Children = append(e.Children, Child{Text: s})
	}
	return e
}

// RemoveChildren drops every child element named local in space ("" = any).
func (e *Element) RemoveChildren(space, local string) {
	out := e.Children[:0]
	for _, c := range e.Children {
		if c.Elem != nil && c.Elem.Name.Local == local && (space == "" || c.Elem.Name.Space == space) {
			continue
		}
		out = append(out, c)
	}
	e.Children = out
}

// Copy returns a deep copy of e.
func (e *Element) Copy() *Element {
	if e == nil {
		return nil
	}
	c := &Element{Name: e.Name, Attrs: append([]Attr(nil), e.Attrs...)}
	if len(e.Children) > 0 {
		c.Children = make([]Child, len(e.Children))
		for i, ch := range e.Children {
			c.Children[i] = Child{Elem: ch.Elem.Copy(), Text: ch.Text}
		}
	}
	return c
}

// String serializes e as a standalone element (its namespace always declared).
func (e *Element) String() string { return string(e.AppendXML(nil, "")) }
