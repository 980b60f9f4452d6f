package data

// The Badger store: options, lifecycle (open, close, value-log GC) and the
// shared plumbing of the KV (badger_kv.go) and log (badger_log.go) halves.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// Options for the Badger store.
type Options struct {
	// SyncWrites fsyncs every write before it returns (default true via DefaultOptions).
	SyncWrites bool
	// LowMemory selects Badger's small-table, small-cache settings.
	LowMemory bool
	// GCInterval is how often the value-log garbage collector runs
	// (0: DefaultGCInterval; negative: never).
	GCInterval time.Duration
	// Logger receives Badger's warnings and errors; its info chatter is
	// logged at debug level (nil: slog.Default()).
	Logger *slog.Logger
}

// DefaultGCInterval is the value-log GC period when Options.GCInterval is 0.
const DefaultGCInterval = 10 * time.Minute

// DefaultOptions: durable, low memory.
func DefaultOptions() Options { return Options{SyncWrites: true, LowMemory: true} }

const (
	// maxAttempts bounds the retries of a transaction that lost a conflict.
	// Conditional writes stop at the first retry that sees the new revision
	// or sequence; only unconditional writes to one hot key (Put, Append with
	// AnySeq) can need many, and they back off with jitter in between.
	maxAttempts = 200
	// Deletions of many keys (DeletePrefix, Truncate, DeleteStream) commit
	// in batches this small, far below Badger's transaction limit (15% of
	// the memtable: about 1.2 MB and 12k entries with the low-memory set).
	deleteBatchCount = 1000
	deleteBatchBytes = 256 << 10
	// revLeaseSize revisions are reserved per write of the lease key.
	revLeaseSize = 4096
	// gcDiscardRatio: rewrite a value-log file when half of it is garbage.
	gcDiscardRatio = 0.5
)

// Badger is the Store on an embedded Badger database.
type Badger struct {
	db  *badger.DB
	log *slog.Logger

	// mu guards closed and inflight; Close waits on idle until no operation
	// is in flight, so no operation ever touches a closed *badger.DB.
	mu       sync.Mutex
	idle     *sync.Cond
	closed   bool
	inflight int

	revs revLease

	schemaMu      sync.Mutex
	schemaWritten atomic.Bool

	stopGC chan struct{}
	gcDone chan struct{}
}

var _ Store = (*Badger)(nil)

// badgerOptions translates Options into Badger's. The low-memory set keeps
// an idle store at a few MiB of heap and bounds what grows with data:
//   - MemTableSize 8 MiB × NumMemtables 2: memtables are preallocated
//     arenas, so these two numbers are most of the resident memory (default
//     64 MiB × 5). The price: one transaction may hold at most 15% of a
//     memtable (~1.2 MB), which is why bulk deletes run in small batches.
//   - NumLevelZeroTables 2 / stall 8: flushes are compacted early, while a
//     burst still has room (8 tables ≈ 64 MiB on disk) before writes stall.
//   - IndexCacheSize 4 MiB: table indexes and bloom filters are cached in a
//     bounded cache instead of all living on the heap (default 0 = unbounded,
//     grows with the data).
//   - Compression none, BlockCacheSize 0: uncompressed tables are read
//     straight from the mmap, so the kernel's page cache (reclaimable) does
//     the caching; Badger's docs advise no block cache without compression.
//     Stanzas would compress, but disk is cheaper here than CPU and heap.
//   - ValueThreshold 4 KiB: stanzas, roster items and configs stay in the
//     LSM tree (one lookup, reclaimed by compaction); bigger blobs (large
//     rosters, avatars, certificates) go to the value log, so compaction does
//     not rewrite them level after level. The GC goroutine reclaims them.
//   - ValueLogFileSize 64 MiB: vlog files are mmapped and GC rewrites a whole
//     file at a time; smaller files bound both (default 1 GiB).
//   - NumCompactors 2 (Badger's minimum), NumGoroutines 2 (backup streams).
//   - MetricsEnabled false: Badger's metrics are process-global expvars;
//     storage latency is measured by Instrument instead.
func badgerOptions(dir string, inMemory bool, o Options) badger.Options {
	bo := badger.DefaultOptions(dir).
		WithInMemory(inMemory).
		WithSyncWrites(o.SyncWrites && !inMemory).
		WithLogger(badgerLogger{o.Logger}).
		WithMetricsEnabled(false).
		WithNumVersionsToKeep(1).
		WithDetectConflicts(true)
	if inMemory {
		bo = bo.WithDir("").WithValueDir("")
	}
	if o.LowMemory {
		bo = bo.
			WithMemTableSize(8 << 20).
			WithNumMemtables(2).
			WithNumLevelZeroTables(2).
			WithNumLevelZeroTablesStall(8).
			WithIndexCacheSize(4 << 20).
			WithBlockCacheSize(0).
			WithCompression(options.None).
			WithValueThreshold(4 << 10).
			WithValueLogFileSize(64 << 20).
			WithNumCompactors(2).
			WithNumGoroutines(2)
	}
	if inMemory {
		// Without a value log every value must fit in the LSM tree; Badger
		// rejects (and its loader crashes on) larger ones. 1 MiB is its cap.
		bo = bo.WithValueThreshold(1 << 20)
	}
	return bo
}

