package c2s

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/router"
	"github.com/gavelhq/gavel/xmlstream"
)

// session is a bound resource: what the router and the Handler know as a
// router.Session. It is created by resource binding and normally ends with
// its stream (conn); with XEP-0198 resumption it outlives a lost connection
// ("detached", holding what is sent to it) and is taken over by the stream
// that resumes it, so its identity — and everything the IM core keys on it
// (presence state, directed presence, carbons) — survives the reconnection.
//
// Every stanza for the client passes Send, in this order: client state
// indication (may hold it back, csi.go), stream management (counts it and
// keeps it until acknowledged, sm.go), the attached stream's write queue.
// All three happen under mu, so the order on the wire is the order of the
// counters and of the unacknowledged queue.
//
// Lock order: session.mu, then conn.q.mu or conn.timerMu; never the
// reverse. Server.mu may be taken under session.mu.
type session struct {
	srv       *Server
	transport string // of the stream that bound it (metrics)
	full      atomic.Pointer[jid.JID]

	mu  sync.Mutex
	c   *conn // attached stream; nil while detached
	sm  smState
	csi csiState
	// ending: the session will not be resumed; Send refuses.
	ending bool
	// ended: end has run (or is running).
	ended       bool
	detachTimer *time.Timer
}

func newSession(c *conn) *session {
	return &session{srv: c.srv, transport: c.tr.name(), c: c}
}

// JID implements router.Session.
func (s *session) JID() jid.JID {
	if p := s.full.Load(); p != nil {
		return *p
	}
	return jid.JID{}
}

func (s *session) String() string { return "c2s-session(" + s.JID().String() + ")" }

// Send implements router.Session: it never blocks. It reports whether the
// session took the stanza: queued on its stream, held by CSI, or kept by
// stream management for a resume (it is then handed to
// Handler.Undelivered if the session ends before the client acks it).
func (s *session) Send(st *xmlstream.Stanza) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ending {
		return false
	}
	if s.csi.inactive && s.csiHold(st) {
		return true
	}
	return s.deliverLocked(st, nil)
}

// SendBatched implements router.BatchSender: Send, with the write left for
// b's Flush (the queue joins b on its first held stanza).
func (s *session) SendBatched(st *xmlstream.Stanza, b *router.Batch) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ending {
		return false
	}
	if s.csi.inactive && s.csiHold(st) {
		return true
	}
	return s.deliverLocked(st, b)
}

// deliverLocked passes st to stream management and the attached stream;
// with a batch, the write waits for the batch's Flush.
func (s *session) deliverLocked(st *xmlstream.Stanza, b *router.Batch) bool {
	c := s.c
	if !s.sm.enabled {
		if c == nil {
			return false
		}
		switch c.pushStanza(c.tr.stanzaBytes(st), false, b) {
		case pushed:
			c.opts.Metrics.StanzaOut(st.Name.Local)
			return true
		case overflow:
			c.slowReader()
		}
		return false
	}
	if !s.sm.keep(st, s.srv.opts.MaxUnackedStanzas, s.srv.opts.MaxUnackedBytes) {
		s.unackedOverflowLocked()
		return false
	}
	if c == nil {
		return true // detached: kept for the resume
	}
	switch c.pushStanza(c.tr.stanzaBytes(st), s.wantAckLocked(time.Now()), b) {
	case pushed:
		c.opts.Metrics.StanzaOut(st.Name.Local)
	case overflow:
		c.slowReader()
	}
	return true
}

// Close implements router.Session: the session ends for good (a newer
// session took its resource, an administrator...). An attached stream is
// closed with the condition; a detached session ends at once.
func (s *session) Close(condition, text string) {
	s.mu.Lock()
	s.ending = true
	c := s.c
	s.mu.Unlock()
	if c != nil {
		c.closeStream(condition, text, false)
		return
	}
	// Off the caller's goroutine: it may hold locks of the IM core, and
	// ending calls back into it.
	go s.end()
}

// connEnded is called by a stream that was attached to s once it is cut.
// A resumable session whose connection was lost (not closed cleanly, not
// ended by us for misbehaviour) is detached for its resumption window;
// anything else ends the session.
func (s *session) connEnded(c *conn, detachable bool) {
	s.mu.Lock()
	if s.c != c {
		s.mu.Unlock() // resumed on another stream meanwhile
		return
	}
	s.c = nil
	if detachable && s.sm.resumable && !s.ending && !s.srv.isClosed() {
		// CSI holds nothing for a stream that does not exist: what it held
		// joins the unacknowledged queue, to be sent on resume.
		s.csiFlushLocked()
		s.csi.inactive = false
	}
	if detachable && s.sm.resumable && !s.ending && !s.srv.isClosed() {
		s.sm.detached()
		s.detachTimer = time.AfterFunc(s.sm.timeout, s.expire)
		unacked, timeout := len(s.sm.unacked), s.sm.timeout
		s.mu.Unlock()
		s.srv.detached.Add(1)
		c.log.Debug("c2s: session detached, awaiting resumption", "jid", s.JID().String(), "unacked", unacked, "timeout", timeout)
		return
	}
	s.ending = true
	s.mu.Unlock()
	s.end()
}

// expire runs when the resumption window of a detached session closes (or
// at once when it must end: queue overflow, shutdown).
func (s *session) expire() {
	s.mu.Lock()
	if s.c != nil || s.ended {
		s.mu.Unlock()
		return
	}
	s.ending = true
	s.mu.Unlock()
	s.end()
}

// end unbinds the session, tells the Handler, and hands it the stanzas the
// client never acknowledged (and those CSI still held). It runs once.
func (s *session) end() {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	s.ended, s.ending = true, true
	wasDetached := s.detachTimer != nil
	if s.detachTimer != nil {
		s.detachTimer.Stop()
	}
	left := s.sm.takeUnacked()
	s.sm.stopTimer()
	for _, h := range s.csi.held {
		left = append(left, h.st)
	}
	s.csi.held = nil
	id := s.sm.id
	s.mu.Unlock()

	if wasDetached {
		s.srv.detached.Add(-1)
	}
	if id != "" {
		s.srv.forgetSM(id, s)
	}
	srv := s.srv
	last, ok := srv.router.Unbind(s)
	srv.bound.Add(-1)
	srv.opts.Metrics.SessionEnded(s.transport)
	srv.handler.SessionEnded(srv.ctx, s, last, ok)
	left = withoutOwnPings(left, s.JID().Domainpart())
	if len(left) > 0 {
		srv.opts.Logger.Debug("c2s: session ended with unacknowledged stanzas", "jid", s.JID().String(), "count", len(left))
		srv.handler.Undelivered(srv.ctx, s, left)
	}
}

// withoutOwnPings drops the keepalive pings the stream itself sent: nobody
// waits for their answer.
func withoutOwnPings(sts []*xmlstream.Stanza, domain string) []*xmlstream.Stanza {
	out := sts[:0]
	for _, st := range sts {
		if st.Name.Local == xmlstream.KindIQ && st.From() == domain && strings.HasPrefix(st.ID(), pingIDPrefix) {
			continue
		}
		out = append(out, st)
	}
	return out
}

// attached reports whether c is the stream of s.
func (s *session) attached(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.c == c
}

var _ router.Session = (*session)(nil)
