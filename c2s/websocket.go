package c2s

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/gavelhq/gavel/xmlstream"
)

// wsSubprotocol is the WebSocket subprotocol of RFC 7395.
const wsSubprotocol = "xmpp"

// WebSocketHandler returns the RFC 7395 endpoint; the server package mounts
// it (at /xmpp-websocket). The client must offer the "xmpp" subprotocol:
// without it the upgrade is refused with 400, since a connection without the
// subprotocol could not carry XMPP framing (§3.2). The client address is the
// TCP peer's; forwarding headers are not trusted.
func (s *Server) WebSocketHandler() http.Handler {
	accept := &websocket.AcceptOptions{
		Subprotocols:   []string{wsSubprotocol},
		OriginPatterns: slices.DeleteFunc(slices.Clone(s.opts.WebSocketOrigins), func(p string) bool { return p == "*" }),
	}
	accept.InsecureSkipVerify = slices.Contains(s.opts.WebSocketOrigins, "*")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.isClosed() {
			http.Error(w, "server shutting down", http.StatusServiceUnavailable)
			return
		}
		if !offersSubprotocol(r, wsSubprotocol) {
			http.Error(w, "the WebSocket subprotocol \"xmpp\" is required (RFC 7395)", http.StatusBadRequest)
			return
		}
		ws, err := websocket.Accept(w, r, accept)
		if err != nil {
			return // Accept has answered
		}
		// One byte over the limit is how we tell an oversized stanza apart
		// (policy-violation) without the library cutting the connection.
		ws.SetReadLimit(int64(s.opts.Limits.MaxStanzaBytes) + 1)
		ctx, cancel := context.WithCancel(context.Background())
		tr := &wsTransport{ws: ws, ctx: ctx, cancel: cancel, lim: s.opts.Limits,
			encrypted: r.TLS != nil || s.opts.WebSocketSecure}
		if r.TLS != nil {
			cs := *r.TLS
			tr.tls = &cs
		}
		c := s.newConn(tr, remoteAddr(addrString(r.RemoteAddr)))
		tr.act = c
		if !s.track(c) {
			tr.closeNow()
			return
		}
		c.serve()
	})
}

func offersSubprotocol(r *http.Request, proto string) bool {
	for _, h := range r.Header.Values("Sec-WebSocket-Protocol") {
		for p := range strings.SplitSeq(h, ",") {
			if strings.TrimSpace(p) == proto {
				return true
			}
		}
	}
	return false
}

// wsTransport frames a stream over WebSocket: one complete element per text
// message in both directions, <open/> and <close/> instead of the stream tags.
type wsTransport struct {
	ws        *websocket.Conn
	ctx       context.Context
	cancel    context.CancelFunc
	lim       xmlstream.Limits
	act       activity
	encrypted bool
	tls       *tls.ConnectionState
	// broken: a message was left half-read (oversized); the framing is
	// lost, so nothing more may be read.
	broken bool
}

func (t *wsTransport) name() string { return TransportWebSocket }

// message reads the next text message, skipping whitespace-only ones.
func (t *wsTransport) message() ([]byte, error) {
	for {
		if t.broken {
			return nil, io.ErrUnexpectedEOF
		}
		typ, r, err := t.ws.Reader(t.ctx)
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(io.LimitReader(r, int64(t.lim.MaxStanzaBytes)+1))
		if err != nil {
			return nil, err
		}
		if !t.act.readBytes(len(b)) {
			return nil, io.ErrClosedPipe
		}
		if len(b) > t.lim.MaxStanzaBytes {
			t.broken = true
			return nil, newStreamError(condPolicyViolation, "Stanza too large")
		}
		if typ != websocket.MessageText {
			return nil, newStreamError(condBadFormat, "XMPP over WebSocket uses text messages")
		}
		if len(bytes.TrimSpace(b)) > 0 {
			return b, nil
		}
	}
}

func (t *wsTransport) readOpen() (streamOpen, error) {
	b, err := t.message()
	if err != nil {
		return streamOpen{}, err
	}
	el, err := xmlstream.ParseElement(b, "", t.lim)
	if err != nil {
		return streamOpen{}, err
	}
	switch {
	case el.Name.Local != "open":
		return streamOpen{}, newStreamError(condBadFormat, "The stream opens with <open xmlns='"+xmlstream.NSFraming+"'/>")
	case el.Name.Space != xmlstream.NSFraming:
		return streamOpen{}, newStreamError(condInvalidNamespace, "<open/> must be in "+xmlstream.NSFraming)
	}
	return streamOpen{to: el.Attr("to"), from: el.Attr("from"), version: el.Attr("version"), lang: el.Lang()}, nil
}