// Open opens (creating if needed) the database in dir. A directory held by
// another process gives an error matching ErrInUse.
func Open(dir string, o Options) (*Badger, error) {
	if dir == "" {
		return nil, errors.New("data: empty data directory")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	o = withLogger(o)
	db, err := badger.Open(badgerOptions(dir, false, o))
	if err != nil {
		if isDirLockError(err) {
			return nil, fmt.Errorf("%w: %s", ErrInUse, dir)
		}
		return nil, fmt.Errorf("data: opening %s: %w", dir, err)
	}
	return start(db, o, false)
}

// OpenInMemory opens a memory-only database (tests).
func OpenInMemory() (*Badger, error) {
	o := withLogger(Options{LowMemory: true})
	db, err := badger.Open(badgerOptions("", true, o))
	if err != nil {
		return nil, fmt.Errorf("data: opening in-memory store: %w", err)
	}
	return start(db, o, true)
}

func withLogger(o Options) Options {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// isDirLockError recognises Badger's directory lock failure, which has no
// sentinel error, by its message.
func isDirLockError(err error) bool {
	return strings.Contains(err.Error(), "Another process is using this Badger database")
}

func start(db *badger.DB, o Options, inMemory bool) (*Badger, error) {
	b := &Badger{db: db, log: o.Logger, stopGC: make(chan struct{}), gcDone: make(chan struct{})}
	b.idle = sync.NewCond(&b.mu)
	err := db.View(func(txn *badger.Txn) error {
		if err := b.revs.load(txn); err != nil {
			return err
		}
		return b.checkSchema(txn)
	})
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	interval := o.GCInterval
	if interval == 0 {
		interval = DefaultGCInterval
	}
	if inMemory || interval < 0 {
		close(b.gcDone)
	} else {
		go b.gcLoop(interval)
	}
	return b, nil
}

// gcLoop runs value-log GC every interval until Close. RunValueLogGC
// rewrites at most one file per call, so it repeats while files qualify.
func (b *Badger) gcLoop(interval time.Duration) {
	defer close(b.gcDone)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-b.stopGC:
			return
		case <-t.C:
		}
		for {
			select {
			case <-b.stopGC:
				return
			default:
			}
			err := b.db.RunValueLogGC(gcDiscardRatio)
			if err == nil {
				continue
			}
			if !errors.Is(err, badger.ErrNoRewrite) && !errors.Is(err, badger.ErrRejected) {
				b.log.Warn("data: value log GC failed", "err", err)
			}
			break
		}
	}
}

