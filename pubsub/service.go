package pubsub

// CONTRACT STUB: the signatures below are the core's API, used by the
// XEP-0060 adapter, PEP, the HTTP API and the auction service. The core
// helper replaces the bodies (and may add unexported fields/files) but keeps
// every exported name and signature; changing one needs the lead.

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/data"
)

var errUnimplemented = errors.New("pubsub: not implemented yet")

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

// Service is the pubsub core.
type Service struct {
	opts Options
}

// New builds a Service; it starts no goroutine until a node is used.
func New(o Options) (*Service, error) { return &Service{opts: o}, nil }

// Close stops the node actors (pending requests fail) and waits for them.
func (s *Service) Close(ctx context.Context) error { return nil }

// IsPEP reports whether this is the per-account service.
func (s *Service) IsPEP() bool { return s.opts.PEP }

// DefaultConfig is the configuration new nodes get (§8.3).
func (s *Service) DefaultConfig() Config { return Config{} }

// Create makes a node (§8.1). node "" asks for an instant node: the
// service picks a unique id, returned. cfg nil means the default
// configuration; otherwise it is applied whole (the adapter starts from
// DefaultConfig and sets the submitted fields). Errors per §8.1.3:
// conflict (exists), forbidden (may not create), not-acceptable
// nodeid-required (instant nodes unsupported — never here), not-acceptable
// max-nodes-exceeded (PEP limit).
func (s *Service) Create(ctx context.Context, host string, actor jid.JID, node string, cfg *Config) (string, error) {
	return "", errUnimplemented
}

// Delete removes a node and everything in it (§8.4); subscribers are
// notified (EventDelete with redirect) when notify_delete is on.
func (s *Service) Delete(ctx context.Context, host string, actor jid.JID, node, redirect string) error {
	return errUnimplemented
}

// Purge removes every item (§8.5); EventPurge when notify_retract is on
// (the spec ties purge notifications to notify_retract).
func (s *Service) Purge(ctx context.Context, host string, actor jid.JID, node string) error {
	return errUnimplemented
}

// NodeConfig returns a node's configuration; owners only (§8.2).
func (s *Service) NodeConfig(ctx context.Context, host string, actor jid.JID, node string) (Config, error) {
	return Config{}, errUnimplemented
}

// Configure replaces a node's configuration (§8.2.3): the adapter starts
// from NodeConfig and sets the submitted fields. Lowering max_items trims
// items; EventConfig when notify_config is on.
func (s *Service) Configure(ctx context.Context, host string, actor jid.JID, node string, cfg Config) error {
	return errUnimplemented
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
	return nil, errUnimplemented
}

// Retract deletes items (§7.2); notify requests EventRetract (sent when
// notify is true or the node's notify_retract is on).
func (s *Service) Retract(ctx context.Context, host string, actor jid.JID, node string, ids []string, notify bool) error {
	return errUnimplemented
}

// Subscribe subscribes subscriber (bare or full; must have actor's bare
// JID unless actor is an owner/admin — else bad-request invalid-jid) to a
// node (§6.1). opts are submitted subscribe_options fields (nil: defaults).
// The result's State is subscribed, pending (authorize model) or
// unconfigured (never: options are never required here). The last item is
// sent per send_last_published_item.
func (s *Service) Subscribe(ctx context.Context, host string, actor jid.JID, node string, subscriber jid.JID, opts map[string][]string) (Subscription, error) {
	return Subscription{}, errUnimplemented
}

// Unsubscribe ends a subscription (§6.2); subid "" is fine when the JID
// has one subscription (else bad-request subid-required).
func (s *Service) Unsubscribe(ctx context.Context, host string, actor jid.JID, node string, subscriber jid.JID, subid string) error {
	return errUnimplemented
}

// SubscriptionOptions returns a subscription's options (§6.3.2).
func (s *Service) SubscriptionOptions(ctx context.Context, host string, actor jid.JID, node string, subscriber jid.JID, subid string) (Subscription, error) {
	return Subscription{}, errUnimplemented
}

// SetSubscriptionOptions applies submitted subscribe_options fields (§6.3.5).
func (s *Service) SetSubscriptionOptions(ctx context.Context, host string, actor jid.JID, node string, subscriber jid.JID, subid string, fields map[string][]string) error {
	return errUnimplemented
}

