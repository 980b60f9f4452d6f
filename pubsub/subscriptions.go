package pubsub

// Subscriptions: subscribe (§6.1), unsubscribe (§6.2), subscription
// options (§6.3), owner management (§8.8), approval of pending
// subscriptions (§8.6) and leases (pubsub#expire, §12.18 and §12.4).
//
// Multiple subscriptions (§6.1.6): a subscribe without options by a JID
// that already has a subscription returns it (as if just approved, with
// the last item again); a subscribe whose options differ from every
// existing one adds a subscription with its own SubID, up to
// MaxSubscriptionsPerJID.

import (
	"slices"
	"sort"
	"time"

	"mellium.im/xmpp/jid"
)

// defaultSubOptions are a new subscription's options (§6.4): deliver,
// no digest, no body, every presence show, no lease.
func defaultSubOptions() SubOptions { return SubOptions{Deliver: true} }

// public is a copy of the subscription safe to hand out.
func (sub *Subscription) public() Subscription {
	c := *sub
	c.Options.ShowValues = slices.Clone(sub.Options.ShowValues)
	return c
}

// subsOfJID lists the subscriptions of exactly addr (bare or full).
func (n *nodeState) subsOfJID(addr jid.JID) []*Subscription {
	list := n.subs[addr.Bare().String()]
	if len(list) == 0 {
		return nil
	}
	var out []*Subscription
	for _, sub := range list {
		if sub.JID.Equal(addr) {
			out = append(out, sub)
		}
	}
	return out
}

// hasSubscribed: does any JID of bare hold a subscribed subscription?
func (n *nodeState) hasSubscribed(bare string) bool {
	for _, sub := range n.subs[bare] {
		if sub.State == SubSubscribed {
			return true
		}
	}
	return false
}

// subscriptionsOf lists bare's subscriptions (any of its JIDs).
func (n *nodeState) subscriptionsOf(bare string, keep func(*Subscription) bool) []Subscription {
	out := []Subscription{}
	for _, sub := range n.subs[bare] {
		if keep == nil || keep(sub) {
			out = append(out, sub.public())
		}
	}
	sortSubs(out)
	return out
}

// allSubscriptions lists the node's subscriptions that keep accepts.
func (n *nodeState) allSubscriptions(keep func(*Subscription) bool) []Subscription {
	out := []Subscription{}
	for _, list := range n.subs {
		for _, sub := range list {
			if keep(sub) {
				out = append(out, sub.public())
			}
		}
	}
	sortSubs(out)
	return out
}

func sortSubs(s []Subscription) {
	sort.Slice(s, func(i, k int) bool {
		a, b := s[i].JID.String(), s[k].JID.String()
		if a != b {
			return a < b
		}
		return s[i].SubID < s[k].SubID
	})
}

