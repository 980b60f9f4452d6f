package pubsub

// Node configuration (XEP-0060 §8.2, FORM_TYPE
// http://jabber.org/protocol/pubsub#node_config) and subscription options
// (§6.3, pubsub#subscribe_options), with their mapping to and from data
// form field values. The adapter builds forms from Fields/Values and feeds
// submitted fields to Set; the core never sees XML.

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/xmlstream"
)

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

// notification_type values.
const (
	NotifyNormal   = "normal"
	NotifyHeadline = "headline"
)

// itemreply values.
const (
	ItemReplyOwner     = "owner"
	ItemReplyPublisher = "publisher"
)

// Bounds on submitted values (a form is already bounded by the stanza
// size; these keep one node's stored configuration small).
const (
	maxConfigText   = 2048 // bytes of one text value
	maxConfigValues = 64   // values of one multi field (contacts, groups)
	maxItemExpire   = int64(time.Duration(1<<63-1) / time.Second)
	maxDigestFreq   = 1<<31 - 1 // milliseconds
)

// DefaultConfig is the service's default node configuration (documented
// in docs/pubsub.md).
func DefaultConfig() Config {
	return Config{
		AccessModel:           AccessOpen,
		PublishModel:          PublishPublishers,
		Subscribe:             true,
		MaxItems:              10,
		PersistItems:          true,
		MaxPayloadSize:        256 << 10,
		DeliverNotifications:  true,
		DeliverPayloads:       true,
		NotifyDelete:          true,
		NotifyRetract:         true,
		SendLastPublishedItem: SendLastOnSubAndPresence,
		NotificationType:      NotifyHeadline,
		ItemReply:             ItemReplyOwner,
	}
}

// DefaultPEPConfig is a PEP node's default (access model presence,
// max_items 1, send_last_published_item on_sub_and_presence).
func DefaultPEPConfig() Config {
	c := DefaultConfig()
	c.AccessModel = AccessPresence
	c.MaxItems = 1
	return c
}

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
func ConfigFields() []FieldInfo { return cfgFieldInfos(configFields) }

// Values returns a node_config field's values as the form shows them
// (booleans "1"/"0", durations in seconds, "max" for MaxItemsMax); ok is
// false for an unknown var.
func (c *Config) Values(v string) (vals []string, ok bool) {
	f := findCfgField(configFields, v)
	if f == nil {
		return nil, false
	}
	return f.get(c), true
}

// Set applies one submitted node_config field. Unknown vars and invalid
// values fail with not-acceptable (§8.2.3.6) — the adapter returns it as
// is; limits (max_items above MaxItemsLimit...) are checked by the core.
// FORM_TYPE is ignored; on error c is unchanged.
func (c *Config) Set(v string, vals []string) error {
	if v == "FORM_TYPE" {
		return nil
	}
	f := findCfgField(configFields, v)
	if f == nil {
		return &Error{Cond: "not-acceptable", Type: "modify", Text: "unknown field " + v}
	}
	if err := f.set(c, vals); err != nil {
		if pe := (*Error)(nil); errors.As(err, &pe) {
			return pe
		}
		return &Error{Cond: "not-acceptable", Type: "modify", Text: v + ": " + err.Error()}
	}
	return nil
}

// Matches reports whether every precondition field has the node's value
// (§7.1.5: precondition-not-met otherwise); values compare as the fields'
// meaning (booleans as booleans, numbers as numbers, multi fields as
// sets). An unknown or invalid field never matches.
func (c *Config) Matches(fields map[string][]string) bool {
	for v, vals := range fields {
		if v == "FORM_TYPE" {
			continue
		}
		f := findCfgField(configFields, v)
		if f == nil {
			return false
		}
		want := *c
		if f.set(&want, vals) != nil || !sameValues(f.get(&want), f.get(c), f.multi) {
			return false
		}
	}
	return true
}

// SubOptionFields lists the pubsub#subscribe_options fields in form order.
func SubOptionFields() []FieldInfo { return cfgFieldInfos(subOptionFields) }

// Values returns a subscribe_options field's values as the form shows them.
func (o *SubOptions) Values(v string) (vals []string, ok bool) {
	f := findCfgField(subOptionFields, v)
	if f == nil {
		return nil, false
	}
	return f.get(o), true
}

