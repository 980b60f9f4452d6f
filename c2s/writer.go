package c2s

import (
	"context"
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gavelhq/gavel/router"
)

// outQueue is the bounded queue between the producers of one connection
// (its reader, the router's fan-out, timers) and its writer goroutine. It
// holds byte slices, never copies them (a fanned-out stanza's bytes are
// shared by every recipient), and counts their length against limit.
type outQueue struct {
	mu    sync.Mutex
	items [][]byte
	acks  []chan struct{} // closed once everything queued before them is written
	bytes int             // queued, not yet taken
	// inflight is the size of the batch the writer is writing: it still
	// counts against limit, so a reader that stops reading is cut once
	// limit bytes wait for it in all (the write deadline cuts it even if
	// nothing more is queued).
	inflight int
	limit    int

	// The writer goroutine runs only while there is output, and lingers
	// writerLinger after it (a busy room's occupant keeps its writer): an
	// idle connection keeps no writer (and no writer stack) at all.
	// running says one is under way; wake tells a running one there is
	// more; start launches one (set by the conn; nil in unit tests);
	// writers counts them, for the end of the connection; stopped: the
	// connection ended, no writer starts any more; sleeping: the running
	// writer found the queue empty and waits for a poke.
	running  bool
	sleeping bool
	// direct writes stanzas (one, or a batch's share) on the producer's
	// goroutine when the connection is idle (transport.writeNow; nil:
	// never, as on WebSocket); fail ends the
	// connection after a failed direct write, as a failed writer does.
	direct func(items [][]byte) (ok, flushed bool, err error)
	fail   func()
	// one is the item slice of a one-stanza direct write (turn holder
	// only: no allocation per write).
	one [1][]byte
	// held: stanzas pushed for a router.Batch wait in items for Flush.
	held    bool
	wake    chan struct{} // capacity 1
	stopped bool
	start   func()
	writers sync.WaitGroup

	// closed: the closing frames are queued; nothing more is accepted.
	closed bool
	// peerGone: the peer closed first; cut the connection once flushed.
	peerGone bool
	// headerSent: our stream header (or <open/>) for the current stream
	// is queued, so a stream error needs no header of its own.
	headerSent bool
	// domain to put in a header we must send before a stream error.
	domain string
	// condition of the stream error that closed the stream ("" if none).
	condition string
	// wantAck: end the next batch with a XEP-0198 <r/>, so the request
	// travels in the same write as the stanzas it covers.
	wantAck bool
}

// writerLinger is how long a writer with nothing to write waits for more
// before it ends.
const writerLinger = 250 * time.Millisecond

func newOutQueue(limit int) *outQueue {
	return &outQueue{limit: limit, wake: make(chan struct{}, 1)}
}

// signal wakes the running writer, or starts one if there is output.
func (q *outQueue) signal() {
	q.mu.Lock()
	k := q.kickLocked()
	q.mu.Unlock()
	q.kick(k)
}

// kickAction is what a producer does for the writer after queueing.
type kickAction int

const (
	kickNone  kickAction = iota
	kickStart            // launch a writer
	kickWake             // wake the sleeping writer
)

// kickLocked decides, under q.mu, whether the writer needs starting or
// waking. A writer that is busy writing finds the new output on its next
// take, so it is not woken: one channel send per idle-to-busy turn, not
// per stanza.
func (q *outQueue) kickLocked() kickAction {
	switch {
	case q.running:
		if q.sleeping {
			q.sleeping = false
			return kickWake
		}
	case q.start != nil && !q.stopped && (len(q.items) > 0 || q.closed):
		q.running = true
		q.writers.Add(1) // under the lock: stop's Wait sees it
		return kickStart
	}
	return kickNone
}

// kick carries out kickLocked's decision, after the lock is released.
func (q *outQueue) kick(k kickAction) {
	switch k {
	case kickStart:
		q.start()
	case kickWake:
		q.poke()
	}
}

