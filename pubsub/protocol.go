package pubsub

// The XEP-0060 adapter: stanzas in, core calls, stanzas out. This file
// dispatches; one proto_*.go file per group of use cases does the work:
//
//	proto_subscribe.go  §6.1-6.4 subscribe, unsubscribe, options, default
//	                    options; §5.6/§5.7 an entity's own subscriptions
//	                    and affiliations
//	proto_items.go      §6.5 item retrieval (max_items, ids, XEP-0059)
//	proto_publish.go    §7.1 publish (+ publish-options), §7.2 retract
//	proto_owner.go      §8.1-8.5 create, configure, default, delete, purge
//	proto_manage.go     §8.8/§8.9 owner management of subscriptions and
//	                    affiliations
//	proto_authorize.go  §8.6 subscription approval forms (both ways)
//	proto_disco.go      §5.1-5.5 service and node discovery
//	proto_notify.go     §7-§8 event notifications, encoded once per Event
//	proto_forms.go      node_config, subscribe_options, meta-data forms
//	proto_errors.go     core errors -> stanza errors; the adapter's own
//
// The adapter never decides policy: who may do what is the core's answer,
// returned as *Error and mapped one to one. What the adapter refuses by
// itself is malformed XML: a missing node or jid, two verbs in one
// request, a payload of two elements.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"strconv"
	"sync/atomic"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/mam"
	"github.com/gavelhq/gavel/xmlstream"
)

// XEP-0060 namespaces (§16).
const (
	NSPubSub       = "http://jabber.org/protocol/pubsub"
	NSPubSubOwner  = "http://jabber.org/protocol/pubsub#owner"
	NSPubSubEvent  = "http://jabber.org/protocol/pubsub#event"
	NSPubSubErrors = "http://jabber.org/protocol/pubsub#errors"
)

// Namespaces of the other protocols the adapter speaks.
const (
	nsDiscoInfo  = "http://jabber.org/protocol/disco#info"
	nsDiscoItems = "http://jabber.org/protocol/disco#items"
	nsPing       = "urn:xmpp:ping"
	nsDelay      = "urn:xmpp:delay"
	nsSHIM       = "http://jabber.org/protocol/shim"
	nsRSM        = mam.NSRSM
)

// Router is what the adapter needs of the server's router (*router.Router
// implements it). Route must not block on a recipient.
type Router interface {
	Route(ctx context.Context, st *xmlstream.Stanza)
}

// ProtocolOptions configure a Protocol.
type ProtocolOptions struct {
	Router Router
	Logger *slog.Logger
	// Name is the disco identity name of the service (non-PEP).
	Name string
}

// Protocol speaks XEP-0060 for one Service: it answers iqs, handles the
// messages a service receives (subscription approval forms), and, as the
// Service's Notifier, encodes each Event once and fans it out.
type Protocol struct {
	opts ProtocolOptions
	svc  *Service
	log  *slog.Logger

	// Notification message ids are idPrefix + a counter: unique within
	// the service across restarts (§12.4) without a store write.
	idPrefix string
	idSeq    atomic.Uint64
}

// NewProtocol builds the adapter; Attach gives it its Service (the
// Service takes the Protocol as Notifier, so they are built in two steps).
func NewProtocol(o ProtocolOptions) *Protocol {
	p := &Protocol{opts: o, log: o.Logger}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	p.idPrefix = hex.EncodeToString(b[:]) + "-"
	return p
}

// Attach sets the Service the adapter serves.
func (p *Protocol) Attach(s *Service) { p.svc = s }

// nextID is a fresh stanza id for a message the service originates.
func (p *Protocol) nextID() string {
	return p.idPrefix + strconv.FormatUint(p.idSeq.Add(1), 36)
}

