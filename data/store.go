// Package data is Gavel's storage: a small Store interface shaped like what an
// embedded KV and a replicated log both do natively, and its Badger
// implementation. The key layout is documented in keys.go and nowhere else.
package data

import (
	"context"
	"errors"
)

var (
	// ErrNotFound: no such key, or no such log entry.
	ErrNotFound = errors.New("data: not found")
	// ErrRevision: a compare-and-set saw a different revision than expected.
	ErrRevision = errors.New("data: revision mismatch")
	// ErrSequence: an append saw a different last sequence than expected.
	ErrSequence = errors.New("data: sequence mismatch")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("data: store closed")
	// ErrInvalidKey: an empty or oversized key or stream name (see MaxKeyLen),
	// or a stream name containing NUL.
	ErrInvalidKey = errors.New("data: invalid key")
	// ErrTooLarge: one write (a value, or an AppendBatch) exceeds what a
	// single transaction may hold.
	ErrTooLarge = errors.New("data: write too large for one transaction")
	// ErrInUse: another process holds the database directory.
	ErrInUse = errors.New("data directory is in use by another gavel process")
)

// AnySeq as expectLastSeq makes Append skip the sequence check.
const AnySeq = ^uint64(0)

// KV is a key-value map with per-key revisions. A revision is > 0 and
// changes on every write of the key; 0 means "absent".
type KV interface {
	// Get returns the value and revision of key, or ErrNotFound.
	Get(ctx context.Context, key []byte) (val []byte, rev uint64, err error)
	// Put writes unconditionally and returns the new revision.
	Put(ctx context.Context, key, val []byte) (rev uint64, err error)
	// CompareAndSet writes only if the key's current revision is expectRev
	// (0: the key must not exist); otherwise ErrRevision.
	CompareAndSet(ctx context.Context, key, val []byte, expectRev uint64) (rev uint64, err error)
	// Delete removes key; deleting an absent key is not an error.
	Delete(ctx context.Context, key []byte) error
	// DeleteIf removes key only at revision expectRev, else ErrRevision.
	DeleteIf(ctx context.Context, key []byte, expectRev uint64) error
	// Scan calls fn for keys with prefix in ascending order, starting after
	// the key 'after' (nil: from the start), until fn returns false or limit
	// entries were seen (limit <= 0: no limit). val is only valid during fn.
	Scan(ctx context.Context, prefix, after []byte, limit int, fn func(key, val []byte, rev uint64) bool) error
	// DeletePrefix removes every key with the prefix.
	DeletePrefix(ctx context.Context, prefix []byte) error
}

// Entry is one record of a log.
type Entry struct {
	Seq  uint64
	Time int64 // unix nanoseconds when appended (server clock)
	Data []byte
}

// Logs are append-only per-stream logs (room history, pubsub items, bid
// ledgers, offline queues). Sequences start at 1 and grow by 1.
type Logs interface {
	// Append adds data to stream if its last sequence is expectLastSeq
	// (0 for an empty stream, AnySeq to skip the check); returns the new
	// sequence, or ErrSequence. The entry is durable when Append returns.
	Append(ctx context.Context, stream string, data []byte, expectLastSeq uint64) (seq uint64, err error)
	// AppendBatch adds every element of data to stream, in order, in one
	// atomic and durable write (one fsync for the lot: group commit) if
	// the stream's last sequence is expectLastSeq (as for Append). It
	// returns the sequence of data[0]; data[i] gets firstSeq+i. An empty
	// batch writes nothing and returns last+1. A batch too large for one
	// transaction fails whole with ErrTooLarge: nothing is written.
	AppendBatch(ctx context.Context, stream string, data [][]byte, expectLastSeq uint64) (firstSeq uint64, err error)
	// Read returns up to limit entries with Seq >= fromSeq in ascending order
	// (limit <= 0: no limit, as for Scan).
	Read(ctx context.Context, stream string, fromSeq uint64, limit int) ([]Entry, error)
	// ReadBack returns up to limit entries with Seq <= beforeSeq in
	// descending order (newest first); beforeSeq AnySeq means from the end.
	ReadBack(ctx context.Context, stream string, beforeSeq uint64, limit int) ([]Entry, error)
	// Last returns the last sequence (0 if empty) and the first retained sequence.
	// When nothing is retained first == last+1 (a never-used stream: 0, 1), so
	// last-first+1 is always the number of retained entries.
	Last(ctx context.Context, stream string) (last, first uint64, err error)
	// Truncate removes entries with Seq < beforeSeq (retention, delivered offline messages).
	Truncate(ctx context.Context, stream string, beforeSeq uint64) error
	// DeleteStream removes the stream and its entries; sequence numbering restarts.
	DeleteStream(ctx context.Context, stream string) error
}

// Store is all of Gavel's persistence.
type Store interface {
	KV
	Logs
	Applier
	// Sync makes every acknowledged write durable (used on shutdown; writes
	// are already durable when they return if the store syncs writes).
	Sync() error
	Close() error
}
