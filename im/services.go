package im

// The server's own services: XEP-0199 ping, XEP-0092 software version,
// XEP-0202 entity time (disco is in disco.go), and the messages and presence
// addressed to the server domain itself.
//
// These protocols define only iq get. A set carrying one of their payloads
// gets <feature-not-implemented/> (RFC 6120 §8.3.3.3: the namespace is
// understood, the request is not); an unknown payload gets
// <service-unavailable/> from the dispatcher (RFC 6120 §8.4).

import (
	"context"
	"sync"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/xmlstream"
)

const (
	nsPing    = "urn:xmpp:ping"
	nsVersion = "jabber:iq:version"
	nsTime    = "urn:xmpp:time"
)

// Defaults for XEP-0092 when Options leaves them empty.
const (
	defaultSoftwareName    = "Gavel"
	defaultSoftwareVersion = "dev"
)

// serviceState is the in-memory part of the server's own services.
type serviceState struct {
	mu    sync.RWMutex
	items []discoItem // disco#items of the server domain, in the order added

	// presenceAuthorized reports whether requester may receive owner's
	// presence (owner's roster has a subscription 'from' or 'both' to it);
	// it gates disco#info on accounts (XEP-0030 §8). Nil: only the owner
	// and the server itself are authorized. Set by the roster feature.
	presenceAuthorized func(ctx context.Context, owner, requester jid.JID) bool

	// clock is the server clock (nil: time.Now); tests fix it.
	clock func() time.Time
}

// now is the server clock.
func (s *Server) now() time.Time {
	if c := s.state.services.clock; c != nil {
		return c()
	}
	return time.Now()
}

// registerServices registers disco, ping, version and time, and offline storage.
func registerServices(s *Server) {
	registerOffline(s)
	registerDisco(s)

	s.AddServerFeature(nsPing, nsVersion, nsTime)
	s.AddAccountFeature(nsPing)
	s.HandleServerIQ(nsPing, "ping", s.handlePing)
	// XEP-0199 §4.2: a ping to a bare JID is answered by the server on the account's behalf.
	s.HandleAccountIQ(nsPing, "ping", s.handlePing)
	s.HandleServerIQ(nsVersion, "query", s.handleVersion)
	s.HandleServerIQ(nsTime, "time", s.handleTime)
}

// getOnly rejects an iq set on a get-only protocol.
func getOnly(iq *xmlstream.Stanza) error {
	if iq.Type() != "get" {
		return xmlstream.FeatureNotImplemented("only iq get is defined for this namespace")
	}
	return nil
}

// handlePing answers XEP-0199 pings with an empty result.
func (s *Server) handlePing(ctx context.Context, iq *xmlstream.Stanza, _ *xmlstream.Element) (*xmlstream.Element, error) {
	return nil, getOnly(iq)
}

// handleVersion answers XEP-0092. <os/> is optional (§2) and never sent:
// §5 asks that disclosing it can be disabled; Gavel simply does not.
func (s *Server) handleVersion(ctx context.Context, iq *xmlstream.Stanza, _ *xmlstream.Element) (*xmlstream.Element, error) {
	if err := getOnly(iq); err != nil {
		return nil, err
	}
	name, version := s.opts.SoftwareName, s.opts.SoftwareVersion
	if name == "" {
		name = defaultSoftwareName
	}
	if version == "" {
		version = defaultSoftwareVersion
	}
	q := xmlstream.NewElement(nsVersion, "query")
	q.Append(xmlstream.NewElement(nsVersion, "name").AppendText(name))
	q.Append(xmlstream.NewElement(nsVersion, "version").AppendText(version))
	return q, nil
}

// handleTime answers XEP-0202 in UTC: the server reports no local zone.
func (s *Server) handleTime(ctx context.Context, iq *xmlstream.Stanza, _ *xmlstream.Element) (*xmlstream.Element, error) {
	if err := getOnly(iq); err != nil {
		return nil, err
	}
	t := xmlstream.NewElement(nsTime, "time")
	t.Append(xmlstream.NewElement(nsTime, "tzo").AppendText("+00:00"))
	t.Append(xmlstream.NewElement(nsTime, "utc").AppendText(stamp(s.now())))
	return t, nil
}

// toServer handles a message or presence addressed to the server domain
// itself (RFC 6120 §10.3: the server handles it or returns an error).
//
// Messages: the server offers no message service, so normal, chat and
// groupchat bounce with <service-unavailable/> (as RFC 6121 §8.5.2.2.1 does
// for an entity that cannot take them); headline and error are dropped
// silently (RFC 6121 §8.5.2.2.1, RFC 6120 §8.3.1: errors are never answered).
//
// Presence: the server has no roster, so it is nobody's contact. A probe is
// answered with type 'unsubscribed' (RFC 6121 §4.3.2: the prober has no
// 'from' subscription), and a subscription request is declined the way a
// contact declines one, with 'unsubscribed' (RFC 6121 §3.2); either also
// clears a stale roster item on the sender's side. Any other presence to the
// domain (directed availability, subscribed, unsubscribe(d), error) needs no
// answer and is dropped.
func (s *Server) toServer(ctx context.Context, st *xmlstream.Stanza) {
	switch st.Name.Local {
	case xmlstream.KindMessage:
		switch st.Type() {
		case "headline", "error":
		default:
			s.bounce(ctx, st, xmlstream.ServiceUnavailable())
		}
	case xmlstream.KindPresence:
		switch st.Type() {
		case "probe", "subscribe":
			from, err := jid.Parse(st.From())
			if err != nil || st.From() == "" {
				return
			}
			reply := xmlstream.NewElement(xmlstream.NSClient, xmlstream.KindPresence,
				"from", st.To(), "to", from.Bare().String(), "type", "unsubscribed")
			s.send(ctx, xmlstream.NewStanza(reply))
		}
	}
}
