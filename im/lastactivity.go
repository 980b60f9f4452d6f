package im

// XEP-0012 last activity.
//
//   - To the server domain (§5): the server's uptime in seconds.
//   - To an account's bare JID (§3), answered by the server: 'seconds' 0
//     while the account has a bound resource; otherwise the seconds since
//     its last resource went away, with the <status/> of the last
//     unavailable presence it broadcast as character data; recorded under
//     data.LastActivityKey when the last session ends. No record (never
//     logged out since recording began): <service-unavailable/>.
//   - To a full JID (§4): routed to that client, which answers for itself.
//
// Only the account itself, the server, and entities allowed to see the
// account's presence (roster subscription 'from' or 'both') may ask; others
// get <forbidden/>, and a query of theirs to a full JID is not delivered
// (§3, §4, §8: no presence leak). Blocked requesters never get this far:
// the blocking filter runs first and answers <service-unavailable/>.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/data"
	"github.com/gavelhq/gavel/router"
	"github.com/gavelhq/gavel/xmlstream"
)

// NSLast is the XEP-0012 namespace.
const NSLast = "jabber:iq:last"

// MaxLastStatusBytes bounds the stored logout status; longer text is cut
// at a character boundary.
const MaxLastStatusBytes = 1024

// orderLastActivity runs the full-JID guard after blocking.
const orderLastActivity = OrderBlocking + 10

// lastState is the in-memory part of last activity.
type lastState struct {
	started time.Time // the server's start, for uptime

	mu sync.Mutex
	// status: per bare JID, the <status/> of the last unavailable presence
	// one of its sessions broadcast, kept until its last session ends.
	// Entries exist only for accounts with a bound session.
	status map[string]string
}

// lastRecord is the stored form under data.LastActivityKey.
type lastRecord struct {
	Time   int64  `json:"t"` // unix seconds of the logout
	Status string `json:"s,omitempty"`
}

func registerLastActivity(s *Server) {
	s.state.last.started = s.now()
	s.AddServerFeature(NSLast)
	s.AddAccountFeature(NSLast)
	s.HandleServerIQ(NSLast, "query", s.handleUptime)
	s.HandleAccountIQ(NSLast, "query", s.handleLastActivity)
	s.AddOutboundFilter(orderLastActivity, s.noteLogoutStatus)
	s.AddInboundFilter(orderLastActivity, s.guardIdleQuery)
	s.OnSessionEnded(s.recordLastActivity)
	if s.accounts != nil {
		s.accounts.OnDelete(func(ctx context.Context, bare jid.JID) error {
			return s.store.Delete(ctx, data.LastActivityKey(bare.Bare().String()))
		})
	}
}

func lastQuery(seconds int64, text string) *xmlstream.Element {
	return xmlstream.NewElement(NSLast, "query", "seconds", strconv.FormatInt(max(seconds, 0), 10)).AppendText(text)
}

// handleUptime answers a query to the server domain (§5).
func (s *Server) handleUptime(ctx context.Context, iq *xmlstream.Stanza, _ *xmlstream.Element) (*xmlstream.Element, error) {
	if err := getOnly(iq); err != nil {
		return nil, err
	}
	return lastQuery(int64(s.now().Sub(s.state.last.started)/time.Second), ""), nil
}

// mayKnowPresence reports whether from may learn owner's availability:
// owner itself, a local server domain, or an entity subscribed to owner's
// presence.
func (s *Server) mayKnowPresence(ctx context.Context, owner jid.JID, from string) bool {
	return s.mayDiscoverAccount(ctx, owner, from)
}

