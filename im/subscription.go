package im

// Presence subscriptions (RFC 6121 §3): the state machine of Appendix A,
// outbound and inbound subscription stanzas, pre-approval (§3.4) and the
// stored inbound requests re-delivered at the next initial presence.

import (
	"context"
	"sort"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/router"
	"github.com/gavelhq/gavel/xmlstream"
)

// subState is a subscription state of RFC 6121 Appendix A, as the user
// sees one contact.
type subState uint8

const (
	stateNone subState = iota
	stateNonePendingOut
	stateNonePendingIn
	stateNonePendingOutIn
	stateTo
	stateToPendingIn
	stateFrom
	stateFromPendingOut
	stateBoth
	numStates
)

var stateNames = [numStates]string{"None", "None + Pending Out", "None + Pending In",
	"None + Pending Out/In", "To", "To + Pending In", "From", "From + Pending Out", "Both"}

func (st subState) String() string {
	if st < numStates {
		return stateNames[st]
	}
	return "invalid"
}

// flags decomposes a state.
func (st subState) flags() (to, from, pendingOut, pendingIn bool) {
	switch st {
	case stateNonePendingOut:
		return false, false, true, false
	case stateNonePendingIn:
		return false, false, false, true
	case stateNonePendingOutIn:
		return false, false, true, true
	case stateTo:
		return true, false, false, false
	case stateToPendingIn:
		return true, false, false, true
	case stateFrom:
		return false, true, false, false
	case stateFromPendingOut:
		return false, true, true, false
	case stateBoth:
		return true, true, false, false
	}
	return false, false, false, false
}

// stateOf composes the state of contact in d.
func stateOf(d *rosterDoc, contact string) subState {
	_, pendingIn := d.Pending[contact]
	it := d.item(contact)
	var to, from, out bool
	if it != nil {
		to, from, out = it.To, it.From, it.Ask
	}
	for st := stateNone; st < numStates; st++ {
		t, f, o, i := st.flags()
		if t == to && f == from && o == out && i == pendingIn {
			return st
		}
	}
	// Combinations Appendix A does not have (To + Pending Out, From +
	// Pending In) cannot be written by this file; read them as the nearest
	// state rather than failing.
	switch {
	case to && from:
		return stateBoth
	case to:
		return stateTo
	case from:
		return stateFrom
	}
	return stateNone
}

// transition is one row of an Appendix A table: the new state and whether
// the stanza is routed to the contact (outbound) or delivered to the user
// (inbound).
type transition struct {
	next subState
	act  bool
}

// Appendix A.2, processing of outbound subscription stanzas at the user's
// server. Rows are indexed by the existing state.
var outboundTable = map[string][numStates]transition{
	// A.2.1
	"subscribe": {
		stateNone:             {stateNonePendingOut, true},
		stateNonePendingOut:   {stateNonePendingOut, true},
		stateNonePendingIn:    {stateNonePendingOutIn, true},
		stateNonePendingOutIn: {stateNonePendingOutIn, true},
		stateTo:               {stateTo, true},
		stateToPendingIn:      {stateToPendingIn, true},
		stateFrom:             {stateFromPendingOut, true},
		stateFromPendingOut:   {stateFromPendingOut, true},
		stateBoth:             {stateBoth, true},
	},
	// A.2.2
	"unsubscribe": {
		stateNone:             {stateNone, false},
		stateNonePendingOut:   {stateNone, true},
		stateNonePendingIn:    {stateNonePendingIn, false},
		stateNonePendingOutIn: {stateNonePendingIn, true},
		stateTo:               {stateNone, true},
		stateToPendingIn:      {stateNonePendingIn, true},
		stateFrom:             {stateFrom, false},
		stateFromPendingOut:   {stateFrom, true},
		stateBoth:             {stateFrom, true},
	},
	// A.2.3
	"subscribed": {
		stateNone:             {stateNone, false},
		stateNonePendingOut:   {stateNonePendingOut, false},
		stateNonePendingIn:    {stateFrom, true},
		stateNonePendingOutIn: {stateFromPendingOut, true},
		stateTo:               {stateTo, false},
		stateToPendingIn:      {stateBoth, true},
		stateFrom:             {stateFrom, false},
		stateFromPendingOut:   {stateFromPendingOut, false},
		stateBoth:             {stateBoth, false},
	},
	// A.2.4
	"unsubscribed": {
		stateNone:             {stateNone, false},
		stateNonePendingOut:   {stateNonePendingOut, false},
		stateNonePendingIn:    {stateNone, true},
		stateNonePendingOutIn: {stateNonePendingOut, true},
		stateTo:               {stateTo, false},
		stateToPendingIn:      {stateTo, true},
		stateFrom:             {stateNone, true},
		stateFromPendingOut:   {stateNonePendingOut, true},
		stateBoth:             {stateTo, true},
	},
}

