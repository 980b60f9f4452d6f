package pubsub

// A node's items in the Store. The node actor (one goroutine per node) is
// the only caller, so itemLog needs no locking.
//
// Layout: the log stream data.PubSubItemsStream(host, node) holds one entry per
// publish (item id, publisher, payload, publish time); the KV index
// data.PubSubItemKey(host, node, id) maps a live item id to its entry's
// sequence. An entry is live iff the index points at it: a republished id
// leaves its old entry stale, a retract deletes the index key, and an entry
// appended by a publish that crashed before its index write is an orphan,
// stale from the start (the publish was never acknowledged). The log is in
// publish-time order, so expiry and max_items trim a prefix; stale entries
// are compacted away when they outnumber live ones.
//
// Write order keeps every crash state consistent: Put appends, then points
// the index; removals delete index keys, then truncate; compaction appends
// copies, repoints the index newest first (so live entries stay in publish
// order whatever prefix of the repointing happened), then truncates.

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/data"
)

const (
	// itemFormat is the leading byte of an encoded entry.
	itemFormat = 1
	// maxItemIDLen bounds item ids (they are part of a KV key).
	maxItemIDLen = 1024
	// smallIndexMax: up to this many live items, the whole index (id → seq)
	// is kept in memory, so liveness checks cost no KV read. Larger nodes
	// read the index per entry and are paged from storage.
	smallIndexMax = 1024
	// compactFloor: stale entries are compacted only when there are more
	// than this many and more than live ones (amortised O(1) per publish).
	compactFloor = 32
	// readBatchMax bounds the entries read from the log at once (each may
	// hold a payload of up to max_payload_size).
	readBatchMax = 64
	// copyBatchBytes bounds one AppendBatch of compaction copies.
	copyBatchBytes = 512 << 10
	copyBatchCount = 256
)

type itemLog struct {
	store      data.Store
	host, node string
	stream     string
	prefix     []byte

	// first and last are the log's retained range (first == last+1: empty).
	first, last uint64
	// count is the number of live items (index keys pointing into the log).
	count int
	// index, when non-nil, is the complete index (nodes of up to
	// smallIndexMax items); nil means "ask the KV".
	index map[string]uint64
}

// openItemLog loads the node's item count (one scan of the index keys).
func openItemLog(ctx context.Context, st data.Store, host, node string) (*itemLog, error) {
	l := &itemLog{
		store:  st,
		host:   host,
		node:   node,
		stream: data.PubSubItemsStream(host, node),
		prefix: data.PubSubItemPrefix(host, node),
	}
	if err := l.load(ctx); err != nil {
		return nil, err
	}
	return l, nil
}

// load reads the log's range and counts the index entries pointing into it.
func (l *itemLog) load(ctx context.Context) error {
	last, first, err := l.store.Last(ctx, l.stream)
	if err != nil {
		return fmt.Errorf("pubsub: items of %s/%s: %w", l.host, l.node, err)
	}
	l.first, l.last, l.count = first, last, 0
	index := make(map[string]uint64)
	err = l.store.Scan(ctx, l.prefix, nil, 0, func(key, val []byte, _ uint64) bool {
		seq, ok := decodeSeq(val)
		if !ok || seq < first || seq > last {
			return true // dangling: not live
		}
		l.count++
		if index != nil {
			if len(index) >= smallIndexMax {
				index = nil
			} else {
				index[string(key[len(l.prefix):])] = seq
			}
		}
		return true
	})
	if err != nil {
		return fmt.Errorf("pubsub: items of %s/%s: %w", l.host, l.node, err)
	}
	l.index = index
	return nil
}

// Count is the number of live items.
func (l *itemLog) Count() int { return l.count }

// stale is the number of retained entries that are not live.
func (l *itemLog) stale() int {
	n := int(l.last+1-l.first) - l.count
	return max(n, 0)
}

// Put stores it (replacing an item with the same id); durable on return.
func (l *itemLog) Put(ctx context.Context, it Item) (replaced bool, err error) {
	replaced, _, err = l.PutTrim(ctx, it, -1)
	return replaced, err
}

