// Package router holds the registry of bound client sessions and dispatches
// stanzas by the domain of their 'to' address: the local domain and each
// service domain have a Handler; anything else goes to the remote handler
// (s2s) or bounces with remote-server-not-found.
//
// The router never blocks on a recipient: Session.Send only queues bytes on
// the session's bounded writer.
package router

import (
	"context"
	"errors"
	"hash/maphash"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/xmlstream"
)

// Session is a bound client resource as the router sees it.
type Session interface {
	// JID is the full JID the session is bound to.
	JID() jid.JID
	// Send queues st for writing without blocking. It returns false when the
	// session is closed (or was just closed because its queue overflowed).
	Send(st *xmlstream.Stanza) bool
	// Close ends the session with a stream error condition (RFC 6120 §4.9.3),
	// e.g. "conflict" when a newer session takes its resource.
	Close(condition, text string)
}

// Handler processes stanzas addressed to one domain.
type Handler interface {
	HandleStanza(ctx context.Context, st *xmlstream.Stanza)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, st *xmlstream.Stanza)

func (f HandlerFunc) HandleStanza(ctx context.Context, st *xmlstream.Stanza) { f(ctx, st) }

// ConflictPolicy decides what binding an already bound resource does (RFC 6120 §7.7.2.2).
type ConflictPolicy int

const (
	// ConflictReplace ends the old session with a <conflict/> stream error
	// and binds the new one (what most servers do).
	ConflictReplace ConflictPolicy = iota
	// ConflictRefuse fails the new bind with a <conflict/> stanza error.
	ConflictRefuse
	// ConflictRename binds the new session to a server-generated resource.
	ConflictRename
)

// ParseConflictPolicy maps a config word to a policy.
func ParseConflictPolicy(s string) (ConflictPolicy, error) {
	switch s {
	case "", "replace", "kick_old":
		return ConflictReplace, nil
	case "refuse", "reject":
		return ConflictRefuse, nil
	case "rename", "random":
		return ConflictRename, nil
	}
	return 0, errors.New("router: unknown resource conflict policy " + strconv.Quote(s))
}

// ErrConflict is returned by Bind under ConflictRefuse.
var ErrConflict = errors.New("router: resource conflict")

// ErrTooManyResources: the account reached its limit of bound resources.
var ErrTooManyResources = errors.New("router: too many resources")

// Resource is a snapshot of one bound resource and its presence state.
type Resource struct {
	Session  Session
	Full     string // full JID, normalized
	Resource string
	// Available is true once the resource sent available presence
	// (RFC 6121 §4.2) and until it sends unavailable presence.
	Available bool
	// Priority from its last available presence (-128..127).
	Priority int
	// Presence is the last available presence it broadcast (from stamped), or nil.
	Presence *xmlstream.Stanza
	// Interested: the resource requested the roster (RFC 6121 §2.1.6),
	// so it receives roster pushes and subscription requests.
	Interested bool
}

type user struct {
	resources []*Resource // bind order
}

type shard struct {
	mu    sync.RWMutex
	users map[string]*user // by bare JID string
}

const shardCount = 64

// Router is the stanza switch. The zero value is not usable; use New.
type Router struct {
	seed     maphash.Seed
	shards   [shardCount]shard
	policy   ConflictPolicy
	maxRes   int
	sessions atomic.Int64
	jids     *jidCache

	mu      sync.RWMutex
	domains map[string]Handler
	remote  Handler
	locals  map[string]bool
}

// Options configure a Router.
type Options struct {
	Conflict ConflictPolicy
	// MaxResources per account; 0 means unlimited.
	MaxResources int
}

// New returns an empty router.
func New(o Options) *Router {
	r := &Router{seed: maphash.MakeSeed(), policy: o.Conflict, maxRes: o.MaxResources, jids: newJIDCache(),
		domains: map[string]Handler{}, locals: map[string]bool{}}
	for i := range r.shards {
		r.shards[i].users = map[string]*user{}
	}
	return r
}

func (r *Router) shard(bare string) *shard {
	return &r.shards[maphash.String(r.seed, bare)%shardCount]
}

// HandleDomain registers h for stanzas addressed to domain (and its
// accounts). local marks a domain whose accounts bind sessions here.
func (r *Router) HandleDomain(domain string, h Handler, local bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.domains[domain] = h
	if local {
		r.locals[domain] = true
	}
}

// HandleRemote registers the handler for domains not served here (s2s).
func (r *Router) HandleRemote(h Handler) {
	r.mu.Lock()
	r.remote = h
	r.mu.Unlock()
}

// IsLocal reports whether domain's accounts live on this server.
func (r *Router) IsLocal(domain string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.locals[domain]
}

// Serves reports whether domain is handled on this server (local or service).
func (r *Router) Serves(domain string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.domains[domain] != nil
}

