package data

// The log half of the Badger store. Each stream has a metadata key holding
// its retained range [first, last] and one key per entry (keys.go). Every
// write reads the metadata key in its transaction, so two appenders with the
// same expectation conflict and the loser re-checks and gets ErrSequence.
//
// Readers only trust entries inside [first, last]. Truncate and DeleteStream
// move the range first, then sweep the entries outside it in small
// transactions; an interrupted sweep (crash, cancelled ctx) leaves garbage
// that is invisible and removed by the stream's DeleteStream or
// overwritten by the next Append of that sequence. Truncate sweeps only
// from the old first sequence: starting at the stream's beginning would walk
// the tombstones of every earlier truncation (Badger keeps them until
// compaction), making a stream that truncates often slower and slower.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// getMeta reads stream's metadata; a stream that has none is empty with
// numbering starting at 1.
func getMeta(txn *badger.Txn, stream string) (m streamMeta, exists bool, err error) {
	item, err := txn.Get(logMetaKey(stream))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return streamMeta{first: 1, last: 0}, false, nil
	}
	if err != nil {
		return m, false, fmt.Errorf("data: %w", err)
	}
	err = item.Value(func(v []byte) error {
		m, err = decodeStreamMeta(v)
		return err
	})
	return m, err == nil, err
}

// Append adds d to stream if its last sequence is expectLastSeq (0 for an
// empty stream, AnySeq to skip the check) and returns the new sequence: a
// batch of one.
func (b *Badger) Append(ctx context.Context, stream string, d []byte, expectLastSeq uint64) (uint64, error) {
	return b.AppendBatch(ctx, stream, [][]byte{d}, expectLastSeq)
}

// AppendBatch adds every element of ds to stream in one transaction, so a
// burst costs one commit (and one fsync with SyncWrites) instead of one per
// entry. The entries share one timestamp: they were written together.
func (b *Badger) AppendBatch(ctx context.Context, stream string, ds [][]byte, expectLastSeq uint64) (uint64, error) {
	if err := checkStream(stream); err != nil {
		return 0, err
	}
	if err := b.enter(ctx); err != nil {
		return 0, err
	}
	defer b.leave()
	if err := b.ensureSchema(ctx); err != nil {
		return 0, err
	}
	var first uint64
	err := b.update(ctx, func(txn *badger.Txn) error {
		m, _, err := getMeta(txn, stream)
		if err != nil {
			return err
		}
		if expectLastSeq != AnySeq && expectLastSeq != m.last {
			return ErrSequence
		}
		first = m.last + 1
		if len(ds) == 0 {
			return nil
		}
		if m.last > AnySeq-1-uint64(len(ds)) {
			return fmt.Errorf("data: stream %q is out of sequence numbers", stream)
		}
		now := time.Now().UnixNano()
		for i, d := range ds {
			if err := txn.Set(logKey(stream, first+uint64(i)), entryValue(now, d)); err != nil {
				return err
			}
		}
		m.last = first + uint64(len(ds)) - 1
		return txn.Set(logMetaKey(stream), m.encode())
	})
	if errors.Is(err, badger.ErrTxnTooBig) {
		return 0, fmt.Errorf("%w: %d entries", ErrTooLarge, len(ds))
	}
	if err != nil {
		return 0, wrapBadger(err)
	}
	return first, nil
}

// Read returns up to limit entries with Seq >= fromSeq in ascending order
// (limit <= 0: no limit).
func (b *Badger) Read(ctx context.Context, stream string, fromSeq uint64, limit int) ([]Entry, error) {
	return b.readRange(ctx, stream, fromSeq, limit, false)
}

// ReadBack returns up to limit entries with Seq <= beforeSeq in descending
// order; beforeSeq AnySeq means from the end.
func (b *Badger) ReadBack(ctx context.Context, stream string, beforeSeq uint64, limit int) ([]Entry, error) {
	return b.readRange(ctx, stream, beforeSeq, limit, true)
}

