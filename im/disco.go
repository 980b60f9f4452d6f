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
// account that does not exist. disco#items never lists resources, so it is
// an empty result for every requester.

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
	// Resources are never listed (XEP-0030 §8 item 2), and no node is
	// defined yet, so every requester sees the same empty set.
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
