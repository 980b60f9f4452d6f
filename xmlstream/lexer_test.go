package xmlstream

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

const testHeader = `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0' xml:lang='en'>`

// readers wraps input in the ways a network connection may deliver it.
var readers = []struct {
	name string
	wrap func(io.Reader) io.Reader
}{
	{"whole", func(r io.Reader) io.Reader { return r }},
	{"onebyte", iotest.OneByteReader},
	{"half", iotest.HalfReader},
	{"dataerr", iotest.DataErrReader},
}

// decodeAll reads the header and every stanza; it returns the final error.
func decodeAll(r io.Reader, lim Limits) (StreamHeader, []*Stanza, error) {
	d := NewDecoder(r, lim)
	h, err := d.ReadHeader()
	if err != nil {
		return h, nil, err
	}
	var out []*Stanza
	for {
		st, err := d.Next()
		if err != nil {
			return h, out, err
		}
		out = append(out, st)
	}
}

func TestDecoderValidStreams(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		raws   []string // expected Raw of each stanza; "" = same as the input stanza
		names  []Name
		header func(*testing.T, StreamHeader)
	}{
		{
			name:  "typical",
			in:    testHeader + `<message to='a@b' type='chat'><body>hi</body></message></stream:stream>`,
			raws:  []string{`<message to='a@b' type='chat'><body>hi</body></message>`},
			names: []Name{{NSClient, "message"}},
			header: func(t *testing.T, h StreamHeader) {
				if h.Name != (Name{NSStream, "stream"}) || h.Content != NSClient || h.RawPrefix != "stream" {
					t.Errorf("header %+v", h)
				}
				if h.Attr("to") != "example.com" || h.Attr("version") != "1.0" || h.Lang() != "en" {
					t.Errorf("header attrs %+v", h.Attrs)
				}
				if len(h.Attrs) != 3 {
					t.Errorf("xmlns declarations reported as attributes: %+v", h.Attrs)
				}
				if h.Prefixes["stream"] != NSStream || len(h.Prefixes) != 1 {
					t.Errorf("prefixes %v", h.Prefixes)
				}
			},
		},
		{
			name:  "no declaration, double quotes, other prefix",
			in:    `<s:stream xmlns="jabber:server" xmlns:s="http://etherx.jabber.org/streams" version="1.0"><presence/></s:stream>`,
			raws:  []string{`<presence/>`},
			names: []Name{{NSServer, "presence"}},
			header: func(t *testing.T, h StreamHeader) {
				if h.RawPrefix != "s" || h.Content != NSServer {
					t.Errorf("header %+v", h)
				}
			},
		},
		{
			name:  "declaration with encoding and standalone, BOM, whitespace",
			in:    "\xEF\xBB\xBF<?xml version=\"1.0\" encoding='utf-8' standalone='yes' ?>\n\n" + `<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client'>` + "\n  \t<iq type='get' id='1'/>\r\n </stream:stream >",
			raws:  []string{`<iq type='get' id='1'/>`},
			names: []Name{{NSClient, "iq"}},
		},
		{
			name: "whitespace keepalives between stanzas",
			in:   testHeader + " \n <a/>\n\n\n \t <b/> \n</stream:stream>",
			raws: []string{`<a/>`, `<b/>`},
		},
		{
			name:  "stanza using the stream prefix",
			in:    testHeader + `<stream:error><not-well-formed xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>`,
			raws:  []string{`<stream:error xmlns:stream='http://etherx.jabber.org/streams'><not-well-formed xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>`},
			names: []Name{{NSStream, "error"}},
		},
		{
			name:  "prefix declared on the header is injected",
			in:    `<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback'><db:result to='a' from='b'>key</db:result><message><db:x/></message><message xmlns:db='urn:other'><db:x/></message></stream:stream>`,
			raws:  []string{`<db:result xmlns:db='jabber:server:dialback' to='a' from='b'>key</db:result>`, `<message xmlns:db='jabber:server:dialback'><db:x/></message>`, `<message xmlns:db='urn:other'><db:x/></message>`},
			names: []Name{{"jabber:server:dialback", "result"}, {NSClient, "message"}, {NSClient, "message"}},
		},
		{
			name:  "CDATA, character references, multi-byte UTF-8",
			in:    testHeader + `<message><body>a<![CDATA[<&>]]]]>b&#65;&#x1F600;é中😀&lt;&gt;&amp;&apos;&quot;</body></message>`,
			raws:  []string{`<message><body>a<![CDATA[<&>]]]]>b&#65;&#x1F600;é中😀&lt;&gt;&amp;&apos;&quot;</body></message>`},
			names: []Name{{NSClient, "message"}},
		},
		{
			name:  "attribute values with '>' and other quote",
			in:    testHeader + `<message to="a'b" id='x"y>z' type = 'chat' ><body a='/>'/></message>`,
			raws:  []string{`<message to="a'b" id='x"y>z' type = 'chat' ><body a='/>'/></message>`},
			names: []Name{{NSClient, "message"}},
		},
		{
			name: "default namespace changes and undeclaring",
			in:   testHeader + `<iq><query xmlns='jabber:iq:roster'><item xmlns=''/></query></iq>`,
			raws: []string{`<iq><query xmlns='jabber:iq:roster'><item xmlns=''/></query></iq>`},
		},
		{
			name:  "header without default namespace",
			in:    `<stream:stream xmlns:stream='http://etherx.jabber.org/streams'><x/></stream:stream>`,
			raws:  []string{`<x/>`},
			names: []Name{{"", "x"}},
		},
	}
	for _, tc := range tests {
		for _, rd := range readers {
			t.Run(tc.name+"/"+rd.name, func(t *testing.T) {
				h, sts, err := decodeAll(rd.wrap(strings.NewReader(tc.in)), Limits{})
				wantErr := io.EOF
				if strings.Contains(tc.in, "stream>") || strings.Contains(tc.in, "stream >") {
					wantErr = ErrStreamEnd
				}
				if err != wantErr {
					t.Fatalf("final error %v, want %v", err, wantErr)
				}
				if tc.header != nil {
					tc.header(t, h)
				}
				if len(sts) != len(tc.raws) {
					t.Fatalf("got %d stanzas, want %d", len(sts), len(tc.raws))
				}
				for i, st := range sts {
					if string(st.Raw) != tc.raws[i] {
						t.Errorf("stanza %d Raw\n got %s\nwant %s", i, st.Raw, tc.raws[i])
					}
					if tc.names != nil && st.Name != tc.names[i] {
						t.Errorf("stanza %d name %v, want %v", i, st.Name, tc.names[i])
					}
					if st.Inherited != h.Content {
						t.Errorf("Inherited %q, want %q", st.Inherited, h.Content)
					}
					el, err := st.Element()
					if err != nil {
						t.Fatalf("stanza %d does not stand alone: %v", i, err)
					}
					if el.Name != st.Name {
						t.Errorf("Element name %v, stanza name %v", el.Name, st.Name)
					}
				}
			})
		}
	}
}

