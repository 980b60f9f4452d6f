package data

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// countingApplier counts the transactions that reach the store.
type countingApplier struct {
	Store
	mu    sync.Mutex
	calls int
}

func (c *countingApplier) Apply(ctx context.Context, b *Batch) ([]uint64, error) {
	c.mu.Lock()
	c.calls++
	c.mu.Unlock()
	return c.Store.Apply(ctx, b)
}

// Concurrent batches are joined into fewer transactions, each caller gets
// its own appends' sequences, and a batch whose expectation fails in a
// group fails alone.
func TestGroupedJoinsAndIsolatesFailures(t *testing.T) {
	inner := &countingApplier{Store: openMem(t)}
	g := Grouped(inner)
	const writers, rounds = 32, 20
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			stream := fmt.Sprint("s/", w)
			var last uint64
			for i := 0; i < rounds; i++ {
				var b Batch
				b.Append(stream, []byte(fmt.Sprint("e", last+1)), last)
				b.Put([]byte(fmt.Sprint("k/", w)), []byte(fmt.Sprint(i)))
				b.Append(stream, []byte(fmt.Sprint("e", last+2)), last+1)
				seqs, err := g.Apply(bg, &b)
				if err != nil || len(seqs) != 2 || seqs[0] != last+1 || seqs[1] != last+2 {
					t.Errorf("writer %d round %d: %v, %v (last %d)", w, i, seqs, err, last)
					return
				}
				last += 2
				if w == 0 && i%5 == 0 {
					// A stale expectation rides along with the others.
					var bad Batch
					bad.Put([]byte("bad/"+fmt.Sprint(i)), []byte("x"))
					bad.Append(stream, []byte("x"), last-1)
					if _, err := g.Apply(bg, &bad); !errors.Is(err, ErrSequence) {
						t.Errorf("stale expectation: %v", err)
					}
				}
			}
		}(w)
	}
	wg.Wait()
	for w := 0; w < writers; w++ {
		es, err := inner.Read(bg, fmt.Sprint("s/", w), 1, 0)
		wantSeqs(t, fmt.Sprint("stream ", w), es, err, seqRange(1, 2*rounds)...)
	}
	for i := 0; i < rounds; i += 5 {
		if _, _, err := inner.Get(bg, []byte("bad/"+fmt.Sprint(i))); !errors.Is(err, ErrNotFound) {
			t.Fatalf("a failed batch's write landed: %v", err)
		}
	}
	applies := writers * rounds
	t.Logf("%d batches in %d transactions", applies, inner.calls)
	if inner.calls >= applies {
		t.Fatalf("no batch was joined: %d transactions for %d batches", inner.calls, applies)
	}
}

func seqRange(from, to uint64) []uint64 {
	var out []uint64
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}

// panickingApplier panics on the batches marked with a "boom" key.
type panickingApplier struct{ Store }

func (p panickingApplier) Apply(ctx context.Context, b *Batch) ([]uint64, error) {
	for _, op := range b.ops {
		if string(op.key) == "boom" {
			panic("store exploded")
		}
	}
	return p.Store.Apply(ctx, b)
}

// A store that panics under a group commit fails the batches of that
// round (the panic reaches the leading caller, whose actor recovers it)
// and leaves the group usable: nobody waits for ever, the lead is free.
func TestGroupedSurvivesAPanickingStore(t *testing.T) {
	g := Grouped(panickingApplier{openMem(t)})
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the leader's Apply did not panic")
			}
		}()
		var b Batch
		b.Put([]byte("boom"), []byte("x"))
		_, _ = g.Apply(bg, &b)
	}()
	var b Batch
	b.Put([]byte("fine"), []byte("x"))
	done := make(chan error, 1)
	go func() { _, err := g.Apply(bg, &b); done <- err }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("after the panic: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Apply hangs after a panicking round: the lead was never released")
	}
}
