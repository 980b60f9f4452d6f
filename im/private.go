package im

// XEP-0049 private XML storage: an account keeps arbitrary XML on the
// server, one fragment per namespace, readable and writable only by itself.
//
//   - get: exactly one namespace, named by an (empty) child of <query/>;
//     the result holds what was stored under it, or the child as sent when
//     nothing was (§2.3 examples);
//   - set: each namespace among the children replaces what was stored under
//     it (several elements of one namespace are kept together, §2.3); a lone
//     empty element deletes the namespace's data (a get then answers the
//     same empty element);
//   - errors: another account's data → <forbidden/> (§2.3 prefers it);
//     <query/> without a child → <not-acceptable/> (the MUST of §2.3;
//     the "Bad Format" of §3 is no RFC 6120 condition); a child in no
//     namespace or in jabber:client, jabber:server or jabber:iq:private →
//     <not-acceptable/> (§2.3 reserved namespaces); a get naming several
//     namespaces → <bad-request/> (§2.3: a client MUST NOT); data of one
//     namespace over MaxPrivateBytes → <not-acceptable/>; a new namespace
//     beyond MaxPrivateNamespaces → <not-allowed/>.
//
// Each namespace is one KV entry, data.PrivateKey(user, ns), holding a
// serialized <query xmlns='jabber:iq:private'/> with that namespace's
// elements.

import (
	"context"
	"errors"
	"fmt"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/data"
	"github.com/gavelhq/gavel/xmlstream"
)

// NSPrivate is the XEP-0049 namespace.
const NSPrivate = "jabber:iq:private"

// Limits on private storage per account.
const (
	// MaxPrivateBytes bounds the serialized data of one namespace.
	MaxPrivateBytes = 128 << 10
	// MaxPrivateNamespaces bounds the namespaces one account stores under.
	// Concurrent sets of new namespaces may pass it by their number.
	MaxPrivateNamespaces = 100
	// MaxPrivateNamespaceBytes bounds the length of a namespace name.
	MaxPrivateNamespaceBytes = 1024
)

func registerPrivate(s *Server) {
	s.HandleAccountIQ(NSPrivate, "query", s.handlePrivate)
	if s.accounts != nil {
		s.accounts.OnDelete(func(ctx context.Context, bare jid.JID) error {
			return s.store.DeletePrefix(ctx, data.PrivatePrefix(bare.Bare().String()))
		})
	}
}

// privateNamespaceAllowed reports whether data may be kept under ns.
func privateNamespaceAllowed(ns string) bool {
	switch ns {
	case "", xmlstream.NSClient, xmlstream.NSServer, NSPrivate:
		return false
	}
	return len(ns) <= MaxPrivateNamespaceBytes
}

func (s *Server) handlePrivate(ctx context.Context, iq *xmlstream.Stanza, q *xmlstream.Element) (*xmlstream.Element, error) {
	_, owner, err := ownRequest(iq)
	if err != nil {
		return nil, err
	}
	children := q.Elements()
	if len(children) == 0 {
		return nil, notAcceptable("name the namespace of the data")
	}
	for _, c := range children {
		if !privateNamespaceAllowed(c.Name.Space) {
			return nil, notAcceptable("this namespace cannot be used for private data")
		}
	}
	if s.isAnonymous(owner) {
		return nil, xmlstream.NotAllowed("anonymous accounts keep no private data")
	}
	if iq.Type() == "get" {
		return s.getPrivate(ctx, owner.String(), children)
	}
	return nil, s.setPrivate(ctx, owner.String(), children)
}

func (s *Server) getPrivate(ctx context.Context, bare string, children []*xmlstream.Element) (*xmlstream.Element, error) {
	ns := children[0].Name.Space
	for _, c := range children[1:] {
		if c.Name.Space != ns {
			return nil, xmlstream.BadRequest("query one namespace at a time")
		}
	}
	val, _, err := s.store.Get(ctx, data.PrivateKey(bare, ns))
	if errors.Is(err, data.ErrNotFound) {
		res := xmlstream.NewElement(NSPrivate, "query")
		for _, c := range children {
			res.Append(c.Copy())
		}
		return res, nil
	}
	if err != nil {
		return nil, err
	}
	el, err := parseStoredXML(val)
	if err != nil {
		return nil, fmt.Errorf("im: corrupt private data of %s: %w", bare, err)
	}
	return el, nil
}

// privateGroup is the elements of one namespace in a set, in order.
type privateGroup struct {
	ns    string
	elems []*xmlstream.Element
}

func (s *Server) setPrivate(ctx context.Context, bare string, children []*xmlstream.Element) error {
	var groups []*privateGroup
	byNS := map[string]*privateGroup{}
	for _, c := range children {
		g := byNS[c.Name.Space]
		if g == nil {
			g = &privateGroup{ns: c.Name.Space}
			byNS[c.Name.Space] = g
			groups = append(groups, g)
		}
		g.elems = append(g.elems, c)
	}
	// Validate everything before writing anything.
	vals := make([][]byte, len(groups))
	newNamespaces := 0
	for i, g := range groups {
		if len(g.elems) == 1 && isEmptyElement(g.elems[0]) {
			continue // a delete
		}
		q := xmlstream.NewElement(NSPrivate, "query").Append(g.elems...)
		vals[i] = []byte(q.String())
		if len(vals[i]) > MaxPrivateBytes {
			return notAcceptable(fmt.Sprintf("private data of one namespace is limited to %d bytes", MaxPrivateBytes))
		}
		_, _, err := s.store.Get(ctx, data.PrivateKey(bare, g.ns))
		switch {
		case errors.Is(err, data.ErrNotFound):
			newNamespaces++
		case err != nil:
			return err
		}
	}
	if newNamespaces > 0 {
		n, err := s.countPrivate(ctx, bare)
		if err != nil {
			return err
		}
		if n+newNamespaces > MaxPrivateNamespaces {
			return xmlstream.NotAllowed(fmt.Sprintf("private data is limited to %d namespaces", MaxPrivateNamespaces))
		}
	}
	for i, g := range groups {
		key := data.PrivateKey(bare, g.ns)
		var err error
		if vals[i] == nil {
			err = s.store.Delete(ctx, key)
		} else {
			_, err = s.store.Put(ctx, key, vals[i])
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// countPrivate returns the number of namespaces bare stores data under
// (counting stops past the limit).
func (s *Server) countPrivate(ctx context.Context, bare string) (int, error) {
	n := 0
	err := s.store.Scan(ctx, data.PrivatePrefix(bare), nil, MaxPrivateNamespaces+1, func(_, _ []byte, _ uint64) bool {
		n++
		return true
	})
	return n, err
}

// isEmptyElement reports whether el has no attributes and no content
// besides whitespace (what a get sends to name a namespace).
func isEmptyElement(el *xmlstream.Element) bool {
	if len(el.Attrs) != 0 || len(el.Elements()) != 0 {
		return false
	}
	return isBlank(el.Text())
}