// handleLastActivity answers a query to an account's bare JID (§3).
func (s *Server) handleLastActivity(ctx context.Context, iq *xmlstream.Stanza, _ *xmlstream.Element) (*xmlstream.Element, error) {
	if err := getOnly(iq); err != nil {
		return nil, err
	}
	to, err := jid.Parse(iq.To())
	if err != nil {
		return nil, xmlstream.JIDMalformed()
	}
	owner := to.Bare()
	if !s.mayKnowPresence(ctx, owner, iq.From()) {
		return nil, xmlstream.Forbidden("")
	}
	if len(s.router.Resources(owner.String())) > 0 {
		return lastQuery(0, ""), nil
	}
	val, _, err := s.store.Get(ctx, data.LastActivityKey(owner.String()))
	if errors.Is(err, data.ErrNotFound) {
		return nil, xmlstream.ServiceUnavailable()
	}
	if err != nil {
		return nil, err
	}
	var rec lastRecord
	if err := json.Unmarshal(val, &rec); err != nil {
		return nil, fmt.Errorf("im: corrupt last activity of %s: %w", owner, err)
	}
	return lastQuery(s.now().Unix()-rec.Time, rec.Status), nil
}

// noteLogoutStatus remembers the status of an unavailable broadcast (the
// text a later logout is recorded with) and forgets it on an available one.
func (s *Server) noteLogoutStatus(_ context.Context, sess router.Session, st *xmlstream.Stanza) (*xmlstream.Stanza, bool) {
	if st.Name.Local != xmlstream.KindPresence || st.To() != "" {
		return st, false
	}
	typ := st.Type()
	if typ != "" && typ != "unavailable" {
		return st, false
	}
	user := sess.JID().Bare()
	if s.isAnonymous(user) {
		return st, false
	}
	bare := user.String()
	ls := &s.state.last
	if typ == "" {
		ls.mu.Lock()
		delete(ls.status, bare)
		ls.mu.Unlock()
		return st, false
	}
	el, err := st.Element()
	if err != nil {
		return st, false // the presence handler answers unparsable stanzas
	}
	status := truncateUTF8(el.ChildText(el.Name.Space, "status"), MaxLastStatusBytes)
	ls.mu.Lock()
	if ls.status == nil {
		ls.status = map[string]string{}
	}
	ls.status[bare] = status
	ls.mu.Unlock()
	return st, false
}

// truncateUTF8 cuts s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// recordLastActivity stores the logout time when the account's last
// session ended.
func (s *Server) recordLastActivity(ctx context.Context, sess router.Session, _ router.Resource) {
	user := sess.JID().Bare()
	if s.isAnonymous(user) {
		return
	}
	bare := user.String()
	if len(s.router.Resources(bare)) > 0 {
		return // not the last one
	}
	ls := &s.state.last
	ls.mu.Lock()
	status := ls.status[bare]
	delete(ls.status, bare)
	ls.mu.Unlock()
	// A session closed because its account was deleted must not leave a
	// record behind for a later account of the same name: check before
	// writing, and again after, since the deletion may run in between.
	if ok, _ := s.accounts.Exists(ctx, user); !ok {
		return
	}
	key := data.LastActivityKey(bare)
	val, err := json.Marshal(lastRecord{Time: s.now().Unix(), Status: status})
	if err == nil {
		_, err = s.store.Put(ctx, key, val)
	}
	if err != nil {
		s.log.Error("last activity not recorded", "user", bare, "err", err)
		return
	}
	if ok, err := s.accounts.Exists(ctx, user); err == nil && !ok {
		_ = s.store.Delete(ctx, key)
	}
}

var nsLastBytes = []byte(NSLast)

// guardIdleQuery refuses a last-activity query to a full JID from an
// entity not allowed to see the user's presence (§4): it is not delivered.
func (s *Server) guardIdleQuery(ctx context.Context, to jid.JID, st *xmlstream.Stanza) (*xmlstream.Stanza, bool) {
	if st.Name.Local != xmlstream.KindIQ || st.Type() != "get" || to.Resourcepart() == "" ||
		!bytes.Contains(st.Raw, nsLastBytes) {
		return st, false
	}
	el, err := st.Element()
	if err != nil {
		return st, false
	}
	p := el.FirstElement()
	if p == nil || p.Name.Space != NSLast || p.Name.Local != "query" {
		return st, false
	}
	if s.mayKnowPresence(ctx, to.Bare(), st.From()) {
		return st, false
	}
	s.bounce(ctx, st, xmlstream.Forbidden(""))
	return nil, true
}
