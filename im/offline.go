package im

// Offline message storage (XEP-0160, RFC 6121 §8.5.2.2): messages for an
// account with no available resource of non-negative priority are kept in the
// log stream "offline/<bare JID>" and delivered, oldest first, when the account
// next sends available presence with non-negative priority.
//
// Decisions taken from the specs:
//   - What is stored (XEP-0160 §3, XEP-0334, XEP-0085 §5.8): type normal
//     (absent or unknown: RFC 6121 §5.2.2) and chat; never groupchat (RFC 6121
//     §8.5.2.2.1 requires an error) nor error; headline only with an explicit
//     <store/> hint. A <no-store/> hint always wins (hints in error stanzas
//     are ignored, XEP-0334 §5). A message whose only children are chat
//     states, hints, stanza ids, thread or delay carries nothing for a later
//     session and is not stored unless it has <store/>.
//   - A full queue (Options.OfflineQuota messages) is reported as "not stored":
//     XEP-0160 §2 says the server then returns <service-unavailable/>, which is
//     what the caller sends for an unstored normal/chat message (RFC 6121
//     §8.5.2.2.1). resource-constraint is not used: it would ask the sender to
//     retry, and the queue empties only when the recipient logs in.
//   - Accounts of the anonymous domain are never stored for: their JIDs never
//     come back.
//   - The stored copy gets <delay xmlns='urn:xmpp:delay' from='<domain>'
//     stamp='...'>Offline Storage</delay> (XEP-0203, XEP-0160 §2) inserted
//     before its end tag; every other byte is kept.

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/data"
	"github.com/gavelhq/gavel/router"
	"github.com/gavelhq/gavel/xmlstream"
)

const (
	nsDelay      = "urn:xmpp:delay"
	nsHints      = "urn:xmpp:hints"
	nsChatStates = "http://jabber.org/protocol/chatstates"
	nsStanzaID   = "urn:xmpp:sid:0"

	// offlinePage is how many stored messages sendOffline reads at a time.
	offlinePage = 64
	// appendRetries bounds the compare-and-set loop of storeOffline under
	// concurrent senders to one account.
	appendRetries = 16
)

// offlineStream names the log holding bare's offline messages.
func offlineStream(bare string) string { return "offline/" + bare }

// offlineState is the in-memory part of offline storage.
type offlineState struct {
	locks keyedMutex // serializes delivery (and deletion) per account
}

// registerOffline wires offline storage: the disco feature and the cleanup
// of the queue when an account is deleted.
func registerOffline(s *Server) {
	s.AddServerFeature("msgoffline")
	if s.accounts != nil {
		s.accounts.OnDelete(func(ctx context.Context, bare jid.JID) error {
			key := bare.Bare().String()
			unlock := s.state.offline.locks.lock(key)
			defer unlock()
			return s.store.DeleteStream(ctx, offlineStream(key))
		})
	}
}

// storeOffline keeps a message for an account with no available resource
// (XEP-0160). It returns true once the message is durably stored; false if it
// was not (type or content not worth storing, <no-store/>, anonymous account,
// full queue, storage failure). The caller then applies RFC 6121 §8.5.2.2:
// service-unavailable for normal, chat and groupchat, silence for headline
// and error.
func (s *Server) storeOffline(ctx context.Context, to jid.JID, st *xmlstream.Stanza) bool {
	if st.Name.Local != xmlstream.KindMessage {
		return false
	}
	if s.opts.AnonymousDomain != "" && to.Domainpart() == s.opts.AnonymousDomain {
		return false
	}
	el, err := st.Element()
	if err != nil || !worthStoring(st.Type(), el) {
		return false
	}
	if strings.IndexByte(st.Inherited, '\n') >= 0 {
		return false // cannot be framed; no real stream declares such a namespace
	}
	delayed := withDelay(st.Raw, s.opts.Domain, s.now())
	if delayed == nil {
		return false
	}
	rec := encodeOffline(st.Inherited, delayed)
	bare := to.Bare().String()
	stream := offlineStream(bare)
	for range appendRetries {
		last, first, err := s.store.Last(ctx, stream)
		if err != nil {
			s.log.Error("offline: reading queue", "user", bare, "err", err)
			return false
		}
		if queued(last, first) >= uint64(s.opts.OfflineQuota) {
			return false
		}
		// Appending at the sequence we counted keeps the quota exact when
		// several senders store for one account at once.
		_, err = s.store.Append(ctx, stream, rec, last)
		if errors.Is(err, data.ErrSequence) {
			continue
		}
		if err != nil {
			s.log.Error("offline: storing", "user", bare, "err", err)
			return false
		}
		s.flushIfOnline(ctx, bare)
		return true
	}
	s.log.Warn("offline: queue too contended", "user", bare)
	return false
}

// flushIfOnline closes the race between a sender that found no available
// resource and a login whose sendOffline already ran: if a resource with
// non-negative priority is available now, the queue goes to it at once.
func (s *Server) flushIfOnline(ctx context.Context, bare string) {
	for _, r := range s.router.Resources(bare) {
		if r.Available && r.Priority >= 0 {
			s.sendOffline(ctx, r.Session)
			return
		}
	}
}

// queued is the number of entries of a log whose Last is (last, first).
func queued(last, first uint64) uint64 {
	if first == 0 {
		first = 1
	}
	if last < first {
		return 0
	}
	return last - first + 1
}

