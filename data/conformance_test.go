package data

// A Store conformance suite: every implementation of Store (Badger on disk
// and in memory, the instrumented wrapper, later a replicated one) must
// pass testStoreConformance.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// testStoreConformance runs the suite; open returns a fresh, empty store
// (the suite closes it).
func testStoreConformance(t *testing.T, open func(t *testing.T) Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s Store)
	}{
		{"GetPut", confGetPut},
		{"InvalidKeys", confInvalidKeys},
		{"CompareAndSet", confCompareAndSet},
		{"RevisionNotReusedAfterDelete", confRevisionNotReused},
		{"DeleteAndDeleteIf", confDelete},
		{"ConcurrentCASOneWinnerPerRound", confConcurrentCAS},
		{"ConcurrentPut", confConcurrentPut},
		{"Scan", confScan},
		{"ScanCallbackUsesStore", confScanReentrant},
		{"DeletePrefix", confDeletePrefix},
		{"AppendAndLast", confAppend},
		{"AppendBatch", confAppendBatch},
		{"AppendBatchTooLarge", confAppendBatchTooLarge},
		{"ConcurrentAppendBatch", confConcurrentAppendBatch},
		{"ReadAndReadBack", confRead},
		{"Truncate", confTruncate},
		{"DeleteStream", confDeleteStream},
		{"LargeTruncateAndDelete", confLargeLogDeletes},
		{"StreamAndKeyIsolation", confIsolation},
		{"ConcurrentAppendSameExpectation", confConcurrentAppend},
		{"ConcurrentAppendAnySeq", confConcurrentAppendAny},
		{"CancelledContext", confCancelled},
		{"ClosedStore", confClosed},
		{"Apply", confApply},
		{"ApplyTooLarge", confApplyTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { _ = s.Close() })
			tc.fn(t, s)
		})
	}
}

var bg = context.Background()

func mustPut(t *testing.T, s Store, key, val string) uint64 {
	t.Helper()
	rev, err := s.Put(bg, []byte(key), []byte(val))
	if err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
	if rev == 0 {
		t.Fatalf("Put(%q) returned revision 0", key)
	}
	return rev
}

func mustGet(t *testing.T, s Store, key string) (string, uint64) {
	t.Helper()
	val, rev, err := s.Get(bg, []byte(key))
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return string(val), rev
}

func mustAppend(t *testing.T, s Store, stream, d string, expect uint64) uint64 {
	t.Helper()
	seq, err := s.Append(bg, stream, []byte(d), expect)
	if err != nil {
		t.Fatalf("Append(%q, %q, %d): %v", stream, d, expect, err)
	}
	return seq
}

func wantErr(t *testing.T, what string, got, want error) {
	t.Helper()
	if !errors.Is(got, want) {
		t.Fatalf("%s: error %v, want %v", what, got, want)
	}
}

func confGetPut(t *testing.T, s Store) {
	_, _, err := s.Get(bg, []byte("k"))
	wantErr(t, "Get absent", err, ErrNotFound)

	in := []byte("v1")
	r1, err := s.Put(bg, []byte("k"), in)
	if err != nil || r1 == 0 {
		t.Fatalf("Put: rev %d, %v", r1, err)
	}
	in[0] = 'X' // the store must have copied the value
	val, rev := mustGet(t, s, "k")
	if val != "v1" || rev != r1 {
		t.Fatalf("Get = %q rev %d, want v1 rev %d", val, rev, r1)
	}
	got, _, _ := s.Get(bg, []byte("k"))
	got[0] = 'Y' // nor may the caller's copy alias the store's
	if val, _ := mustGet(t, s, "k"); val != "v1" {
		t.Fatalf("value changed through a returned slice: %q", val)
	}

	r2 := mustPut(t, s, "k", "v2")
	if r2 == r1 {
		t.Fatalf("revision did not change on rewrite: %d", r2)
	}
	if r2 < r1 {
		t.Fatalf("revision went backwards: %d then %d", r1, r2)
	}
	if val, rev := mustGet(t, s, "k"); val != "v2" || rev != r2 {
		t.Fatalf("Get = %q rev %d, want v2 rev %d", val, rev, r2)
	}
	// Same value again is still a write.
	if r3 := mustPut(t, s, "k", "v2"); r3 == r2 {
		t.Fatal("rewriting the same value kept the revision")
	}

	mustPut(t, s, "empty", "")
	if val, rev := mustGet(t, s, "empty"); val != "" || rev == 0 {
		t.Fatalf("empty value: %q rev %d", val, rev)
	}
	// Binary keys and values round-trip.
	bk, bv := []byte{0, 0xff, '/', 0}, []byte{0, 1, 2, 0xff}
	if _, err := s.Put(bg, bk, bv); err != nil {
		t.Fatal(err)
	}
	if v, _, err := s.Get(bg, bk); err != nil || !bytes.Equal(v, bv) {
		t.Fatalf("binary key: %x, %v", v, err)
	}
}

