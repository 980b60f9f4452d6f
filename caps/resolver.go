package caps

// Resolving a <c/> to features (§6.2): from the cache when the ver was
// verified before; otherwise one disco#info query to the advertising
// entity, however many entities advertise the same ver meanwhile. A
// verified answer is cached for everyone; a mismatch is trusted by no one
// and the next entity advertising that ver is asked instead (§5.4 3.9).
// Unsupported hashes and the legacy format are asked per entity and the
// answer is used for that entity only (§5.4 2.3, §8.4).

import (
	"context"
	"log/slog"
	"sync"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/xmlstream"
)

// Querier sends a disco#info get with the given node from 'from' to 'to'
// and calls done exactly once, on any goroutine (even before it returns),
// with the result's <query/> or an error (an error reply, a timeout). A
// non-nil return means the query was not sent and done will not be called.
type Querier func(ctx context.Context, from, to jid.JID, node string, done func(query *xmlstream.Element, err error)) error

// Defaults of ResolverOptions.
const (
	DefaultMaxPending = 1024
	DefaultMaxWaiters = 1024
)

// ResolverOptions configure a Resolver.
type ResolverOptions struct {
	Cache *Cache
	Query Querier
	// MaxPending bounds the vers being resolved at once; MaxWaiters the
	// entities waiting for one. Beyond them an entity gets no features.
	MaxPending, MaxWaiters int
	Logger                 *slog.Logger
}

// Resolver turns advertised caps into features. Safe for concurrent use.
type Resolver struct {
	opts    ResolverOptions
	mu      sync.Mutex
	pending map[pendingKey]*pendingQuery
}

// pendingKey: hashed vers are shared by every entity; the others are per
// entity (entity is "" for hashed ones).
type pendingKey struct{ hash, ver, node, entity string }

type pendingQuery struct {
	caps    Caps
	waiters []waiter // waiters[0].entity is being asked
}

type waiter struct {
	from, entity jid.JID
	done         func(Features)
}

// NewResolver builds a Resolver.
func NewResolver(o ResolverOptions) *Resolver {
	if o.MaxPending <= 0 {
		o.MaxPending = DefaultMaxPending
	}
	if o.MaxWaiters <= 0 {
		o.MaxWaiters = DefaultMaxWaiters
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Resolver{opts: o, pending: map[pendingKey]*pendingQuery{}}
}

// Resolve returns the features entity advertises with c. When they are
// known at once it returns them with ok true (nil features: nothing can be
// trusted, e.g. a ver that is no hash of its algorithm). Otherwise it asks
// entity — from 'from', the local address the answer comes back to —
// and returns ok false; done gets the features later (nil when the answer
// failed or did not verify). done must not block.
func (r *Resolver) Resolve(ctx context.Context, from, entity jid.JID, c Caps, done func(Features)) (f Features, ok bool) {
	ctx = context.WithoutCancel(ctx) // the answer outlives the presence that asked
	key := pendingKey{entity: entity.String(), hash: c.Hash, ver: c.Ver, node: c.Node}
	if !c.Legacy() && Supported(c.Hash) {
		if !plausible(c.Hash, c.Ver) {
			return nil, true
		}
		if f, ok := r.opts.Cache.Get(ctx, c.Hash, c.Ver); ok {
			return f, true
		}
		key = pendingKey{hash: c.Hash, ver: c.Ver}
	}
	w := waiter{from: from, entity: entity, done: done}
	r.mu.Lock()
	p := r.pending[key]
	switch {
	case p != nil && len(p.waiters) >= r.opts.MaxWaiters, p == nil && len(r.pending) >= r.opts.MaxPending:
		r.mu.Unlock()
		r.opts.Logger.Warn("caps: too many queries in flight; entity gets no features", "entity", entity.String())
		return nil, true
	case p != nil:
		p.waiters = append(p.waiters, w)
		r.mu.Unlock()
		return nil, false
	}
	p = &pendingQuery{caps: c, waiters: []waiter{w}}
	r.pending[key] = p
	r.mu.Unlock()
	r.ask(ctx, key, p.caps, w)
	return nil, false
}

// ask queries w.entity for the pending key.
func (r *Resolver) ask(ctx context.Context, key pendingKey, c Caps, w waiter) {
	err := r.opts.Query(ctx, w.from, w.entity, c.DiscoNode(), func(q *xmlstream.Element, err error) {
		r.answered(ctx, key, c, w.entity, q, err)
	})
	if err != nil {
		r.answered(ctx, key, c, w.entity, nil, err)
	}
}

// answered handles entity's answer (or failure) for key.
func (r *Resolver) answered(ctx context.Context, key pendingKey, c Caps, entity jid.JID, q *xmlstream.Element, qerr error) {
	features, err := r.check(ctx, c, q, qerr)
	if err != nil {
		r.opts.Logger.Debug("caps: not trusted", "entity", entity.String(), "hash", c.Hash, "ver", c.Ver, "err", err)
	}
	r.mu.Lock()
	p := r.pending[key]
	if p == nil {
		r.mu.Unlock()
		return
	}
	var served, rest []waiter
	if err == nil {
		served = p.waiters
	} else {
		// Only the entity that failed is refused; the next one that
		// advertises the same ver is asked in turn.
		for _, w := range p.waiters {
			if w.entity.Equal(entity) {
				served = append(served, w)
			} else {
				rest = append(rest, w)
			}
		}
	}
	if len(rest) == 0 {
		delete(r.pending, key)
	} else {
		p.waiters = rest
	}
	r.mu.Unlock()
	for _, w := range served {
		w.done(features)
	}
	if len(rest) > 0 {
		r.ask(ctx, key, c, rest[0])
	}
}

// check turns an answer into features: verified and cached for a
// supported hash, for the entity alone otherwise.
func (r *Resolver) check(ctx context.Context, c Caps, q *xmlstream.Element, qerr error) (Features, error) {
	if qerr != nil {
		return nil, qerr
	}
	info, err := ParseInfo(q)
	if err != nil {
		return nil, err
	}
	f := NewFeatures(info.Features)
	if c.Legacy() || !Supported(c.Hash) {
		return f, nil
	}
	if err := Verify(c, info); err != nil {
		return nil, err
	}
	r.opts.Cache.Put(ctx, c.Hash, c.Ver, f)
	return f, nil
}
