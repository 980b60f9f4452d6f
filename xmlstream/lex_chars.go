package xmlstream

import (
	"unicode/utf8"
)

// Byte classes for the lexer's ASCII fast paths. Bytes >= 0x80 are never in
// a class: they go through UTF-8 decoding and the XML 1.0 Char/Name checks.
const (
	clText      = 1 << iota // character data byte needing no attention
	clAttr                  // attribute value byte needing no attention
	clNameStart             // ASCII NameStartChar (without ':')
	clName                  // ASCII NameChar (without ':')
	clSpace                 // XML white space
)

var byteClass = func() (t [256]uint8) {
	for c := 0x20; c < 0x80; c++ {
		t[c] |= clText | clAttr
	}
	t['\t'] |= clText
	t['\n'] |= clText
	for _, c := range []byte("<&]") {
		t[c] &^= clText
	}
	for _, c := range []byte("<&'\"") {
		t[c] &^= clAttr
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] |= clNameStart | clName
		t[c-'a'+'A'] |= clNameStart | clName
	}
	t['_'] |= clNameStart | clName
	for c := '0'; c <= '9'; c++ {
		t[c] |= clName
	}
	t['-'] |= clName
	t['.'] |= clName
	for _, c := range []byte(" \t\r\n") {
		t[c] |= clSpace
	}
	return t
}()

// isChar reports whether r is an XML 1.0 Char (§2.2).
func isChar(r rune) bool {
	switch {
	case r < 0x20:
		return r == 0x9 || r == 0xA || r == 0xD
	case r <= 0xD7FF:
		return true
	case r < 0xE000:
		return false
	case r <= 0xFFFD:
		return true
	default:
		return r >= 0x10000 && r <= utf8.MaxRune
	}
}

// isNameStartRune and isNameRune implement NameStartChar and NameChar of
// XML 1.0 fifth edition (§2.3) for non-ASCII runes.
func isNameStartRune(r rune) bool {
	switch {
	case r >= 0xC0 && r <= 0xD6, r >= 0xD8 && r <= 0xF6, r >= 0xF8 && r <= 0x2FF,
		r >= 0x370 && r <= 0x37D, r >= 0x37F && r <= 0x1FFF, r >= 0x200C && r <= 0x200D,
		r >= 0x2070 && r <= 0x218F, r >= 0x2C00 && r <= 0x2FEF, r >= 0x3001 && r <= 0xD7FF,
		r >= 0xF900 && r <= 0xFDCF, r >= 0xFDF0 && r <= 0xFFFD, r >= 0x10000 && r <= 0xEFFFF:
		return true
	}
	return false
}

func isNameRune(r rune) bool {
	return isNameStartRune(r) || r == 0xB7 || r >= 0x300 && r <= 0x36F || r >= 0x203F && r <= 0x2040
}

func isSpaceByte(c byte) bool { return byteClass[c]&clSpace != 0 }

// predefined maps the five predefined entity names to their characters.
func predefined(name []byte) (byte, bool) {
	switch string(name) {
	case "lt":
		return '<', true
	case "gt":
		return '>', true
	case "amp":
		return '&', true
	case "apos":
		return '\'', true
	case "quot":
		return '"', true
	}
	return 0, false
}

// decodeRef decodes the reference at the start of s (which begins with '&'
// and was validated by parser.ref) and returns its character and length.
func decodeRef(s []byte) (rune, int) {
	end := 1
	for s[end] != ';' {
		end++
	}
	body := s[1:end]
	if body[0] != '#' {
		c, _ := predefined(body)
		return rune(c), end + 1
	}
	var r rune
	if len(body) > 1 && body[1] == 'x' {
		for _, c := range body[2:] {
			r = r<<4 | rune(hexVal(c))
		}
	} else {
		for _, c := range body[1:] {
			r = r*10 + rune(c-'0')
		}
	}
	return r, end + 1
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// appendUnescaped appends the already validated raw text or attribute value
// src to dst with references replaced and line ends normalized (§2.11). In an
// attribute value white space characters become spaces (§3.3.3); characters
// written as references are kept as they are.
func appendUnescaped(dst, src []byte, attr bool) []byte {
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '&':
			r, n := decodeRef(src[i:])
			dst = utf8.AppendRune(dst, r)
			i += n
		case c == '\r':
			if attr {
				dst = append(dst, ' ')
			} else {
				dst = append(dst, '\n')
			}
			i++
			if i < len(src) && src[i] == '\n' {
				i++
			}
		case attr && (c == '\n' || c == '\t'):
			dst = append(dst, ' ')
			i++
		default:
			j := i + 1
			for j < len(src) && src[j] != '&' && src[j] != '\r' && !(attr && (src[j] == '\n' || src[j] == '\t')) {
				j++
			}
			dst = append(dst, src[i:j]...)
			i = j
		}
	}
	return dst
}

// appendNormalizedCR appends CDATA content with line ends normalized.
func appendNormalizedCR(dst, src []byte) []byte {
	for i := 0; i < len(src); i++ {
		c := src[i]
		if c == '\r' {
			dst = append(dst, '\n')
			if i+1 < len(src) && src[i+1] == '\n' {
				i++
			}
			continue
		}
		dst = append(dst, c)
	}
	return dst
}

