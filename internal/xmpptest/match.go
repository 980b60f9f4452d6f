package xmpptest

import "github.com/gavelhq/gavel/xmlstream"

// IsName matches top-level elements named {space}local.
func IsName(space, local string) func(*xmlstream.Stanza) bool {
	return func(st *xmlstream.Stanza) bool { return st.Name.Space == space && st.Name.Local == local }
}

// IsKind matches stanzas of kind (message, presence, iq) in jabber:client.
func IsKind(kind string) func(*xmlstream.Stanza) bool {
	return IsName(xmlstream.NSClient, kind)
}

// IsID matches stanzas with the given id.
func IsID(id string) func(*xmlstream.Stanza) bool {
	return func(st *xmlstream.Stanza) bool { return st.ID() == id }
}

// And matches when every predicate does.
func And(preds ...func(*xmlstream.Stanza) bool) func(*xmlstream.Stanza) bool {
	return func(st *xmlstream.Stanza) bool {
		for _, p := range preds {
			if !p(st) {
				return false
			}
		}
		return true
	}
}

// ErrorCondition returns the defined condition of a stanza error ("" if none).
func ErrorCondition(st *xmlstream.Stanza) string {
	el, err := st.Element()
	if err != nil {
		return ""
	}
	e := el.Child("", "error")
	if e == nil {
		return ""
	}
	for _, ch := range e.Elements() {
		if ch.Name.Space == xmlstream.NSStanzas && ch.Name.Local != "text" {
			return ch.Name.Local
		}
	}
	return ""
}

// ErrorType returns the type attribute of a stanza's <error/>.
func ErrorType(st *xmlstream.Stanza) string {
	el, err := st.Element()
	if err != nil {
		return ""
	}
	if e := el.Child("", "error"); e != nil {
		return e.Attr("type")
	}
	return ""
}

// StreamErrorCondition returns the condition of a <stream:error/>.
func StreamErrorCondition(st *xmlstream.Stanza) string {
	el, err := st.Element()
	if err != nil {
		return ""
	}
	for _, ch := range el.Elements() {
		if ch.Name.Space == xmlstream.NSStreams && ch.Name.Local != "text" {
			return ch.Name.Local
		}
	}
	return ""
}
