package s2s

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/gavelhq/gavel/xmlstream"
)

// maxPendingVerifications bounds concurrent dialback checks per inbound stream.
const maxPendingVerifications = 8

// inbound is a stream a remote server opened to us. It carries stanzas for
// the domain pairs verified on it, and dialback requests.
type inbound struct {
	s      *Service
	c      *conn
	id     string
	secure bool

	mu       sync.Mutex
	verified map[pair]bool // pair{local: our target domain, remote: sender domain}
	pending  int
	closed   bool
}

func (s *Service) serveInbound(nc net.Conn) {
	in := &inbound{s: s, c: &conn{Conn: nc, dec: xmlstream.NewDecoder(nc, s.opts.Limits)}, verified: map[pair]bool{}}
	defer in.c.Close()
	if err := in.run(); err != nil && !errors.Is(err, xmlstream.ErrStreamEnd) {
		s.log.Debug("s2s inbound ended", "remote", nc.RemoteAddr().String(), "err", err)
	}
	s.mu.Lock()
	if s.in[in.id] == in {
		delete(s.in, in.id)
	}
	s.mu.Unlock()
}

func (in *inbound) register() {
	in.s.mu.Lock()
	in.s.in[in.id] = in
	in.s.mu.Unlock()
}

// streamError sends a stream error (with our header first if none was sent) and closes.
func (in *inbound) streamError(cond, text string) {
	in.mu.Lock()
	if in.closed {
		in.mu.Unlock()
		return
	}
	in.closed = true
	in.mu.Unlock()
	_ = in.c.write(streamErrorBytes(cond, text))
	in.c.Close()
}

// readTimeout before the first verified pair is short; after it, idle streams close.
func (in *inbound) readTimeout() time.Duration {
	in.mu.Lock()
	defer in.mu.Unlock()
	if len(in.verified) == 0 {
		return 2 * in.s.opts.ConnectTimeout
	}
	return in.s.opts.IdleTimeout
}

func (in *inbound) run() error {
	if err := in.openStream(); err != nil {
		return err
	}
	for {
		el, err := in.c.next(in.readTimeout())
		if err != nil {
			if errors.Is(err, xmlstream.ErrStreamEnd) {
				_ = in.c.write([]byte("</stream:stream>"))
				return err
			}
			var ne net.Error
			switch {
			case errors.As(err, &ne) && ne.Timeout():
				in.streamError("connection-timeout", "")
			case xmlstream.Condition(err) != "":
				in.streamError(xmlstream.Condition(err), "")
			}
			return err
		}
		switch {
		case el.Name.Space == nsTLS && el.Name.Local == "starttls":
			if err := in.startTLS(); err != nil {
				return err
			}
		case el.Name.Space == nsDialback && el.Name.Local == "result":
			in.handleResult(el)
		case el.Name.Space == nsDialback && el.Name.Local == "verify":
			in.handleVerify(el)
		case el.Name.Space == xmlstream.NSServer && el.IsStanza():
			if cond := in.handleStanza(el); cond != "" {
				in.streamError(cond, "")
				return errors.New("s2s: " + cond)
			}
		default:
			in.streamError("unsupported-stanza-type", "")
			return errors.New("s2s: unsupported element " + el.Name.Local)
		}
	}
}

// openStream reads the peer's header and answers with ours and the features.
func (in *inbound) openStream() error {
	_ = in.c.SetReadDeadline(time.Now().Add(in.s.opts.ConnectTimeout))
	h, err := in.c.dec.ReadHeader()
	in.id = newStreamID()
	if err != nil {
		if cond := xmlstream.Condition(err); cond != "" {
			_ = in.c.write(header("", "", in.id))
			in.streamError(cond, "")
		}
		return err
	}
	to, from := h.Attr("to"), h.Attr("from")
	_ = in.c.write(header(to, from, in.id))
	if h.Content != xmlstream.NSServer {
		in.streamError("invalid-namespace", "")
		return errors.New("s2s: content namespace " + h.Content)
	}
	if to != "" && !in.s.opts.IsLocal(to) {
		in.streamError("host-unknown", "")
		return errors.New("s2s: host-unknown " + to)
	}
	in.register()
	if h.Attr("version") == "" {
		return nil // dialback-only peer without stream features
	}
	f := []byte("<stream:features>")
	if !in.secure && in.s.opts.TLSConfig != nil {
		f = append(f, "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'>"...)
		if in.s.opts.RequireTLS {
			f = append(f, "<required/>"...)
		}
		f = append(f, "</starttls>"...)
	}
	f = append(f, "<dialback xmlns='urn:xmpp:features:dialback'><errors/></dialback></stream:features>"...)
	return in.c.write(f)
}

func (in *inbound) startTLS() error {
	if in.secure || in.s.opts.TLSConfig == nil {
		_ = in.c.write([]byte("<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:stream>"))
		return errors.New("s2s: unexpected starttls")
	}
	if err := in.c.write([]byte("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")); err != nil {
		return err
	}
	tc := tls.Server(in.c.Conn, in.s.opts.TLSConfig)
	ctx, cancel := context.WithTimeout(in.s.ctx, in.s.opts.ConnectTimeout)
	err := tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		return fmt.Errorf("s2s: inbound TLS: %w", err)
	}
	in.c.Conn = tc
	in.c.dec.Reset(tc)
	in.secure = true
	in.s.mu.Lock()
	delete(in.s.in, in.id)
	in.s.mu.Unlock()
	return in.openStream()
}

