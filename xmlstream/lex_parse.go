package xmlstream

import (
	"bytes"
	"errors"
	"sync"
	"unicode/utf8"
)

// nsXMLNS is the namespace bound to the reserved xmlns prefix; it may never be declared.
const nsXMLNS = "http://www.w3.org/2000/xmlns/"

// errIncomplete means the input ended inside the element: the stream decoder
// reads more, a standalone parse reports not-well-formed.
var errIncomplete = errors.New("xmlstream: incomplete element")

// nsBind is one namespace declaration in scope.
type nsBind struct {
	prefix []byte // empty for the default namespace
	uri    []byte // unescaped namespace name
	str    string // uri as a string, made when first needed
	hasStr bool
}

func (b *nsBind) uriString() string {
	if !b.hasStr {
		b.str = internNS(b.uri)
		b.hasStr = true
	}
	return b.str
}

var xmlBind = nsBind{prefix: []byte("xml"), uri: []byte(NSXML), str: NSXML, hasStr: true}

// rawAttr is an attribute of the start tag being parsed. It holds offsets
// into parser.s rather than slices so the scratch array has no pointers.
type rawAttr struct {
	q0, colon, q1              int  // qualified name s[q0:q1]; colon is -1 when unprefixed
	v0, v1                     int  // raw value s[v0:v1]
	decl                       bool // xmlns or xmlns:p
	esc                        bool // value has references or white space to normalize
	space                      int  // binding code of the namespace (see parser.lookup); bindNone if unprefixed
	local0, local1, val0, val1 int  // spans in parser.vals; local0 == local1 when interned
}

func (a *rawAttr) qname(s []byte) []byte { return s[a.q0:a.q1] }
func (a *rawAttr) val(s []byte) []byte   { return s[a.v0:a.v1] }
func (a *rawAttr) prefix(s []byte) []byte {
	if a.colon < 0 {
		return nil
	}
	return s[a.q0:a.colon]
}
func (a *rawAttr) local(s []byte) []byte {
	if a.colon < 0 {
		return s[a.q0:a.q1]
	}
	return s[a.colon+1 : a.q1]
}

type openElem struct {
	qname []byte
	mark  int // len(parser.ns) before this element's declarations
	el    *Element
}

// parser validates and decodes one element held completely in memory. It is
// reused across stanzas by the stream decoder to keep its scratch buffers.
type parser struct {
	s     []byte
	pos   int
	off   int64 // stream offset of s[0], for error offsets
	lim   Limits
	build bool // build an Element tree; otherwise only validate and report the top-level tag

	inh     nsBind   // default namespace in scope outside the element
	hdr     []nsBind // prefixes declared on the stream header
	hdrUsed []bool

	ns    []nsBind
	open  []openElem
	attrs []rawAttr
	text  []byte
	vals  []byte

	// The top-level start tag.
	topName    Name
	topAttrs   []Attr
	topNameEnd int // offset in s just after the element name, where declarations can be inserted
}

func (p *parser) fail(cond, msg string) error {
	return &Error{Condition: cond, Msg: msg, Offset: p.off + int64(p.pos)}
}

func (p *parser) failAt(i int, cond, msg string) error {
	p.pos = i
	return p.fail(cond, msg)
}

func (p *parser) skipSpace() bool {
	start := p.pos
	for p.pos < len(p.s) && isSpaceByte(p.s[p.pos]) {
		p.pos++
	}
	return p.pos > start
}

