package im

// XEP-0441 archiving preferences (<prefs xmlns='urn:xmpp:mam:2'/>), stored
// at data.MAMPrefsKey and applied when a message is archived.
//
//   - No stored preferences: default='always', empty lists.
//   - JID matching (XEP-0441 §2.3): a listed full JID matches the peer JID as
//     is, a listed bare JID (or domain) matches the peer's bare JID. A JID in
//     both lists is never archived (the safer reading; the XEP is silent).
//   - default='roster' archives a peer whose bare JID is in the roster.
//   - Each list holds at most mamPrefsMaxJIDs JIDs (policy-violation).
//
// Stored form: the default on the first line, then one "+<jid>" (always) or
// "-<jid>" (never) per line, JIDs normalized. A JID never contains a line
// break, so no escaping is needed.

import (
	"bytes"
	"context"
	"errors"
	"strings"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/data"
	"github.com/gavelhq/gavel/xmlstream"
)

const mamPrefsMaxJIDs = 1000

type mamPrefs struct {
	def           string // always, never, roster
	always, never []string
}

func validDefault(d string) bool { return d == "always" || d == "never" || d == "roster" }

func (p *mamPrefs) encode() []byte {
	var b bytes.Buffer
	b.WriteString(p.def)
	for _, j := range p.always {
		b.WriteString("\n+" + j)
	}
	for _, j := range p.never {
		b.WriteString("\n-" + j)
	}
	return b.Bytes()
}

func decodeMAMPrefs(b []byte) mamPrefs {
	lines := strings.Split(string(b), "\n")
	p := mamPrefs{def: lines[0]}
	if !validDefault(p.def) {
		p.def = "always"
	}
	for _, l := range lines[1:] {
		switch {
		case strings.HasPrefix(l, "+"):
			p.always = append(p.always, l[1:])
		case strings.HasPrefix(l, "-"):
			p.never = append(p.never, l[1:])
		}
	}
	return p
}

// loadMAMPrefs returns bare's preferences (the defaults if none are stored).
func (s *Server) loadMAMPrefs(ctx context.Context, bare string) (mamPrefs, error) {
	val, _, err := s.store.Get(ctx, data.MAMPrefsKey(bare))
	if errors.Is(err, data.ErrNotFound) {
		return mamPrefs{def: "always"}, nil
	}
	if err != nil {
		return mamPrefs{}, err
	}
	return decodeMAMPrefs(val), nil
}

// listed reports whether peer matches one of list (XEP-0441 §2.3.1).
func listed(list []string, peer jid.JID) bool {
	full, bare := peer.String(), peer.Bare().String()
	for _, j := range list {
		if strings.IndexByte(j, '/') >= 0 {
			if j == full {
				return true
			}
		} else if j == bare {
			return true
		}
	}
	return false
}

// mamWanted applies owner's preferences to a message exchanged with peer.
// When they cannot be read, the message is archived: losing history is
// worse than keeping one message a preference would have skipped.
func (s *Server) mamWanted(ctx context.Context, owner, peer jid.JID) bool {
	p, err := s.loadMAMPrefs(ctx, owner.String())
	if err != nil {
		s.log.Error("mam: reading preferences", "user", owner.String(), "err", err)
		return true
	}
	switch {
	case listed(p.never, peer):
		return false
	case listed(p.always, peer):
		return true
	}
	switch p.def {
	case "never":
		return false
	case "roster":
		d, _, err := s.loadRoster(ctx, owner.String())
		if err != nil {
			s.log.Error("mam: reading roster", "user", owner.String(), "err", err)
			return true
		}
		return d.item(peer.Bare().String()) != nil
	}
	return true
}

// ownArchive checks that iq comes from the owner of the archive it is
// addressed to (XEP-0313 §8.1: anyone else gets forbidden) and returns the
// owner's bare JID.
func ownArchive(iq *xmlstream.Stanza) (jid.JID, error) {
	from, err1 := jid.Parse(iq.From())
	to, err2 := jid.Parse(iq.To())
	if err1 != nil || err2 != nil || !from.Bare().Equal(to.Bare()) {
		return jid.JID{}, xmlstream.Forbidden("only the owner may access an archive")
	}
	return to.Bare(), nil
}

// handleMAMPrefs answers <prefs/> get and set.
func (s *Server) handleMAMPrefs(ctx context.Context, iq *xmlstream.Stanza, q *xmlstream.Element) (*xmlstream.Element, error) {
	owner, err := ownArchive(iq)
	if err != nil {
		return nil, err
	}
	if iq.Type() == "get" {
		p, err := s.loadMAMPrefs(ctx, owner.String())
		if err != nil {
			return nil, err
		}
		return prefsElement(p), nil
	}
	if s.isAnonymous(owner) {
		return nil, xmlstream.NotAllowed("anonymous accounts have no archive")
	}
	p, err := parsePrefs(q)
	if err != nil {
		return nil, err
	}
	if _, err := s.store.Put(ctx, data.MAMPrefsKey(owner.String()), p.encode()); err != nil {
		return nil, err
	}
	return prefsElement(p), nil
}

// parsePrefs validates a <prefs/> set and normalizes its JIDs.
func parsePrefs(q *xmlstream.Element) (mamPrefs, error) {
	p := mamPrefs{def: q.Attr("default")}
	if !validDefault(p.def) {
		return p, xmlstream.BadRequest("default must be always, never or roster")
	}
	list := func(name string) ([]string, error) {
		var out []string
		seen := map[string]bool{}
		for _, l := range q.ChildrenNamed(nsMAM, name) {
			for _, j := range l.ChildrenNamed(nsMAM, "jid") {
				parsed, err := jid.Parse(strings.TrimSpace(j.Text()))
				if err != nil {
					return nil, xmlstream.JIDMalformed()
				}
				n := parsed.String()
				if !seen[n] {
					seen[n] = true
					out = append(out, n)
				}
				if len(out) > mamPrefsMaxJIDs {
					return nil, policyViolation("too many JIDs in one preference list")
				}
			}
		}
		return out, nil
	}
	var err error
	if p.always, err = list("always"); err != nil {
		return p, err
	}
	if p.never, err = list("never"); err != nil {
		return p, err
	}
	return p, nil
}

func prefsElement(p mamPrefs) *xmlstream.Element {
	always := xmlstream.NewElement(nsMAM, "always")
	for _, j := range p.always {
		always.Append(xmlstream.NewElement(nsMAM, "jid").AppendText(j))
	}
	never := xmlstream.NewElement(nsMAM, "never")
	for _, j := range p.never {
		never.Append(xmlstream.NewElement(nsMAM, "jid").AppendText(j))
	}
	return xmlstream.NewElement(nsMAM, "prefs", "default", p.def).Append(always, never)
}

func policyViolation(text string) *xmlstream.StanzaError {
	return &xmlstream.StanzaError{Type: xmlstream.ErrModify, Condition: "policy-violation", Text: text}
}