// worthStoring applies XEP-0160 §3 and the XEP-0334 hints to a message.
func worthStoring(typ string, el *xmlstream.Element) bool {
	switch typ {
	case "groupchat", "error":
		return false
	case "headline":
		// Time-sensitive: only when the sender asks for it (XEP-0334 <store/>).
		return el.Child(nsHints, "no-store") == nil && el.Child(nsHints, "store") != nil
	}
	// normal, chat, and unknown types, which RFC 6121 §5.2.2 reads as normal.
	if el.Child(nsHints, "no-store") != nil {
		return false
	}
	if el.Child(nsHints, "store") != nil {
		return true
	}
	for _, c := range el.Elements() {
		if !metadataOnly(el.Name.Space, c) {
			return true
		}
	}
	return false
}

// metadataOnly reports whether child carries nothing a later session needs on
// its own (a standalone chat state and what travels with it).
func metadataOnly(contentNS string, child *xmlstream.Element) bool {
	switch child.Name.Space {
	case nsChatStates, nsHints, nsStanzaID, nsDelay:
		return true
	case contentNS:
		return child.Name.Local == "thread"
	}
	return false
}

// withDelay returns raw with a XEP-0203 delay element inserted before the end
// tag of the top-level element (a self-closing tag is opened and closed), or
// nil if raw is not an element.
func withDelay(raw []byte, domain string, at time.Time) []byte {
	raw = bytes.TrimRight(raw, " \t\r\n")
	delay := xmlstream.NewElement(nsDelay, "delay", "from", domain, "stamp", stamp(at)).
		AppendText("Offline Storage").AppendXML(nil, "")
	out := make([]byte, 0, len(raw)+len(delay)+16)
	if bytes.HasSuffix(raw, []byte("/>")) && !bytes.Contains(raw, []byte("</")) {
		// <message .../>: the top-level tag is the only tag.
		name := topLevelName(raw)
		out = append(out, raw[:len(raw)-2]...)
		out = append(out, '>')
		out = append(out, delay...)
		out = append(out, "</"...)
		out = append(out, name...)
		return append(out, '>')
	}
	end := bytes.LastIndex(raw, []byte("</"))
	if end < 0 {
		return nil // not an element: nothing to splice into
	}
	out = append(out, raw[:end]...)
	out = append(out, delay...)
	return append(out, raw[end:]...)
}

// topLevelName is the qualified name of the first start tag of raw.
func topLevelName(raw []byte) []byte {
	i := bytes.IndexByte(raw, '<') + 1
	j := i
	for j < len(raw) && raw[j] != ' ' && raw[j] != '\t' && raw[j] != '\r' && raw[j] != '\n' && raw[j] != '/' && raw[j] != '>' {
		j++
	}
	return raw[i:j]
}

// stamp formats t as an XEP-0082 DateTime in UTC with milliseconds.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// A stored record is the namespace the stanza was read in (the stream's
// default namespace, needed to parse Raw standalone), a newline, then Raw.
func encodeOffline(inherited string, raw []byte) []byte {
	rec := make([]byte, 0, len(inherited)+1+len(raw))
	rec = append(rec, inherited...)
	rec = append(rec, '\n')
	return append(rec, raw...)
}

func decodeOffline(rec []byte) (*xmlstream.Stanza, error) {
	nl := bytes.IndexByte(rec, '\n')
	if nl < 0 {
		return nil, errors.New("offline: record without namespace header")
	}
	raw := rec[nl+1:]
	// The stored copy is a little longer than the original (delay), so the
	// limit grows with it rather than rejecting a stanza accepted earlier.
	lim := xmlstream.Limits{MaxStanzaBytes: max(len(raw), xmlstream.DefaultMaxStanzaBytes)}
	return xmlstream.ParseStanza(bytes.Clone(raw), string(rec[:nl]), lim)
}

// sendOffline delivers and removes stored messages when a session sends its
// initial presence with non-negative priority. Delivery is at least once: an
// entry is removed only after it was queued on the session; if the session
// refuses (closed), the rest stays for the next login. Logins of one account
// are serialized so that two sessions never both get the same message.
func (s *Server) sendOffline(ctx context.Context, sess router.Session) {
	bare := sess.JID().Bare().String()
	unlock := s.state.offline.locks.lock(bare)
	defer unlock()
	stream := offlineStream(bare)
	from := uint64(1)
	for ctx.Err() == nil {
		entries, err := s.store.Read(ctx, stream, from, offlinePage)
		if err != nil {
			s.log.Error("offline: reading queue", "user", bare, "err", err)
			return
		}
		if len(entries) == 0 {
			return
		}
		next := from
		refused := false
		for _, e := range entries {
			st, err := decodeOffline(e.Data)
			if err != nil {
				// A record that cannot be parsed can never be delivered;
				// dropping it keeps it from blocking the queue forever.
				s.log.Error("offline: dropping unreadable message", "user", bare, "seq", e.Seq, "err", err)
			} else if s.blocksAddress(ctx, sess.JID().Bare(), st.From()) {
				// Blocked after it was stored (XEP-0191 §3.4): dropped, as it
				// would have been on arrival.
			} else if !sess.Send(st) {
				refused = true
				break
			}
			next = e.Seq + 1
		}
		if next > from {
			if err := s.store.Truncate(ctx, stream, next); err != nil {
				s.log.Error("offline: removing delivered messages", "user", bare, "err", err)
				return
			}
		}
		if refused || len(entries) < offlinePage {
			return
		}
		from = next
	}
}

// keyedMutex serializes work per key (an account) without a lock per
// account kept forever: entries exist only while someone holds or waits.
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*keyedLock
}

type keyedLock struct {
	mu   sync.Mutex
	refs int // holders and waiters, guarded by keyedMutex.mu
}

// lock acquires the mutex for key and returns its unlock function.
func (k *keyedMutex) lock(key string) (unlock func()) {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[string]*keyedLock{}
	}
	l := k.locks[key]
	if l == nil {
		l = &keyedLock{}
		k.locks[key] = l
	}
	l.refs++
	k.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		k.mu.Lock()
		l.refs--
		if l.refs == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
}
