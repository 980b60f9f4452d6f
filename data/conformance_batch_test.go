package data

import (
	"errors"
	"strings"
	"testing"
)

// confApply: a batch is applied whole, in order, and returns its appends'
// sequences; a failed expectation or invalid key writes nothing.
func confApply(t *testing.T, s Store) {
	mustAppend(t, s, "items", "e1", 0)
	mustAppend(t, s, "items", "e2", 1)
	revOld := mustPut(t, s, "idx/a", "1")
	mustPut(t, s, "idx/b", "2")

	// Publish c, push a out: append, index, unindex, truncate.
	var b Batch
	b.Append("items", []byte("e3"), 2)
	b.Put([]byte("idx/c"), []byte("3"))
	b.Delete([]byte("idx/a"))
	b.Truncate("items", 2)
	b.Append("items", []byte("e4"), 3) // sees the earlier append
	seqs, err := s.Apply(bg, &b)
	if err != nil || len(seqs) != 2 || seqs[0] != 3 || seqs[1] != 4 {
		t.Fatalf("Apply = %v, %v; want [3 4]", seqs, err)
	}
	if v, rev := mustGet(t, s, "idx/c"); v != "3" || rev <= revOld {
		t.Fatalf("idx/c = %q rev %d (old rev %d)", v, rev, revOld)
	}
	if _, _, err := s.Get(bg, []byte("idx/a")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("idx/a after delete: %v", err)
	}
	last, first, err := s.Last(bg, "items")
	if err != nil || last != 4 || first != 2 {
		t.Fatalf("Last = %d, %d, %v; want 4, 2", last, first, err)
	}
	es, err := s.Read(bg, "items", 1, 0)
	wantSeqs(t, "after the batch", es, err, 2, 3, 4)

	// A failing expectation anywhere: nothing at all is written.
	b.Reset()
	b.Put([]byte("idx/x"), []byte("x"))
	b.Delete([]byte("idx/b"))
	b.Truncate("items", 4)
	b.Append("items", []byte("x"), 3) // last is 4
	if _, err := s.Apply(bg, &b); !errors.Is(err, ErrSequence) {
		t.Fatalf("stale expectation: %v, want ErrSequence", err)
	}
	if _, _, err := s.Get(bg, []byte("idx/x")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("idx/x written by a failed batch: %v", err)
	}
	if v, _ := mustGet(t, s, "idx/b"); v != "2" {
		t.Fatalf("idx/b deleted by a failed batch")
	}
	if last, first, _ := s.Last(bg, "items"); last != 4 || first != 2 {
		t.Fatalf("failed batch moved the log: %d, %d", last, first)
	}

	// Invalid keys are refused before anything is written.
	b.Reset()
	b.Put([]byte("idx/y"), []byte("y"))
	b.Put(nil, []byte("bad"))
	if _, err := s.Apply(bg, &b); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("empty key: %v", err)
	}
	b.Reset()
	b.Append("bad\x00stream", []byte("x"), AnySeq)
	if _, err := s.Apply(bg, &b); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("NUL in stream: %v", err)
	}
	if _, _, err := s.Get(bg, []byte("idx/y")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("idx/y written by a refused batch")
	}

	// Empty batch, truncate of an unknown stream, AnySeq appends.
	b.Reset()
	if seqs, err := s.Apply(bg, &b); err != nil || len(seqs) != 0 {
		t.Fatalf("empty batch: %v %v", seqs, err)
	}
	b.Truncate("nothing", 10)
	b.Append("fresh", []byte("1"), AnySeq)
	b.Append("fresh", []byte("2"), AnySeq)
	if seqs, err := s.Apply(bg, &b); err != nil || len(seqs) != 2 || seqs[0] != 1 || seqs[1] != 2 {
		t.Fatalf("AnySeq batch: %v %v", seqs, err)
	}
	if last, first, _ := s.Last(bg, "nothing"); last != 0 || first != 1 {
		t.Fatalf("truncating an unknown stream created it: %d %d", last, first)
	}

	// Truncating everything then appending in the same batch.
	b.Reset()
	b.Truncate("items", 100)
	b.Append("items", []byte("e5"), 4)
	if seqs, err := s.Apply(bg, &b); err != nil || seqs[0] != 5 {
		t.Fatalf("truncate+append: %v %v", seqs, err)
	}
	es, err = s.Read(bg, "items", 0, 0)
	wantSeqs(t, "after truncating all and appending", es, err, 5)
}

// confApplyTooLarge: a batch beyond one transaction fails whole.
func confApplyTooLarge(t *testing.T, s Store) {
	var b Batch
	b.Put([]byte("before"), []byte("x"))
	// 200,000 entries, 12.8 MB: too many and too much for one transaction.
	entry := []byte(strings.Repeat("x", 64))
	for i := 0; i < 200_000; i++ {
		b.Append("huge", entry, AnySeq)
	}
	if _, err := s.Apply(bg, &b); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("huge batch: %v, want ErrTooLarge", err)
	}
	if _, _, err := s.Get(bg, []byte("before")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a refused batch wrote a key")
	}
}
