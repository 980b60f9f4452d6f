package im

import (
	"context"
	"sync"
	"testing"
	"time"

	"mellium.im/xmpp/jid"
)

// Archive times never decrease along the log (start/end search relies on
// it) and are kept in milliseconds, the precision of the stamps clients see.
func TestMAMArchiveTimesMonotonicMilliseconds(t *testing.T) {
	f, clock := newMAMFixture(t)
	alice, bob := jid.MustParse("alice@example.com"), jid.MustParse("bob@example.com")
	ctx := context.Background()
	clock.advance(123456789 * time.Nanosecond) // 12:00:00.123456789
	if _, err := f.srv.archive(ctx, alice, false, bob, []byte("<message/>")); err != nil {
		t.Fatal(err)
	}
	clock.advance(-5 * time.Millisecond) // another goroutine's earlier clock reading
	if _, err := f.srv.archive(ctx, alice, false, bob, []byte("<message/>")); err != nil {
		t.Fatal(err)
	}
	recs, _ := mamArchived(t, f, "alice@example.com")
	want := time.Date(2026, 3, 1, 12, 0, 0, 123000000, time.UTC).UnixNano()
	if len(recs) != 2 || recs[0].time != want || recs[1].time != want {
		t.Fatalf("archive times %v, want both %d (ms precision, never decreasing)", []int64{recs[0].time, recs[1].time}, want)
	}
}

// end is inclusive at the precision of the result stamps: end = the stamp
// of a result includes that result.
func TestMAMEndInclusiveAtStampPrecision(t *testing.T) {
	f, clock := newMAMFixture(t)
	a := f.mamLogin("alice@example.com/a", 1)
	b := f.mamLogin("bob@example.com/b", 1)
	a.take()
	clock.advance(230400 * time.Microsecond)
	f.client(b, "<message to='alice@example.com' type='chat' id='x1'><body>one</body></message>")
	a.take()
	b.take()
	all := queryMAM(t, f, a, "q1", "")
	if len(all.results) != 1 {
		t.Fatalf("%d results", len(all.results))
	}
	stamp := all.results[0].stamp
	got := queryMAM(t, f, a, "q2", mamForm("end", stamp))
	if len(got.results) != 1 {
		t.Fatalf("end=%s (the result's own stamp) returned %d results, want 1", stamp, len(got.results))
	}
	got = queryMAM(t, f, a, "q3", mamForm("start", stamp))
	if len(got.results) != 1 {
		t.Fatalf("start=%s returned %d results, want 1", stamp, len(got.results))
	}
}

// Two writers archiving for one account at once keep times in log order.
func TestMAMConcurrentArchiveOrder(t *testing.T) {
	f := newIMFixture(t)
	f.account("alice")
	alice := jid.MustParse("alice@example.com")
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			peer := jid.MustParse("peer@remote.test")
			for i := 0; i < 25; i++ {
				if _, err := f.srv.archive(context.Background(), alice, false, peer, []byte("<message/>")); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	recs, _ := mamArchived(t, f, "alice@example.com")
	if len(recs) != 100 {
		t.Fatalf("%d entries, want 100", len(recs))
	}
	for i := 1; i < len(recs); i++ {
		if recs[i].time < recs[i-1].time {
			t.Fatalf("entry %d time %d < entry %d time %d", i, recs[i].time, i-1, recs[i-1].time)
		}
	}
}
