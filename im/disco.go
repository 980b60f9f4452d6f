package im

// XEP-0030 service discovery for the server domain and, on their behalf, for
// accounts (iqs to a bare JID). Disco to a full JID reaches the client itself.
//
// Server: identity server/im plus those added with AddServerIdentity; the
// features of every registered service (sorted, without duplicates); items
// are the services added with AddServerItem. No node is defined: a query
// with a node gets <item-not-found/> (XEP-0030 §7).
//
// Accounts (XEP-0030 §8, "Security Considerations"): disco#info answers
// account/registered (account/anonymous on the anonymous domain) only to the
// account itself, the server, and entities allowed to see its presence;
// everyone else gets <service-unavailable/>, the same answer as for an
// account that does not exist. disco#items never lists resources. Features
// serving nodes on accounts (PEP) register an AccountDiscoProvider: it
// answers disco#info with a node and disco#items, applying its nodes'
// access models.

import (
	"context"
	"slices"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/xmlstream"
)

const (
	nsDiscoInfo  = "http://jabber.org/protocol/disco#info"
	nsDiscoItems = "http://jabber.org/protocol/disco#items"
)

// discoItem is one <item/> of the server's disco#items.
type discoItem struct{ jid, name string }

// AccountDiscoProvider answers disco on account bare JIDs for a feature
// that serves nodes there (PEP, XEP-0163 §5, XEP-0060 §5.2-§5.5). It gets
// the account's bare JID, the iq and its <query/>, and returns the whole
// result <query/>; ok false leaves the query to the next provider (and
// then to the IM core). A *xmlstream.StanzaError is sent as is.
type AccountDiscoProvider interface {
	// DiscoInfo is asked for disco#info queries with a 'node' only (the
	// account's own identities and features are the IM core's).
	DiscoInfo(ctx context.Context, owner jid.JID, iq *xmlstream.Stanza, q *xmlstream.Element) (res *xmlstream.Element, ok bool, err error)
	// DiscoItems is asked for every disco#items query (without 'node': the
	// account's items, which never include its resources).
	DiscoItems(ctx context.Context, owner jid.JID, iq *xmlstream.Stanza, q *xmlstream.Element) (res *xmlstream.Element, ok bool, err error)
}

// accountDisco is what features add to disco on accounts.
type accountDisco struct {
	identities []*xmlstream.Element
	providers  []AccountDiscoProvider
}

// AddAccountIdentity adds a disco identity shown on every account (e.g.
// pubsub/pep), at construction.
func (s *Server) AddAccountIdentity(id *xmlstream.Element) {
	s.hooks.disco.identities = append(s.hooks.disco.identities, id)
}

// AddAccountDisco registers a provider of account nodes, at construction.
func (s *Server) AddAccountDisco(p AccountDiscoProvider) {
	s.hooks.disco.providers = append(s.hooks.disco.providers, p)
}

// AddServerItem lists a service (e.g. conference.example.org) in the server
// domain's disco#items; name is optional. Adding a JID again replaces its name.
func (s *Server) AddServerItem(jid, name string) {
	st := &s.state.services
	st.mu.Lock()
	defer st.mu.Unlock()
	for i := range st.items {
		if st.items[i].jid == jid {
			st.items[i].name = name
			return
		}
	}
	st.items = append(st.items, discoItem{jid: jid, name: name})
}

func registerDisco(s *Server) {
	s.AddServerFeature(nsDiscoInfo, nsDiscoItems)
	s.AddAccountFeature(nsDiscoInfo, nsDiscoItems)
	s.HandleServerIQ(nsDiscoInfo, "query", s.serverDiscoInfo)
	s.HandleServerIQ(nsDiscoItems, "query", s.serverDiscoItems)
	s.HandleAccountIQ(nsDiscoInfo, "query", s.accountDiscoInfo)
	s.HandleAccountIQ(nsDiscoItems, "query", s.accountDiscoItems)
}

// discoQuery starts a result <query/>, mirroring the request's node (XEP-0030 §3.2).
func discoQuery(ns string, req *xmlstream.Element) *xmlstream.Element {
	return xmlstream.NewElement(ns, "query", "node", req.Attr("node"))
}

// appendFeatures adds <feature/> elements for vars, sorted, without duplicates.
func appendFeatures(q *xmlstream.Element, vars []string) {
	vars = slices.Clone(vars)
	slices.Sort(vars)
	for _, v := range slices.Compact(vars) {
		q.Append(xmlstream.NewElement(nsDiscoInfo, "feature", "var", v))
	}
}

