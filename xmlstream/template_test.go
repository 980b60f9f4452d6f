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

// Each hands every recipient its own copy, in order, across slab borders.
func TestTemplateEachCoversEveryRecipientInOrder(t *testing.T) {
	tmpl := NewTemplate(NewElement(NSClient, "message", "from", "room@muc.example.org/a").Append(
		NewElement(NSClient, "body").AppendText("bid")))
	for _, n := range []int{0, 1, copiesPerSlab - 1, copiesPerSlab, copiesPerSlab + 1, 3*copiesPerSlab + 7} {
		var got []string
		tmpl.Each(n, func(i int) Addressee { return Addressee{To: string(rune('a'+i%26)) + "@example.org"} },
			func(st *Stanza) {
				if !bytes.Contains(st.Raw, []byte("<body>bid</body>")) {
					t.Fatalf("copy %d lost its payload: %s", len(got), st.Raw)
				}
				got = append(got, st.To())
			})
		if len(got) != n {
			t.Fatalf("n=%d: %d copies", n, len(got))
		}
		for i, to := range got {
			if want := string(rune('a'+i%26)) + "@example.org"; to != want {
				t.Fatalf("n=%d: copy %d to %q, want %q", n, i, to, want)
			}
		}
	}
}
