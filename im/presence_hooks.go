package im

// Presence hooks, for features that follow who is available: PEP's
// implicit subscriptions (XEP-0163 §4: contacts' and own resources'
// XEP-0115 caps) and pubsub's presence-based delivery. Two events:
//
//   - a local session's broadcast presence changed: available (initial or
//     subsequent, RFC 6121 §4.2, §4.4) or unavailable (§4.5, also when the
//     session ended without saying so);
//   - available or unavailable presence from some entity reached a local
//     account's bare JID (a contact's broadcast, a probe's answer, directed
//     presence), after the inbound filters (a blocked sender's never does).
//
// Hooks run synchronously on the goroutine that handles the presence, in
// registration order, after the presence was delivered: they must not
// block (queue slow work).

import (
	"context"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/caps"
	"github.com/gavelhq/gavel/xmlstream"
)

// PresenceChange is what a presence hook learns.
type PresenceChange struct {
	Available bool
	// Initial (session hooks): the resource was not available before
	// this presence — an initial presence, not a subsequent one.
	Initial  bool
	Show     string // "", "chat", "away", "xa", "dnd"
	Priority int
	// Caps is the presence's <c xmlns='http://jabber.org/protocol/caps'/>,
	// nil without one; shared, read-only.
	Caps *xmlstream.Element
}

// SessionPresenceHook sees a local session's presence change; full is the
// session's full JID.
type SessionPresenceHook func(ctx context.Context, full jid.JID, pc PresenceChange)

// ContactPresenceHook sees presence from 'from' (as sent: usually a full
// JID, a bare one for an unavailable answer to a probe) that reached the
// local account owner's bare JID.
type ContactPresenceHook func(ctx context.Context, owner, from jid.JID, pc PresenceChange)

type presenceHooks struct {
	session []SessionPresenceHook
	contact []ContactPresenceHook
}

// OnSessionPresence registers h. Registration happens at construction,
// before any stanza flows.
func (s *Server) OnSessionPresence(h SessionPresenceHook) {
	s.hooks.presence.session = append(s.hooks.presence.session, h)
}

// OnContactPresence registers h (at construction, as OnSessionPresence).
func (s *Server) OnContactPresence(h ContactPresenceHook) {
	s.hooks.presence.contact = append(s.hooks.presence.contact, h)
}

// sessionPresence runs the session hooks for presence st of full
// (st nil: the session ended).
func (s *Server) sessionPresence(ctx context.Context, full jid.JID, st *xmlstream.Stanza, available, initial bool) {
	if len(s.hooks.presence.session) == 0 {
		return
	}
	pc := presenceChange(st, available)
	pc.Initial = initial && available
	for _, h := range s.hooks.presence.session {
		h(ctx, full, pc)
	}
}

// contactPresence runs the contact hooks for available or unavailable
// presence st addressed to owner's bare JID.
func (s *Server) contactPresence(ctx context.Context, owner jid.JID, st *xmlstream.Stanza) {
	if len(s.hooks.presence.contact) == 0 {
		return
	}
	from, err := s.router.ParseJID(st.From())
	if err != nil || st.From() == "" {
		return
	}
	pc := presenceChange(st, st.Type() == "")
	for _, h := range s.hooks.presence.contact {
		h(ctx, owner, from, pc)
	}
}

// presenceChange reads show, priority and caps from an available presence.
func presenceChange(st *xmlstream.Stanza, available bool) PresenceChange {
	pc := PresenceChange{Available: available}
	if !available || st == nil {
		return pc
	}
	el, err := st.Element()
	if err != nil {
		return pc
	}
	pc.Show = el.ChildText(el.Name.Space, "show")
	pc.Priority, _ = presencePriority(st)
	pc.Caps = el.Child(caps.NS, "c")
	return pc
}