func TestDecoderAttrsAndText(t *testing.T) {
	in := testHeader + "<message to='a&amp;b&#x41;' xml:lang='de' id=\"1\r\n2\t3&#9;\"><body>x&#13;\r\ny\rz</body></message>"
	_, sts, _ := decodeAll(strings.NewReader(in), Limits{})
	if len(sts) != 1 {
		t.Fatalf("got %d stanzas", len(sts))
	}
	st := sts[0]
	if st.To() != "a&bA" || st.Lang() != "de" || st.ID() != "1 2 3\t" {
		t.Errorf("attrs %q", st.Attrs)
	}
	el, err := st.Element()
	if err != nil {
		t.Fatal(err)
	}
	if got := el.ChildText(NSClient, "body"); got != "x\r\ny\nz" {
		t.Errorf("body %q", got)
	}
}

func TestDecoderManyStanzas(t *testing.T) {
	var b strings.Builder
	b.WriteString(testHeader)
	const n = 20000
	for i := range n {
		fmt.Fprintf(&b, "<message to='room@muc' id='m%d' type='groupchat'><body>hello %d</body></message> ", i, i)
	}
	b.WriteString("</stream:stream>")
	for _, rd := range readers[:3] {
		t.Run(rd.name, func(t *testing.T) {
			_, sts, err := decodeAll(rd.wrap(strings.NewReader(b.String())), Limits{})
			if err != ErrStreamEnd || len(sts) != n {
				t.Fatalf("%d stanzas, err %v", len(sts), err)
			}
			for i, st := range sts {
				if st.ID() != fmt.Sprintf("m%d", i) {
					t.Fatalf("stanza %d id %q", i, st.ID())
				}
			}
		})
	}
}

func TestDecoderErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string // after testHeader unless it starts with "!"
		cond string
	}{
		// Header problems.
		{"header wrong namespace", "!<stream:stream xmlns:stream='urn:wrong'>", CondInvalidNamespace},
		{"header wrong name", "!<stream:foo xmlns:stream='http://etherx.jabber.org/streams'>", CondInvalidNamespace},
		{"header unprefixed no namespace", "!<stream>", CondInvalidNamespace},
		{"header undeclared prefix", "!<stream:stream>", CondNotWellFormed},
		{"header self-closed", "!<stream:stream xmlns:stream='http://etherx.jabber.org/streams'/>", CondBadFormat},
		{"header encoding", "!<?xml version='1.0' encoding='ISO-8859-1'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams'>", CondUnsupportedEnc},
		{"header version", "!<?xml version='1.1'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams'>", CondNotWellFormed},
		{"header comment", "!<!-- hi --><stream:stream xmlns:stream='http://etherx.jabber.org/streams'>", CondRestrictedXML},
		{"header doctype", "!<!DOCTYPE stream><stream:stream xmlns:stream='http://etherx.jabber.org/streams'>", CondRestrictedXML},
		{"header PI", "!<?foo bar?><stream:stream xmlns:stream='http://etherx.jabber.org/streams'>", CondRestrictedXML},
		{"declaration after whitespace", "! <?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams'>", CondRestrictedXML},
		{"header text", "!hello", CondNotWellFormed},
		{"header dup attr", "!<stream:stream xmlns:stream='http://etherx.jabber.org/streams' to='a' to='b'>", CondNotWellFormed},
		{"header bad declaration", "!<?xml versio='1.0'?><stream:stream>", CondNotWellFormed},
		{"header '<' in value", "!<stream:stream xmlns:stream='http://etherx.jabber.org/streams' to='<'>", CondNotWellFormed},
		// Stream level.
		{"text at stream level", "hello<a/>", CondNotWellFormed},
		{"entity at stream level", "&amp;", CondNotWellFormed},
		{"CDATA at stream level", "<![CDATA[ ]]>", CondNotWellFormed},
		{"comment at stream level", "<!-- x -->", CondRestrictedXML},
		{"PI at stream level", "<?foo?>", CondRestrictedXML},
		{"wrong stream end", "</stream:strea>", CondNotWellFormed},
		{"stray end tag", "</message>", CondNotWellFormed},
		// Inside stanzas.
		{"comment", "<message><!-- c --></message>", CondRestrictedXML},
		{"comment split", "<message><!-", CondRestrictedXML},
		{"PI", "<message><?php x?></message>", CondRestrictedXML},
		{"doctype", "<message><!DOCTYPE x></message>", CondRestrictedXML},
		{"undefined entity", "<message>&nbsp;</message>", CondRestrictedXML},
		{"undefined entity in attribute", "<message to='&foo;'/>", CondRestrictedXML},
		{"bad entity", "<message>& x</message>", CondNotWellFormed},
		{"char ref to NUL", "<message>&#0;</message>", CondNotWellFormed},
		{"char ref to surrogate", "<message>&#xD800;</message>", CondNotWellFormed},
		{"char ref too big", "<message>&#x110000;</message>", CondNotWellFormed},
		{"char ref uppercase X", "<message>&#X41;</message>", CondNotWellFormed},
		{"char ref empty", "<message>&#;</message>", CondNotWellFormed},
		{"invalid UTF-8", "<message>\xff</message>", CondNotWellFormed},
		{"invalid UTF-8 in attr", "<message to='\xc3'/>", CondNotWellFormed},
		{"encoded surrogate", "<message>\xed\xa0\x80</message>", CondNotWellFormed},
		{"control char", "<message>\x01</message>", CondNotWellFormed},
		{"U+FFFE", "<message>\uFFFE</message>", CondNotWellFormed},
		{"mismatched end", "<message><body></message></body>", CondNotWellFormed},
		{"end tag prefix differs", "<a:x xmlns:a='u' xmlns:b='u'></b:x>", CondNotWellFormed},
		{"unquoted attr", "<message to=a/>", CondNotWellFormed},
		{"attr without value", "<message to/>", CondNotWellFormed},
		{"attr no space", "<message a='1'b='2'/>", CondNotWellFormed},
		{"lt in attr", "<message to='a<b'/>", CondNotWellFormed},
		{"dup attr", "<message to='a' to='b'/>", CondNotWellFormed},
		{"dup attr after ns resolution", "<message xmlns:a='u' xmlns:b='u' a:x='1' b:x='2'/>", CondNotWellFormed},
		{"dup xmlns", "<message xmlns='a' xmlns='b'/>", CondNotWellFormed},
		{"undeclared element prefix", "<foo:message/>", CondNotWellFormed},
		{"undeclared attr prefix", "<message foo:a='1'/>", CondNotWellFormed},
		{"prefix out of scope", "<message><a xmlns:p='u'/><p:b/></message>", CondNotWellFormed},
		{"xmlns prefix declared", "<message xmlns:xmlns='u'/>", CondNotWellFormed},
		{"xml prefix rebound", "<message xmlns:xml='u'/>", CondNotWellFormed},
		{"xml namespace bound elsewhere", "<message xmlns:p='http://www.w3.org/XML/1998/namespace'/>", CondNotWellFormed},
		{"empty prefix binding", "<message xmlns:p=''/>", CondNotWellFormed},
		{"double colon", "<a:b:c xmlns:a='u'/>", CondNotWellFormed},
		{"leading colon", "<:a/>", CondNotWellFormed},
		{"bad name start", "<1a/>", CondNotWellFormed},
		{"bad local start", "<a:1 xmlns:a='u'/>", CondNotWellFormed},
		{"CDATA end in text", "<message>a]]>b</message>", CondNotWellFormed},
		{"slash without gt", "<message/ >", CondNotWellFormed},
		{"space before name", "< message/>", CondNotWellFormed},
		{"text after end tag name", "<message></message x>", CondNotWellFormed},
	}
	for _, tc := range tests {
		in := testHeader + tc.in
		if strings.HasPrefix(tc.in, "!") {
			in = tc.in[1:]
		}
		for _, rd := range readers {
			t.Run(tc.name+"/"+rd.name, func(t *testing.T) {
				_, _, err := decodeAll(rd.wrap(strings.NewReader(in)), Limits{})
				if got := Condition(err); got != tc.cond {
					t.Fatalf("condition %q (%v), want %q", got, err, tc.cond)
				}
			})
		}
	}
}