// readRange reads from seq 'at' forwards, or backwards if reverse, staying
// inside the retained range.
func (b *Badger) readRange(ctx context.Context, stream string, at uint64, limit int, reverse bool) ([]Entry, error) {
	if err := checkStream(stream); err != nil {
		return nil, err
	}
	if err := b.enter(ctx); err != nil {
		return nil, err
	}
	defer b.leave()
	var out []Entry
	err := b.db.View(func(txn *badger.Txn) error {
		m, _, err := getMeta(txn, stream)
		if err != nil {
			return err
		}
		var lo, hi uint64 // sequences to return, inclusive
		if reverse {
			lo, hi = m.first, min(at, m.last)
		} else {
			lo, hi = max(at, m.first), m.last
		}
		if lo > hi {
			return nil
		}
		n := hi - lo + 1
		if limit > 0 {
			n = min(n, uint64(limit))
		}
		out = make([]Entry, 0, min(n, 1024))
		it := txn.NewIterator(badger.IteratorOptions{Prefix: logPrefix(stream), Reverse: reverse, PrefetchValues: false})
		defer it.Close()
		start := lo
		if reverse {
			start = hi
		}
		for it.Seek(logKey(stream, start)); it.Valid() && uint64(len(out)) < n; it.Next() {
			item := it.Item()
			seq := logKeySeq(item.Key())
			if seq < lo || seq > hi {
				break
			}
			if len(out)%ctxCheckEvery == ctxCheckEvery-1 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			err := item.Value(func(v []byte) error {
				e, err := decodeEntry(seq, v)
				out = append(out, e)
				return err
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, wrapBadger(err)
	}
	return out, nil
}

// Last returns the last sequence (0 if never appended) and the first
// retained sequence (last+1 when nothing is retained).
func (b *Badger) Last(ctx context.Context, stream string) (uint64, uint64, error) {
	if err := checkStream(stream); err != nil {
		return 0, 0, err
	}
	if err := b.enter(ctx); err != nil {
		return 0, 0, err
	}
	defer b.leave()
	var m streamMeta
	err := b.db.View(func(txn *badger.Txn) error {
		var err error
		m, _, err = getMeta(txn, stream)
		return err
	})
	if err != nil {
		return 0, 0, wrapBadger(err)
	}
	return m.last, m.first, nil
}

// Truncate removes entries with Seq < beforeSeq. Sequence numbering goes
// on: truncating everything leaves an empty stream whose next entry is
// last+1.
func (b *Badger) Truncate(ctx context.Context, stream string, beforeSeq uint64) error {
	if err := checkStream(stream); err != nil {
		return err
	}
	if err := b.enter(ctx); err != nil {
		return err
	}
	defer b.leave()
	return b.mutateAndSweep(ctx, stream, func(txn *badger.Txn) ([]byte, error) {
		m, exists, err := getMeta(txn, stream)
		if err != nil || !exists {
			return nil, err
		}
		first := min(beforeSeq, m.last+1)
		if first <= m.first {
			return nil, nil
		}
		from := logKey(stream, m.first)
		m.first = first
		return from, txn.Set(logMetaKey(stream), m.encode())
	})
}

// DeleteStream removes the stream and its entries; numbering restarts at 1.
func (b *Badger) DeleteStream(ctx context.Context, stream string) error {
	if err := checkStream(stream); err != nil {
		return err
	}
	if err := b.enter(ctx); err != nil {
		return err
	}
	defer b.leave()
	return b.mutateAndSweep(ctx, stream, func(txn *badger.Txn) ([]byte, error) {
		return logPrefix(stream), txn.Delete(logMetaKey(stream))
	})
}

// mutateAndSweep applies change to the stream's metadata (change returns
// the key to sweep from, nil for nothing to sweep) and deletes the
// first batch of entries it left outside the retained range in the same
// transaction (so small streams change atomically), then sweeps the rest
// batch by batch. Each batch re-reads the metadata in its transaction, so a
// concurrent Append (say, re-creating a deleted stream) makes it retry
// instead of deleting a live entry.
func (b *Badger) mutateAndSweep(ctx context.Context, stream string, change func(txn *badger.Txn) ([]byte, error)) error {
	var from, next []byte
	err := b.update(ctx, func(txn *badger.Txn) error {
		var err error
		if from, err = change(txn); err != nil || from == nil {
			next = nil
			return err
		}
		next, err = sweepBatch(txn, stream, from)
		return err
	})
	if err != nil || next == nil {
		return wrapBadger(err)
	}
	return b.sweep(ctx, stream, next)
}

// sweep deletes, batch by batch from key 'from', the stream's entries
// outside its retained range.
func (b *Badger) sweep(ctx context.Context, stream string, from []byte) error {
	var err error
	for from != nil {
		if err = ctx.Err(); err != nil {
			break
		}
		var next []byte
		err = b.update(ctx, func(txn *badger.Txn) error {
			var err error
			next, err = sweepBatch(txn, stream, from) // a retried attempt starts over from 'from'
			return err
		})
		if err != nil {
			break
		}
		from = next
	}
	return wrapBadger(err)
}

// sweepBatch deletes up to one batch of stream's entries outside its
// retained range (all of them if it has no metadata), scanning from key
// 'from'. It returns where to resume, or nil when the sweep is complete.
func sweepBatch(txn *badger.Txn, stream string, from []byte) ([]byte, error) {
	m, exists, err := getMeta(txn, stream)
	if err != nil {
		return nil, err
	}
	it := txn.NewIterator(badger.IteratorOptions{Prefix: logPrefix(stream), PrefetchValues: false})
	var (
		garbage [][]byte
		size    int
		resume  []byte
	)
	for it.Seek(from); it.Valid(); it.Next() {
		k := it.Item().Key()
		seq := logKeySeq(k)
		if exists && seq >= m.first && seq <= m.last {
			if m.last == AnySeq {
				break
			}
			// Live entries: jump past them to the stale tail, if any.
			it.Seek(logKey(stream, m.last+1))
			if !it.Valid() {
				break
			}
			k = it.Item().Key()
			seq = logKeySeq(k)
		}
		if len(garbage) == deleteBatchCount || size >= deleteBatchBytes {
			resume = append([]byte(nil), k...)
			break
		}
		garbage = append(garbage, append([]byte(nil), k...))
		size += len(k)
	}
	it.Close()
	for _, k := range garbage {
		if err := txn.Delete(k); err != nil {
			return nil, err
		}
	}
	return resume, nil
}
