package server

import (
	"context"
	"fmt"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/caps"
	"github.com/gavelhq/gavel/im"
	"github.com/gavelhq/gavel/pubsub"
	"github.com/gavelhq/gavel/router"
	"github.com/gavelhq/gavel/xmlstream"
)

// capsQueryTimeout bounds the wait for a client's disco#info answer to a
// caps query (XEP-0115 §6.2); a client that does not answer gets no
// +notify features until its next presence with other caps.
const capsQueryTimeout = 20 * time.Second

// pepService is PEP's wiring (docs/pep.md): the per-account pubsub
// service, its XEP-0060 adapter, the tracker of implicit subscriptions
// and the caps cache it resolves features with.
type pepService struct {
	svc     *pubsub.Service
	proto   *pubsub.Protocol
	tracker *pubsub.PEP
	caps    *caps.Cache
}

// newPEP builds the per-account pubsub service (XEP-0163) from the pep:
// section and hooks it into im: account iqs and disco, presence and caps,
// account deletion. The presence of local sessions also reaches the
// pubsub.<domain> service (presence-based delivery, last item on
// presence), PEP enabled or not.
func (s *Server) newPEP() error {
	s.IM.OnSessionPresence(s.pubsubSessionPresence)
	cfg := s.cfg
	if !cfg.PEP.Enabled {
		return nil
	}
	log := s.log.With("pkg", "pep")
	cache, err := caps.OpenCache(context.Background(), caps.CacheOptions{Store: s.store, Logger: log})
	if err != nil {
		return fmt.Errorf("pep: caps cache: %w", err)
	}
	resolver := caps.NewResolver(caps.ResolverOptions{Cache: cache, Query: s.capsQuery, Logger: log})
	rel := s.IM.Relations()
	tracker := pubsub.NewPEP(pubsub.PEPOptions{Caps: resolver, Relations: rel, Blocked: s.IM.IsBlocked, Logger: log})
	proto := pubsub.NewProtocol(pubsub.ProtocolOptions{Router: s.Router, Logger: log})
	local := []string{cfg.Domain}
	if cfg.Auth.AnonymousDomain != "" {
		local = append(local, cfg.Auth.AnonymousDomain)
	}
	svc, err := pubsub.New(pubsub.Options{
		PEP:             true,
		Store:           s.store,
		Notifier:        proto,
		Relations:       rel,
		Interest:        tracker,
		Logger:          log,
		LocalDomains:    local,
		MaxItemsLimit:   cfg.PEP.MaxItems,
		MaxPayloadLimit: cfg.PEP.MaxPayloadSize,
		MaxNodesPerHost: cfg.PEP.MaxNodes,
	})
	if err != nil {
		return fmt.Errorf("pep: %w", err)
	}
	proto.Attach(svc)
	tracker.Attach(svc)
	s.pep = &pepService{svc: svc, proto: proto, tracker: tracker, caps: cache}

	handler := func(ctx context.Context, iq *xmlstream.Stanza, payload *xmlstream.Element) (*xmlstream.Element, error) {
		host, err := pepHost(iq)
		if err != nil {
			return nil, err
		}
		return proto.HandleIQ(ctx, host, iq, payload)
	}
	s.IM.HandleAccountIQ(pubsub.NSPubSub, "pubsub", handler)
	s.IM.HandleAccountIQ(pubsub.NSPubSubOwner, "pubsub", handler)
	// XEP-0163 §6.1: identity pubsub/pep and the pubsub features on the
	// account; XEP-0060 §9: pubsub-on-a-jid.
	s.IM.AddAccountIdentity(xmlstream.NewElement("", "identity", "category", "pubsub", "type", "pep"))
	s.IM.AddAccountFeature(pubsub.Features(true)...)
	s.IM.AddAccountFeature(pubsub.NSPubSub + "#pubsub-on-a-jid")
	s.IM.AddAccountDisco(pepDisco{proto})

	s.IM.OnContactPresence(func(ctx context.Context, owner, from jid.JID, pc im.PresenceChange) {
		if pc.Available {
			tracker.ContactAvailable(ctx, owner, from, capsOf(pc.Caps))
		} else {
			tracker.ContactUnavailable(owner, from)
		}
	})
	s.Accounts.OnDelete(func(ctx context.Context, bare jid.JID) error {
		tracker.ForgetHost(bare.String())
		return svc.DeleteHost(ctx, bare.String())
	})
	if anon := cfg.Auth.AnonymousDomain; anon != "" {
		// An anonymous account lives as long as its sessions: its nodes go
		// with the last one.
		s.IM.OnSessionEnded(func(ctx context.Context, sess router.Session, _ router.Resource) {
			bare := sess.JID().Bare()
			if bare.Domainpart() == anon && len(s.Router.Resources(bare.String())) == 0 {
				tracker.ForgetHost(bare.String())
				if err := svc.DeleteHost(ctx, bare.String()); err != nil {
					log.Warn("pep: anonymous account's nodes not deleted", "jid", bare.String(), "err", err)
				}
			}
		})
	}
	return nil
}

