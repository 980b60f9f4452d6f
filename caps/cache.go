package caps

// The cache of verified verification strings (§6.2 3.8: "SHOULD globally
// cache the result"; §7.2: across presence sessions). Only a ver whose
// hash the server reconstructed gets here: unsupported hashes, legacy
// vers and mismatches never do (§5.4, §8.4).
//
// Two levels: a bounded LRU in memory, and the Store (data.CapsKey) so a
// restart does not send disco#info to every client again. The stored
// entries are bounded too: past MaxStored a new ver is kept in memory
// only. A stored entry never goes stale: a verified ver names one feature
// set for good.

import (
	"container/list"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"sync"

	"github.com/gavelhq/gavel/data"
)

// Features is a feature set, shared read-only between every entity that
// advertises the same ver.
type Features map[string]struct{}

// NewFeatures builds a set from a list.
func NewFeatures(list []string) Features {
	f := make(Features, len(list))
	for _, v := range list {
		f[v] = struct{}{}
	}
	return f
}

// Has reports whether the set contains feature v.
func (f Features) Has(v string) bool {
	_, ok := f[v]
	return ok
}

// Defaults of CacheOptions.
const (
	DefaultMaxEntries = 4096
	DefaultMaxStored  = 10000
)

// CacheOptions configure a Cache.
type CacheOptions struct {
	// Store keeps verified entries across restarts; nil: memory only.
	Store data.KV
	// MaxEntries bounds the in-memory LRU (default DefaultMaxEntries).
	MaxEntries int
	// MaxStored bounds the entries in the Store (default DefaultMaxStored).
	MaxStored int
	Logger    *slog.Logger
}

// Cache maps verified (hash, ver) pairs to their features. Safe for
// concurrent use.
type Cache struct {
	opts CacheOptions

	mu     sync.Mutex
	lru    *list.List // of *cacheEntry, most recent first
	index  map[cacheKey]*list.Element
	stored int // entries in the Store (counted at open, then maintained)
}

type cacheKey struct{ hash, ver string }

type cacheEntry struct {
	key      cacheKey
	features Features
}

// storedEntry is the Store's value: the feature list, sorted.
type storedEntry struct {
	Features []string `json:"f"`
}

// OpenCache builds a cache; with a Store it counts the stored entries
// (one key scan) to enforce MaxStored.
func OpenCache(ctx context.Context, o CacheOptions) (*Cache, error) {
	if o.MaxEntries <= 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	if o.MaxStored <= 0 {
		o.MaxStored = DefaultMaxStored
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	c := &Cache{opts: o, lru: list.New(), index: map[cacheKey]*list.Element{}}
	if o.Store != nil {
		err := o.Store.Scan(ctx, data.CapsPrefix(), nil, 0, func(_, _ []byte, _ uint64) bool {
			c.stored++
			return true
		})
		if err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Len is the number of entries in memory.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// Stored is the number of entries in the Store.
func (c *Cache) Stored() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stored
}

// Get returns the features of a verified ver: from memory, else from
// the Store (then kept in memory).
func (c *Cache) Get(ctx context.Context, hash, ver string) (Features, bool) {
	k := cacheKey{hash, ver}
	c.mu.Lock()
	if el, ok := c.index[k]; ok {
		c.lru.MoveToFront(el)
		f := el.Value.(*cacheEntry).features
		c.mu.Unlock()
		return f, true
	}
	c.mu.Unlock()
	if c.opts.Store == nil || !plausible(hash, ver) {
		return nil, false
	}
	val, _, err := c.opts.Store.Get(ctx, data.CapsKey(hash, ver))
	if err != nil {
		if !errors.Is(err, data.ErrNotFound) {
			c.opts.Logger.Warn("caps cache unreadable", "hash", hash, "ver", ver, "err", err)
		}
		return nil, false
	}
	var se storedEntry
	if err := json.Unmarshal(val, &se); err != nil {
		c.opts.Logger.Warn("caps cache entry unreadable", "hash", hash, "ver", ver, "err", err)
		return nil, false
	}
	f := NewFeatures(se.Features)
	c.remember(k, f)
	return f, true
}

// Put records a verified ver. Callers must have checked it with Verify.
func (c *Cache) Put(ctx context.Context, hash, ver string, features Features) {
	k := cacheKey{hash, ver}
	if c.remember(k, features) && c.opts.Store != nil && c.reserveStored() {
		list := make([]string, 0, len(features))
		for f := range features {
			list = append(list, f)
		}
		slices.Sort(list)
		val, _ := json.Marshal(storedEntry{Features: list})
		_, err := c.opts.Store.CompareAndSet(ctx, data.CapsKey(hash, ver), val, 0)
		if err != nil {
			c.releaseStored()
			if !errors.Is(err, data.ErrRevision) { // ErrRevision: already stored
				c.opts.Logger.Warn("caps cache not stored", "hash", hash, "ver", ver, "err", err)
			}
		}
	}
}

// remember puts k in the LRU, evicting the least recent entry past
// MaxEntries; it reports whether k was new.
func (c *Cache) remember(k cacheKey, f Features) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.index[k]; ok {
		c.lru.MoveToFront(el)
		return false
	}
	c.index[k] = c.lru.PushFront(&cacheEntry{key: k, features: f})
	for c.lru.Len() > c.opts.MaxEntries {
		old := c.lru.Back()
		c.lru.Remove(old)
		delete(c.index, old.Value.(*cacheEntry).key)
	}
	return true
}

func (c *Cache) reserveStored() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stored >= c.opts.MaxStored {
		return false
	}
	c.stored++
	return true
}

func (c *Cache) releaseStored() {
	c.mu.Lock()
	c.stored--
	c.mu.Unlock()
}
