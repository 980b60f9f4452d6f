// Package actor is the registry the server's per-key actors live in — a
// MUC room, a pubsub node: an actor starts with the first message for its
// key, owns its state on one goroutine, reads a bounded mailbox that never
// blocks a sender, and retires only when nothing waits for it, so no
// message is lost between an actor deciding to stop and a sender finding
// it. The registry is sharded: senders to different keys rarely share a
// lock.
package actor

import (
	"context"
	"errors"
	"hash/maphash"
	"sync"
)

const shardCount = 64

// Errors of Send.
var (
	ErrClosed = errors.New("actor: registry closed")
	ErrFull   = errors.New("actor: mailbox full")
)

// Handle is an actor's entry while it runs: its key, its mailbox, and
// Extra, what its owner keeps beside it for readers outside the actor
// (e.g. a published snapshot of the actor's state).
type Handle[K comparable, M, X any] struct {
	Key     K
	Mailbox chan M
	Extra   X
}

// Registry holds the running actors of one kind.
type Registry[K comparable, M, X any] struct {
	seed     maphash.Seed
	shards   [shardCount]shard[K, M, X]
	mailbox  int
	run      func(*Handle[K, M, X])
	wg       sync.WaitGroup
	stopping chan struct{}
	stopOnce sync.Once
}

type shard[K comparable, M, X any] struct {
	mu      sync.Mutex
	handles map[K]*Handle[K, M, X]
	closed  bool
}

// New makes a registry whose actors have mailboxes of mailbox messages and
// run run (on their own goroutine; when run returns, the actor is gone —
// it must have been released, or the registry be stopping).
func New[K comparable, M, X any](mailbox int, run func(*Handle[K, M, X])) *Registry[K, M, X] {
	r := &Registry[K, M, X]{seed: maphash.MakeSeed(), mailbox: mailbox, run: run, stopping: make(chan struct{})}
	for i := range r.shards {
		r.shards[i].handles = map[K]*Handle[K, M, X]{}
	}
	return r
}

func (r *Registry[K, M, X]) shard(k K) *shard[K, M, X] {
	return &r.shards[maphash.Comparable(r.seed, k)%shardCount]
}

// Send queues m for k's actor, starting the actor if none runs. It never
// blocks: ErrFull when the mailbox is full, ErrClosed once closing.
func (r *Registry[K, M, X]) Send(k K, m M) error {
	sh := r.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.closed {
		return ErrClosed
	}
	h := sh.handles[k]
	if h == nil {
		h = &Handle[K, M, X]{Key: k, Mailbox: make(chan M, r.mailbox)}
		sh.handles[k] = h
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.run(h)
		}()
	}
	select {
	case h.Mailbox <- m:
		return nil
	default:
		return ErrFull
	}
}

// Release removes h if nothing waits in its mailbox; the actor may end
// only when it returns true.
func (r *Registry[K, M, X]) Release(h *Handle[K, M, X]) bool {
	sh := r.shard(h.Key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if len(h.Mailbox) > 0 {
		return false
	}
	if sh.handles[h.Key] == h {
		delete(sh.handles, h.Key)
	}
	return true
}

// Get returns k's running actor, or nil.
func (r *Registry[K, M, X]) Get(k K) *Handle[K, M, X] {
	sh := r.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.handles[k]
}

// Len is the number of running actors.
func (r *Registry[K, M, X]) Len() int {
	n := 0
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.Lock()
		n += len(sh.handles)
		sh.mu.Unlock()
	}
	return n
}

// Each calls fn for every running actor, holding its shard's lock: fn
// must be quick and must not call the registry.
func (r *Registry[K, M, X]) Each(fn func(*Handle[K, M, X])) {
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.Lock()
		for _, h := range sh.handles {
			fn(h)
		}
		sh.mu.Unlock()
	}
}

// Stopping is closed when the registry closes: actors drain and return.
func (r *Registry[K, M, X]) Stopping() <-chan struct{} { return r.stopping }

// Close refuses new messages, tells the actors to stop, and waits for
// them or ctx.
func (r *Registry[K, M, X]) Close(ctx context.Context) error {
	r.stopOnce.Do(func() {
		for i := range r.shards {
			sh := &r.shards[i]
			sh.mu.Lock()
			sh.closed = true
			sh.mu.Unlock()
		}
		close(r.stopping)
	})
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