// qname reads a qualified name (Namespaces in XML §4) at p.pos.
func (p *parser) qname() (q, prefix, local []byte, err error) {
	s := p.s
	start := p.pos
	i := start
	colon := -1
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			cl := byteClass[c]
			if cl&clNameStart != 0 || (cl&clName != 0 && i > start) {
				i++
				continue
			}
			if c == ':' {
				if colon >= 0 || i == start {
					return nil, nil, nil, p.failAt(i, CondNotWellFormed, "invalid qualified name")
				}
				colon = i
				i++
				continue
			}
			break
		}
		r, n := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && n == 1 {
			if !utf8.FullRune(s[i:]) {
				return nil, nil, nil, errIncomplete
			}
			return nil, nil, nil, p.failAt(i, CondNotWellFormed, "invalid UTF-8")
		}
		if i == start || colon == i-1 {
			if !isNameStartRune(r) {
				break
			}
		} else if !isNameRune(r) {
			break
		}
		i += n
	}
	if i == len(s) {
		return nil, nil, nil, errIncomplete
	}
	if i == start {
		return nil, nil, nil, p.failAt(i, CondNotWellFormed, "expected a name")
	}
	if i-start > p.lim.MaxNameBytes {
		return nil, nil, nil, p.failAt(start, CondPolicyViolation, "name too long")
	}
	if colon == i-1 {
		return nil, nil, nil, p.failAt(i, CondNotWellFormed, "invalid qualified name")
	}
	// A local part must start with a NameStartChar: "a:1" and "a:-" are not QNames.
	if colon >= 0 {
		c := s[colon+1]
		if c < utf8.RuneSelf && byteClass[c]&clNameStart == 0 {
			return nil, nil, nil, p.failAt(colon+1, CondNotWellFormed, "invalid qualified name")
		}
		prefix, local = s[start:colon], s[colon+1:i]
	} else {
		local = s[start:i]
	}
	p.pos = i
	return s[start:i], prefix, local, nil
}

// ref validates the reference starting at s[i] == '&' and returns its length.
func (p *parser) ref(i int) (int, error) {
	s := p.s
	j := i + 1
	if j < len(s) && s[j] == '#' {
		j++
		hex := j < len(s) && s[j] == 'x'
		if hex {
			j++
		}
		digits := j
		var r rune
		for j < len(s) && s[j] != ';' {
			c := s[j]
			var v int
			if hex {
				v = hexVal(c)
			} else if c >= '0' && c <= '9' {
				v = int(c - '0')
			} else {
				v = -1
			}
			if v < 0 {
				return 0, p.failAt(j, CondNotWellFormed, "invalid character reference")
			}
			if hex {
				r = r<<4 | rune(v)
			} else {
				r = r*10 + rune(v)
			}
			if r > utf8.MaxRune {
				return 0, p.failAt(i, CondNotWellFormed, "character reference out of range")
			}
			j++
		}
		if j == len(s) {
			return 0, errIncomplete
		}
		if j == digits {
			return 0, p.failAt(j, CondNotWellFormed, "empty character reference")
		}
		if !isChar(r) {
			return 0, p.failAt(i, CondNotWellFormed, "character reference to an illegal character")
		}
		return j + 1 - i, nil
	}
	for j < len(s) && s[j] != ';' {
		c := s[j]
		if c < utf8.RuneSelf && byteClass[c]&(clName|clNameStart) == 0 && c != ':' {
			return 0, p.failAt(i, CondNotWellFormed, "invalid entity reference")
		}
		if j-i > 64 {
			break
		}
		j++
	}
	if j == len(s) {
		return 0, errIncomplete
	}
	name := s[i+1 : j]
	if _, ok := predefined(name); ok && s[j] == ';' {
		return j + 1 - i, nil
	}
	if len(name) > 0 && s[j] == ';' && isName(name) {
		return 0, p.failAt(i, CondRestrictedXML, "entity reference other than the predefined ones")
	}
	return 0, p.failAt(i, CondNotWellFormed, "invalid entity reference")
}

// isName reports whether b is an XML Name.
func isName(b []byte) bool {
	for i := 0; i < len(b); {
		r, n := rune(b[i]), 1
		if r >= utf8.RuneSelf {
			r, n = utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n == 1 {
				return false
			}
			if i == 0 && !isNameStartRune(r) || i > 0 && !isNameRune(r) {
				return false
			}
		} else {
			cl := byteClass[r]
			if i == 0 && cl&clNameStart == 0 && r != ':' || i > 0 && cl&(clNameStart|clName) == 0 && r != ':' {
				return false
			}
		}
		i += n
	}
	return len(b) > 0
}

// rune validates the non-ASCII UTF-8 sequence at s[i] as an XML Char and
// returns its length.
func (p *parser) char(i int) (int, error) {
	r, n := utf8.DecodeRune(p.s[i:])
	if r == utf8.RuneError && n == 1 {
		if !utf8.FullRune(p.s[i:]) {
			return 0, errIncomplete
		}
		return 0, p.failAt(i, CondNotWellFormed, "invalid UTF-8")
	}
	if !isChar(r) {
		return 0, p.failAt(i, CondNotWellFormed, "illegal character")
	}
	return n, nil
}

