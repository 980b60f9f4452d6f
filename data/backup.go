package data

// Full backups in Badger's stream format (length-prefixed protobuf KVLists),
// written by `gavel backup FILE` and loaded by `gavel restore FILE`.

import (
	"context"
	"fmt"
	"io"

	"github.com/dgraph-io/badger/v4"
)

// restoreMaxPendingWrites bounds how many batches Load keeps in flight.
const restoreMaxPendingWrites = 64

// Backup writes a full, consistent backup of the database to w: a snapshot
// of every key as of the moment it starts; concurrent writes continue.
func (b *Badger) Backup(w io.Writer) error {
	if err := b.enter(context.Background()); err != nil {
		return err
	}
	defer b.leave()
	if _, err := b.db.Backup(w, 0); err != nil {
		return fmt.Errorf("data: backup: %w", err)
	}
	return nil
}

// Restore loads a backup written by Backup into this database, which must
// be empty: never written, not even with keys deleted since, because the
// loaded keys keep their versions and an existing newer version of a key
// (a tombstone included) would shadow them. Nothing else may use the store
// while Restore runs. An in-memory store cannot take values over 1 MiB,
// which a disk store can hold; restore those into a disk store.
func (b *Badger) Restore(r io.Reader) error {
	if err := b.enter(context.Background()); err != nil {
		return err
	}
	defer b.leave()
	var firstKey []byte
	err := b.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{AllVersions: true})
		defer it.Close()
		if it.Rewind(); it.Valid() {
			firstKey = it.Item().KeyCopy(nil)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("data: restore: %w", err)
	}
	if firstKey != nil {
		return fmt.Errorf("data: restore needs an empty database, this one already has data (key %q); restore into a new data directory", firstKey)
	}
	if err := b.db.Load(r, restoreMaxPendingWrites); err != nil {
		return fmt.Errorf("data: restore: %w", err)
	}
	return b.db.View(func(txn *badger.Txn) error {
		if err := b.revs.load(txn); err != nil {
			return err
		}
		return b.checkSchema(txn)
	})
}
