package c2s

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
)

// sendConn sits between a TCP stream's TLS layer (or the plain stream) and
// the socket, on the sending side. In non-blocking mode every write first
// offers its bytes to the kernel without waiting; what the socket does not
// take is kept, in order, as pending, and later writes queue behind it.
// Only the connection's writer goroutine waits for the socket (flush, under
// the write deadline).
//
// This is what lets a producer — a room fanning out a message, a sender's
// reader — write a stanza to an idle connection itself (outQueue's direct
// write): one TLS record and one syscall on its own goroutine, instead of
// waking the connection's writer goroutine for it. On a one-core server
// that hand-off (a channel send, a park and a reschedule) was a fifth of
// the cost of each fanned-out copy. A client that stops reading cannot
// stall the producer: its bytes land in pending and the writer takes over.
type sendConn struct {
	net.Conn // the socket: reads, deadlines, Close
	raw      syscall.RawConn

	// nonBlocking: writes do not wait (off during TLS handshakes, whose
	// flights must go out before the handshake goes on).
	nonBlocking atomic.Bool
	// onPending is called when a write leaves bytes pending (the writer
	// must be woken to flush them); nil: nobody to tell.
	onPending func()

	mu      sync.Mutex
	pending []byte

	// The non-blocking write's arguments and results, under mu: the
	// function given to RawConn.Control is built once (writeFD), so a
	// write allocates no closure.
	wp      []byte
	wn      int
	werr    error
	writeFD func(fd uintptr)
}

// newSendConn wraps c; without a raw descriptor (not a socket: tests with
// net.Pipe) every write blocks as on c itself.
func newSendConn(c net.Conn) *sendConn {
	sc := &sendConn{Conn: c}
	sc.writeFD = sc.writeLocked
	if sysc, ok := c.(syscall.Conn); ok {
		if raw, err := sysc.SyscallConn(); err == nil {
			sc.raw = raw
		}
	}
	return sc
}

// setNonBlocking switches the mode (see nonBlocking); it has no effect
// without a raw descriptor.
func (sc *sendConn) setNonBlocking(on bool) {
	sc.nonBlocking.Store(on && sc.raw != nil)
}

// Write implements net.Conn. In non-blocking mode it never waits: it
// returns len(p) once the bytes are either in the kernel or pending.
func (sc *sendConn) Write(p []byte) (int, error) {
	if !sc.nonBlocking.Load() {
		if err := sc.flush(); err != nil {
			return 0, err
		}
		return sc.Conn.Write(p)
	}
	sc.mu.Lock()
	if len(sc.pending) > 0 {
		sc.pending = append(sc.pending, p...)
		sc.mu.Unlock()
		return len(p), nil
	}
	n, err := sc.tryWrite(p)
	if err != nil {
		sc.mu.Unlock()
		return n, err
	}
	left := n < len(p)
	if left {
		sc.pending = append(sc.pending[:0], p[n:]...)
	}
	sc.mu.Unlock()
	if left && sc.onPending != nil {
		sc.onPending()
	}
	return len(p), nil
}

// tryWrite writes what the socket takes now (EAGAIN is not an error).
// Called with mu held.
func (sc *sendConn) tryWrite(p []byte) (int, error) {
	sc.wp, sc.wn, sc.werr = p, 0, nil
	// Control, not RawConn.Write: that one fails once the write deadline
	// has passed (the writer's deadline outlives its write) and would
	// touch the poller's readiness state. mu serializes this with flush,
	// which writes only while pending is non-empty.
	err := sc.raw.Control(sc.writeFD)
	n, werr := sc.wn, sc.werr
	sc.wp, sc.werr = nil, nil
	if err == nil {
		err = werr
	}
	if err != nil {
		return n, &net.OpError{Op: "write", Net: "tcp", Err: err}
	}
	return n, nil
}

// writeLocked is tryWrite's body, run by RawConn.Control on the socket.
func (sc *sendConn) writeLocked(fd uintptr) {
	p := sc.wp
	for sc.wn < len(p) {
		m, e := syscall.Write(int(fd), p[sc.wn:])
		switch {
		case e == syscall.EINTR:
			continue
		case e == syscall.EAGAIN:
			return // the rest is for flush, which may wait
		case e != nil:
			sc.werr = e
			return
		case m <= 0:
			sc.werr = io.ErrShortWrite
			return
		}
		sc.wn += m
	}
}

// hasPending reports bytes that still wait for flush.
func (sc *sendConn) hasPending() bool {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return len(sc.pending) > 0
}

// flush writes what is pending, waiting for the socket (bounded by the
// write deadline set on the conn). Writes that arrive meanwhile append
// behind it and go out in the same loop. Writer goroutine (or a blocking
// write) only.
func (sc *sendConn) flush() error {
	for {
		sc.mu.Lock()
		buf := sc.pending
		sc.mu.Unlock()
		if len(buf) == 0 {
			return nil
		}
		// Without the lock: appends go past len(buf), which is not read.
		n, err := sc.Conn.Write(buf)
		sc.mu.Lock()
		sc.pending = sc.pending[n:]
		if len(sc.pending) == 0 {
			sc.pending = nil // an idle connection holds no buffer
		}
		sc.mu.Unlock()
		if err != nil {
			return err
		}
	}
}