// attrValue validates an attribute value whose opening quote q was just
// consumed, leaving p.pos after the closing quote. esc reports whether the
// value needs unescaping or normalization.
func (p *parser) attrValue(q byte) (esc bool, err error) {
	s := p.s
	i := p.pos
	for i < len(s) {
		c := s[i]
		if byteClass[c]&clAttr != 0 {
			i++
			continue
		}
		switch {
		case c == q:
			p.pos = i + 1
			return esc, nil
		case c == '\'' || c == '"':
			i++
		case c == '<':
			return false, p.failAt(i, CondNotWellFormed, "'<' in attribute value")
		case c == '&':
			n, err := p.ref(i)
			if err != nil {
				return false, err
			}
			esc = true
			i += n
		case c == '\t' || c == '\n' || c == '\r':
			esc = true
			i++
		case c < 0x20:
			return false, p.failAt(i, CondNotWellFormed, "illegal character")
		default:
			n, err := p.char(i)
			if err != nil {
				return false, err
			}
			i += n
		}
	}
	return false, errIncomplete
}

// charData validates character data up to the next '<' and, when building,
// appends it unescaped to p.text.
func (p *parser) charData() error {
	s := p.s
	start := p.pos
	i := start
	for i < len(s) {
		c := s[i]
		if byteClass[c]&clText != 0 {
			i++
			continue
		}
		switch {
		case c == '<':
			if p.build {
				p.text = appendUnescaped(p.text, s[start:i], false)
			}
			p.pos = i
			return nil
		case c == '&':
			n, err := p.ref(i)
			if err != nil {
				return err
			}
			i += n
		case c == ']':
			if len(s)-i >= 3 {
				if s[i+1] == ']' && s[i+2] == '>' {
					return p.failAt(i, CondNotWellFormed, "']]>' in character data")
				}
			} else if bytes.HasPrefix([]byte("]]>"), s[i:]) {
				return errIncomplete
			}
			i++
		case c == '\r':
			i++
		case c < 0x20:
			return p.failAt(i, CondNotWellFormed, "illegal character")
		default:
			n, err := p.char(i)
			if err != nil {
				return err
			}
			i += n
		}
	}
	return errIncomplete
}

var cdataOpen = []byte("<![CDATA[")

// markupDecl handles "<!" in content: a CDATA section (treated as text) or a
// comment, DOCTYPE or other declaration, which RFC 6120 §11.1 forbids.
func (p *parser) markupDecl() error {
	rest := p.s[p.pos:]
	if !bytes.HasPrefix(rest, cdataOpen) {
		if len(rest) < len(cdataOpen) && bytes.HasPrefix(cdataOpen, rest) {
			return errIncomplete
		}
		return p.fail(CondRestrictedXML, "comments and declarations are not allowed")
	}
	start := p.pos + len(cdataOpen)
	end := bytes.Index(p.s[start:], []byte("]]>"))
	if end < 0 {
		return errIncomplete
	}
	end += start
	for i := start; i < end; {
		c := p.s[i]
		if c >= utf8.RuneSelf {
			n, err := p.char(i)
			if err != nil {
				return err
			}
			i += n
			continue
		}
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
			return p.failAt(i, CondNotWellFormed, "illegal character")
		}
		i++
	}
	if p.build {
		p.text = appendNormalizedCR(p.text, p.s[start:end])
	}
	p.pos = end + 3
	return nil
}

// Binding codes returned by lookup besides indexes into parser.ns.
const (
	bindNone      = -1 // undeclared
	bindInherited = -2
	bindXML       = -3
	bindHeader    = -4 // bindHeader-k is parser.hdr[k]
)

// lookup resolves a prefix in scope (the default namespace for an empty
// prefix) and returns its binding code.
func (p *parser) lookup(prefix []byte) int {
	for i := len(p.ns) - 1; i >= 0; i-- {
		if bytes.Equal(p.ns[i].prefix, prefix) {
			return i
		}
	}
	if len(prefix) == 0 {
		return bindInherited
	}
	for i := range p.hdr {
		if bytes.Equal(p.hdr[i].prefix, prefix) {
			p.hdrUsed[i] = true
			return bindHeader - i
		}
	}
	if string(prefix) == "xml" {
		return bindXML
	}
	return bindNone
}

