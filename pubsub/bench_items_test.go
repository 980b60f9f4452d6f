package pubsub

import (
	"context"
	"strconv"
	"testing"
)

// BenchmarkItemPut publishes new items to a node trimmed to 10 (the
// default max_items) on a store that syncs every write, as in production.
func BenchmarkItemPut(b *testing.B) {
	ctx := context.Background()
	l := openTestLog(b, openTestStore(b, true))
	it := testItem("x", 0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		it.ID = strconv.Itoa(i)
		if _, err := l.Put(ctx, it); err != nil {
			b.Fatal(err)
		}
		if _, err := l.Trim(ctx, 10); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkItemRepublish republishes one id (a PEP avatar or bookmark
// node, max_items 1) on a syncing store: compaction's share included.
func BenchmarkItemRepublish(b *testing.B) {
	ctx := context.Background()
	l := openTestLog(b, openTestStore(b, true))
	it := testItem("current", 0)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := l.Put(ctx, it); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkItemLatest reads the newest item (the last published item sent
// on subscribe and on presence) and the newest 10 of a 100-item node.
func BenchmarkItemLatest(b *testing.B) {
	ctx := context.Background()
	l := openTestLog(b, openTestStore(b, false))
	for i := range 100 {
		if _, err := l.Put(ctx, testItem("i"+strconv.Itoa(i), i)); err != nil {
			b.Fatal(err)
		}
	}
	for _, n := range []int{1, 10} {
		b.Run("n="+strconv.Itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				items, err := l.Latest(ctx, n)
				if err != nil || len(items) != n {
					b.Fatalf("Latest(%d) = %d items, %v", n, len(items), err)
				}
			}
		})
	}
}