// DefaultSubscriptionOptions are the options a new subscription gets (§6.4).
func (s *Service) DefaultSubscriptionOptions() SubOptions { return SubOptions{} }

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
// Count the node's item count.
type ItemPage struct {
	Items       []Item
	First, Last string
	FirstIndex  int
	Count       int
}

// Items retrieves items (§6.5) after the access checks of §6.5.9
// (subscription required for authorize/whitelist/... per the model).
func (s *Service) Items(ctx context.Context, host string, actor jid.JID, node string, q ItemQuery) (ItemPage, error) {
	return ItemPage{}, errUnimplemented
}

// Subscriptions lists actor's own subscriptions (§5.6), on one node or on
// every node of host (node "").
func (s *Service) Subscriptions(ctx context.Context, host string, actor jid.JID, node string) ([]Subscription, error) {
	return nil, errUnimplemented
}

// Affiliations lists actor's own affiliations (§5.7), one node or all.
func (s *Service) Affiliations(ctx context.Context, host string, actor jid.JID, node string) ([]Affiliate, error) {
	return nil, errUnimplemented
}

// NodeSubscriptions lists every subscription to a node; owners only (§8.8.1).
func (s *Service) NodeSubscriptions(ctx context.Context, host string, actor jid.JID, node string) ([]Subscription, error) {
	return nil, errUnimplemented
}

// ModifySubscriptions applies owner changes (§8.8.2): State SubNone
// removes. It returns the entries that could not be applied (the adapter
// answers them with §8.8.2.4's error); the others are applied.
func (s *Service) ModifySubscriptions(ctx context.Context, host string, actor jid.JID, node string, changes []Subscription) ([]Subscription, error) {
	return nil, errUnimplemented
}

// NodeAffiliations lists every affiliation with a node; owners only (§8.9.1).
func (s *Service) NodeAffiliations(ctx context.Context, host string, actor jid.JID, node string) ([]Affiliate, error) {
	return nil, errUnimplemented
}

// ModifyAffiliations applies owner changes (§8.9.2); AffNone removes.
// Failed entries are returned as for ModifySubscriptions; removing the
// last owner fails.
func (s *Service) ModifyAffiliations(ctx context.Context, host string, actor jid.JID, node string, changes []Affiliate) ([]Affiliate, error) {
	return nil, errUnimplemented
}

// PendingSubscriptions lists pending subscriptions of a node; owners only
// (§8.7, for the get-pending ad-hoc command).
func (s *Service) PendingSubscriptions(ctx context.Context, host string, actor jid.JID, node string) ([]Subscription, error) {
	return nil, errUnimplemented
}

// Authorize answers a pending subscription (§8.6): allow subscribes it,
// otherwise it is removed; the subscriber gets EventSubscription either way.
func (s *Service) Authorize(ctx context.Context, host string, actor jid.JID, node string, subscriber jid.JID, subid string, allow bool) error {
	return errUnimplemented
}

// Nodes lists host's nodes visible to actor (§5.2), in node-id order,
// after 'after' ("" from the start), at most max (<= 0: all).
func (s *Service) Nodes(ctx context.Context, host string, actor jid.JID, after string, max int) ([]string, error) {
	return nil, errUnimplemented
}

// CountNodes counts host's nodes (for disco#items RSM count).
func (s *Service) CountNodes(ctx context.Context, host string) (int, error) {
	return 0, errUnimplemented
}

// Info describes a node for disco#info and its meta-data form (§5.4).
func (s *Service) Info(ctx context.Context, host string, actor jid.JID, node string) (NodeInfo, error) {
	return NodeInfo{}, errUnimplemented
}

// Available tells the core that a local session became available with
// presence show (""/"chat"/"away"/"xa"/"dnd"): subscriptions with
// send_last_published_item on_sub_and_presence get the last item, and
// presence-based delivery starts.
func (s *Service) Available(ctx context.Context, full jid.JID, show string) {}

// Unavailable tells the core a session went unavailable: subscriptions
// with pubsub#expire "presence" for that JID end.
func (s *Service) Unavailable(ctx context.Context, full jid.JID) {}

// SendLast delivers the last published item of host's node to one
// address (PEP: a contact that just came online with +notify), if the
// access model lets to see it. It does nothing when there is none.
func (s *Service) SendLast(ctx context.Context, host, node string, to jid.JID) {}

// DeleteHost removes every node of a host (an account was deleted).
func (s *Service) DeleteHost(ctx context.Context, host string) error { return errUnimplemented }
