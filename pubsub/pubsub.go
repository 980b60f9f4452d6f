// Package pubsub is Gavel's publish-subscribe core (XEP-0060) and its two
// faces: the service at pubsub.<domain> and PEP (XEP-0163) on every account.
//
// The core (service.go, node.go, access.go, items.go, config.go) knows no
// XML: nodes, items, subscriptions and affiliations, a capability table per
// affiliation, and notifications handed to a Notifier as Events. The
// XEP-0060 adapter (protocol.go and one file per use case) turns iqs into
// core calls and Events into <message/>s encoded once per fan-out. PEP
// (pep.go) is the same core with one host per account. The auction service
// publishes through the core in-process.
//
// A "host" is the JID that serves the nodes: the service domain, or the
// account's bare JID for PEP. One Service serves many hosts; keys and actors
// are per (host, node).
package pubsub

import (
	"context"
	"time"

	"mellium.im/xmpp/jid"
)

// Affiliation is an entity's affiliation with a node (XEP-0060 §4.1).
type Affiliation int

// Affiliations, lowest privilege first except Outcast.
const (
	AffNone Affiliation = iota
	AffOutcast
	AffMember
	AffPublishOnly
	AffPublisher
	AffOwner
)

// String is the protocol name ("none", "outcast", "member", "publish-only",
// "publisher", "owner").
func (a Affiliation) String() string {
	switch a {
	case AffOutcast:
		return "outcast"
	case AffMember:
		return "member"
	case AffPublishOnly:
		return "publish-only"
	case AffPublisher:
		return "publisher"
	case AffOwner:
		return "owner"
	}
	return "none"
}

// ParseAffiliation is the inverse of String.
func ParseAffiliation(s string) (Affiliation, bool) {
	for a := AffNone; a <= AffOwner; a++ {
		if a.String() == s {
			return a, true
		}
	}
	return AffNone, false
}

// SubState is a subscription's state (XEP-0060 §4.2).
type SubState int

// Subscription states.
const (
	SubNone SubState = iota
	SubPending
	SubUnconfigured
	SubSubscribed
)

// String is the protocol name ("none", "pending", "unconfigured", "subscribed").
func (s SubState) String() string {
	switch s {
	case SubPending:
		return "pending"
	case SubUnconfigured:
		return "unconfigured"
	case SubSubscribed:
		return "subscribed"
	}
	return "none"
}

// ParseSubState is the inverse of String.
func ParseSubState(s string) (SubState, bool) {
	for st := SubNone; st <= SubSubscribed; st++ {
		if st.String() == s {
			return st, true
		}
	}
	return SubNone, false
}

// Item is one published item. Payload is the raw XML of the item's single
// payload element, standalone (it declares its own namespace), or nil for
// an item without payload.
type Item struct {
	ID        string
	Publisher jid.JID // full JID as published (the service may show the bare one)
	Payload   []byte
	Time      time.Time // when it was published (server clock)
}

// Subscription is one subscription of JID to a node.
type Subscription struct {
	Host, Node string
	JID        jid.JID // the subscribed address, bare or full as requested
	SubID      string
	State      SubState
	Options    SubOptions
}

// Affiliate is one affiliation of a bare JID with a node.
type Affiliate struct {
	Host, Node  string
	JID         jid.JID // bare
	Affiliation Affiliation
}

// NodeInfo describes a node for disco (XEP-0060 §5.3, §5.4 meta-data).
type NodeInfo struct {
	Host, Node  string
	Config      Config
	Creator     jid.JID
	Created     time.Time
	Owners      []jid.JID
	Publishers  []jid.JID
	Subscribers int // subscriptions in state subscribed
	Items       int // items currently stored
}

// EventKind says what an Event announces (XEP-0060 §7, §8).
type EventKind int

// Event kinds.
const (
	EventItems        EventKind = iota // items published (§7.1.2)
	EventRetract                       // items retracted (§7.2.2)
	EventPurge                         // all items purged (§8.5.2)
	EventDelete                        // node deleted (§8.4.2)
	EventConfig                        // configuration changed (§8.2.5)
	EventSubscription                  // a subscription state changed (§8.8.4, §6.1.5 approval)
)

// Event is a notification the core asks the adapter to deliver. Config is
// the node's configuration when the event happened (deliver_payloads,
// notification_type, title...). The adapter encodes one message per Event
// and rewrites only 'to' per recipient.
type Event struct {
	Host, Node string
	Kind       EventKind
	Config     Config
	// Items: EventItems (payloads included; the adapter drops them when
	// !Config.DeliverPayloads). Delayed marks a replay of the last
	// published item (on subscribe, on presence): the adapter adds a
	// XEP-0203 <delay/> stamped with the item's Time.
	Items   []Item
	Delayed bool
	// Retracted: EventRetract item ids.
	Retracted []string
	// Redirect: EventDelete redirect URI (xmpp:host?;node=...), may be "".
	Redirect string
	// Subscription: EventSubscription, the new state.
	Subscription *Subscription
}

// Recipient is one address an Event goes to. SubIDs lists the subscription
// ids the delivery is for when the JID holds several subscriptions to the
// node (XEP-0060 §12.7, SHIM header "SubID"); empty otherwise.
type Recipient struct {
	JID    jid.JID
	SubIDs []string
}

// AuthorizationRequest asks the node owners to approve a pending
// subscription (XEP-0060 §8.6, the pubsub#subscribe_authorization form).
type AuthorizationRequest struct {
	Host, Node string
	Owners     []jid.JID
	Subscriber jid.JID
	SubID      string
}

// Notifier delivers what the core produces. It must not block on a
// recipient (fan-out goes to bounded writers).
type Notifier interface {
	Notify(ctx context.Context, ev *Event, to []Recipient)
	RequestAuthorization(ctx context.Context, req AuthorizationRequest)
}

// Relations answers the questions access models and presence-based
// delivery ask about users. The im package implements it.
type Relations interface {
	// Roster reports contact's presence subscription in owner's roster
	// ("none", "to", "from", "both"; "none" when absent) and the groups the
	// contact is in. Only meaningful for a local owner.
	Roster(ctx context.Context, owner, contact jid.JID) (subscription string, groups []string)
	// Available lists the full JIDs of bare's available local sessions
	// (nil for a remote or offline bare JID).
	Available(bare jid.JID) []jid.JID
}

// Interest lists, for a PEP host, the full JIDs that asked for a node's
// notifications implicitly: the owner's contacts and own resources online
// with caps containing node+"+notify" (XEP-0163 §4). The core still checks
// each against the node's access model.
type Interest interface {
	Interested(ctx context.Context, host, node string) []jid.JID
}