func confInvalidKeys(t *testing.T, s Store) {
	long := bytes.Repeat([]byte("a"), MaxKeyLen+1)
	for _, k := range [][]byte{nil, {}, long} {
		_, _, err := s.Get(bg, k)
		wantErr(t, "Get invalid", err, ErrInvalidKey)
		_, err = s.Put(bg, k, []byte("v"))
		wantErr(t, "Put invalid", err, ErrInvalidKey)
		_, err = s.CompareAndSet(bg, k, []byte("v"), 0)
		wantErr(t, "CAS invalid", err, ErrInvalidKey)
		wantErr(t, "Delete invalid", s.Delete(bg, k), ErrInvalidKey)
		wantErr(t, "DeleteIf invalid", s.DeleteIf(bg, k, 0), ErrInvalidKey)
	}
	if _, err := s.Put(bg, long[:MaxKeyLen], []byte("v")); err != nil {
		t.Fatalf("Put of a MaxKeyLen key: %v", err)
	}
	for _, st := range []string{"", "a\x00b", string(long)} {
		_, err := s.Append(bg, st, []byte("d"), AnySeq)
		wantErr(t, fmt.Sprintf("Append(%q)", st), err, ErrInvalidKey)
		_, err = s.Read(bg, st, 1, 0)
		wantErr(t, "Read invalid", err, ErrInvalidKey)
		_, err = s.ReadBack(bg, st, AnySeq, 0)
		wantErr(t, "ReadBack invalid", err, ErrInvalidKey)
		_, _, err = s.Last(bg, st)
		wantErr(t, "Last invalid", err, ErrInvalidKey)
		wantErr(t, "Truncate invalid", s.Truncate(bg, st, 1), ErrInvalidKey)
		wantErr(t, "DeleteStream invalid", s.DeleteStream(bg, st), ErrInvalidKey)
	}
}

func confCompareAndSet(t *testing.T, s Store) {
	k := []byte("cas")
	r1, err := s.CompareAndSet(bg, k, []byte("a"), 0)
	if err != nil || r1 == 0 {
		t.Fatalf("CAS create: rev %d, %v", r1, err)
	}
	_, err = s.CompareAndSet(bg, k, []byte("b"), 0)
	wantErr(t, "CAS create over existing", err, ErrRevision)
	_, err = s.CompareAndSet(bg, k, []byte("b"), r1+12345)
	wantErr(t, "CAS wrong rev", err, ErrRevision)
	if val, rev := mustGet(t, s, "cas"); val != "a" || rev != r1 {
		t.Fatalf("failed CAS changed the key: %q rev %d", val, rev)
	}
	r2, err := s.CompareAndSet(bg, k, []byte("b"), r1)
	if err != nil || r2 == r1 || r2 == 0 {
		t.Fatalf("CAS: rev %d (was %d), %v", r2, r1, err)
	}
	_, err = s.CompareAndSet(bg, k, []byte("c"), r1)
	wantErr(t, "CAS with stale rev", err, ErrRevision)
	if val, rev := mustGet(t, s, "cas"); val != "b" || rev != r2 {
		t.Fatalf("Get = %q rev %d, want b rev %d", val, rev, r2)
	}
	// A Put in between invalidates the revision a CAS holds.
	r3 := mustPut(t, s, "cas", "p")
	_, err = s.CompareAndSet(bg, k, []byte("c"), r2)
	wantErr(t, "CAS after Put", err, ErrRevision)
	if _, err := s.CompareAndSet(bg, k, []byte("c"), r3); err != nil {
		t.Fatal(err)
	}
	_, err = s.CompareAndSet(bg, []byte("absent"), []byte("x"), r3)
	wantErr(t, "CAS on absent key with rev", err, ErrRevision)
}

func confRevisionNotReused(t *testing.T, s Store) {
	r1 := mustPut(t, s, "aba", "one")
	if err := s.Delete(bg, []byte("aba")); err != nil {
		t.Fatal(err)
	}
	r2, err := s.CompareAndSet(bg, []byte("aba"), []byte("two"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if r2 == r1 {
		t.Fatalf("re-created key got its old revision %d back", r1)
	}
	_, err = s.CompareAndSet(bg, []byte("aba"), []byte("stale"), r1)
	wantErr(t, "CAS with the revision of a deleted incarnation", err, ErrRevision)
	// Revisions are unique across keys too.
	seen := map[uint64]bool{r1: true, r2: true}
	for i := range 50 {
		r := mustPut(t, s, fmt.Sprintf("u%d", i), "x")
		if seen[r] {
			t.Fatalf("revision %d handed out twice", r)
		}
		seen[r] = true
	}
}

func confDelete(t *testing.T, s Store) {
	if err := s.Delete(bg, []byte("nope")); err != nil {
		t.Fatalf("Delete absent: %v", err)
	}
	mustPut(t, s, "d", "1")
	if err := s.Delete(bg, []byte("d")); err != nil {
		t.Fatal(err)
	}
	_, _, err := s.Get(bg, []byte("d"))
	wantErr(t, "Get after Delete", err, ErrNotFound)

	r := mustPut(t, s, "di", "1")
	wantErr(t, "DeleteIf wrong rev", s.DeleteIf(bg, []byte("di"), r+999), ErrRevision)
	wantErr(t, "DeleteIf expecting absence", s.DeleteIf(bg, []byte("di"), 0), ErrRevision)
	if _, rev := mustGet(t, s, "di"); rev != r {
		t.Fatal("failed DeleteIf changed the key")
	}
	if err := s.DeleteIf(bg, []byte("di"), r); err != nil {
		t.Fatal(err)
	}
	_, _, err = s.Get(bg, []byte("di"))
	wantErr(t, "Get after DeleteIf", err, ErrNotFound)
	wantErr(t, "DeleteIf on absent key with rev", s.DeleteIf(bg, []byte("di"), r), ErrRevision)
	if err := s.DeleteIf(bg, []byte("di"), 0); err != nil {
		t.Fatalf("DeleteIf(absent, 0): %v", err)
	}
}

// confConcurrentCAS: in each round many goroutines try to move the key
// from the same revision; exactly one may win.
func confConcurrentCAS(t *testing.T, s Store) {
	const workers, rounds = 24, 60
	k := []byte("contended")
	rev := mustPut(t, s, "contended", "start")
	for round := range rounds {
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			winners []uint64
			others  []error
		)
		startGun := make(chan struct{})
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-startGun
				r, err := s.CompareAndSet(bg, k, fmt.Appendf(nil, "r%d-w%d", round, w), rev)
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					winners = append(winners, r)
				} else if !errors.Is(err, ErrRevision) {
					others = append(others, err)
				}
			}()
		}
		close(startGun)
		wg.Wait()
		if len(others) > 0 {
			t.Fatalf("round %d: unexpected errors %v", round, others)
		}
		if len(winners) != 1 {
			t.Fatalf("round %d: %d winners, want exactly 1", round, len(winners))
		}
		if _, cur := mustGet(t, s, "contended"); cur != winners[0] {
			t.Fatalf("round %d: stored rev %d, winner's %d", round, cur, winners[0])
		}
		rev = winners[0]
	}
}