// subscribe handles §6.1 for subscriber on behalf of actor.
func (n *nodeState) subscribe(actor, subscriber jid.JID, fields map[string][]string) (Subscription, error) {
	if !n.exists {
		return Subscription{}, errNodeNotFound()
	}
	actorBare, subBare := actor.Bare().String(), subscriber.Bare()
	proxy := subBare.String() != actorBare
	if proxy && !may(n.affiliation(actorBare), actManage) {
		return Subscription{}, errBadRequest("invalid-jid") // §6.1.3.1
	}
	aff := n.affiliation(subBare.String())
	if !may(aff, actSubscribe) {
		return Subscription{}, errForbidden() // outcast, publish-only (§6.1.3.8)
	}
	if !n.cfg.Subscribe {
		return Subscription{}, unsupported("subscribe") // §6.1.3.10
	}
	existing := n.subsOfJID(subscriber)
	for _, sub := range existing {
		if sub.State == SubPending {
			return Subscription{}, &Error{Cond: "not-authorized", Type: "auth", App: "pending-subscription"} // §6.1.3.7
		}
	}
	state := SubSubscribed
	if !proxy {
		// An owner subscribing someone vouches for them; anyone else
		// passes the access model.
		if err := n.access(subBare, purposeSubscribe); err != nil {
			return Subscription{}, err
		}
		if n.cfg.AccessModel == AccessAuthorize && aff < AffMember {
			state = SubPending // §6.1.4
		}
	}
	opts, err := applySubOptions(defaultSubOptions(), fields)
	if err != nil {
		return Subscription{}, err
	}
	for _, sub := range existing {
		if fields == nil || sameSubOptions(sub.Options, opts) {
			// Not a new subscription: answer the current one (§6.1.6).
			n.sendLastOnSubscribe(sub)
			return sub.public(), nil
		}
	}
	if len(existing) >= n.svc.opts.MaxSubscriptionsPerJID {
		return Subscription{}, &Error{Cond: "policy-violation", Type: "wait", App: "too-many-subscriptions"} // §6.1.3.9
	}
	sub := &Subscription{Host: n.host, Node: n.name, JID: subscriber, SubID: randomID(), State: state, Options: opts}
	if err := n.putSub(sub); err != nil {
		n.log.Error("pubsub: storing subscription failed", "err", err)
		return Subscription{}, errInternal("storing the subscription failed")
	}
	bare := subBare.String()
	n.subs[bare] = append(n.subs[bare], sub)
	n.subsChanged()
	if state == SubPending {
		n.svc.notifier.RequestAuthorization(n.ctx, AuthorizationRequest{
			Host: n.host, Node: n.name, Owners: n.owners(), Subscriber: subscriber, SubID: sub.SubID})
		return sub.public(), nil
	}
	n.notifySubChange(sub, SubSubscribed, proxy)
	n.sendLastOnSubscribe(sub)
	return sub.public(), nil
}

// applySubOptions applies submitted subscribe_options fields to o.
func applySubOptions(o SubOptions, fields map[string][]string) (SubOptions, error) {
	o.ShowValues = slices.Clone(o.ShowValues)
	for v, vals := range fields {
		if v == "FORM_TYPE" {
			continue
		}
		if err := o.Set(v, vals); err != nil {
			if e, ok := err.(*Error); ok {
				return o, e
			}
			return o, errBadRequest("invalid-options") // §6.3.6
		}
	}
	return o, nil
}

func sameSubOptions(a, b SubOptions) bool {
	return a.Deliver == b.Deliver && a.Digest == b.Digest && a.DigestFreq == b.DigestFreq &&
		a.IncludeBody == b.IncludeBody && slices.Equal(a.ShowValues, b.ShowValues) &&
		a.Expire.Equal(b.Expire) && a.ExpireOnPresence == b.ExpireOnPresence
}

// pick finds the subscription a request names (§6.2.3, §6.3.4):
// not-subscribed (unexpected-request of type notSubType), subid-required,
// invalid-subid.
func (n *nodeState) pick(subscriber jid.JID, subid, notSubType string) (*Subscription, error) {
	list := n.subsOfJID(subscriber)
	if len(list) == 0 {
		return nil, &Error{Cond: "unexpected-request", Type: notSubType, App: "not-subscribed"}
	}
	if subid == "" {
		if len(list) > 1 {
			return nil, errBadRequest("subid-required")
		}
		return list[0], nil
	}
	for _, sub := range list {
		if sub.SubID == subid {
			return sub, nil
		}
	}
	return nil, errNotAcceptable("invalid-subid")
}

// unsubscribe handles §6.2.
func (n *nodeState) unsubscribe(actor, subscriber jid.JID, subid string) error {
	if !n.exists {
		return errNodeNotFound()
	}
	proxy := subscriber.Bare().String() != actor.Bare().String()
	if proxy && !may(n.affiliation(actor.Bare().String()), actManage) {
		return errForbidden() // §6.2.3.3
	}
	sub, err := n.pick(subscriber, subid, "cancel")
	if err != nil {
		return err
	}
	if err := n.dropSub(sub); err != nil {
		return errInternal("removing the subscription failed")
	}
	n.notifySubChange(sub, SubNone, proxy)
	return nil
}

// optionsTarget finds the subscription an options request is about (§6.3.4).
func (n *nodeState) optionsTarget(actor, subscriber jid.JID, subid string) (*Subscription, error) {
	if !n.exists {
		return nil, errNodeNotFound()
	}
	if subscriber.Bare().String() != actor.Bare().String() && !may(n.affiliation(actor.Bare().String()), actManage) {
		return nil, errForbidden()
	}
	return n.pick(subscriber, subid, "modify")
}

