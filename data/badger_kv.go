package data

// The KV half of the Badger store. Values are stored as revision ‖ value
// under "k/<key>" (keys.go); conditional writes read and write in one
// transaction, so Badger's conflict detection makes them atomic.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/dgraph-io/badger/v4"
)

// ctxCheckEvery: long iterations look at ctx once per this many keys.
const ctxCheckEvery = 256

// Get returns the value and revision of key, or ErrNotFound.
func (b *Badger) Get(ctx context.Context, key []byte) ([]byte, uint64, error) {
	if err := checkKey(key); err != nil {
		return nil, 0, err
	}
	if err := b.enter(ctx); err != nil {
		return nil, 0, err
	}
	defer b.leave()
	var (
		val []byte
		rev uint64
	)
	err := b.db.View(func(txn *badger.Txn) error {
		var err error
		rev, err = readRev(txn, kvKey(key), func(v []byte) { val = append([]byte{}, v...) })
		if err == nil && rev == 0 {
			return ErrNotFound
		}
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	return val, rev, nil
}

// readRev returns the revision of the physical key pk (0 if absent) and
// passes its value, valid only during the call, to fn if fn is not nil.
// In a read-write transaction the read also registers pk for conflict
// detection, absent or not.
func readRev(txn *badger.Txn, pk []byte, fn func(val []byte)) (uint64, error) {
	item, err := txn.Get(pk)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("data: %w", err)
	}
	var rev uint64
	err = item.Value(func(v []byte) error {
		r, val, err := splitRevValue(v)
		if err != nil {
			return err
		}
		rev = r
		if fn != nil {
			fn(val)
		}
		return nil
	})
	return rev, err
}

// Put writes unconditionally and returns the new revision.
func (b *Badger) Put(ctx context.Context, key, val []byte) (uint64, error) {
	return b.write(ctx, key, val, 0, false)
}

// CompareAndSet writes only if the key's current revision is expectRev
// (0: the key must not exist); otherwise ErrRevision.
func (b *Badger) CompareAndSet(ctx context.Context, key, val []byte, expectRev uint64) (uint64, error) {
	return b.write(ctx, key, val, expectRev, true)
}

func (b *Badger) write(ctx context.Context, key, val []byte, expectRev uint64, conditional bool) (uint64, error) {
	if err := checkKey(key); err != nil {
		return 0, err
	}
	if err := b.enter(ctx); err != nil {
		return 0, err
	}
	defer b.leave()
	if err := b.ensureSchema(ctx); err != nil {
		return 0, err
	}
	pk := kvKey(key)
	var rev uint64
	err := b.update(ctx, func(txn *badger.Txn) error {
		// Read even for Put: it orders concurrent writers of the key (see nextRev).
		cur, err := readRev(txn, pk, nil)
		if err != nil {
			return err
		}
		if conditional && cur != expectRev {
			return ErrRevision
		}
		if rev, err = b.nextRev(); err != nil {
			return err
		}
		return txn.Set(pk, revValue(rev, val))
	})
	if err != nil {
		return 0, wrapBadger(err)
	}
	return rev, nil
}

// Delete removes key; deleting an absent key is not an error.
func (b *Badger) Delete(ctx context.Context, key []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := b.enter(ctx); err != nil {
		return err
	}
	defer b.leave()
	// A blind delete cannot conflict; a concurrent conditional writer that
	// read the key still conflicts with it and re-checks.
	return wrapBadger(b.update(ctx, func(txn *badger.Txn) error { return txn.Delete(kvKey(key)) }))
}

// DeleteIf removes key only at revision expectRev, else ErrRevision.
// expectRev 0 asserts that the key is absent and then deletes nothing.
func (b *Badger) DeleteIf(ctx context.Context, key []byte, expectRev uint64) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := b.enter(ctx); err != nil {
		return err
	}
	defer b.leave()
	pk := kvKey(key)
	return wrapBadger(b.update(ctx, func(txn *badger.Txn) error {
		cur, err := readRev(txn, pk, nil)
		if err != nil {
			return err
		}
		if cur != expectRev {
			return ErrRevision
		}
		if cur == 0 {
			return nil
		}
		return txn.Delete(pk)
	}))
}

