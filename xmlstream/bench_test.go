package xmlstream

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"testing"
)

// benchMessage is a ~200-byte groupchat message.
func benchMessage(i int) string {
	return fmt.Sprintf(`<message from='room@conference.example.com/alice' to='bob@example.com/phone' id='msg-%06d' type='groupchat' xml:lang='en'><body>Hello everyone, this is message number %06d.</body></message>`, i, i)
}

func benchStream(n int) ([]byte, int) {
	var b bytes.Buffer
	b.WriteString(testHeader)
	for i := range n {
		b.WriteString(benchMessage(i))
		b.WriteByte('\n')
	}
	return b.Bytes(), len(benchMessage(0))
}

// BenchmarkDecoderMessages reports ns/op per stanza read from a stream.
func BenchmarkDecoderMessages(b *testing.B) {
	stream, size := benchStream(1000)
	rd := bytes.NewReader(stream)
	d := NewDecoder(rd, Limits{})
	if _, err := d.ReadHeader(); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		st, err := d.Next()
		if err == io.EOF {
			rd.Reset(stream)
			d.Reset(rd)
			if _, err := d.ReadHeader(); err != nil {
				b.Fatal(err)
			}
			st, err = d.Next()
		}
		if err != nil || st.Type() != "groupchat" {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodingXMLMessages is the baseline the lexer replaces: one
// namespace-resolved token loop over the same stream (no Raw, no limits).
func BenchmarkEncodingXMLMessages(b *testing.B) {
	stream, size := benchStream(1000)
	rd := bytes.NewReader(stream)
	d := xml.NewDecoder(rd)
	readHeader := func() {
		for {
			if tok, _ := d.Token(); tok == nil {
				b.Fatal("no header")
			} else if _, ok := tok.(xml.StartElement); ok {
				return
			}
		}
	}
	readHeader()
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		depth := 0
		for {
			tok, err := d.Token()
			if err != nil && rd.Len() == 0 { // end of the (unclosed) stream
				rd.Reset(stream)
				d = xml.NewDecoder(rd)
				readHeader()
				continue
			}
			if err != nil {
				b.Fatal(err)
			}
			switch tok.(type) {
			case xml.StartElement:
				depth++
			case xml.EndElement:
				depth--
			}
			if depth == 0 {
				if _, ok := tok.(xml.EndElement); ok {
					break
				}
			}
		}
	}
}

func BenchmarkParseElement(b *testing.B) {
	raw := []byte(benchMessage(1))
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		el, err := ParseElement(raw, NSClient, Limits{})
		if err != nil || el.ChildText(NSClient, "body") == "" {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseStanza(b *testing.B) {
	raw := []byte(benchMessage(1))
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseStanza(raw, NSClient, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWithAttrs(b *testing.B) {
	st, err := ParseStanza([]byte(benchMessage(1)), NSClient, Limits{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(st.Raw)))
	b.ReportAllocs()
	for b.Loop() {
		n := st.WithAttrs("to", "carol@example.com/laptop")
		if len(n.Raw) == 0 {
			b.Fatal("empty")
		}
	}
}