func confConcurrentPut(t *testing.T, s Store) {
	const workers, each = 16, 20
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		revs = map[uint64]bool{}
		errs []error
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				r, err := s.Put(bg, []byte("hot"), fmt.Appendf(nil, "%d-%d", w, i))
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else if revs[r] {
					errs = append(errs, fmt.Errorf("revision %d returned twice", r))
				} else {
					revs[r] = true
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("concurrent Put: %v", errs[0])
	}
	// The stored revision is the largest one handed out: revisions of a key
	// grow in commit order.
	_, cur := mustGet(t, s, "hot")
	for r := range revs {
		if r > cur {
			t.Fatalf("stored revision %d is older than returned revision %d", cur, r)
		}
	}
}

type kvr struct {
	key, val string
	rev      uint64
}

func scanAll(t *testing.T, s Store, prefix, after string, afterNil bool, limit int) []kvr {
	t.Helper()
	var a []byte
	if !afterNil {
		a = []byte(after)
	}
	var out []kvr
	err := s.Scan(bg, []byte(prefix), a, limit, func(k, v []byte, rev uint64) bool {
		out = append(out, kvr{string(k), string(v), rev})
		return true
	})
	if err != nil {
		t.Fatalf("Scan(%q, %q, %d): %v", prefix, after, limit, err)
	}
	return out
}

func keysOf(rs []kvr) []string {
	var ks []string
	for _, r := range rs {
		ks = append(ks, r.key)
	}
	return ks
}

func wantKeys(t *testing.T, what string, got []kvr, want ...string) {
	t.Helper()
	if ks := keysOf(got); !slices.Equal(ks, want) {
		t.Fatalf("%s: keys %q, want %q", what, ks, want)
	}
}

func confScan(t *testing.T, s Store) {
	revs := map[string]uint64{}
	// Written out of order; "p" and "p0"/"q" are outside prefix "p/".
	for _, k := range []string{"p/c", "p/a", "q", "p/b/x", "p", "p/b", "p0", "o/z", "p/\xff"} {
		revs[k] = mustPut(t, s, k, "val-"+k)
	}
	all := scanAll(t, s, "p/", "", true, 0)
	wantKeys(t, "prefix p/", all, "p/a", "p/b", "p/b/x", "p/c", "p/\xff")
	for _, r := range all {
		if r.val != "val-"+r.key || r.rev != revs[r.key] {
			t.Fatalf("Scan entry %+v: want value %q rev %d", r, "val-"+r.key, revs[r.key])
		}
	}
	wantKeys(t, "after existing key", scanAll(t, s, "p/", "p/b", false, 0), "p/b/x", "p/c", "p/\xff")
	wantKeys(t, "after absent key", scanAll(t, s, "p/", "p/bb", false, 0), "p/c", "p/\xff")
	wantKeys(t, "after below prefix", scanAll(t, s, "p/", "a", false, 0), "p/a", "p/b", "p/b/x", "p/c", "p/\xff")
	wantKeys(t, "after = prefix", scanAll(t, s, "p/", "p/", false, 0), "p/a", "p/b", "p/b/x", "p/c", "p/\xff")
	wantKeys(t, "after above prefix", scanAll(t, s, "p/", "q", false, 0))
	wantKeys(t, "after last", scanAll(t, s, "p/", "p/\xff", false, 0))
	wantKeys(t, "limit", scanAll(t, s, "p/", "", true, 2), "p/a", "p/b")
	wantKeys(t, "after+limit", scanAll(t, s, "p/", "p/b", false, 2), "p/b/x", "p/c")
	wantKeys(t, "limit 1", scanAll(t, s, "p/", "", true, 1), "p/a")
	wantKeys(t, "negative limit", scanAll(t, s, "p/", "", true, -1), "p/a", "p/b", "p/b/x", "p/c", "p/\xff")
	wantKeys(t, "no match", scanAll(t, s, "zzz", "", true, 0))
	wantKeys(t, "exact key prefix", scanAll(t, s, "p/b", "", true, 0), "p/b", "p/b/x")
	wantKeys(t, "empty after is the start", scanAll(t, s, "p/", "", false, 0), "p/a", "p/b", "p/b/x", "p/c", "p/\xff")

	// fn returning false stops the scan.
	var n int
	if err := s.Scan(bg, []byte("p/"), nil, 0, func(k, v []byte, rev uint64) bool { n++; return n < 3 }); err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Fatalf("scan continued after fn returned false: %d calls", n)
	}

	// The whole KV: every key we wrote in order, plus possibly keys the
	// store keeps for itself under meta/; never log data.
	if _, err := s.Append(bg, "p/log", []byte("entry"), AnySeq); err != nil {
		t.Fatal(err)
	}
	var ours []string
	for _, r := range scanAll(t, s, "", "", true, 0) {
		if strings.HasPrefix(r.key, "meta/") {
			continue
		}
		ours = append(ours, r.key)
	}
	want := []string{"o/z", "p", "p/a", "p/b", "p/b/x", "p/c", "p/\xff", "p0", "q"}
	if !slices.Equal(ours, want) {
		t.Fatalf("full scan: %q, want %q", ours, want)
	}
}

