package pubsub

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/data"
)

// countingStore counts the log entries read, to check that paging a large
// node reads a page's worth, not the node.
type countingStore struct {
	data.Store
	read int
}

func (c *countingStore) Read(ctx context.Context, s string, from uint64, limit int) ([]data.Entry, error) {
	es, err := c.Store.Read(ctx, s, from, limit)
	c.read += len(es)
	return es, err
}

func (c *countingStore) ReadBack(ctx context.Context, s string, before uint64, limit int) ([]data.Entry, error) {
	es, err := c.Store.ReadBack(ctx, s, before, limit)
	c.read += len(es)
	return es, err
}

func openTestStore(t testing.TB, sync bool) data.Store {
	t.Helper()
	st, err := data.Open(t.TempDir(), data.Options{SyncWrites: sync, LowMemory: true, GCInterval: -1})
	if err != nil {
		t.Fatalf("data.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func openTestLog(t testing.TB, st data.Store) *itemLog {
	t.Helper()
	l, err := openItemLog(context.Background(), st, "pubsub.example.org", "news")
	if err != nil {
		t.Fatalf("openItemLog: %v", err)
	}
	return l
}

var (
	testPublisher = jid.MustParse("juliet@example.org/balcony")
	testEpoch     = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
)

// testItem is item id published at minute n after testEpoch.
func testItem(id string, n int) Item {
	return Item{
		ID:        id,
		Publisher: testPublisher,
		Payload:   []byte("<entry xmlns='http://www.w3.org/2005/Atom'><title>" + id + "</title></entry>"),
		Time:      testEpoch.Add(time.Duration(n) * time.Minute),
	}
}

func mustPut(t testing.TB, l *itemLog, it Item) bool {
	t.Helper()
	replaced, err := l.Put(context.Background(), it)
	if err != nil {
		t.Fatalf("Put(%s): %v", it.ID, err)
	}
	return replaced
}

func idsOf(items []Item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.ID
	}
	return out
}

func mustLatest(t testing.TB, l *itemLog, n int) []string {
	t.Helper()
	items, err := l.Latest(context.Background(), n)
	if err != nil {
		t.Fatalf("Latest(%d): %v", n, err)
	}
	return idsOf(items)
}

// logLen is the number of retained log entries.
func logLen(t testing.TB, l *itemLog) int {
	t.Helper()
	last, first, err := l.store.Last(context.Background(), l.stream)
	if err != nil {
		t.Fatalf("Last: %v", err)
	}
	return int(last + 1 - first)
}

// bothIndexModes runs f with the in-memory index and with the KV index
// (what nodes above smallIndexMax use).
func bothIndexModes(t *testing.T, f func(t *testing.T, st data.Store, l *itemLog)) {
	for _, inMemory := range []bool{true, false} {
		t.Run(map[bool]string{true: "memory-index", false: "kv-index"}[inMemory], func(t *testing.T) {
			st := openTestStore(t, false)
			l := openTestLog(t, st)
			if !inMemory {
				l.index = nil
			}
			f(t, st, l)
		})
	}
}

func TestItemPutGetReplaceDelete(t *testing.T) {
	bothIndexModes(t, func(t *testing.T, st data.Store, l *itemLog) {
		ctx := context.Background()
		if mustPut(t, l, testItem("a", 1)) {
			t.Fatal("first Put reported a replacement")
		}
		mustPut(t, l, Item{ID: "bare", Time: testEpoch}) // no payload, no publisher
		got, ok, err := l.Get(ctx, "a")
		if err != nil || !ok {
			t.Fatalf("Get(a) = %v, %v", ok, err)
		}
		want := testItem("a", 1)
		if got.ID != "a" || !got.Publisher.Equal(testPublisher) || string(got.Payload) != string(want.Payload) || !got.Time.Equal(want.Time) {
			t.Fatalf("Get(a) = %+v, want %+v", got, want)
		}
		if got, ok, _ := l.Get(ctx, "bare"); !ok || got.Payload != nil || !got.Publisher.Equal(jid.JID{}) {
			t.Fatalf("Get(bare) = %+v, %v", got, ok)
		}

		replacement := testItem("a", 2)
		replacement.Payload = []byte("<x xmlns='urn:example'/>")
		if !mustPut(t, l, replacement) {
			t.Fatal("republishing a reported no replacement")
		}
		if l.Count() != 2 {
			t.Fatalf("Count = %d after a replacement, want 2", l.Count())
		}
		if got, _, _ := l.Get(ctx, "a"); string(got.Payload) != "<x xmlns='urn:example'/>" {
			t.Fatalf("Get(a) after replace = %q", got.Payload)
		}
		if _, ok, _ := l.Get(ctx, "nope"); ok {
			t.Fatal("Get of an unknown id found something")
		}

		gone, err := l.Delete(ctx, []string{"a", "nope", "a"})
		if err != nil || !slices.Equal(gone, []string{"a"}) {
			t.Fatalf("Delete = %v, %v; want [a]", gone, err)
		}
		if _, ok, _ := l.Get(ctx, "a"); ok {
			t.Fatal("a deleted item is still there")
		}
		if l.Count() != 1 || !slices.Equal(mustLatest(t, l, 0), []string{"bare"}) {
			t.Fatalf("after delete: count %d, items %v", l.Count(), mustLatest(t, l, 0))
		}
	})
}

func TestItemPutRejectsBadIDs(t *testing.T) {
	l := openTestLog(t, openTestStore(t, false))
	for _, id := range []string{"", string(make([]byte, maxItemIDLen+1))} {
		_, err := l.Put(context.Background(), Item{ID: id})
		var pe *Error
		if !errors.As(err, &pe) || pe.Cond != "not-acceptable" {
			t.Errorf("Put(id of %d bytes) = %v, want not-acceptable", len(id), err)
		}
	}
	if l.Count() != 0 || logLen(t, l) != 0 {
		t.Fatalf("refused puts left count %d, log %d", l.Count(), logLen(t, l))
	}
}

func TestItemLatestOrder(t *testing.T) {
	bothIndexModes(t, func(t *testing.T, st data.Store, l *itemLog) {
		for i, id := range []string{"a", "b", "c", "d"} {
			mustPut(t, l, testItem(id, i))
		}
		mustPut(t, l, testItem("b", 10)) // a republished item is the newest
		if got := mustLatest(t, l, 0); !slices.Equal(got, []string{"b", "d", "c", "a"}) {
			t.Fatalf("Latest(0) = %v", got)
		}
		if got := mustLatest(t, l, 2); !slices.Equal(got, []string{"b", "d"}) {
			t.Fatalf("Latest(2) = %v", got)
		}
		if got := mustLatest(t, l, 10); len(got) != 4 {
			t.Fatalf("Latest(10) = %v", got)
		}
		l.Delete(context.Background(), []string{"b", "d"})
		if got := mustLatest(t, l, 1); !slices.Equal(got, []string{"c"}) {
			t.Fatalf("Latest(1) after retracting the newest = %v", got)
		}
	})
}

func TestItemPage(t *testing.T) {
	bothIndexModes(t, func(t *testing.T, st data.Store, l *itemLog) {
		ctx := context.Background()
		// i0 ... i9 published in order; newest first: i9 (index 0) ... i0 (index 9).
		for i := range 10 {
			mustPut(t, l, testItem("i"+strconv.Itoa(i), i))
		}
		// Stale entries in the way must not count.
		mustPut(t, l, testItem("tmp", 20))
		l.Delete(ctx, []string{"tmp"})

		cases := []struct {
			name      string
			req       PageRequest
			want      []string
			wantFirst int
		}{
			{"first page", PageRequest{Max: 3, Index: -1}, []string{"i9", "i8", "i7"}, 0},
			{"after", PageRequest{Max: 3, After: "i7", Index: -1}, []string{"i6", "i5", "i4"}, 3},
			{"after near the end", PageRequest{Max: 3, After: "i1", Index: -1}, []string{"i0"}, 9},
			{"after the oldest", PageRequest{Max: 3, After: "i0", Index: -1}, nil, 10},
			{"before", PageRequest{Max: 3, Before: "i4", BeforeSet: true, Index: -1}, []string{"i7", "i6", "i5"}, 2},
			{"before near the start", PageRequest{Max: 3, Before: "i8", BeforeSet: true, Index: -1}, []string{"i9"}, 0},
			{"last page", PageRequest{Max: 3, BeforeSet: true, Index: -1}, []string{"i2", "i1", "i0"}, 7},
			{"after and before", PageRequest{Max: 10, After: "i8", Before: "i4", BeforeSet: true, Index: -1}, []string{"i7", "i6", "i5"}, 2},
			{"index", PageRequest{Max: 2, Index: 4}, []string{"i5", "i4"}, 4},
			{"index past the end", PageRequest{Max: 2, Index: 10}, nil, 10},
			{"no max", PageRequest{Max: -1, Index: -1}, []string{"i9", "i8", "i7", "i6", "i5", "i4", "i3", "i2", "i1", "i0"}, 0},
			{"count only", PageRequest{Max: 0, Index: -1}, nil, 0},
		}
		for _, c := range cases {
			page, err := l.Page(ctx, c.req)
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
				continue
			}
			if got := idsOf(page.Items); !slices.Equal(got, c.want) || page.Count != 10 || page.FirstIndex != c.wantFirst {
				t.Errorf("%s: items %v count %d first index %d; want %v, 10, %d", c.name, got, page.Count, page.FirstIndex, c.want, c.wantFirst)
			}
			if len(c.want) > 0 && (page.First != c.want[0] || page.Last != c.want[len(c.want)-1]) {
				t.Errorf("%s: first/last %s/%s", c.name, page.First, page.Last)
			}
			if len(c.want) == 0 && (page.First != "" || page.Last != "") {
				t.Errorf("%s: empty page with first/last %q/%q", c.name, page.First, page.Last)
			}
		}
		for _, req := range []PageRequest{{Max: 3, After: "tmp"}, {Max: 3, Before: "zzz", BeforeSet: true}} {
			_, err := l.Page(ctx, req)
			var pe *Error
			if !errors.As(err, &pe) || pe.Cond != "item-not-found" || pe.Type != "cancel" {
				t.Errorf("Page(%+v) = %v, want item-not-found", req, err)
			}
		}
	})
}

