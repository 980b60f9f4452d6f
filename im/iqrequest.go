package im

// IQs the server sends on its own or an account's behalf (PEP's caps
// queries, XEP-0115 §6.2) and the answers it waits for. Each request gets
// an unguessable id; the answer must come from the address asked and to
// the address that asked, else it is ignored. Requests are bounded in
// number and time: past MaxIQsInFlight SendIQ refuses, and an unanswered
// request ends with ErrIQTimeout.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/xmlstream"
)

// Bounds of server-sent iqs.
const (
	// MaxIQsInFlight bounds the requests awaiting an answer.
	MaxIQsInFlight = 4096
	// DefaultIQTimeout is the wait when SendIQ gets no timeout.
	DefaultIQTimeout = 30 * time.Second
)

// Errors of SendIQ and of the answers it delivers.
var (
	ErrIQTimeout  = errors.New("im: iq request timed out")
	ErrIQBusy     = errors.New("im: too many iq requests in flight")
	ErrIQBadFrom  = errors.New("im: a server iq is sent from the domain or a local account's bare JID")
	ErrIQBadReply = errors.New("im: unparsable iq answer")
)

// IQAnswer receives the answer to a server-sent iq: the result stanza, or
// an error — a *xmlstream.StanzaError for an error reply, ErrIQTimeout,
// ErrIQBadReply. It runs on the goroutine that routed the answer (the
// answering entity's stream, or SendIQ's caller for a bounce) or on the
// timeout's timer, holding no lock: it must not block for long.
type IQAnswer func(result *xmlstream.Stanza, err error)

// iqRequests is the table of requests in flight (imState.iq).
type iqRequests struct {
	mu      sync.Mutex
	pending map[string]*pendingIQ
}

type pendingIQ struct {
	from, to string // normalized: the answer comes from 'to' to 'from'
	done     IQAnswer
	timer    *time.Timer
}

// SendIQ sends an iq of type typ ("get" or "set") carrying payload from
// 'from' — the server's domain or a local account's bare JID, where the
// answer comes back — to 'to', and calls done once with the answer or
// the failure. timeout <= 0 means DefaultIQTimeout. An error return means
// nothing was sent and done will not be called.
func (s *Server) SendIQ(ctx context.Context, from, to jid.JID, typ string, payload *xmlstream.Element, timeout time.Duration, done IQAnswer) error {
	if from.Resourcepart() != "" || !s.router.IsLocal(from.Domainpart()) {
		return ErrIQBadFrom
	}
	if typ != "get" && typ != "set" {
		return errors.New("im: SendIQ type must be get or set")
	}
	if timeout <= 0 {
		timeout = DefaultIQTimeout
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	id := "gavel-" + hex.EncodeToString(b[:])
	p := &pendingIQ{from: from.String(), to: to.String(), done: done}
	st := &s.state.iq
	st.mu.Lock()
	if len(st.pending) >= MaxIQsInFlight {
		st.mu.Unlock()
		return ErrIQBusy
	}
	if st.pending == nil {
		st.pending = map[string]*pendingIQ{}
	}
	st.pending[id] = p
	p.timer = time.AfterFunc(timeout, func() {
		if s.takeIQ(id) != nil {
			done(nil, ErrIQTimeout)
		}
	})
	st.mu.Unlock()
	iq := xmlstream.NewElement(xmlstream.NSClient, xmlstream.KindIQ,
		"from", p.from, "to", p.to, "id", id, "type", typ)
	iq.Append(payload)
	s.send(ctx, xmlstream.NewStanza(iq))
	return nil
}

// takeIQ removes and returns a pending request (nil if none).
func (s *Server) takeIQ(id string) *pendingIQ {
	st := &s.state.iq
	st.mu.Lock()
	defer st.mu.Unlock()
	p := st.pending[id]
	if p != nil {
		delete(st.pending, id)
		p.timer.Stop()
	}
	return p
}

// iqAnswer consumes an iq result or error addressed to the server's
// domain or an account's bare JID: if it answers a request of SendIQ, its
// callback gets it. Anything else is dropped (RFC 6120 §8.2.3).
func (s *Server) iqAnswer(st *xmlstream.Stanza) {
	typ := st.Type()
	if typ != "result" && typ != "error" {
		return
	}
	id := st.ID()
	sq := &s.state.iq
	sq.mu.Lock()
	p := sq.pending[id]
	sq.mu.Unlock()
	if p == nil || !sameJID(st.From(), p.to) || !sameJID(st.To(), p.from) {
		return // unknown, or not from the entity asked: a spoof or a stray
	}
	if s.takeIQ(id) == nil {
		return // the timer won
	}
	if typ == "result" {
		p.done(st, nil)
		return
	}
	p.done(nil, stanzaErrorOf(st))
}

// sameJID compares a received address with a normalized one.
func sameJID(got, want string) bool {
	if got == want {
		return true
	}
	j, err := jid.Parse(got)
	return err == nil && j.String() == want
}

// stanzaErrorOf reads the <error/> of an error stanza (RFC 6120 §8.3).
func stanzaErrorOf(st *xmlstream.Stanza) error {
	el, err := st.Element()
	if err != nil {
		return ErrIQBadReply
	}
	e := el.Child("", "error")
	if e == nil {
		return &xmlstream.StanzaError{Type: xmlstream.ErrCancel, Condition: "undefined-condition"}
	}
	se := &xmlstream.StanzaError{Type: e.Attr("type"), By: e.Attr("by"), Condition: "undefined-condition"}
	for _, c := range e.Elements() {
		switch {
		case c.Name.Space != xmlstream.NSStanzas:
			se.App = c
		case c.Name.Local == "text":
			se.Text = c.Text()
		default:
			se.Condition = c.Name.Local
		}
	}
	return se
}