// Scan calls fn for keys with prefix in ascending order, starting after
// the key 'after' (nil: from the start), until fn returns false or limit
// entries were seen (limit <= 0: no limit). The key passed to fn is a copy
// the callee may keep; val is only valid during fn. fn may call the store,
// but not Close (Close waits for the Scan to end).
func (b *Badger) Scan(ctx context.Context, prefix, after []byte, limit int, fn func(key, val []byte, rev uint64) bool) error {
	if len(prefix) > MaxKeyLen {
		return fmt.Errorf("%w: prefix length %d over %d", ErrInvalidKey, len(prefix), MaxKeyLen)
	}
	if err := b.enter(ctx); err != nil {
		return err
	}
	defer b.leave()
	pp := kvKey(prefix)
	start, skip := pp, []byte(nil)
	if after != nil {
		// Keys sorting before the prefix are not in it: start at the
		// prefix then. Otherwise start at 'after' and step over it.
		if pa := kvKey(after); bytes.Compare(pa, pp) >= 0 {
			start, skip = pa, pa
		}
	}
	return b.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: pp})
		defer it.Close()
		seen := 0
		for it.Seek(start); it.Valid(); it.Next() {
			item := it.Item()
			if skip != nil && bytes.Equal(item.Key(), skip) {
				continue
			}
			if seen%ctxCheckEvery == ctxCheckEvery-1 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			seen++
			more := true
			err := item.Value(func(v []byte) error {
				rev, val, err := splitRevValue(v)
				if err != nil {
					return err
				}
				more = fn(kvUnkey(item.KeyCopy(nil)), val, rev)
				return nil
			})
			if err != nil {
				return err
			}
			if !more || (limit > 0 && seen >= limit) {
				return nil
			}
		}
		return nil
	})
}

// DeletePrefix removes every key with the prefix (an empty prefix: every
// KV key; logs are not touched). Large prefixes are deleted in several
// transactions, so a concurrent reader may see a partly deleted prefix, and
// a key written under the prefix while it runs may or may not survive.
func (b *Badger) DeletePrefix(ctx context.Context, prefix []byte) error {
	if len(prefix) > MaxKeyLen {
		return fmt.Errorf("%w: prefix length %d over %d", ErrInvalidKey, len(prefix), MaxKeyLen)
	}
	if err := b.enter(ctx); err != nil {
		return err
	}
	defer b.leave()
	pp := kvKey(prefix)
	from := pp
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		var batch [][]byte
		err := b.db.View(func(txn *badger.Txn) error {
			batch = collectKeys(txn, pp, from)
			return nil
		})
		if err != nil {
			return wrapBadger(err)
		}
		if len(batch) == 0 {
			return nil
		}
		err = b.update(ctx, func(txn *badger.Txn) error {
			for _, k := range batch {
				if err := txn.Delete(k); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return wrapBadger(err)
		}
		// Resume after the last deleted key instead of skipping over the
		// tombstones just written.
		from = append(batch[len(batch)-1], 0)
	}
}

// collectKeys returns up to one delete batch of keys with prefix p, from
// key 'from' on.
func collectKeys(txn *badger.Txn, p, from []byte) [][]byte {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: p})
	defer it.Close()
	var (
		keys [][]byte
		size int
	)
	for it.Seek(from); it.Valid() && len(keys) < deleteBatchCount && size < deleteBatchBytes; it.Next() {
		k := it.Item().Key()
		keys = append(keys, append([]byte(nil), k...))
		size += len(k)
	}
	return keys
}

// wrapBadger keeps our sentinel errors as they are and labels Badger's.
func wrapBadger(err error) error {
	switch {
	case err == nil,
		errors.Is(err, ErrNotFound), errors.Is(err, ErrRevision), errors.Is(err, ErrSequence),
		errors.Is(err, ErrClosed), errors.Is(err, ErrInvalidKey),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, badger.ErrTxnTooBig), errors.Is(err, badger.ErrValueLogSize):
		return fmt.Errorf("data: value too large: %w", err)
	}
	if strings.HasPrefix(err.Error(), "data") {
		return err
	}
	return fmt.Errorf("data: %w", err)
}
