package c2s

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/gavelhq/gavel/xmlstream"
)

// tcpTransport is a stream over TCP: plain with STARTTLS, or TLS from the
// first byte (XEP-0368).
type tcpTransport struct {
	kind   string
	raw    net.Conn    // the socket
	sc     *sendConn   // the sending side of raw, under TLS if any
	tlsCfg *tls.Config // STARTTLS config; nil once encrypted or if not offered
	pool   *bufferPool

	mu sync.Mutex
	w  net.Conn // what the writer writes to: sc, then the *tls.Conn

	// deadline is the write deadline last set on raw (writer only).
	deadline time.Time

	tlsConn *tls.Conn // reader side; set when encrypted
	ar      activityReader
	dec     *xmlstream.Decoder
}

// newTCPTransport wraps the socket sc sends on; tc is non-nil for direct
// TLS (running over sc, handshake done).
func newTCPTransport(kind string, sc *sendConn, tc *tls.Conn, starttls *tls.Config, lim xmlstream.Limits, pool *bufferPool) *tcpTransport {
	raw := sc.Conn
	t := &tcpTransport{kind: kind, raw: raw, sc: sc, pool: pool, w: sc}
	t.ar.r = raw
	if tc != nil {
		t.tlsConn, t.w, t.ar.r = tc, tc, tc
	} else {
		t.tlsCfg = starttls
	}
	sc.setNonBlocking(true)
	t.dec = xmlstream.NewDecoder(&t.ar, lim)
	return t
}

func (t *tcpTransport) setActivity(a activity) { t.ar.a = a }

func (t *tcpTransport) name() string { return t.kind }

func (t *tcpTransport) readOpen() (streamOpen, error) {
	h, err := t.dec.ReadHeader()
	if err != nil {
		return streamOpen{}, err
	}
	switch {
	case h.Name.Space != xmlstream.NSStream:
		return streamOpen{}, newStreamError(condInvalidNamespace, "The stream element must be in "+xmlstream.NSStream)
	case h.Name.Local != "stream":
		return streamOpen{}, newStreamError(condBadFormat, "The root element must be <stream:stream>")
	case h.RawPrefix == "":
		return streamOpen{}, newStreamError(condBadNamespacePrefix, "The stream element needs a namespace prefix")
	case h.Content != xmlstream.NSClient:
		return streamOpen{}, newStreamError(condInvalidNamespace, "The content namespace must be "+xmlstream.NSClient)
	}
	return streamOpen{to: h.Attr("to"), from: h.Attr("from"), version: h.Attr("version"), lang: h.Lang()}, nil
}

func (t *tcpTransport) next() (*xmlstream.Stanza, error) { return t.dec.Next() }

func (t *tcpTransport) restart() { t.dec.Reset(&t.ar) }

func (t *tcpTransport) drain() {
	for {
		_, err := t.dec.Next()
		if err == nil {
			continue
		}
		if errors.Is(err, xmlstream.ErrStreamEnd) || xmlstream.Condition(err) == "" {
			return
		}
		break // the XML is broken: swallow raw bytes until the peer closes
	}
	var buf [512]byte
	for {
		if _, err := t.ar.Read(buf[:]); err != nil {
			return
		}
	}
}

func (t *tcpTransport) declareStreamNS() bool { return false }

func (t *tcpTransport) appendOpen(buf []byte, h streamHeader) []byte {
	buf = append(buf, "<?xml version='1.0'?><stream:stream xmlns='"+xmlstream.NSClient+"' xmlns:stream='"+xmlstream.NSStream+"'"...)
	buf = h.appendAttrs(buf)
	return append(buf, '>')
}

func (t *tcpTransport) closeFrame() []byte { return []byte("</stream:stream>") }

// stanzaBytes: Raw as is; inside our stream jabber:client is the default.
func (t *tcpTransport) stanzaBytes(st *xmlstream.Stanza) []byte { return st.Raw }

func (t *tcpTransport) write(items [][]byte, deadline time.Time) error {
	t.mu.Lock()
	w := t.w
	t.mu.Unlock()
	// On the raw socket: TLS writes go through it, and a deadline that
	// expires mid-record leaves the TLS stream broken — the caller closes
	// the connection then anyway.
	if deadlineStale(t.deadline, deadline) {
		_ = t.raw.SetWriteDeadline(deadline)
		t.deadline = deadline
	}
	var err error
	switch len(items) {
	case 0: // only what writeNow left pending
	case 1:
		_, err = w.Write(items[0])
	default:
		b := t.pool.coalesce(items)
		_, err = w.Write(*b)
		t.pool.put(b)
	}
	if err != nil {
		return err
	}
	return t.sc.flush()
}

func (t *tcpTransport) writeNow(items [][]byte) (ok, flushed bool, err error) {
	if !t.sc.nonBlocking.Load() {
		return false, false, nil
	}
	t.mu.Lock()
	w := t.w
	t.mu.Unlock()
	if len(items) == 1 {
		_, err = w.Write(items[0])
	} else {
		b := t.pool.coalesce(items)
		_, err = w.Write(*b)
		t.pool.put(b)
	}
	if err != nil {
		return true, false, err
	}
	return true, !t.sc.hasPending(), nil
}

func (t *tcpTransport) canWriteNow() bool { return true }

func (t *tcpTransport) pending() bool { return t.sc.hasPending() }

func (t *tcpTransport) notifyPending(f func()) { t.sc.onPending = f }

// deadlineSlack is how far a write deadline may lag behind the one asked
// for: moving it costs a runtime timer update per write, more than the
// rest of a small write's bookkeeping, and a stalled reader is cut at most
// this much sooner than c2s.write_timeout.
const deadlineSlack = time.Second

// deadlineStale reports whether the deadline in effect (set) must move
// to want.
func deadlineStale(set, want time.Time) bool {
	if set.IsZero() || want.IsZero() {
		return !set.Equal(want)
	}
	return want.Sub(set) >= deadlineSlack
}

func (t *tcpTransport) closeWrite() {
	if cw, ok := t.raw.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
}

func (t *tcpTransport) closeNow() { _ = t.raw.Close() }

func (t *tcpTransport) tlsState() *tls.ConnectionState {
	if t.tlsConn == nil {
		return nil
	}
	cs := t.tlsConn.ConnectionState()
	return &cs
}

func (t *tcpTransport) secure() bool { return t.tlsConn != nil }

func (t *tcpTransport) canStartTLS() bool { return t.tlsCfg != nil && t.tlsConn == nil }

func (t *tcpTransport) startTLS() error {
	// The handshake's flights must go out before it can go on: blocking
	// writes until it is done (the writer flushed <proceed/> already).
	t.sc.setNonBlocking(false)
	tc := tls.Server(t.sc, t.tlsCfg)
	t.mu.Lock()
	t.w = tc
	t.mu.Unlock()
	// The handshake runs on a throw-away goroutine so its deep stack does
	// not stay with the long-lived reader goroutine (perf.md §3.3).
	errc := make(chan error, 1)
	go func() { errc <- tc.Handshake() }()
	if err := <-errc; err != nil {
		return err
	}
	t.tlsConn, t.tlsCfg = tc, nil
	t.sc.setNonBlocking(true)
	t.ar.r = tc
	t.dec.Reset(&t.ar)
	return nil
}

var _ io.Reader = (*activityReader)(nil)