// HandleStanza implements router.Handler for a non-PEP service's domain
// (iqs, messages, presence to the service and its nodes).
func (p *Protocol) HandleStanza(ctx context.Context, st *xmlstream.Stanza) {
	if st.Name.Local == xmlstream.KindPresence {
		// Presence to the service means nothing: presence-based delivery
		// and last-item-on-presence are driven by the IM core for local
		// users (Service.Available).
		return
	}
	host := p.host()
	if st.From() == host {
		// Our own notification or bounce come back (a node subscribed or
		// affiliated the service itself): never act on it, since a node
		// actor may be the one routing it.
		return
	}
	to, err := jid.Parse(st.To())
	if err != nil || to.Localpart() != "" || to.Resourcepart() != "" || to.Domainpart() != host {
		// Nothing lives below the service's domain (JID+NodeID addressing, §4.6.2).
		p.bounce(ctx, st, xmlstream.ServiceUnavailable())
		return
	}
	switch st.Name.Local {
	case xmlstream.KindIQ:
		p.handleServiceIQ(ctx, host, st)
	case xmlstream.KindMessage:
		switch st.Type() {
		case "error":
			// A notification bounced (§12.4 leaves handling to the
			// implementation); subscriptions stay as they are.
			p.log.Debug("pubsub notification bounced", "from", st.From())
		case "headline":
			p.HandleMessage(ctx, host, st) // never answered with an error
		default:
			if !p.HandleMessage(ctx, host, st) {
				p.bounce(ctx, st, xmlstream.ServiceUnavailable())
			}
		}
	}
}

// host is the service domain.
func (p *Protocol) host() string {
	if p.svc == nil {
		return ""
	}
	return p.svc.opts.Host
}

// handleServiceIQ answers an iq to the service domain: pubsub, disco, ping.
func (p *Protocol) handleServiceIQ(ctx context.Context, host string, st *xmlstream.Stanza) {
	typ := st.Type()
	if typ != "get" && typ != "set" {
		return // results and errors addressed to the service are consumed
	}
	el, err := st.Element()
	if err != nil {
		p.bounce(ctx, st, xmlstream.BadRequest("unparsable iq"))
		return
	}
	payload := el.FirstElement()
	if payload == nil || len(el.Elements()) != 1 {
		p.bounce(ctx, st, xmlstream.BadRequest("an iq get or set carries exactly one payload"))
		return
	}
	var result, errPayload *xmlstream.Element
	switch {
	case payload.Name.Local == "pubsub" && (payload.Name.Space == NSPubSub || payload.Name.Space == NSPubSubOwner):
		// A publish is answered once durable, from the node's goroutine:
		// the sender's stream goes on meanwhile.
		later := func(res *xmlstream.Element, err error) {
			ctx := context.WithoutCancel(ctx)
			if err != nil {
				p.replyError(ctx, st, nil, p.stanzaError(err))
				return
			}
			p.opts.Router.Route(ctx, xmlstream.ResultReply(st, res))
		}
		result, errPayload, err = p.handleIQ(ctx, host, st, payload, later)
		if err == errAnswerLater {
			return
		}
	case payload.Name.Space == nsDiscoInfo || payload.Name.Space == nsDiscoItems:
		result, err = p.HandleDisco(ctx, host, st, payload)
	case payload.Name == xmlstream.Name{Space: nsPing, Local: "ping"} && typ == "get":
	default:
		err = xmlstream.ServiceUnavailable()
	}
	if err != nil {
		p.replyError(ctx, st, errPayload, p.stanzaError(err))
		return
	}
	p.opts.Router.Route(ctx, xmlstream.ResultReply(st, result))
}

// HandleIQ answers a pubsub iq (payload {pubsub}pubsub or
// {pubsub#owner}pubsub) addressed to host: the service domain, or a PEP
// account's bare JID (im calls it as an account IQ handler). It returns
// the result payload (nil: empty result) or a *xmlstream.StanzaError.
func (p *Protocol) HandleIQ(ctx context.Context, host string, iq *xmlstream.Stanza, payload *xmlstream.Element) (*xmlstream.Element, error) {
	result, _, err := p.handleIQ(ctx, host, iq, payload, nil)
	if err != nil {
		return nil, p.stanzaError(err)
	}
	return result, nil
}

