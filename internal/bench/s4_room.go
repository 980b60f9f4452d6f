package bench

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gavelhq/gavel/xmlstream"
)

// The MUC scenarios (S4 auction room, S5 silent watchers, S6 join storm)
// share this file: creating and configuring a room, joining it, and one
// reader per occupant that measures what arrives.

const (
	nsMUC       = "http://jabber.org/protocol/muc"
	nsMUCUser   = "http://jabber.org/protocol/muc#user"
	nsMUCOwner  = "http://jabber.org/protocol/muc#owner"
	nsData      = "jabber:x:data"
	nsRoomCfg   = "http://jabber.org/protocol/muc#roomconfig"
	fieldBcast  = "muc#roomconfig_presencebroadcast"
	mucNickBase = "u"
)

// mucValidate checks the fields every MUC scenario uses.
func mucValidate(c *Config, bad func(string, ...any), span func(string, time.Duration)) {
	for _, d := range []string{c.MUCService, c.Room} {
		if strings.ContainsAny(d, "'\"<>&/@ ") {
			bad("-muc-service / -room %q must be plain", d)
		}
	}
	span("settle", c.Settle)
	for _, r := range splitRoles(c.PresenceBroadcast) {
		switch r {
		case "moderator", "participant", "visitor", "none":
		default:
			bad("-presence-broadcast: unknown role %q", r)
		}
	}
	if c.Users < 2 {
		bad("-users %d: a room scenario needs at least 2 occupants", c.Users)
	}
}

func splitRoles(s string) []string {
	var out []string
	for _, r := range strings.Split(s, ",") {
		if r = strings.TrimSpace(r); r != "" {
			out = append(out, r)
		}
	}
	return out
}

// roomJID is the bare JID of the run's room.
func roomJID(c *Config, scenario string) string {
	svc := c.MUCService
	if svc == "" {
		svc = "conference." + c.Domain
	}
	name := c.Room
	if name == "" {
		// A fresh room per run: no history or occupants left from a
		// previous run on a server that keeps rooms.
		name = fmt.Sprintf("bench-%s-%d", strings.ToLower(scenario), time.Now().UnixNano()/int64(time.Millisecond))
	}
	return name + "@" + svc
}

// nickOf is occupant i's nick; nickIndex inverts it (-1 for other nicks).
func nickOf(i int) string { return mucNickBase + strconv.Itoa(i) }

func nickIndex(nick string) int {
	if !strings.HasPrefix(nick, mucNickBase) {
		return -1
	}
	n, err := strconv.Atoi(nick[len(mucNickBase):])
	if err != nil || n < 0 {
		return -1
	}
	return n
}

// joinPresence asks to enter room as nick without history (XEP-0045 §7.2.14).
func joinPresence(c *Client, room, nick string) string {
	return "<presence to='" + room + "/" + nick + "'" + c.ns() + "><x xmlns='" + nsMUC +
		"'><history maxstanzas='0'/></x></presence>"
}

// occupantKind is what an occupant does in the run.
type occupantKind int

const (
	kindWatcher occupantKind = iota
	kindOwner                // created the room; also the observer of departures
	kindBidder
	kindSlow // stops reading for a while
)

// mucRoom is what the occupants' readers share.
type mucRoom struct {
	jid    string // bare room JID
	prefix string // jid + "/"
	n      int    // occupants planned (the occupant set is complete at n)

	closing    atomic.Bool
	stallStart atomic.Int64 // unix ns, 0 until the bid phase fixes it
	stallEnd   atomic.Int64

	// Counters; lat/slowLat are per delivered bid.
	lat, slowLat, cutoff Histogram
	joinLat              Histogram    // join presence to self-presence
	delivered            atomic.Int64 // bids at healthy occupants
	slowDelivered        atomic.Int64
	errorReplies         atomic.Int64
	stanzas              atomic.Int64 // everything read, all occupants
	lastStanza           atomic.Int64 // unix ns
	lastArrival          atomic.Int64 // unix ns of the last bid delivered to a healthy occupant
	healthyDropped       atomic.Int64 // healthy occupants whose stream ended early
	slowCut              atomic.Int64 // slow readers whose stream the server ended
	slowLast             atomic.Int64 // unix ns of a slow reader's last stanza
	kicked               atomic.Int64 // own unavailable presence while joined
	complete             atomic.Int64 // S6: occupants whose list reached n
	completeLast         atomic.Int64 // S6: unix ns of the last completion
	// slowFrom: occupants from this index on are slow readers (n: none).
	slowFrom atomic.Int64
	r        *Result
}

