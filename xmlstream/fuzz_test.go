package xmlstream

// Fuzz tests use encoding/xml (strict, namespace-resolving) as the oracle for
// well-formedness: whatever this lexer accepts, encoding/xml must accept too,
// with the same names, namespaces, attributes and text. The reverse does not
// hold everywhere, on purpose:
//   - RFC 6120 §11 forbids comments, processing instructions, DTDs and
//     entity declarations, which encoding/xml accepts; we reject them with
//     restricted-xml, so those inputs are not compared.
//   - encoding/xml is lenient where Namespaces in XML 1.0 is not: it accepts
//     duplicate attributes, undeclared prefixes (keeping the prefix as the
//     namespace), "a:1" and ":a" as names, xmlns:p='' and rebinding of the
//     xml/xmlns prefixes, attributes not separated by white space
//     (<a b=''c=''>), and loose XML declarations. knownStricter lists the
//     errors we raise for those so only they may differ.
//   - encoding/xml checks names against the XML 1.0 fourth edition tables
//     (Appendix B); we follow the fifth edition (§2.3), which allows more
//     non-ASCII name characters, so an oracle "invalid XML name" on non-ASCII
//     input is skipped.
//   - encoding/xml does not normalize white space in attribute values
//     (XML 1.0 §3.3.3); values (and namespace names) are compared with
//     white space mapped to spaces.
//   - encoding/xml does not know the byte order mark; it is stripped for it.

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

var errOracleRestricted = errors.New("oracle: comment, PI or directive")

func isXMLSpace(s []byte) bool {
	for _, c := range s {
		if !isSpaceByte(c) {
			return false
		}
	}
	return true
}

// oracleTree reads tokens after start up to its end element.
func oracleTree(d *xml.Decoder, start xml.StartElement) (*Element, error) {
	el := &Element{Name: Name{start.Name.Space, start.Name.Local}, Attrs: oracleAttrs(start)}
	var text []byte
	flush := func() {
		if len(text) > 0 {
			el.Children = append(el.Children, Child{Text: string(text)})
			text = nil
		}
	}
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.CharData:
			text = append(text, t...)
		case xml.StartElement:
			flush()
			c, err := oracleTree(d, t)
			if err != nil {
				return nil, err
			}
			el.Children = append(el.Children, Child{Elem: c})
		case xml.EndElement:
			flush()
			return el, nil
		default:
			return nil, errOracleRestricted
		}
	}
}

// oracleAttrs returns the attributes of start without namespace declarations.
func oracleAttrs(start xml.StartElement) []Attr {
	var attrs []Attr
	for _, a := range start.Attr {
		if a.Name.Space == "xmlns" || a.Name.Space == "" && a.Name.Local == "xmlns" {
			continue
		}
		attrs = append(attrs, Attr{Name{a.Name.Space, a.Name.Local}, a.Value})
	}
	return attrs
}

// oracleDocument parses a standalone element with encoding/xml.
func oracleDocument(data []byte, inherited string) (*Element, error) {
	d := xml.NewDecoder(bytes.NewReader(bytes.TrimPrefix(data, bom)))
	d.DefaultSpace = inherited
	var root *Element
	for first := true; ; first = false {
		tok, err := d.Token()
		if err == io.EOF {
			if root == nil {
				return nil, errors.New("oracle: no element")
			}
			return root, nil
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.CharData:
			if !isXMLSpace(t) {
				return nil, errors.New("oracle: text outside the element")
			}
		case xml.ProcInst:
			if !first || t.Target != "xml" {
				return nil, errOracleRestricted
			}
		case xml.StartElement:
			if root != nil {
				return nil, errors.New("oracle: second element")
			}
			if root, err = oracleTree(d, t); err != nil {
				return nil, err
			}
		default:
			return nil, errOracleRestricted
		}
	}
}

// normalized returns a copy of e with white space in attribute values and
// namespace names mapped to spaces (see the file comment).
func normalized(e *Element) *Element {
	ws := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r == '\t' || r == '\n' || r == '\r' {
				return ' '
			}
			return r
		}, s)
	}
	c := &Element{Name: Name{ws(e.Name.Space), e.Name.Local}}
	for _, a := range e.Attrs {
		c.Attrs = append(c.Attrs, Attr{Name{ws(a.Name.Space), a.Name.Local}, ws(a.Value)})
	}
	for _, ch := range e.Children {
		if ch.Elem != nil {
			c.Children = append(c.Children, Child{Elem: normalized(ch.Elem)})
		} else {
			c.Children = append(c.Children, ch)
		}
	}
	return c
}

