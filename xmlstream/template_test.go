package xmlstream

import (
	"bytes"
	"testing"
)

func TestTemplateCopiesDifferOnlyInTo(t *testing.T) {
	el := NewElement(NSClient, "message", "from", "pubsub.example.org", "id", "e1").Append(
		NewElement("urn:example", "x").AppendText("it's <here>"))
	tmpl := NewTemplate(el)
	tos := []string{"a@example.org", "b@example.org/r'1", "c@example.org/res"}
	copies := tmpl.Copies(len(tos), func(i int) Addressee {
		if i == 2 {
			return Addressee{To: tos[i], ToAttr: ToAttr(tos[i])}
		}
		return Addressee{To: tos[i]}
	})
	if len(copies) != len(tos) {
		t.Fatalf("%d copies", len(copies))
	}
	for i := range copies {
		st := &copies[i]
		if st.To() != tos[i] || st.From() != "pubsub.example.org" {
			t.Fatalf("copy %d attrs: to=%q from=%q", i, st.To(), st.From())
		}
		got, err := ParseElement(st.Raw, NSClient, Limits{})
		if err != nil {
			t.Fatalf("copy %d: %v: %s", i, err, st.Raw)
		}
		if got.Attr("to") != tos[i] || got.ChildText("urn:example", "x") != "it's <here>" {
			t.Fatalf("copy %d: %s", i, st.Raw)
		}
		// Appending to one copy never touches its neighbour.
		before := append([]byte(nil), copies[(i+1)%len(copies)].Raw...)
		_ = append(st.Raw, "garbage"...)
		if !bytes.Equal(before, copies[(i+1)%len(copies)].Raw) {
			t.Fatalf("copy %d grew into its neighbour", i)
		}
	}
	one := tmpl.Stanza(Addressee{To: "solo@example.org"})
	if !bytes.Equal(one.Raw, []byte(`<message from='pubsub.example.org' id='e1' to='solo@example.org'><x xmlns='urn:example'>it&apos;s &lt;here&gt;</x></message>`)) {
		t.Fatalf("single copy: %s", one.Raw)
	}
	if tmpl.Copies(0, nil) != nil {
		t.Fatal("no recipients, no copies")
	}
}

func TestTemplateEmptyElement(t *testing.T) {
	st := NewTemplate(NewElement(NSClient, "presence", "from", "room@muc.example.org/nick")).Stanza(Addressee{To: "x@example.org"})
	if string(st.Raw) != `<presence from='room@muc.example.org/nick' to='x@example.org'/>` {
		t.Fatalf("got %s", st.Raw)
	}
}
