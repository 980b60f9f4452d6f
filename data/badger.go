package data

// Placeholder until the Badger implementation lands; the exported API here is the contract.

import (
	"context"
	"io"
)

// Options for the Badger store.
type Options struct {
	// SyncWrites fsyncs every write before it returns (default true via DefaultOptions).
	SyncWrites bool
	// LowMemory selects Badger's small-table, small-cache settings.
	LowMemory bool
}

// DefaultOptions: durable, low memory.
func DefaultOptions() Options { return Options{SyncWrites: true, LowMemory: true} }

// Badger is the Store on an embedded Badger database.
type Badger struct{}

// Open opens (creating if needed) the database in dir.
func Open(dir string, o Options) (*Badger, error) { return nil, errTODO }

// OpenInMemory opens a memory-only database (tests).
func OpenInMemory() (*Badger, error) { return nil, errTODO }

// Backup writes a full, consistent backup of the database to w.
func (b *Badger) Backup(w io.Writer) error { return errTODO }

// Restore loads a backup written by Backup into this (empty) database.
func (b *Badger) Restore(r io.Reader) error { return errTODO }

var errTODO = ErrClosed

var _ Store = (*Badger)(nil)

func (b *Badger) Get(ctx context.Context, key []byte) ([]byte, uint64, error) { return nil, 0, errTODO }
func (b *Badger) Put(ctx context.Context, key, val []byte) (uint64, error)    { return 0, errTODO }
func (b *Badger) CompareAndSet(ctx context.Context, key, val []byte, expectRev uint64) (uint64, error) {
	return 0, errTODO
}
func (b *Badger) Delete(ctx context.Context, key []byte) error                     { return errTODO }
func (b *Badger) DeleteIf(ctx context.Context, key []byte, expectRev uint64) error { return errTODO }
func (b *Badger) Scan(ctx context.Context, prefix, after []byte, limit int, fn func(key, val []byte, rev uint64) bool) error {
	return errTODO
}
func (b *Badger) DeletePrefix(ctx context.Context, prefix []byte) error { return errTODO }
func (b *Badger) Append(ctx context.Context, stream string, d []byte, expectLastSeq uint64) (uint64, error) {
	return 0, errTODO
}
func (b *Badger) Read(ctx context.Context, stream string, fromSeq uint64, limit int) ([]Entry, error) {
	return nil, errTODO
}
func (b *Badger) ReadBack(ctx context.Context, stream string, beforeSeq uint64, limit int) ([]Entry, error) {
	return nil, errTODO
}
func (b *Badger) Last(ctx context.Context, stream string) (uint64, uint64, error) {
	return 0, 0, errTODO
}
func (b *Badger) Truncate(ctx context.Context, stream string, beforeSeq uint64) error {
	return errTODO
}
func (b *Badger) DeleteStream(ctx context.Context, stream string) error { return errTODO }
func (b *Badger) Sync() error                                           { return errTODO }
func (b *Badger) Close() error                                          { return nil }
