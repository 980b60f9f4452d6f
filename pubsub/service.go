package pubsub

// The core's API: used by the XEP-0060 adapter, PEP, the HTTP API and the
// auction service. Every node-scoped call is a request to the node's actor
// (node.go), which owns the node's state; the bodies live in one file per
// feature: node.go (create, configure, delete, info), publish.go (publish,
// retract, purge, retrieve), subscriptions.go, affiliations.go,
// delivery.go (recipients, last item, presence). Errors are *Error in the
// spec's vocabulary; a cancelled ctx returns ctx.Err().

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"strings"
	"sync"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/data"
	"github.com/gavelhq/gavel/internal/actor"
)

// CreatePolicy says who may create nodes on a non-PEP service.
type CreatePolicy int

const (
	// CreateLocalUsers: accounts of LocalDomains, and admins (default).
	CreateLocalUsers CreatePolicy = iota
	// CreateAnyone: any JID.
	CreateAnyone
	// CreateAdmins: service admins only.
	CreateAdmins
)

// Options configure a Service. Zero values get the defaults noted.
type Options struct {
	// PEP makes every host an account's bare JID (XEP-0163): the host's
	// account owns every node, publish auto-creates nodes, the default
	// access model is presence, and Interest adds implicit recipients.
	PEP bool
	// Host: for a non-PEP service, its domain (e.g. pubsub.example.org);
	// calls for any other host fail with item-not-found. Empty with PEP.
	Host string

	Store    data.Store
	Notifier Notifier
	// Relations answers roster/presence questions (presence and roster
	// access models, presence_based_delivery). Nil: every roster is empty
	// and nobody is available.
	Relations Relations
	// Interest lists implicit PEP recipients (+notify). Nil: none.
	Interest Interest
	Logger   *slog.Logger

	// Admins are bare JIDs that act as owners of every node.
	Admins []string
	// Create and LocalDomains: who may create nodes (non-PEP).
	Create       CreatePolicy
	LocalDomains []string
	// DefaultConfig is a new node's configuration (default DefaultConfig()
	// or, with PEP, DefaultPEPConfig()).
	DefaultConfig *Config
	// MaxItemsLimit is the most items a node keeps (and what "max" means;
	// default 10000). MaxPayloadLimit bounds max_payload_size (default
	// 256 KiB, the stanza limit). MaxNodesPerHost bounds nodes per PEP
	// account (default 1000; non-PEP: unlimited). MaxSubscriptionsPerJID
	// bounds one JID's subscriptions to one node (default 16).
	MaxItemsLimit          int
	MaxPayloadLimit        int
	MaxNodesPerHost        int
	MaxSubscriptionsPerJID int
	// MailboxSize bounds each node actor's queue (default 1024): a full
	// node answers resource-constraint (wait). IdleTimeout stops an idle
	// node's goroutine (default 5 minutes); its state stays in the Store.
	MailboxSize int
	IdleTimeout time.Duration
	// Now is the clock (default time.Now); tests set it.
	Now func() time.Time
}

const (
	defaultMaxItemsLimit   = 10000
	defaultMaxPayloadLimit = 256 << 10
	defaultMaxNodesPerHost = 1000
	defaultMaxSubsPerJID   = 16
	defaultMailbox         = 1024
	defaultIdleTimeout     = 5 * time.Minute

	// maxNodeIDLen and maxIDLen bound node ids, item ids and subids.
	maxNodeIDLen = 1024
	maxIDLen     = 1024
	// maxListed bounds every list a service-wide query returns.
	maxListed = 10000
	// maxBatch bounds the items of one publish or retract.
	maxBatch = 100
)

// Service is the pubsub core.
type Service struct {
	opts     Options
	log      *slog.Logger
	store    data.Store
	notifier Notifier
	admins   map[string]bool
	local    map[string]bool

	seed  maphash.Seed
	nodes *actor.Registry[nodeKey, *request, struct{}]
	// createLocks serialize node creation per host (MaxNodesPerHost).
	createLocks [16]sync.Mutex

	presence presenceTable // delivery.go

	baseCtx context.Context
}

