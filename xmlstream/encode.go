package xmlstream

import (
	"strconv"
	"unicode/utf8"
)

// AppendXML appends e serialized to buf. parentNS is the default namespace in
// scope where e is written: xmlns is emitted only where it differs, so a stanza
// written into a jabber:client stream carries no redundant declaration.
func (e *Element) AppendXML(buf []byte, parentNS string) []byte {
	buf = append(buf, '<')
	buf = append(buf, e.Name.Local...)
	if e.Name.Space != parentNS {
		buf = append(buf, " xmlns='"...)
		buf = appendAttrEscaped(buf, e.Name.Space)
		buf = append(buf, '\'')
	}
	prefixes := 0
	for _, a := range e.Attrs {
		buf = append(buf, ' ')
		switch a.Name.Space {
		case "":
		case NSXML:
			buf = append(buf, "xml:"...)
		default:
			// Namespaced attributes other than xml: get a generated prefix
			// declared on this element.
			prefixes++
			p := "ns" + strconv.Itoa(prefixes)
			buf = append(buf, "xmlns:"...)
			buf = append(buf, p...)
			buf = append(buf, "='"...)
			buf = appendAttrEscaped(buf, a.Name.Space)
			buf = append(buf, "' "...)
			buf = append(buf, p...)
			buf = append(buf, ':')
		}
		buf = append(buf, a.Name.Local...)
		buf = append(buf, "='"...)
		buf = appendAttrEscaped(buf, a.Value)
		buf = append(buf, '\'')
	}
	if len(e.Children) == 0 {
		return append(buf, "/>"...)
	}
	buf = append(buf, '>')
	for _, c := range e.Children {
		if c.Elem != nil {
			buf = c.Elem.AppendXML(buf, e.Name.Space)
		} else {
			buf = AppendEscaped(buf, c.Text)
		}
	}
	buf = append(buf, "</"...)
	buf = append(buf, e.Name.Local...)
	return append(buf, '>')
}

// AppendEscaped appends s escaped for use in character data or a
// single- or double-quoted attribute value. Characters XML 1.0 forbids are
// replaced with U+FFFD so the output is always well-formed. Tabs and newlines
// are written as they are, which a parser turns into spaces inside an
// attribute value (XML 1.0 §3.3.3); AppendXML keeps them with references.
func AppendEscaped(buf []byte, s string) []byte { return appendEscaped(buf, s, false) }

// appendAttrEscaped is AppendEscaped for attribute values: tabs and newlines
// become character references so they survive attribute value normalization.
func appendAttrEscaped(buf []byte, s string) []byte { return appendEscaped(buf, s, true) }

func appendEscaped(buf []byte, s string, attr bool) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch c {
			case '<':
				buf = append(buf, "&lt;"...)
			case '>':
				buf = append(buf, "&gt;"...)
			case '&':
				buf = append(buf, "&amp;"...)
			case '\'':
				buf = append(buf, "&apos;"...)
			case '"':
				buf = append(buf, "&quot;"...)
			case '\t', '\n':
				if attr {
					buf = append(buf, "&#x"...)
					buf = append(buf, "0123456789ABCDEF"[c])
					buf = append(buf, ';')
				} else {
					buf = append(buf, c)
				}
			case '\r':
				buf = append(buf, "&#xD;"...)
			default:
				if c < 0x20 {
					buf = append(buf, "\uFFFD"...)
				} else {
					buf = append(buf, c)
				}
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 || r == 0xFFFE || r == 0xFFFF {
			buf = append(buf, "\uFFFD"...)
		} else {
			buf = append(buf, s[i:i+n]...)
		}
		i += n
	}
	return buf
}