func (p *parser) binding(code int) *nsBind {
	switch {
	case code >= 0:
		return &p.ns[code]
	case code == bindInherited:
		return &p.inh
	case code == bindXML:
		return &xmlBind
	}
	return &p.hdr[bindHeader-code]
}

// startTag parses the start tag at p.pos ('<'), pushing its namespace
// declarations. It returns the element (when building), the raw name, whether
// the tag was an empty-element tag, and the ns mark to pop to.
func (p *parser) startTag(depth int) (el *Element, qname []byte, empty bool, mark int, err error) {
	if depth > p.lim.MaxDepth {
		return nil, nil, false, 0, p.fail(CondPolicyViolation, "elements nested too deeply")
	}
	p.pos++
	qname, prefix, local, err := p.qname()
	if err != nil {
		return nil, nil, false, 0, err
	}
	nameEnd := p.pos
	mark = len(p.ns)
	p.attrs = p.attrs[:0]
	for {
		sp := p.skipSpace()
		if p.pos >= len(p.s) {
			return nil, nil, false, 0, errIncomplete
		}
		c := p.s[p.pos]
		if c == '>' {
			p.pos++
			break
		}
		if c == '/' {
			if p.pos+1 >= len(p.s) {
				return nil, nil, false, 0, errIncomplete
			}
			if p.s[p.pos+1] != '>' {
				return nil, nil, false, 0, p.failAt(p.pos+1, CondNotWellFormed, "expected '>' after '/'")
			}
			p.pos += 2
			empty = true
			break
		}
		if !sp {
			return nil, nil, false, 0, p.fail(CondNotWellFormed, "expected white space before attribute")
		}
		if len(p.attrs) >= p.lim.MaxAttrs {
			return nil, nil, false, 0, p.fail(CondPolicyViolation, "too many attributes")
		}
		a := rawAttr{q0: p.pos, colon: -1, space: bindNone}
		aq, ap, _, err := p.qname()
		if err != nil {
			return nil, nil, false, 0, err
		}
		a.q1 = p.pos
		if ap != nil {
			a.colon = a.q0 + len(ap)
		}
		p.skipSpace()
		if p.pos >= len(p.s) {
			return nil, nil, false, 0, errIncomplete
		}
		if p.s[p.pos] != '=' {
			return nil, nil, false, 0, p.fail(CondNotWellFormed, "expected '=' after attribute name")
		}
		p.pos++
		p.skipSpace()
		if p.pos >= len(p.s) {
			return nil, nil, false, 0, errIncomplete
		}
		q := p.s[p.pos]
		if q != '\'' && q != '"' {
			return nil, nil, false, 0, p.fail(CondNotWellFormed, "attribute value not quoted")
		}
		p.pos++
		v0 := p.pos
		if a.esc, err = p.attrValue(q); err != nil {
			return nil, nil, false, 0, err
		}
		a.v0, a.v1 = v0, p.pos-1
		for j := range p.attrs {
			if bytes.Equal(p.attrs[j].qname(p.s), aq) {
				return nil, nil, false, 0, p.failAt(v0, CondNotWellFormed, "duplicate attribute")
			}
		}
		a.decl = string(aq) == "xmlns" || string(ap) == "xmlns"
		p.attrs = append(p.attrs, a)
	}
	// Declarations first: they apply to the element's own name and attributes.
	for i := range p.attrs {
		a := &p.attrs[i]
		if !a.decl {
			continue
		}
		uri := a.val(p.s)
		if a.esc {
			uri = appendUnescaped(nil, uri, true)
		}
		local := a.local(p.s)
		if a.colon < 0 { // xmlns='...'
			if string(uri) == NSXML || string(uri) == nsXMLNS {
				return nil, nil, false, 0, p.fail(CondNotWellFormed, "reserved namespace as default namespace")
			}
			p.ns = append(p.ns, nsBind{uri: uri})
			continue
		}
		switch {
		case string(local) == "xmlns":
			return nil, nil, false, 0, p.fail(CondNotWellFormed, "the xmlns prefix cannot be declared")
		case string(local) == "xml":
			if string(uri) != NSXML {
				return nil, nil, false, 0, p.fail(CondNotWellFormed, "the xml prefix is bound to its own namespace")
			}
		case len(uri) == 0:
			return nil, nil, false, 0, p.fail(CondNotWellFormed, "empty namespace name for a prefix")
		case string(uri) == NSXML || string(uri) == nsXMLNS:
			return nil, nil, false, 0, p.fail(CondNotWellFormed, "reserved namespace bound to another prefix")
		}
		p.ns = append(p.ns, nsBind{prefix: local, uri: uri})
	}
	if string(prefix) == "xmlns" {
		return nil, nil, false, 0, p.fail(CondNotWellFormed, "element name with the xmlns prefix")
	}
	space := p.lookup(prefix)
	if space == bindNone {
		return nil, nil, false, 0, p.fail(CondNotWellFormed, "undeclared namespace prefix "+string(prefix))
	}
	n := 0
	for i := range p.attrs {
		a := &p.attrs[i]
		if a.decl {
			continue
		}
		n++
		if a.colon < 0 {
			continue
		}
		if a.space = p.lookup(a.prefix(p.s)); a.space == bindNone {
			return nil, nil, false, 0, p.fail(CondNotWellFormed, "undeclared namespace prefix "+string(a.prefix(p.s)))
		}
		for j := 0; j < i; j++ {
			b := &p.attrs[j]
			if !b.decl && b.space != bindNone && bytes.Equal(b.local(p.s), a.local(p.s)) &&
				bytes.Equal(p.binding(b.space).uri, p.binding(a.space).uri) {
				return nil, nil, false, 0, p.fail(CondNotWellFormed, "duplicate attribute")
			}
		}
	}
	if !p.build && depth > 1 {
		return nil, qname, empty, mark, nil
	}
	// Materialize names and values: uncommon local names and all values go
	// into one string per tag.
	p.vals = p.vals[:0]
	elemLocal := internLocal(local)
	l0 := 0
	if elemLocal == "" {
		p.vals = append(p.vals, local...)
	}
	l1 := len(p.vals)
	for i := range p.attrs {
		a := &p.attrs[i]
		if a.decl {
			continue
		}
		a.local0 = len(p.vals)
		if local := a.local(p.s); internLocal(local) == "" {
			p.vals = append(p.vals, local...)
		}
		a.local1 = len(p.vals)
		a.val0 = len(p.vals)
		if a.esc {
			p.vals = appendUnescaped(p.vals, a.val(p.s), true)
		} else {
			p.vals = append(p.vals, a.val(p.s)...)
		}
		a.val1 = len(p.vals)
	}
	all := string(p.vals)
	if elemLocal == "" {
		elemLocal = all[l0:l1]
	}
	var attrs []Attr
	if n > 0 {
		attrs = make([]Attr, 0, n)
		for i := range p.attrs {
			a := &p.attrs[i]
			if a.decl {
				continue
			}
			at := Attr{Value: all[a.val0:a.val1]}
			if a.local1 > a.local0 {
				at.Name.Local = all[a.local0:a.local1]
			} else {
				at.Name.Local = internLocal(a.local(p.s))
			}
			if a.space != bindNone {
				at.Name.Space = p.binding(a.space).uriString()
			}
			attrs = append(attrs, at)
		}
	}
	name := Name{Space: p.binding(space).uriString(), Local: elemLocal}
	if depth == 1 {
		p.topName, p.topAttrs, p.topNameEnd = name, attrs, nameEnd
	}
	if p.build {
		el = &Element{Name: name, Attrs: attrs}
	}
	return el, qname, empty, mark, nil
}