func (s *Server) serverDiscoInfo(ctx context.Context, iq *xmlstream.Stanza, req *xmlstream.Element) (*xmlstream.Element, error) {
	if err := getOnly(iq); err != nil {
		return nil, err
	}
	if req.Attr("node") != "" {
		return nil, xmlstream.ItemNotFound()
	}
	name := s.opts.SoftwareName
	if name == "" {
		name = defaultSoftwareName
	}
	q := discoQuery(nsDiscoInfo, req)
	q.Append(xmlstream.NewElement(nsDiscoInfo, "identity", "category", "server", "type", "im", "name", name))
	s.mu.RLock()
	for _, id := range s.identities {
		c := id.Copy()
		c.Name = xmlstream.Name{Space: nsDiscoInfo, Local: "identity"}
		q.Append(c)
	}
	features := slices.Clone(s.serverFeatures)
	s.mu.RUnlock()
	appendFeatures(q, features)
	return q, nil
}

func (s *Server) serverDiscoItems(ctx context.Context, iq *xmlstream.Stanza, req *xmlstream.Element) (*xmlstream.Element, error) {
	if err := getOnly(iq); err != nil {
		return nil, err
	}
	if req.Attr("node") != "" {
		return nil, xmlstream.ItemNotFound()
	}
	q := discoQuery(nsDiscoItems, req)
	st := &s.state.services
	st.mu.RLock()
	for _, it := range st.items {
		q.Append(xmlstream.NewElement(nsDiscoItems, "item", "jid", it.jid, "name", it.name))
	}
	st.mu.RUnlock()
	return q, nil
}

func (s *Server) accountDiscoInfo(ctx context.Context, iq *xmlstream.Stanza, req *xmlstream.Element) (*xmlstream.Element, error) {
	if err := getOnly(iq); err != nil {
		return nil, err
	}
	owner, err := jid.Parse(iq.To())
	if err != nil {
		return nil, xmlstream.JIDMalformed()
	}
	if req.Attr("node") != "" {
		// A provider's node decides its own access (a PEP node's model).
		for _, p := range s.hooks.disco.providers {
			if res, ok, err := p.DiscoInfo(ctx, owner.Bare(), iq, req); ok || err != nil {
				return res, err
			}
		}
	}
	if !s.mayDiscoverAccount(ctx, owner.Bare(), iq.From()) {
		return nil, xmlstream.ServiceUnavailable()
	}
	if req.Attr("node") != "" {
		return nil, xmlstream.ItemNotFound()
	}
	typ := "registered"
	if s.opts.AnonymousDomain != "" && owner.Domainpart() == s.opts.AnonymousDomain {
		typ = "anonymous"
	}
	q := discoQuery(nsDiscoInfo, req)
	q.Append(xmlstream.NewElement(nsDiscoInfo, "identity", "category", "account", "type", typ))
	for _, id := range s.hooks.disco.identities {
		c := id.Copy()
		c.Name = xmlstream.Name{Space: nsDiscoInfo, Local: "identity"}
		q.Append(c)
	}
	s.mu.RLock()
	features := slices.Clone(s.accountFeatures)
	s.mu.RUnlock()
	appendFeatures(q, features)
	return q, nil
}

func (s *Server) accountDiscoItems(ctx context.Context, iq *xmlstream.Stanza, req *xmlstream.Element) (*xmlstream.Element, error) {
	if err := getOnly(iq); err != nil {
		return nil, err
	}
	// Resources are never listed (XEP-0030 §8 item 2); a provider (PEP)
	// lists the nodes the requester may see.
	if owner, err := jid.Parse(iq.To()); err == nil {
		for _, p := range s.hooks.disco.providers {
			if res, ok, err := p.DiscoItems(ctx, owner.Bare(), iq, req); ok || err != nil {
				return res, err
			}
		}
	}
	return discoQuery(nsDiscoItems, req), nil
}

// mayDiscoverAccount reports whether from may learn what owner's account is
// (XEP-0030 §8): the owner's own sessions, a local server domain, or an
// entity authorized to receive the owner's presence.
func (s *Server) mayDiscoverAccount(ctx context.Context, owner jid.JID, from string) bool {
	requester, err := jid.Parse(from)
	if err != nil || from == "" {
		return false
	}
	requester = requester.Bare()
	if requester.Equal(owner) {
		return true
	}
	if requester.Localpart() == "" && (requester.Domainpart() == s.opts.Domain ||
		(s.opts.AnonymousDomain != "" && requester.Domainpart() == s.opts.AnonymousDomain)) {
		return true
	}
	if auth := s.state.services.presenceAuthorized; auth != nil {
		return auth(ctx, owner, requester)
	}
	return false
}