// PutTrim stores it and, when the node then holds more than max live
// items (max < 0: no bound), removes the oldest beyond max — in one
// atomic, durable write: the entry, its index key, the index keys of the
// items pushed out and the truncation behind them. It returns whether it
// replaced an item and the ids pushed out, oldest first.
func (l *itemLog) PutTrim(ctx context.Context, it Item, max int) (replaced bool, dropped []string, err error) {
	if it.ID == "" || len(it.ID) > maxItemIDLen {
		return false, nil, &Error{Cond: "not-acceptable", Type: "modify", Text: "invalid item id"}
	}
	entry := encodeItem(it)
	for attempt := 0; ; attempt++ {
		var head uint64
		_, replaced, err = l.lookup(ctx, it.ID)
		if err == nil {
			dropped, head, err = l.planTrim(ctx, it.ID, replaced, max)
		}
		if err != nil {
			return false, nil, err
		}
		var b data.Batch
		b.Append(l.stream, entry, l.last)
		seq := l.last + 1
		b.Put(data.PubSubItemKey(l.host, l.node, it.ID), binary.BigEndian.AppendUint64(nil, seq))
		for _, id := range dropped {
			b.Delete(data.PubSubItemKey(l.host, l.node, id))
		}
		if head > l.first {
			b.Truncate(l.stream, head)
		}
		_, err = l.store.Apply(ctx, &b)
		if errors.Is(err, data.ErrSequence) && attempt == 0 {
			// Someone else wrote the stream (an actor of a previous
			// life?): re-read the state and try once more.
			if err = l.load(ctx); err != nil {
				return false, nil, err
			}
			continue
		}
		if err != nil {
			return false, nil, fmt.Errorf("pubsub: storing item: %w", err)
		}
		l.last = seq
		l.setIndex(it.ID, seq)
		if !replaced {
			l.count++
		}
		for _, id := range dropped {
			l.dropIndex(id)
			l.count--
		}
		if head > l.first {
			l.first = head
		}
		// A failed compaction leaves a consistent log; the next write retries.
		_ = l.maybeCompact(ctx)
		return replaced, dropped, nil
	}
}

// planTrim finds the oldest live items to push out so that, with the item
// id being published (replacing one when replaced), at most max stay, and
// the sequence the log can then be truncated to (0: none). The item being
// replaced is skipped: its old entry goes stale anyway.
func (l *itemLog) planTrim(ctx context.Context, id string, replaced bool, max int) (dropped []string, head uint64, err error) {
	count := l.count
	if !replaced {
		count++
	}
	if max < 0 || count <= max {
		return nil, 0, nil
	}
	if l.index != nil && len(l.index) <= trimFromIndexMax {
		dropped, head = l.planTrimIndex(id, count-max)
		return dropped, head, nil
	}
	return l.planTrimWalk(ctx, id, count-max)
}

// trimFromIndexMax: up to this many items, planTrim orders the in-memory
// index instead of reading the log's oldest entries from the store. A
// store read is a Badger transaction, and on a busy one-core server each
// transaction's bookkeeping waits for Badger's own goroutines to be
// scheduled (docs/benchmarks.md, S7): a publish to a node at max_items did
// two transactions, now one.
const trimFromIndexMax = 64

// planTrimIndex is planTrim from the in-memory index: the live entries,
// oldest first, are the index ordered by sequence (the log's other entries
// are dead). It gives what planTrimWalk gives.
func (l *itemLog) planTrimIndex(id string, excess int) (dropped []string, head uint64) {
	type live struct {
		seq uint64
		id  string
	}
	order := make([]live, 0, len(l.index))
	for eid, seq := range l.index {
		if eid != id {
			order = append(order, live{seq, eid})
		}
	}
	slices.SortFunc(order, func(a, b live) int { return cmp.Compare(a.seq, b.seq) })
	head = l.last + 1 // the new entry, when every older one goes
	for _, e := range order {
		if excess == 0 {
			return dropped, e.seq
		}
		dropped = append(dropped, e.id)
		excess--
	}
	return dropped, head
}