// endTag parses the end tag at p.pos ("</") and closes the innermost element.
func (p *parser) endTag() error {
	p.pos += 2
	q, _, _, err := p.qname()
	if err != nil {
		return err
	}
	top := &p.open[len(p.open)-1]
	if !bytes.Equal(q, top.qname) {
		return p.fail(CondNotWellFormed, "end tag does not match start tag")
	}
	p.skipSpace()
	if p.pos >= len(p.s) {
		return errIncomplete
	}
	if p.s[p.pos] != '>' {
		return p.fail(CondNotWellFormed, "expected '>'")
	}
	p.pos++
	p.ns = p.ns[:top.mark]
	p.open = p.open[:len(p.open)-1]
	return nil
}

// flushText adds accumulated character data to the current element.
func (p *parser) flushText() {
	if len(p.text) > 0 && len(p.open) > 0 {
		el := p.open[len(p.open)-1].el
		el.Children = append(el.Children, Child{Text: string(p.text)})
		p.text = p.text[:0]
	}
}

// element parses one element starting at p.pos ('<') and leaves p.pos after
// it. When building it returns the tree; the top-level tag is always in p.top*.
func (p *parser) element() (*Element, error) {
	p.ns = p.ns[:0]
	p.open = p.open[:0]
	p.text = p.text[:0]
	root, qname, empty, mark, err := p.startTag(1)
	if err != nil || empty {
		p.ns = p.ns[:0]
		return root, err
	}
	p.open = append(p.open, openElem{qname: qname, mark: mark, el: root})
	for len(p.open) > 0 {
		if p.pos >= len(p.s) {
			return nil, errIncomplete
		}
		if p.s[p.pos] != '<' {
			if err := p.charData(); err != nil {
				return nil, err
			}
			continue
		}
		if p.pos+1 >= len(p.s) {
			return nil, errIncomplete
		}
		switch p.s[p.pos+1] {
		case '/':
			p.flushText()
			if err := p.endTag(); err != nil {
				return nil, err
			}
		case '!':
			if err := p.markupDecl(); err != nil {
				return nil, err
			}
		case '?':
			return nil, p.fail(CondRestrictedXML, "processing instructions are not allowed")
		default:
			p.flushText()
			el, qname, empty, mark, err := p.startTag(len(p.open) + 1)
			if err != nil {
				return nil, err
			}
			if p.build {
				parent := p.open[len(p.open)-1].el
				parent.Children = append(parent.Children, Child{Elem: el})
			}
			if empty {
				p.ns = p.ns[:mark]
			} else {
				p.open = append(p.open, openElem{qname: qname, mark: mark, el: el})
			}
		}
	}
	return root, nil
}