// handleResult is step 1 of dialback on the receiving side: check the
// sender's key with its authoritative server, then report the verdict.
func (in *inbound) handleResult(el *xmlstream.Stanza) {
	sender, target := el.From(), el.To()
	key := ""
	if t, err := el.Element(); err == nil {
		key = t.Text()
	}
	reply := func(typ string, cond string) {
		b := dialbackElement("result", target, sender, "", typ, "")
		if cond != "" {
			b = dialbackErrorElement("result", target, sender, "", cond)
		}
		_ = in.c.write(b)
	}
	switch {
	case sender == "" || target == "" || key == "":
		reply("", "bad-request")
		return
	case !in.s.opts.IsLocal(target):
		reply("", "item-not-found")
		return
	case in.s.opts.RequireTLS && !in.secure:
		reply("", "policy-violation")
		return
	case in.s.opts.IsLocal(sender):
		reply("invalid", "") // a peer claiming one of our own domains
		in.s.log.Warn("s2s dialback from a peer claiming a local domain", "sender", sender)
		return
	}
	in.mu.Lock()
	if in.pending >= maxPendingVerifications {
		in.mu.Unlock()
		reply("", "resource-constraint")
		return
	}
	in.pending++
	in.mu.Unlock()
	in.s.wg.Add(1)
	go func() {
		defer in.s.wg.Done()
		valid, err := in.s.verifyKey(sender, target, in.id, key)
		in.mu.Lock()
		in.pending--
		if valid {
			in.verified[pair{local: target, remote: sender}] = true
		}
		others := len(in.verified)
		in.mu.Unlock()
		switch {
		case err != nil:
			in.s.log.Info("s2s dialback verification failed", "sender", sender, "err", err)
			reply("", "remote-server-not-found")
		case valid:
			in.s.log.Info("s2s inbound verified", "sender", sender, "target", target)
			reply("valid", "")
		default:
			in.s.log.Warn("s2s dialback key invalid", "sender", sender, "target", target)
			reply("invalid", "")
			if others == 0 {
				_ = in.c.write([]byte("</stream:stream>"))
				in.c.Close()
			}
		}
	}()
}

// handleVerify answers a receiving server asking whether a key we issued is
// genuine (we are the authoritative server).
func (in *inbound) handleVerify(el *xmlstream.Stanza) {
	receiving, originating, id := el.From(), el.To(), el.ID()
	key := ""
	if t, err := el.Element(); err == nil {
		key = t.Text()
	}
	if !in.s.opts.IsLocal(originating) {
		_ = in.c.write(dialbackErrorElement("verify", originating, receiving, id, "item-not-found"))
		return
	}
	typ := "invalid"
	if validKey(in.s.opts.Secret, receiving, originating, id, key) {
		typ = "valid"
	}
	_ = in.c.write(dialbackElement("verify", originating, receiving, id, typ, ""))
}

// handleStanza routes a stanza of a verified pair; it returns the stream
// error condition for one that may not come on this stream.
func (in *inbound) handleStanza(st *xmlstream.Stanza) string {
	from, to := domainOf(st.From()), domainOf(st.To())
	if from == "" || to == "" {
		return "improper-addressing"
	}
	in.mu.Lock()
	ok := in.verified[pair{local: to, remote: from}]
	in.mu.Unlock()
	if !ok {
		if !in.s.opts.IsLocal(to) {
			return "host-unknown"
		}
		return "invalid-from"
	}
	in.s.router.Route(in.s.ctx, toClientNamespace(st))
	return ""
}

// toClientNamespace relabels a jabber:server stanza as jabber:client: inside
// the server there is one content namespace. Raw inherits its namespace
// from the stream, so only an explicit declaration needs to go.
func toClientNamespace(st *xmlstream.Stanza) *xmlstream.Stanza {
	if declaresXMLNS(st.Raw) {
		st = st.WithAttrs("xmlns", "")
	}
	return &xmlstream.Stanza{Raw: st.Raw, Name: xmlstream.Name{Space: xmlstream.NSClient, Local: st.Name.Local},
		Attrs: st.Attrs, Inherited: xmlstream.NSClient}
}

func dialbackErrorElement(local, from, to, id, cond string) []byte {
	b := dialbackElement(local, from, to, id, "error", "")
	b = b[:len(b)-2] // reopen the empty element
	typ := "cancel"
	if cond == "remote-server-not-found" || cond == "resource-constraint" {
		typ = "wait"
	}
	return append(b, []byte("><error type='"+typ+"'><"+cond+" xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></db:"+local+">")...)
}

// verifyKey asks the authoritative server of sender whether key is genuine
// for the stream id we gave the initiating server (XEP-0220 steps 2-3), on a
// dedicated connection closed right after the answer.
func (s *Service) verifyKey(sender, target, streamID, key string) (bool, error) {
	ctx, cancel := context.WithTimeout(s.ctx, s.opts.ConnectTimeout)
	defer cancel()
	c, err := s.connect(ctx, target, sender, false)
	if err != nil {
		return false, err
	}
	defer c.Close()
	if err := c.write(dialbackElement("verify", target, sender, streamID, "", key)); err != nil {
		return false, err
	}
	for {
		el, err := c.dec.Next()
		if err != nil {
			return false, err
		}
		if el.Name.Space == nsDialback && el.Name.Local == "verify" && el.ID() == streamID &&
			el.From() == sender && el.To() == target {
			_ = c.write([]byte("</stream:stream>"))
			switch el.Type() {
			case "valid":
				return true, nil
			case "invalid":
				return false, nil
			default:
				return false, fmt.Errorf("s2s: verify error from %s: %s", sender, el.Raw)
			}
		}
		if el.Name.Space == xmlstream.NSStream && el.Name.Local == "error" {
			return false, fmt.Errorf("s2s: stream error from %s: %s", sender, el.Raw)
		}
	}
}