func confScanReentrant(t *testing.T, s Store) {
	for i := range 5 {
		mustPut(t, s, fmt.Sprintf("re/%d", i), "old")
	}
	// Rewrite every key from inside the scan: keys are copies the callee
	// may keep and the store is usable from the callback.
	var keys [][]byte
	err := s.Scan(bg, []byte("re/"), nil, 0, func(k, v []byte, rev uint64) bool {
		keys = append(keys, k)
		if _, err := s.CompareAndSet(bg, k, []byte("new"), rev); err != nil {
			t.Errorf("CAS from scan: %v", err)
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 5 || string(keys[0]) != "re/0" || string(keys[4]) != "re/4" {
		t.Fatalf("kept keys %q", keys)
	}
	for i := range 5 {
		if v, _ := mustGet(t, s, fmt.Sprintf("re/%d", i)); v != "new" {
			t.Fatalf("re/%d = %q", i, v)
		}
	}
}

func confDeletePrefix(t *testing.T, s Store) {
	const many = 2500 // more than one delete batch
	for i := range many {
		mustPut(t, s, fmt.Sprintf("big/%05d", i), "x")
	}
	mustPut(t, s, "big", "keep")
	mustPut(t, s, "bif", "keep")
	mustPut(t, s, "bigger", "gone") // "big" is a byte prefix of "bigger"
	mustPut(t, s, "other/1", "keep")
	mustAppend(t, s, "big/stream", "keep", 0)

	if err := s.DeletePrefix(bg, []byte("big/")); err != nil {
		t.Fatal(err)
	}
	wantKeys(t, "after DeletePrefix big/", scanAll(t, s, "big", "", true, 0), "big", "bigger")
	if err := s.DeletePrefix(bg, []byte("big")); err != nil {
		t.Fatal(err)
	}
	wantKeys(t, "after DeletePrefix big", scanAll(t, s, "b", "", true, 0), "bif")
	if v, _ := mustGet(t, s, "other/1"); v != "keep" {
		t.Fatal("DeletePrefix removed a key outside the prefix")
	}
	if es, err := s.Read(bg, "big/stream", 1, 0); err != nil || len(es) != 1 {
		t.Fatalf("DeletePrefix touched a log: %v %v", es, err)
	}
	if err := s.DeletePrefix(bg, []byte("nothing/")); err != nil {
		t.Fatal(err)
	}
	// Keys can be written again after deletion.
	mustPut(t, s, "big/00001", "again")
	wantKeys(t, "rewrite", scanAll(t, s, "big/", "", true, 0), "big/00001")
}

func confAppend(t *testing.T, s Store) {
	last, first, err := s.Last(bg, "never")
	if err != nil || last != 0 || first != 1 {
		t.Fatalf("Last(never used) = %d, %d, %v; want 0, 1", last, first, err)
	}
	before := time.Now().UnixNano()
	if seq := mustAppend(t, s, "s", "one", 0); seq != 1 {
		t.Fatalf("first Append = %d", seq)
	}
	_, err = s.Append(bg, "s", []byte("x"), 0)
	wantErr(t, "Append expecting empty", err, ErrSequence)
	_, err = s.Append(bg, "s", []byte("x"), 7)
	wantErr(t, "Append expecting 7", err, ErrSequence)
	if seq := mustAppend(t, s, "s", "two", 1); seq != 2 {
		t.Fatalf("second Append = %d", seq)
	}
	if seq := mustAppend(t, s, "s", "three", AnySeq); seq != 3 {
		t.Fatalf("AnySeq Append = %d", seq)
	}
	if seq := mustAppend(t, s, "s", "", 3); seq != 4 {
		t.Fatalf("empty-data Append = %d", seq)
	}
	after := time.Now().UnixNano()
	last, first, err = s.Last(bg, "s")
	if err != nil || last != 4 || first != 1 {
		t.Fatalf("Last = %d, %d, %v; want 4, 1", last, first, err)
	}
	es, err := s.Read(bg, "s", 1, 0)
	if err != nil || len(es) != 4 {
		t.Fatalf("Read: %v, %v", es, err)
	}
	for i, e := range es {
		if e.Seq != uint64(i+1) {
			t.Fatalf("entry %d has seq %d", i, e.Seq)
		}
		if e.Time < before || e.Time > after {
			t.Fatalf("entry %d time %d outside [%d, %d]", i, e.Time, before, after)
		}
		if i > 0 && e.Time < es[i-1].Time {
			t.Fatalf("entry times go backwards: %d then %d", es[i-1].Time, e.Time)
		}
	}
	if string(es[0].Data) != "one" || string(es[2].Data) != "three" || len(es[3].Data) != 0 {
		t.Fatalf("data: %q %q %q", es[0].Data, es[2].Data, es[3].Data)
	}
	es[0].Data[0] = 'X'
	if again, _ := s.Read(bg, "s", 1, 1); string(again[0].Data) != "one" {
		t.Fatal("returned entry data aliases the store")
	}
}

func confAppendBatch(t *testing.T, s Store) {
	// An empty batch writes nothing and names the next sequence.
	if first, err := s.AppendBatch(bg, "b", nil, 0); err != nil || first != 1 {
		t.Fatalf("empty AppendBatch = %d, %v; want 1", first, err)
	}
	if last, _, _ := s.Last(bg, "b"); last != 0 {
		t.Fatalf("empty batch wrote: last %d", last)
	}
	batch := func(from, n int) [][]byte {
		var out [][]byte
		for i := range n {
			out = append(out, fmt.Append(nil, "e", from+i))
		}
		return out
	}
	before := time.Now().UnixNano()
	first, err := s.AppendBatch(bg, "b", batch(1, 3), 0)
	if err != nil || first != 1 {
		t.Fatalf("AppendBatch = %d, %v; want 1", first, err)
	}
	// Plain appends and batches share the numbering.
	if seq := mustAppend(t, s, "b", "e4", 3); seq != 4 {
		t.Fatalf("Append after a batch = %d", seq)
	}
	first, err = s.AppendBatch(bg, "b", batch(5, 2), AnySeq)
	if err != nil || first != 5 {
		t.Fatalf("AnySeq AppendBatch = %d, %v; want 5", first, err)
	}
	// A wrong expectation writes nothing at all.
	for _, exp := range []uint64{0, 5, 7} {
		_, err = s.AppendBatch(bg, "b", batch(7, 3), exp)
		wantErr(t, fmt.Sprint("AppendBatch expecting ", exp), err, ErrSequence)
	}
	if first, err := s.AppendBatch(bg, "b", nil, 6); err != nil || first != 7 {
		t.Fatalf("empty AppendBatch at 6 = %d, %v; want 7", first, err)
	}
	_, err = s.AppendBatch(bg, "b", nil, 3)
	wantErr(t, "empty AppendBatch with a wrong expectation", err, ErrSequence)
	after := time.Now().UnixNano()
	es, err := s.Read(bg, "b", 1, 0)
	wantSeqs(t, "Read after batches", es, err, 1, 2, 3, 4, 5, 6)
	for i, e := range es {
		if e.Time < before || e.Time > after || (i > 0 && e.Time < es[i-1].Time) {
			t.Fatalf("entry %d time %d outside [%d, %d] or going backwards", e.Seq, e.Time, before, after)
		}
	}
	if es[0].Time != es[2].Time {
		t.Fatalf("one batch, two times: %d, %d", es[0].Time, es[2].Time)
	}
	es, err = s.ReadBack(bg, "b", AnySeq, 2)
	wantSeqs(t, "ReadBack after batches", es, err, 6, 5)
	// The caller may reuse its buffers: the store copied them.
	bufs := batch(7, 2)
	if _, err := s.AppendBatch(bg, "b", bufs, 6); err != nil {
		t.Fatal(err)
	}
	bufs[0][0], bufs[1][0] = 'X', 'X'
	es, err = s.Read(bg, "b", 7, 0)
	wantSeqs(t, "Read after reusing buffers", es, err, 7, 8)
	// Truncate and DeleteStream see batch entries like any other.
	if err := s.Truncate(bg, "b", 6); err != nil {
		t.Fatal(err)
	}
	es, err = s.Read(bg, "b", 0, 0)
	wantSeqs(t, "Read after Truncate", es, err, 6, 7, 8)
	if err := s.DeleteStream(bg, "b"); err != nil {
		t.Fatal(err)
	}
	if first, err := s.AppendBatch(bg, "b", batch(1, 1), 0); err != nil || first != 1 {
		t.Fatalf("AppendBatch after DeleteStream = %d, %v", first, err)
	}
	_, err = s.AppendBatch(bg, "", batch(1, 1), AnySeq)
	wantErr(t, "AppendBatch to an invalid stream", err, ErrInvalidKey)
}

// confAppendBatchTooLarge: a batch beyond one transaction fails whole.
func confAppendBatchTooLarge(t *testing.T, s Store) {
	mustAppend(t, s, "big", "e1", 0)
	// 200,000 entries, 12.8 MB: too many and too much for one transaction.
	entry := bytes.Repeat([]byte("x"), 64)
	batch := make([][]byte, 200_000)
	for i := range batch {
		batch[i] = entry
	}
	_, err := s.AppendBatch(bg, "big", batch, 1)
	wantErr(t, "huge AppendBatch", err, ErrTooLarge)
	es, err := s.Read(bg, "big", 0, 0)
	wantSeqs(t, "Read after a failed batch", es, err, 1)
	if seq := mustAppend(t, s, "big", "e2", 1); seq != 2 {
		t.Fatalf("Append after a failed batch = %d", seq)
	}
}

// confConcurrentAppendBatch: batches with the same expectation race; one
// wins whole, the others write nothing.
func confConcurrentAppendBatch(t *testing.T, s Store) {
	const workers = 8
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		winners []int
		others  []error
	)
	startGun := make(chan struct{})
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-startGun
			batch := [][]byte{fmt.Append(nil, "w", w, "a"), fmt.Append(nil, "w", w, "b"), fmt.Append(nil, "w", w, "c")}
			_, err := s.AppendBatch(bg, "race", batch, 0)
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				winners = append(winners, w)
			} else if !errors.Is(err, ErrSequence) {
				others = append(others, err)
			}
		}()
	}
	close(startGun)
	wg.Wait()
	if len(others) > 0 || len(winners) != 1 {
		t.Fatalf("winners %v, errors %v; want one winner", winners, others)
	}
	es, err := s.Read(bg, "race", 0, 0)
	if err != nil || len(es) != 3 {
		t.Fatalf("Read: %d entries, %v", len(es), err)
	}
	for i, e := range es {
		if want := fmt.Sprint("w", winners[0], string(rune('a'+i))); string(e.Data) != want {
			t.Fatalf("entry %d = %q, want %q: batches interleaved", e.Seq, e.Data, want)
		}
	}
}

