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
	"github.com/gavelhq/gavel/router"
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

	q          *outQueue
	done       chan struct{} // closed by hardClose
	flushed    chan struct{} // closed by the writer once the closing frames are out
	writerDone chan struct{}
	hardOnce   sync.Once

	lastRead atomic.Int64 // unix nanoseconds of the last input
	bucket   *tokenBucket // inbound throttle, nil if unlimited
	full     atomic.Pointer[jid.JID]

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
	bound         bool
}

func (s *Server) newConn(tr transport, remote netip.Addr) *conn {
	c := &conn{
		srv: s, opts: &s.opts, tr: tr, remote: remote,
		log:        s.opts.Logger.With("transport", tr.name(), "remote", remote.String()),
		q:          newOutQueue(s.opts.WriteQueueBytes),
		done:       make(chan struct{}),
		flushed:    make(chan struct{}),
		writerDone: make(chan struct{}),
	}
	c.q.domain = s.defaultDomain()
	c.ka.prefix = "ping-" + rand.Text()[:10] + "-"
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
	go c.writeLoop()
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
		cond, text := conditionOf(err)
		if cond == "" {
			// The connection failed: nothing more can be said on it.
			c.log.Debug("c2s: connection lost", "err", err)
			c.hardClose()
			return
		}
		c.log.Debug("c2s: stream error", "condition", cond, "text", text, "err", err)
		c.closeStream(cond, text, false)
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
	<-c.writerDone
	if c.bound {
		last, ok := c.srv.router.Unbind(c)
		c.srv.bound.Add(-1)
		c.opts.Metrics.SessionEnded(c.tr.name())
		c.srv.handler.SessionEnded(c.srv.ctx, c, last, ok)
	}
	c.q.mu.Lock()
	cond := c.q.condition
	c.q.mu.Unlock()
	c.opts.Metrics.StreamClosed(c.tr.name(), cond)
	c.srv.untrack(c)
}

// closeStream queues the closing frames: our header if the stream has none
// yet (RFC 6120 §4.9.1.2), the stream error if cond is set, and the end of
// the stream. It reports whether this call closed the stream.
func (c *conn) closeStream(cond, text string, peerGone bool) bool {
	return c.closeStreamDrop(cond, text, peerGone, false)
}

// closeStreamDrop is closeStream that may first discard everything still
// queued (a slow reader gets its stream error without the backlog).
func (c *conn) closeStreamDrop(cond, text string, peerGone, drop bool) bool {
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
		q.items = append(q.items, appendStreamError(nil, c.tr.declareStreamNS(), cond, text))
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

// sendStanza queues a reply generated by the stream itself.
func (c *conn) sendStanza(st *xmlstream.Stanza) { c.send(c.tr.stanzaBytes(st)) }

// JID implements router.Session: the bound full JID (zero before bind).
func (c *conn) JID() jid.JID {
	if p := c.full.Load(); p != nil {
		return *p
	}
	return jid.JID{}
}

// Send implements router.Session: it queues st without blocking. A client
// whose queue is full is too slow: it is disconnected.
func (c *conn) Send(st *xmlstream.Stanza) bool {
	switch c.q.push(c.tr.stanzaBytes(st), false) {
	case pushed:
		c.opts.Metrics.StanzaOut(st.Name.Local)
		return true
	case overflow:
		c.opts.Metrics.SlowConsumer()
		c.log.Info("c2s: disconnecting slow reader", "jid", c.JID().String(), "queued_limit", c.opts.WriteQueueBytes)
		c.closeStreamDrop(condPolicyViolation, "Too much data queued: the client reads too slowly", false, true)
	}
	return false
}

// Close implements router.Session.
func (c *conn) Close(condition, text string) { c.closeStream(condition, text, false) }

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

var _ router.Session = (*conn)(nil)

// ctx is the context handed to the Handler.
func (c *conn) ctx() context.Context { return c.srv.ctx }