// xmlDecl parses an XML declaration at p.pos (which starts with "<?xml" and
// white space) and leaves p.pos after "?>". Only version 1.0 and the UTF-8
// encoding are accepted (RFC 6120 §11.6).
func (p *parser) xmlDecl() error {
	p.pos += len("<?xml")
	for _, name := range []string{"version", "encoding", "standalone"} {
		save := p.pos
		sp := p.skipSpace()
		if !sp || !bytes.HasPrefix(p.s[p.pos:], []byte(name)) {
			if name == "version" {
				if p.pos >= len(p.s) {
					return errIncomplete
				}
				return p.fail(CondNotWellFormed, "XML declaration without version")
			}
			p.pos = save
			continue
		}
		p.pos += len(name)
		p.skipSpace()
		if p.pos >= len(p.s) {
			return errIncomplete
		}
		if p.s[p.pos] != '=' {
			return p.fail(CondNotWellFormed, "malformed XML declaration")
		}
		p.pos++
		p.skipSpace()
		if p.pos >= len(p.s) {
			return errIncomplete
		}
		q := p.s[p.pos]
		if q != '\'' && q != '"' {
			return p.fail(CondNotWellFormed, "malformed XML declaration")
		}
		end := bytes.IndexByte(p.s[p.pos+1:], q)
		if end < 0 {
			return errIncomplete
		}
		v := p.s[p.pos+1 : p.pos+1+end]
		switch name {
		case "version":
			if string(v) != "1.0" {
				return p.fail(CondNotWellFormed, "unsupported XML version")
			}
		case "encoding":
			if !validEncName(v) {
				return p.fail(CondNotWellFormed, "malformed encoding name")
			}
			if !bytes.EqualFold(v, []byte("UTF-8")) {
				return p.fail(CondUnsupportedEnc, "only UTF-8 is supported")
			}
		case "standalone":
			if string(v) != "yes" && string(v) != "no" {
				return p.fail(CondNotWellFormed, "malformed standalone declaration")
			}
		}
		p.pos += end + 2
	}
	p.skipSpace()
	if len(p.s)-p.pos < 2 {
		return errIncomplete
	}
	if p.s[p.pos] != '?' || p.s[p.pos+1] != '>' {
		return p.fail(CondNotWellFormed, "malformed XML declaration")
	}
	p.pos += 2
	return nil
}

