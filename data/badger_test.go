package data

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

	"github.com/dgraph-io/badger/v4"
)

func openMem(t testing.TB) *Badger {
	t.Helper()
	b, err := OpenInMemory()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testOptions: the defaults without fsync, so the suite does not spend its
// time waiting for the disk (durability is Badger's; the code paths are
// the same).
func testOptions() Options {
	o := DefaultOptions()
	o.SyncWrites = false
	return o
}

func openDir(t testing.TB, dir string, o Options) *Badger {
	t.Helper()
	b, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestConformanceInMemory(t *testing.T) {
	testStoreConformance(t, func(t *testing.T) Store { return openMem(t) })
}

func TestConformanceOnDisk(t *testing.T) {
	testStoreConformance(t, func(t *testing.T) Store { return openDir(t, t.TempDir(), testOptions()) })
}

func TestConformanceOnDiskSyncWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("fsync per write")
	}
	testStoreConformance(t, func(t *testing.T) Store { return openDir(t, t.TempDir(), DefaultOptions()) })
}

func TestConformanceGrouped(t *testing.T) {
	testStoreConformance(t, func(t *testing.T) Store { return Grouped(openMem(t)) })
}

func TestConformanceInstrumented(t *testing.T) {
	testStoreConformance(t, func(t *testing.T) Store {
		return Instrument(openMem(t), func(string, float64, error) {})
	})
}

// dump is everything a store holds that a user can see, for comparisons.
type dump struct {
	kv      []kvr
	streams map[string][]string
}

func dumpStore(t *testing.T, s Store, streams ...string) dump {
	t.Helper()
	d := dump{kv: scanAll(t, s, "", "", true, 0), streams: map[string][]string{}}
	for _, st := range streams {
		last, first, err := s.Last(bg, st)
		if err != nil {
			t.Fatal(err)
		}
		es, err := s.Read(bg, st, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		lines := []string{fmt.Sprintf("first=%d last=%d", first, last)}
		for _, e := range es {
			lines = append(lines, fmt.Sprintf("%d@%d:%q", e.Seq, e.Time, e.Data))
		}
		d.streams[st] = lines
	}
	return d
}

func (d dump) equal(o dump) bool {
	if !slices.Equal(d.kv, o.kv) || len(d.streams) != len(o.streams) {
		return false
	}
	for k, v := range d.streams {
		if !slices.Equal(v, o.streams[k]) {
			return false
		}
	}
	return true
}

func (d dump) maxRev() uint64 {
	var m uint64
	for _, r := range d.kv {
		m = max(m, r.rev)
	}
	return m
}

var testStreams = []string{"offline/a@x", "hist", "gone", "empty"}

// populate writes a bit of everything, including deletions and truncations.
func populate(t *testing.T, s Store) {
	t.Helper()
	for i := range 50 {
		mustPut(t, s, fmt.Sprintf("acct/u%02d@x", i), strings.Repeat("v", i*200)) // some above the value threshold
	}
	r := mustPut(t, s, "roster/a@x", "r1")
	if _, err := s.CompareAndSet(bg, []byte("roster/a@x"), []byte("r2"), r); err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, "deleted", "x")
	if err := s.Delete(bg, []byte("deleted")); err != nil {
		t.Fatal(err)
	}
	appendN(t, s, "offline/a@x", 5)
	appendN(t, s, "hist", 30)
	if err := s.Truncate(bg, "hist", 11); err != nil {
		t.Fatal(err)
	}
	appendN(t, s, "gone", 3)
	if err := s.DeleteStream(bg, "gone"); err != nil {
		t.Fatal(err)
	}
	appendN(t, s, "empty", 2)
	if err := s.Truncate(bg, "empty", 3); err != nil {
		t.Fatal(err)
	}
}

