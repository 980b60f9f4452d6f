package im

// Presence (RFC 6121 §4): initial and subsequent broadcast, probes and their
// answers, unavailable presence (also when a session ends), directed
// presence and the presence of the user's own resources.

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"sync"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/router"
	"github.com/gavelhq/gavel/xmlstream"
)

// MaxDirectedPresence bounds the directed-presence targets remembered per
// session (§4.6.2); presence to further targets is routed but not tracked,
// so those targets get no unavailable presence at logout.
const MaxDirectedPresence = 1000

// presenceState remembers, per session, the JIDs it sent directed available
// presence to, so they receive unavailable presence when it goes offline.
type presenceState struct {
	mu       sync.Mutex
	directed map[router.Session]map[string]struct{}
}

func (p *presenceState) addDirected(sess router.Session, target string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.directed == nil {
		p.directed = map[router.Session]map[string]struct{}{}
	}
	set := p.directed[sess]
	if set == nil {
		set = map[string]struct{}{}
		p.directed[sess] = set
	}
	if _, ok := set[target]; !ok && len(set) >= MaxDirectedPresence {
		return false
	}
	set[target] = struct{}{}
	return true
}

func (p *presenceState) removeDirected(sess router.Session, target string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if set := p.directed[sess]; set != nil {
		delete(set, target)
		if len(set) == 0 {
			delete(p.directed, sess)
		}
	}
}