// handleIQ is HandleIQ that also returns, with an error, the payload the
// error reply carries (the failed entries of a multiple modification,
// §8.8.2.4 and §8.9.2.4); HandleIQ's callers cannot send it. With later
// set, a request that may be answered later (a publish) returns
// errAnswerLater and later gets the answer.
func (p *Protocol) handleIQ(ctx context.Context, host string, iq *xmlstream.Stanza, payload *xmlstream.Element, later func(*xmlstream.Element, error)) (result, errPayload *xmlstream.Element, err error) {
	if p.svc == nil {
		return nil, nil, xmlstream.ServiceUnavailable()
	}
	actor, err := jid.Parse(iq.From())
	if err != nil {
		return nil, nil, xmlstream.JIDMalformed()
	}
	r := &iqRequest{p: p, ctx: ctx, host: host, actor: actor, get: iq.Type() == "get", payload: payload, later: later}
	if payload.Name.Space == NSPubSubOwner {
		return r.owner()
	}
	result, err = r.pubsub()
	return result, nil, err
}

// iqRequest is one pubsub iq being answered.
type iqRequest struct {
	p       *Protocol
	ctx     context.Context
	host    string
	actor   jid.JID
	get     bool // iq type get (else set)
	payload *xmlstream.Element
	// later, when set, lets a handler answer after it returned
	// errAnswerLater (see handleIQ).
	later func(*xmlstream.Element, error)
}

// errAnswerLater: the request will be answered through iqRequest.later.
var errAnswerLater = errors.New("pubsub: answered later")

func (r *iqRequest) svc() *Service { return r.p.svc }

// verbs splits the children of <pubsub/> in its own namespace from the
// others (an XEP-0059 <set/>).
func verbs(payload *xmlstream.Element) (own, other []*xmlstream.Element) {
	for _, c := range payload.Elements() {
		if c.Name.Space == payload.Name.Space {
			own = append(own, c)
		} else {
			other = append(other, c)
		}
	}
	return own, other
}

// pubsub dispatches a {pubsub}pubsub request (§5-§7; schema §16.1): one
// verb, or one of the pairs create+configure, subscribe+options,
// publish+publish-options (the second after the first).
func (r *iqRequest) pubsub() (*xmlstream.Element, error) {
	own, other := verbs(r.payload)
	if len(own) == 0 {
		return nil, badRequest("the pubsub element carries no request")
	}
	verb := own[0]
	var second *xmlstream.Element
	if len(own) == 2 {
		second = own[1]
		if companion(verb.Name.Local) != second.Name.Local {
			return nil, badRequest("one pubsub request at a time")
		}
	} else if len(own) > 2 {
		return nil, badRequest("one pubsub request at a time")
	}
	// Only item retrieval takes an XEP-0059 <set/> beside it.
	var rsm *xmlstream.Element
	for _, o := range other {
		if o.Name.Space != nsRSM || o.Name.Local != "set" || verb.Name.Local != "items" || rsm != nil {
			return nil, badRequest("unexpected <" + o.Name.Local + "/> in the pubsub request")
		}
		rsm = o
	}
	want := func(get bool) error {
		if r.get != get {
			return badRequest("wrong iq type for <" + verb.Name.Local + "/>")
		}
		return nil
	}
	switch verb.Name.Local {
	case "create":
		if err := want(false); err != nil {
			return nil, err
		}
		return r.create(verb, second)
	case "subscribe":
		if err := want(false); err != nil {
			return nil, err
		}
		return r.subscribe(verb, second)
	case "publish":
		if err := want(false); err != nil {
			return nil, err
		}
		return r.publish(verb, second)
	case "unsubscribe":
		if err := want(false); err != nil {
			return nil, err
		}
		return r.unsubscribe(verb)
	case "retract":
		if err := want(false); err != nil {
			return nil, err
		}
		return r.retract(verb)
	case "options":
		if r.get {
			return r.optionsGet(verb)
		}
		return r.optionsSet(verb)
	case "items":
		if err := want(true); err != nil {
			return nil, err
		}
		return r.items(verb, rsm)
	case "subscriptions":
		if err := want(true); err != nil {
			return nil, err
		}
		return r.ownSubscriptions(verb)
	case "affiliations":
		if err := want(true); err != nil {
			return nil, err
		}
		return r.ownAffiliations(verb)
	case "default":
		if err := want(true); err != nil {
			return nil, err
		}
		return r.defaultSubOptions(verb)
	case "configure", "publish-options":
		return nil, badRequest("<" + verb.Name.Local + "/> must follow its request")
	}
	return nil, badRequest("unknown pubsub request <" + verb.Name.Local + "/>")
}