// oracleLenient reports an oracle rejection that comes from its older name tables.
func oracleLenient(data []byte, oerr error) bool {
	return oerr != nil && strings.Contains(oerr.Error(), "invalid XML name") && !isASCII(data)
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// knownStricter reports whether err is one of the namespace or declaration
// rules encoding/xml does not check.
func knownStricter(err error) bool {
	var xe *Error
	if !errors.As(err, &xe) {
		return false
	}
	if xe.Condition != CondNotWellFormed {
		return true // restricted-xml, policy-violation, unsupported-encoding
	}
	for _, m := range []string{"duplicate attribute", "undeclared namespace prefix", "invalid qualified name",
		"reserved namespace", "the xmlns prefix", "the xml prefix", "empty namespace name", "element name with the xmlns prefix",
		"XML declaration", "encoding name", "standalone", "XML version", "white space before attribute"} {
		if strings.Contains(xe.Msg, m) {
			return true
		}
	}
	return false
}

func checkAgainstOracle(t *testing.T, data []byte, inherited string) {
	el, err := ParseElement(data, inherited, Limits{})
	oel, oerr := oracleDocument(data, inherited)
	st, serr := ParseStanza(data, inherited, Limits{})
	if (err == nil) != (serr == nil) {
		t.Fatalf("ParseElement error %v, ParseStanza error %v", err, serr)
	}
	if err != nil {
		if Condition(err) == "" {
			t.Fatalf("error without a condition: %v", err)
		}
		if oerr == nil && !knownStricter(err) && !strings.Contains(string(data), "]]>") {
			t.Fatalf("rejected what encoding/xml accepts: %v\ninput %q", err, data)
		}
		return
	}
	if oerr != nil {
		if oracleLenient(data, oerr) {
			return
		}
		t.Fatalf("accepted what encoding/xml rejects (%v)\ninput %q", oerr, data)
	}
	if got, want := normalized(el), normalized(oel); !reflect.DeepEqual(got, want) {
		t.Fatalf("tree differs from encoding/xml\n got %s\nwant %s\ninput %q", got, want, data)
	}
	if st.Name != el.Name || !reflect.DeepEqual(st.Attrs, el.Attrs) {
		t.Fatalf("ParseStanza %v %v, ParseElement %v %v", st.Name, st.Attrs, el.Name, el.Attrs)
	}
	// What we serialize parses back to the same tree.
	raw := el.AppendXML(nil, inherited)
	back, err := ParseElement(raw, inherited, Limits{})
	if err != nil {
		t.Fatalf("serialized form does not parse: %v\n%s", err, raw)
	}
	if !reflect.DeepEqual(back, el) {
		t.Fatalf("round trip differs\n got %#v\nwant %#v\nraw %s", back, el, raw)
	}
}

func FuzzParseElement(f *testing.F) {
	f.Add([]byte(`<message xmlns='jabber:client' to='a@b' type='chat'><body>hi</body></message>`), "")
	f.Add([]byte(`<iq type='get' id='1'><query xmlns='jabber:iq:roster'/></iq>`), NSClient)
	f.Add([]byte(`<?xml version='1.0' encoding='UTF-8'?><a xmlns:p='u' p:x='1' xml:lang='en'><p:b>&lt;&#65;&#x42;<![CDATA[c]]></p:b></a>`), "")
	f.Add([]byte("<a b='\t\r\n&#9;'>\r\n</a>"), "")
	f.Add([]byte(`<a><!-- no --></a>`), "")
	f.Add([]byte(`<a xmlns:a='u' xmlns:b='u' a:x='' b:x=''/>`), "")
	f.Add([]byte("<é中 ü='1'/>"), "")
	f.Add([]byte(`<a xmlns='u'><b xmlns=''><c xmlns:p='v'><p:d p:e='1' e='2'/></c></b></a>`), "jabber:client")
	f.Add([]byte(`<p:a xmlns:p='u'><p:b xmlns:p='v'/></p:a>`), "")
	f.Add([]byte("<a>]]&gt;]]]<![CDATA[]]]]><![CDATA[>]]>&#x10FFFF;&#1114111;&#xD7FF;&#xE000;&#xFFFD;</a>"), "")
	f.Add([]byte("<a b='1' c=\"2\" d = '3'\n/>"), "")
	f.Add([]byte("<a xml:lang='en' xmlns:xml='http://www.w3.org/XML/1998/namespace'/>"), "")
	f.Add([]byte("<a>\r\n\r&#13;&#10;\n</a>"), "")
	f.Add([]byte("<a\u00b7b/>"), "")
	f.Fuzz(func(t *testing.T, data []byte, inherited string) {
		if !utf8.ValidString(inherited) {
			return
		}
		checkAgainstOracle(t, data, inherited)
	})
}

// chunkReader returns data in pieces of n bytes.
type chunkReader struct {
	data []byte
	n    int
}

func (r *chunkReader) Read(b []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := min(r.n, len(b), len(r.data))
	copy(b, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}

func FuzzDecoder(f *testing.F) {
	f.Add([]byte(testHeader+"<message to='a@b'><body>hi</body></message> <iq type='get'/></stream:stream>"), uint8(0))
	f.Add([]byte(`<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback'><db:result to='a'>k</db:result></stream:stream>`), uint8(3))
	f.Add([]byte("\xEF\xBB\xBF<?xml version='1.0'?>\n<s:stream xmlns:s='http://etherx.jabber.org/streams'>\n<a/>\n</s:stream>"), uint8(1))
	f.Add([]byte(testHeader+"<a><![CDATA[x]]>&amp;</a><!-- c -->"), uint8(2))
	f.Add([]byte(`<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' xmlns:x='urn:x'><x:a x:b='1'><c xmlns:x='urn:y'><x:d/></c></x:a> <b><x:e/></b></stream:stream>`), uint8(5))
	f.Add([]byte(testHeader+"<message><body>a</body></message> \n\t <presence/><iq><query xmlns='q'/></iq></stream:stream>"), uint8(7))
	f.Add([]byte(testHeader+"<a><b></a></b>"), uint8(1))
	f.Add([]byte("<stream:stream xmlns:stream='urn:wrong' to='x'>"), uint8(4))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		d := NewDecoder(&chunkReader{data: data, n: 1 + int(chunk%64)}, Limits{MaxStanzaBytes: 1 << 16})
		od := xml.NewDecoder(bytes.NewReader(bytes.TrimPrefix(data, bom)))
		h, err := d.ReadHeader()
		if err != nil && Condition(err) != CondInvalidNamespace && Condition(err) != CondBadFormat {
			return
		}
		// The oracle must see the same header.
		var ostart xml.StartElement
		for first := true; ; first = false {
			tok, oerr := od.Token()
			if oerr != nil {
				if oracleLenient(data, oerr) {
					return
				}
				t.Fatalf("header accepted, encoding/xml: %v\ninput %q", oerr, data)
			}
			switch tk := tok.(type) {
			case xml.CharData:
				if !isXMLSpace(tk) {
					t.Fatalf("header accepted after text %q", tk)
				}
				continue
			case xml.ProcInst:
				if first && tk.Target == "xml" {
					continue
				}
			case xml.StartElement:
				ostart = tk
			}
			if ostart.Name.Local == "" {
				t.Fatalf("header accepted, encoding/xml saw %#v\ninput %q", tok, data)
			}
			break
		}
		if got, want := normalized(&Element{Name: h.Name, Attrs: h.Attrs}),
			normalized(&Element{Name: Name{ostart.Name.Space, ostart.Name.Local}, Attrs: oracleAttrs(ostart)}); !reflect.DeepEqual(got, want) {
			t.Fatalf("header %+v, encoding/xml %+v\ninput %q", h, ostart, data)
		}
		if err != nil {
			return
		}
		for {
			st, err := d.Next()
			if err != nil && err != ErrStreamEnd {
				return
			}
			var tok xml.Token
			var oerr error
			for {
				tok, oerr = od.Token()
				if cd, ok := tok.(xml.CharData); !ok || !isXMLSpace(cd) {
					break
				}
			}
			if oerr != nil {
				if oracleLenient(data, oerr) {
					return
				}
				t.Fatalf("accepted, encoding/xml: %v\ninput %q", oerr, data)
			}
			if err == ErrStreamEnd {
				if _, ok := tok.(xml.EndElement); !ok {
					t.Fatalf("stream end, encoding/xml saw %#v", tok)
				}
				return
			}
			start, ok := tok.(xml.StartElement)
			if !ok {
				t.Fatalf("stanza %s, encoding/xml saw %#v\ninput %q", st.Raw, tok, data)
			}
			oel, oerr := oracleTree(od, start)
			if oerr != nil {
				if oracleLenient(data, oerr) {
					return
				}
				t.Fatalf("stanza %s accepted, encoding/xml: %v\ninput %q", st.Raw, oerr, data)
			}
			el, err := st.Element()
			if err != nil {
				t.Fatalf("Raw %s does not stand alone: %v", st.Raw, err)
			}
			if got, want := normalized(el), normalized(oel); !reflect.DeepEqual(got, want) {
				t.Fatalf("stanza differs from encoding/xml\n got %s\nwant %s\ninput %q", got, want, data)
			}
			if st.Name != el.Name || !reflect.DeepEqual(st.Attrs, el.Attrs) {
				t.Fatalf("stanza %v %v, its element %v %v", st.Name, st.Attrs, el.Name, el.Attrs)
			}
			if !bytes.Contains(data, st.Raw) && !bytes.Contains(st.Raw, []byte(" xmlns:")) {
				t.Fatalf("Raw %q is not from the input", st.Raw)
			}
		}
	})
}