// poke leaves a wake-up token for the writer (capacity 1: one suffices).
func (q *outQueue) poke() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// stop keeps any writer from starting again and waits for the one running.
func (q *outQueue) stop() {
	q.mu.Lock()
	q.stopped = true
	q.mu.Unlock()
	q.writers.Wait()
}

// takeOrIdle is take for the writer, which first releases the batch it
// wrote (wrote). idle reports there is nothing to write: the writer then
// sleeps until poked, or with retire ends its turn (running goes false in
// the same critical section, so a push right after starts a new writer).
func (q *outQueue) takeOrIdle(retire, wrote bool) (items [][]byte, acks []chan struct{}, closed, peerGone, idle bool) {
	q.mu.Lock()
	if wrote {
		q.inflight = 0
	}
	if len(q.items) == 0 && len(q.acks) == 0 && !q.closed {
		if retire {
			q.running = false
		} else {
			q.sleeping = true
		}
		q.mu.Unlock()
		return nil, nil, false, false, true
	}
	q.sleeping = false
	items, acks, closed, peerGone = q.takeLocked()
	q.mu.Unlock()
	return items, acks, closed, peerGone, false
}

// pushResult is what push did with the bytes.
type pushResult int

const (
	pushed   pushResult = iota
	rejected            // the stream is closing
	overflow            // the limit was hit: the caller disconnects the slow reader
)

// push queues b. Control data (negotiation, stream errors) passes force so
// it is never refused for size; stanzas for a bound client are bounded.
func (q *outQueue) push(b []byte, force bool) pushResult {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return rejected
	}
	if !force && q.bytes+q.inflight+len(b) > q.limit {
		q.mu.Unlock()
		return overflow
	}
	if !force && q.idleLocked() {
		return q.writeDirectOne(b)
	}
	q.items = append(q.items, b)
	q.bytes += len(b)
	k := q.kickLocked()
	q.mu.Unlock()
	q.kick(k)
	return pushed
}

// pushStanza is push for a stanza of a bound client; ack asks for an <r/>
// after the batch it ends up in.
func (q *outQueue) pushStanza(b []byte, ack bool) pushResult {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return rejected
	}
	if q.bytes+q.inflight+len(b) > q.limit {
		q.mu.Unlock()
		return overflow
	}
	if !ack && q.idleLocked() {
		return q.writeDirectOne(b)
	}
	q.items = append(q.items, b)
	q.bytes += len(b)
	q.wantAck = q.wantAck || ack
	k := q.kickLocked()
	q.mu.Unlock()
	q.kick(k)
	return pushed
}

// idleLocked reports that b may be written directly: the transport can,
// no writer holds the turn, nothing is queued before it.
func (q *outQueue) idleLocked() bool {
	return q.direct != nil && !q.running && !q.stopped && !q.closed &&
		len(q.items) == 0 && len(q.acks) == 0
}

// writeDirectOne is writeDirect for the single stanza b.
func (q *outQueue) writeDirectOne(b []byte) pushResult {
	q.one[0] = b
	return q.writeDirect(q.one[:], len(b))
}

// writeDirect writes items (n bytes, in one write) on the calling
// goroutine, which takes the writer's turn for one write that never waits
// (see sendConn). Called with q.mu held, the connection idle and items not
// queued; returns with q.mu released. What the socket did not take, and
// anything queued meanwhile, is handed to a writer goroutine with the turn.
func (q *outQueue) writeDirect(items [][]byte, n int) pushResult {
	q.running = true
	q.writers.Add(1) // as a writer: stop waits for this write
	q.inflight += n
	q.mu.Unlock()
	ok, flushed, err := q.direct(items)
	q.mu.Lock()
	q.one[0] = nil
	switch {
	case err != nil:
		// The connection failed: keep the turn so no writer starts, as
		// after a writer's failed write.
		q.inflight = 0
		q.mu.Unlock()
		q.writers.Done()
		q.fail()
		return pushed
	case !ok: // the transport cannot right now: queue them after all, first
		q.inflight -= n
		q.items = append(append(make([][]byte, 0, len(items)+len(q.items)), items...), q.items...)
		q.bytes += n
	case flushed:
		q.inflight -= n
	}
	if (flushed && len(q.items) == 0 && len(q.acks) == 0 && !q.closed) || q.stopped {
		q.running = false
		q.mu.Unlock()
		q.writers.Done()
		return pushed
	}
	// Bytes pending or output queued during the write: a writer takes
	// the turn (and the writers count) over.
	q.mu.Unlock()
	q.start()
	return pushed
}