// Set applies one submitted subscribe_options field; unknown vars and
// invalid values fail with bad-request invalid-options (§6.3.6). FORM_TYPE
// is ignored; on error o is unchanged.
func (o *SubOptions) Set(v string, vals []string) error {
	if v == "FORM_TYPE" {
		return nil
	}
	f := findCfgField(subOptionFields, v)
	if f == nil {
		return &Error{Cond: "bad-request", Type: "modify", App: "invalid-options", Text: "unknown field " + v}
	}
	if err := f.set(o, vals); err != nil {
		return &Error{Cond: "bad-request", Type: "modify", App: "invalid-options", Text: v + ": " + err.Error()}
	}
	return nil
}

// cfgField is one field of a form backed by a struct T: how to show it
// and how to apply a submitted value. set leaves T unchanged on error.
type cfgField[T any] struct {
	FieldInfo
	get   func(*T) []string
	set   func(*T, []string) error
	multi bool // values compare as a set
	// hidden fields are accepted and shown by Values but not offered in
	// the form (pubsub#node_type: always "leaf").
	hidden bool
}

func findCfgField[T any](fields []cfgField[T], v string) *cfgField[T] {
	for i := range fields {
		if fields[i].Var == v {
			return &fields[i]
		}
	}
	return nil
}

func cfgFieldInfos[T any](fields []cfgField[T]) []FieldInfo {
	out := make([]FieldInfo, 0, len(fields))
	for _, f := range fields {
		if !f.hidden {
			fi := f.FieldInfo
			fi.Options = slices.Clone(fi.Options)
			out = append(out, fi)
		}
	}
	return out
}

func sameValues(a, b []string, asSet bool) bool {
	if asSet {
		a, b = slices.Clone(a), slices.Clone(b)
		slices.Sort(a)
		slices.Sort(b)
		a, b = slices.Compact(a), slices.Compact(b)
	}
	return slices.Equal(a, b)
}

// single is the one value of a single-valued field ("" for none).
func singleValue(vals []string) (string, error) {
	switch len(vals) {
	case 0:
		return "", nil
	case 1:
		return vals[0], nil
	}
	return "", errors.New("more than one value")
}

func boolValues(b bool) []string {
	if b {
		return []string{"1"}
	}
	return []string{"0"}
}

func textValues(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

func checkConfigText(s string) error {
	if len(s) > maxConfigText {
		return fmt.Errorf("longer than %d bytes", maxConfigText)
	}
	if !utf8.ValidString(s) {
		return errors.New("not UTF-8")
	}
	return nil
}

// cfgBool is a boolean field stored at acc(T).
func cfgBool[T any](v, label string, acc func(*T) *bool) cfgField[T] {
	return cfgField[T]{
		FieldInfo: FieldInfo{Var: v, Type: "boolean", Label: label},
		get:       func(t *T) []string { return boolValues(*acc(t)) },
		set: func(t *T, vals []string) error {
			s, err := singleValue(vals)
			if err != nil {
				return err
			}
			b, ok := xmlstream.ParseBool(strings.TrimSpace(s))
			if !ok {
				return fmt.Errorf("%q is not a boolean", s)
			}
			*acc(t) = b
			return nil
		},
	}
}

// cfgText is a text-single field; check (optional) validates a value.
func cfgText[T any](v, label string, acc func(*T) *string, check func(string) error) cfgField[T] {
	return cfgField[T]{
		FieldInfo: FieldInfo{Var: v, Type: "text-single", Label: label},
		get:       func(t *T) []string { return textValues(*acc(t)) },
		set: func(t *T, vals []string) error {
			s, err := singleValue(vals)
			if err == nil {
				err = checkConfigText(s)
			}
			if err == nil && check != nil {
				err = check(s)
			}
			if err != nil {
				return err
			}
			*acc(t) = s
			return nil
		},
	}
}

// cfgEnum is a list-single field whose value must be one of opts.
func cfgEnum[T any](v, label string, acc func(*T) *string, opts ...FieldOption) cfgField[T] {
	return cfgField[T]{
		FieldInfo: FieldInfo{Var: v, Type: "list-single", Label: label, Options: opts},
		get:       func(t *T) []string { return textValues(*acc(t)) },
		set: func(t *T, vals []string) error {
			s, err := singleValue(vals)
			if err != nil {
				return err
			}
			s = strings.TrimSpace(s)
			if !slices.ContainsFunc(opts, func(o FieldOption) bool { return o.Value == s }) {
				return fmt.Errorf("%q is not an option", s)
			}
			*acc(t) = s
			return nil
		},
	}
}

// uintValue parses a non-negative decimal integer of at most limit.
func uintValue(s string, limit int64) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n < 0 || n > limit {
		return 0, fmt.Errorf("%q is not an integer from 0 to %d", s, limit)
	}
	return n, nil
}