// Appendix A.3, processing of inbound subscription stanzas at the
// contact's server (the state is the contact's view of the sender).
var inboundTable = map[string][numStates]transition{
	// A.3.1; in the From states the server auto-replies 'subscribed' (§3.1.3).
	"subscribe": {
		stateNone:             {stateNonePendingIn, true},
		stateNonePendingOut:   {stateNonePendingOutIn, true},
		stateNonePendingIn:    {stateNonePendingIn, false},
		stateNonePendingOutIn: {stateNonePendingOutIn, false},
		stateTo:               {stateToPendingIn, true},
		stateToPendingIn:      {stateToPendingIn, false},
		stateFrom:             {stateFrom, false},
		stateFromPendingOut:   {stateFromPendingOut, false},
		stateBoth:             {stateBoth, false},
	},
	// A.3.2
	"unsubscribe": {
		stateNone:             {stateNone, false},
		stateNonePendingOut:   {stateNonePendingOut, false},
		stateNonePendingIn:    {stateNone, true},
		stateNonePendingOutIn: {stateNonePendingOut, true},
		stateTo:               {stateTo, false},
		stateToPendingIn:      {stateTo, true},
		stateFrom:             {stateNone, true},
		stateFromPendingOut:   {stateNonePendingOut, true},
		stateBoth:             {stateTo, true},
	},
	// A.3.3
	"subscribed": {
		stateNone:             {stateNone, false},
		stateNonePendingOut:   {stateTo, true},
		stateNonePendingIn:    {stateNonePendingIn, false},
		stateNonePendingOutIn: {stateToPendingIn, true},
		stateTo:               {stateTo, false},
		stateToPendingIn:      {stateToPendingIn, false},
		stateFrom:             {stateFrom, false},
		stateFromPendingOut:   {stateBoth, true},
		stateBoth:             {stateBoth, false},
	},
	// A.3.4
	"unsubscribed": {
		stateNone:             {stateNone, false},
		stateNonePendingOut:   {stateNone, true},
		stateNonePendingIn:    {stateNonePendingIn, false},
		stateNonePendingOutIn: {stateNonePendingIn, true},
		stateTo:               {stateNone, true},
		stateToPendingIn:      {stateNonePendingIn, true},
		stateFrom:             {stateFrom, false},
		stateFromPendingOut:   {stateFrom, true},
		stateBoth:             {stateFrom, true},
	},
}

func isSubscriptionType(t string) bool {
	switch t {
	case "subscribe", "subscribed", "unsubscribe", "unsubscribed":
		return true
	}
	return false
}

// setState writes state next for contact into d: the item's flags (an item
// is created when the state needs one) and the pending inbound request.
func setState(d *rosterDoc, contact string, next subState, pending pendingSub) error {
	to, from, out, in := next.flags()
	it := d.Items[contact]
	if it == nil && (to || from || out) {
		if len(d.Items) >= MaxRosterItems {
			return xmlstream.NotAllowed("the roster is full")
		}
		it = &rosterItem{JID: contact}
		d.Items[contact] = it
	}
	if it != nil {
		it.To, it.From, it.Ask = to, from, out
		if from {
			it.Approved = false // a pre-approval is used up once granted
		}
	}
	if !in {
		delete(d.Pending, contact)
	} else if _, ok := d.Pending[contact]; !ok {
		d.Pending[contact] = pending
	}
	return nil
}