func seqs(es []Entry) []uint64 {
	var out []uint64
	for _, e := range es {
		out = append(out, e.Seq)
	}
	return out
}

func wantSeqs(t *testing.T, what string, es []Entry, err error, want ...uint64) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if got := seqs(es); !slices.Equal(got, want) {
		t.Fatalf("%s: seqs %v, want %v", what, got, want)
	}
	for _, e := range es {
		if string(e.Data) != fmt.Sprint("e", e.Seq) {
			t.Fatalf("%s: entry %d holds %q", what, e.Seq, e.Data)
		}
	}
}

func appendN(t *testing.T, s Store, stream string, n int) {
	t.Helper()
	last, _, err := s.Last(bg, stream)
	if err != nil {
		t.Fatal(err)
	}
	for range n {
		last = mustAppend(t, s, stream, fmt.Sprint("e", last+1), last)
	}
}

func confRead(t *testing.T, s Store) {
	appendN(t, s, "r", 5)
	es, err := s.Read(bg, "r", 0, 0)
	wantSeqs(t, "Read from 0", es, err, 1, 2, 3, 4, 5)
	es, err = s.Read(bg, "r", 3, 0)
	wantSeqs(t, "Read from 3", es, err, 3, 4, 5)
	es, err = s.Read(bg, "r", 2, 2)
	wantSeqs(t, "Read from 2 limit 2", es, err, 2, 3)
	es, err = s.Read(bg, "r", 5, 10)
	wantSeqs(t, "Read from last", es, err, 5)
	es, err = s.Read(bg, "r", 6, 10)
	wantSeqs(t, "Read past end", es, err)
	es, err = s.Read(bg, "r", AnySeq, 10)
	wantSeqs(t, "Read from AnySeq", es, err)
	es, err = s.Read(bg, "nothing", 1, 10)
	wantSeqs(t, "Read unknown stream", es, err)

	es, err = s.ReadBack(bg, "r", AnySeq, 0)
	wantSeqs(t, "ReadBack all", es, err, 5, 4, 3, 2, 1)
	es, err = s.ReadBack(bg, "r", AnySeq, 2)
	wantSeqs(t, "ReadBack newest 2", es, err, 5, 4)
	es, err = s.ReadBack(bg, "r", 3, 0)
	wantSeqs(t, "ReadBack from 3", es, err, 3, 2, 1)
	es, err = s.ReadBack(bg, "r", 3, 2)
	wantSeqs(t, "ReadBack from 3 limit 2", es, err, 3, 2)
	es, err = s.ReadBack(bg, "r", 100, 1)
	wantSeqs(t, "ReadBack past end", es, err, 5)
	es, err = s.ReadBack(bg, "r", 1, 5)
	wantSeqs(t, "ReadBack from 1", es, err, 1)
	es, err = s.ReadBack(bg, "r", 0, 5)
	wantSeqs(t, "ReadBack from 0", es, err)
	es, err = s.ReadBack(bg, "nothing", AnySeq, 5)
	wantSeqs(t, "ReadBack unknown stream", es, err)
}

