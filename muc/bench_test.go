package muc

import (
	"context"
	"strconv"
	"testing"

	"github.com/gavelhq/gavel/xmlstream"
)

// countRouter stands for a router that costs nothing.
type countRouter struct{ n int }

func (c *countRouter) Route(_ context.Context, st *xmlstream.Stanza) { c.n += len(st.Raw) & 1 }

const benchOccupants = 1000

func benchSessions() []*session {
	out := make([]*session, benchOccupants)
	for i := range out {
		out[i] = newSession("user"+strconv.Itoa(i)+"@example.com/res", nil, nil)
	}
	return out
}

func benchMessage() *xmlstream.Element {
	return xmlstream.NewElement(xmlstream.NSClient, "message", "from", testRoom+"/speaker", "id", "abcdef123456", "type", "groupchat").Append(
		xmlstream.NewElement(xmlstream.NSClient, "body").AppendText("Thrice the brinded cat hath mew'd, thrice and once the hedge-pig whined."),
		xmlstream.NewElement(NSOccupantID, "occupant-id", "id", "dd72603deec90a38ba552f7c68cbcc61bca202cdxyz"),
		xmlstream.NewElement(NSStanzaID, "stanza-id", "id", "AAAAAAAAAAEAAAAA", "by", testRoom))
}

// BenchmarkRoomBroadcast measures one groupchat broadcast to 1,000
// occupants: encode once, then a copy per recipient differing only in 'to'.
// "router" adds the real router and a local delivery that looks up each
// session, as the IM core does. Compare "withattrs" (Stanza.WithAttrs per
// recipient, the straightforward way).
func BenchmarkRoomBroadcast(b *testing.B) {
	sessions := benchSessions()
	ctx := context.Background()
	b.Run("encode-once", func(b *testing.B) {
		rt := &countRouter{}
		b.ReportAllocs()
		for b.Loop() {
			newTemplate(benchMessage()).fanout(ctx, rt, sessions)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchOccupants), "ns/recipient")
	})
	b.Run("withattrs", func(b *testing.B) {
		rt := &countRouter{}
		b.ReportAllocs()
		for b.Loop() {
			st := xmlstream.NewStanza(benchMessage())
			for _, s := range sessions {
				rt.Route(ctx, st.WithAttrs("to", s.full))
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchOccupants), "ns/recipient")
	})
	b.Run("router", func(b *testing.B) {
		f := newFixture(b, nil)
		for _, s := range sessions {
			f.user(s.full)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			newTemplate(benchMessage()).fanout(ctx, f.router, sessions)
			for _, u := range f.users {
				u.got = u.got[:0]
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchOccupants), "ns/recipient")
	})
}
