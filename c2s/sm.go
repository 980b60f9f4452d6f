package c2s

// XEP-0198 Stream Management (urn:xmpp:sm:3).
//
//   - Offered after authentication (with bind). <enable/> is accepted once,
//     after binding; before binding, a second time, or before
//     authentication it is answered with <failed><unexpected-request/>
//     (a second <enable/> then ends the stream, §3: "SHOULD respond with a
//     stream error").
//   - Counters: our 'h' counts the stanzas (message, presence, iq) the
//     client sent after <enable/> and that the stream handled (handed to the
//     Handler or answered itself). The outbound count covers every stanza
//     queued after <enabled/>; each is kept in the unacknowledged queue
//     until an <a h/> covers it. An 'h' above the outbound count ends the
//     stream with undefined-condition and <handled-count-too-high/> (§6).
//   - Requests: a client's <r/> is answered at once. The server requests
//     acks itself, never more than one <r/> outstanding: with the first
//     stanza after a quiet period (ackInterval), or once ackEvery stanzas
//     went out unrequested, or from a timer when stanzas are left
//     unrequested after an ack. The <r/> is appended to the batch the writer
//     is about to write (outQueue.wantAck), so it costs no write of its own.
//   - Bounds: the unacknowledged queue holds at most Options.MaxUnackedStanzas
//     stanzas and MaxUnackedBytes bytes. A client that lets it overflow is
//     disconnected with policy-violation (its session ends; the queue goes
//     to Handler.Undelivered); a detached session that overflows ends at once.
//   - Resumption (§5): <enable resume='true'/> with Options.ResumeTimeout > 0
//     gets an id and max (the client's max if lower). When the connection
//     is lost — not closed with </stream:stream>, not ended by us with a
//     stream error other than connection-timeout or the slow-reader cut —
//     the session stays bound in the router, detached, keeping what is sent
//     to it, for the window. <resume previd h/> after authentication, by the
//     same account, takes it over: <resumed previd h/>, then every stanza
//     the client did not acknowledge, then new traffic. An old stream still
//     attached (half-open) is closed with conflict. Unknown, expired, or
//     another account's ids get <failed><item-not-found/></failed>, and the
//     client may bind instead. The CSI state is not carried over (XEP-0352).
//   - When a session ends for good, its unacknowledged stanzas go to
//     Handler.Undelivered (offline storage, other resources, errors), never
//     silently dropped.

import (
	"crypto/rand"
	"errors"
	"strconv"
	"time"

	"github.com/gavelhq/gavel/xmlstream"
)

const nsSM = "urn:xmpp:sm:3"

// Ack request policy (see above).
const (
	ackEvery    = 16
	ackInterval = time.Second
)

// smR is the ack request, the same bytes on TCP and WebSocket.
var smR = []byte("<r xmlns='" + nsSM + "'/>")

// smState is a session's stream management state; guarded by session.mu.
type smState struct {
	enabled   bool
	resumable bool
	id        string
	timeout   time.Duration

	out     uint32              // stanzas counted since <enabled/> (mod 2^32)
	acked   uint32              // the client's last 'h'
	unacked []*xmlstream.Stanza // the out-acked stanzas not acknowledged, oldest first
	bytes   int                 // their Raw length
	in      uint32              // stanzas received and handled: our 'h'

	rPending   bool      // an <r/> is queued or in flight, not yet answered
	requested  uint32    // out when the last <r/> was queued
	lastReq    time.Time // when it was queued
	timer      *time.Timer
	timerArmed bool
}

// keep counts st and appends it to the unacknowledged queue; false when the
// queue is full.
func (sm *smState) keep(st *xmlstream.Stanza, maxN, maxBytes int) bool {
	if len(sm.unacked) >= maxN || sm.bytes+len(st.Raw) > maxBytes {
		return false
	}
	sm.unacked = append(sm.unacked, st)
	sm.bytes += len(st.Raw)
	sm.out++
	return true
}