// planTrimWalk is planTrim reading the log's oldest live entries.
func (l *itemLog) planTrimWalk(ctx context.Context, id string, excess int) (dropped []string, head uint64, err error) {
	head = l.last + 1 // the new entry, when every older one goes
	err = l.walk(ctx, l.first, 0, true, min(excess+1, readBatchMax), func(e data.Entry, eid string) (bool, error) {
		if eid == id {
			return true, nil
		}
		if excess == 0 {
			head = e.Seq
			return false, nil
		}
		dropped = append(dropped, eid)
		excess--
		return true, nil
	})
	// With max 0 the new item is left over: it stays (a node that stores
	// items keeps at least the last one).
	return dropped, head, err
}

// setIndex and dropIndex keep the in-memory index in step with the KV.
func (l *itemLog) setIndex(id string, seq uint64) {
	if l.index != nil {
		l.index[id] = seq
		if len(l.index) > smallIndexMax {
			l.index = nil
		}
	}
}

func (l *itemLog) dropIndex(id string) {
	if l.index != nil {
		delete(l.index, id)
	}
}

// point makes the index map id to seq.
func (l *itemLog) point(ctx context.Context, id string, seq uint64) error {
	if _, err := l.store.Put(ctx, data.PubSubItemKey(l.host, l.node, id), binary.BigEndian.AppendUint64(nil, seq)); err != nil {
		return fmt.Errorf("pubsub: indexing item: %w", err)
	}
	l.setIndex(id, seq)
	return nil
}

// unpoint removes id from the index.
func (l *itemLog) unpoint(ctx context.Context, id string) error {
	if err := l.store.Delete(ctx, data.PubSubItemKey(l.host, l.node, id)); err != nil {
		return fmt.Errorf("pubsub: removing item: %w", err)
	}
	l.dropIndex(id)
	return nil
}

// lookup returns the sequence of id's live entry.
func (l *itemLog) lookup(ctx context.Context, id string) (uint64, bool, error) {
	if id == "" || len(id) > maxItemIDLen {
		return 0, false, nil
	}
	if l.index != nil {
		seq, ok := l.index[id]
		return seq, ok, nil
	}
	val, _, err := l.store.Get(ctx, data.PubSubItemKey(l.host, l.node, id))
	if errors.Is(err, data.ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("pubsub: item index: %w", err)
	}
	seq, ok := decodeSeq(val)
	if !ok || seq < l.first || seq > l.last {
		return 0, false, nil
	}
	return seq, true, nil
}

// live reports whether the entry at seq holding id is live.
func (l *itemLog) live(ctx context.Context, id string, seq uint64) (bool, error) {
	s, ok, err := l.lookup(ctx, id)
	return ok && s == seq, err
}

// Get returns a live item.
func (l *itemLog) Get(ctx context.Context, id string) (Item, bool, error) {
	seq, ok, err := l.lookup(ctx, id)
	if err != nil || !ok {
		return Item{}, false, err
	}
	es, err := l.store.Read(ctx, l.stream, seq, 1)
	if err != nil {
		return Item{}, false, fmt.Errorf("pubsub: reading item: %w", err)
	}
	if len(es) != 1 || es[0].Seq != seq {
		return Item{}, false, nil
	}
	it, err := decodeItem(es[0])
	if err != nil || it.ID != id {
		return Item{}, false, err
	}
	return it, true, nil
}

// Delete removes live items; it returns the ids that existed.
// All of them go in one durable write.
func (l *itemLog) Delete(ctx context.Context, ids []string) ([]string, error) {
	var (
		gone []string
		b    data.Batch
	)
	for _, id := range ids {
		_, ok, err := l.lookup(ctx, id)
		if err != nil {
			return nil, err
		}
		if !ok || slices.Contains(gone, id) { // absent, or named twice
			continue
		}
		b.Delete(data.PubSubItemKey(l.host, l.node, id))
		gone = append(gone, id)
	}
	if len(gone) == 0 {
		return nil, nil
	}
	if _, err := l.store.Apply(ctx, &b); err != nil {
		return nil, fmt.Errorf("pubsub: removing items: %w", err)
	}
	for _, id := range gone {
		l.dropIndex(id)
		l.count--
	}
	_ = l.maybeCompact(ctx)
	return gone, nil
}