// New builds a Service; it starts no goroutine until a node is used.
func New(o Options) (*Service, error) {
	if o.Store == nil {
		return nil, errors.New("pubsub: Store is required")
	}
	if !o.PEP {
		h, err := jid.Parse(o.Host)
		if err != nil || h.Localpart() != "" || h.Resourcepart() != "" {
			return nil, errors.New("pubsub: invalid service host " + o.Host)
		}
		o.Host = h.String()
		if o.MaxNodesPerHost <= 0 {
			o.MaxNodesPerHost = 0 // unlimited
		}
	} else if o.MaxNodesPerHost <= 0 {
		o.MaxNodesPerHost = defaultMaxNodesPerHost
	}
	if o.Notifier == nil {
		o.Notifier = nopNotifier{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxItemsLimit <= 0 {
		o.MaxItemsLimit = defaultMaxItemsLimit
	}
	if o.MaxPayloadLimit <= 0 {
		o.MaxPayloadLimit = defaultMaxPayloadLimit
	}
	if o.MaxSubscriptionsPerJID <= 0 {
		o.MaxSubscriptionsPerJID = defaultMaxSubsPerJID
	}
	if o.MailboxSize <= 0 {
		o.MailboxSize = defaultMailbox
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = defaultIdleTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.DefaultConfig == nil {
		c := DefaultConfig()
		if o.PEP {
			c = DefaultPEPConfig()
		}
		o.DefaultConfig = &c
	}
	// The default lives within the service's limits (they may be lower
	// than the built-in default's) and must itself be valid.
	def := cloneConfig(*o.DefaultConfig)
	if def.MaxPayloadSize > o.MaxPayloadLimit {
		def.MaxPayloadSize = o.MaxPayloadLimit
	}
	if def.MaxItems > o.MaxItemsLimit {
		def.MaxItems = o.MaxItemsLimit
	}
	o.DefaultConfig = &def
	s := &Service{
		// Node actors publishing at once share transactions and fsyncs.
		opts: o, log: o.Logger, store: data.Grouped(o.Store), notifier: o.Notifier,
		admins: map[string]bool{}, local: map[string]bool{},
		seed: maphash.MakeSeed(), baseCtx: context.Background(),
	}
	for _, a := range o.Admins {
		if j, err := jid.Parse(a); err == nil {
			s.admins[j.Bare().String()] = true
		}
	}
	for _, d := range o.LocalDomains {
		s.local[strings.ToLower(d)] = true
	}
	s.nodes = actor.New(s.opts.MailboxSize, s.runNode)
	s.presence.init()
	if err := s.checkConfig(s.opts.DefaultConfig); err != nil {
		return nil, fmt.Errorf("pubsub: invalid default node configuration: %w", err)
	}
	return s, nil
}

// Close stops the node actors (pending requests fail) and waits for them.
func (s *Service) Close(ctx context.Context) error { return s.nodes.Close(ctx) }

// IsPEP reports whether this is the per-account service.
func (s *Service) IsPEP() bool { return s.opts.PEP }

// DefaultConfig is the configuration new nodes get (§8.3).
func (s *Service) DefaultConfig() Config { return cloneConfig(*s.opts.DefaultConfig) }

func (s *Service) now() time.Time { return s.opts.Now() }

// Create makes a node (§8.1). node "" asks for an instant node: the
// service picks a unique id, returned. cfg nil means the default
// configuration; otherwise it is applied whole (the adapter starts from
// DefaultConfig and sets the submitted fields). Errors per §8.1.3:
// conflict (exists), forbidden (may not create), not-acceptable
// nodeid-required (instant nodes unsupported — never here), not-allowed
// max-nodes-exceeded (PEP limit).
func (s *Service) Create(ctx context.Context, host string, actor jid.JID, node string, cfg *Config) (string, error) {
	if err := s.checkHost(host); err != nil {
		return "", err
	}
	if !s.mayCreate(host, actor) {
		return "", errForbidden()
	}
	c := s.DefaultConfig()
	if cfg != nil {
		c = cloneConfig(*cfg)
	}
	if err := s.checkConfig(&c); err != nil {
		return "", err
	}
	if node != "" {
		if err := checkNodeID(node); err != nil {
			return "", err
		}
		return node, s.run(ctx, host, node, func(n *nodeState) error { return n.create(actor, c) })
	}
	// Instant node: a random id collides with nothing in practice; retry
	// a few times anyway rather than answer conflict for a name the
	// requester never chose.
	for range 4 {
		node = randomID()
		err := s.run(ctx, host, node, func(n *nodeState) error { return n.create(actor, c) })
		if e, ok := err.(*Error); ok && e.Cond == "conflict" {
			continue
		}
		return node, err
	}
	return "", errInternal("no free node id")
}

// Delete removes a node and everything in it (§8.4); subscribers are
// notified (EventDelete with redirect) when notify_delete is on.
func (s *Service) Delete(ctx context.Context, host string, actor jid.JID, node, redirect string) error {
	if err := s.checkNode(host, node); err != nil {
		return err
	}
	return s.run(ctx, host, node, func(n *nodeState) error { return n.remove(actor, redirect) })
}

// Purge removes every item (§8.5); EventPurge when notify_retract is on
// (the spec ties purge notifications to notify_retract).
func (s *Service) Purge(ctx context.Context, host string, actor jid.JID, node string) error {
	if err := s.checkNode(host, node); err != nil {
		return err
	}
	return s.run(ctx, host, node, func(n *nodeState) error { return n.purge(actor) })
}

// NodeConfig returns a node's configuration; owners only (§8.2).
func (s *Service) NodeConfig(ctx context.Context, host string, actor jid.JID, node string) (Config, error) {
	if err := s.checkNode(host, node); err != nil {
		return Config{}, err
	}
	return ask(ctx, s, host, node, func(n *nodeState) (c Config, err error) {
		if err := n.requireOwner(actor); err != nil {
			return c, err
		}
		c = cloneConfig(n.cfg)
		return c, nil
	})
}

// Configure replaces a node's configuration (§8.2.3): the adapter starts
// from NodeConfig and sets the submitted fields. Lowering max_items trims
// items; EventConfig when notify_config is on.
func (s *Service) Configure(ctx context.Context, host string, actor jid.JID, node string, cfg Config) error {
	if err := s.checkNode(host, node); err != nil {
		return err
	}
	c := cloneConfig(cfg)
	if err := s.checkConfig(&c); err != nil {
		return err
	}
	return s.run(ctx, host, node, func(n *nodeState) error { return n.configure(actor, c) })
}

// PublishOptions are a publish's pubsub#publish-options (§7.1.5): fields
// the node's configuration must have (precondition-not-met otherwise) and,
// when the node is auto-created, the configuration it gets.
type PublishOptions struct {
	Fields map[string][]string
}

// Publish stores (when persist_items) and notifies items (§7.1). An item
// without ID gets a server-generated one; the returned ids are the items'.
// A node that does not exist is created first when auto-create applies
// (PEP always; the service when the actor may create nodes). Durable
// before it returns.
func (s *Service) Publish(ctx context.Context, host string, actor jid.JID, node string, items []Item, opts *PublishOptions) ([]string, error) {
	if err := s.checkNode(host, node); err != nil {
		return nil, err
	}
	if err := s.checkItems(items); err != nil {
		return nil, err
	}
	return ask(ctx, s, host, node, func(n *nodeState) ([]string, error) {
		return n.publish(actor, items, opts)
	})
}

// PublishThen is Publish without waiting: the checks that need no node
// run at once, then the publish is queued behind the node's earlier
// requests and done gets its outcome once it is durable and notified — on
// the node's goroutine, so done must not call the Service and must not
// block (routing a reply is fine). The XEP-0060 adapter answers publishes
// this way, so a publisher's connection is never held by a disk write and
// one publisher's publishes to many nodes commit together.
func (s *Service) PublishThen(host string, actor jid.JID, node string, items []Item, opts *PublishOptions, done func(ids []string, err error)) {
	if err := s.checkNode(host, node); err != nil {
		done(nil, err)
		return
	}
	if err := s.checkItems(items); err != nil {
		done(nil, err)
		return
	}
	var ids []string
	s.runThen(host, node, func(n *nodeState) error {
		var err error
		ids, err = n.publish(actor, items, opts)
		return err
	}, func(err error) {
		if err != nil {
			done(nil, err)
			return
		}
		done(ids, nil)
	})
}

// Retract deletes items (§7.2); notify requests EventRetract (sent when
// notify is true or the node's notify_retract is on).
func (s *Service) Retract(ctx context.Context, host string, actor jid.JID, node string, ids []string, notify bool) error {
	if err := s.checkNode(host, node); err != nil {
		return err
	}
	if len(ids) == 0 {
		return errBadRequest("item-required")
	}
	if len(ids) > maxBatch {
		return &Error{Cond: "not-acceptable", Type: "modify", Text: "too many items in one request"}
	}
	for _, id := range ids {
		if id == "" {
			return errBadRequest("item-required")
		}
		if len(id) > maxIDLen {
			return &Error{Cond: "bad-request", Type: "modify", Text: "item id too long"}
		}
	}
	return s.run(ctx, host, node, func(n *nodeState) error { return n.retract(actor, ids, notify) })
}

// Subscribe subscribes subscriber (bare or full; must have actor's bare
// JID unless actor is an owner/admin — else bad-request invalid-jid) to a
// node (§6.1). opts are submitted subscribe_options fields (nil: defaults).
// The result's State is subscribed, pending (authorize model) or
// unconfigured (never: options are never required here). The last item is
// sent per send_last_published_item.
func (s *Service) Subscribe(ctx context.Context, host string, actor jid.JID, node string, subscriber jid.JID, opts map[string][]string) (Subscription, error) {
	if err := s.checkNode(host, node); err != nil {
		return Subscription{}, err
	}
	if subscriber.String() == "" {
		return Subscription{}, errBadRequest("jid-required")
	}
	return ask(ctx, s, host, node, func(n *nodeState) (Subscription, error) {
		return n.subscribe(actor, subscriber, opts)
	})
}

// Unsubscribe ends a subscription (§6.2); subid "" is fine when the JID
// has one subscription (else bad-request subid-required).
func (s *Service) Unsubscribe(ctx context.Context, host string, actor jid.JID, node string, subscriber jid.JID, subid string) error {
	if err := s.checkNode(host, node); err != nil {
		return err
	}
	if subscriber.String() == "" {
		return errBadRequest("jid-required")
	}
	return s.run(ctx, host, node, func(n *nodeState) error { return n.unsubscribe(actor, subscriber, subid) })
}

// SubscriptionOptions returns a subscription's options (§6.3.2).
func (s *Service) SubscriptionOptions(ctx context.Context, host string, actor jid.JID, node string, subscriber jid.JID, subid string) (Subscription, error) {
	if err := s.checkNode(host, node); err != nil {
		return Subscription{}, err
	}
	if subscriber.String() == "" {
		return Subscription{}, errBadRequest("jid-required")
	}
	return ask(ctx, s, host, node, func(n *nodeState) (sub Subscription, err error) {
		found, err := n.optionsTarget(actor, subscriber, subid)
		if err == nil {
			sub = found.public()
		}
		return sub, err
	})
}

// SetSubscriptionOptions applies submitted subscribe_options fields (§6.3.5).
func (s *Service) SetSubscriptionOptions(ctx context.Context, host string, actor jid.JID, node string, subscriber jid.JID, subid string, fields map[string][]string) error {
	if err := s.checkNode(host, node); err != nil {
		return err
	}
	if subscriber.String() == "" {
		return errBadRequest("jid-required")
	}
	return s.run(ctx, host, node, func(n *nodeState) error { return n.setOptions(actor, subscriber, subid, fields) })
}

// DefaultSubscriptionOptions are the options a new subscription gets (§6.4).
func (s *Service) DefaultSubscriptionOptions() SubOptions { return defaultSubOptions() }

// PageRequest is an XEP-0059 request over a node's items. Index < 0 means
// unset; BeforeSet with Before "" asks for the last page.
type PageRequest struct {
	Max           int
	After, Before string
	BeforeSet     bool
	Index         int
}

// ItemQuery selects items (§6.5). IDs, when set, asks for those items
// only. Otherwise MaxItems > 0 asks for the newest N, and Page pages over
// all items. Items come newest first.
type ItemQuery struct {
	IDs      []string
	MaxItems int
	SubID    string
	Page     *PageRequest
}

// ItemPage is the answer to an ItemQuery. With a Page request, First/Last
// are the page's item ids, FirstIndex the index of First (newest = 0) and
// Count the node's item count. A query without IDs, MaxItems or Page on a
// node holding more than maxAllItems items is answered as a Page of the
// newest maxAllItems (First/Last/Count set: the adapter adds the RSM
// <set/> that says the list was truncated, §6.5.4).
type ItemPage struct {
	Items       []Item
	First, Last string
	FirstIndex  int
	Count       int
}

// Items retrieves items (§6.5) after the access checks of §6.5.9
// (subscription required for authorize/whitelist/... per the model).
func (s *Service) Items(ctx context.Context, host string, actor jid.JID, node string, q ItemQuery) (ItemPage, error) {
	if err := s.checkNode(host, node); err != nil {
		return ItemPage{}, err
	}
	if len(q.IDs) > maxBatch {
		return ItemPage{}, &Error{Cond: "not-acceptable", Type: "modify", Text: "too many item ids in one request"}
	}
	return ask(ctx, s, host, node, func(n *nodeState) (ItemPage, error) {
		return n.retrieve(actor, q)
	})
}

// Subscriptions lists actor's own subscriptions (§5.6), on one node or on
// every node of host (node "").
func (s *Service) Subscriptions(ctx context.Context, host string, actor jid.JID, node string) ([]Subscription, error) {
	if err := s.checkHost(host); err != nil {
		return nil, err
	}
	if node == "" {
		return s.userSubscriptions(ctx, host, actor.Bare().String())
	}
	if err := checkNodeID(node); err != nil {
		return nil, err
	}
	return ask(ctx, s, host, node, func(n *nodeState) (out []Subscription, err error) {
		if !n.exists {
			return out, errNodeNotFound()
		}
		out = n.subscriptionsOf(actor.Bare().String(), nil)
		return out, nil
	})
}

// Affiliations lists actor's own affiliations (§5.7), one node or all.
func (s *Service) Affiliations(ctx context.Context, host string, actor jid.JID, node string) ([]Affiliate, error) {
	if err := s.checkHost(host); err != nil {
		return nil, err
	}
	if node == "" {
		return s.userAffiliations(ctx, host, actor.Bare())
	}
	if err := checkNodeID(node); err != nil {
		return nil, err
	}
	return ask(ctx, s, host, node, func(n *nodeState) (out []Affiliate, err error) {
		if !n.exists {
			return out, errNodeNotFound()
		}
		bare := actor.Bare()
		if a := n.storedAffiliation(bare.String()); a != AffNone {
			out = append(out, Affiliate{Host: host, Node: node, JID: bare, Affiliation: a})
		}
		return out, nil
	})
}

// NodeSubscriptions lists the subscriptions to a node in state subscribed
// or unconfigured (§8.8.1: pending ones are PendingSubscriptions'); owners
// only.
func (s *Service) NodeSubscriptions(ctx context.Context, host string, actor jid.JID, node string) ([]Subscription, error) {
	if err := s.checkNode(host, node); err != nil {
		return nil, err
	}
	var out []Subscription
	err := s.run(ctx, host, node, func(n *nodeState) error {
		if err := n.requireOwner(actor); err != nil {
			return err
		}
		out = n.allSubscriptions(func(sub *Subscription) bool { return sub.State != SubPending })
		return nil
	})
	return out, err
}

// ModifySubscriptions applies owner changes (§8.8.2): State SubNone
// removes. It returns the entries that could not be applied (the adapter
// answers them with §8.8.2.4's error); the others are applied.
func (s *Service) ModifySubscriptions(ctx context.Context, host string, actor jid.JID, node string, changes []Subscription) ([]Subscription, error) {
	if err := s.checkNode(host, node); err != nil {
		return nil, err
	}
	if len(changes) > maxBatch {
		return nil, &Error{Cond: "not-acceptable", Type: "modify", Text: "too many changes in one request"}
	}
	return ask(ctx, s, host, node, func(n *nodeState) ([]Subscription, error) {
		return n.modifySubscriptions(actor, changes)
	})
}

// NodeAffiliations lists every affiliation with a node; owners only (§8.9.1).
func (s *Service) NodeAffiliations(ctx context.Context, host string, actor jid.JID, node string) ([]Affiliate, error) {
	if err := s.checkNode(host, node); err != nil {
		return nil, err
	}
	return ask(ctx, s, host, node, func(n *nodeState) (out []Affiliate, err error) {
		if err := n.requireOwner(actor); err != nil {
			return out, err
		}
		out = n.affiliates()
		return out, nil
	})
}

// ModifyAffiliations applies owner changes (§8.9.2); AffNone removes.
// Failed entries are returned as for ModifySubscriptions; removing the
// last owner fails.
func (s *Service) ModifyAffiliations(ctx context.Context, host string, actor jid.JID, node string, changes []Affiliate) ([]Affiliate, error) {
	if err := s.checkNode(host, node); err != nil {
		return nil, err
	}
	if len(changes) > maxBatch {
		return nil, &Error{Cond: "not-acceptable", Type: "modify", Text: "too many changes in one request"}
	}
	return ask(ctx, s, host, node, func(n *nodeState) ([]Affiliate, error) {
		return n.modifyAffiliations(actor, changes)
	})
}

// PendingSubscriptions lists pending subscriptions of a node; owners only
// (§8.7, for the get-pending ad-hoc command).
func (s *Service) PendingSubscriptions(ctx context.Context, host string, actor jid.JID, node string) ([]Subscription, error) {
	if err := s.checkNode(host, node); err != nil {
		return nil, err
	}
	var out []Subscription
	err := s.run(ctx, host, node, func(n *nodeState) error {
		if err := n.requireOwner(actor); err != nil {
			return err
		}
		out = n.allSubscriptions(func(sub *Subscription) bool { return sub.State == SubPending })
		return nil
	})
	return out, err
}

// Authorize answers a pending subscription (§8.6): allow subscribes it,
// otherwise it is removed; the subscriber gets EventSubscription either way.
func (s *Service) Authorize(ctx context.Context, host string, actor jid.JID, node string, subscriber jid.JID, subid string, allow bool) error {
	if err := s.checkNode(host, node); err != nil {
		return err
	}
	return s.run(ctx, host, node, func(n *nodeState) error { return n.authorize(actor, subscriber, subid, allow) })
}

// Nodes lists host's nodes visible to actor (§5.2), in node-id order,
// after 'after' ("" from the start), at most max (<= 0: all, bounded by
// maxListed).
func (s *Service) Nodes(ctx context.Context, host string, actor jid.JID, after string, max int) ([]string, error) {
	if err := s.checkHost(host); err != nil {
		return nil, err
	}
	return s.listNodes(ctx, host, actor, after, max)
}

// CountNodes counts host's nodes (for disco#items RSM count).
func (s *Service) CountNodes(ctx context.Context, host string) (int, error) {
	if err := s.checkHost(host); err != nil {
		return 0, err
	}
	return s.countNodes(ctx, host, 0)
}

// Info describes a node for disco#info and its meta-data form (§5.4). A
// node actor may not see (whitelist, presence or roster it fails, outcast)
// is item-not-found, as if it did not exist.
func (s *Service) Info(ctx context.Context, host string, actor jid.JID, node string) (NodeInfo, error) {
	if err := s.checkNode(host, node); err != nil {
		return NodeInfo{}, err
	}
	return ask(ctx, s, host, node, func(n *nodeState) (NodeInfo, error) {
		return n.info(actor)
	})
}

// Available tells the core that a local session became available with
// presence show (""/"chat"/"away"/"xa"/"dnd"): subscriptions with
// send_last_published_item on_sub_and_presence get the last item, and
// presence-based delivery starts.
func (s *Service) Available(ctx context.Context, full jid.JID, show string) {
	s.available(ctx, full, show)
}

// Unavailable tells the core a session went unavailable: subscriptions
// with pubsub#expire "presence" for that JID end.
func (s *Service) Unavailable(ctx context.Context, full jid.JID) {
	s.unavailable(ctx, full)
}

// SendLast delivers the last published item of host's node to one
// address (PEP: a contact that just came online with +notify), if the
// access model lets to see it. It does nothing when there is none.
func (s *Service) SendLast(ctx context.Context, host, node string, to jid.JID) {
	if s.checkNode(host, node) != nil {
		return
	}
	s.post(host, node, func(n *nodeState) error {
		n.sendLastTo(to)
		return nil
	})
}

// DeleteHost removes every node of a host (an account was deleted).
func (s *Service) DeleteHost(ctx context.Context, host string) error {
	if err := s.checkHost(host); err != nil {
		return err
	}
	for {
		// Deleting moves the scan forward: always read the first batch.
		nodes, err := s.scanNodeIDs(ctx, host, "", 256)
		if err != nil {
			return err
		}
		if len(nodes) == 0 {
			return nil
		}
		for _, node := range nodes {
			err := s.run(ctx, host, node, func(n *nodeState) error { return n.erase(true) })
			if err != nil {
				return err
			}
		}
	}
}

// checkHost refuses a host this service does not serve (item-not-found).
func (s *Service) checkHost(host string) error {
	if s.opts.PEP {
		j, err := jid.Parse(host)
		if err != nil || j.Localpart() == "" || j.Resourcepart() != "" || j.String() != host {
			return errNodeNotFound()
		}
		return nil
	}
	if host != s.opts.Host {
		return errNodeNotFound()
	}
	return nil
}

func (s *Service) checkNode(host, node string) error {
	if err := s.checkHost(host); err != nil {
		return err
	}
	return checkNodeID(node)
}

// checkNodeID: a request naming no node is nodeid-required (§7.2.3.3,
// §8.2.3.3); ids are bounded and NUL-free (NUL ends a node id in keys).
func checkNodeID(node string) error {
	if node == "" {
		return errBadRequest("nodeid-required")
	}
	if len(node) > maxNodeIDLen {
		return &Error{Cond: "bad-request", Type: "modify", Text: "node id too long"}
	}
	if strings.IndexByte(node, 0) >= 0 {
		return &Error{Cond: "bad-request", Type: "modify", Text: "node id contains NUL"}
	}
	return nil
}

// checkItems bounds a publish request before it reaches the actor.
func (s *Service) checkItems(items []Item) error {
	if len(items) > maxBatch {
		return &Error{Cond: "not-acceptable", Type: "modify", Text: "too many items in one request"}
	}
	for i := range items {
		if len(items[i].ID) > maxIDLen {
			return &Error{Cond: "bad-request", Type: "modify", Text: "item id too long"}
		}
		if len(items[i].Payload) > s.opts.MaxPayloadLimit {
			return errNotAcceptable("payload-too-big")
		}
	}
	return nil
}

// mayCreate: PEP nodes are created by their account only; the service
// follows Options.Create.
func (s *Service) mayCreate(host string, actor jid.JID) bool {
	bare := actor.Bare().String()
	if s.opts.PEP {
		return bare == host
	}
	if s.admins[bare] {
		return true
	}
	switch s.opts.Create {
	case CreateAnyone:
		return bare != ""
	case CreateAdmins:
		return false
	}
	return actor.Localpart() != "" && s.local[actor.Domainpart()]
}

// nopNotifier stands in for a nil Notifier.
type nopNotifier struct{}

func (nopNotifier) Notify(context.Context, *Event, []Recipient)                {}
func (nopNotifier) RequestAuthorization(context.Context, AuthorizationRequest) {}