// Route dispatches st by its 'to' domain. The 'from' of st must already be
// trusted (stamped by the stream that received it).
func (r *Router) Route(ctx context.Context, st *xmlstream.Stanza) {
	to := st.To()
	domain := to
	if to != "" {
		j, err := r.ParseJID(to)
		if err != nil {
			r.Bounce(ctx, st, xmlstream.JIDMalformed())
			return
		}
		domain = j.Domainpart()
	}
	r.mu.RLock()
	h := r.domains[domain]
	remote := r.remote
	r.mu.RUnlock()
	switch {
	case h != nil:
		h.HandleStanza(ctx, st)
	case remote != nil:
		remote.HandleStanza(ctx, st)
	default:
		r.Bounce(ctx, st, &xmlstream.StanzaError{Type: xmlstream.ErrCancel, Condition: "remote-server-not-found"})
	}
}

// Bounce routes the error reply for st back to its sender, unless st is an
// error itself (errors are never answered) or has no sender.
func (r *Router) Bounce(ctx context.Context, st *xmlstream.Stanza, e *xmlstream.StanzaError) {
	if st.From() == "" {
		return
	}
	if reply := xmlstream.ErrorReply(st, e); reply != nil {
		r.Route(ctx, reply)
	}
}

// Bind registers s under its bare JID with the requested resource (empty:
// server-generated). It returns the bound resource. Under ConflictReplace the
// old session is closed with a conflict stream error.
func (r *Router) Bind(s Session, bare jid.JID, resource string) (jid.JID, error) {
	if resource == "" {
		resource = GenerateResource()
	}
	full, err := bare.WithResource(resource)
	if err != nil {
		return jid.JID{}, err
	}
	b := bare.String()
	sh := r.shard(b)
	var replaced Session
	sh.mu.Lock()
	u := sh.users[b]
	if u == nil {
		u = &user{}
		sh.users[b] = u
	}
	for i, res := range u.resources {
		if res.Resource != full.Resourcepart() {
			continue
		}
		switch r.policy {
		case ConflictRefuse:
			sh.mu.Unlock()
			return jid.JID{}, ErrConflict
		case ConflictRename:
			full, _ = bare.WithResource(GenerateResource())
		default:
			replaced = res.Session
			u.resources = append(u.resources[:i], u.resources[i+1:]...)
			r.sessions.Add(-1)
		}
		break
	}
	if r.maxRes > 0 && len(u.resources) >= r.maxRes {
		if len(u.resources) == 0 {
			delete(sh.users, b)
		}
		sh.mu.Unlock()
		return jid.JID{}, ErrTooManyResources
	}
	u.resources = append(u.resources, &Resource{Session: s, Full: full.String(), Resource: full.Resourcepart()})
	r.sessions.Add(1)
	sh.mu.Unlock()
	if replaced != nil {
		replaced.Close("conflict", "Replaced by new connection")
	}
	return full, nil
}

// Unbind removes s. It returns the resource's last state (so the caller can
// broadcast unavailable presence) and whether s was bound.
func (r *Router) Unbind(s Session) (Resource, bool) {
	full := s.JID()
	b := full.Bare().String()
	sh := r.shard(b)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	u := sh.users[b]
	if u == nil {
		return Resource{}, false
	}
	for i, res := range u.resources {
		if res.Session == s {
			u.resources = append(u.resources[:i], u.resources[i+1:]...)
			if len(u.resources) == 0 {
				delete(sh.users, b)
			}
			r.sessions.Add(-1)
			return *res, true
		}
	}
	return Resource{}, false
}

// Resources returns snapshots of the resources bound for bare, in bind order.
func (r *Router) Resources(bare string) []Resource {
	sh := r.shard(bare)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	u := sh.users[bare]
	if u == nil {
		return nil
	}
	out := make([]Resource, len(u.resources))
	for i, res := range u.resources {
		out[i] = *res
	}
	return out
}

// Lookup returns the resource bound at the full JID.
func (r *Router) Lookup(full jid.JID) (Resource, bool) {
	f := full.String()
	// The bare JID is f up to the first '/': neither a localpart nor a
	// domainpart may contain one. One string built per lookup, not two:
	// this runs for every copy a room or node fans out.
	b := f
	if i := strings.IndexByte(f, '/'); i >= 0 {
		b = f[:i]
	}
	sh := r.shard(b)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	if u := sh.users[b]; u != nil {
		for _, res := range u.resources {
			if res.Full == f {
				return *res, true
			}
		}
	}
	return Resource{}, false
}

// Update changes the state of the resource of session s under the user's
// lock and returns the new snapshot. fn must not call back into the router.
func (r *Router) Update(s Session, fn func(res *Resource)) (Resource, bool) {
	full := s.JID()
	b := full.Bare().String()
	sh := r.shard(b)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if u := sh.users[b]; u != nil {
		for _, res := range u.resources {
			if res.Session == s {
				fn(res)
				return *res, true
			}
		}
	}
	return Resource{}, false
}

// SessionCount is the number of bound resources.
func (r *Router) SessionCount() int { return int(r.sessions.Load()) }

// All returns a snapshot of every bound resource, sorted by full JID (admin use).
func (r *Router) All() []Resource {
	var out []Resource
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.RLock()
		for _, u := range sh.users {
			for _, res := range u.resources {
				out = append(out, *res)
			}
		}
		sh.mu.RUnlock()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Full < out[j].Full })
	return out
}
