// Package caps is the server's side of XEP-0115 entity capabilities: the
// <c/> element of a presence, the verification string and its hash (§5.1),
// checking a disco#info answer against an advertised 'ver' (§5.4), a
// bounded cache of verified ver → features kept in the Store (§6.2, so a
// restart does not query every client again), and a Resolver that asks an
// entity for its disco#info once per ver however many advertise it.
//
// PEP (XEP-0163) is the user: a contact's "+notify" features say which
// nodes it wants notifications of.
package caps

import (
	"encoding/base64"

	"github.com/gavelhq/gavel/xmlstream"
)

// Namespaces.
const (
	NS          = "http://jabber.org/protocol/caps"
	NSDiscoInfo = "http://jabber.org/protocol/disco#info"
)

// Bounds on what a <c/> element may carry. A hashed ver is the base64 of
// a digest (88 bytes for SHA-512); legacy vers are free text, bounded so
// one cannot grow the server's per-JID state.
const (
	MaxVerBytes  = 256
	MaxNodeBytes = 1024
)

// Caps is what a <c xmlns='http://jabber.org/protocol/caps'/> advertises.
// Hash is "" for the legacy format (§8.4, before version 1.4), whose ver is
// not a verification string.
type Caps struct {
	Hash, Node, Ver string
}

// Legacy reports whether c is in the pre-1.4 format (no 'hash').
func (c Caps) Legacy() bool { return c.Hash == "" }

// DiscoNode is the disco#info node to query for c (§6.2): node#ver.
func (c Caps) DiscoNode() string { return c.Node + "#" + c.Ver }

// Parse reads a <c/> element. It reports false for another element, a
// missing node or ver (both REQUIRED, also in the legacy format), or
// values beyond the bounds.
func Parse(c *xmlstream.Element) (Caps, bool) {
	if c == nil || c.Name.Space != NS || c.Name.Local != "c" {
		return Caps{}, false
	}
	out := Caps{Hash: c.Attr("hash"), Node: c.Attr("node"), Ver: c.Attr("ver")}
	if out.Node == "" || out.Ver == "" || len(out.Ver) > MaxVerBytes || len(out.Node) > MaxNodeBytes || len(out.Hash) > 32 {
		return Caps{}, false
	}
	return out, true
}

// FromPresence finds and parses the <c/> child of a presence element.
func FromPresence(presence *xmlstream.Element) (Caps, bool) {
	if presence == nil {
		return Caps{}, false
	}
	return Parse(presence.Child(NS, "c"))
}

// plausible reports whether ver can be a hash of algorithm algo at all:
// the padded base64 of a digest of the algorithm's size. Anything else
// can never verify, so it is refused without asking the entity.
func plausible(algo, ver string) bool {
	h, ok := hashes[algo]
	if !ok {
		return false
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(ver)
	return err == nil && len(raw) == h().Size()
}
