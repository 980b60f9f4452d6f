package auth

import (
	"bytes"
	"context"
	"sort"
	"sync"

	"github.com/gavelhq/gavel/data"
)

// memKV is a map-based data.KV for unit tests, independent of Badger.
type memKV struct {
	mu   sync.Mutex
	rev  uint64
	vals map[string]memVal
	// getErr, if set, fails every Get (store outage).
	getErr error
}

type memVal struct {
	val []byte
	rev uint64
}

func newMemKV() *memKV { return &memKV{vals: map[string]memVal{}} }

func (m *memKV) Get(_ context.Context, key []byte) ([]byte, uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.getErr != nil {
		return nil, 0, m.getErr
	}
	v, ok := m.vals[string(key)]
	if !ok {
		return nil, 0, data.ErrNotFound
	}
	return bytes.Clone(v.val), v.rev, nil
}

func (m *memKV) put(key, val []byte) uint64 {
	m.rev++
	m.vals[string(key)] = memVal{bytes.Clone(val), m.rev}
	return m.rev
}

func (m *memKV) Put(_ context.Context, key, val []byte) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.put(key, val), nil
}

func (m *memKV) CompareAndSet(_ context.Context, key, val []byte, expectRev uint64) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.vals[string(key)].rev != expectRev {
		return 0, data.ErrRevision
	}
	return m.put(key, val), nil
}

func (m *memKV) Delete(_ context.Context, key []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.vals, string(key))
	return nil
}

func (m *memKV) DeleteIf(_ context.Context, key []byte, expectRev uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.vals[string(key)].rev != expectRev {
		return data.ErrRevision
	}
	delete(m.vals, string(key))
	return nil
}

func (m *memKV) Scan(_ context.Context, prefix, after []byte, limit int, fn func(key, val []byte, rev uint64) bool) error {
	m.mu.Lock()
	var keys []string
	for k := range m.vals {
		if bytes.HasPrefix([]byte(k), prefix) && (after == nil || k > string(after)) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	vals := make([]memVal, len(keys))
	for i, k := range keys {
		vals[i] = m.vals[k]
	}
	m.mu.Unlock()
	for i, k := range keys {
		if limit > 0 && i >= limit {
			break
		}
		if !fn([]byte(k), vals[i].val, vals[i].rev) {
			break
		}
	}
	return nil
}

func (m *memKV) DeletePrefix(_ context.Context, prefix []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k := range m.vals {
		if bytes.HasPrefix([]byte(k), prefix) {
			delete(m.vals, k)
		}
	}
	return nil
}

var _ data.KV = (*memKV)(nil)
