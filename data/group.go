package data

// Group commit for Apply. Each Badger transaction costs a few hundred
// microseconds of CPU and one fsync whoever else commits at the same time;
// batches joined into one transaction share both. On one core: 2,300
// single-publish batches/s, 12,900 publishes/s eight to a transaction,
// 31,000 thirty-two to one (pubsub publishes: an append and an index key
// each). Grouped makes concurrent Apply calls of one process — say the
// pubsub node actors publishing at once — commit together: a caller
// arriving while a commit runs waits for it, then everything that queued
// meanwhile goes in the next one, led by one of the waiting callers.

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Group bounds: one joined transaction stays well inside Badger's limits
// (a batch that alone is too large fails alone, as without grouping).
const (
	groupMaxOps   = 4096
	groupMaxBytes = 4 << 20
)

// Grouped returns s with Apply calls joined into group commits; everything
// else goes straight to s.
func Grouped(s Store) Store {
	return &grouped{Store: s}
}

type grouped struct {
	Store
	mu      sync.Mutex
	pending []*groupReq
	running bool // a leader is committing; newcomers queue in pending
}

type groupReq struct {
	b    *Batch
	seqs []uint64
	err  error
	// wake is signalled once: when the outcome is set (finished), or when
	// this caller must lead the next round (lead, set under mu).
	wake     chan struct{}
	finished bool
	lead     bool
}

// Apply implements Applier: b is committed atomically and durably, in a
// transaction it may share with other callers' batches. A batch that
// fails in a group (an expectation, its size) is retried alone, so its
// outcome is the one Apply of s would give it. The write is not
// cancelled by ctx once queued: Apply waits for its outcome.
//
// The commit runs on a caller's goroutine (leader-follower): the caller
// that finds no round under way leads one — it commits everything pending,
// its own batch included — and hands the lead to the first caller that
// queued meanwhile. A dedicated committer goroutine had to be scheduled
// for every round, and on a one-core server under load (the S7 benchmark:
// 5,000 pubsub nodes publishing) it waited behind the whole run queue:
// the scheduler-delay profile showed it runnable-but-waiting most of the
// time, and publishes queued behind it. A leader leads one round only, so
// no caller commits for others indefinitely.
func (g *grouped) Apply(ctx context.Context, b *Batch) ([]uint64, error) {
	if err := b.check(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	req := &groupReq{b: b, wake: make(chan struct{}, 1)}
	g.mu.Lock()
	g.pending = append(g.pending, req)
	if !g.running {
		g.running, req.lead = true, true
	}
	lead := req.lead
	g.mu.Unlock()
	if !lead {
		<-req.wake
		if req.finished {
			return req.seqs, req.err
		}
		// Handed the lead: our batch is still pending, in this round.
	}
	g.leadRound()
	return req.seqs, req.err
}

// leadRound commits everything pending, group after group, then passes
// the lead to the first caller that queued meanwhile (or ends it).
func (g *grouped) leadRound() {
	g.mu.Lock()
	reqs := g.pending
	g.pending = nil
	g.mu.Unlock()
	// A panic in the store (recovered further up, by an actor) must not
	// leave callers waiting for ever or the lead taken: the batches not
	// finished fail, the lead passes on, and the panic goes on up.
	defer func() {
		if p := recover(); p != nil {
			for _, r := range reqs {
				if !r.finished {
					r.err = fmt.Errorf("data: group commit failed: %v", p)
					finish(r)
				}
			}
			g.passLead()
			panic(p)
		}
	}()
	for rest := reqs; len(rest) > 0; {
		n, ops, size := 0, 0, 0
		for n < len(rest) && (n == 0 || (ops+len(rest[n].b.ops) <= groupMaxOps && size+rest[n].b.size <= groupMaxBytes)) {
			ops += len(rest[n].b.ops)
			size += rest[n].b.size
			n++
		}
		g.commit(rest[:n])
		rest = rest[n:]
	}
	g.passLead()
}

// finish publishes r's outcome to its caller.
func finish(r *groupReq) {
	r.finished = true
	r.wake <- struct{}{} // capacity 1, signalled once (a leader's own is never read)
}

// passLead hands the lead to the first caller that queued during the
// round, or ends it.
func (g *grouped) passLead() {
	g.mu.Lock()
	if len(g.pending) == 0 {
		g.running = false
		g.mu.Unlock()
		return
	}
	next := g.pending[0]
	next.lead = true
	g.mu.Unlock()
	next.wake <- struct{}{}
}

// commit applies reqs in one transaction, or one by one when the joint
// one fails.
func (g *grouped) commit(reqs []*groupReq) {
	// Outcomes are published only once known: if the store panics, the
	// panic goes up to leadRound, which fails the unfinished ones.
	g.apply(reqs)
	for _, r := range reqs {
		finish(r)
	}
}

// apply sets the outcomes of reqs: one joint transaction, or one each
// when the joint one fails.
func (g *grouped) apply(reqs []*groupReq) {
	ctx := context.Background() // queued writes are not cancelled
	if len(reqs) == 1 {
		reqs[0].seqs, reqs[0].err = g.Store.Apply(ctx, reqs[0].b)
		return
	}
	var joint Batch
	for _, r := range reqs {
		joint.ops = append(joint.ops, r.b.ops...)
		joint.size += r.b.size
	}
	seqs, err := g.Store.Apply(ctx, &joint)
	if err == nil {
		for _, r := range reqs {
			n := r.b.appends()
			r.seqs, seqs = seqs[:n:n], seqs[n:]
		}
		return
	}
	if errors.Is(err, ErrClosed) {
		for _, r := range reqs {
			r.err = err
		}
		return
	}
	for _, r := range reqs {
		r.seqs, r.err = g.Store.Apply(ctx, r.b)
	}
}

// appends counts the batch's Append operations (one sequence each).
func (b *Batch) appends() int {
	n := 0
	for _, op := range b.ops {
		if op.kind == batchAppend {
			n++
		}
	}
	return n
}