// setOptions handles §6.3.5.
func (n *nodeState) setOptions(actor, subscriber jid.JID, subid string, fields map[string][]string) error {
	sub, err := n.optionsTarget(actor, subscriber, subid)
	if err != nil {
		return err
	}
	opts, err := applySubOptions(sub.Options, fields)
	if err != nil {
		return err
	}
	old := sub.Options
	sub.Options = opts
	if err := n.putSub(sub); err != nil {
		sub.Options = old
		return errInternal("storing the subscription failed")
	}
	n.subsChanged()
	return nil
}

// modifySubscriptions handles §8.8.2: each change applies or is returned
// as it stands.
func (n *nodeState) modifySubscriptions(actor jid.JID, changes []Subscription) ([]Subscription, error) {
	if err := n.requireOwner(actor); err != nil {
		return nil, err
	}
	var failed []Subscription
	seen := map[string]bool{}
	for _, c := range changes {
		key := c.JID.String() + "\x00" + c.SubID
		if c.JID.String() == "" || seen[key] || !n.modifySubscription(c) {
			failed = append(failed, n.currentSub(c))
		}
		seen[key] = true
	}
	return failed, nil
}

// currentSub is how a failed change is reported: the subscription as it
// stands (§8.8.2.4), state none when there is none.
func (n *nodeState) currentSub(c Subscription) Subscription {
	for _, sub := range n.subsOfJID(c.JID) {
		if c.SubID == "" || sub.SubID == c.SubID {
			return sub.public()
		}
	}
	return Subscription{Host: n.host, Node: n.name, JID: c.JID, SubID: c.SubID, State: SubNone}
}

// modifySubscription applies one owner change; false if it cannot.
func (n *nodeState) modifySubscription(c Subscription) bool {
	list := n.subsOfJID(c.JID)
	var target *Subscription
	if c.SubID != "" {
		for _, sub := range list {
			if sub.SubID == c.SubID {
				target = sub
			}
		}
		if target == nil {
			return false
		}
	}
	switch c.State {
	case SubNone:
		victims := list
		if target != nil {
			victims = []*Subscription{target}
		}
		for _, sub := range victims {
			if n.dropSub(sub) != nil {
				return false
			}
			n.notifySubChange(sub, SubNone, true)
		}
		return true
	case SubSubscribed:
		if target == nil {
			switch len(list) {
			case 0:
				if !may(n.affiliation(c.JID.Bare().String()), actSubscribe) {
					return false
				}
				sub := &Subscription{Host: n.host, Node: n.name, JID: c.JID, SubID: randomID(),
					State: SubSubscribed, Options: defaultSubOptions()}
				if n.putSub(sub) != nil {
					return false
				}
				bare := c.JID.Bare().String()
				n.subs[bare] = append(n.subs[bare], sub)
				n.subsChanged()
				n.notifySubChange(sub, SubSubscribed, true)
				n.sendLastOnSubscribe(sub)
				return true
			case 1:
				target = list[0]
			default:
				return false // which one? the owner must name the SubID
			}
		}
		return n.approve(target)
	}
	return false // an owner sets subscribed or none, nothing else
}

// approve makes a subscription subscribed (approval, §8.6).
func (n *nodeState) approve(sub *Subscription) bool {
	if sub.State == SubSubscribed {
		return true
	}
	old := sub.State
	sub.State = SubSubscribed
	if n.putSub(sub) != nil {
		sub.State = old
		return false
	}
	n.subsChanged()
	n.notifySubChange(sub, SubSubscribed, true)
	n.sendLastOnSubscribe(sub)
	return true
}