// Latest returns up to n newest live items, newest first (n <= 0: all).
func (l *itemLog) Latest(ctx context.Context, n int) ([]Item, error) {
	if n <= 0 {
		n = l.count
	}
	return l.collectBack(ctx, l.last, 0, 0, n)
}

// Page serves an XEP-0059 request over the live items, newest first: after
// X pages to older items, before X to newer ones, before "" gives the
// oldest page, Index skips from the newest; Max 0 asks for the count only.
// An after/before id that is not a live item is item-not-found.
func (l *itemLog) Page(ctx context.Context, p PageRequest) (ItemPage, error) {
	page := ItemPage{Count: l.count}
	if p.Max == 0 {
		return page, nil
	}
	limit := p.Max
	if limit < 0 {
		limit = l.count
	}
	var err error
	switch {
	case p.After != "":
		after, ok, err := l.lookup(ctx, p.After)
		if err != nil {
			return page, err
		}
		if !ok {
			return page, newError("item-not-found", "cancel", "")
		}
		var stop uint64 // exclusive lower bound: before Y = newer than Y
		if p.BeforeSet && p.Before != "" {
			if stop, ok, err = l.lookup(ctx, p.Before); err != nil {
				return page, err
			} else if !ok {
				return page, newError("item-not-found", "cancel", "")
			}
		}
		if page.Items, err = l.collectBack(ctx, after-1, stop, 0, limit); err != nil {
			return page, err
		}
		pos, err := l.newerThan(ctx, after)
		if err != nil {
			return page, err
		}
		page.FirstIndex = pos + 1
	case p.BeforeSet && p.Before != "":
		before, ok, err := l.lookup(ctx, p.Before)
		if err != nil {
			return page, err
		}
		if !ok {
			return page, newError("item-not-found", "cancel", "")
		}
		if page.Items, err = l.collectForward(ctx, before+1, limit); err != nil {
			return page, err
		}
		pos, err := l.newerThan(ctx, before)
		if err != nil {
			return page, err
		}
		page.FirstIndex = pos - len(page.Items)
	case p.BeforeSet:
		if page.Items, err = l.collectForward(ctx, l.first, limit); err != nil {
			return page, err
		}
		page.FirstIndex = l.count - len(page.Items)
	default:
		skip := max(p.Index, 0)
		if skip >= l.count {
			page.FirstIndex = skip
			return page, nil
		}
		if page.Items, err = l.collectBack(ctx, l.last, 0, skip, limit); err != nil {
			return page, err
		}
		page.FirstIndex = skip
	}
	if n := len(page.Items); n > 0 {
		page.First, page.Last = page.Items[0].ID, page.Items[n-1].ID
	}
	return page, nil
}

// newerThan counts the live items newer than the entry at seq.
func (l *itemLog) newerThan(ctx context.Context, seq uint64) (int, error) {
	n := 0
	if l.index != nil {
		for _, s := range l.index {
			if s > seq {
				n++
			}
		}
		return n, nil
	}
	// A key scan of the index: no item is read.
	err := l.store.Scan(ctx, l.prefix, nil, 0, func(_, val []byte, _ uint64) bool {
		if s, ok := decodeSeq(val); ok && s > seq && s <= l.last {
			n++
		}
		return true
	})
	if err != nil {
		return 0, fmt.Errorf("pubsub: item index: %w", err)
	}
	return n, nil
}

// walk calls fn for each live entry, newest first from seq from down to
// (not including) stop, or oldest first from seq from on when forward. fn
// returns false to stop. Entries are read in batches that start at hint
// and grow when stale entries get in the way.
func (l *itemLog) walk(ctx context.Context, from, stop uint64, forward bool, hint int, fn func(e data.Entry, id string) (bool, error)) error {
	batch := min(max(hint, 1), readBatchMax)
	for {
		if forward && from > l.last || !forward && (from <= stop || from < l.first) {
			return nil
		}
		var es []data.Entry
		var err error
		if forward {
			es, err = l.store.Read(ctx, l.stream, from, batch)
		} else {
			es, err = l.store.ReadBack(ctx, l.stream, from, batch)
		}
		if err != nil {
			return fmt.Errorf("pubsub: reading items: %w", err)
		}
		if len(es) == 0 {
			return nil
		}
		for _, e := range es {
			if !forward && e.Seq <= stop {
				return nil
			}
			id, ok := decodeItemID(e.Data)
			if !ok {
				continue // not ours to read: never live
			}
			live, err := l.live(ctx, id, e.Seq)
			if err != nil {
				return err
			}
			if !live {
				continue
			}
			if more, err := fn(e, id); err != nil || !more {
				return err
			}
		}
		if forward {
			from = es[len(es)-1].Seq + 1
		} else {
			from = es[len(es)-1].Seq - 1
		}
		batch = min(batch*2, readBatchMax)
	}
}