// checkLanguage accepts an RFC 5646 language tag's shape (letters, digits
// and hyphens); the empty value clears the language.
func checkLanguage(s string) error {
	if len(s) > 64 {
		return errors.New("not a language tag")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' && i > 0) {
			return fmt.Errorf("%q is not a language tag", s)
		}
	}
	return nil
}

// multiValues validates a multi field's values: bounded, each a valid
// text; duplicates are dropped, order kept. canon (optional) rewrites each.
func multiValues(vals []string, canon func(string) (string, error)) ([]string, error) {
	if len(vals) > maxConfigValues {
		return nil, fmt.Errorf("more than %d values", maxConfigValues)
	}
	out := make([]string, 0, len(vals))
	for _, s := range vals {
		if err := checkConfigText(s); err != nil {
			return nil, err
		}
		if canon != nil {
			var err error
			if s, err = canon(s); err != nil {
				return nil, err
			}
		}
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

func canonJID(s string) (string, error) {
	j, err := jid.Parse(strings.TrimSpace(s))
	if err != nil {
		return "", fmt.Errorf("%q is not a JID", s)
	}
	return j.String(), nil
}

// Options of the list fields, labelled as in XEP-0060 §16.4.
var (
	accessModelOptions = []FieldOption{
		{"Subscription requests must be approved and only subscribers may retrieve items", AccessAuthorize},
		{"Anyone may subscribe and retrieve items", AccessOpen},
		{"Anyone with a presence subscription of both or from may subscribe and retrieve items", AccessPresence},
		{"Anyone in the specified roster group(s) may subscribe and retrieve items", AccessRoster},
		{"Only those on a whitelist may subscribe and retrieve items", AccessWhitelist},
	}
	publishModelOptions = []FieldOption{
		{"Only publishers may publish", PublishPublishers},
		{"Subscribers may publish", PublishSubscribers},
		{"Anyone may publish", PublishOpen},
	}
	sendLastOptions = []FieldOption{
		{"Never", SendLastNever},
		{"When a new subscription is processed", SendLastOnSub},
		{"When a new subscription is processed and whenever a subscriber comes online", SendLastOnSubAndPresence},
	}
	notificationTypeOptions = []FieldOption{
		{"Messages of type normal", NotifyNormal},
		{"Messages of type headline", NotifyHeadline},
	}
	itemReplyOptions = []FieldOption{
		{"Statically specify a replyto of the node owner(s)", ItemReplyOwner},
		{"Dynamically specify a replyto of the item publisher", ItemReplyPublisher},
	}
	showValueOptions = []FieldOption{
		{"XMPP Show Value of Away", "away"},
		{"XMPP Show Value of Chat", "chat"},
		{"XMPP Show Value of DND (Do Not Disturb)", "dnd"},
		{"Mere Availability in XMPP (No Show Value)", "online"},
		{"XMPP Show Value of XA (Extended Away)", "xa"},
	}
)

// configFields are the pubsub#node_config fields, in the order of the
// XEP-0060 §8.2 example form (fields it lacks after the one they go with),
// with the labels of the §16.4 registration. pubsub#language is a free
// text-single field (the registry's list-single has no list to offer).
var configFields = []cfgField[Config]{
	cfgText("pubsub#title", "A friendly name for the node",
		func(c *Config) *string { return &c.Title }, nil),
	cfgText("pubsub#description", "A description of the node",
		func(c *Config) *string { return &c.Description }, nil),
	cfgBool("pubsub#deliver_notifications", "Whether to deliver event notifications",
		func(c *Config) *bool { return &c.DeliverNotifications }),
	cfgBool("pubsub#deliver_payloads", "Whether to deliver payloads with event notifications; applies only to leaf nodes",
		func(c *Config) *bool { return &c.DeliverPayloads }),
	cfgBool("pubsub#notify_config", "Whether to notify subscribers when the node configuration changes",
		func(c *Config) *bool { return &c.NotifyConfig }),
	cfgBool("pubsub#notify_delete", "Whether to notify subscribers when the node is deleted",
		func(c *Config) *bool { return &c.NotifyDelete }),
	cfgBool("pubsub#notify_retract", "Whether to notify subscribers when items are removed from the node",
		func(c *Config) *bool { return &c.NotifyRetract }),
	cfgBool("pubsub#notify_sub", "Whether to notify owners about new subscribers and unsubscribes",
		func(c *Config) *bool { return &c.NotifySub }),
	cfgBool("pubsub#persist_items", "Whether to persist items to storage",
		func(c *Config) *bool { return &c.PersistItems }),
	{
		FieldInfo: FieldInfo{Var: "pubsub#max_items", Type: "text-single",
			Label: "The maximum number of items to persist. `max` for no specific limit other than a server imposed maximum."},
		get: func(c *Config) []string {
			if c.MaxItems == MaxItemsMax {
				return []string{"max"}
			}
			return []string{strconv.Itoa(c.MaxItems)}
		},
		set: func(c *Config, vals []string) error {
			s, err := singleValue(vals)
			if err != nil {
				return err
			}
			if strings.TrimSpace(s) == "max" {
				c.MaxItems = MaxItemsMax
				return nil
			}
			n, err := uintValue(s, 1<<31-1)
			if err != nil {
				return err
			}
			c.MaxItems = int(n)
			return nil
		},
	},
	{
		FieldInfo: FieldInfo{Var: "pubsub#item_expire", Type: "text-single",
			Label: "Number of seconds after which to automatically purge items. `max` for no specific limit other than a server imposed maximum."},
		get: func(c *Config) []string { return []string{strconv.FormatInt(int64(c.ItemExpire/time.Second), 10)} },
		set: func(c *Config, vals []string) error {
			s, err := singleValue(vals)
			if err != nil {
				return err
			}
			if strings.TrimSpace(s) == "max" { // no limit: items never expire
				c.ItemExpire = 0
				return nil
			}
			n, err := uintValue(s, maxItemExpire)
			if err != nil {
				return err
			}
			c.ItemExpire = time.Duration(n) * time.Second
			return nil
		},
	},
	cfgBool("pubsub#subscribe", "Whether to allow subscriptions",
		func(c *Config) *bool { return &c.Subscribe }),
	cfgEnum("pubsub#access_model", "Who may subscribe and retrieve items",
		func(c *Config) *string { return &c.AccessModel }, accessModelOptions...),
	{
		// Options are the owner's roster groups: the adapter adds them.
		FieldInfo: FieldInfo{Var: "pubsub#roster_groups_allowed", Type: "list-multi",
			Label: "The roster group(s) allowed to subscribe and retrieve items"},
		get: func(c *Config) []string { return slices.Clone(c.RosterGroupsAllowed) },
		set: func(c *Config, vals []string) error {
			groups, err := multiValues(vals, nil)
			if err != nil {
				return err
			}
			c.RosterGroupsAllowed = groups
			return nil
		},
		multi: true,
	},
	cfgEnum("pubsub#publish_model", "The publisher model",
		func(c *Config) *string { return &c.PublishModel }, publishModelOptions...),
	cfgBool("pubsub#purge_offline", "Whether to purge all items when the relevant publisher goes offline",
		func(c *Config) *bool { return &c.PurgeOffline }),
	{
		FieldInfo: FieldInfo{Var: "pubsub#max_payload_size", Type: "text-single",
			Label: "The maximum payload size in bytes"},
		get: func(c *Config) []string { return []string{strconv.Itoa(c.MaxPayloadSize)} },
		set: func(c *Config, vals []string) error {
			s, err := singleValue(vals)
			if err != nil {
				return err
			}
			n, err := uintValue(s, 1<<31-1)
			if err != nil {
				return err
			}
			if n == 0 {
				return errors.New("must be at least 1")
			}
			c.MaxPayloadSize = int(n)
			return nil
		},
	},
	cfgEnum("pubsub#send_last_published_item", "When to send the last published item",
		func(c *Config) *string { return &c.SendLastPublishedItem }, sendLastOptions...),
	cfgBool("pubsub#presence_based_delivery", "Whether to deliver notifications to available users only",
		func(c *Config) *bool { return &c.PresenceBasedDelivery }),
	cfgEnum("pubsub#notification_type", "Specify the delivery style for notifications",
		func(c *Config) *string { return &c.NotificationType }, notificationTypeOptions...),
	cfgText("pubsub#type", "The semantic type information of data in the node, usually specified by the namespace of the payload (if any)",
		func(c *Config) *string { return &c.Type }, nil),
	cfgText("pubsub#body_xslt", "The URL of an XSL transformation which can be applied to payloads in order to generate an appropriate message body element.",
		func(c *Config) *string { return &c.BodyXSLT }, nil),
	cfgText("pubsub#dataform_xslt", "The URL of an XSL transformation which can be applied to the payload format in order to generate a valid Data Forms result that the client could display using a generic Data Forms rendering engine",
		func(c *Config) *string { return &c.DataformXSLT }, nil),
	{
		FieldInfo: FieldInfo{Var: "pubsub#contact", Type: "jid-multi",
			Label: "The JIDs of those to contact with questions"},
		get: func(c *Config) []string { return slices.Clone(c.Contact) },
		set: func(c *Config, vals []string) error {
			jids, err := multiValues(vals, canonJID)
			if err != nil {
				return err
			}
			c.Contact = jids
			return nil
		},
		multi: true,
	},
	cfgText("pubsub#language", "The default language of the node",
		func(c *Config) *string { return &c.Language }, checkLanguage),
	cfgEnum("pubsub#itemreply", "Whether owners or publisher should receive replies to items",
		func(c *Config) *string { return &c.ItemReply }, itemReplyOptions...),
	{
		// Collections (XEP-0248) are not implemented: every node is a leaf.
		FieldInfo: FieldInfo{Var: "pubsub#node_type", Type: "list-single",
			Label:   "Whether the node is a leaf (default)",
			Options: []FieldOption{{"The node is a leaf node (default)", "leaf"}}},
		get: func(*Config) []string { return []string{"leaf"} },
		set: func(_ *Config, vals []string) error {
			s, err := singleValue(vals)
			switch {
			case err != nil:
				return err
			case strings.TrimSpace(s) == "collection":
				return unsupported("collections")
			case strings.TrimSpace(s) != "leaf":
				return fmt.Errorf("%q is not a node type", s)
			}
			return nil
		},
		hidden: true,
	},
}

// subOptionFields are the pubsub#subscribe_options fields in the order of
// the §16.4 registration (the collection-only subscription_type and
// subscription_depth left out), with its labels.
var subOptionFields = []cfgField[SubOptions]{
	cfgBool("pubsub#deliver", "Whether an entity wants to receive or disable notifications",
		func(o *SubOptions) *bool { return &o.Deliver }),
	cfgBool("pubsub#digest", "Whether an entity wants to receive digests (aggregations) of notifications or all notifications individually",
		func(o *SubOptions) *bool { return &o.Digest }),
	{
		FieldInfo: FieldInfo{Var: "pubsub#digest_frequency", Type: "text-single",
			Label: "The minimum number of milliseconds between sending any two notification digests"},
		get: func(o *SubOptions) []string { return []string{strconv.Itoa(o.DigestFreq)} },
		set: func(o *SubOptions, vals []string) error {
			s, err := singleValue(vals)
			if err != nil {
				return err
			}
			n, err := uintValue(s, maxDigestFreq)
			if err != nil {
				return err
			}
			o.DigestFreq = int(n)
			return nil
		},
	},
	{
		FieldInfo: FieldInfo{Var: "pubsub#expire", Type: "text-single",
			Label: "The DateTime at which a leased subscription will end or has ended"},
		get: func(o *SubOptions) []string {
			switch {
			case o.ExpireOnPresence:
				return []string{"presence"}
			case o.Expire.IsZero():
				return nil
			}
			return []string{o.Expire.UTC().Format(time.RFC3339Nano)}
		},
		set: func(o *SubOptions, vals []string) error {
			s, err := singleValue(vals)
			if err != nil {
				return err
			}
			switch s = strings.TrimSpace(s); s {
			case "":
				o.Expire, o.ExpireOnPresence = time.Time{}, false
			case "presence":
				o.Expire, o.ExpireOnPresence = time.Time{}, true
			default:
				t, err := time.Parse(time.RFC3339Nano, s) // XEP-0082 DateTime
				if err != nil {
					return fmt.Errorf("%q is not a DateTime or \"presence\"", s)
				}
				o.Expire, o.ExpireOnPresence = t, false
			}
			return nil
		},
	},
	cfgBool("pubsub#include_body", "Whether an entity wants to receive an XMPP message body in addition to the payload format",
		func(o *SubOptions) *bool { return &o.IncludeBody }),
	{
		FieldInfo: FieldInfo{Var: "pubsub#show-values", Type: "list-multi",
			Label: "The presence states for which an entity wants to receive notifications", Options: showValueOptions},
		get: func(o *SubOptions) []string { return slices.Clone(o.ShowValues) },
		set: func(o *SubOptions, vals []string) error {
			shows, err := multiValues(vals, func(s string) (string, error) {
				s = strings.TrimSpace(s)
				if !slices.ContainsFunc(showValueOptions, func(o FieldOption) bool { return o.Value == s }) {
					return "", fmt.Errorf("%q is not a show value", s)
				}
				return s, nil
			})
			if err != nil {
				return err
			}
			o.ShowValues = shows
			return nil
		},
		multi: true,
	},
}