// validEncName checks EncName ::= [A-Za-z] ([A-Za-z0-9._] | '-')*.
func validEncName(v []byte) bool {
	for i, c := range v {
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if i == 0 && !letter || !letter && !(c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return len(v) > 0
}

var bom = []byte("\xEF\xBB\xBF")

// prolog skips a byte order mark, an XML declaration and white space before
// a standalone element.
func (p *parser) prolog() error {
	if bytes.HasPrefix(p.s[p.pos:], bom) {
		p.pos += len(bom)
	}
	if isDeclStart(p.s[p.pos:]) {
		if err := p.xmlDecl(); err != nil {
			return err
		}
	}
	p.skipSpace()
	if p.pos >= len(p.s) {
		return errIncomplete
	}
	if p.s[p.pos] != '<' {
		return p.fail(CondNotWellFormed, "expected an element")
	}
	if p.pos+1 < len(p.s) {
		switch p.s[p.pos+1] {
		case '?', '!':
			return p.fail(CondRestrictedXML, "processing instructions, comments and declarations are not allowed")
		case '/':
			return p.fail(CondNotWellFormed, "expected a start tag")
		}
	}
	return nil
}

// isDeclStart reports whether s starts with "<?xml" followed by white space.
func isDeclStart(s []byte) bool {
	return len(s) > 5 && string(s[:5]) == "<?xml" && isSpaceByte(s[5])
}

// standaloneParser is a parser with room for a typical stanza's scratch
// data, so parsing one costs a single allocation besides the result.
type standaloneParser struct {
	parser
	nsArr    [4]nsBind
	openArr  [8]openElem
	attrsArr [8]rawAttr
	textArr  [256]byte
	valsArr  [256]byte
}

// parse parses raw as one element with optional prolog and trailing white
// space, returning the element's span.
func (sp *standaloneParser) parse(raw []byte, inh string, lim Limits, build bool) (*Element, int, int, error) {
	sp.parser = parser{s: raw, lim: lim, build: build, inh: nsBind{str: inh, hasStr: true}}
	p := &sp.parser
	p.ns, p.open, p.attrs, p.text, p.vals = sp.nsArr[:0], sp.openArr[:0], sp.attrsArr[:0], sp.textArr[:0], sp.valsArr[:0]
	if len(raw) > lim.MaxStanzaBytes {
		return nil, 0, 0, p.fail(CondPolicyViolation, "element too large")
	}
	err := p.prolog()
	start := p.pos
	var el *Element
	if err == nil {
		el, err = p.element()
	}
	if err == errIncomplete {
		p.pos = len(raw)
		return nil, 0, 0, p.fail(CondNotWellFormed, "unexpected end of input")
	}
	if err != nil {
		return nil, 0, 0, err
	}
	end := p.pos
	p.skipSpace()
	if p.pos < len(raw) {
		if raw[p.pos] == '<' && p.pos+1 < len(raw) && (raw[p.pos+1] == '!' || raw[p.pos+1] == '?') {
			return nil, 0, 0, p.fail(CondRestrictedXML, "comments and processing instructions are not allowed")
		}
		return nil, 0, 0, p.fail(CondNotWellFormed, "data after the element")
	}
	return el, start, end, nil
}

// standaloneParsers recycles parsers: one holds ~1.2 KB of inline scratch
// arrays that would otherwise be allocated and zeroed for every parse (a
// stanza tree is built on most messages' path). What a parse returns never
// points into a parser (values are copied strings, attribute slices fresh),
// so a parser can be reused as soon as parse returns.
var standaloneParsers = sync.Pool{New: func() any { return new(standaloneParser) }}

func getStandaloneParser() *standaloneParser { return standaloneParsers.Get().(*standaloneParser) }

// putStandaloneParser drops every reference the parser still holds (the
// input, elements on its open stack) before recycling it.
func putStandaloneParser(sp *standaloneParser) {
	sp.parser = parser{}
	clear(sp.openArr[:])
	clear(sp.nsArr[:])
	standaloneParsers.Put(sp)
}

func parseElement(raw []byte, inh string, lim Limits) (*Element, error) {
	p := getStandaloneParser()
	defer putStandaloneParser(p)
	el, _, _, err := p.parse(raw, inh, lim, true)
	return el, err
}

func parseStanza(raw []byte, inh string, lim Limits) (*Stanza, error) {
	p := getStandaloneParser()
	defer putStandaloneParser(p)
	_, start, end, err := p.parse(raw, inh, lim, false)
	if err != nil {
		return nil, err
	}
	return &Stanza{
		Raw:       append([]byte(nil), raw[start:end]...),
		Name:      p.topName,
		Attrs:     p.topAttrs,
		Inherited: inh,
	}, nil
}