func TestDecoderErrorIsSticky(t *testing.T) {
	d := NewDecoder(strings.NewReader(testHeader+"<!-- x --><a/>"), Limits{})
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	_, err1 := d.Next()
	_, err2 := d.Next()
	if Condition(err1) != CondRestrictedXML || err2 != err1 {
		t.Fatalf("errors %v, %v", err1, err2)
	}
	var xe *Error
	if !errors.As(err1, &xe) || xe.Offset != int64(len(testHeader)) {
		t.Fatalf("offset of %v, want %d", err1, len(testHeader))
	}
}

func TestDecoderErrorOffset(t *testing.T) {
	in := testHeader + "<a/>\n<message><body>\x01</body></message>"
	for _, rd := range readers {
		_, _, err := decodeAll(rd.wrap(strings.NewReader(in)), Limits{})
		var xe *Error
		if !errors.As(err, &xe) || xe.Offset != int64(strings.IndexByte(in, 1)) {
			t.Errorf("%s: error %v, want offset %d", rd.name, err, strings.IndexByte(in, 1))
		}
	}
}

func TestDecoderLimits(t *testing.T) {
	deep := strings.Repeat("<a>", 10) + strings.Repeat("</a>", 10)
	tests := []struct {
		name string
		lim  Limits
		in   string
		ok   bool
	}{
		{"stanza size at limit", Limits{MaxStanzaBytes: 132}, "<message><body>" + strings.Repeat("x", 100) + "</body></message>", true},
		{"stanza size over", Limits{MaxStanzaBytes: 131}, "<message><body>" + strings.Repeat("x", 100) + "</body></message>", false},
		{"empty stanza over", Limits{MaxStanzaBytes: 100}, "<message to='" + strings.Repeat("x", 100) + "'/>", false},
		{"depth ok", Limits{MaxDepth: 10}, deep, true},
		{"depth over", Limits{MaxDepth: 9}, deep, false},
		{"attrs ok", Limits{MaxAttrs: 3}, "<a xmlns='x' b='1' c='2'/>", true},
		{"attrs over", Limits{MaxAttrs: 2}, "<a xmlns='x' b='1' c='2'/>", false},
		{"element name ok", Limits{MaxNameBytes: 8}, "<abcdefgh/>", true},
		{"element name over", Limits{MaxNameBytes: 8}, "<abcdefghi/>", false},
		{"attr name over", Limits{MaxNameBytes: 8}, "<a abcdefghi='1'/>", false},
		{"nested name over", Limits{MaxNameBytes: 8}, "<a><abcdefghi/></a>", false},
	}
	// A short header, so that it is within every limit tested.
	const header = "<s:stream xmlns:s='http://etherx.jabber.org/streams'>"
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := header + tc.in + "</s:stream>"
			_, sts, err := decodeAll(strings.NewReader(in), tc.lim)
			if tc.ok {
				if err != ErrStreamEnd || len(sts) != 1 {
					t.Fatalf("err %v", err)
				}
				return
			}
			if Condition(err) != CondPolicyViolation {
				t.Fatalf("err %v, want policy-violation", err)
			}
		})
	}
}