// ack applies the client's h; false if h acknowledges more than was sent.
// An h behind the last one (a client whose counter went backwards, as
// xmpp.js 0.14's does when stanzas race its <enabled/>) acknowledges
// nothing new and is ignored: §6 only condemns an h that is too high.
func (sm *smState) ack(h uint32) bool {
	n := h - sm.acked
	if n > sm.out-sm.acked {
		return sm.acked-h < 1<<31 // behind: stale, not too high
	}
	for i := range n {
		sm.bytes -= len(sm.unacked[i].Raw)
		sm.unacked[i] = nil
	}
	sm.unacked = sm.unacked[n:]
	if len(sm.unacked) == 0 {
		sm.unacked = nil // let the backing array go
	}
	if h-sm.acked >= sm.requested-sm.acked {
		sm.rPending = false // our request is answered
	}
	sm.acked = h
	return true
}

// takeUnacked empties the queue and returns it.
func (sm *smState) takeUnacked() []*xmlstream.Stanza {
	out := sm.unacked
	sm.unacked, sm.bytes = nil, 0
	sm.acked = sm.out
	return out
}

// detached forgets the request in flight on the lost stream.
func (sm *smState) detached() {
	sm.rPending = false
	sm.stopTimer()
}

func (sm *smState) stopTimer() {
	if sm.timer != nil {
		sm.timer.Stop()
	}
	sm.timerArmed = false
}

// wantAckLocked decides whether an <r/> follows the stanza being queued.
func (s *session) wantAckLocked(now time.Time) bool {
	sm := &s.sm
	if sm.rPending {
		return false
	}
	if sm.out-sm.requested >= ackEvery || now.Sub(sm.lastReq) >= ackInterval {
		sm.rPending, sm.requested, sm.lastReq = true, sm.out, now
		return true
	}
	s.armAckTimerLocked(ackInterval - now.Sub(sm.lastReq))
	return false
}

// armAckTimerLocked makes sure stanzas left unrequested get an <r/> later.
func (s *session) armAckTimerLocked(d time.Duration) {
	if s.sm.timerArmed {
		return
	}
	s.sm.timerArmed = true
	if s.sm.timer == nil {
		s.sm.timer = time.AfterFunc(d, s.ackTimerFired)
		return
	}
	s.sm.timer.Reset(d)
}

func (s *session) ackTimerFired() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sm.timerArmed = false
	s.requestAckLocked(time.Now())
}

// requestAckLocked queues an <r/> on its own when stanzas went out since
// the last request and none is outstanding.
func (s *session) requestAckLocked(now time.Time) {
	sm := &s.sm
	c := s.c
	if c == nil || s.ended || !sm.enabled || sm.rPending || sm.out == sm.requested {
		return
	}
	if c.q.push(smR, true) == pushed {
		sm.rPending, sm.requested, sm.lastReq = true, sm.out, now
	}
}

// unackedOverflowLocked ends a session whose client lets too much go
// unacknowledged.
func (s *session) unackedOverflowLocked() {
	s.ending = true
	if c := s.c; c != nil {
		s.srv.opts.Logger.Info("c2s: too many unacknowledged stanzas", "jid", s.JID().String(), "limit", s.srv.opts.MaxUnackedStanzas)
		c.closeStreamDrop(condPolicyViolation, "Too many unacknowledged stanzas", "", false, false)
		return
	}
	if s.detachTimer != nil {
		s.detachTimer.Reset(0) // expire now, on the timer's goroutine
	}
}

// inbound counts a stanza the client sent on c; false if c is no longer
// the session's stream (it was resumed elsewhere): the stanza is dropped,
// unacknowledged, and the client sends it again on the new stream.
func (s *session) inbound(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c != c {
		return false
	}
	if s.sm.enabled {
		s.sm.in++
	}
	return true
}

// smFailed is <failed/> with a stanza error condition (§6).
func smFailed(cond string) []byte {
	return []byte("<failed xmlns='" + nsSM + "'><" + cond + " xmlns='" + xmlstream.NSStanzas + "'/></failed>")
}