// enter admits an operation unless the store is closed or ctx is done;
// every successful enter is paired with leave.
func (b *Badger) enter(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	b.inflight++
	return nil
}

func (b *Badger) leave() {
	b.mu.Lock()
	b.inflight--
	if b.inflight == 0 && b.closed {
		b.idle.Broadcast()
	}
	b.mu.Unlock()
}

// Sync makes every acknowledged write durable.
func (b *Badger) Sync() error {
	if err := b.enter(context.Background()); err != nil {
		return err
	}
	defer b.leave()
	return b.db.Sync()
}

// Close waits for operations in flight, stops the GC and closes the
// database. Later operations return ErrClosed; closing again is a no-op.
// An operation started from inside a Scan callback during Close gets
// ErrClosed rather than deadlocking.
func (b *Badger) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	for b.inflight > 0 {
		b.idle.Wait()
	}
	b.mu.Unlock()
	close(b.stopGC)
	<-b.gcDone
	b.revs.mu.Lock()
	lease := b.revs.extending
	b.revs.mu.Unlock()
	if lease != nil {
		<-lease // a background lease write must not outlive the database
	}
	if err := b.db.Close(); err != nil {
		return fmt.Errorf("data: closing: %w", err)
	}
	return nil
}

// update runs fn in a read-write transaction, retrying (with jittered
// backoff) when it loses a conflict with a concurrent transaction.
func (b *Badger) update(ctx context.Context, fn func(txn *badger.Txn) error) error {
	for attempt := 1; ; attempt++ {
		err := b.db.Update(fn)
		if !errors.Is(err, badger.ErrConflict) {
			return err
		}
		if attempt == maxAttempts {
			return fmt.Errorf("data: %d attempts lost to concurrent writers: %w", attempt, err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		time.Sleep(time.Duration(rand.Int64N(int64(min(attempt, 50)) * int64(20*time.Microsecond))))
	}
}

// revLease hands out revisions from a process-wide counter. Revisions are
// unique across all keys and never reused (not even after a delete, so a
// stale CompareAndSet cannot succeed on a re-created key), and they grow in
// commit order for each key (see nextRev). The counter reserves
// revLeaseSize numbers at a time by writing the upper bound to revLeaseKey
// before handing any of them out; after a crash the unused rest is skipped.
//
// The next lease is written in the background once half of the current one
// is used: writing it inline, under the mutex, made every writer of the
// process wait for one more commit in Badger's write queue (S7: 800
// publishes stuck behind one lease write). Only one lease write is ever in
// flight, so the stored bound never goes down.
type revLease struct {
	mu          sync.Mutex
	next, limit uint64
	// extending is closed when the lease write in flight is done; nil
	// when there is none. failed is the last lease write's error.
	extending chan struct{}
	failed    error
}

func (r *revLease) load(txn *badger.Txn) error {
	item, err := txn.Get(revLeaseKey)
	if errors.Is(err, badger.ErrKeyNotFound) {
		r.mu.Lock()
		r.next = max(r.next, 1)
		r.mu.Unlock()
		return nil
	}
	if err != nil {
		return fmt.Errorf("data: reading revision lease: %w", err)
	}
	return item.Value(func(v []byte) error {
		if len(v) != 8 {
			return fmt.Errorf("data: corrupt revision lease (%d bytes)", len(v))
		}
		l := beUint64(v)
		r.mu.Lock()
		// Numbers below a persisted lease may have been used: start above it.
		r.next = max(r.next, l, 1)
		r.limit = r.next
		r.mu.Unlock()
		return nil
	})
}

// nextRev returns a fresh revision. Writers call it inside their
// transaction after reading the key: two writers of one key conflict, and a
// writer that commits without conflict started after the other committed,
// so it also drew a larger revision.
func (b *Badger) nextRev() (uint64, error) {
	r := &b.revs
	r.mu.Lock()
	for r.next >= r.limit {
		// Used up before the background write finished (or failed):
		// wait for one.
		done := r.extending
		if done == nil {
			done = b.extendLeaseLocked()
		}
		r.mu.Unlock()
		<-done
		r.mu.Lock()
		if r.next >= r.limit && r.extending == nil && r.failed != nil {
			err := r.failed
			r.failed = nil
			r.mu.Unlock()
			return 0, fmt.Errorf("data: extending revision lease: %w", err)
		}
	}
	if r.extending == nil && r.limit-r.next <= revLeaseSize/2 {
		b.extendLeaseLocked()
	}
	rev := r.next
	r.next++
	r.mu.Unlock()
	return rev, nil
}

// extendLeaseLocked starts writing the next lease bound (r.mu held, no
// write in flight) and returns the channel closed when it is done.
func (b *Badger) extendLeaseLocked() chan struct{} {
	r := &b.revs
	done := make(chan struct{})
	r.extending = done
	limit := max(r.limit, r.next) + revLeaseSize
	go func() {
		err := b.db.Update(func(txn *badger.Txn) error {
			return txn.Set(revLeaseKey, beAppend(nil, limit))
		})
		r.mu.Lock()
		if err == nil {
			r.limit = max(r.limit, limit)
		}
		r.failed = err
		r.extending = nil
		r.mu.Unlock()
		close(done)
	}()
	return done
}

// checkSchema refuses a database written by a newer layout and notes
// whether the schema key still has to be written.
func (b *Badger) checkSchema(txn *badger.Txn) error {
	item, err := txn.Get(kvKey(SchemaKey()))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("data: reading schema version: %w", err)
	}
	return item.Value(func(v []byte) error {
		_, val, err := splitRevValue(v)
		if err != nil {
			return err
		}
		n, err := strconv.Atoi(string(val))
		if err != nil {
			return fmt.Errorf("data: corrupt schema version %q", val)
		}
		if n > SchemaVersion {
			return fmt.Errorf("data: the database has schema version %d; this gavel supports up to %d", n, SchemaVersion)
		}
		b.schemaWritten.Store(true)
		return nil
	})
}

// ensureSchema records SchemaVersion before the first write to a database
// that lacks it. It is lazy so that a freshly opened database stays empty
// (Restore accepts only an empty one).
func (b *Badger) ensureSchema(ctx context.Context) error {
	if b.schemaWritten.Load() {
		return nil
	}
	b.schemaMu.Lock()
	defer b.schemaMu.Unlock()
	if b.schemaWritten.Load() {
		return nil
	}
	key := kvKey(SchemaKey())
	err := b.update(ctx, func(txn *badger.Txn) error {
		if _, err := txn.Get(key); err == nil {
			return nil
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		rev, err := b.nextRev()
		if err != nil {
			return err
		}
		return txn.Set(key, revValue(rev, []byte(strconv.Itoa(SchemaVersion))))
	})
	if err != nil {
		return fmt.Errorf("data: writing schema version: %w", err)
	}
	b.schemaWritten.Store(true)
	return nil
}

// badgerLogger sends Badger's log lines to slog: errors and warnings as
// such, its routine info (table and compaction chatter) at debug level.
type badgerLogger struct{ l *slog.Logger }

func (l badgerLogger) logf(level slog.Level, format string, args ...any) {
	if !l.l.Enabled(context.Background(), level) {
		return
	}
	l.l.Log(context.Background(), level, "badger: "+strings.TrimSpace(fmt.Sprintf(format, args...)))
}

func (l badgerLogger) Errorf(f string, a ...any)   { l.logf(slog.LevelError, f, a...) }
func (l badgerLogger) Warningf(f string, a ...any) { l.logf(slog.LevelWarn, f, a...) }
func (l badgerLogger) Infof(f string, a ...any)    { l.logf(slog.LevelDebug, f, a...) }
func (l badgerLogger) Debugf(f string, a ...any)   { l.logf(slog.LevelDebug, f, a...) }
