package mam

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gavelhq/gavel/data"
	"github.com/gavelhq/gavel/xmlstream"
)

// testRecord is a record of testLog.
type testRecord struct {
	nonce uint32
	time  int64
	with  string
	size  int
}

func (r testRecord) Nonce() uint32 { return r.nonce }
func (r testRecord) Size() int     { return r.size }

// testLog is an in-memory archive: entry seq (first..first+len(recs)-1)
// is recs[seq-first].
type testLog struct {
	first   uint64
	recs    []testRecord
	corrupt map[uint64]bool
	reads   int
}

var errCorrupt = errors.New("corrupt")

// base is the time of entry 0: entry seq is base + seq seconds.
var base = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

// newTestLog holds n entries, 1..n; odd ones are 'with' a@x, even ones b@x.
func newTestLog(n int) *testLog {
	l := &testLog{first: 1, corrupt: map[uint64]bool{}}
	for i := 1; i <= n; i++ {
		with := "a@x"
		if i%2 == 0 {
			with = "b@x"
		}
		l.recs = append(l.recs, testRecord{nonce: uint32(i * 7), time: base.Add(time.Duration(i) * time.Second).UnixNano(), with: with, size: 10})
	}
	return l
}

func (l *testLog) last() uint64 { return l.first + uint64(len(l.recs)) - 1 }

func (l *testLog) entry(seq uint64) data.Entry {
	return data.Entry{Seq: seq, Time: l.recs[seq-l.first].time}
}

func (l *testLog) Read(ctx context.Context, from uint64, n int) ([]data.Entry, error) {
	l.reads++
	var es []data.Entry
	for seq := max(from, l.first); seq <= l.last() && (n <= 0 || len(es) < n); seq++ {
		es = append(es, l.entry(seq))
	}
	return es, ctx.Err()
}

func (l *testLog) ReadBack(ctx context.Context, from uint64, n int) ([]data.Entry, error) {
	l.reads++
	var es []data.Entry
	for seq := min(from, l.last()); seq >= l.first && seq > 0 && (n <= 0 || len(es) < n); seq-- {
		es = append(es, l.entry(seq))
	}
	return es, ctx.Err()
}

func (l *testLog) Decode(e data.Entry) (testRecord, error) {
	if l.corrupt[e.Seq] {
		return testRecord{}, errCorrupt
	}
	return l.recs[e.Seq-l.first], nil
}

func (l *testLog) Time(e data.Entry) int64 { return e.Time }

// id is the archive id of entry seq.
func (l *testLog) id(seq uint64) string { return ID(seq, l.recs[seq-l.first].nonce) }

var testOptions = Options{ScanLimit: 1000, ReadChunk: 4}