// subEffects are what a subscription stanza causes besides the state change.
type subEffects struct {
	act          bool // route (outbound) / deliver (inbound) the stanza
	autoReply    bool // answer 'subscribed' on the user's behalf
	sendPresence bool // the contact gained a subscription: send it current presence
	sendUnavail  bool // the contact lost its subscription: send it unavailable
}

// outboundSubscription handles a subscription stanza a user's client sent
// (§3.1.2, §3.2.2, §3.3.2, §3.4).
func (s *Server) outboundSubscription(ctx context.Context, user jid.JID, st *xmlstream.Stanza, typ string) {
	if s.isAnonymous(user) {
		s.bounce(ctx, st, xmlstream.NotAllowed("anonymous accounts have no roster"))
		return
	}
	if st.To() == "" {
		s.bounce(ctx, st, xmlstream.BadRequest("a subscription request needs a 'to'"))
		return
	}
	to, err := jid.Parse(st.To())
	if err != nil {
		s.bounce(ctx, st, xmlstream.JIDMalformed())
		return
	}
	// §3.1.2: subscriptions are between bare JIDs on both ends.
	contact := to.Bare().String()
	if to.Bare().Equal(user) {
		return // one's own presence needs no subscription (§4.2.2 shares it)
	}
	bare := user.String()
	var fx subEffects
	before, after, err := s.updateRoster(ctx, bare, func(d *rosterDoc) error {
		fx = subEffects{}
		cur := stateOf(d, contact)
		tr := outboundTable[typ][cur]
		fx.act = tr.act
		oldFrom := d.item(contact) != nil && d.item(contact).From
		if err := setState(d, contact, tr.next, pendingSub{}); err != nil {
			return err
		}
		_, newFrom, _, newIn := tr.next.flags()
		fx.sendPresence = !oldFrom && newFrom
		fx.sendUnavail = oldFrom && !newFrom
		switch typ {
		case "subscribed":
			// §3.4: approving before being asked stores a pre-approval.
			if !tr.act && !newFrom && !newIn {
				it := d.Items[contact]
				if it == nil {
					if len(d.Items) >= MaxRosterItems {
						return xmlstream.NotAllowed("the roster is full")
					}
					it = &rosterItem{JID: contact}
					d.Items[contact] = it
				}
				it.Approved = true
			}
		case "unsubscribed":
			// §3.4: unsubscribed also cancels a pre-approval.
			if it := d.Items[contact]; it != nil {
				it.Approved = false
			}
		}
		return nil
	})
	if err != nil {
		s.bounceErr(ctx, st, err)
		return
	}
	s.pushItemChange(bare, contact, before, after)
	if fx.act {
		s.send(ctx, st.WithAttrs("from", bare, "to", contact))
	}
	if fx.sendPresence {
		s.sendPresenceFromAll(ctx, user, contact)
	}
	if fx.sendUnavail {
		s.sendUnavailableFromAll(ctx, user, contact)
	}
}

