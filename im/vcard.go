package im

// XEP-0054 vcard-temp, answered by the server for accounts (iqs to a bare
// JID, or without 'to' from the account's own sessions).
//
//   - get, own vCard: the stored <vCard/>, or an empty <vCard/> when none
//     was stored (§3.1 allows that or item-not-found; clients handle the
//     empty one best);
//   - get, another account's vCard (§3.3, any requester): the stored
//     <vCard/>; when none is stored <service-unavailable/>, the same answer
//     as for an account that does not exist (§3.3 since version 1.3);
//   - set: only the account itself (<forbidden/> for others, §3.2); the
//     whole vCard is replaced; an empty <vCard/> deletes it; one larger than
//     MaxVCardBytes serialized gets <not-acceptable/>.
//
// The vCard is stored as its XML serialization under data.VCardKey.

import (
	"context"
	"errors"
	"fmt"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/data"
	"github.com/gavelhq/gavel/xmlstream"
)

// NSVCard is the vcard-temp namespace.
const NSVCard = "vcard-temp"

// MaxVCardBytes bounds a stored vCard (serialized XML). Room for a photo of
// about 90 KB in base64 as XEP-0153 avatars use.
const MaxVCardBytes = 128 << 10

func registerVCard(s *Server) {
	// §4: advertised by the server; accounts answer for it too.
	s.AddServerFeature(NSVCard)
	s.AddAccountFeature(NSVCard)
	s.HandleAccountIQ(NSVCard, "vCard", s.handleVCard)
	if s.accounts != nil {
		s.accounts.OnDelete(func(ctx context.Context, bare jid.JID) error {
			return s.store.Delete(ctx, data.VCardKey(bare.Bare().String()))
		})
	}
}

func (s *Server) handleVCard(ctx context.Context, iq *xmlstream.Stanza, v *xmlstream.Element) (*xmlstream.Element, error) {
	to, err := jid.Parse(iq.To())
	if err != nil {
		return nil, xmlstream.JIDMalformed()
	}
	owner := to.Bare()
	from, err := jid.Parse(iq.From())
	self := err == nil && iq.From() != "" && from.Bare().Equal(owner)
	if iq.Type() == "set" {
		if !self {
			return nil, xmlstream.Forbidden("")
		}
		return nil, s.setVCard(ctx, owner, v)
	}
	stored, err := s.loadVCard(ctx, owner.String())
	switch {
	case err != nil:
		return nil, err
	case stored != nil:
		return stored, nil
	case self:
		return xmlstream.NewElement(NSVCard, "vCard"), nil
	default:
		return nil, xmlstream.ServiceUnavailable()
	}
}

// loadVCard returns the stored vCard of bare, or nil.
func (s *Server) loadVCard(ctx context.Context, bare string) (*xmlstream.Element, error) {
	val, _, err := s.store.Get(ctx, data.VCardKey(bare))
	if errors.Is(err, data.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	el, err := parseStoredXML(val)
	if err != nil {
		return nil, fmt.Errorf("im: corrupt vCard of %s: %w", bare, err)
	}
	return el, nil
}

// parseStoredXML parses XML the server serialized itself (already checked
// against its own size limit when stored).
func parseStoredXML(val []byte) (*xmlstream.Element, error) {
	n := max(len(val), xmlstream.DefaultMaxStanzaBytes)
	return xmlstream.ParseElement(val, "", xmlstream.Limits{MaxStanzaBytes: n, MaxDepth: n, MaxAttrs: n, MaxNameBytes: n})
}

func (s *Server) setVCard(ctx context.Context, owner jid.JID, v *xmlstream.Element) error {
	if s.isAnonymous(owner) {
		return xmlstream.NotAllowed("anonymous accounts keep no vCard")
	}
	key := data.VCardKey(owner.String())
	if len(v.Children) == 0 || (len(v.Elements()) == 0 && isBlank(v.Text())) {
		return s.store.Delete(ctx, key)
	}
	val := []byte(v.String())
	if len(val) > MaxVCardBytes {
		return notAcceptable(fmt.Sprintf("the vCard is larger than %d bytes", MaxVCardBytes))
	}
	_, err := s.store.Put(ctx, key, val)
	return err
}

func isBlank(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ' ', '\t', '\r', '\n':
		default:
			return false
		}
	}
	return true
}