// run answers the query with inner as its children on all of l.
func run(t *testing.T, l *testLog, opts Options, inner string) (*Page[testRecord], error) {
	t.Helper()
	q, err := ParseQuery(query(t, inner), anyWith)
	if err != nil {
		t.Fatalf("query %s: %v", inner, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // a loop that never ends fails
	defer cancel()
	return Run(ctx, l, q, l.first, l.last(), opts)
}

// summary is "seqs complete count index".
func summary(p *Page[testRecord]) string {
	var seqs []string
	for _, h := range p.Hits {
		seqs = append(seqs, fmt.Sprint(h.Seq))
	}
	return fmt.Sprintf("[%s] %v %d %d", strings.Join(seqs, ","), p.Complete, p.Count, p.FirstIndex)
}

// idsForm is a query form with the ids and other fields (var, value...).
func idsForm(ids []string, fields ...string) string {
	f := form(fields...)
	return strings.TrimSuffix(f, "</x>") + "<field var='ids'><value>" + strings.Join(ids, "</value><value>") + "</value></field></x>"
}

// wantPage runs the query and checks its summary.
func wantPage(t *testing.T, what string, l *testLog, opts Options, inner, want string) {
	t.Helper()
	p, err := run(t, l, opts, inner)
	if err != nil {
		t.Errorf("%s: %v", what, err)
	} else if got := summary(p); got != want {
		t.Errorf("%s: %s, want %s", what, got, want)
	}
}

func rsm(inner string) string { return "<set xmlns='" + NSRSM + "'>" + inner + "</set>" }

func stamp(seq int) string {
	return base.Add(time.Duration(seq) * time.Second).Format(time.RFC3339)
}

func TestRunPaging(t *testing.T) {
	l := newTestLog(10)
	cases := []struct{ what, inner, want string }{
		{"default page", "", "[1,2,3,4,5,6,7,8,9,10] true 10 0"},
		{"first page", rsm("<max>3</max>"), "[1,2,3] false 10 0"},
		{"next page", rsm("<max>3</max><after>" + l.id(3) + "</after>"), "[4,5,6] false 10 3"},
		{"last forward page", rsm("<max>3</max><after>" + l.id(9) + "</after>"), "[10] true 10 9"},
		{"after the last", rsm("<after>" + l.id(10) + "</after>"), "[] true 10 -1"},
		{"last page", rsm("<max>3</max><before/>"), "[8,9,10] false 10 7"},
		{"page before", rsm("<max>3</max><before>" + l.id(4) + "</before>"), "[1,2,3] true 10 0"},
		{"between after and before", rsm("<after>" + l.id(2) + "</after><before>" + l.id(5) + "</before>"), "[3,4] true 10 2"},
		{"backward between", rsm("<max>1</max><after>" + l.id(2) + "</after><before>" + l.id(5) + "</before>"), "[4] false 10 3"},
		{"index", rsm("<max>2</max><index>4</index>"), "[5,6] false 10 4"},
		{"index wins over before", rsm("<max>2</max><index>8</index><before/>"), "[9,10] true 10 8"},
		{"index past the end", rsm("<index>10</index>"), "[] true 10 -1"},
		{"count only", rsm("<max>0</max>"), "[] false 10 -1"},
		{"count only, empty set", rsm("<max>0</max>") + form("after-id", l.id(10)), "[] true 0 -1"},
		{"start and end", form("start", stamp(3), "end", stamp(5)), "[3,4,5] true 3 0"},
		{"start and end, paged back", rsm("<max>2</max><before/>") + form("start", stamp(3), "end", stamp(5)), "[4,5] false 3 1"},
		{"start past the end", form("start", stamp(11)), "[] true 0 -1"},
		{"end before the start", form("end", stamp(0)), "[] true 0 -1"},
		{"far times are clamped", form("start", "1000-01-01T00:00:00Z", "end", "9999-01-01T00:00:00Z"), "[1,2,3,4,5,6,7,8,9,10] true 10 0"},
		{"after-id and before-id", form("after-id", l.id(2), "before-id", l.id(6)), "[3,4,5] true 3 0"},
		{"after-id, then RSM after", rsm("<max>2</max><after>"+l.id(3)+"</after>") + form("after-id", l.id(2)), "[4,5] false 8 1"},
		{"ids", idsForm([]string{l.id(9), l.id(2), l.id(2), l.id(7)}), "[2,7,9] true 3 0"},
		{"ids, first page", rsm("<max>2</max>") + idsForm([]string{l.id(9), l.id(2), l.id(7)}), "[2,7] false 3 0"},
		{"ids, last page", rsm("<max>2</max><before/>") + idsForm([]string{l.id(9), l.id(2), l.id(7)}), "[7,9] false 3 1"},
		{"ids, after", rsm("<after>"+l.id(2)+"</after>") + idsForm([]string{l.id(9), l.id(2), l.id(7)}), "[7,9] true 3 1"},
		{"ids, index", rsm("<index>2</index>") + idsForm([]string{l.id(9), l.id(2), l.id(7)}), "[9] true 3 2"},
		{"ids outside the range", idsForm([]string{l.id(2), l.id(7)}, "start", stamp(5)), "[7] true 1 0"},
		{"ids with a filter", idsForm([]string{l.id(2), l.id(7)}, "with", "b@x"), "[2] true 1 0"},
		{"filter", form("with", "a@x"), "[1,3,5,7,9] true -1 -1"},
		{"filter, paged", rsm("<max>2</max>") + form("with", "a@x"), "[1,3] false -1 -1"},
		{"filter, last page", rsm("<max>2</max><before/>") + form("with", "b@x"), "[8,10] false -1 -1"},
		{"filter, count only", rsm("<max>0</max>") + form("with", "b@x"), "[] false -1 -1"},
		{"filter, count only, no match", rsm("<max>0</max>") + form("with", "c@x"), "[] true -1 -1"},
	}
	for _, c := range cases {
		wantPage(t, c.what, l, testOptions, c.inner, c.want)
	}
}

func TestRunUnknownIDs(t *testing.T) {
	l := newTestLog(5)
	wrongNonce := ID(3, l.recs[2].nonce+1)
	for _, id := range []string{"nope", ID(6, 42), wrongNonce, ID(0, 0)} {
		for _, inner := range []string{
			form("after-id", id), form("before-id", id),
			idsForm([]string{l.id(1), id}),
			rsm("<after>" + id + "</after>"), rsm("<before>" + id + "</before>"),
		} {
			_, err := run(t, l, testOptions, inner)
			wantCondition(t, inner, err, xmlstream.ErrCancel, "item-not-found")
		}
	}
	// Retained means within [lo, hi]: an expired entry's id is gone.
	q, _ := ParseQuery(query(t, form("after-id", l.id(1))), anyWith)
	_, err := Run(context.Background(), l, q, 2, 5, testOptions)
	wantCondition(t, "expired id", err, xmlstream.ErrCancel, "item-not-found")
}

func TestRunScanLimit(t *testing.T) {
	l := newTestLog(20)
	l.recs[19].with = "c@x"
	opts := Options{ScanLimit: 6, ReadChunk: 4}
	// From the end: the match, then the limit: not complete.
	p, _ := run(t, l, opts, rsm("<before/>")+form("with", "c@x"))
	if got := summary(p); got != "[20] false -1 -1" {
		t.Errorf("from the end: %s", got)
	}
	// From the start: nothing within the limit, not complete.
	p, _ = run(t, l, opts, form("with", "c@x"))
	if got := summary(p); got != "[] false -1 -1" {
		t.Errorf("from the start: %s", got)
	}
	// A range within the limit completes.
	p, _ = run(t, l, opts, form("with", "c@x", "start", stamp(16)))
	if got := summary(p); got != "[20] true -1 -1" {
		t.Errorf("last seconds: %s", got)
	}
	// Without a filter the limit does not apply.
	p, _ = run(t, l, opts, rsm("<max>15</max>"))
	if len(p.Hits) != 15 {
		t.Errorf("unfiltered: %s", summary(p))
	}
}

func TestRunPageBytes(t *testing.T) {
	l := newTestLog(4)
	for i := range l.recs {
		l.recs[i].size = 100 << 10
	}
	p, _ := run(t, l, testOptions, "")
	if got := summary(p); got != "[1,2] false 4 0" {
		t.Errorf("4 x 100 KiB: %s", got)
	}
	// A page holds at least one result, however large.
	l.recs[3].size = 2 * PageBytes
	p, _ = run(t, l, testOptions, rsm("<after>"+l.id(3)+"</after>"))
	if got := summary(p); got != "[4] true 4 3" {
		t.Errorf("one huge entry: %s", got)
	}
}

func TestRunSkipsCorruptEntries(t *testing.T) {
	for _, c := range []struct {
		what    string
		n       int
		corrupt []uint64
		inner   string
		want    string
	}{
		{"the last entry", 3, []uint64{3}, "", "[1,2] true 3 0"},
		{"the look-ahead, last", 3, []uint64{3}, rsm("<max>2</max>"), "[1,2] true 3 0"},
		{"the look-ahead, then more", 4, []uint64{3}, rsm("<max>2</max>"), "[1,2] false 4 0"},
		{"backward, the first", 3, []uint64{1}, rsm("<max>2</max><before/>"), "[2,3] true 3 1"},
		{"the middle, filtered", 5, []uint64{2, 3}, form("with", "a@x"), "[1,5] true -1 -1"},
		{"all of them", 3, []uint64{1, 2, 3}, rsm("<max>1</max>"), "[] true 3 -1"},
	} {
		l := newTestLog(c.n)
		for _, seq := range c.corrupt {
			l.corrupt[seq] = true
		}
		wantPage(t, c.what, l, Options{ScanLimit: 100, ReadChunk: 1}, c.inner, c.want)
	}
}

func TestRunReadsInChunks(t *testing.T) {
	l := newTestLog(100)
	// A page of 10 from 100 entries: 3 reads of at most 4 (with the
	// look-ahead), not the whole log.
	p, err := run(t, l, Options{ScanLimit: 1000, ReadChunk: 4}, rsm("<max>10</max>"))
	if err != nil || len(p.Hits) != 10 || l.reads != 3 {
		t.Errorf("%s after %d reads (%v)", summary(p), l.reads, err)
	}
}

func TestRunTruncatedLog(t *testing.T) {
	// The log ends before the range does (truncated meanwhile).
	l := newTestLog(5)
	q, _ := ParseQuery(query(t, ""), anyWith)
	p, err := Run(context.Background(), l, q, 1, 9, testOptions)
	if err != nil || !slices.Equal(seqs(p), []uint64{1, 2, 3, 4, 5}) || !p.Complete {
		t.Errorf("%s (%v)", summary(p), err)
	}
	// The first entries are gone: a range starting before them still works.
	l = newTestLog(5)
	l.first, l.recs = 3, l.recs[2:]
	p, err = Run(context.Background(), l, q, 1, 5, testOptions)
	if err != nil || !slices.Equal(seqs(p), []uint64{3, 4, 5}) || !p.Complete {
		t.Errorf("%s (%v)", summary(p), err)
	}
}

func TestRunCancelled(t *testing.T) {
	l := newTestLog(5)
	q, _ := ParseQuery(query(t, ""), anyWith)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, l, q, 1, 5, testOptions); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func seqs(p *Page[testRecord]) []uint64 {
	var s []uint64
	for _, h := range p.Hits {
		s = append(s, h.Seq)
	}
	return s
}

func TestFirstAtOrAfter(t *testing.T) {
	l := newTestLog(10)
	l.recs[4].time = l.recs[3].time // entries 4 and 5 at the same time
	at := func(seq int) int64 { return base.Add(time.Duration(seq) * time.Second).UnixNano() }
	for _, c := range []struct {
		lo, hi uint64
		t      int64
		want   uint64
	}{
		{1, 10, at(0), 1},
		{1, 10, at(1), 1},
		{1, 10, at(1) + 1, 2},
		{1, 10, at(4), 4},
		{1, 10, at(4) + 1, 6},
		{1, 10, at(10), 10},
		{1, 10, at(10) + 1, 11},
		{3, 7, at(1), 3},
		{3, 7, at(9), 8},
		{5, 4, at(0), 5}, // an empty range
	} {
		got, err := FirstAtOrAfter(context.Background(), l, c.lo, c.hi, c.t)
		if err != nil || got != c.want {
			t.Errorf("[%d, %d] at %d: %d %v, want %d", c.lo, c.hi, c.t, got, err, c.want)
		}
	}
	// Entries gone count as older than anything.
	l.first, l.recs = 4, l.recs[3:]
	if got, _ := FirstAtOrAfter(context.Background(), l, 1, 10, at(0)); got != 4 {
		t.Errorf("truncated log: %d, want 4", got)
	}
}

func TestPageFinAndOrder(t *testing.T) {
	l := newTestLog(3)
	p, _ := run(t, l, testOptions, rsm("<max>2</max><before/>"))
	want := "<fin xmlns='" + NS + "' complete='false'><set xmlns='" + NSRSM + "'><first index='1'>" + l.id(2) + "</first><last>" + l.id(3) + "</last><count>3</count></set></fin>"
	if got := p.Fin().String(); got != want {
		t.Errorf("fin:\n got %s\nwant %s", got, want)
	}
	if got := p.InOrder(true); got[0].Seq != 3 || got[1].Seq != 2 || p.Hits[0].Seq != 2 {
		t.Errorf("flipped: %v, page now %v", got, p.Hits)
	}
	if got := p.InOrder(false); got[0].Seq != 2 {
		t.Errorf("not flipped: %v", got)
	}
	empty := &Page[testRecord]{Complete: true, Count: 0, FirstIndex: -1}
	if got := empty.Fin().String(); got != "<fin xmlns='"+NS+"' complete='true'><set xmlns='"+NSRSM+"'><count>0</count></set></fin>" {
		t.Errorf("empty fin: %s", got)
	}
}