// takeDirected returns and forgets the directed targets of sess, sorted.
func (p *presenceState) takeDirected(sess router.Session) []string {
	p.mu.Lock()
	set := p.directed[sess]
	delete(p.directed, sess)
	p.mu.Unlock()
	out := make([]string, 0, len(set))
	for t := range set {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// outboundPresence handles presence a client sent (stamped with its full JID).
func (s *Server) outboundPresence(ctx context.Context, sess router.Session, st *xmlstream.Stanza) {
	typ := st.Type()
	user := sess.JID().Bare()
	switch {
	case isSubscriptionType(typ):
		s.outboundSubscription(ctx, user, st, typ)
	case typ == "probe":
		s.outboundProbe(ctx, user, st)
	case typ == "error":
		if st.To() != "" {
			s.send(ctx, st)
		}
	case typ != "" && typ != "unavailable":
		s.bounce(ctx, st, xmlstream.BadRequest("unknown presence type"))
	case st.To() != "":
		s.directedPresence(ctx, sess, st, typ)
	case typ == "":
		s.broadcastAvailable(ctx, sess, st)
	default:
		var was bool
		s.router.Update(sess, func(r *router.Resource) {
			was = r.Available
			r.Available, r.Priority, r.Presence = false, 0, nil
		})
		s.broadcastUnavailable(ctx, sess, sess.JID(), st, was)
		s.sessionPresence(ctx, sess.JID(), st, false, false)
	}
}

// presencePriority reads <priority/> (§4.7.2.3): an integer in -128..127, 0 if absent.
func presencePriority(st *xmlstream.Stanza) (int, error) {
	el, err := st.Element()
	if err != nil {
		return 0, err
	}
	p := el.Child(el.Name.Space, "priority")
	if p == nil {
		return 0, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(p.Text()))
	if err != nil || n < -128 || n > 127 {
		return 0, xmlstream.BadRequest("priority must be an integer from -128 to 127")
	}
	return n, nil
}

// broadcastAvailable handles initial (§4.2.2) and subsequent (§4.4.2)
// available presence without 'to'.
func (s *Server) broadcastAvailable(ctx context.Context, sess router.Session, st *xmlstream.Stanza) {
	prio, err := presencePriority(st)
	if err != nil {
		s.bounceErr(ctx, st, asStanzaError(err))
		return
	}
	var wasAvailable bool
	var oldPrio int
	_, ok := s.router.Update(sess, func(r *router.Resource) {
		wasAvailable, oldPrio = r.Available, r.Priority
		r.Available, r.Priority, r.Presence = true, prio, st
	})
	if !ok {
		return
	}
	user := sess.JID().Bare()
	bare := user.String()
	d := s.rosterOrEmpty(ctx, user)
	// To every contact subscribed to the user's presence, except those
	// the user blocked (XEP-0191 §3.3).
	for _, it := range d.sortedItems() {
		if it.From && !s.blocksAddress(ctx, user, it.JID) {
			s.send(ctx, st.WithAttrs("to", it.JID))
		}
	}
	// To all of the user's available resources, this one included.
	for _, r := range s.router.Resources(bare) {
		if r.Available {
			r.Session.Send(st.WithAttrs("to", r.Full))
		}
	}
	if !wasAvailable {
		// §4.3.1: probe the contacts the user is subscribed to.
		for _, it := range d.sortedItems() {
			if it.To && !s.blocksAddress(ctx, user, it.JID) {
				s.send(ctx, subscriptionStanza(bare, it.JID, "probe"))
			}
		}
		// The presence of the user's other available resources.
		self := sess.JID().String()
		for _, r := range s.router.Resources(bare) {
			if r.Session != sess && r.Available && r.Presence != nil {
				sess.Send(r.Presence.WithAttrs("to", self))
			}
		}
		// §3.1.3: subscription requests that waited for the user.
		s.redeliverPending(d, sess)
	}
	// XEP-0160: stored messages go to the first non-negative presence.
	if prio >= 0 && (!wasAvailable || oldPrio < 0) {
		s.sendOffline(ctx, sess)
	}
	s.sessionPresence(ctx, sess.JID(), st, true, !wasAvailable)
}

// broadcastUnavailable sends unavailable presence st from full: to the
// contacts and the user's other available resources if the resource was
// available (§4.5.2), and to every target of its directed presence (§4.6.3).
func (s *Server) broadcastUnavailable(ctx context.Context, sess router.Session, full jid.JID, st *xmlstream.Stanza, wasAvailable bool) {
	sent := map[string]bool{}
	if wasAvailable {
		user := full.Bare()
		d := s.rosterOrEmpty(ctx, user)
		for _, it := range d.sortedItems() {
			if it.From {
				s.send(ctx, st.WithAttrs("to", it.JID))
				sent[it.JID] = true
			}
		}
		for _, r := range s.router.Resources(user.String()) {
			if r.Available && r.Session != sess {
				r.Session.Send(st.WithAttrs("to", r.Full))
			}
		}
	}
	for _, target := range s.state.presence.takeDirected(sess) {
		if !sent[target] {
			s.send(ctx, st.WithAttrs("to", target))
		}
	}
}

// sessionEnded broadcasts unavailable presence for a session that ended
// without sending it (§4.5.2: the server does it on the client's behalf).
func (s *Server) sessionEnded(ctx context.Context, sess router.Session, last router.Resource) {
	full, err := jid.Parse(last.Full)
	if err != nil {
		full = sess.JID()
	}
	st := xmlstream.NewStanza(xmlstream.NewElement(xmlstream.NSClient, xmlstream.KindPresence,
		"from", full.String(), "type", "unavailable"))
	s.broadcastUnavailable(ctx, sess, full, st, last.Available)
	s.sessionPresence(ctx, full, nil, false, false)
}

// forgetSession drops the in-memory presence state of a session that ended
// without being bound any more (replaced by a newer session on the same
// resource): its directed targets now see the new session, so they get no
// unavailable presence, but the state must not outlive it.
func (s *Server) forgetSession(sess router.Session) {
	s.state.presence.takeDirected(sess)
}

// directedPresence routes available or unavailable presence with a 'to'
// (§4.6.2) and remembers the target.
func (s *Server) directedPresence(ctx context.Context, sess router.Session, st *xmlstream.Stanza, typ string) {
	to, err := jid.Parse(st.To())
	if err != nil {
		s.bounce(ctx, st, xmlstream.JIDMalformed())
		return
	}
	s.send(ctx, st)
	if to.Bare().Equal(sess.JID().Bare()) {
		return // the user's own resources need no unavailable from the server
	}
	if typ == "" {
		if !s.state.presence.addDirected(sess, to.String()) {
			s.log.Debug("directed presence not tracked: limit reached", "from", sess.JID().String())
		}
	} else {
		s.state.presence.removeDirected(sess, to.String())
	}
}

// outboundProbe routes a probe a client sent, from its bare JID (§4.3).
func (s *Server) outboundProbe(ctx context.Context, user jid.JID, st *xmlstream.Stanza) {
	to, err := jid.Parse(st.To())
	if err != nil || st.To() == "" {
		s.bounce(ctx, st, xmlstream.JIDMalformed())
		return
	}
	s.send(ctx, st.WithAttrs("from", user.String(), "to", to.Bare().String()))
}

// answerProbe answers a probe addressed to the local account user (§4.3.2).
func (s *Server) answerProbe(ctx context.Context, user jid.JID, st *xmlstream.Stanza) {
	from, err := jid.Parse(st.From())
	if err != nil || st.From() == "" {
		return
	}
	prober := from.Bare()
	bare := user.String()
	if s.IsBlocked(ctx, user, from) {
		return // a blocked contact learns nothing of the user's presence
	}
	if !s.accountExists(ctx, user) {
		// §8.5.1: no such user; 'unsubscribed' lets the prober clean up.
		s.send(ctx, subscriptionStanza(bare, st.From(), "unsubscribed"))
		return
	}
	if !prober.Equal(user) {
		if s.isAnonymous(user) {
			return
		}
		d, _, err := s.loadRoster(ctx, bare)
		if err != nil {
			s.log.Warn("probe not answered", "user", bare, "err", err)
			return
		}
		it := d.item(prober.String())
		if it == nil || !it.From {
			// Not authorized: 'unsubscribed' so the prober's server fixes
			// its state, unless the prober is asking to subscribe (that
			// would deny its pending request).
			if _, asking := d.Pending[prober.String()]; !asking {
				s.send(ctx, subscriptionStanza(bare, st.From(), "unsubscribed"))
			}
			return
		}
	}
	answered := false
	for _, r := range s.router.Resources(bare) {
		if r.Available && r.Presence != nil {
			s.send(ctx, r.Presence.WithAttrs("to", st.From()))
			answered = true
		}
	}
	if !answered {
		s.send(ctx, subscriptionStanza(bare, st.From(), "unavailable"))
	}
}

// blocksAddress reports whether user blocked the entity at addr (a JID
// string; an unparsable one is not blocked: it cannot be delivered anyway).
func (s *Server) blocksAddress(ctx context.Context, user jid.JID, addr string) bool {
	j, err := jid.Parse(addr)
	return err == nil && s.IsBlocked(ctx, user, j)
}

// sendPresenceFromAll sends the current presence of each available resource
// of user to contact (after the contact gained a subscription, §3.1.5).
func (s *Server) sendPresenceFromAll(ctx context.Context, user jid.JID, contact string) {
	if s.blocksAddress(ctx, user, contact) {
		return
	}
	for _, r := range s.router.Resources(user.String()) {
		if r.Available && r.Presence != nil {
			s.send(ctx, r.Presence.WithAttrs("to", contact))
		}
	}
}

// sendUnavailableFromAll sends unavailable presence from each available
// resource of user to contact (after it lost its subscription, §3.2.2, §3.3.3).
func (s *Server) sendUnavailableFromAll(ctx context.Context, user jid.JID, contact string) {
	for _, r := range s.router.Resources(user.String()) {
		if r.Available {
			s.send(ctx, subscriptionStanza(r.Full, contact, "unavailable"))
		}
	}
}

// rosterOrEmpty loads the roster for a presence broadcast; anonymous
// accounts and read failures give an empty one (presence still flows to
// the user's own resources).
func (s *Server) rosterOrEmpty(ctx context.Context, user jid.JID) *rosterDoc {
	if !s.isAnonymous(user) {
		d, _, err := s.loadRoster(ctx, user.String())
		if err == nil {
			return d
		}
		s.log.Error("roster unreadable", "user", user.String(), "err", err)
	}
	return &rosterDoc{Items: map[string]*rosterItem{}, Pending: map[string]pendingSub{}}
}

func asStanzaError(err error) error {
	if _, ok := err.(*xmlstream.StanzaError); ok {
		return err
	}
	return xmlstream.BadRequest("unparsable presence")
}