// endlessReader returns the prefix, then the filler byte forever, counting bytes.
type endlessReader struct {
	prefix string
	fill   byte
	n      int
}

func (r *endlessReader) Read(b []byte) (int, error) {
	for i := range b {
		if r.n < len(r.prefix) {
			b[i] = r.prefix[r.n]
		} else {
			b[i] = r.fill
		}
		r.n++
	}
	return len(b), nil
}

func TestDecoderHugeTokenIsNotBuffered(t *testing.T) {
	for _, tail := range []string{"<message to='", "<message><body>", "<message><![CDATA[", "<m", "<message "} {
		const max = 100 << 10
		r := &endlessReader{prefix: testHeader + tail, fill: 'x'}
		if tail == "<message " {
			r.fill = ' '
		}
		d := NewDecoder(r, Limits{MaxStanzaBytes: max})
		if _, err := d.ReadHeader(); err != nil {
			t.Fatal(err)
		}
		_, err := d.Next()
		want := CondPolicyViolation
		if Condition(err) != want {
			t.Fatalf("%q: err %v", tail, err)
		}
		if r.n > len(testHeader)+max+2*readChunk || len(d.impl.buf) > max+readChunk {
			t.Fatalf("%q: read %d bytes, buffer %d, for a limit of %d", tail, r.n, len(d.impl.buf), max)
		}
	}
	// The same for the stream header and whitespace keepalives.
	r := &endlessReader{prefix: "<stream:stream a='", fill: 'x'}
	d := NewDecoder(r, Limits{MaxStanzaBytes: 10 << 10})
	if _, err := d.ReadHeader(); Condition(err) != CondPolicyViolation || r.n > 20<<10 {
		t.Fatalf("header: err %v after %d bytes", err, r.n)
	}
}

func TestDecoderKeepalivesDoNotAccumulate(t *testing.T) {
	r := io.MultiReader(strings.NewReader(testHeader), io.LimitReader(&endlessReader{fill: ' '}, 5<<20), strings.NewReader("<a/>"))
	d := NewDecoder(r, Limits{MaxStanzaBytes: 1 << 10})
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	st, err := d.Next()
	if err != nil || string(st.Raw) != "<a/>" {
		t.Fatalf("%v %v", st, err)
	}
	if len(d.impl.buf) > readChunk {
		t.Fatalf("buffer grew to %d", len(d.impl.buf))
	}
}