// next parses one message. Stanzas are read with jabber:client as the
// namespace in scope, so a client that omits xmlns (as it may on TCP) is
// understood; one that declares it keeps its declaration.
func (t *wsTransport) next() (*xmlstream.Stanza, error) {
	b, err := t.message()
	if err != nil {
		return nil, err
	}
	st, err := xmlstream.ParseStanza(b, xmlstream.NSClient, t.lim)
	if err != nil {
		return nil, err
	}
	if st.Name == (xmlstream.Name{Space: xmlstream.NSFraming, Local: "close"}) {
		return nil, xmlstream.ErrStreamEnd
	}
	return st, nil
}

func (t *wsTransport) restart() {}

func (t *wsTransport) drain() {
	for {
		b, err := t.message()
		if err != nil {
			return
		}
		if el, err := xmlstream.ParseElement(b, "", t.lim); err == nil &&
			el.Name == (xmlstream.Name{Space: xmlstream.NSFraming, Local: "close"}) {
			return
		}
	}
}

func (t *wsTransport) declareStreamNS() bool { return true }

func (t *wsTransport) appendOpen(buf []byte, h streamHeader) []byte {
	buf = append(buf, "<open xmlns='"+xmlstream.NSFraming+"'"...)
	buf = h.appendAttrs(buf)
	return append(buf, "/>"...)
}

func (t *wsTransport) closeFrame() []byte {
	return []byte("<close xmlns='" + xmlstream.NSFraming + "'/>")
}

// stanzaBytes gives the stanza its own xmlns (RFC 7395 §3.4: each message
// is a standalone document) unless Raw already declares one.
func (t *wsTransport) stanzaBytes(st *xmlstream.Stanza) []byte {
	if hasDefaultNS(st.Raw) {
		return st.Raw
	}
	i := bytes.IndexByte(st.Raw, '<') + 1 + len(st.Name.Local)
	if i <= len(st.Name.Local) || i > len(st.Raw) {
		return st.Raw
	}
	out := make([]byte, 0, len(st.Raw)+len(xmlstream.NSClient)+9)
	out = append(out, st.Raw[:i]...)
	out = append(out, " xmlns='"+xmlstream.NSClient+"'"...)
	return append(out, st.Raw[i:]...)
}

// hasDefaultNS reports whether the first start tag of raw declares xmlns.
func hasDefaultNS(raw []byte) bool {
	end := bytes.IndexByte(raw, '>')
	if end < 0 {
		end = len(raw)
	}
	tag := raw[:end]
	for i := 0; ; {
		j := bytes.Index(tag[i:], []byte("xmlns"))
		if j < 0 {
			return false
		}
		k := i + j + len("xmlns")
		if i+j > 0 && isXMLSpace(tag[i+j-1]) {
			for k < len(tag) && isXMLSpace(tag[k]) {
				k++
			}
			if k < len(tag) && tag[k] == '=' {
				return true
			}
		}
		i = i + j + len("xmlns")
	}
}

func isXMLSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }

// write sends each element as its own message (§3.3.3: never batched).
func (t *wsTransport) write(items [][]byte, deadline time.Time) error {
	ctx := t.ctx
	if !deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(t.ctx, deadline)
		defer cancel()
	}
	for _, b := range items {
		if err := t.ws.Write(ctx, websocket.MessageText, b); err != nil {
			return err
		}
	}
	return nil
}

// writeNow is not offered: the library's writes wait for the socket.
func (t *wsTransport) writeNow([][]byte) (ok, flushed bool, err error) { return false, false, nil }

func (t *wsTransport) canWriteNow() bool { return false }

func (t *wsTransport) pending() bool { return false }

func (t *wsTransport) notifyPending(func()) {}

// closeWrite does nothing: the client answers our <close/> by closing the
// WebSocket (RFC 7395 §3.6), which the reader sees. The library's Close
// handshake is not used: it waits up to 10 s and makes a concurrent
// CloseNow wait as long, which would stall Shutdown and the grace timer.
func (t *wsTransport) closeWrite() {}

func (t *wsTransport) closeNow() {
	t.cancel()
	_ = t.ws.CloseNow()
}

func (t *wsTransport) tlsState() *tls.ConnectionState { return t.tls }
func (t *wsTransport) secure() bool                   { return t.encrypted }
func (t *wsTransport) canStartTLS() bool              { return false }
func (t *wsTransport) startTLS() error                { return errors.New("c2s: no STARTTLS on WebSocket") }

// addrString adapts http.Request.RemoteAddr for remoteAddr.
type addrString string

func (a addrString) Network() string { return "tcp" }
func (a addrString) String() string  { return string(a) }