// TestItemPageWalksEveryPage pages forwards and backwards over a node and
// checks the pages tile the node exactly.
func TestItemPageWalksEveryPage(t *testing.T) {
	bothIndexModes(t, func(t *testing.T, st data.Store, l *itemLog) {
		ctx := context.Background()
		for i := range 23 {
			mustPut(t, l, testItem(fmt.Sprintf("n%02d", i), i))
		}
		all := mustLatest(t, l, 0)
		var fwd []string
		req := PageRequest{Max: 5, Index: -1}
		for range 10 {
			page, err := l.Page(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Items) == 0 {
				break
			}
			if page.FirstIndex != len(fwd) {
				t.Fatalf("forward: first index %d, want %d", page.FirstIndex, len(fwd))
			}
			fwd = append(fwd, idsOf(page.Items)...)
			req = PageRequest{Max: 5, After: page.Last, Index: -1}
		}
		var back []string
		req = PageRequest{Max: 5, BeforeSet: true, Index: -1}
		for range 10 {
			page, err := l.Page(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Items) == 0 {
				break
			}
			if page.FirstIndex != len(all)-len(back)-len(page.Items) {
				t.Fatalf("backward: first index %d", page.FirstIndex)
			}
			back = append(idsOf(page.Items), back...)
			req = PageRequest{Max: 5, Before: page.First, BeforeSet: true, Index: -1}
		}
		if !slices.Equal(fwd, all) || !slices.Equal(back, all) {
			t.Fatalf("pages forward %v, backward %v; want %v", fwd, back, all)
		}
	})
}

