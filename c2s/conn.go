package c2s

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/auth"
	"github.com/gavelhq/gavel/xmlstream"
)

// conn is one client stream. Its reader goroutine (serve) decodes,
// negotiates and dispatches; its writer goroutine (writeLoop) drains the
// bounded queue. Anyone may queue (Send) or close (Close) without blocking.
//
// Closing: closeStream queues the closing frames once and arms the grace
// timer; the writer flushes them and half-closes; the reader waits for the
// peer's end (or the timer) and then hardClose cuts the connection, which
// ends both goroutines. finish runs last, on the reader goroutine.
type conn struct {
	srv    *Server
	opts   *Options
	tr     transport
	log    *slog.Logger
	remote netip.Addr

	q        *outQueue
	done     chan struct{} // closed by hardClose
	flushed  chan struct{} // closed by the writer once the closing frames are out
	hardOnce sync.Once

	lastRead atomic.Int64 // unix nanoseconds of the last input
	bucket   *tokenBucket // inbound throttle, nil if unlimited
	// slowCut: the stream was cut because its queue overflowed (a stream
	// management session may still be resumed).
	slowCut atomic.Bool

	timerMu    sync.Mutex
	timersDead bool
	authTimer  *time.Timer
	graceTimer *time.Timer
	ka         keepalive

	// Reader goroutine state.
	domain        string
	lang          string
	authenticated bool
	user          jid.JID // bare JID once authenticated
	sasl          auth.Exchange
	authFailures  int // failed credential checks (MaxAuthAttempts)
	saslAttempts  int // every failed SASL exchange (maxSASLAttempts)
	// sess is the bound (or resumed) session; set once by the reader, then
	// read by the keepalive timer and finish.
	sess *session
	// cleanEnd: the client ended its stream with </stream:stream>.
	cleanEnd bool
}

func (s *Server) newConn(tr transport, remote netip.Addr) *conn {
	c := &conn{
		srv: s, opts: &s.opts, tr: tr, remote: remote,
		log:     s.opts.Logger.With("transport", tr.name(), "remote", remote.String()),
		q:       newOutQueue(s.opts.WriteQueueBytes),
		done:    make(chan struct{}),
		flushed: make(chan struct{}),
	}
	c.q.start = func() { go c.writeLoop() }
	if tr.canWriteNow() {
		c.q.direct = tr.writeNow
	}
	c.q.fail = func() {
		c.hardClose()
		c.releasePendingAcks()
	}
	tr.notifyPending(c.q.kickPending)
	c.q.domain = s.defaultDomain()
	c.ka.prefix = pingIDPrefix + rand.Text()[:10] + "-"
	if s.opts.InboundBytesPerSecond > 0 {
		c.bucket = newTokenBucket(s.opts.InboundBytesPerSecond, s.opts.InboundBurstBytes)
	}
	c.touch()
	return c
}

// serve runs the stream on the calling goroutine until it ends. The caller
// has registered c with the server (track).
func (c *conn) serve() {
	c.srv.opts.Metrics.StreamOpened(c.tr.name())
	c.timerMu.Lock()
	c.authTimer = time.AfterFunc(c.opts.AuthTimeout, func() {
		c.closeStream(condConnectionTimeout, "Authentication and resource binding took too long", false)
	})
	c.timerMu.Unlock()
	c.end(c.run())
	c.finish()
}

// errCloseStream: close our stream without a stream error (e.g. after a
// STARTTLS <failure/>, RFC 6120 §5.4.2.2).
var errCloseStream = errors.New("c2s: close stream")

func (c *conn) run() (err error) {
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("c2s: panic while serving a stream", "panic", r, "stack", string(debug.Stack()))
			err = newStreamError(condInternalError, "")
		}
	}()
	if err := c.open(); err != nil {
		return err
	}
	for {
		st, err := c.tr.next()
		if err != nil {
			return err
		}
		if c.q.isClosed() {
			return errClosing
		}
		restart, err := c.handle(st)
		if err != nil {
			return err
		}
		if restart {
			if err := c.open(); err != nil {
				return err
			}
		}
	}
}

// end closes the stream as err says and returns once the connection is cut.
func (c *conn) end(err error) {
	switch {
	case errors.Is(err, xmlstream.ErrStreamEnd):
		c.cleanEnd = true
		if c.closeStream("", "", true) {
			// The peer closed first: the writer answers and cuts.
			<-c.done
			return
		}
		// We had closed first; this is the peer's answer.
		c.waitFlushed()
		c.hardClose()
		return
	case errors.Is(err, errClosing):
	case errors.Is(err, errCloseStream):
		c.closeStream("", "", false)
	default:
		cond, text, app := conditionOf(err)
		if cond == "" {
			// The connection failed: nothing more can be said on it.
			c.log.Debug("c2s: connection lost", "err", err)
			c.hardClose()
			return
		}
		c.log.Debug("c2s: stream error", "condition", cond, "text", text, "err", err)
		c.closeStreamDrop(cond, text, app, false, false)
	}
	// Wait for the peer's </stream:stream> (RFC 6120 §4.4), bounded by
	// the grace timer armed in closeStream.
	c.tr.drain()
	c.waitFlushed()
	c.hardClose()
}

func (c *conn) waitFlushed() {
	select {
	case <-c.flushed:
	case <-c.done:
	}
}