func TestPersistence(t *testing.T) {
	dir := t.TempDir()
	s := openDir(t, dir, DefaultOptions())
	populate(t, s)
	before := dumpStore(t, s, testStreams...)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openDir(t, dir, DefaultOptions())
	defer s.Close()
	after := dumpStore(t, s, testStreams...)
	if !before.equal(after) {
		t.Fatalf("reopened store differs:\nbefore %+v\nafter  %+v", before, after)
	}
	if len(after.kv) < 50 || len(after.streams["hist"]) != 21 {
		t.Fatalf("dump too small to mean anything: %d keys, %d hist lines", len(after.kv), len(after.streams["hist"]))
	}
	// Revisions handed out after a restart are new.
	if r := mustPut(t, s, "roster/a@x", "r3"); r <= before.maxRev() {
		t.Fatalf("revision %d after reopen reuses the range up to %d", r, before.maxRev())
	}
	if seq := mustAppend(t, s, "hist", "e31", 30); seq != 31 {
		t.Fatalf("append after reopen = %d", seq)
	}
	if v, _ := mustGet(t, s, string(SchemaKey())); v != fmt.Sprint(SchemaVersion) {
		t.Fatalf("schema version %q", v)
	}
}

func TestBackupRestore(t *testing.T) {
	src := openDir(t, t.TempDir(), testOptions())
	defer src.Close()
	populate(t, src)
	want := dumpStore(t, src, testStreams...)
	var buf bytes.Buffer
	if err := src.Backup(&buf); err != nil {
		t.Fatal(err)
	}

	for name, open := range map[string]func() *Badger{
		"disk":   func() *Badger { return openDir(t, t.TempDir(), testOptions()) },
		"memory": func() *Badger { return openMem(t) },
	} {
		t.Run(name, func(t *testing.T) {
			dst := open()
			defer dst.Close()
			if err := dst.Restore(bytes.NewReader(buf.Bytes())); err != nil {
				t.Fatal(err)
			}
			got := dumpStore(t, dst, testStreams...)
			if !want.equal(got) {
				t.Fatalf("restored store differs:\nwant %+v\ngot  %+v", want, got)
			}
			if r := mustPut(t, dst, "new", "x"); r <= want.maxRev() {
				t.Fatalf("revision %d after restore collides with restored ones (max %d)", r, want.maxRev())
			}
			if seq := mustAppend(t, dst, "offline/a@x", "e6", 5); seq != 6 {
				t.Fatalf("append after restore = %d", seq)
			}
			// A second restore into the now non-empty store is refused.
			err := dst.Restore(bytes.NewReader(buf.Bytes()))
			if err == nil || !strings.Contains(err.Error(), "empty database") {
				t.Fatalf("restore into non-empty store: %v", err)
			}
		})
	}
}

func TestRestoreRefusesUsedStore(t *testing.T) {
	// Even a store whose keys were all deleted is refused: its tombstones
	// would shadow restored keys.
	s := openMem(t)
	defer s.Close()
	mustPut(t, s, "k", "v")
	if err := s.DeletePrefix(bg, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Restore(bytes.NewReader(nil)); err == nil {
		t.Fatal("restore into a used store succeeded")
	}
	// An empty backup into an empty store is fine.
	e := openMem(t)
	defer e.Close()
	var buf bytes.Buffer
	if err := e.Backup(&buf); err != nil {
		t.Fatal(err)
	}
	f := openMem(t)
	defer f.Close()
	if err := f.Restore(&buf); err != nil {
		t.Fatal(err)
	}
}

func TestOpenInUse(t *testing.T) {
	dir := t.TempDir()
	if err := CheckNotInUse(dir); err != nil {
		t.Fatalf("free directory: %v", err)
	}
	if err := CheckNotInUse(dir + "/missing"); err != nil {
		t.Fatalf("missing directory: %v", err)
	}
	s := openDir(t, dir, testOptions())
	_, err := Open(dir, testOptions())
	if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), "in use by another gavel process") {
		t.Fatalf("second Open: %v", err)
	}
	if err := CheckNotInUse(dir); !errors.Is(err, ErrInUse) {
		t.Fatalf("CheckNotInUse on an open store: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := CheckNotInUse(dir); err != nil {
		t.Fatalf("after Close: %v", err)
	}
	openDir(t, dir, testOptions()).Close()
}

func TestNewerSchemaRefused(t *testing.T) {
	dir := t.TempDir()
	s := openDir(t, dir, testOptions())
	mustPut(t, s, string(SchemaKey()), fmt.Sprint(SchemaVersion+1))
	s.Close()
	if _, err := Open(dir, testOptions()); err == nil || !strings.Contains(err.Error(), "schema version") {
		t.Fatalf("Open of a newer schema: %v", err)
	}
	// The failed open released the directory.
	if err := CheckNotInUse(dir); err != nil {
		t.Fatal(err)
	}
}