// collectBack returns up to n live items, newest first, from seq from down
// to (not including) stop, after skipping the first skip of them.
func (l *itemLog) collectBack(ctx context.Context, from, stop uint64, skip, n int) ([]Item, error) {
	if n <= 0 {
		return nil, nil
	}
	items := make([]Item, 0, min(n, readBatchMax))
	err := l.walk(ctx, from, stop, false, skip+n, func(e data.Entry, _ string) (bool, error) {
		if skip > 0 {
			skip--
			return true, nil
		}
		it, err := decodeItem(e)
		if err != nil {
			return false, err
		}
		items = append(items, it)
		return len(items) < n, nil
	})
	return items, err
}

// collectForward returns up to n live items from seq from on, newest first
// (the n oldest ones at or after from).
func (l *itemLog) collectForward(ctx context.Context, from uint64, n int) ([]Item, error) {
	if n <= 0 {
		return nil, nil
	}
	items := make([]Item, 0, min(n, readBatchMax))
	err := l.walk(ctx, from, 0, true, n, func(e data.Entry, _ string) (bool, error) {
		it, err := decodeItem(e)
		if err != nil {
			return false, err
		}
		items = append(items, it)
		return len(items) < n, nil
	})
	slices.Reverse(items)
	return items, err
}

// Trim removes the oldest live items beyond max (max < 0: nothing) and
// returns their ids, oldest first.
func (l *itemLog) Trim(ctx context.Context, max int) ([]string, error) {
	if max < 0 || l.count <= max {
		return nil, nil
	}
	excess := l.count - max
	return l.dropOldest(ctx, func(_ data.Entry, _ string) bool {
		if excess == 0 {
			return false
		}
		excess--
		return true
	})
}

// Expire removes live items published before t and returns their ids,
// oldest first.
func (l *itemLog) Expire(ctx context.Context, before time.Time) ([]string, error) {
	if l.count == 0 {
		return nil, nil
	}
	return l.dropOldest(ctx, func(e data.Entry, _ string) bool {
		t, ok := decodeItemTime(e)
		return ok && t.Before(before)
	})
}

