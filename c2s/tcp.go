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
	raw    net.Conn
	tlsCfg *tls.Config // STARTTLS config; nil once encrypted or if not offered
	pool   *bufferPool

	mu sync.Mutex
	w  net.Conn // what the writer writes to: raw, then the *tls.Conn

	tlsConn *tls.Conn // reader side; set when encrypted
	ar      activityReader
	dec     *xmlstream.Decoder
}

// newTCPTransport wraps conn; tc is non-nil for direct TLS (handshake done).
func newTCPTransport(kind string, raw net.Conn, tc *tls.Conn, starttls *tls.Config, lim xmlstream.Limits, pool *bufferPool) *tcpTransport {
	t := &tcpTransport{kind: kind, raw: raw, pool: pool, w: raw}
	t.ar.r = raw
	if tc != nil {
		t.tlsConn, t.w, t.ar.r = tc, tc, tc
	} else {
		t.tlsCfg = starttls
	}
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
	_ = t.raw.SetWriteDeadline(deadline)
	if len(items) == 1 {
		_, err := w.Write(items[0])
		return err
	}
	b := t.pool.coalesce(items)
	_, err := w.Write(*b)
	t.pool.put(b)
	return err
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
	tc := tls.Server(t.raw, t.tlsCfg)
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
	t.ar.r = tc
	t.dec.Reset(&t.ar)
	return nil
}

var _ io.Reader = (*activityReader)(nil)