func TestDecoderReleasesBigBuffer(t *testing.T) {
	big := "<message><body>" + strings.Repeat("y", 200<<10) + "</body></message>"
	d := NewDecoder(strings.NewReader(testHeader+big+"<a/>"), Limits{MaxStanzaBytes: 300 << 10})
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	st, err := d.Next()
	if err != nil || len(st.Raw) != len(big) {
		t.Fatalf("%v", err)
	}
	if len(d.impl.buf) > keepBufBytes {
		t.Fatalf("buffer still %d bytes after the big stanza", len(d.impl.buf))
	}
	if st, err := d.Next(); err != nil || string(st.Raw) != "<a/>" {
		t.Fatalf("%v", err)
	}
}

var errBoom = errors.New("boom")

func TestDecoderIOErrors(t *testing.T) {
	// EOF between stanzas is a clean io.EOF.
	_, sts, err := decodeAll(strings.NewReader(testHeader+"<a/> "), Limits{})
	if err != io.EOF || len(sts) != 1 || Condition(err) != "" {
		t.Fatalf("err %v", err)
	}
	// EOF inside a stanza or the header is unexpected.
	for _, in := range []string{testHeader + "<a><b/>", testHeader[:30], testHeader + "<", testHeader + "</stream:str"} {
		_, _, err := decodeAll(strings.NewReader(in), Limits{})
		if err != io.ErrUnexpectedEOF {
			t.Errorf("%q: err %v", in, err)
		}
	}
	// Other errors pass through unwrapped and are not sticky.
	r := io.MultiReader(strings.NewReader(testHeader+"<message><bo"), iotest.ErrReader(errBoom))
	d := NewDecoder(r, Limits{})
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Next(); err != errBoom || Condition(err) != "" {
		t.Fatalf("err %v", err)
	}
}

// stepReader returns its chunks one per Read, with a timeout-like error between.
type stepReader struct{ chunks []string }

func (r *stepReader) Read(b []byte) (int, error) {
	if len(r.chunks) == 0 {
		return 0, io.EOF
	}
	c := r.chunks[0]
	r.chunks = r.chunks[1:]
	if c == "" {
		return 0, errBoom
	}
	return copy(b, c), nil
}

func TestDecoderResumesAfterReadError(t *testing.T) {
	r := &stepReader{chunks: []string{testHeader, "<message to='a'><bo", "", "dy>x</body></mess", "", "age><b/>"}}
	d := NewDecoder(r, Limits{})
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for range 10 {
		st, err := d.Next()
		if err == io.EOF {
			break
		}
		if err == errBoom {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(st.Raw))
	}
	want := []string{"<message to='a'><body>x</body></message>", "<b/>"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %q", got)
	}
}

func TestDecoderReset(t *testing.T) {
	// Bytes after <proceed/> belong to the TLS layer: Reset drops them.
	d := NewDecoder(strings.NewReader(testHeader+"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>\x16\x03\x01garbage"), Limits{})
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	if st, err := d.Next(); err != nil || st.Name.Local != "starttls" {
		t.Fatalf("%v %v", st, err)
	}
	d.Reset(strings.NewReader(`<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback'><db:verify/>`))
	h, err := d.ReadHeader()
	if err != nil || h.Content != NSServer {
		t.Fatalf("%+v %v", h, err)
	}
	st, err := d.Next()
	if err != nil || st.Inherited != NSServer || string(st.Raw) != `<db:verify xmlns:db='jabber:server:dialback'/>` {
		t.Fatalf("%v %v", st, err)
	}
	// Reset also clears a sticky error and the end of the stream.
	d.Reset(strings.NewReader(testHeader + "</stream:stream>"))
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Next(); err != ErrStreamEnd {
		t.Fatal(err)
	}
	if _, err := d.Next(); err != ErrStreamEnd {
		t.Fatal(err)
	}
	d.Reset(strings.NewReader(testHeader + "<a/>"))
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	if st, err := d.Next(); err != nil || string(st.Raw) != "<a/>" {
		t.Fatal(err)
	}
}

func TestDecoderRawIsFreshCopy(t *testing.T) {
	d := NewDecoder(strings.NewReader(testHeader+"<a x='1'/><b/>"), Limits{})
	d.ReadHeader()
	a, _ := d.Next()
	b, _ := d.Next()
	if string(a.Raw) != "<a x='1'/>" || string(b.Raw) != "<b/>" {
		t.Fatalf("%s %s", a.Raw, b.Raw)
	}
	a.Raw[1] = 'z'
	if bytes.Contains(b.Raw, []byte("z")) {
		t.Fatal("Raw slices share memory")
	}
}