// pushHeld is pushStanza for a router.Batch: b is queued but not written
// until Flush (or until another producer's push wakes the writer, which
// takes everything). first reports that the queue joined the batch with
// this push: the caller then holds q in the batch.
func (q *outQueue) pushHeld(b []byte, ack bool) (r pushResult, first bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return rejected, false
	}
	if q.bytes+q.inflight+len(b) > q.limit {
		return overflow, false
	}
	q.items = append(q.items, b)
	q.bytes += len(b)
	q.wantAck = q.wantAck || ack
	first, q.held = !q.held, true
	return pushed, first
}

// pushStanza queues a bound client's stanza: held for b's Flush when b is
// set, else written directly or by the writer.
func (c *conn) pushStanza(bs []byte, ack bool, b *router.Batch) pushResult {
	if b == nil {
		return c.q.pushStanza(bs, ack)
	}
	r, first := c.q.pushHeld(bs, ack)
	if first {
		b.Hold(c.q)
	}
	return r
}

// Flush implements router.Flusher: what pushHeld queued goes out, in one
// direct write when the connection is idle, else by the writer.
func (q *outQueue) Flush() {
	q.mu.Lock()
	q.held = false
	if len(q.items) > 0 && !q.wantAck && q.direct != nil && !q.running && !q.stopped && !q.closed && len(q.acks) == 0 {
		items, n := q.items, q.bytes
		q.items, q.bytes = nil, 0
		q.writeDirect(items, n)
		return
	}
	k := q.kickLocked()
	q.mu.Unlock()
	q.kick(k)
}

// kickPending makes sure a writer will flush output that a write left
// pending: the running one is poked (whether or not it sleeps yet, so the
// token waits for it), or one is started.
func (q *outQueue) kickPending() {
	q.mu.Lock()
	k := kickNone
	switch {
	case q.running:
		k = kickWake
	case q.start != nil && !q.stopped:
		q.running = true
		q.writers.Add(1)
		k = kickStart
	}
	q.mu.Unlock()
	q.kick(k)
}

// pushFlush queues b and returns a channel closed once b has been written
// (nil if the stream is closing).
func (q *outQueue) pushFlush(b []byte) chan struct{} {
	ack := make(chan struct{})
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return nil
	}
	q.items = append(q.items, b)
	q.bytes += len(b)
	q.acks = append(q.acks, ack)
	k := q.kickLocked()
	q.mu.Unlock()
	q.kick(k)
	return ack
}

// take returns everything queued. closed reports that the closing frames
// are among (or were before) what was returned.
func (q *outQueue) take() (items [][]byte, acks []chan struct{}, closed, peerGone bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.takeLocked()
}

func (q *outQueue) takeLocked() (items [][]byte, acks []chan struct{}, closed, peerGone bool) {
	items, acks = q.items, q.acks
	q.inflight += q.bytes
	q.items, q.acks, q.bytes = nil, nil, 0
	closed, peerGone = q.closed, q.peerGone
	if q.wantAck && !closed && len(items) > 0 {
		items = append(items, smR)
	}
	q.wantAck = false
	return items, acks, closed, peerGone
}

