package c2s

import (
	"context"
	"errors"
	"os"
	"sync"
	"time"
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
	// connection ended, no writer starts any more.
	running bool
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
	running := q.running
	start := q.start != nil && !running && !q.stopped && (len(q.items) > 0 || q.closed)
	if start {
		q.running = true
		q.writers.Add(1) // under the lock: stop's Wait sees it
	}
	q.mu.Unlock()
	switch {
	case start:
		q.start()
	case running:
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
}

// stop keeps any writer from starting again and waits for the one running.
func (q *outQueue) stop() {
	q.mu.Lock()
	q.stopped = true
	q.mu.Unlock()
	q.writers.Wait()
}

// takeOrIdle is take for the writer; idle reports there is nothing to
// write, and with retire it also ends the writer's turn (running goes
// false in the same critical section, so a push right after starts a new
// writer).
func (q *outQueue) takeOrIdle(retire bool) (items [][]byte, acks []chan struct{}, closed, peerGone, idle bool) {
	q.mu.Lock()
	if len(q.items) == 0 && len(q.acks) == 0 && !q.closed {
		if retire {
			q.running = false
		}
		q.mu.Unlock()
		return nil, nil, false, false, true
	}
	q.mu.Unlock()
	items, acks, closed, peerGone = q.take()
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
	q.items = append(q.items, b)
	q.bytes += len(b)
	q.mu.Unlock()
	q.signal()
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
	q.items = append(q.items, b)
	q.bytes += len(b)
	q.wantAck = q.wantAck || ack
	q.mu.Unlock()
	q.signal()
	return pushed
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
	q.mu.Unlock()
	q.signal()
	return ack
}

// take returns everything queued. closed reports that the closing frames
// are among (or were before) what was returned.
func (q *outQueue) take() (items [][]byte, acks []chan struct{}, closed, peerGone bool) {
	q.mu.Lock()
	items, acks = q.items, q.acks
	q.inflight += q.bytes
	q.items, q.acks, q.bytes = nil, nil, 0
	closed, peerGone = q.closed, q.peerGone
	if q.wantAck && !closed && len(items) > 0 {
		items = append(items, smR)
	}
	q.wantAck = false
	q.mu.Unlock()
	return items, acks, closed, peerGone
}

// written releases the batch take returned once it is written.
func (q *outQueue) written() {
	q.mu.Lock()
	q.inflight = 0
	q.mu.Unlock()
}

// writeLoop is the connection's writer goroutine, started by signal when
// output is queued: it drains the queue, handing each batch to the
// transport in one call (one conn.Write for TCP: one TLS record and one
// syscall for everything pending), and ends once the queue is empty. After
// a failed write or the closing frames it ends with running still set, so
// no writer starts again.
func (c *conn) writeLoop() {
	defer c.q.writers.Done()
	linger := time.NewTimer(writerLinger)
	defer linger.Stop()
	retire := false
	for {
		items, acks, closed, peerGone, idle := c.q.takeOrIdle(retire)
		if idle {
			if retire {
				return
			}
			linger.Reset(writerLinger)
			select {
			case <-c.q.wake:
			case <-linger.C:
				retire = true // one last look, then end
			case <-c.done:
				return // finish stops the queue and releases what waits
			}
			continue
		}
		retire = false
		if len(items) > 0 {
			var deadline time.Time
			if c.opts.WriteTimeout > 0 {
				deadline = time.Now().Add(c.opts.WriteTimeout)
			}
			err := c.tr.write(items, deadline)
			c.q.written()
			if err != nil {
				if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
					c.stalledReader()
				}
				c.hardClose()
				closeAll(acks)
				c.releasePendingAcks()
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
