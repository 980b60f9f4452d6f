package pubsub

// Node configuration (XEP-0060 §8.2, FORM_TYPE
// http://jabber.org/protocol/pubsub#node_config) and subscription options
// (§6.3, pubsub#subscribe_options), with their mapping to and from data
// form field values. The adapter builds forms from Fields/Values and feeds
// submitted fields to Set; the core never sees XML.

import "time"

// Access models (§4.5).
const (
	AccessOpen      = "open"
	AccessPresence  = "presence"
	AccessRoster    = "roster"
	AccessAuthorize = "authorize"
	AccessWhitelist = "whitelist"
)

// Publish models (pubsub#publish_model).
const (
	PublishPublishers  = "publishers"
	PublishSubscribers = "subscribers"
	PublishOpen        = "open"
)

// send_last_published_item values.
const (
	SendLastNever            = "never"
	SendLastOnSub            = "on_sub"
	SendLastOnSubAndPresence = "on_sub_and_presence"
)

// MaxItemsMax is Config.MaxItems for pubsub#max_items "max": as many as the
// service allows (Options.MaxItemsLimit).
const MaxItemsMax = -1

// Config is a leaf node's configuration. Every pubsub#node_config field
// the service offers has a field here; Fields lists them in form order.
type Config struct {
	Title       string   // pubsub#title
	Description string   // pubsub#description
	Type        string   // pubsub#type: payload namespace ("" = any)
	Language    string   // pubsub#language
	Contact     []string // pubsub#contact: JIDs

	AccessModel         string   // pubsub#access_model
	RosterGroupsAllowed []string // pubsub#roster_groups_allowed
	PublishModel        string   // pubsub#publish_model
	Subscribe           bool     // pubsub#subscribe: subscriptions allowed

	MaxItems       int           // pubsub#max_items; MaxItemsMax for "max"
	PersistItems   bool          // pubsub#persist_items
	ItemExpire     time.Duration // pubsub#item_expire, seconds; 0 = never
	MaxPayloadSize int           // pubsub#max_payload_size, bytes

	DeliverNotifications  bool   // pubsub#deliver_notifications
	DeliverPayloads       bool   // pubsub#deliver_payloads
	NotifyConfig          bool   // pubsub#notify_config
	NotifyDelete          bool   // pubsub#notify_delete
	NotifyRetract         bool   // pubsub#notify_retract
	NotifySub             bool   // pubsub#notify_sub
	PresenceBasedDelivery bool   // pubsub#presence_based_delivery
	PurgeOffline          bool   // pubsub#purge_offline
	SendLastPublishedItem string // pubsub#send_last_published_item
	NotificationType      string // pubsub#notification_type: "normal" | "headline"
	ItemReply             string // pubsub#itemreply: "owner" | "publisher"

	BodyXSLT     string // pubsub#body_xslt (stored and shown, not applied)
	DataformXSLT string // pubsub#dataform_xslt (stored and shown, not applied)
}

// SubOptions are one subscription's options (pubsub#subscribe_options).
type SubOptions struct {
	Deliver     bool      // pubsub#deliver
	Digest      bool      // pubsub#digest
	DigestFreq  int       // pubsub#digest_frequency, milliseconds
	IncludeBody bool      // pubsub#include_body
	ShowValues  []string  // pubsub#show-values: presence shows to deliver to
	Expire      time.Time // pubsub#expire as a dateTime; zero = never
	// ExpireOnPresence: pubsub#expire "presence" — the subscription ends
	// when the subscriber goes unavailable (a temporary subscription).
	ExpireOnPresence bool
}

// CONTRACT STUBS below (config helper fills them in, keeping signatures).

// DefaultConfig is the service's default node configuration (documented
// in docs/pubsub.md).
func DefaultConfig() Config { return Config{} }

// DefaultPEPConfig is a PEP node's default (access model presence,
// max_items 1, send_last_published_item on_sub_and_presence).
func DefaultPEPConfig() Config { return Config{} }

// FieldInfo describes one form field the adapter renders: its var, XEP-0004
// type (boolean, list-single, list-multi, text-single, text-multi,
// jid-multi), label, and the options of a list field.
type FieldInfo struct {
	Var, Type, Label string
	Options          []FieldOption
}

// FieldOption is one <option/> of a list field.
type FieldOption struct{ Label, Value string }

// ConfigFields lists the pubsub#node_config fields in form order.
func ConfigFields() []FieldInfo { return nil }

// Values returns a node_config field's values as the form shows them
// (booleans "1"/"0", durations in seconds, "max" for MaxItemsMax); ok is
// false for an unknown var.
func (c *Config) Values(v string) (vals []string, ok bool) { return nil, false }

// Set applies one submitted node_config field. Unknown vars and invalid
// values fail with not-acceptable (§8.2.3.6) — the adapter returns it as
// is; limits (max_items above MaxItemsLimit...) are checked by the core.
func (c *Config) Set(v string, vals []string) error { return errUnimplemented }

// Matches reports whether every precondition field has the node's value
// (§7.1.5: precondition-not-met otherwise); booleans compare as booleans.
func (c *Config) Matches(fields map[string][]string) bool { return false }

// SubOptionFields lists the pubsub#subscribe_options fields in form order.
func SubOptionFields() []FieldInfo { return nil }

// Values returns a subscribe_options field's values as the form shows them.
func (o *SubOptions) Values(v string) (vals []string, ok bool) { return nil, false }

// Set applies one submitted subscribe_options field; invalid values fail
// with bad-request invalid-options (§6.3.6).
func (o *SubOptions) Set(v string, vals []string) error { return errUnimplemented }
