package data

// Storage latency instrumentation, kept free of any metrics library: the
// server package feeds the observations into its Prometheus histogram.

import (
	"context"
	"time"
)

// Operation names passed to the observer of Instrument.
const (
	OpGet           = "get"
	OpPut           = "put"
	OpCompareAndSet = "compare_and_set"
	OpDelete        = "delete"
	OpDeleteIf      = "delete_if"
	OpScan          = "scan"
	OpDeletePrefix  = "delete_prefix"
	OpAppend        = "append"
	OpAppendBatch   = "append_batch"
	OpRead          = "read"
	OpReadBack      = "read_back"
	OpLast          = "last"
	OpTruncate      = "truncate"
	OpDeleteStream  = "delete_stream"
	OpSync          = "sync"
	OpApply         = "apply"
)

// Instrument wraps s so that every operation reports its name, duration in
// seconds and error to observe (called synchronously, so it must be cheap
// and safe for concurrent use). Expected outcomes such as ErrNotFound,
// ErrRevision and ErrSequence are passed as errors too; the observer decides
// what counts as a failure. Scan's time includes its callbacks. Close is
// passed through unobserved.
func Instrument(s Store, observe func(op string, seconds float64, err error)) Store {
	return &instrumented{s: s, observe: observe}
}

type instrumented struct {
	s       Store
	observe func(op string, seconds float64, err error)
}

func (m *instrumented) done(op string, start time.Time, err error) {
	m.observe(op, time.Since(start).Seconds(), err)
}

func (m *instrumented) Get(ctx context.Context, key []byte) ([]byte, uint64, error) {
	start := time.Now()
	val, rev, err := m.s.Get(ctx, key)
	m.done(OpGet, start, err)
	return val, rev, err
}

func (m *instrumented) Put(ctx context.Context, key, val []byte) (uint64, error) {
	start := time.Now()
	rev, err := m.s.Put(ctx, key, val)
	m.done(OpPut, start, err)
	return rev, err
}

func (m *instrumented) CompareAndSet(ctx context.Context, key, val []byte, expectRev uint64) (uint64, error) {
	start := time.Now()
	rev, err := m.s.CompareAndSet(ctx, key, val, expectRev)
	m.done(OpCompareAndSet, start, err)
	return rev, err
}

func (m *instrumented) Delete(ctx context.Context, key []byte) error {
	start := time.Now()
	err := m.s.Delete(ctx, key)
	m.done(OpDelete, start, err)
	return err
}

func (m *instrumented) DeleteIf(ctx context.Context, key []byte, expectRev uint64) error {
	start := time.Now()
	err := m.s.DeleteIf(ctx, key, expectRev)
	m.done(OpDeleteIf, start, err)
	return err
}

func (m *instrumented) Scan(ctx context.Context, prefix, after []byte, limit int, fn func(key, val []byte, rev uint64) bool) error {
	start := time.Now()
	err := m.s.Scan(ctx, prefix, after, limit, fn)
	m.done(OpScan, start, err)
	return err
}

func (m *instrumented) DeletePrefix(ctx context.Context, prefix []byte) error {
	start := time.Now()
	err := m.s.DeletePrefix(ctx, prefix)
	m.done(OpDeletePrefix, start, err)
	return err
}

func (m *instrumented) Append(ctx context.Context, stream string, d []byte, expectLastSeq uint64) (uint64, error) {
	start := time.Now()
	seq, err := m.s.Append(ctx, stream, d, expectLastSeq)
	m.done(OpAppend, start, err)
	return seq, err
}

func (m *instrumented) AppendBatch(ctx context.Context, stream string, ds [][]byte, expectLastSeq uint64) (uint64, error) {
	start := time.Now()
	seq, err := m.s.AppendBatch(ctx, stream, ds, expectLastSeq)
	m.done(OpAppendBatch, start, err)
	return seq, err
}

func (m *instrumented) Apply(ctx context.Context, b *Batch) ([]uint64, error) {
	start := time.Now()
	seqs, err := m.s.Apply(ctx, b)
	m.done(OpApply, start, err)
	return seqs, err
}

func (m *instrumented) Read(ctx context.Context, stream string, fromSeq uint64, limit int) ([]Entry, error) {
	start := time.Now()
	es, err := m.s.Read(ctx, stream, fromSeq, limit)
	m.done(OpRead, start, err)
	return es, err
}

func (m *instrumented) ReadBack(ctx context.Context, stream string, beforeSeq uint64, limit int) ([]Entry, error) {
	start := time.Now()
	es, err := m.s.ReadBack(ctx, stream, beforeSeq, limit)
	m.done(OpReadBack, start, err)
	return es, err
}

func (m *instrumented) Last(ctx context.Context, stream string) (uint64, uint64, error) {
	start := time.Now()
	last, first, err := m.s.Last(ctx, stream)
	m.done(OpLast, start, err)
	return last, first, err
}

func (m *instrumented) Truncate(ctx context.Context, stream string, beforeSeq uint64) error {
	start := time.Now()
	err := m.s.Truncate(ctx, stream, beforeSeq)
	m.done(OpTruncate, start, err)
	return err
}

func (m *instrumented) DeleteStream(ctx context.Context, stream string) error {
	start := time.Now()
	err := m.s.DeleteStream(ctx, stream)
	m.done(OpDeleteStream, start, err)
	return err
}

func (m *instrumented) Sync() error {
	start := time.Now()
	err := m.s.Sync()
	m.done(OpSync, start, err)
	return err
}

func (m *instrumented) Close() error { return m.s.Close() }