// authorize answers a pending subscription (§8.6).
func (n *nodeState) authorize(actor, subscriber jid.JID, subid string, allow bool) error {
	if err := n.requireOwner(actor); err != nil {
		return err
	}
	var pending *Subscription
	for _, sub := range n.subsOfJID(subscriber) {
		if sub.State == SubPending && (subid == "" || sub.SubID == subid) {
			pending = sub
			break
		}
	}
	if pending == nil {
		return &Error{Cond: "unexpected-request", Type: "cancel", App: "not-subscribed"}
	}
	if allow {
		if !n.approve(pending) {
			return errInternal("storing the subscription failed")
		}
		return nil
	}
	if err := n.dropSub(pending); err != nil {
		return errInternal("removing the subscription failed")
	}
	n.notifySubChange(pending, SubNone, true)
	return nil
}

// dropSub removes a subscription from the Store and memory.
func (n *nodeState) dropSub(sub *Subscription) error {
	if err := n.deleteSub(sub); err != nil {
		n.log.Error("pubsub: removing subscription failed", "err", err)
		return err
	}
	bare := sub.JID.Bare().String()
	list := slices.DeleteFunc(n.subs[bare], func(s *Subscription) bool { return s == sub })
	if len(list) == 0 {
		delete(n.subs, bare)
	} else {
		n.subs[bare] = list
	}
	n.subsChanged()
	return nil
}

// dropSubsOf removes every subscription of bare (it became outcast).
func (n *nodeState) dropSubsOf(bare string) {
	for _, sub := range slices.Clone(n.subs[bare]) {
		if n.dropSub(sub) == nil {
			n.notifySubChange(sub, SubNone, true)
		}
	}
}

// subsChanged invalidates what is derived from the subscriptions.
func (n *nodeState) subsChanged() {
	n.recips.invalidate()
	n.leaseKnown = false
}

// notifySubChange tells the subscriber (when toSubscriber: a change it
// did not ask for itself, §8.8.4 and §12.13) and, with notify_sub, the
// owners about a subscription's new state. A pending request goes to the
// owners as an authorization request instead.
func (n *nodeState) notifySubChange(sub *Subscription, state SubState, toSubscriber bool) {
	event := func() *Event {
		s := sub.public()
		s.State = state
		return &Event{Kind: EventSubscription, Subscription: &s}
	}
	if toSubscriber {
		n.notify(event(), []Recipient{{JID: sub.JID}})
	}
	if n.cfg.NotifySub {
		var to []Recipient
		for _, o := range n.owners() {
			if !o.Equal(sub.JID) {
				to = append(to, Recipient{JID: o})
			}
		}
		n.notify(event(), to)
	}
}

// sweepSubscriptions ends subscriptions whose lease (pubsub#expire as a
// time) has passed; it runs before every request, cheaply.
func (n *nodeState) sweepSubscriptions() {
	now := n.now()
	if !n.leaseKnown {
		n.leaseAt, n.leaseKnown = time.Time{}, true
		for _, list := range n.subs {
			for _, sub := range list {
				if e := sub.Options.Expire; !e.IsZero() && (n.leaseAt.IsZero() || e.Before(n.leaseAt)) {
					n.leaseAt = e
				}
			}
		}
	}
	if n.leaseAt.IsZero() || now.Before(n.leaseAt) {
		return
	}
	var due []*Subscription
	for _, list := range n.subs {
		for _, sub := range list {
			if e := sub.Options.Expire; !e.IsZero() && !now.Before(e) {
				due = append(due, sub)
			}
		}
	}
	for _, sub := range due {
		if n.dropSub(sub) == nil {
			n.notifySubChange(sub, SubNone, true)
		}
	}
	n.leaseKnown = false
}

// presenceGone ends the temporary subscriptions (pubsub#expire
// "presence", §12.4) of a session that went unavailable: those of its full
// JID, and those of its bare JID when it was the last session.
func (n *nodeState) presenceGone(full jid.JID, lastSession bool) {
	bare := full.Bare()
	var due []*Subscription
	for _, sub := range n.subs[bare.String()] {
		if !sub.Options.ExpireOnPresence {
			continue
		}
		if sub.JID.Equal(full) || (lastSession && sub.JID.Equal(bare)) {
			due = append(due, sub)
		}
	}
	for _, sub := range due {
		if n.dropSub(sub) == nil {
			n.notifySubChange(sub, SubNone, false)
		}
	}
}
