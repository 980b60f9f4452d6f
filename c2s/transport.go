package c2s

import (
	"crypto/tls"
	"io"
	"time"

	"github.com/gavelhq/gavel/xmlstream"
)

// streamOpen is the client's stream opening: the <stream:stream> header on
// TCP, the <open/> element on WebSocket.
type streamOpen struct {
	to, from, version, lang string
}

// transport is everything that differs between TCP and WebSocket streams;
// negotiation and the session are shared. The reader goroutine calls the
// read side, the writer goroutine write and closeWrite; closeNow may be
// called from anywhere.
type transport interface {
	// name for metrics and logs.
	name() string
	// readOpen reads the client's opening of a (restarted) stream; header
	// problems come back as *streamError.
	readOpen() (streamOpen, error)
	// next returns the next top-level element; xmlstream.ErrStreamEnd when
	// the client closed the stream.
	next() (*xmlstream.Stanza, error)
	// restart prepares for a new stream opening after SASL success.
	restart()
	// drain reads and discards input until the peer closes or fails.
	drain()

	// declareStreamNS: features and errors must declare the stream prefix.
	declareStreamNS() bool
	appendOpen(buf []byte, h streamHeader) []byte
	closeFrame() []byte
	// stanzaBytes returns what to queue for st.
	stanzaBytes(st *xmlstream.Stanza) []byte

	// write sends a batch, and first anything pending (writer goroutine
	// only); a write that cannot finish by deadline fails (zero: no
	// deadline).
	write(items [][]byte, deadline time.Time) error
	// writeNow writes items (in one write) on the caller's goroutine
	// without waiting for the peer, for a caller holding the writer's turn (outQueue's direct
	// write). ok false: the transport cannot now (nothing was written;
	// queue them). flushed false: part of them (or of a TLS record) is pending
	// and the writer must flush it (write with no items).
	writeNow(items [][]byte) (ok, flushed bool, err error)
	// canWriteNow: writeNow is supported at all (not on WebSocket).
	canWriteNow() bool
	// pending reports output that waits for the writer to flush it.
	pending() bool
	// notifyPending sets what to call when a write leaves output pending
	// (a TLS message the reader side sends, for one).
	notifyPending(func())
	// closeWrite signals the end of our output once the closing frames
	// are written (writer goroutine only).
	closeWrite()
	// closeNow tears the connection down; it unblocks read and write.
	closeNow()

	// tlsState is the TLS state once encrypted by us (nil otherwise).
	tlsState() *tls.ConnectionState
	// secure: the stream is encrypted (by us or a trusted proxy).
	secure() bool
	// canStartTLS: STARTTLS may be offered now.
	canStartTLS() bool
	// startTLS upgrades the connection after <proceed/> was written and
	// resets the decoder for the new stream.
	startTLS() error
}

// activity is what the read side reports to the connection: bytes read
// (for liveness) and throttling (may block; false if the conn died).
type activity interface {
	readBytes(n int) bool
}

// activityReader wraps the network reader of a TCP stream.
type activityReader struct {
	r io.Reader
	a activity
}

func (ar *activityReader) Read(p []byte) (int, error) {
	n, err := ar.r.Read(p)
	if n > 0 && !ar.a.readBytes(n) && err == nil {
		err = io.ErrClosedPipe
	}
	return n, err
}
