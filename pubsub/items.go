package pubsub

// CONTRACT STUB: a node's items in the Store. The items helper implements
// it; the node actor (one goroutine per node) is its only caller, so it
// needs no locking.
//
// Layout: the log stream data.PubSubItemsStream(host, node) holds one entry per
// publish (item id, publisher, payload, publish time); the KV index
// data.PubSubItemKey(host, node, id) maps a live item id to its entry's
// sequence. An entry is live iff the index points at it: a republished id
// leaves its old entry stale, a retract deletes the index key. The log is
// in publish-time order, so expiry and max_items trim a prefix; stale
// entries are compacted away when they outnumber live ones.

import (
	"context"
	"time"

	"github.com/gavelhq/gavel/data"
)

type itemLog struct {
	store      data.Store
	host, node string
}

// openItemLog loads the node's item count (a key-only index scan).
func openItemLog(ctx context.Context, st data.Store, host, node string) (*itemLog, error) {
	return &itemLog{store: st, host: host, node: node}, nil
}

// Count is the number of live items.
func (l *itemLog) Count() int { return 0 }

// Put stores it (replacing an item with the same id); durable on return.
func (l *itemLog) Put(ctx context.Context, it Item) (replaced bool, err error) {
	return false, errUnimplemented
}

// Get returns a live item.
func (l *itemLog) Get(ctx context.Context, id string) (Item, bool, error) {
	return Item{}, false, errUnimplemented
}

// Delete removes live items; it returns the ids that existed.
func (l *itemLog) Delete(ctx context.Context, ids []string) ([]string, error) {
	return nil, errUnimplemented
}

// Latest returns up to n newest live items, newest first (n <= 0: all).
func (l *itemLog) Latest(ctx context.Context, n int) ([]Item, error) { return nil, errUnimplemented }

// Page serves an XEP-0059 request over the live items, newest first.
func (l *itemLog) Page(ctx context.Context, p PageRequest) (ItemPage, error) {
	return ItemPage{}, errUnimplemented
}

// Trim removes the oldest live items beyond max (max < 0: nothing) and
// returns their ids.
func (l *itemLog) Trim(ctx context.Context, max int) ([]string, error) { return nil, errUnimplemented }

// Expire removes live items published before t and returns their ids.
func (l *itemLog) Expire(ctx context.Context, before time.Time) ([]string, error) {
	return nil, errUnimplemented
}

// Oldest is the publish time of the oldest live item (zero when empty).
func (l *itemLog) Oldest(ctx context.Context) (time.Time, error) {
	return time.Time{}, errUnimplemented
}

// Purge removes every item.
func (l *itemLog) Purge(ctx context.Context) error { return errUnimplemented }