func TestItemTrim(t *testing.T) {
	bothIndexModes(t, func(t *testing.T, st data.Store, l *itemLog) {
		ctx := context.Background()
		for i, id := range []string{"a", "b", "c", "d", "e"} {
			mustPut(t, l, testItem(id, i))
		}
		mustPut(t, l, testItem("a", 9)) // a becomes the newest
		if got, err := l.Trim(ctx, -1); err != nil || got != nil {
			t.Fatalf("Trim(-1) = %v, %v", got, err)
		}
		if got, err := l.Trim(ctx, 10); err != nil || got != nil {
			t.Fatalf("Trim(10) = %v, %v", got, err)
		}
		got, err := l.Trim(ctx, 3)
		if err != nil || !slices.Equal(got, []string{"b", "c"}) {
			t.Fatalf("Trim(3) = %v, %v; want [b c]", got, err)
		}
		if l.Count() != 3 || !slices.Equal(mustLatest(t, l, 0), []string{"a", "e", "d"}) {
			t.Fatalf("after Trim(3): %d %v", l.Count(), mustLatest(t, l, 0))
		}
		if n := logLen(t, l); n != 3 {
			t.Fatalf("log holds %d entries after trimming to 3", n)
		}
		got, err = l.Trim(ctx, 0)
		if err != nil || !slices.Equal(got, []string{"d", "e", "a"}) || l.Count() != 0 || logLen(t, l) != 0 {
			t.Fatalf("Trim(0) = %v, %v; count %d, log %d", got, err, l.Count(), logLen(t, l))
		}
	})
}

