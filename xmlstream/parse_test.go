package xmlstream

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseElementTree(t *testing.T) {
	raw := "\xEF\xBB\xBF<?xml version='1.0' encoding='UTF-8'?>\n" +
		`<message xmlns='jabber:client' xmlns:x='urn:x' to='a@b' xml:lang='en' x:mark='1'>` +
		`<body>one <b xmlns='http://www.w3.org/1999/xhtml'>two</b> three&amp;<![CDATA[<four>]]></body>` +
		`<x:thing id='7'><inner/></x:thing>` +
		"</message>\n\t"
	el, err := ParseElement([]byte(raw), "", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want := &Element{
		Name: Name{NSClient, "message"},
		Attrs: []Attr{
			{Name{"", "to"}, "a@b"},
			{Name{NSXML, "lang"}, "en"},
			{Name{"urn:x", "mark"}, "1"},
		},
		Children: []Child{
			{Elem: &Element{Name: Name{NSClient, "body"}, Children: []Child{
				{Text: "one "},
				{Elem: &Element{Name: Name{"http://www.w3.org/1999/xhtml", "b"}, Children: []Child{{Text: "two"}}}},
				{Text: " three&<four>"},
			}}},
			{Elem: &Element{Name: Name{"urn:x", "thing"}, Attrs: []Attr{{Name{"", "id"}, "7"}}, Children: []Child{
				{Elem: &Element{Name: Name{NSClient, "inner"}}}, // unprefixed: the default namespace
			}}},
		},
	}
	if !reflect.DeepEqual(el, want) {
		t.Fatalf("got  %s\nwant %s", el, want)
	}
}

func TestParseElementInherited(t *testing.T) {
	el, err := ParseElement([]byte(`<iq type='get'><query xmlns='jabber:iq:roster'><item/></query><ping xmlns=''/></iq>`), NSServer, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if el.Name.Space != NSServer || el.Child("", "query").Child("", "item").Name.Space != "jabber:iq:roster" || el.Child("", "ping").Name.Space != "" {
		t.Fatalf("namespaces: %s", el)
	}
}

func TestParseElementErrors(t *testing.T) {
	tests := []struct{ in, cond string }{
		{"", CondNotWellFormed},
		{"   ", CondNotWellFormed},
		{"<a>", CondNotWellFormed},
		{"<a/><b/>", CondNotWellFormed},
		{"<a/>text", CondNotWellFormed},
		{"<a/><!-- c -->", CondRestrictedXML},
		{"<!-- c --><a/>", CondRestrictedXML},
		{"<?pi?><a/>", CondRestrictedXML},
		{" <?xml version='1.0'?><a/>", CondRestrictedXML},
		{"<?xml version='1.0' encoding='UTF-16'?><a/>", CondUnsupportedEnc},
		{"<?xml encoding='UTF-8'?><a/>", CondNotWellFormed},
		{"<?xml version='1.0' standalone='maybe'?><a/>", CondNotWellFormed},
		{"<?xml version='1.0' encoding='UTF-8' version='1.0'?><a/>", CondNotWellFormed},
		{"<a>&ent;</a>", CondRestrictedXML},
		{"<a b='&#x0;'/>", CondNotWellFormed},
		{"<p:a/>", CondNotWellFormed},
		{"</a>", CondNotWellFormed},
		{"<a></b>", CondNotWellFormed},
		{"<a>]]></a>", CondNotWellFormed},
	}
	for _, tc := range tests {
		_, err := ParseElement([]byte(tc.in), "", Limits{})
		if Condition(err) != tc.cond {
			t.Errorf("%q: %v, want %s", tc.in, err, tc.cond)
		}
		_, err = ParseStanza([]byte(tc.in), "", Limits{})
		if Condition(err) != tc.cond {
			t.Errorf("ParseStanza %q: %v, want %s", tc.in, err, tc.cond)
		}
	}
}

func TestParseElementLimits(t *testing.T) {
	raw := []byte("<a><b><c x='1' y='2'/></b></a>")
	for _, lim := range []Limits{{MaxStanzaBytes: len(raw) - 1}, {MaxDepth: 2}, {MaxAttrs: 1}, {MaxNameBytes: 0}} {
		if lim.MaxNameBytes == 0 && lim.MaxStanzaBytes == 0 && lim.MaxDepth == 0 && lim.MaxAttrs == 0 {
			continue
		}
		if _, err := ParseElement(raw, "", lim); Condition(err) != CondPolicyViolation {
			t.Errorf("%+v: %v", lim, err)
		}
	}
	if _, err := ParseElement(raw, "", Limits{MaxStanzaBytes: len(raw), MaxDepth: 3, MaxAttrs: 2, MaxNameBytes: 1}); err != nil {
		t.Errorf("at the limits: %v", err)
	}
}

func TestParseStanza(t *testing.T) {
	raw := []byte("\n <presence from='a@b/c' type='unavailable'><status>bye</status></presence>  ")
	st, err := ParseStanza(raw, NSClient, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if string(st.Raw) != strings.TrimSpace(string(raw)) || st.Name != (Name{NSClient, "presence"}) ||
		st.From() != "a@b/c" || st.Type() != "unavailable" || st.Inherited != NSClient || !st.IsStanza() {
		t.Fatalf("%+v", st)
	}
	raw[3] = 'X'
	if st.Raw[1] == 'X' {
		t.Fatal("Raw shares the caller's buffer")
	}
	el, err := st.Element()
	if err != nil || el.ChildText(NSClient, "status") != "bye" {
		t.Fatalf("%v %v", el, err)
	}
}

// Mixed content survives a round trip in order.
func TestParseElementMixedContentRoundTrip(t *testing.T) {
	raw := `<p xmlns='http://www.w3.org/1999/xhtml'>a<em>b</em>c<br/>d<![CDATA[e]]>f</p>`
	el, err := ParseElement([]byte(raw), "", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	for _, c := range el.Children {
		if c.Elem != nil {
			parts = append(parts, "<"+c.Elem.Name.Local+">")
		} else {
			parts = append(parts, c.Text)
		}
	}
	if got := strings.Join(parts, "|"); got != "a|<em>|c|<br>|def" {
		t.Fatalf("children %s", got)
	}
	if got := el.String(); got != `<p xmlns='http://www.w3.org/1999/xhtml'>a<em>b</em>c<br/>def</p>` {
		t.Fatalf("serialized %s", got)
	}
}