// inboundSubscription handles a subscription stanza addressed to the local
// account user (a bare JID) (§3.1.3, §3.1.6, §3.2.3, §3.3.3, §3.4).
func (s *Server) inboundSubscription(ctx context.Context, user jid.JID, st *xmlstream.Stanza, typ string) {
	from, err := jid.Parse(st.From())
	if err != nil || st.From() == "" {
		return
	}
	contactJID := from.Bare()
	if contactJID.Equal(user) || s.isAnonymous(user) {
		return
	}
	if !s.accountExists(ctx, user) {
		return // §8.5.1: subscription stanzas to no such user are ignored
	}
	contact := contactJID.String()
	bare := user.String()
	pending := pendingFrom(st, contact, bare)
	var fx subEffects
	before, after, err := s.updateRoster(ctx, bare, func(d *rosterDoc) error {
		fx = subEffects{}
		cur := stateOf(d, contact)
		tr := inboundTable[typ][cur]
		fx.act = tr.act
		next := tr.next
		oldFrom := d.item(contact) != nil && d.item(contact).From
		switch {
		case typ == "subscribe" && oldFrom:
			// §3.1.3: already subscribed, so the server answers; the
			// contact evidently lost its state, so it also gets the
			// current presence, which the RFC leaves open.
			fx.autoReply = true
		case typ == "subscribe" && d.item(contact) != nil && d.item(contact).Approved:
			// §3.4: pre-approved; approve without asking the user.
			next = outboundTable["subscribed"][next].next
			fx.act, fx.autoReply = false, true
		case typ == "subscribe" && next != cur && len(d.Pending) >= MaxPendingSubscriptions:
			// Too many stored requests: drop this one unseen.
			fx.act = false
			return nil
		}
		if err := setState(d, contact, next, pending); err != nil {
			return err
		}
		_, newFrom, _, _ := next.flags()
		fx.sendPresence = (!oldFrom && newFrom) || fx.autoReply
		fx.sendUnavail = oldFrom && !newFrom
		return nil
	})
	if err != nil {
		s.log.Warn("inbound subscription not processed", "user", bare, "contact", contact, "err", err)
		return
	}
	s.pushItemChange(bare, contact, before, after)
	if fx.act {
		s.deliverToAvailable(bare, st)
	}
	if fx.autoReply {
		s.send(ctx, subscriptionStanza(bare, contact, "subscribed"))
	}
	if fx.sendPresence {
		s.sendPresenceFromAll(ctx, user, contact)
	}
	if fx.sendUnavail {
		s.sendUnavailableFromAll(ctx, user, contact)
	}
}

// pendingFrom is what is stored of an inbound subscribe: the stanza itself
// (status, nick...) unless it is large, then a bare request.
func pendingFrom(st *xmlstream.Stanza, contact, user string) pendingSub {
	if len(st.Raw) <= maxPendingStanzaBytes {
		return pendingSub{Raw: string(st.Raw), Inherited: st.Inherited}
	}
	return pendingSub{Raw: string(subscriptionStanza(contact, user, "subscribe").Raw), Inherited: xmlstream.NSClient}
}

// redeliverPending sends the stored inbound subscription requests to a
// resource that just became available (§3.1.3).
func (s *Server) redeliverPending(d *rosterDoc, sess router.Session) {
	contacts := make([]string, 0, len(d.Pending))
	for c := range d.Pending {
		contacts = append(contacts, c)
	}
	sort.Strings(contacts)
	for _, c := range contacts {
		p := d.Pending[c]
		st, err := xmlstream.ParseStanza([]byte(p.Raw), p.Inherited, xmlstream.Limits{})
		if err != nil {
			s.log.Warn("stored subscription request unreadable", "contact", c, "err", err)
			continue
		}
		sess.Send(st)
	}
}

// subscriptionStanza builds <presence from to type/> for the server to send.
func subscriptionStanza(from, to, typ string) *xmlstream.Stanza {
	return xmlstream.NewStanza(xmlstream.NewElement(xmlstream.NSClient, xmlstream.KindPresence,
		"from", from, "to", to, "type", typ))
}

// bounceErr answers st with err (a *StanzaError, else internal-server-error).
func (s *Server) bounceErr(ctx context.Context, st *xmlstream.Stanza, err error) {
	se, ok := err.(*xmlstream.StanzaError)
	if !ok {
		s.log.Error("stanza not processed", "err", err)
		se = xmlstream.InternalServerError()
	}
	s.bounce(ctx, st, se)
}