func TestItemExpireAndOldest(t *testing.T) {
	bothIndexModes(t, func(t *testing.T, st data.Store, l *itemLog) {
		ctx := context.Background()
		if ts, err := l.Oldest(ctx); err != nil || !ts.IsZero() {
			t.Fatalf("Oldest of an empty node = %v, %v", ts, err)
		}
		for i := range 6 {
			mustPut(t, l, testItem("e"+strconv.Itoa(i), i))
		}
		l.Delete(ctx, []string{"e0"})
		if ts, err := l.Oldest(ctx); err != nil || !ts.Equal(testEpoch.Add(time.Minute)) {
			t.Fatalf("Oldest = %v, %v; want minute 1", ts, err)
		}
		got, err := l.Expire(ctx, testEpoch.Add(3*time.Minute))
		if err != nil || !slices.Equal(got, []string{"e1", "e2"}) {
			t.Fatalf("Expire = %v, %v; want [e1 e2]", got, err)
		}
		if ts, _ := l.Oldest(ctx); !ts.Equal(testEpoch.Add(3 * time.Minute)) {
			t.Fatalf("Oldest after expiry = %v", ts)
		}
		if l.Count() != 3 || logLen(t, l) != 3 {
			t.Fatalf("after expiry: count %d, log %d", l.Count(), logLen(t, l))
		}
		if got, _ := l.Expire(ctx, testEpoch); got != nil {
			t.Fatalf("Expire before everything = %v", got)
		}
		if got, _ := l.Expire(ctx, testEpoch.Add(time.Hour)); len(got) != 3 || l.Count() != 0 {
			t.Fatalf("Expire of all = %v, count %d", got, l.Count())
		}
	})
}

// TestItemCompactionBoundsRepublish: PEP-style nodes republish the same id
// (avatars, bookmarks); the log must not grow with the republishes.
func TestItemCompactionBoundsRepublish(t *testing.T) {
	ctx := context.Background()
	st := openTestStore(t, false)
	l := openTestLog(t, st)
	mustPut(t, l, testItem("first", 0))
	republishes := 10000
	if testing.Short() {
		republishes = 2000
	}
	longest := 0
	for i := range republishes {
		mustPut(t, l, testItem("current", i+1))
		if i%10 == 0 || i > republishes-100 {
			longest = max(longest, logLen(t, l))
		}
	}
	if longest > 2*compactFloor+2 {
		t.Fatalf("log grew to %d entries for 2 live items", longest)
	}
	if got := mustLatest(t, l, 0); !slices.Equal(got, []string{"current", "first"}) || l.Count() != 2 {
		t.Fatalf("items %v, count %d", got, l.Count())
	}
	if it, _, _ := l.Get(ctx, "current"); !it.Time.Equal(testEpoch.Add(time.Duration(republishes) * time.Minute)) {
		t.Fatalf("current's time = %v", it.Time)
	}
	// Compaction kept the first item's publish time, not the copy's.
	if it, _, _ := l.Get(ctx, "first"); !it.Time.Equal(testEpoch) {
		t.Fatalf("first's time after compaction = %v", it.Time)
	}
}

