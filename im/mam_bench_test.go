package im

// Benchmarks of archiving and querying on an on-disk store. Run with
//
//	go test -run '^$' -bench 'MAM' -benchtime 2s ./im/

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/auth"
	"github.com/gavelhq/gavel/data"
	"github.com/gavelhq/gavel/router"
	"github.com/gavelhq/gavel/xmlstream"
)

var benchMAMStanza = []byte(`<message to='romeo@remote.test' type='chat' id='abc123' from='alice@example.com/phone'><body>Wherefore art thou, Romeo? Deny thy father and refuse thy name.</body><active xmlns='http://jabber.org/protocol/chatstates'/></message>`)

// benchMAMServer is a Server on an on-disk store in b.TempDir().
func benchMAMServer(b *testing.B, sync bool) (*Server, data.Store) {
	b.Helper()
	o := data.DefaultOptions()
	o.SyncWrites = sync
	st, err := data.Open(b.TempDir(), o)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	r := router.New(router.Options{})
	acc := auth.New(st, auth.Options{})
	s := New(Options{Domain: testDomain}, r, st, acc, nil)
	r.HandleDomain(testDomain, s, true)
	r.HandleRemote(router.HandlerFunc(func(context.Context, *xmlstream.Stanza) {}))
	return s, st
}

func benchArchive(b *testing.B, sync bool) {
	s, _ := benchMAMServer(b, sync)
	owner, peer := jid.MustParse("alice@example.com"), jid.MustParse("romeo@remote.test")
	ctx := context.Background()
	b.SetBytes(int64(len(benchMAMStanza)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.archive(ctx, owner, true, peer, benchMAMStanza); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMAMArchiveSync: one durable archive append at a time (an fsync
// each), as one sender sees it.
func BenchmarkMAMArchiveSync(b *testing.B) { benchArchive(b, true) }

// BenchmarkMAMArchiveNoSync: the same without fsync.
func BenchmarkMAMArchiveNoSync(b *testing.B) { benchArchive(b, false) }

// BenchmarkMAMArchiveSyncParallel: many users archiving at once; Badger
// commits the concurrent appends in shared fsyncs (group commit).
func BenchmarkMAMArchiveSyncParallel(b *testing.B) {
	s, _ := benchMAMServer(b, true)
	peer := jid.MustParse("romeo@remote.test")
	ctx := context.Background()
	var users atomic.Int64
	b.SetBytes(int64(len(benchMAMStanza)))
	b.SetParallelism(16)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		owner := jid.MustParse(fmt.Sprintf("u%d@example.com", users.Add(1)))
		for pb.Next() {
			if _, err := s.archive(ctx, owner, true, peer, benchMAMStanza); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkMAMSendArchivedSync: the whole outbound path of one chat
// message to a remote contact (filters, archive with fsync, routing).
func BenchmarkMAMSendArchivedSync(b *testing.B) {
	s, _ := benchMAMServer(b, true)
	sess := newFakeSession("alice@example.com/phone")
	if _, err := s.router.Bind(sess, sess.jid.Bare(), "phone"); err != nil {
		b.Fatal(err)
	}
	st, err := xmlstream.ParseStanza(benchMAMStanza, xmlstream.NSClient, xmlstream.Limits{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		s.HandleClient(ctx, sess, st.WithAttrs("id", "x"))
	}
}

// benchQuery fills an archive of n messages (half with bob, half with
// romeo) and runs query on it.
func benchQuery(b *testing.B, n int, query string) {
	s, _ := benchMAMServer(b, false)
	ctx := context.Background()
	owner := jid.MustParse("alice@example.com")
	bob, romeo := jid.MustParse("bob@example.com/b"), jid.MustParse("romeo@remote.test/r")
	for i := range n {
		peer := romeo
		if i%2 == 0 {
			peer = bob
		}
		if _, err := s.archive(ctx, owner, i%3 == 0, peer, benchMAMStanza); err != nil {
			b.Fatal(err)
		}
	}
	sess := newFakeSession("alice@example.com/phone")
	if _, err := s.router.Bind(sess, owner, "phone"); err != nil {
		b.Fatal(err)
	}
	iq, err := xmlstream.ParseStanza([]byte(`<iq type='set' id='q' from='alice@example.com/phone' to='alice@example.com'><query xmlns='urn:xmpp:mam:2' queryid='f'>`+query+`</query></iq>`), xmlstream.NSClient, xmlstream.Limits{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		s.HandleStanza(ctx, iq)
		if got := sess.take(); len(got) != 51 {
			b.Fatalf("%d stanzas, want 50 results and the iq", len(got))
		}
	}
}

// BenchmarkMAMQueryLastPage50: the last 50 of 10,000 messages.
func BenchmarkMAMQueryLastPage50(b *testing.B) {
	benchQuery(b, 10000, `<set xmlns='http://jabber.org/protocol/rsm'><max>50</max><before/></set>`)
}

// BenchmarkMAMQueryStartPage50: 50 messages from a start time (binary search).
func BenchmarkMAMQueryStartPage50(b *testing.B) {
	benchQuery(b, 10000, `<x xmlns='jabber:x:data' type='submit'><field var='start'><value>2000-01-01T00:00:00Z</value></field></x><set xmlns='http://jabber.org/protocol/rsm'><max>50</max></set>`)
}

// BenchmarkMAMQueryWithPage50: the last 50 messages with one contact (half
// the archive matches).
func BenchmarkMAMQueryWithPage50(b *testing.B) {
	benchQuery(b, 10000, `<x xmlns='jabber:x:data' type='submit'><field var='with'><value>bob@example.com</value></field></x><set xmlns='http://jabber.org/protocol/rsm'><max>50</max><before/></set>`)
}