// finish runs on the reader goroutine after the connection is cut.
func (c *conn) finish() {
	c.stopTimers()
	c.q.stop()
	c.releasePendingAcks()
	c.q.mu.Lock()
	cond := c.q.condition
	c.q.mu.Unlock()
	if c.sess != nil {
		// A lost connection, a silent client cut by the keepalive, or a
		// slow reader may resume (XEP-0198); a clean close or a stream
		// error for misbehaviour ends the session.
		detachable := !c.cleanEnd && (cond == "" || cond == condConnectionTimeout || c.slowCut.Load())
		c.sess.connEnded(c, detachable)
	}
	c.opts.Metrics.StreamClosed(c.tr.name(), cond)
	c.srv.untrack(c)
}

// closeStream queues the closing frames: our header if the stream has none
// yet (RFC 6120 §4.9.1.2), the stream error if cond is set, and the end of
// the stream. It reports whether this call closed the stream.
func (c *conn) closeStream(cond, text string, peerGone bool) bool {
	return c.closeStreamDrop(cond, text, "", peerGone, false)
}

// closeStreamDrop is closeStream with an application-specific condition
// element (app, raw XML) that may first discard everything still queued (a
// slow reader gets its stream error without the backlog).
func (c *conn) closeStreamDrop(cond, text, app string, peerGone, drop bool) bool {
	q := c.q
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return false
	}
	if drop {
		q.items, q.bytes = nil, 0
	}
	if cond != "" {
		if !q.headerSent {
			q.items = append(q.items, c.tr.appendOpen(nil, streamHeader{from: q.domain, id: newStreamID(), lang: "en"}))
			q.headerSent = true
		}
		q.items = append(q.items, appendStreamError(nil, c.tr.declareStreamNS(), cond, text, app))
	}
	q.items = append(q.items, c.tr.closeFrame())
	q.closed, q.peerGone, q.condition = true, peerGone, cond
	q.mu.Unlock()
	q.signal()

	c.timerMu.Lock()
	if !c.timersDead && c.graceTimer == nil {
		c.graceTimer = time.AfterFunc(c.opts.CloseGrace, c.hardClose)
	}
	c.timerMu.Unlock()
	return true
}

// hardClose cuts the connection; it unblocks the reader and the writer.
func (c *conn) hardClose() {
	c.hardOnce.Do(func() {
		close(c.done)
		c.q.poke() // the writer sleeps on its wake channel, not on done
		c.tr.closeNow()
	})
}

func (c *conn) stopTimers() {
	c.timerMu.Lock()
	c.timersDead = true
	for _, t := range []*time.Timer{c.authTimer, c.graceTimer, c.ka.timer} {
		if t != nil {
			t.Stop()
		}
	}
	c.timerMu.Unlock()
}

// touch records input for the keepalive.
func (c *conn) touch() { c.lastRead.Store(time.Now().UnixNano()) }

// readBytes implements activity for the transports' readers.
func (c *conn) readBytes(n int) bool {
	c.touch()
	if c.bucket == nil {
		return true
	}
	ok := c.bucket.take(n, c.done)
	c.touch() // the wait was ours, not the client's silence
	return ok
}

// send queues control data: negotiation replies, results to the client.
func (c *conn) send(b []byte) { c.q.push(b, true) }

// sendStanza queues a stanza generated by the stream itself (a reply, a
// ping). Once bound it goes through the session, so stream management
// counts it like any other.
func (c *conn) sendStanza(st *xmlstream.Stanza) {
	if c.sess != nil {
		c.sess.Send(st)
		return
	}
	c.send(c.tr.stanzaBytes(st))
}

// JID is the bound full JID (zero before bind).
func (c *conn) JID() jid.JID {
	if c.sess != nil {
		return c.sess.JID()
	}
	return jid.JID{}
}

// slowReader disconnects a client whose queue overflowed: it reads too
// slowly. The sender never blocks.
func (c *conn) slowReader() {
	if !c.slowCut.CompareAndSwap(false, true) {
		return
	}
	c.opts.Metrics.SlowConsumer()
	c.log.Info("c2s: disconnecting slow reader", "jid", c.JID().String(), "queued_limit", c.opts.WriteQueueBytes)
	c.closeStreamDrop(condPolicyViolation, "Too much data queued: the client reads too slowly", "", false, true)
}

// stalledReader records a client cut because one write made no progress
// for WriteTimeout: nothing can be written to it, not even a stream error.
func (c *conn) stalledReader() {
	if !c.slowCut.CompareAndSwap(false, true) {
		return
	}
	c.opts.Metrics.SlowConsumer()
	c.log.Info("c2s: disconnecting stalled reader", "jid", c.JID().String(), "write_timeout", c.opts.WriteTimeout)
}

func (c *conn) String() string { return fmt.Sprintf("c2s(%s %s)", c.tr.name(), c.JID()) }

// newStreamID returns a fresh, unguessable stream id (RFC 6120 §4.7.3).
func newStreamID() string { return rand.Text() }

func (q *outQueue) isClosed() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.closed
}

// pushHeader queues our stream header and remembers it was sent.
func (q *outQueue) pushHeader(b []byte) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	q.items = append(q.items, b)
	q.bytes += len(b)
	q.headerSent = true
	q.mu.Unlock()
	q.signal()
}

// restarted: a new stream begins; it needs a header of its own.
func (q *outQueue) restarted() {
	q.mu.Lock()
	q.headerSent = false
	q.mu.Unlock()
}

func (q *outQueue) setDomain(d string) {
	q.mu.Lock()
	q.domain = d
	q.mu.Unlock()
}

// ctx is the context handed to the Handler.
func (c *conn) ctx() context.Context { return c.srv.ctx }
