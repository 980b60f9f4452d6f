package pubsub

// Subscriber use cases (XEP-0060 §6.1-§6.4): subscribe (with options in
// the same request, §6.3.7), unsubscribe, get and set a subscription's
// options, the default options; and an entity's own subscriptions and
// affiliations (§5.6, §5.7).

import (
	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/xmlstream"
)

// subscriberAttr is the required 'jid' of <subscribe/>, <unsubscribe/> or
// <options/> (bad-request jid-required §6.3.4.3; invalid-jid §6.1.3.1).
func subscriberAttr(el *xmlstream.Element) (jid.JID, error) {
	s := el.Attr("jid")
	if s == "" {
		return jid.JID{}, errJIDRequired()
	}
	j, err := jid.Parse(s)
	if err != nil {
		return jid.JID{}, errInvalidJID()
	}
	return j, nil
}

// subscriptionElement is <subscription/> in the pubsub namespace.
func subscriptionElement(s Subscription) *xmlstream.Element {
	return xmlstream.NewElement(NSPubSub, "subscription",
		"node", s.Node, "jid", s.JID.String(), "subid", s.SubID, "subscription", s.State.String())
}

// subscribe subscribes (§6.1), with <options/> after <subscribe/> carrying
// a subscribe_options form (§6.3.7): the answer then shows the resulting
// options.
func (r *iqRequest) subscribe(sub, options *xmlstream.Element) (*xmlstream.Element, error) {
	node, err := nodeAttr(sub)
	if err != nil {
		return nil, err
	}
	subscriber, err := subscriberAttr(sub)
	if err != nil {
		return nil, err
	}
	var fields map[string][]string
	if options != nil {
		if options.Attr("node") != "" || options.Attr("jid") != "" {
			return nil, badRequest("<options/> after <subscribe/> takes no node or jid")
		}
		form, err := submittedForm(options, formSubOptions)
		if err != nil {
			return nil, err
		}
		if form != nil && form.Type == "submit" {
			fields = fieldValues(form)
		}
	}
	s, err := r.svc().Subscribe(r.ctx, r.host, r.actor, node, subscriber, fields)
	if err != nil {
		return nil, err
	}
	res := xmlstream.NewElement(NSPubSub, "pubsub").Append(subscriptionElement(s))
	if fields != nil {
		res.Append(xmlstream.NewElement(NSPubSub, "options").Append(subOptionsForm(&s.Options, "result")))
	}
	return res, nil
}

// unsubscribe ends a subscription (§6.2); the answer shows it as none.
func (r *iqRequest) unsubscribe(unsub *xmlstream.Element) (*xmlstream.Element, error) {
	node, err := nodeAttr(unsub)
	if err != nil {
		return nil, err
	}
	subscriber, err := subscriberAttr(unsub)
	if err != nil {
		return nil, err
	}
	subid := unsub.Attr("subid")
	if err := r.svc().Unsubscribe(r.ctx, r.host, r.actor, node, subscriber, subid); err != nil {
		return nil, err
	}
	return xmlstream.NewElement(NSPubSub, "pubsub").Append(subscriptionElement(Subscription{
		Node: node, JID: subscriber, SubID: subid, State: SubNone})), nil
}

// optionsTarget is the node and subscriber an <options/> request names:
// both required (§6.3.4.3; no root collection).
func optionsTarget(el *xmlstream.Element) (string, jid.JID, error) {
	node, err := nodeAttr(el)
	if err != nil {
		return "", jid.JID{}, err
	}
	subscriber, err := subscriberAttr(el)
	return node, subscriber, err
}

// optionsGet returns a subscription's options form (§6.3.1-§6.3.3).
func (r *iqRequest) optionsGet(el *xmlstream.Element) (*xmlstream.Element, error) {
	node, subscriber, err := optionsTarget(el)
	if err != nil {
		return nil, err
	}
	s, err := r.svc().SubscriptionOptions(r.ctx, r.host, r.actor, node, subscriber, el.Attr("subid"))
	if err != nil {
		return nil, err
	}
	return xmlstream.NewElement(NSPubSub, "pubsub").Append(
		xmlstream.NewElement(NSPubSub, "options", "node", node, "jid", subscriber.String(), "subid", s.SubID).
			Append(subOptionsForm(&s.Options, "form"))), nil
}

// optionsSet applies a submitted options form (§6.3.5-§6.3.6); a
// cancelled form changes nothing.
func (r *iqRequest) optionsSet(el *xmlstream.Element) (*xmlstream.Element, error) {
	node, subscriber, err := optionsTarget(el)
	if err != nil {
		return nil, err
	}
	form, err := submittedForm(el, formSubOptions)
	if err != nil {
		return nil, err
	}
	if form == nil {
		return nil, badRequest("<options/> needs a data form")
	}
	subid := el.Attr("subid")
	if form.Type == "cancel" {
		_, err := r.svc().SubscriptionOptions(r.ctx, r.host, r.actor, node, subscriber, subid)
		return nil, err
	}
	return nil, r.svc().SetSubscriptionOptions(r.ctx, r.host, r.actor, node, subscriber, subid, fieldValues(form))
}

// defaultSubOptions returns the options new subscriptions get (§6.4), the
// same on every node of the service.
func (r *iqRequest) defaultSubOptions(el *xmlstream.Element) (*xmlstream.Element, error) {
	o := r.svc().DefaultSubscriptionOptions()
	return xmlstream.NewElement(NSPubSub, "pubsub").Append(
		xmlstream.NewElement(NSPubSub, "default", "node", el.Attr("node")).Append(subOptionsForm(&o, "result"))), nil
}

// ownSubscriptions lists the requester's subscriptions (§5.6), on one node
// or on all.
func (r *iqRequest) ownSubscriptions(el *xmlstream.Element) (*xmlstream.Element, error) {
	node := el.Attr("node")
	subs, err := r.svc().Subscriptions(r.ctx, r.host, r.actor, node)
	if err != nil {
		return nil, err
	}
	list := xmlstream.NewElement(NSPubSub, "subscriptions", "node", node)
	for _, s := range subs {
		list.Append(subscriptionElement(s))
	}
	return xmlstream.NewElement(NSPubSub, "pubsub").Append(list), nil
}

// ownAffiliations lists the requester's affiliations (§5.7), on one node
// or on all.
func (r *iqRequest) ownAffiliations(el *xmlstream.Element) (*xmlstream.Element, error) {
	affs, err := r.svc().Affiliations(r.ctx, r.host, r.actor, el.Attr("node"))
	if err != nil {
		return nil, err
	}
	list := xmlstream.NewElement(NSPubSub, "affiliations")
	for _, a := range affs {
		if a.Affiliation != AffNone {
			list.Append(xmlstream.NewElement(NSPubSub, "affiliation", "node", a.Node, "affiliation", a.Affiliation.String()))
		}
	}
	return xmlstream.NewElement(NSPubSub, "pubsub").Append(list), nil
}
