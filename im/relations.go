package im

// Relations: what the pubsub services (the one at pubsub.<domain> and PEP
// on every account) ask the IM core about users — a contact's presence
// subscription and groups in an owner's roster (access models presence
// and roster, XEP-0060 §4.5) and an account's available sessions
// (presence-based delivery, XEP-0060 §12). It implements
// pubsub.Relations without im importing pubsub.

import (
	"context"

	"mellium.im/xmpp/jid"
)

// Relations answers roster and presence questions from the IM core's
// rosters and the router.
type Relations struct{ s *Server }

// Relations returns the IM core's Relations.
func (s *Server) Relations() Relations { return Relations{s: s} }

// Roster reports contact's subscription in owner's roster ("none", "to",
// "from", "both"; "none" when absent, for an anonymous or remote owner,
// or when the roster cannot be read) and its groups.
func (r Relations) Roster(ctx context.Context, owner, contact jid.JID) (subscription string, groups []string) {
	owner = owner.Bare()
	if !r.s.router.IsLocal(owner.Domainpart()) || r.s.isAnonymous(owner) {
		return subNone, nil
	}
	d, _, err := r.s.loadRoster(ctx, owner.String())
	if err != nil {
		r.s.log.Warn("roster unreadable for pubsub", "user", owner.String(), "err", err)
		return subNone, nil
	}
	it := d.item(contact.Bare().String())
	if it == nil {
		return subNone, nil
	}
	return it.subscription(), append([]string(nil), it.Groups...)
}

// Available lists the full JIDs of bare's available local sessions (nil
// for a remote or offline account).
func (r Relations) Available(bare jid.JID) []jid.JID {
	var out []jid.JID
	for _, p := range r.Sessions(bare) {
		out = append(out, p.Full)
	}
	return out
}

// SessionPresence is one available session and its presence.
type SessionPresence struct {
	Full     jid.JID
	Show     string // "", "chat", "away", "xa", "dnd"
	Priority int
}

// Sessions lists bare's available local sessions with their presence
// (pubsub#show-values filtering needs the show).
func (r Relations) Sessions(bare jid.JID) []SessionPresence {
	bare = bare.Bare()
	if !r.s.router.IsLocal(bare.Domainpart()) {
		return nil
	}
	var out []SessionPresence
	for _, res := range r.s.router.Resources(bare.String()) {
		if !res.Available {
			continue
		}
		full, err := jid.Parse(res.Full)
		if err != nil {
			continue
		}
		pc := presenceChange(res.Presence, true)
		out = append(out, SessionPresence{Full: full, Show: pc.Show, Priority: res.Priority})
	}
	return out
}