// internLocal returns a constant string for common element and attribute
// local names, or "" when b is not one of them; it saves an allocation per
// name on the hot path.
func internLocal(b []byte) string {
	switch string(b) {
	case "message":
		return "message"
	case "presence":
		return "presence"
	case "iq":
		return "iq"
	case "to":
		return "to"
	case "from":
		return "from"
	case "id":
		return "id"
	case "type":
		return "type"
	case "lang":
		return "lang"
	case "body":
		return "body"
	case "subject":
		return "subject"
	case "thread":
		return "thread"
	case "x":
		return "x"
	case "query":
		return "query"
	case "error":
		return "error"
	case "item":
		return "item"
	case "show":
		return "show"
	case "status":
		return "status"
	case "priority":
		return "priority"
	case "delay":
		return "delay"
	case "stamp":
		return "stamp"
	case "c":
		return "c"
	case "jid":
		return "jid"
	case "node":
		return "node"
	case "name":
		return "name"
	case "affiliation":
		return "affiliation"
	case "role":
		return "role"
	case "stanza-id":
		return "stanza-id"
	case "origin-id":
		return "origin-id"
	case "by":
		return "by"
	case "ver":
		return "ver"
	case "hash":
		return "hash"
	case "ping":
		return "ping"
	case "active":
		return "active"
	case "composing":
		return "composing"
	case "paused":
		return "paused"
	case "request":
		return "request"
	case "received":
		return "received"
	case "markable":
		return "markable"
	case "stream":
		return "stream"
	case "features":
		return "features"
	case "bind":
		return "bind"
	case "resource":
		return "resource"
	case "auth":
		return "auth"
	case "mechanism":
		return "mechanism"
	case "starttls":
		return "starttls"
	case "pubsub":
		return "pubsub"
	case "publish":
		return "publish"
	case "items":
		return "items"
	case "event":
		return "event"
	case "field":
		return "field"
	case "value":
		return "value"
	case "var":
		return "var"
	}
	return ""
}

// internNS returns a constant string for common namespace names.
func internNS(b []byte) string {
	switch string(b) {
	case NSClient:
		return NSClient
	case NSServer:
		return NSServer
	case NSStream:
		return NSStream
	case NSXML:
		return NSXML
	case NSStanzas:
		return NSStanzas
	case NSStreams:
		return NSStreams
	case NSFraming:
		return NSFraming
	case "http://jabber.org/protocol/muc":
		return "http://jabber.org/protocol/muc"
	case "http://jabber.org/protocol/muc#user":
		return "http://jabber.org/protocol/muc#user"
	case "http://jabber.org/protocol/muc#admin":
		return "http://jabber.org/protocol/muc#admin"
	case "http://jabber.org/protocol/muc#owner":
		return "http://jabber.org/protocol/muc#owner"
	case "http://jabber.org/protocol/chatstates":
		return "http://jabber.org/protocol/chatstates"
	case "http://jabber.org/protocol/caps":
		return "http://jabber.org/protocol/caps"
	case "http://jabber.org/protocol/disco#info":
		return "http://jabber.org/protocol/disco#info"
	case "http://jabber.org/protocol/disco#items":
		return "http://jabber.org/protocol/disco#items"
	case "http://jabber.org/protocol/pubsub":
		return "http://jabber.org/protocol/pubsub"
	case "http://jabber.org/protocol/pubsub#event":
		return "http://jabber.org/protocol/pubsub#event"
	case "urn:xmpp:delay":
		return "urn:xmpp:delay"
	case "urn:xmpp:sid:0":
		return "urn:xmpp:sid:0"
	case "urn:xmpp:receipts":
		return "urn:xmpp:receipts"
	case "urn:xmpp:chat-markers:0":
		return "urn:xmpp:chat-markers:0"
	case "urn:xmpp:ping":
		return "urn:xmpp:ping"
	case "urn:xmpp:sm:3":
		return "urn:xmpp:sm:3"
	case "urn:xmpp:mam:2":
		return "urn:xmpp:mam:2"
	case "urn:xmpp:carbons:2":
		return "urn:xmpp:carbons:2"
	case "urn:xmpp:forward:0":
		return "urn:xmpp:forward:0"
	case "jabber:x:data":
		return "jabber:x:data"
	case "jabber:iq:roster":
		return "jabber:iq:roster"
	case "vcard-temp":
		return "vcard-temp"
	case "urn:ietf:params:xml:ns:xmpp-bind":
		return "urn:ietf:params:xml:ns:xmpp-bind"
	case "urn:ietf:params:xml:ns:xmpp-session":
		return "urn:ietf:params:xml:ns:xmpp-session"
	case "urn:ietf:params:xml:ns:xmpp-sasl":
		return "urn:ietf:params:xml:ns:xmpp-sasl"
	case "urn:ietf:params:xml:ns:xmpp-tls":
		return "urn:ietf:params:xml:ns:xmpp-tls"
	}
	return string(b)
}