func TestFreshStoreIsEmptyUntilWritten(t *testing.T) {
	s := openMem(t)
	defer s.Close()
	if kv := scanAll(t, s, "", "", true, 0); len(kv) != 0 {
		t.Fatalf("fresh store has keys %v", keysOf(kv))
	}
	mustAppend(t, s, "s", "d", 0)
	wantKeys(t, "after first write", scanAll(t, s, "", "", true, 0), string(SchemaKey()))
}

// rawLogKeys lists the sequences physically stored for stream.
func rawLogKeys(t *testing.T, b *Badger, stream string) []uint64 {
	t.Helper()
	var out []uint64
	err := b.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: logPrefix(stream)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			out = append(out, logKeySeq(it.Item().Key()))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func injectEntries(t *testing.T, b *Badger, stream string, seqs ...uint64) {
	t.Helper()
	err := b.db.Update(func(txn *badger.Txn) error {
		for _, s := range seqs {
			if err := txn.Set(logKey(stream, s), entryValue(1, []byte("stale"))); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Entries left outside the retained range by an interrupted sweep are
// invisible and removed by the next Truncate or DeleteStream.
func TestStaleEntriesInvisibleAndSwept(t *testing.T) {
	b := openMem(t)
	defer b.Close()
	appendN(t, b, "s", 3)
	injectEntries(t, b, "s", 10, 11)
	es, err := b.Read(bg, "s", 0, 0)
	wantSeqs(t, "Read with a stale tail", es, err, 1, 2, 3)
	es, err = b.ReadBack(bg, "s", AnySeq, 0)
	wantSeqs(t, "ReadBack with a stale tail", es, err, 3, 2, 1)
	es, err = b.ReadBack(bg, "s", 11, 0)
	wantSeqs(t, "ReadBack from a stale seq", es, err, 3, 2, 1)
	if err := b.Truncate(bg, "s", 2); err != nil {
		t.Fatal(err)
	}
	if got := rawLogKeys(t, b, "s"); !slices.Equal(got, []uint64{2, 3}) {
		t.Fatalf("after Truncate the stream physically holds %v", got)
	}
	// A deleted stream's leftovers are swept by the next DeleteStream.
	injectEntries(t, b, "gone", 1, 2, 7)
	if last, _, _ := b.Last(bg, "gone"); last != 0 {
		t.Fatal("stale entries without metadata are visible")
	}
	if es, _ := b.Read(bg, "gone", 0, 0); len(es) != 0 {
		t.Fatalf("stale entries readable: %v", seqs(es))
	}
	if err := b.DeleteStream(bg, "gone"); err != nil {
		t.Fatal(err)
	}
	if got := rawLogKeys(t, b, "gone"); len(got) != 0 {
		t.Fatalf("after DeleteStream the stream physically holds %v", got)
	}
	// A large stream is swept completely across batches.
	appendN(t, b, "big", 2*deleteBatchCount+5)
	if err := b.DeleteStream(bg, "big"); err != nil {
		t.Fatal(err)
	}
	if got := rawLogKeys(t, b, "big"); len(got) != 0 {
		t.Fatalf("after DeleteStream %d entries remain", len(got))
	}
}

// An operation started from a Scan callback while Close waits for that
// Scan gets ErrClosed instead of deadlocking, and Close then completes.
func TestCloseDuringScan(t *testing.T) {
	b := openMem(t)
	mustPut(t, b, "k1", "v")
	mustPut(t, b, "k2", "v")
	closed := make(chan error, 1)
	var sawClosed bool
	err := b.Scan(bg, nil, nil, 0, func(k, v []byte, rev uint64) bool {
		go func() { closed <- b.Close() }()
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if _, _, err := b.Get(bg, []byte("k2")); errors.Is(err, ErrClosed) {
				sawClosed = true
				return false
			}
			time.Sleep(time.Millisecond)
		}
		return false
	})
	if err != nil {
		t.Fatal(err)
	}
	if !sawClosed {
		t.Fatal("operations kept succeeding while Close was pending")
	}
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return after the scan ended")
	}
}

func TestValueLogGCStopsOnClose(t *testing.T) {
	o := testOptions()
	o.GCInterval = time.Millisecond
	b := openDir(t, t.TempDir(), o)
	big := bytes.Repeat([]byte("x"), 64<<10) // above the value threshold: value log
	for i := range 100 {
		if _, err := b.Put(bg, fmt.Appendf(nil, "v%d", i), big); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.DeletePrefix(bg, []byte("v")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // let a few GC rounds run
	done := make(chan error, 1)
	go func() { done <- b.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Close hung with the GC goroutine running")
	}
	select {
	case <-b.gcDone:
	default:
		t.Fatal("GC goroutine still running after Close")
	}
}

func TestRevisionsGrowAcrossLeases(t *testing.T) {
	b := openMem(t)
	defer b.Close()
	var prev uint64
	for i := range revLeaseSize + 10 {
		r, err := b.Put(bg, []byte("k"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if r <= prev {
			t.Fatalf("write %d: revision %d after %d", i, r, prev)
		}
		prev = r
	}
}

func TestInstrument(t *testing.T) {
	type obs struct {
		op  string
		err error
	}
	var got []obs
	s := Instrument(openMem(t), func(op string, seconds float64, err error) {
		if seconds < 0 {
			t.Errorf("%s: negative duration", op)
		}
		got = append(got, obs{op, err})
	})
	defer s.Close()
	ctx := context.Background()
	k := []byte("k")
	_, _, _ = s.Get(ctx, k)
	rev, _ := s.Put(ctx, k, k)
	_, _ = s.CompareAndSet(ctx, k, k, rev)
	_ = s.DeleteIf(ctx, k, rev)
	_ = s.Delete(ctx, k)
	_ = s.Scan(ctx, nil, nil, 0, func(k, v []byte, rev uint64) bool { return true })
	_ = s.DeletePrefix(ctx, k)
	_, _ = s.Append(ctx, "s", k, 1)
	_, _ = s.Read(ctx, "s", 1, 0)
	_, _ = s.ReadBack(ctx, "s", AnySeq, 0)
	_, _, _ = s.Last(ctx, "s")
	_ = s.Truncate(ctx, "s", 1)
	_ = s.DeleteStream(ctx, "s")
	_ = s.Sync()
	want := []obs{
		{OpGet, ErrNotFound}, {OpPut, nil}, {OpCompareAndSet, nil}, {OpDeleteIf, ErrRevision},
		{OpDelete, nil}, {OpScan, nil}, {OpDeletePrefix, nil}, {OpAppend, ErrSequence},
		{OpRead, nil}, {OpReadBack, nil}, {OpLast, nil}, {OpTruncate, nil}, {OpDeleteStream, nil}, {OpSync, nil},
	}
	if len(got) != len(want) {
		t.Fatalf("observed %v, want %v", got, want)
	}
	for i := range want {
		if got[i].op != want[i].op || !errors.Is(got[i].err, want[i].err) || (want[i].err == nil) != (got[i].err == nil) {
			t.Fatalf("observation %d = %v, want %v", i, got[i], want[i])
		}
	}
}

// Revisions stay unique and increasing per key across many lease
// extensions made in the background by concurrent writers, and after a
// reopen they start above everything handed out before.
func TestRevisionLeaseUnderConcurrency(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{SyncWrites: false, LowMemory: true, GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 8, 3 * revLeaseSize / 8
	var mu sync.Mutex
	seen := make(map[uint64]bool, writers*each)
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			key := []byte(fmt.Sprint("lease/", w))
			var last uint64
			for i := 0; i < each; i++ {
				rev, err := s.Put(bg, key, []byte("v"))
				if err != nil {
					t.Error(err)
					return
				}
				if rev <= last {
					t.Errorf("writer %d: revision %d after %d", w, rev, last)
					return
				}
				last = rev
				mu.Lock()
				if seen[rev] {
					t.Errorf("revision %d handed out twice", rev)
				}
				seen[rev] = true
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	var top uint64
	for r := range seen {
		top = max(top, r)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir, Options{SyncWrites: false, LowMemory: true, GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rev, err := s.Put(bg, []byte("after"), []byte("v"))
	if err != nil || rev <= top {
		t.Fatalf("after reopen: revision %d (err %v), highest before %d", rev, err, top)
	}
}