// dropOldest removes live items from the oldest on while drop says so,
// then truncates the log up to the oldest item left.
func (l *itemLog) dropOldest(ctx context.Context, drop func(e data.Entry, id string) bool) ([]string, error) {
	var ids []string
	head := l.last + 1 // the oldest live entry kept
	err := l.walk(ctx, l.first, 0, true, 8, func(e data.Entry, id string) (bool, error) {
		if !drop(e, id) {
			head = e.Seq
			return false, nil
		}
		ids = append(ids, id)
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	for i, id := range ids {
		if err := l.unpoint(ctx, id); err != nil {
			return ids[:i], err
		}
		l.count--
	}
	if err := l.truncate(ctx, head); err != nil {
		return ids, err
	}
	return ids, nil
}

// truncate drops the log's entries before seq (all stale by then).
func (l *itemLog) truncate(ctx context.Context, seq uint64) error {
	if seq <= l.first {
		return nil
	}
	if err := l.store.Truncate(ctx, l.stream, seq); err != nil {
		return fmt.Errorf("pubsub: truncating items: %w", err)
	}
	l.first = seq
	return nil
}

// Oldest is the publish time of the oldest live item (zero when empty).
func (l *itemLog) Oldest(ctx context.Context) (time.Time, error) {
	var oldest time.Time
	if l.count == 0 {
		return oldest, nil
	}
	err := l.walk(ctx, l.first, 0, true, 1, func(e data.Entry, _ string) (bool, error) {
		oldest, _ = decodeItemTime(e)
		return false, nil
	})
	return oldest, err
}

// Purge removes every item. The index goes first, so an interruption
// leaves the remaining items intact; sequence numbering goes on, so no old
// index key can ever point at a new entry.
func (l *itemLog) Purge(ctx context.Context) error {
	if err := l.store.DeletePrefix(ctx, l.prefix); err != nil {
		return fmt.Errorf("pubsub: purging items: %w", err)
	}
	l.count, l.index = 0, make(map[string]uint64)
	return l.truncate(ctx, l.last+1)
}

// Drop removes the node's items and its log (node deletion).
func (l *itemLog) Drop(ctx context.Context) error {
	if err := l.store.DeletePrefix(ctx, l.prefix); err != nil {
		return fmt.Errorf("pubsub: deleting items: %w", err)
	}
	l.count, l.index = 0, make(map[string]uint64)
	if err := l.store.DeleteStream(ctx, l.stream); err != nil {
		return fmt.Errorf("pubsub: deleting items: %w", err)
	}
	l.first, l.last = 1, 0
	return nil
}

// maybeCompact drops stale entries once they outnumber live ones.
func (l *itemLog) maybeCompact(ctx context.Context) error {
	stale := l.stale()
	switch {
	case stale == 0:
		return nil
	case l.count == 0:
		return l.truncate(ctx, l.last+1)
	case stale <= compactFloor || stale <= l.count:
		return nil
	}
	return l.compact(ctx)
}

// liveEntry is one live entry found by compaction.
type liveEntry struct {
	id  string
	seq uint64
}

// compact rewrites the live items at the end of the log and truncates
// everything before them. When the live entries already are the log's
// tail, truncating the stale head is enough.
func (l *itemLog) compact(ctx context.Context) error {
	var lives []liveEntry
	suffix := true // no stale entry after the first live one
	next := l.first
	err := l.walk(ctx, l.first, 0, true, readBatchMax, func(e data.Entry, id string) (bool, error) {
		if len(lives) > 0 && e.Seq != next {
			suffix = false
		}
		next = e.Seq + 1
		lives = append(lives, liveEntry{id, e.Seq})
		return true, nil
	})
	if err != nil {
		return err
	}
	if len(lives) == 0 {
		return l.truncate(ctx, l.last+1)
	}
	if suffix && next == l.last+1 {
		return l.truncate(ctx, lives[0].seq)
	}
	copies, err := l.copyLive(ctx, lives)
	if err != nil {
		return err
	}
	// Newest first: at any interruption, the oldest items still point at
	// their old entries and the newest at their copies, in order.
	for i := len(lives) - 1; i >= 0; i-- {
		if err := l.point(ctx, lives[i].id, copies+uint64(i)); err != nil {
			return err
		}
	}
	return l.truncate(ctx, copies)
}

// copyLive appends a copy of every entry of lives (in order) and returns
// the sequence of the first copy; lives[i] is copied to that + i.
func (l *itemLog) copyLive(ctx context.Context, lives []liveEntry) (uint64, error) {
	var (
		first uint64
		chunk [][]byte
		size  int
		done  int // lives copied so far
	)
	flush := func() error {
		seq, err := l.appendChunk(ctx, chunk)
		if err != nil {
			return err
		}
		if done == 0 {
			first = seq
		}
		done += len(chunk)
		chunk, size = chunk[:0], 0
		return nil
	}
	for done+len(chunk) < len(lives) {
		i := done + len(chunk)
		es, err := l.store.Read(ctx, l.stream, lives[i].seq, int(min(lives[len(lives)-1].seq-lives[i].seq+1, readBatchMax)))
		if err != nil {
			return 0, fmt.Errorf("pubsub: compacting items: %w", err)
		}
		if len(es) == 0 || es[0].Seq != lives[i].seq {
			return 0, fmt.Errorf("pubsub: compacting items: entry %d vanished", lives[i].seq)
		}
		for _, e := range es {
			if i == len(lives) || e.Seq != lives[i].seq {
				continue
			}
			it, err := decodeItem(e)
			if err != nil {
				return 0, err
			}
			b := encodeItem(it) // the publish time is kept inside
			chunk = append(chunk, b)
			size += len(b)
			i++
			if size >= copyBatchBytes || len(chunk) >= copyBatchCount {
				if err := flush(); err != nil {
					return 0, err
				}
			}
		}
	}
	if len(chunk) > 0 {
		if err := flush(); err != nil {
			return 0, err
		}
	}
	return first, nil
}

// appendChunk appends entries in as few transactions as the store allows,
// returning the sequence of the first.
func (l *itemLog) appendChunk(ctx context.Context, entries [][]byte) (uint64, error) {
	seq, err := l.store.AppendBatch(ctx, l.stream, entries, l.last)
	if errors.Is(err, data.ErrTooLarge) && len(entries) > 1 {
		half := len(entries) / 2
		if seq, err = l.appendChunk(ctx, entries[:half]); err != nil {
			return 0, err
		}
		_, err = l.appendChunk(ctx, entries[half:])
		return seq, err
	}
	if err != nil {
		return 0, fmt.Errorf("pubsub: compacting items: %w", err)
	}
	l.last = seq + uint64(len(entries)) - 1
	return seq, nil
}

// Entry encoding: format byte, uvarint-prefixed id and publisher JID,
// 8-byte big-endian publish time (unix nanos; 0: the entry's append time),
// then the payload to the end.

func encodeItem(it Item) []byte {
	pub := it.Publisher.String()
	b := make([]byte, 0, 1+2*binary.MaxVarintLen16+len(it.ID)+len(pub)+8+len(it.Payload))
	b = append(b, itemFormat)
	b = binary.AppendUvarint(b, uint64(len(it.ID)))
	b = append(b, it.ID...)
	b = binary.AppendUvarint(b, uint64(len(pub)))
	b = append(b, pub...)
	var t int64
	if !it.Time.IsZero() {
		t = it.Time.UnixNano()
	}
	b = binary.BigEndian.AppendUint64(b, uint64(t))
	return append(b, it.Payload...)
}

// itemFields splits an encoded entry; ok is false for a corrupt one.
func itemFields(b []byte) (id, pub []byte, t int64, payload []byte, ok bool) {
	if len(b) == 0 || b[0] != itemFormat {
		return nil, nil, 0, nil, false
	}
	b = b[1:]
	if id, b, ok = cutPrefixed(b); !ok {
		return nil, nil, 0, nil, false
	}
	if pub, b, ok = cutPrefixed(b); !ok || len(b) < 8 {
		return nil, nil, 0, nil, false
	}
	return id, pub, int64(binary.BigEndian.Uint64(b)), b[8:], true
}

func cutPrefixed(b []byte) (field, rest []byte, ok bool) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return nil, nil, false
	}
	return b[k : k+int(n)], b[k+int(n):], true
}

func decodeItemID(b []byte) (string, bool) {
	id, _, _, _, ok := itemFields(b)
	return string(id), ok
}

func decodeItemTime(e data.Entry) (time.Time, bool) {
	_, _, t, _, ok := itemFields(e.Data)
	if t == 0 {
		t = e.Time
	}
	return time.Unix(0, t), ok
}

func decodeItem(e data.Entry) (Item, error) {
	id, pub, t, payload, ok := itemFields(e.Data)
	if !ok {
		return Item{}, fmt.Errorf("pubsub: corrupt item entry %d", e.Seq)
	}
	if t == 0 {
		t = e.Time
	}
	it := Item{ID: string(id), Time: time.Unix(0, t)}
	if len(pub) > 0 {
		j, err := jid.Parse(string(pub))
		if err != nil {
			return Item{}, fmt.Errorf("pubsub: item entry %d: publisher: %w", e.Seq, err)
		}
		it.Publisher = j
	}
	if len(payload) > 0 {
		it.Payload = payload[:len(payload):len(payload)] // e.Data is the caller's own copy
	}
	return it, nil
}

func decodeSeq(b []byte) (uint64, bool) {
	if len(b) != 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(b), true
}
