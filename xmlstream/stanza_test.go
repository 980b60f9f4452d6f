package xmlstream

import (
	"reflect"
	"strings"
	"testing"
)

func mustStanza(t testing.TB, raw string) *Stanza {
	t.Helper()
	st, err := ParseStanza([]byte(raw), NSClient, Limits{})
	if err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	return st
}

func TestWithAttrs(t *testing.T) {
	tests := []struct {
		name  string
		raw   string
		pairs []string
		want  string
	}{
		{"replace", `<message to='a@b' from='x' type='chat'><body>hi</body></message>`, []string{"from", "me@example.com/r"},
			`<message to='a@b' type='chat' from='me@example.com/r'><body>hi</body></message>`},
		{"add", `<message to='a@b'><body>hi</body></message>`, []string{"from", "c@d"},
			`<message to='a@b' from='c@d'><body>hi</body></message>`},
		{"remove", `<message to='a@b' from='x'/>`, []string{"from", ""},
			`<message to='a@b'/>`},
		{"remove absent", `<message to='a@b'/>`, []string{"from", ""},
			`<message to='a@b'/>`},
		{"escaping", `<iq id="1" type="get"/>`, []string{"to", `a'<&>"b`},
			`<iq id="1" type="get" to='a&apos;&lt;&amp;&gt;&quot;b'/>`},
		{"keeps prefixed and xml:lang", `<message xml:lang='en' xmlns:p='u' p:to='keep' to='old'>x</message>`, []string{"to", "new"},
			`<message xml:lang='en' xmlns:p='u' p:to='keep' to='new'>x</message>`},
		{"several", `<presence from='a' to='b' id='c'/>`, []string{"from", "", "to", "z", "type", "error"},
			`<presence id='c' to='z' type='error'/>`},
		{"values containing quotes and >", `<message id='a"/>b' to="x'y">t</message>`, []string{"id", "2"},
			`<message to="x'y" id='2'>t</message>`},
		{"whitespace and newlines", "<message\n\tto='a'\n\tfrom='b'\n>t</message>", []string{"to", "c"},
			"<message\n\tfrom='b' to='c'\n>t</message>"},
		{"same name twice", `<message to='a'/>`, []string{"to", "b", "to", "c"},
			`<message to='c'/>`},
		{"set then removed", `<message to='a'/>`, []string{"id", "b", "id", ""},
			`<message to='a'/>`},
		{"tab and newline in a new value", `<message/>`, []string{"id", "a\tb\nc"},
			`<message id='a&#x9;b&#xA;c'/>`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := mustStanza(t, tc.raw)
			n := st.WithAttrs(tc.pairs...)
			if string(n.Raw) != tc.want {
				t.Fatalf("Raw\n got %s\nwant %s", n.Raw, tc.want)
			}
			if string(st.Raw) != tc.raw {
				t.Fatalf("original modified: %s", st.Raw)
			}
			// The result parses and agrees with its Attrs.
			re, err := ParseStanza(n.Raw, NSClient, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if !sameAttrs(re.Attrs, n.Attrs) {
				t.Fatalf("Attrs %v, reparsed %v", n.Attrs, re.Attrs)
			}
			last := map[string]string{} // the last pair for a name wins
			for i := 0; i+1 < len(tc.pairs); i += 2 {
				last[tc.pairs[i]] = tc.pairs[i+1]
			}
			for name, want := range last {
				if got := n.Attr(name); got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
			// The content is untouched.
			a, _ := st.Element()
			b, _ := n.Element()
			if !reflect.DeepEqual(a.Children, b.Children) {
				t.Errorf("children changed")
			}
		})
	}
}

// sameAttrs compares attribute sets regardless of order.
func sameAttrs(a, b []Attr) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[Name]string{}
	for _, x := range a {
		m[x.Name] = x.Value
	}
	for _, x := range b {
		if v, ok := m[x.Name]; !ok || v != x.Value {
			return false
		}
	}
	return true
}

func TestWithAttrsDoesNotShareAttrs(t *testing.T) {
	st := mustStanza(t, `<message to='a' from='b' id='c'/>`)
	st.WithAttrs("to", "")
	st.WithAttrs("from", "z")
	if st.To() != "a" || st.From() != "b" || st.ID() != "c" || len(st.Attrs) != 3 {
		t.Fatalf("original changed: %v", st.Attrs)
	}
}

