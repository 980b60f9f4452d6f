package im

// XEP-0297 stanza forwarding as MAM results (XEP-0313) and carbons
// (XEP-0280) use it, and byte-level edits of a stanza's children. The
// wrapper is generated; the forwarded stanza is embedded as its original
// bytes, never re-encoded, so what a client sees is what was sent.

import (
	"bytes"
	"strings"

	"github.com/gavelhq/gavel/xmlstream"
)

const nsForward = "urn:xmpp:forward:0"

// forwardMessage builds
//
//	<message outer...><wrap xmlns=wrapNS wrapAttrs...><forwarded xmlns='urn:xmpp:forward:0'>
//	  [<delay xmlns='urn:xmpp:delay' stamp=delayStamp/>]inner</forwarded></wrap></message>
//
// outer and wrapAttrs are name/value pairs (empty values are skipped); inner
// must come from forwardedBytes.
func forwardMessage(outer []string, wrapNS, wrapLocal string, wrapAttrs []string, delayStamp string, inner []byte) *xmlstream.Stanza {
	buf := make([]byte, 0, len(inner)+256)
	buf = append(buf, "<message"...)
	buf = appendAttrs(buf, outer)
	buf = append(buf, "><"...)
	buf = append(buf, wrapLocal...)
	buf = appendAttrs(buf, []string{"xmlns", wrapNS})
	buf = appendAttrs(buf, wrapAttrs)
	buf = append(buf, "><forwarded xmlns='"+nsForward+"'>"...)
	if delayStamp != "" {
		buf = append(buf, "<delay xmlns='"+nsDelay+"'"...)
		buf = appendAttrs(buf, []string{"stamp", delayStamp})
		buf = append(buf, "/>"...)
	}
	buf = append(buf, inner...)
	buf = append(buf, "</forwarded></"...)
	buf = append(buf, wrapLocal...)
	buf = append(buf, "></message>"...)

	st := &xmlstream.Stanza{Raw: buf, Name: xmlstream.Name{Space: xmlstream.NSClient, Local: xmlstream.KindMessage}, Inherited: xmlstream.NSClient}
	for i := 0; i+1 < len(outer); i += 2 {
		if outer[i+1] != "" {
			st.Attrs = append(st.Attrs, xmlstream.Attr{Name: xmlstream.Name{Local: outer[i]}, Value: outer[i+1]})
		}
	}
	return st
}

// forwardedBytes returns raw ready to sit inside <forwarded/>: unchanged
// when its start tag declares xmlns='jabber:client', else with that
// declaration set. Raw read from a stream relies on the stream's default
// namespace, which inside <forwarded xmlns='urn:xmpp:forward:0'> would no
// longer apply; a stanza from a server stream (jabber:server) is presented
// in jabber:client, as c2s presents it.
func forwardedBytes(raw []byte) []byte {
	if ns, ok := startTagDefaultNS(raw); ok && ns == xmlstream.NSClient {
		return raw
	}
	return (&xmlstream.Stanza{Raw: raw}).WithAttrs("xmlns", xmlstream.NSClient).Raw
}

// startTagDefaultNS returns the value of the xmlns attribute of raw's first
// start tag, as written (character references are not resolved: a value
// spelled with them merely gets rewritten by forwardedBytes).
func startTagDefaultNS(raw []byte) (string, bool) {
	i := bytes.IndexByte(raw, '<')
	if i < 0 {
		return "", false
	}
	i++
	for i < len(raw) && !isXMLSpace(raw[i]) && raw[i] != '>' && raw[i] != '/' {
		i++
	}
	for i < len(raw) {
		for i < len(raw) && isXMLSpace(raw[i]) {
			i++
		}
		if i >= len(raw) || raw[i] == '>' || raw[i] == '/' {
			return "", false
		}
		n0 := i
		for i < len(raw) && raw[i] != '=' && !isXMLSpace(raw[i]) {
			i++
		}
		name := raw[n0:i]
		for i < len(raw) && raw[i] != '\'' && raw[i] != '"' {
			i++
		}
		if i >= len(raw) {
			return "", false
		}
		q := raw[i]
		i++
		v0 := i
		for i < len(raw) && raw[i] != q {
			i++
		}
		if string(name) == "xmlns" {
			return string(raw[v0:i]), true
		}
		i++
	}
	return "", false
}

func isXMLSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// appendAttrs appends ` name='value'` for each pair with a non-empty value.
func appendAttrs(buf []byte, pairs []string) []byte {
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			continue
		}
		buf = append(buf, ' ')
		buf = append(buf, pairs[i]...)
		buf = append(buf, "='"...)
		buf = appendAttrValue(buf, pairs[i+1])
		buf = append(buf, '\'')
	}
	return buf
}

// appendAttrValue escapes v for a quoted attribute; tabs and line breaks
// become character references so attribute normalization keeps them.
func appendAttrValue(buf []byte, v string) []byte {
	for {
		i := strings.IndexAny(v, "\t\n\r")
		if i < 0 {
			return xmlstream.AppendEscaped(buf, v)
		}
		buf = xmlstream.AppendEscaped(buf, v[:i])
		switch v[i] {
		case '\t':
			buf = append(buf, "&#x9;"...)
		case '\n':
			buf = append(buf, "&#xA;"...)
		default:
			buf = append(buf, "&#xD;"...)
		}
		v = v[i+1:]
	}
}

// insertChild returns a copy of raw with child (serialized XML) added as
// the last child of the top-level element, or nil if raw is not an element.
func insertChild(raw, child []byte) []byte {
	raw = bytes.TrimRight(raw, " \t\r\n")
	if bytes.HasSuffix(raw, []byte("/>")) && !bytes.Contains(raw, []byte("</")) {
		// <message .../>: the top-level tag is the only tag.
		name := topLevelName(raw)
		out := make([]byte, 0, len(raw)+len(child)+len(name)+4)
		out = append(out, raw[:len(raw)-2]...)
		out = append(out, '>')
		out = append(out, child...)
		out = append(out, "</"...)
		out = append(out, name...)
		return append(out, '>')
	}
	end := bytes.LastIndex(raw, []byte("</"))
	if end < 0 {
		return nil
	}
	out := make([]byte, 0, len(raw)+len(child))
	out = append(out, raw[:end]...)
	out = append(out, child...)
	return append(out, raw[end:]...)
}

// withRaw returns a stanza like st with different bytes (same name,
// attributes and namespace context).
func withRaw(st *xmlstream.Stanza, raw []byte) *xmlstream.Stanza {
	return &xmlstream.Stanza{Raw: raw, Name: st.Name, Attrs: st.Attrs, Inherited: st.Inherited}
}
