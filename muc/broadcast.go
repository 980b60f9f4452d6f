package muc

// Fan-out: a stanza for many occupants is encoded ONCE. Only 'to' differs
// per recipient, so the encoded bytes are split around where 'to' goes
// (prefix = the start tag up to its end, suffix = the rest) and each
// recipient's copy is prefix ‖ its pre-escaped " to='…'" ‖ suffix. All the
// copies of one broadcast share three allocations (one slab each for the
// bytes, the Stanza values and their attributes), whatever the room size.
//
// Route never blocks: a local recipient's session queues the bytes on its
// bounded writer and a reader too slow for its queue is disconnected by c2s,
// so a slow client cannot stall the room.

import (
	"context"

	"github.com/gavelhq/gavel/xmlstream"
)

// template is an encoded stanza without 'to'.
type template struct {
	prefix []byte // up to the end of the start tag's attributes
	suffix []byte // "/>" or ">…</name>"
	name   xmlstream.Name
	attrs  []xmlstream.Attr
}

// newTemplate encodes el, which must not carry a 'to' attribute.
func newTemplate(el *xmlstream.Element) *template {
	raw := el.AppendXML(nil, xmlstream.NSClient)
	end := startTagEnd(raw)
	return &template{prefix: raw[:end], suffix: raw[end:], name: el.Name, attrs: el.Attrs}
}

// startTagEnd is the offset of the "/>" or ">" closing the first start tag.
// Attribute values are quoted and the encoder escapes '<' and '>' in them,
// but quotes are honoured anyway.
func startTagEnd(raw []byte) int {
	var quote byte
	for i := 1; i < len(raw); i++ {
		c := raw[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '>':
			if raw[i-1] == '/' {
				return i - 1
			}
			return i
		}
	}
	return len(raw)
}

// stanza builds the copy for one recipient.
func (t *template) stanza(s *session) *xmlstream.Stanza {
	raw := make([]byte, 0, len(t.prefix)+len(s.toAttr)+len(t.suffix))
	raw = append(append(append(raw, t.prefix...), s.toAttr...), t.suffix...)
	attrs := make([]xmlstream.Attr, len(t.attrs)+1)
	copy(attrs, t.attrs)
	attrs[len(t.attrs)] = xmlstream.Attr{Name: xmlstream.Name{Local: "to"}, Value: s.full}
	return &xmlstream.Stanza{Raw: raw, Name: t.name, Attrs: attrs, Inherited: xmlstream.NSClient}
}

// fanout routes one copy to each session, in order.
func (t *template) fanout(ctx context.Context, rt Router, to []*session) {
	if len(to) == 0 {
		return
	}
	if len(to) == 1 {
		rt.Route(ctx, t.stanza(to[0]))
		return
	}
	size := 0
	for _, s := range to {
		size += len(t.prefix) + len(s.toAttr) + len(t.suffix)
	}
	buf := make([]byte, 0, size)
	na := len(t.attrs) + 1
	attrs := make([]xmlstream.Attr, na*len(to))
	stanzas := make([]xmlstream.Stanza, len(to))
	for i, s := range to {
		start := len(buf)
		buf = append(append(append(buf, t.prefix...), s.toAttr...), t.suffix...)
		a := attrs[i*na : (i+1)*na : (i+1)*na]
		copy(a, t.attrs)
		a[na-1] = xmlstream.Attr{Name: xmlstream.Name{Local: "to"}, Value: s.full}
		st := &stanzas[i]
		// Full slice expressions: no copy can grow into its neighbour.
		st.Raw = buf[start:len(buf):len(buf)]
		st.Name = t.name
		st.Attrs = a
		st.Inherited = xmlstream.NSClient
	}
	for i := range stanzas {
		rt.Route(ctx, &stanzas[i])
	}
}

// sendTo routes one stanza built from el to one session.
func (r *room) sendTo(ctx context.Context, el *xmlstream.Element, s *session) {
	r.svc.router.Route(ctx, newTemplate(el).stanza(s))
}

// allSessions lists every session in the room, occupants in join order.
func (r *room) allSessions() []*session {
	out := make([]*session, 0, len(r.sessions))
	for _, o := range r.order {
		out = append(out, o.sessions...)
	}
	return out
}