func TestDecoderHeaderErrorsKeepHeader(t *testing.T) {
	d := NewDecoder(strings.NewReader(`<stream:stream xmlns:stream='urn:bad' to='example.com'>`), Limits{})
	h, err := d.ReadHeader()
	if Condition(err) != CondInvalidNamespace || h.Attr("to") != "example.com" {
		t.Fatalf("%+v %v", h, err)
	}
	if _, err := d.Next(); Condition(err) != CondInvalidNamespace {
		t.Fatalf("Next after a bad header: %v", err)
	}
}

// A malformed element is reported as soon as its bytes show it, without
// waiting for more data that a broken or hostile peer may never send.
func TestDecoderReportsErrorsWithoutMoreData(t *testing.T) {
	for _, bad := range []string{
		"<message><body></message>",
		"<message><!-- x",
		"<message to='a<",
		"<message>< body>",
		"<message><body>&nbsp;",
		"<message><a:b>",
		"<message>\x00",
	} {
		for _, rd := range readers[:2] {
			r := io.MultiReader(rd.wrap(strings.NewReader(testHeader+bad)), iotest.ErrReader(errBoom))
			_, _, err := decodeAll(r, Limits{})
			if Condition(err) == "" {
				t.Errorf("%q/%s: %v", bad, rd.name, err)
			}
		}
	}
}

func TestStanzaElementBeyondDefaultLimits(t *testing.T) {
	big := "<message><body>" + strings.Repeat("z", DefaultMaxStanzaBytes) + "</body></message>"
	lim := Limits{MaxStanzaBytes: 2 * DefaultMaxStanzaBytes}
	d := NewDecoder(strings.NewReader(testHeader+big), lim)
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	st, err := d.Next()
	if err != nil {
		t.Fatal(err)
	}
	if el, err := st.Element(); err != nil || len(el.ChildText("", "body")) != DefaultMaxStanzaBytes {
		t.Fatalf("Element of a stanza the stream allowed: %v", err)
	}
}

func TestDecoderMisuse(t *testing.T) {
	d := NewDecoder(strings.NewReader(testHeader+"<a/>"), Limits{})
	if _, err := d.Next(); Condition(err) != CondBadFormat {
		t.Fatalf("Next before ReadHeader: %v", err)
	}
	d = NewDecoder(strings.NewReader(testHeader+"<a/>"), Limits{})
	d.ReadHeader()
	if _, err := d.ReadHeader(); Condition(err) != CondBadFormat {
		t.Fatalf("second ReadHeader: %v", err)
	}
}

func TestDecoderXMLDeclarations(t *testing.T) {
	const hdr = "<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>"
	for decl, cond := range map[string]string{
		"<?xml version='1.0'?>":                                  "",
		`<?xml version="1.0" encoding="UTF-8"?>`:                 "",
		"<?xml version='1.0' encoding='utf-8' standalone='no'?>": "",
		"<?xml version = '1.0' ?>":                               "",
		"<?xml version='1.0' encoding='US-ASCII'?>":              CondUnsupportedEnc,
		"<?xml version='1.0' standalone='no' encoding='UTF-8'?>": CondNotWellFormed,
		"<?xml version='1.0'encoding='UTF-8'?>":                  CondNotWellFormed,
		"<?xml version='1.0' encoding='8'?>":                     CondNotWellFormed,
		"<?xml ?>":                                               CondNotWellFormed,
		"<?xml-stylesheet href='x'?>":                            CondRestrictedXML,
		"<?xml version='1.0'?><?xml version='1.0'?>":             CondRestrictedXML,
	} {
		for _, rd := range readers[:2] {
			d := NewDecoder(rd.wrap(strings.NewReader(decl+hdr)), Limits{})
			_, err := d.ReadHeader()
			if Condition(err) != cond || cond == "" && err != nil {
				t.Errorf("%s/%s: %v, want %q", decl, rd.name, err, cond)
			}
		}
		_, err := ParseElement([]byte(decl+"<a/>"), "", Limits{})
		if Condition(err) != cond || cond == "" && err != nil {
			t.Errorf("ParseElement %s: %v, want %q", decl, err, cond)
		}
	}
}