// pubsubSessionPresence tells both pubsub services and PEP's tracker
// about a local session's presence.
func (s *Server) pubsubSessionPresence(ctx context.Context, full jid.JID, pc im.PresenceChange) {
	if pc.Available {
		if s.pubsub != nil {
			s.pubsub.Available(ctx, full, pc.Show)
		}
		if s.pep != nil {
			s.pep.svc.Available(ctx, full, pc.Show)
			s.pep.tracker.SessionAvailable(ctx, full, capsOf(pc.Caps), pc.Initial)
		}
		return
	}
	if s.pubsub != nil {
		s.pubsub.Unavailable(ctx, full)
	}
	if s.pep != nil {
		s.pep.svc.Unavailable(ctx, full)
		s.pep.tracker.SessionUnavailable(full)
	}
}

// pepHost is the PEP service an account iq addresses: its 'to' (c2s sets
// the sender's bare JID when a client leaves it out), else the sender's
// bare JID.
func pepHost(iq *xmlstream.Stanza) (string, error) {
	addr := iq.To()
	if addr == "" {
		addr = iq.From()
	}
	j, err := jid.Parse(addr)
	if err != nil || j.Localpart() == "" {
		return "", xmlstream.JIDMalformed()
	}
	return j.Bare().String(), nil
}

// capsOf parses a presence's <c/> (nil when absent or malformed).
func capsOf(el *xmlstream.Element) *caps.Caps {
	c, ok := caps.Parse(el)
	if !ok {
		return nil
	}
	return &c
}

// capsQuery asks an entity for the disco#info of a caps node, from an
// account's bare JID (XEP-0060 §9.2's example), through the IM core.
func (s *Server) capsQuery(ctx context.Context, from, to jid.JID, node string, done func(*xmlstream.Element, error)) error {
	q := xmlstream.NewElement(caps.NSDiscoInfo, "query", "node", node)
	return s.IM.SendIQ(ctx, from, to, "get", q, capsQueryTimeout, func(res *xmlstream.Stanza, err error) {
		if err != nil {
			done(nil, err)
			return
		}
		el, err := res.Element()
		if err != nil {
			done(nil, err)
			return
		}
		done(el.Child(caps.NSDiscoInfo, "query"), nil)
	})
}

// pepDisco answers disco on accounts for their PEP nodes (XEP-0060
// §5.2-§5.5 with the account as the service), through the adapter.
type pepDisco struct{ proto *pubsub.Protocol }

func (d pepDisco) DiscoInfo(ctx context.Context, owner jid.JID, iq *xmlstream.Stanza, q *xmlstream.Element) (*xmlstream.Element, bool, error) {
	res, err := d.proto.HandleDisco(ctx, owner.String(), iq, q)
	return res, true, err
}

func (d pepDisco) DiscoItems(ctx context.Context, owner jid.JID, iq *xmlstream.Stanza, q *xmlstream.Element) (*xmlstream.Element, bool, error) {
	res, err := d.proto.HandleDisco(ctx, owner.String(), iq, q)
	return res, true, err
}

// stopPEP stops PEP's node actors.
func (s *Server) stopPEP(ctx context.Context) error {
	if s.pep == nil {
		return nil
	}
	return s.pep.svc.Close(ctx)
}