func confTruncate(t *testing.T, s Store) {
	appendN(t, s, "t", 5)
	if err := s.Truncate(bg, "t", 3); err != nil {
		t.Fatal(err)
	}
	last, first, err := s.Last(bg, "t")
	if err != nil || last != 5 || first != 3 {
		t.Fatalf("Last after Truncate(3) = %d, %d, %v; want 5, 3", last, first, err)
	}
	es, err := s.Read(bg, "t", 1, 0)
	wantSeqs(t, "Read after truncate", es, err, 3, 4, 5)
	es, err = s.ReadBack(bg, "t", AnySeq, 0)
	wantSeqs(t, "ReadBack after truncate", es, err, 5, 4, 3)
	es, err = s.ReadBack(bg, "t", 2, 0)
	wantSeqs(t, "ReadBack below first", es, err)

	// Truncating below first is a no-op.
	if err := s.Truncate(bg, "t", 2); err != nil {
		t.Fatal(err)
	}
	if _, first, _ := s.Last(bg, "t"); first != 3 {
		t.Fatalf("Truncate(2) moved first back to %d", first)
	}
	// Truncating past the end empties the stream but numbering goes on.
	if err := s.Truncate(bg, "t", 100); err != nil {
		t.Fatal(err)
	}
	last, first, err = s.Last(bg, "t")
	if err != nil || last != 5 || first != 6 {
		t.Fatalf("Last after Truncate(100) = %d, %d, %v; want 5, 6", last, first, err)
	}
	es, err = s.Read(bg, "t", 0, 0)
	wantSeqs(t, "Read emptied stream", es, err)
	_, err = s.Append(bg, "t", []byte("x"), 0)
	wantErr(t, "Append to truncated stream expecting 0", err, ErrSequence)
	appendN(t, s, "t", 2)
	es, err = s.Read(bg, "t", 0, 0)
	wantSeqs(t, "Read after re-append", es, err, 6, 7)
	if _, first, _ := s.Last(bg, "t"); first != 6 {
		t.Fatalf("first = %d after appending to an emptied stream, want 6", first)
	}
	// Truncate of an unknown stream does nothing and creates nothing.
	if err := s.Truncate(bg, "unknown", 10); err != nil {
		t.Fatal(err)
	}
	if last, first, _ := s.Last(bg, "unknown"); last != 0 || first != 1 {
		t.Fatalf("Truncate created stream state %d, %d", last, first)
	}
}