func FuzzWithAttrs(f *testing.F) {
	f.Add([]byte(`<message to='a' from='b' id='c'><body>x</body></message>`), "from", "me@x/y")
	f.Add([]byte(`<iq id="1" type='get'/>`), "id", "")
	f.Add([]byte(`<presence xml:lang='en' xmlns:p='u' p:to='1'/>`), "to", "a'\"<&>\t\n\r")
	f.Add([]byte("<a\n b = 'x>'\n/>"), "b", "\x00\xff")
	f.Fuzz(func(t *testing.T, raw []byte, name, value string) {
		if !isSimpleName(name) {
			return // WithAttrs takes names from code, not from peers
		}
		st, err := ParseStanza(raw, NSClient, Limits{})
		if err != nil {
			return
		}
		n := st.WithAttrs(name, value)
		re, err := ParseStanza(n.Raw, NSClient, Limits{})
		if err != nil {
			t.Fatalf("%s: %v\nfrom %s", n.Raw, err, raw)
		}
		if got, want := re.Attr(name), sanitized(value); got != want || n.Attr(name) != value {
			t.Fatalf("%s = %q (stanza says %q), want %q\n%s", name, got, n.Attr(name), want, n.Raw)
		}
		if _, ok := (&Element{Attrs: re.Attrs}).LookupAttr(name); ok != (value != "") {
			t.Fatalf("presence of %s: %v\n%s", name, ok, n.Raw)
		}
		for _, a := range st.Attrs {
			if a.Name == (Name{Local: name}) {
				continue
			}
			if !sameAttrs([]Attr{a}, filterAttr(re.Attrs, a.Name)) {
				t.Fatalf("attribute %v lost or changed\n%s\n%s", a, raw, n.Raw)
			}
		}
		a, _ := st.Element()
		b, _ := re.Element()
		if !reflect.DeepEqual(a.Children, b.Children) || a.Name != b.Name {
			t.Fatalf("content changed\n%s\n%s", raw, n.Raw)
		}
	})
}

func filterAttr(attrs []Attr, n Name) []Attr {
	var out []Attr
	for _, a := range attrs {
		if a.Name == n {
			out = append(out, a)
		}
	}
	return out
}

func isSimpleName(s string) bool {
	if s == "" || strings.HasPrefix(strings.ToLower(s), "xml") {
		return false
	}
	for i, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || i > 0 && (c >= '0' && c <= '9' || c == '-' || c == '.')) {
			return false
		}
	}
	return true
}

// sanitized is value as a parser reads it back after AppendEscaped: illegal
// characters become U+FFFD.
func sanitized(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); {
		r, n := utf8.DecodeRuneInString(v[i:])
		if r == utf8.RuneError && n == 1 || !isChar(r) {
			r = utf8.RuneError
		}
		b.WriteRune(r)
		i += n
	}
	return b.String()
}