func TestErrorReply(t *testing.T) {
	msg := mustStanza(t, `<message from='a@b/r' to='c@d' id='m1' type='chat'><body>hi</body><error type='x'/></message>`)
	r := ErrorReply(msg, ServiceUnavailable())
	if r.From() != "c@d" || r.To() != "a@b/r" || r.ID() != "m1" || r.Type() != "error" || r.Name != (Name{NSClient, "message"}) {
		t.Fatalf("reply attrs %v", r.Attrs)
	}
	el, err := ParseElement(r.Raw, NSClient, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if el.ChildText(NSClient, "body") != "hi" {
		t.Errorf("message payload not included: %s", r.Raw)
	}
	errs := el.ChildrenNamed(NSClient, "error")
	if len(errs) != 1 || errs[0].Attr("type") != ErrCancel || errs[0].Child(NSStanzas, "service-unavailable") == nil {
		t.Errorf("error element: %s", r.Raw)
	}

	iq := mustStanza(t, `<iq from='a@b/r' to='c@d' id='q1' type='get'><query xmlns='jabber:iq:version'/></iq>`)
	r = ErrorReply(iq, BadRequest("nope"))
	el, err = ParseElement(r.Raw, NSClient, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if el.Child("", "query") != nil {
		t.Errorf("iq payload included: %s", r.Raw)
	}
	e := el.Child(NSClient, "error")
	if r.Type() != "error" || r.To() != "a@b/r" || e == nil || e.Attr("type") != ErrModify ||
		e.Child(NSStanzas, "bad-request") == nil || e.ChildText(NSStanzas, "text") != "nope" {
		t.Errorf("iq error reply: %s", r.Raw)
	}

	if ErrorReply(mustStanza(t, `<message type='error'/>`), ServiceUnavailable()) != nil {
		t.Error("answered an error with an error")
	}
}

func TestAppendXMLRoundTrip(t *testing.T) {
	tricky := "a<b>&c'd\"e]]>f\tg\nh\u00e9\U0001F600"
	els := []*Element{
		NewElement(NSClient, "message", "to", "a@b", "type", "chat").
			Append(NewElement(NSClient, "body").AppendText(tricky)),
		NewElement("urn:x", "x", "id", tricky).
			Append(NewElement("", "none"), NewElement("urn:y", "y").Append(NewElement("urn:y", "z"))),
		{
			Name: Name{"urn:a", "a"},
			Attrs: []Attr{
				{Name{NSXML, "lang"}, "de"},
				{Name{"urn:p", "p"}, "1"},
				{Name{"urn:q", "q"}, "2"},
				{Name{"", "plain"}, "3"},
			},
			Children: []Child{{Text: "t1"}, {Elem: &Element{Name: Name{"urn:a", "b"}}}, {Text: "t2"}},
		},
	}
	// Many namespaced attributes need distinct generated prefixes.
	many := &Element{Name: Name{"urn:m", "m"}}
	for i := range 15 {
		many.Attrs = append(many.Attrs, Attr{Name{"urn:ns" + strings.Repeat("x", i), "a"}, "v"})
	}
	els = append(els, many)
	for _, el := range els {
		for _, parent := range []string{"", NSClient} {
			raw := el.AppendXML(nil, parent)
			got, err := ParseElement(raw, parent, Limits{})
			if err != nil {
				t.Fatalf("%s: %v", raw, err)
			}
			if !reflect.DeepEqual(got, el) {
				t.Errorf("round trip of %s\n got %#v\nwant %#v", raw, got, el)
			}
		}
	}
	// Characters XML cannot carry become U+FFFD instead of breaking the output.
	el := NewElement("", "a", "v", "x\x00y").AppendText("\x01\uFFFE")
	got, err := ParseElement(el.AppendXML(nil, ""), "", Limits{})
	if err != nil || got.Attr("v") != "x\uFFFDy" || got.Text() != "\uFFFD\uFFFD" {
		t.Fatalf("%v %v", got, err)
	}
	// A carriage return survives as a character reference.
	el = NewElement("", "a", "v", "1\r2").AppendText("3\r\n4")
	got, err = ParseElement(el.AppendXML(nil, ""), "", Limits{})
	if err != nil || got.Attr("v") != "1\r2" || got.Text() != "3\r\n4" {
		t.Fatalf("%q %v", got, err)
	}
}

func TestNewStanzaParses(t *testing.T) {
	el := NewElement(NSClient, "iq", "type", "result", "id", "1").Append(NewElement("jabber:iq:roster", "query"))
	st := NewStanza(el)
	re, err := ParseStanza(st.Raw, NSClient, Limits{})
	if err != nil || re.Name != st.Name || !sameAttrs(re.Attrs, st.Attrs) {
		t.Fatalf("%s: %v", st.Raw, err)
	}
	if strings.Contains(string(st.Raw), "jabber:client") {
		t.Errorf("redundant xmlns in %s", st.Raw)
	}
}