func confDeleteStream(t *testing.T, s Store) {
	appendN(t, s, "del", 4)
	if err := s.DeleteStream(bg, "del"); err != nil {
		t.Fatal(err)
	}
	last, first, err := s.Last(bg, "del")
	if err != nil || last != 0 || first != 1 {
		t.Fatalf("Last after DeleteStream = %d, %d, %v", last, first, err)
	}
	es, err := s.Read(bg, "del", 0, 0)
	wantSeqs(t, "Read deleted stream", es, err)
	if seq := mustAppend(t, s, "del", "e1", 0); seq != 1 {
		t.Fatalf("numbering did not restart: %d", seq)
	}
	es, err = s.Read(bg, "del", 0, 0)
	wantSeqs(t, "Read re-created stream", es, err, 1)
	es, err = s.ReadBack(bg, "del", AnySeq, 0)
	wantSeqs(t, "ReadBack re-created stream", es, err, 1)
	if err := s.DeleteStream(bg, "never-existed"); err != nil {
		t.Fatal(err)
	}
}

func confLargeLogDeletes(t *testing.T, s Store) {
	const n = 2600 // more than two delete batches
	appendN(t, s, "big", n)
	appendN(t, s, "big/neighbour", 3)
	if err := s.Truncate(bg, "big", n-9); err != nil {
		t.Fatal(err)
	}
	es, err := s.Read(bg, "big", 0, 0)
	wantSeqs(t, "Read after large truncate", es, err, n-9, n-8, n-7, n-6, n-5, n-4, n-3, n-2, n-1, n)
	if err := s.DeleteStream(bg, "big"); err != nil {
		t.Fatal(err)
	}
	appendN(t, s, "big", 2)
	es, err = s.ReadBack(bg, "big", AnySeq, 0)
	wantSeqs(t, "after large delete", es, err, 2, 1)
	es, err = s.Read(bg, "big/neighbour", 0, 0)
	wantSeqs(t, "neighbour untouched", es, err, 1, 2, 3)
}

func confIsolation(t *testing.T, s Store) {
	// Streams whose names are prefixes of each other stay apart.
	names := []string{"a", "a/b", "a/", "ab", "a\x01", "offline/u@x", "offline/u@x/y"}
	for i, name := range names {
		appendN(t, s, name, i+1)
	}
	for i, name := range names {
		es, err := s.Read(bg, name, 0, 0)
		if err != nil || len(es) != i+1 {
			t.Fatalf("stream %q: %d entries, %v; want %d", name, len(es), err, i+1)
		}
		es, err = s.ReadBack(bg, name, AnySeq, 0)
		if err != nil || len(es) != i+1 || es[0].Seq != uint64(i+1) {
			t.Fatalf("stream %q ReadBack: %v, %v", name, seqs(es), err)
		}
	}
	if err := s.DeleteStream(bg, "a"); err != nil {
		t.Fatal(err)
	}
	if err := s.Truncate(bg, "offline/u@x", 100); err != nil {
		t.Fatal(err)
	}
	for i, name := range names {
		if name == "a" || name == "offline/u@x" {
			continue
		}
		if last, first, _ := s.Last(bg, name); last != uint64(i+1) || first != 1 {
			t.Fatalf("stream %q changed by its neighbour: %d, %d", name, last, first)
		}
	}
	// KV keys and streams of the same name are unrelated.
	mustPut(t, s, "a/b", "kv")
	if err := s.DeletePrefix(bg, []byte("a")); err != nil {
		t.Fatal(err)
	}
	if last, _, _ := s.Last(bg, "a/b"); last != 2 {
		t.Fatal("DeletePrefix touched a stream")
	}
	mustPut(t, s, "x", "kv")
	if err := s.DeleteStream(bg, "x"); err != nil {
		t.Fatal(err)
	}
	if v, _ := mustGet(t, s, "x"); v != "kv" {
		t.Fatal("DeleteStream touched a KV key")
	}
}