func newMUCRoom(jid string, n int, r *Result) *mucRoom {
	m := &mucRoom{jid: jid, prefix: jid + "/", n: n, r: r}
	m.slowFrom.Store(int64(n))
	return m
}

// mucOccupant is one session in the room. Its reader goroutine owns the
// unexported fields below joined.
type mucOccupant struct {
	*session
	idx  int
	nick string
	kind occupantKind
	// track: keep the occupant set (S6) and record when it is complete.
	track bool
	// joined receives the outcome of the join: nil at the self-presence,
	// else the error presence's condition. Buffered; sent once.
	joined     chan error
	joinSentAt atomic.Int64 // unix ns
	completeIn atomic.Int64 // S6: ns from the join to a complete list

	signaled bool
	inRoom   bool
	present  []bool // S6: occupant set by index
	count    int
}

func newOccupant(s *session, kind occupantKind, track bool) *mucOccupant {
	return &mucOccupant{session: s, idx: s.idx, nick: nickOf(s.idx), kind: kind, track: track, joined: make(chan error, 1)}
}

func (o *mucOccupant) signal(err error) {
	if !o.signaled {
		o.signaled = true
		o.joined <- err
	}
}

// readLoop consumes the occupant's stream until it ends.
func (o *mucOccupant) readLoop(m *mucRoom) {
	stalled := false
	for {
		if o.kind == kindSlow && !stalled {
			if s := m.stallStart.Load(); s != 0 && time.Now().UnixNano() >= s {
				stalled = true
				o.stall(m)
			}
		}
		st, err := o.Next()
		if err != nil {
			o.signal(err)
			// Only occupants that were in the room count: a failed join
			// is counted by the join.
			if !m.closing.Load() && o.inRoom {
				if o.kind == kindSlow {
					m.slowCut.Add(1)
				} else {
					m.healthyDropped.Add(1)
					if !errors.Is(err, xmlstream.ErrStreamEnd) {
						m.r.AddError(fmt.Errorf("%s: %w", o.nick, err))
					}
				}
			}
			return
		}
		now := time.Now().UnixNano()
		m.stanzas.Add(1)
		if o.kind == kindSlow {
			m.slowLast.Store(now)
		}
		storeMax(&m.lastStanza, now)
		switch st.Name.Local {
		case "message":
			o.onMessage(m, st, now)
		case "presence":
			o.onPresence(m, st, now)
		case "iq":
			o.AnswerPing(st)
		case "error":
			if st.Name.Space == xmlstream.NSStream {
				m.r.AddError(fmt.Errorf("%s: stream error: %.200s", o.nick, st.Raw))
			}
		}
	}
}

// stall stops reading until the stall ends (or the run closes).
func (o *mucOccupant) stall(m *mucRoom) {
	for !m.closing.Load() {
		end := m.stallEnd.Load()
		d := time.Until(time.Unix(0, end))
		if d <= 0 {
			// Resume as a normal reader: a receive buffer below the
			// loopback segment size lets the backlog in only by
			// zero-window probes, seconds apart, and the end of a stream
			// the server cut would be seen after the run.
			_ = o.SetReadBuffer(1 << 20)
			return
		}
		time.Sleep(min(d, 100*time.Millisecond))
	}
}

func (o *mucOccupant) onMessage(m *mucRoom, st *xmlstream.Stanza, now int64) {
	switch st.Type() {
	case "error":
		m.errorReplies.Add(1)
		m.r.AddError(errors.New("error reply: " + stanzaErrorCondition(st)))
		return
	case "groupchat":
	default:
		return
	}
	t, ok := payloadTime(st.Raw)
	if !ok { // subject, status messages (104), someone else's traffic
		return
	}
	if o.kind == kindSlow {
		m.slowLat.Record(time.Duration(now - t))
		m.slowDelivered.Add(1)
		return
	}
	m.lat.Record(time.Duration(now - t))
	m.delivered.Add(1)
	storeMax(&m.lastArrival, now)
}