// TestItemCompactionManyIDs republishes a rotating set of ids, and retracts
// some, with a live set larger than the compaction floor.
func TestItemCompactionManyIDs(t *testing.T) {
	bothIndexModes(t, func(t *testing.T, st data.Store, l *itemLog) {
		ctx := context.Background()
		const live = 40
		longest := 0
		for i := range 2000 {
			mustPut(t, l, testItem("r"+strconv.Itoa(i%live), i))
			if i%7 == 0 {
				l.Delete(ctx, []string{"r" + strconv.Itoa((i+3)%live)})
			}
			longest = max(longest, logLen(t, l))
		}
		if longest > 2*live+compactFloor+2 {
			t.Fatalf("log grew to %d entries for at most %d live items", longest, live)
		}
		items, _ := l.Latest(ctx, 0)
		if len(items) != l.Count() {
			t.Fatalf("Latest has %d items, Count %d", len(items), l.Count())
		}
		for i := 1; i < len(items); i++ {
			if !items[i].Time.Before(items[i-1].Time) {
				t.Fatalf("items out of publish order: %v then %v", items[i-1].Time, items[i].Time)
			}
		}
		reopened := openTestLog(t, st)
		if got := mustLatest(t, reopened, 0); !slices.Equal(got, idsOf(items)) {
			t.Fatalf("reopened: %v, want %v", got, idsOf(items))
		}
	})
}

// TestItemCompactionInterrupted stops a compaction after some of the index
// was repointed (a crash): the items, their order and later compactions
// stay correct.
func TestItemCompactionInterrupted(t *testing.T) {
	ctx := context.Background()
	st := openTestStore(t, false)
	l := openTestLog(t, st)
	for i := range 5 {
		mustPut(t, l, testItem("c"+strconv.Itoa(i), i))
	}
	mustPut(t, l, testItem("gap", 5))
	l.Delete(ctx, []string{"gap"})
	mustPut(t, l, testItem("c5", 6))
	want := mustLatest(t, l, 0)

	var lives []liveEntry
	for _, it := range []string{"c0", "c1", "c2", "c3", "c4", "c5"} {
		seq, _, _ := l.lookup(ctx, it)
		lives = append(lives, liveEntry{it, seq})
	}
	copies, err := l.copyLive(ctx, lives)
	if err != nil {
		t.Fatal(err)
	}
	for i := len(lives) - 1; i >= 3; i-- { // "crash" after three repoints
		if err := l.point(ctx, lives[i].id, copies+uint64(i)); err != nil {
			t.Fatal(err)
		}
	}

	r := openTestLog(t, st)
	if got := mustLatest(t, r, 0); !slices.Equal(got, want) || r.Count() != 6 {
		t.Fatalf("after an interrupted compaction: %v (count %d), want %v", got, r.Count(), want)
	}
	if err := r.compact(ctx); err != nil {
		t.Fatal(err)
	}
	if got := mustLatest(t, r, 0); !slices.Equal(got, want) || logLen(t, r) != 6 {
		t.Fatalf("after compaction: %v, log %d", got, logLen(t, r))
	}
	if it, _, _ := r.Get(ctx, "c0"); !it.Time.Equal(testEpoch) {
		t.Fatalf("c0's time = %v", it.Time)
	}
}

func TestItemReopen(t *testing.T) {
	ctx := context.Background()
	st := openTestStore(t, false)
	l := openTestLog(t, st)
	for i := range 30 {
		mustPut(t, l, testItem("o"+strconv.Itoa(i%12), i))
	}
	l.Delete(ctx, []string{"o3"})
	want := mustLatest(t, l, 0)

	r := openTestLog(t, st)
	if r.Count() != 11 || l.Count() != 11 {
		t.Fatalf("reopened count %d, was %d; want 11", r.Count(), l.Count())
	}
	if got := mustLatest(t, r, 0); !slices.Equal(got, want) {
		t.Fatalf("reopened items %v, want %v", got, want)
	}
	if mustPut(t, r, testItem("o5", 100)) != true || mustPut(t, r, testItem("new", 101)) {
		t.Fatal("replacement flags wrong after reopen")
	}
	// Another node of the same host shares nothing.
	other, err := openItemLog(ctx, st, "pubsub.example.org", "news2")
	if err != nil || other.Count() != 0 {
		t.Fatalf("other node: count %d, %v", other.Count(), err)
	}
}