// confConcurrentAppend: appenders racing with the same expectation; one
// wins each round, the rest get ErrSequence.
func confConcurrentAppend(t *testing.T, s Store) {
	const workers, rounds = 12, 15
	for round := range uint64(rounds) {
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			winners []uint64
			others  []error
		)
		startGun := make(chan struct{})
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-startGun
				seq, err := s.Append(bg, "race", fmt.Appendf(nil, "w%d", w), round)
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					winners = append(winners, seq)
				} else if !errors.Is(err, ErrSequence) {
					others = append(others, err)
				}
			}()
		}
		close(startGun)
		wg.Wait()
		if len(others) > 0 {
			t.Fatalf("round %d: unexpected errors %v", round, others)
		}
		if len(winners) != 1 || winners[0] != round+1 {
			t.Fatalf("round %d: winners %v, want exactly [%d]", round, winners, round+1)
		}
	}
	es, err := s.Read(bg, "race", 0, 0)
	if err != nil || len(es) != rounds {
		t.Fatalf("Read: %d entries, %v", len(es), err)
	}
}

func confConcurrentAppendAny(t *testing.T, s Store) {
	const workers, each = 8, 25
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		got  = map[uint64]bool{}
		errs []error
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				seq, err := s.Append(bg, "any", []byte("x"), AnySeq)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else if got[seq] {
					errs = append(errs, fmt.Errorf("sequence %d returned twice", seq))
				}
				got[seq] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatal(errs[0])
	}
	for seq := uint64(1); seq <= workers*each; seq++ {
		if !got[seq] {
			t.Fatalf("sequence %d missing: sequences have gaps", seq)
		}
	}
	if last, _, _ := s.Last(bg, "any"); last != workers*each {
		t.Fatalf("Last = %d, want %d", last, workers*each)
	}
}

func confCancelled(t *testing.T, s Store) {
	mustPut(t, s, "c", "v")
	ctx, cancel := context.WithCancel(bg)
	cancel()
	_, _, err := s.Get(ctx, []byte("c"))
	wantErr(t, "Get", err, context.Canceled)
	_, err = s.Put(ctx, []byte("c"), []byte("w"))
	wantErr(t, "Put", err, context.Canceled)
	_, err = s.Append(ctx, "c", []byte("w"), AnySeq)
	wantErr(t, "Append", err, context.Canceled)
	_, err = s.AppendBatch(ctx, "c", [][]byte{[]byte("w")}, AnySeq)
	wantErr(t, "AppendBatch", err, context.Canceled)
	err = s.Scan(ctx, nil, nil, 0, func(k, v []byte, rev uint64) bool { return true })
	wantErr(t, "Scan", err, context.Canceled)
	if v, _ := mustGet(t, s, "c"); v != "v" {
		t.Fatal("a cancelled Put wrote")
	}
	if last, _, _ := s.Last(bg, "c"); last != 0 {
		t.Fatal("a cancelled Append wrote")
	}
}

func confClosed(t *testing.T, s Store) {
	mustPut(t, s, "k", "v")
	mustAppend(t, s, "s", "d", 0)
	if err := s.Sync(); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	k := []byte("k")
	_, _, err := s.Get(bg, k)
	wantErr(t, "Get", err, ErrClosed)
	_, err = s.Put(bg, k, k)
	wantErr(t, "Put", err, ErrClosed)
	_, err = s.CompareAndSet(bg, k, k, 0)
	wantErr(t, "CompareAndSet", err, ErrClosed)
	wantErr(t, "Delete", s.Delete(bg, k), ErrClosed)
	wantErr(t, "DeleteIf", s.DeleteIf(bg, k, 1), ErrClosed)
	wantErr(t, "Scan", s.Scan(bg, nil, nil, 0, func(k, v []byte, rev uint64) bool { return true }), ErrClosed)
	wantErr(t, "DeletePrefix", s.DeletePrefix(bg, k), ErrClosed)
	_, err = s.Append(bg, "s", k, AnySeq)
	wantErr(t, "Append", err, ErrClosed)
	_, err = s.AppendBatch(bg, "s", [][]byte{k}, AnySeq)
	wantErr(t, "AppendBatch", err, ErrClosed)
	_, err = s.Read(bg, "s", 1, 0)
	wantErr(t, "Read", err, ErrClosed)
	_, err = s.ReadBack(bg, "s", AnySeq, 0)
	wantErr(t, "ReadBack", err, ErrClosed)
	_, _, err = s.Last(bg, "s")
	wantErr(t, "Last", err, ErrClosed)
	wantErr(t, "Truncate", s.Truncate(bg, "s", 2), ErrClosed)
	wantErr(t, "DeleteStream", s.DeleteStream(bg, "s"), ErrClosed)
	wantErr(t, "Sync", s.Sync(), ErrClosed)
}