func (o *mucOccupant) onPresence(m *mucRoom, st *xmlstream.Stanza, now int64) {
	from := st.From()
	if !strings.HasPrefix(from, m.prefix) {
		return
	}
	nick := from[len(m.prefix):]
	typ := st.Type()
	if nick == o.nick {
		switch typ {
		case "error":
			o.signal(fmt.Errorf("join refused: %s", stanzaErrorCondition(st)))
			return
		case "unavailable":
			if o.inRoom && !m.closing.Load() {
				m.kicked.Add(1)
			}
			o.inRoom = false
		default:
			if !o.signaled {
				if s := o.joinSentAt.Load(); s != 0 {
					m.joinLat.Record(time.Duration(now - s))
				}
			}
			o.inRoom = true
			o.signal(nil)
		}
	}
	if typ == "unavailable" && o.kind == kindOwner {
		if i := nickIndex(nick); i >= 0 && i < m.n && m.isSlow(i) {
			if s := m.stallStart.Load(); s != 0 {
				m.cutoff.Record(time.Duration(now - s))
			}
		}
	}
	if o.track {
		o.trackPresence(m, nick, typ, now)
	}
}

// isSlow: slow readers are the last occupants.
func (m *mucRoom) isSlow(i int) bool { return i >= int(m.slowFrom.Load()) }

// trackPresence keeps the occupant set of an S6 client.
func (o *mucOccupant) trackPresence(m *mucRoom, nick, typ string, now int64) {
	i := nickIndex(nick)
	if i < 0 || i >= m.n || typ == "error" {
		return
	}
	if o.present == nil {
		o.present = make([]bool, m.n)
	}
	switch {
	case typ == "unavailable" && o.present[i]:
		o.present[i] = false
		o.count--
	case typ == "" && !o.present[i]:
		o.present[i] = true
		o.count++
		if o.count == m.n && o.completeIn.Load() == 0 {
			o.completeIn.Store(max(now-o.joinSentAt.Load(), 1))
			m.complete.Add(1)
			storeMax(&m.completeLast, now)
		}
	}
}

func storeMax(a *atomic.Int64, v int64) {
	for {
		old := a.Load()
		if v <= old || a.CompareAndSwap(old, v) {
			return
		}
	}
}

// startReaders starts every occupant's reader; wait returns when all ended.
func startReaders(m *mucRoom, occ []*mucOccupant) (wait func()) {
	var wg sync.WaitGroup
	for _, o := range occ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o.readLoop(m)
		}()
	}
	return wg.Wait
}

