package c2s

// XEP-0352 Client State Indication (urn:xmpp:csi:0): the policy.
//
// Offered after authentication. A bound client sends <inactive/> when its
// user is not looking and <active/> when they are back; both are answered
// with nothing. The state starts active on every stream, including a
// resumed one (§5.2: it is not restored).
//
// While inactive, stanzas that can wait are held instead of sent:
//   - presence of type available or unavailable (contacts coming and going,
//     status changes); only the latest one per sender full JID is kept;
//   - messages that carry nothing the user reads: chat states (only the
//     latest per sender is kept), delivery receipts, chat markers, and
//     carbon copies of such messages.
//
// Everything else is urgent: a message with a body, subject or any other
// payload, every iq (a request needs an answer, a result is awaited),
// subscription requests and presence errors. An urgent stanza first flushes
// what is held, in the order it was held, then goes out itself: the client
// sees stanzas in the order they were sent (§5.1), minus the superseded
// presences and chat states. The held stanzas are also flushed on <active/>,
// on an ack request from the client (it is awake), when more than
// Options.CSIMaxHeld are held, and into the stream management queue when the
// connection is lost (they are sent on resume). Held stanzas are not yet
// counted by stream management; when the session ends they go to
// Handler.Undelivered with the unacknowledged ones.

import (
	"github.com/gavelhq/gavel/xmlstream"
)

const nsCSI = "urn:xmpp:csi:0"

// Namespaces of payloads that can wait while the client is inactive.
const (
	nsChatStates = "http://jabber.org/protocol/chatstates"
	nsReceipts   = "urn:xmpp:receipts"
	nsMarkers    = "urn:xmpp:chat-markers:0"
	nsHints      = "urn:xmpp:hints"
	nsStanzaID   = "urn:xmpp:sid:0"
	nsDelay      = "urn:xmpp:delay"
	nsCarbons    = "urn:xmpp:carbons:2"
	nsForward    = "urn:xmpp:forward:0"
)

// csiState is guarded by session.mu.
type csiState struct {
	inactive bool
	held     []heldStanza
}

type heldStanza struct {
	key string // "" or the supersession key (same key: the newer replaces the older)
	st  *xmlstream.Stanza
}

// csiHold holds st back if it can wait; false if it is urgent (what was
// held has then been flushed, and st goes out next).
func (s *session) csiHold(st *xmlstream.Stanza) bool {
	urgent, key := csiClassify(st)
	if urgent {
		s.csiFlushLocked()
		return false
	}
	if key != "" {
		for i, h := range s.csi.held {
			if h.key == key {
				s.csi.held = append(s.csi.held[:i], s.csi.held[i+1:]...)
				break
			}
		}
	}
	s.csi.held = append(s.csi.held, heldStanza{key: key, st: st})
	if len(s.csi.held) > s.srv.opts.CSIMaxHeld {
		s.csiFlushLocked()
	}
	return true
}

// csiFlushLocked sends what is held, oldest first.
func (s *session) csiFlushLocked() {
	held := s.csi.held
	s.csi.held = nil
	for _, h := range held {
		s.deliverLocked(h.st, nil)
	}
}

// handleCSI handles <active/> and <inactive/> of a bound stream.
func (c *conn) handleCSI(st *xmlstream.Stanza) error {
	s := c.sess
	switch st.Name.Local {
	case "active":
		s.mu.Lock()
		if s.c == c {
			s.csi.inactive = false
			s.csiFlushLocked()
		}
		s.mu.Unlock()
		return nil
	case "inactive":
		s.mu.Lock()
		if s.c == c {
			s.csi.inactive = true
		}
		s.mu.Unlock()
		return nil
	}
	return c.unexpected(st)
}

// csiClassify tells whether st must go out now, and if not, the key under
// which a newer stanza supersedes it ("" for none).
func csiClassify(st *xmlstream.Stanza) (urgent bool, key string) {
	switch st.Name.Local {
	case xmlstream.KindPresence:
		switch st.Type() {
		case "", "unavailable":
			return false, "p " + st.From()
		}
		return true, ""
	case xmlstream.KindMessage:
		if st.Type() == "error" {
			return true, ""
		}
		el, err := st.Element()
		if err != nil || !deferrableMessage(el, 0) {
			return true, ""
		}
		if chatStateOnly(el) {
			return false, "c " + st.From()
		}
		return false, ""
	}
	return true, ""
}

// deferrableMessage: nothing in el needs the user's attention now.
func deferrableMessage(el *xmlstream.Element, depth int) bool {
	for _, ch := range el.Elements() {
		switch ch.Name.Space {
		case nsChatStates, nsReceipts, nsMarkers, nsHints, nsStanzaID, nsDelay:
			continue
		case el.Name.Space:
			if ch.Name.Local == "thread" {
				continue
			}
		case nsCarbons:
			// A carbon copy can wait if what it copies can.
			if depth == 0 && (ch.Name.Local == "sent" || ch.Name.Local == "received") {
				if fwd := ch.Child(nsForward, "forwarded"); fwd != nil {
					if inner := fwd.Child("", "message"); inner != nil && deferrableMessage(inner, depth+1) {
						continue
					}
				}
			}
		}
		return false
	}
	return true
}

// chatStateOnly: a standalone chat state notification (XEP-0085 §5.5).
func chatStateOnly(el *xmlstream.Element) bool {
	has := false
	for _, ch := range el.Elements() {
		switch ch.Name.Space {
		case nsChatStates:
			has = true
		case nsReceipts, nsMarkers:
			return false
		}
	}
	return has
}