// companion is the element that may follow a request in the same
// <pubsub/> (§16.1 schema), or "".
func companion(verb string) string {
	switch verb {
	case "create":
		return "configure"
	case "subscribe":
		return "options"
	case "publish":
		return "publish-options"
	}
	return ""
}

// owner dispatches a {pubsub#owner}pubsub request (§8; schema §16.4):
// exactly one child.
func (r *iqRequest) owner() (result, errPayload *xmlstream.Element, err error) {
	own, other := verbs(r.payload)
	if len(own) != 1 || len(other) != 0 {
		return nil, nil, badRequest("one pubsub#owner request at a time")
	}
	verb := own[0]
	switch verb.Name.Local {
	case "configure":
		if r.get {
			result, err = r.configureGet(verb)
		} else {
			result, err = r.configureSet(verb)
		}
		return result, nil, err
	case "default":
		if !r.get {
			return nil, nil, badRequest("<default/> is retrieved with an iq get")
		}
		result, err = r.defaultNodeConfig(verb)
		return result, nil, err
	case "delete":
		if r.get {
			return nil, nil, badRequest("<delete/> needs an iq set")
		}
		return nil, nil, r.deleteNode(verb)
	case "purge":
		if r.get {
			return nil, nil, badRequest("<purge/> needs an iq set")
		}
		return nil, nil, r.purge(verb)
	case "subscriptions":
		if r.get {
			result, err = r.nodeSubscriptions(verb)
			return result, nil, err
		}
		return r.modifySubscriptions(verb)
	case "affiliations":
		if r.get {
			result, err = r.nodeAffiliations(verb)
			return result, nil, err
		}
		return r.modifyAffiliations(verb)
	}
	return nil, nil, badRequest("unknown pubsub#owner request <" + verb.Name.Local + "/>")
}

// bounce answers st with an error (never an error with an error).
func (p *Protocol) bounce(ctx context.Context, st *xmlstream.Stanza, e *xmlstream.StanzaError) {
	if st.From() == "" || p.opts.Router == nil {
		return
	}
	if reply := xmlstream.ErrorReply(st, e); reply != nil {
		p.opts.Router.Route(ctx, reply)
	}
}

// replyError answers an iq with e and, when set, payload before the
// <error/> (RFC 6120 §8.3.1 lets an error reply carry the request's data).
func (p *Protocol) replyError(ctx context.Context, iq *xmlstream.Stanza, payload *xmlstream.Element, e *xmlstream.StanzaError) {
	if payload == nil {
		p.bounce(ctx, iq, e)
		return
	}
	if iq.From() == "" || iq.Type() == "error" || p.opts.Router == nil {
		return
	}
	reply := xmlstream.NewElement(xmlstream.NSClient, xmlstream.KindIQ,
		"from", iq.To(), "to", iq.From(), "id", iq.ID(), "type", "error")
	reply.Append(payload, e.Element())
	p.opts.Router.Route(ctx, xmlstream.NewStanza(reply))
}