func smAnswer(h uint32) []byte {
	return []byte("<a xmlns='" + nsSM + "' h='" + strconv.FormatUint(uint64(h), 10) + "'/>")
}

// errHandledTooHigh is the stream error of §6.
func errHandledTooHigh(h, sent uint32) error {
	hs, ss := strconv.FormatUint(uint64(h), 10), strconv.FormatUint(uint64(sent), 10)
	return &streamError{
		cond: condUndefinedCondition,
		text: "You acknowledged " + hs + " stanzas, but I only sent you " + ss + " so far.",
		app:  "<handled-count-too-high xmlns='" + nsSM + "' h='" + hs + "' send-count='" + ss + "'/>",
	}
}

func parseH(v string) (uint32, error) {
	h, err := strconv.ParseUint(v, 10, 32)
	if err != nil {
		return 0, newStreamError(condBadFormat, "'h' must be an unsigned 32-bit integer")
	}
	return uint32(h), nil
}

// handleSMBound handles SM elements on a bound stream.
func (c *conn) handleSMBound(st *xmlstream.Stanza) error {
	s := c.sess
	switch st.Name.Local {
	case "enable":
		return c.smEnable(st)
	case "resume":
		// A bound stream cannot take over another session.
		c.send(smFailed("unexpected-request"))
		return nil
	case "r":
		s.mu.Lock()
		if !s.sm.enabled || s.c != c {
			s.mu.Unlock()
			return c.unexpected(st)
		}
		// A client asking is awake: what CSI held goes out first.
		s.csiFlushLocked()
		h := s.sm.in
		s.mu.Unlock()
		c.send(smAnswer(h))
		return nil
	case "a":
		el, err := st.Element()
		if err != nil {
			return newStreamError(condBadFormat, "")
		}
		h, err := parseH(el.Attr("h"))
		if err != nil {
			return err
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if !s.sm.enabled {
			return c.unexpected(st)
		}
		if s.c != c {
			return nil
		}
		if !s.sm.ack(h) {
			return errHandledTooHigh(h, s.sm.out)
		}
		if !s.sm.rPending && s.sm.out != s.sm.requested {
			// Stanzas went out after our last request.
			now := time.Now()
			if s.sm.out-s.sm.requested >= ackEvery {
				s.requestAckLocked(now)
			} else {
				s.armAckTimerLocked(max(0, ackInterval-now.Sub(s.sm.lastReq)))
			}
		}
		return nil
	}
	return c.unexpected(st)
}

// handleSMUnbound handles SM elements before resource binding: only
// <resume/> after authentication has a place there.
func (c *conn) handleSMUnbound(st *xmlstream.Stanza) error {
	switch st.Name.Local {
	case "enable":
		c.send(smFailed("unexpected-request"))
		return nil
	case "resume":
		if !c.authenticated {
			c.send(smFailed("unexpected-request"))
			return nil
		}
		return c.smResume(st)
	}
	return c.unexpected(st)
}

// smEnable answers <enable/> on a bound stream (§3).
func (c *conn) smEnable(st *xmlstream.Stanza) error {
	el, err := st.Element()
	if err != nil {
		return newStreamError(condBadFormat, "")
	}
	resume := xsdBool(el.Attr("resume")) && c.opts.ResumeTimeout > 0
	timeout := c.opts.ResumeTimeout
	if m, err := strconv.ParseUint(el.Attr("max"), 10, 32); err == nil && m > 0 && time.Duration(m)*time.Second < timeout {
		timeout = time.Duration(m) * time.Second
	}
	s := c.sess
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c != c {
		return nil
	}
	if s.sm.enabled {
		c.send(smFailed("unexpected-request"))
		return newStreamError(condPolicyViolation, "Stream management is already enabled")
	}
	b := []byte("<enabled xmlns='" + nsSM + "'")
	var id string
	if resume {
		id = rand.Text()
		b = append(b, " id='"+id+"' resume='true' max='"+strconv.FormatInt(int64(timeout/time.Second), 10)+"'"...)
		c.srv.rememberSM(id, s)
	}
	b = append(b, "/>"...)
	// Under s.mu: no stanza slips between <enabled/> and the start of the count.
	c.q.push(b, true)
	s.sm = smState{enabled: true, resumable: resume, id: id, timeout: timeout}
	return nil
}

func xsdBool(v string) bool { return v == "true" || v == "1" }

var errNotResumable = errors.New("c2s: session not resumable")

// smResume answers <resume/> on an authenticated, unbound stream (§5).
func (c *conn) smResume(st *xmlstream.Stanza) error {
	el, err := st.Element()
	if err != nil {
		return newStreamError(condBadFormat, "")
	}
	previd := el.Attr("previd")
	h, herr := strconv.ParseUint(el.Attr("h"), 10, 32)
	switch {
	case c.opts.ResumeTimeout <= 0:
		c.send(smFailed("feature-not-implemented"))
		return nil
	case previd == "" || herr != nil:
		c.send(smFailed("bad-request"))
		return nil
	}
	s := c.srv.lookupSM(previd)
	if s == nil || !s.JID().Bare().Equal(c.user) {
		// Another account's id is as unknown as an expired one.
		c.send(smFailed("item-not-found"))
		return nil
	}
	old, err := s.resume(c, previd, uint32(h))
	if errors.Is(err, errNotResumable) {
		c.send(smFailed("item-not-found"))
		return nil
	}
	if err != nil {
		return err
	}
	c.timerMu.Lock()
	if c.authTimer != nil {
		c.authTimer.Stop()
	}
	c.timerMu.Unlock()
	c.startKeepalive()
	if old != nil {
		// §5: the stream still holding the session is closed with conflict.
		old.closeStream(condConflict, "The session was resumed on another stream", false)
	}
	c.log.Debug("c2s: session resumed", "jid", s.JID().String(), "h", h)
	return nil
}

// resume attaches c to s: <resumed/>, then every stanza the client did not
// acknowledge, then (CSI being reset to active) what CSI held. It returns
// the stream s was attached to, if any.
func (s *session) resume(c *conn, previd string, h uint32) (*conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ending || s.ended || !s.sm.resumable {
		return nil, errNotResumable
	}
	if !s.sm.ack(h) {
		return nil, errHandledTooHigh(h, s.sm.out)
	}
	// Set under s.mu, before s.c: whoever sees c attached sees c.sess.
	c.sess = s
	old := s.c
	if s.detachTimer != nil {
		s.detachTimer.Stop()
		s.detachTimer = nil
		s.srv.detached.Add(-1)
	}
	s.sm.detached() // a request on the old stream is moot
	s.c = c
	c.q.push([]byte("<resumed xmlns='"+nsSM+"' h='"+strconv.FormatUint(uint64(s.sm.in), 10)+"' previd='"+previd+"'/>"), true)
	for _, st := range s.sm.unacked {
		c.q.push(c.tr.stanzaBytes(st), true)
	}
	if len(s.sm.unacked) > 0 {
		now := time.Now()
		c.q.push(smR, true)
		s.sm.rPending, s.sm.requested, s.sm.lastReq = true, s.sm.out, now
	}
	s.csi.inactive = false
	s.csiFlushLocked()
	return old, nil
}

// rememberSM registers a resumable session under its SM-ID.
func (srv *Server) rememberSM(id string, s *session) {
	srv.mu.Lock()
	srv.smIDs[id] = s
	srv.mu.Unlock()
}

func (srv *Server) lookupSM(id string) *session {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return srv.smIDs[id]
}

func (srv *Server) forgetSM(id string, s *session) {
	srv.mu.Lock()
	if srv.smIDs[id] == s {
		delete(srv.smIDs, id)
	}
	srv.mu.Unlock()
}