// TestItemOrphanEntry: a publish that crashed between its append and its
// index write left an entry nobody points at; it is invisible.
func TestItemOrphanEntry(t *testing.T) {
	ctx := context.Background()
	st := openTestStore(t, false)
	l := openTestLog(t, st)
	mustPut(t, l, testItem("kept", 0))
	for _, orphan := range []Item{testItem("ghost", 1), testItem("kept", 2)} {
		if _, err := st.Append(ctx, l.stream, encodeItem(orphan), data.AnySeq); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.Append(ctx, l.stream, []byte("not an item"), data.AnySeq); err != nil {
		t.Fatal(err)
	}
	r := openTestLog(t, st)
	if r.Count() != 1 {
		t.Fatalf("count %d with orphans, want 1", r.Count())
	}
	if _, ok, _ := r.Get(ctx, "ghost"); ok {
		t.Fatal("an orphan entry is visible")
	}
	if it, _, _ := r.Get(ctx, "kept"); !it.Time.Equal(testEpoch) {
		t.Fatalf("kept = %v, want the indexed version", it.Time)
	}
	if got := mustLatest(t, r, 0); !slices.Equal(got, []string{"kept"}) {
		t.Fatalf("Latest = %v", got)
	}
	if page, err := r.Page(ctx, PageRequest{Max: 10, BeforeSet: true, Index: -1}); err != nil || !slices.Equal(idsOf(page.Items), []string{"kept"}) {
		t.Fatalf("last page = %v, %v", idsOf(page.Items), err)
	}
	mustPut(t, r, testItem("after", 3))
	if got := mustLatest(t, r, 0); !slices.Equal(got, []string{"after", "kept"}) {
		t.Fatalf("Latest after a new publish = %v", got)
	}
}

func TestItemPurgeAndDrop(t *testing.T) {
	ctx := context.Background()
	st := openTestStore(t, false)
	l := openTestLog(t, st)
	for i := range 5 {
		mustPut(t, l, testItem("p"+strconv.Itoa(i), i))
	}
	if err := l.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	if l.Count() != 0 || logLen(t, l) != 0 || len(mustLatest(t, l, 0)) != 0 {
		t.Fatalf("after purge: count %d, log %d", l.Count(), logLen(t, l))
	}
	if mustPut(t, l, testItem("p1", 10)) {
		t.Fatal("a purged id reported as replaced")
	}
	if r := openTestLog(t, st); r.Count() != 1 {
		t.Fatalf("reopened after purge: count %d", r.Count())
	}
	if err := l.Drop(ctx); err != nil {
		t.Fatal(err)
	}
	r := openTestLog(t, st)
	if r.Count() != 0 || r.last != 0 {
		t.Fatalf("after drop: count %d, last seq %d", r.Count(), r.last)
	}
	n := 0
	st.Scan(ctx, l.prefix, nil, 0, func(_, _ []byte, _ uint64) bool { n++; return true })
	if n != 0 {
		t.Fatalf("%d index keys left after drop", n)
	}
}

// TestItemLargeNode pages a node too large for the in-memory index and
// checks a page reads about a page of entries.
func TestItemLargeNode(t *testing.T) {
	if testing.Short() {
		t.Skip("20,000 items")
	}
	ctx := context.Background()
	cs := &countingStore{Store: openTestStore(t, false)}
	const n = 20000
	// Fill through the store in batches (the same entries Put writes).
	l := openTestLog(t, cs)
	batch := make([][]byte, 0, 500)
	for i := 0; i < n; i += cap(batch) {
		batch = batch[:0]
		for j := i; j < i+cap(batch); j++ {
			batch = append(batch, encodeItem(testItem(fmt.Sprintf("big%05d", j), j)))
		}
		first, err := cs.AppendBatch(ctx, l.stream, batch, data.AnySeq)
		if err != nil {
			t.Fatal(err)
		}
		for j := range batch {
			key := data.PubSubItemKey(l.host, l.node, fmt.Sprintf("big%05d", i+j))
			if _, err := cs.Put(ctx, key, seqBytes(first+uint64(j))); err != nil {
				t.Fatal(err)
			}
		}
	}
	l = openTestLog(t, cs)
	if l.Count() != n || l.index != nil {
		t.Fatalf("count %d, in-memory index %v", l.Count(), l.index != nil)
	}
	cs.read = 0
	page, err := l.Page(ctx, PageRequest{Max: 10, After: "big10000", Index: -1})
	if err != nil {
		t.Fatal(err)
	}
	if page.First != "big09999" || page.Last != "big09990" || page.FirstIndex != n-10000 || page.Count != n {
		t.Fatalf("page %s..%s index %d count %d", page.First, page.Last, page.FirstIndex, page.Count)
	}
	if cs.read > 2*readBatchMax {
		t.Fatalf("a page of 10 read %d entries", cs.read)
	}
	cs.read = 0
	if page, err = l.Page(ctx, PageRequest{Max: 10, BeforeSet: true, Index: -1}); err != nil || page.Last != "big00000" || page.FirstIndex != n-10 {
		t.Fatalf("last page: %s..%s index %d, %v", page.First, page.Last, page.FirstIndex, err)
	}
	if got := mustLatest(t, l, 3); !slices.Equal(got, []string{"big19999", "big19998", "big19997"}) {
		t.Fatalf("Latest(3) = %v", got)
	}
	if cs.read > 2*readBatchMax {
		t.Fatalf("last page and Latest(3) read %d entries", cs.read)
	}
	// Republishing and trimming a large node.
	mustPut(t, l, testItem("big00000", n))
	got, err := l.Trim(ctx, n-5)
	if err != nil || !slices.Equal(got, []string{"big00001", "big00002", "big00003", "big00004", "big00005"}) {
		t.Fatalf("Trim = %v, %v", got, err)
	}
	if l.Count() != n-5 || mustLatest(t, l, 1)[0] != "big00000" {
		t.Fatalf("count %d, newest %v", l.Count(), mustLatest(t, l, 1))
	}
}

func seqBytes(seq uint64) []byte {
	b := make([]byte, 8)
	for i := 7; i >= 0; i-- {
		b[i] = byte(seq)
		seq >>= 8
	}
	return b
}

func TestItemCodecRejectsCorruptEntries(t *testing.T) {
	good := encodeItem(testItem("x", 1))
	for n := range len(good) - len(testItem("x", 1).Payload) {
		if _, _, _, _, ok := itemFields(good[:n]); ok {
			t.Fatalf("a truncated header (%d bytes) decoded", n)
		}
	}
	bad := append([]byte{itemFormat}, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)
	if _, _, _, _, ok := itemFields(bad); ok {
		t.Fatal("an overlong length decoded")
	}
	if _, err := decodeItem(data.Entry{Seq: 1, Data: []byte{9}}); err == nil {
		t.Fatal("an unknown format decoded")
	}
}

// writeCountingStore counts the durable writes an operation costs.
type writeCountingStore struct {
	data.Store
	writes int
}

func (c *writeCountingStore) Apply(ctx context.Context, b *data.Batch) ([]uint64, error) {
	c.writes++
	return c.Store.Apply(ctx, b)
}

func (c *writeCountingStore) Put(ctx context.Context, k, v []byte) (uint64, error) {
	c.writes++
	return c.Store.Put(ctx, k, v)
}

func (c *writeCountingStore) Delete(ctx context.Context, k []byte) error {
	c.writes++
	return c.Store.Delete(ctx, k)
}

func (c *writeCountingStore) Append(ctx context.Context, s string, d []byte, e uint64) (uint64, error) {
	c.writes++
	return c.Store.Append(ctx, s, d, e)
}

func (c *writeCountingStore) Truncate(ctx context.Context, s string, before uint64) error {
	c.writes++
	return c.Store.Truncate(ctx, s, before)
}

// PutTrim stores the item and pushes the oldest out in one durable write;
// a replaced item moves to the newest place and is never pushed out by its
// own republish.
func TestItemPutTrim(t *testing.T) {
	ctx := context.Background()
	cs := &writeCountingStore{Store: openTestStore(t, false)}
	l := openTestLog(t, cs)
	for _, id := range []string{"a", "b", "c"} {
		mustPut(t, l, testItem(id, 1))
	}
	cs.writes = 0
	_, dropped, err := l.PutTrim(ctx, testItem("d", 1), 3)
	if err != nil || !slices.Equal(dropped, []string{"a"}) {
		t.Fatalf("PutTrim d = %v, %v; want [a]", dropped, err)
	}
	if cs.writes != 1 {
		t.Fatalf("PutTrim cost %d durable writes, want 1", cs.writes)
	}
	replaced, dropped, err := l.PutTrim(ctx, testItem("b", 2), 3)
	if err != nil || !replaced || len(dropped) != 0 {
		t.Fatalf("republishing b = %v, %v, %v; want replaced, nothing pushed out", replaced, dropped, err)
	}
	if _, dropped, err = l.PutTrim(ctx, testItem("e", 1), 3); err != nil || !slices.Equal(dropped, []string{"c"}) {
		t.Fatalf("PutTrim e = %v, %v; want [c]", dropped, err)
	}
	items, err := l.Latest(ctx, 0)
	if err != nil || !slices.Equal(idsOf(items), []string{"e", "b", "d"}) {
		t.Fatalf("Latest = %v, %v; want [e b d]", idsOf(items), err)
	}
	if l.Count() != 3 {
		t.Fatalf("Count = %d", l.Count())
	}
	// The log was truncated behind the oldest live item, and a reopened
	// log agrees with this one.
	last, first, err := cs.Store.Last(ctx, l.stream)
	if err != nil || first != l.first || last != l.last {
		t.Fatalf("store range [%d,%d], log thinks [%d,%d]", first, last, l.first, l.last)
	}
	again := openTestLog(t, cs.Store)
	got, err := again.Latest(ctx, 0)
	if err != nil || !slices.Equal(idsOf(got), []string{"e", "b", "d"}) || again.Count() != 3 {
		t.Fatalf("reopened: %v (count %d), %v", idsOf(got), again.Count(), err)
	}
	// max 0 keeps the newest item only.
	if _, dropped, err = l.PutTrim(ctx, testItem("f", 1), 0); err != nil || !slices.Equal(dropped, []string{"d", "b", "e"}) {
		t.Fatalf("PutTrim max 0 = %v, %v", dropped, err)
	}
	if items, _ := l.Latest(ctx, 0); !slices.Equal(idsOf(items), []string{"f"}) {
		t.Fatalf("after max 0: %v", idsOf(items))
	}
}

// Deleting several items (a multi-id retract) is one durable write;
// repeats and unknown ids are skipped.
func TestItemDeleteIsOneWrite(t *testing.T) {
	ctx := context.Background()
	cs := &writeCountingStore{Store: openTestStore(t, false)}
	l := openTestLog(t, cs)
	for _, id := range []string{"a", "b", "c", "d"} {
		mustPut(t, l, testItem(id, 1))
	}
	cs.writes = 0
	gone, err := l.Delete(ctx, []string{"a", "c", "a", "zz"})
	if err != nil || !slices.Equal(gone, []string{"a", "c"}) {
		t.Fatalf("Delete = %v, %v", gone, err)
	}
	if cs.writes != 1 {
		t.Fatalf("Delete cost %d durable writes, want 1", cs.writes)
	}
	if items, _ := l.Latest(ctx, 0); !slices.Equal(idsOf(items), []string{"d", "b"}) || l.Count() != 2 {
		t.Fatalf("left: %v (count %d)", idsOf(items), l.Count())
	}
	again := openTestLog(t, cs.Store)
	if items, _ := again.Latest(ctx, 0); !slices.Equal(idsOf(items), []string{"d", "b"}) {
		t.Fatalf("reopened: %v", idsOf(items))
	}
}

// planTrim from the in-memory index plans exactly what reading the log
// plans, through a random run of publishes, republishes and retracts.
func TestPlanTrimIndexMatchesWalk(t *testing.T) {
	ctx := context.Background()
	l := openTestLog(t, openTestStore(t, false))
	rng := rand.New(rand.NewPCG(1, 2))
	for step := range 600 {
		id := "i" + strconv.Itoa(rng.IntN(24))
		if rng.IntN(5) == 0 {
			if _, err := l.Delete(ctx, []string{id}); err != nil {
				t.Fatal(err)
			}
			continue
		}
		max := 1 + rng.IntN(12)
		_, replaced, err := l.lookup(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if count := l.count + map[bool]int{true: 0, false: 1}[replaced]; count > max && l.index != nil {
			fromIndex, headIndex := l.planTrimIndex(id, count-max)
			fromLog, headLog, err := l.planTrimWalk(ctx, id, count-max)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(fromIndex, fromLog) || headIndex != headLog {
				t.Fatalf("step %d: index plans %v head %d, the log %v head %d", step, fromIndex, headIndex, fromLog, headLog)
			}
		}
		if _, _, err := l.PutTrim(ctx, testItem(id, step), max); err != nil {
			t.Fatal(err)
		}
	}
}
