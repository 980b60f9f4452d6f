package data

// Apply for Badger: one read-write transaction over the KV and log keys
// (they live in one keyspace, keys.go), committed once. Log metadata is
// read once per stream and written once at the end. The entries a Truncate
// leaves outside the retained range are deleted in the same transaction
// when they are few (a full pubsub node drops one or two per publish: no
// second fsync), else swept after the commit as Logs.Truncate does.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// inlineSweepMax: a Truncate dropping at most this many entries deletes
// them inside the batch's transaction.
const inlineSweepMax = 64

// Apply implements Applier.
func (b *Badger) Apply(ctx context.Context, bt *Batch) ([]uint64, error) {
	if err := bt.check(); err != nil {
		return nil, err
	}
	if len(bt.ops) == 0 {
		return nil, nil
	}
	if err := b.enter(ctx); err != nil {
		return nil, err
	}
	defer b.leave()
	if err := b.ensureSchema(ctx); err != nil {
		return nil, err
	}
	type metaState struct {
		m       streamMeta
		exists  bool
		dirty   bool
		sweepAt uint64 // first before the batch's first Truncate, 0: none
	}
	var (
		seqs  []uint64
		metas map[string]*metaState
	)
	err := b.update(ctx, func(txn *badger.Txn) error {
		seqs, metas = seqs[:0], map[string]*metaState{}
		meta := func(stream string) (*metaState, error) {
			if ms := metas[stream]; ms != nil {
				return ms, nil
			}
			m, exists, err := getMeta(txn, stream)
			if err != nil {
				return nil, err
			}
			ms := &metaState{m: m, exists: exists}
			metas[stream] = ms
			return ms, nil
		}
		now := time.Now().UnixNano()
		for _, op := range bt.ops {
			switch op.kind {
			case batchPut:
				pk := kvKey(op.key)
				// Read first, as KV.Put does: it orders concurrent writers.
				if _, err := readRev(txn, pk, nil); err != nil {
					return err
				}
				rev, err := b.nextRev()
				if err != nil {
					return err
				}
				if err := txn.Set(pk, revValue(rev, op.val)); err != nil {
					return err
				}
			case batchDelete:
				if err := txn.Delete(kvKey(op.key)); err != nil {
					return err
				}
			case batchAppend:
				ms, err := meta(op.stream)
				if err != nil {
					return err
				}
				if op.seq != AnySeq && op.seq != ms.m.last {
					return ErrSequence
				}
				if ms.m.last == AnySeq-1 {
					return fmt.Errorf("data: stream %q is out of sequence numbers", op.stream)
				}
				ms.m.last++
				ms.exists, ms.dirty = true, true
				if err := txn.Set(logKey(op.stream, ms.m.last), entryValue(now, op.val)); err != nil {
					return err
				}
				seqs = append(seqs, ms.m.last)
			case batchTruncate:
				ms, err := meta(op.stream)
				if err != nil {
					return err
				}
				first := min(op.seq, ms.m.last+1)
				if !ms.exists || first <= ms.m.first {
					continue
				}
				if first-ms.m.first <= inlineSweepMax && ms.sweepAt == 0 {
					for seq := ms.m.first; seq < first; seq++ {
						if err := txn.Delete(logKey(op.stream, seq)); err != nil {
							return err
						}
					}
				} else if ms.sweepAt == 0 {
					ms.sweepAt = ms.m.first
				}
				ms.m.first = first
				ms.dirty = true
			}
		}
		for stream, ms := range metas {
			if ms.dirty {
				if err := txn.Set(logMetaKey(stream), ms.m.encode()); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if errors.Is(err, badger.ErrTxnTooBig) {
		return nil, fmt.Errorf("%w: batch of %d operations, %d bytes", ErrTooLarge, len(bt.ops), bt.size)
	}
	if err != nil {
		return nil, wrapBadger(err)
	}
	for stream, ms := range metas {
		if ms.sweepAt != 0 {
			// Committed: what is left is invisible garbage, swept now.
			if err := b.sweep(ctx, stream, logKey(stream, ms.sweepAt)); err != nil {
				return seqs, nil // the next Truncate or DeleteStream retries
			}
		}
	}
	return seqs, nil
}