// writeLoop is the connection's writer goroutine, started by signal when
// output is queued: it drains the queue, handing each batch to the
// transport in one call (one conn.Write for TCP: one TLS record and one
// syscall for everything pending), sleeps while the queue is empty, and
// ends after a linger tick (every writerLinger) on which it had written
// nothing. After a failed write or the closing frames it ends with running
// still set, so no writer starts again.
//
// It sleeps on one channel, not a select over wake, done and a timer:
// hardClose and the linger tick poke the same channel, so a fanned-out
// stanza costs the writer a plain receive and no timer reset.
func (c *conn) writeLoop() {
	q := c.q
	defer q.writers.Done()
	var tick atomic.Bool
	linger := time.AfterFunc(writerLinger, func() {
		tick.Store(true)
		q.poke()
	})
	defer linger.Stop()
	retire, wrote, active := false, false, false
	for {
		if c.tr.pending() {
			// Left by a direct write or a TLS message of the reader side.
			if err := c.tr.write(nil, c.writeDeadline()); err != nil {
				q.written()
				c.writeFailed(err, nil)
				return
			}
			wrote, active, retire = true, true, false
		}
		items, acks, closed, peerGone, idle := q.takeOrIdle(retire, wrote)
		wrote = false
		if idle {
			if retire {
				return
			}
			<-q.wake
			select {
			case <-c.done:
				return // finish stops the queue and releases what waits
			default:
			}
			if tick.Swap(false) {
				if !active {
					retire = true // a quiet tick: one last look, then end
					continue
				}
				active = false
				linger.Reset(writerLinger)
			}
			continue
		}
		retire = false
		if len(items) > 0 {
			err := c.tr.write(items, c.writeDeadline())
			wrote, active = true, true
			if err != nil {
				q.written()
				c.writeFailed(err, acks)
				return
			}
		}
		closeAll(acks)
		if closed {
			// The closing frames are out: half-close so the peer sees the
			// end, then let the reader (or the grace timer) cut the rest.
			c.tr.closeWrite()
			close(c.flushed)
			if peerGone {
				c.hardClose()
			}
			return
		}
	}
}

// writeDeadline is the deadline for a write starting now (zero: none).
func (c *conn) writeDeadline() time.Time {
	if c.opts.WriteTimeout <= 0 {
		return time.Time{}
	}
	return time.Now().Add(c.opts.WriteTimeout)
}

// writeFailed ends the connection after a failed write; a write that ran
// into its deadline marks a stalled reader. acks: those of the batch.
func (c *conn) writeFailed(err error, acks []chan struct{}) {
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		c.stalledReader()
	}
	c.hardClose()
	closeAll(acks)
	c.releasePendingAcks()
}

// written releases the in-flight count of a batch whose write failed (a
// successful one is released by the next takeOrIdle).
func (q *outQueue) written() {
	q.mu.Lock()
	q.inflight = 0
	q.mu.Unlock()
}

func closeAll(acks []chan struct{}) {
	for _, a := range acks {
		close(a)
	}
}

// releasePendingAcks wakes whoever waits on a flush of a dead connection.
func (c *conn) releasePendingAcks() {
	c.q.mu.Lock()
	acks := c.q.acks
	c.q.acks = nil
	c.q.mu.Unlock()
	closeAll(acks)
}

// bufferPool holds the buffers batches are coalesced into; a buffer lives
// only for one write, so an idle connection holds none. One per Server.
type bufferPool struct{ p sync.Pool }

// maxPooledBuf keeps one huge batch from pinning memory in the pool.
const maxPooledBuf = 64 << 10

// coalesce appends items into one pooled buffer; give it back with put.
func (bp *bufferPool) coalesce(items [][]byte) *[]byte {
	b, _ := bp.p.Get().(*[]byte)
	if b == nil {
		b = new([]byte)
	}
	buf := (*b)[:0]
	for _, it := range items {
		buf = append(buf, it...)
	}
	*b = buf
	return b
}

func (bp *bufferPool) put(b *[]byte) {
	if cap(*b) > maxPooledBuf {
		return
	}
	*b = (*b)[:0]
	bp.p.Put(b)
}