// join sends o's join presence and waits (bounded) for the outcome.
func (o *mucOccupant) join(ctx context.Context, m *mucRoom, timeout time.Duration) error {
	o.joinSentAt.Store(time.Now().UnixNano())
	if err := o.SendString(joinPresence(o.Client, m.jid, o.nick)); err != nil {
		return err
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case err := <-o.joined:
		return err
	case <-t.C:
		return fmt.Errorf("%s: no self-presence within %v", o.nick, timeout)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// createRoom has the owner (whose reader is not running yet) enter the
// room, and configure it: the submitted form carries the presence
// broadcast roles when asked for, else it is empty (an instant room,
// XEP-0045 §10.1.2; servers that do not lock new rooms accept it as a
// no-op). It returns the status codes of the self-presence and a note on
// what the server did with the configuration.
func createRoom(ctx context.Context, c *Config, owner *mucOccupant, room string) (codes []string, note string, err error) {
	if dl, ok := ctx.Deadline(); ok {
		owner.setDeadline(dl)
		defer owner.setDeadline(time.Time{})
	}
	if err := owner.SendString(joinPresence(owner.Client, room, owner.nick)); err != nil {
		return nil, "", err
	}
	self := room + "/" + owner.nick
	for range 1000 {
		st, err := owner.Next()
		if err != nil {
			return nil, "", err
		}
		if st.Name.Local != "presence" || st.From() != self {
			owner.AnswerPing(st)
			continue
		}
		if st.Type() == "error" {
			return nil, "", fmt.Errorf("creating %s: %s", room, stanzaErrorCondition(st))
		}
		codes = statusCodes(st)
		break
	}
	if codes == nil {
		return nil, "", fmt.Errorf("creating %s: no self-presence", room)
	}
	owner.inRoom, owner.signaled = true, true
	roles := splitRoles(c.PresenceBroadcast)
	var fields string
	if len(roles) > 0 {
		fields = "<field var='FORM_TYPE'><value>" + nsRoomCfg + "</value></field><field var='" + fieldBcast + "'>"
		for _, r := range roles {
			fields += "<value>" + r + "</value>"
		}
		fields += "</field>"
	}
	submit := "<iq type='set' id='cfg-set' to='" + room + "'" + owner.ns() + "><query xmlns='" + nsMUCOwner +
		"'><x xmlns='" + nsData + "' type='submit'>" + fields + "</x></query></iq>"
	if err := owner.iqRoundTrip(submit, "cfg-set"); err != nil {
		return codes, "", fmt.Errorf("configuring %s: %w", room, err)
	}
	if len(roles) == 0 {
		return codes, "", nil
	}
	// Read the configuration back: a server may ignore a field it lacks.
	get := "<iq type='get' id='cfg-get' to='" + room + "'" + owner.ns() + "><query xmlns='" + nsMUCOwner + "'/></iq>"
	if err := owner.SendString(get); err != nil {
		return codes, "", err
	}
	st, err := owner.waitIQ("cfg-get")
	if err != nil {
		return codes, "", err
	}
	got, found := formValues(st, fieldBcast)
	switch {
	case st.Type() != "result":
		note = "configuration form not readable: " + stanzaErrorCondition(st)
	case !found:
		note = "the server's room configuration has no " + fieldBcast + " field: presence is broadcast for every role"
	default:
		note = fieldBcast + " = " + strings.Join(got, ",")
	}
	return codes, note, nil
}

// statusCodes lists the muc#user status codes of a presence.
func statusCodes(st *xmlstream.Stanza) []string {
	codes := []string{}
	el, err := st.Element()
	if err != nil {
		return codes
	}
	if x := el.Child(nsMUCUser, "x"); x != nil {
		for _, s := range x.ChildrenNamed(nsMUCUser, "status") {
			codes = append(codes, s.Attr("code"))
		}
	}
	return codes
}

// formValues returns the values of field var in a muc#owner form.
func formValues(st *xmlstream.Stanza, name string) ([]string, bool) {
	el, err := st.Element()
	if err != nil {
		return nil, false
	}
	q := el.Child(nsMUCOwner, "query")
	if q == nil {
		return nil, false
	}
	x := q.Child(nsData, "x")
	if x == nil {
		return nil, false
	}
	for _, f := range x.ChildrenNamed(nsData, "field") {
		if f.Attr("var") != name {
			continue
		}
		var vals []string
		for _, v := range f.ChildrenNamed(nsData, "value") {
			vals = append(vals, strings.TrimSpace(v.Text()))
		}
		return vals, true
	}
	return nil, false
}

// joinAll joins occ (not the owner) with Concurrency joins in flight and
// returns the occupants in the room and the number of failures.
func joinAll(ctx context.Context, e *Env, m *mucRoom, occ []*mucOccupant) ([]*mucOccupant, int) {
	ok := make([]bool, len(occ))
	forEach(ctx, len(occ), e.Cfg.Concurrency, func(ctx context.Context, i int) {
		if err := occ[i].join(ctx, m, e.Cfg.ConnectTimeout); err != nil {
			m.r.AddError(err)
			return
		}
		ok[i] = true
	})
	var in []*mucOccupant
	for i, o := range occ {
		if ok[i] {
			in = append(in, o)
		}
	}
	return in, len(occ) - len(in)
}

// settleRoom waits until no stanza arrived for quiet (the join presences have
// been delivered), at most bound. It returns how long it waited.
func settleRoom(ctx context.Context, m *mucRoom, quiet, bound time.Duration) time.Duration {
	start := time.Now()
	for time.Since(start) < bound && ctx.Err() == nil {
		last := m.lastStanza.Load()
		if last == 0 || time.Since(time.Unix(0, last)) >= quiet {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(start)
}

// mucSessions logs in n occupants (account i, resource muc<i>); rcvbuf
// (may be nil) gives some of them a small receive buffer.
func mucSessions(ctx context.Context, e *Env, n int, r *Result) ([]*session, error) {
	start := time.Now()
	sessions, failed, firstErr := loginAll(ctx, e, n, "muc", nil)
	r.AddError(firstErr)
	for _, s := range sessions {
		r.noteMechanism(s.Mechanism)
	}
	e.logf("%s: %d sessions up in %.1fs (%d failed)", e.Cfg.Scenario, len(sessions), time.Since(start).Seconds(), failed)
	r.Add("logins_failed", float64(failed), "", "lower", false)
	if len(sessions) == 0 || sessions[0].idx != 0 {
		closeAll(sessions)
		return nil, fmt.Errorf("the room owner (account 0) could not log in: %w", errors.Join(errNoSessions, firstErr))
	}
	return sessions, nil
}
