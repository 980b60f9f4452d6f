package xmlstream

// Fan-out templates: a stanza that goes to many recipients is encoded ONCE.
// Only 'to' differs per recipient, so the encoded bytes are split where
// 'to' goes (prefix = the start tag up to the end of its attributes,
// suffix = "/>" or ">…</name>") and each recipient's copy is
// prefix ‖ " to='…'" ‖ suffix. Copies builds every copy of one fan-out in
// three allocations (one slab each for the bytes, the Stanza values and
// their attributes), whatever the number of recipients.
//
// MUC broadcasts (muc/broadcast.go) and pubsub notifications
// (pubsub/proto_notify.go) both use it. A Template is immutable and may be
// used from several goroutines.

// Template is an encoded stanza without a 'to' attribute, ready to be
// copied for each recipient.
type Template struct {
	prefix []byte // up to the end of the start tag's attributes
	suffix []byte // "/>" or ">…</name>"
	name   Name
	attrs  []Attr
}

// Addressee is one recipient of a Template. ToAttr, when set, is the
// pre-escaped attribute " to='<To>'" (see ToAttr) of a recipient that is
// sent to often, such as a room occupant; otherwise it is escaped per copy.
type Addressee struct {
	To     string
	ToAttr []byte
}

// ToAttr returns " to='<to>'" escaped for a start tag, for Addressee.ToAttr.
func ToAttr(to string) []byte {
	b := make([]byte, 0, len(to)+6)
	return appendToAttr(b, to)
}

func appendToAttr(buf []byte, to string) []byte {
	buf = append(buf, " to='"...)
	buf = appendAttrEscaped(buf, to)
	return append(buf, '\'')
}

// NewTemplate encodes el for a jabber:client context. el must not carry a
// 'to' attribute (it would be duplicated) and must not be modified
// afterwards (the Template shares its attributes).
func NewTemplate(el *Element) *Template {
	raw := el.AppendXML(nil, NSClient)
	end := startTagEnd(raw)
	return &Template{prefix: raw[:end], suffix: raw[end:], name: el.Name, attrs: el.Attrs}
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

// Len is the size of a copy without its 'to' attribute.
func (t *Template) Len() int { return len(t.prefix) + len(t.suffix) }

// Stanza builds the copy for one recipient.
func (t *Template) Stanza(a Addressee) *Stanza {
	raw := make([]byte, 0, len(t.prefix)+toAttrLen(a)+len(t.suffix))
	raw = t.appendCopy(raw, a)
	attrs := make([]Attr, len(t.attrs)+1)
	copy(attrs, t.attrs)
	attrs[len(t.attrs)] = Attr{Name: Name{Local: "to"}, Value: a.To}
	return &Stanza{Raw: raw, Name: t.name, Attrs: attrs, Inherited: NSClient}
}

// Copies builds the copies for n recipients, addressee(i) giving the i-th,
// in order. The copies share three allocations; each is independent of the
// others (no copy can grow into its neighbour) and immutable like any
// Stanza.
func (t *Template) Copies(n int, addressee func(i int) Addressee) []Stanza {
	if n <= 0 {
		return nil
	}
	size := 0
	for i := 0; i < n; i++ {
		size += len(t.prefix) + toAttrLen(addressee(i)) + len(t.suffix)
	}
	buf := make([]byte, 0, size)
	na := len(t.attrs) + 1
	attrs := make([]Attr, na*n)
	stanzas := make([]Stanza, n)
	for i := range stanzas {
		a := addressee(i)
		start := len(buf)
		buf = t.appendCopy(buf, a)
		at := attrs[i*na : (i+1)*na : (i+1)*na]
		copy(at, t.attrs)
		at[na-1] = Attr{Name: Name{Local: "to"}, Value: a.To}
		st := &stanzas[i]
		// Full slice expression: appending to one copy's Raw reallocates.
		st.Raw = buf[start:len(buf):len(buf)]
		st.Name = t.name
		st.Attrs = at
		st.Inherited = NSClient
	}
	return stanzas
}

// copiesPerSlab bounds the slab Each builds at once: ~64 copies of a
// typical stanza are some 25 KB, which stay in cache between being written
// and being queued. One slab for a 10,000-occupant room was 4 MB of fresh
// memory per message, touched twice (zeroed, then filled): a microsecond
// per copy in page faults and cache misses, and all of it pinned until the
// slowest recipient's writer was done.
const copiesPerSlab = 64

// Each builds the copies for n recipients, addressee(i) giving the i-th,
// and hands each to fn in order, a slab of copiesPerSlab at a time (see
// Copies for what a copy shares). fn may keep the stanza.
func (t *Template) Each(n int, addressee func(i int) Addressee, fn func(*Stanza)) {
	for lo := 0; lo < n; lo += copiesPerSlab {
		hi := min(lo+copiesPerSlab, n)
		copies := t.Copies(hi-lo, func(i int) Addressee { return addressee(lo + i) })
		for i := range copies {
			fn(&copies[i])
		}
	}
}

func (t *Template) appendCopy(buf []byte, a Addressee) []byte {
	buf = append(buf, t.prefix...)
	if a.ToAttr != nil {
		buf = append(buf, a.ToAttr...)
	} else {
		buf = appendToAttr(buf, a.To)
	}
	return append(buf, t.suffix...)
}

// toAttrLen is the size of a's " to='…'" (an estimate when it still has to
// be escaped: escaping only grows it, and the slab then grows once).
func toAttrLen(a Addressee) int {
	if a.ToAttr != nil {
		return len(a.ToAttr)
	}
	return len(a.To) + 6
}
