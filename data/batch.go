package data

// Batch: several writes made atomically and durably at once (one
// transaction, one fsync). A pubsub publish is a log append plus the index
// entry that makes it visible, plus — on a full node — the index entries of
// the items it pushes out and the log truncation behind them: four fsyncs
// in a row one by one, one with a Batch, and never half done.

import "context"

type batchOpKind uint8

const (
	batchPut batchOpKind = iota
	batchDelete
	batchAppend
	batchTruncate
)

type batchOp struct {
	kind   batchOpKind
	key    []byte // KV key (Put, Delete)
	val    []byte // Put value, Append data
	stream string // Append, Truncate
	seq    uint64 // Append: expected last sequence; Truncate: beforeSeq
}

// Batch collects writes for Store.Apply. The zero value is an empty batch;
// the slices given to it must not change until Apply returns.
type Batch struct {
	ops  []batchOp
	size int
}

// Put writes key unconditionally (a new revision, as KV.Put).
func (b *Batch) Put(key, val []byte) {
	b.ops = append(b.ops, batchOp{kind: batchPut, key: key, val: val})
	b.size += len(key) + len(val)
}

// Delete removes key (absent is fine, as KV.Delete).
func (b *Batch) Delete(key []byte) {
	b.ops = append(b.ops, batchOp{kind: batchDelete, key: key})
	b.size += len(key)
}

// Append adds data to stream if its last sequence — after the batch's
// earlier operations — is expectLastSeq (AnySeq: no check), as Logs.Append.
func (b *Batch) Append(stream string, data []byte, expectLastSeq uint64) {
	b.ops = append(b.ops, batchOp{kind: batchAppend, stream: stream, val: data, seq: expectLastSeq})
	b.size += len(stream) + len(data)
}

// Truncate removes stream's entries with Seq < beforeSeq, as Logs.Truncate.
func (b *Batch) Truncate(stream string, beforeSeq uint64) {
	b.ops = append(b.ops, batchOp{kind: batchTruncate, stream: stream, seq: beforeSeq})
	b.size += len(stream)
}

// Len is the number of operations.
func (b *Batch) Len() int { return len(b.ops) }

// Size is roughly the bytes the batch writes.
func (b *Batch) Size() int { return b.size }

// Reset empties the batch for reuse.
func (b *Batch) Reset() { b.ops, b.size = b.ops[:0], 0 }

// check validates every key and stream name before anything is written.
func (b *Batch) check() error {
	for _, op := range b.ops {
		switch op.kind {
		case batchPut, batchDelete:
			if err := checkKey(op.key); err != nil {
				return err
			}
		default:
			if err := checkStream(op.stream); err != nil {
				return err
			}
		}
	}
	return nil
}

// Applier is implemented by stores that can apply a Batch; every Store does.
type Applier interface {
	// Apply makes every operation of b, in order, in one atomic and
	// durable write: all or nothing. It returns the sequence of each
	// Append, in order. An Append whose expectation fails makes the whole
	// batch fail with ErrSequence; a batch too large for one transaction
	// fails with ErrTooLarge. Nothing is written then.
	Apply(ctx context.Context, b *Batch) (seqs []uint64, err error)
}
