package server

import (
	"context"
	"fmt"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/muc"
	"github.com/gavelhq/gavel/pubsub"
)

// newPubSub builds the XEP-0060 service at cfg.Services.PubSub from the
// pubsub: section and registers it with the router and in the server's
// disco#items. The adapter (pubsub.Protocol) is the router's handler for
// the domain and the core's Notifier; server admins act as owners of every
// node. No node goroutine starts until a node is used.
func (s *Server) newPubSub() error {
	cfg := s.cfg
	p := cfg.PubSub
	def := pubsubDefaultConfig(p.DefaultNode)
	proto := pubsub.NewProtocol(pubsub.ProtocolOptions{
		Router: s.Router,
		Logger: s.log.With("pkg", "pubsub"),
		Name:   p.Name,
	})
	svc, err := pubsub.New(pubsub.Options{
		Host:     cfg.Services.PubSub,
		Store:    s.store,
		Notifier: proto,
		// Relations answers the presence and roster access models and
		// presence-based delivery from the IM core's rosters and sessions.
		Relations:              s.pubsubRelations(),
		Logger:                 s.log.With("pkg", "pubsub"),
		Admins:                 append([]string{AdminJID(cfg.Domain)}, cfg.Admins...),
		Create:                 pubsubCreatePolicy(p.Create),
		LocalDomains:           []string{cfg.Domain},
		DefaultConfig:          &def,
		MaxItemsLimit:          p.MaxItems,
		MaxPayloadLimit:        p.MaxPayloadSize,
		MaxSubscriptionsPerJID: p.MaxSubscriptionsPerJID,
		MailboxSize:            p.MailboxSize,
		IdleTimeout:            p.IdleTimeout,
	})
	if err != nil {
		return fmt.Errorf("pubsub: %w", err)
	}
	proto.Attach(svc)
	s.pubsub = svc
	s.Router.HandleDomain(cfg.Services.PubSub, proto, false)
	s.IM.AddServerItem(cfg.Services.PubSub, p.Name)
	host := cfg.Services.PubSub
	s.Accounts.OnDelete(func(ctx context.Context, bare jid.JID) error {
		return svc.ForgetUser(ctx, host, bare)
	})
	return nil
}

// pubsubRelations is what the pubsub service asks about rosters and
// presence (pubsub.Relations): the IM core's rosters and sessions.
func (s *Server) pubsubRelations() pubsub.Relations { return s.IM.Relations() }

// pubsubCreatePolicy maps pubsub.create (validated with the config, same
// words as muc.create) to the core's policy.
func pubsubCreatePolicy(word string) pubsub.CreatePolicy {
	p, _ := muc.ParseCreatePolicy(word)
	switch p {
	case muc.CreateAnyone:
		return pubsub.CreateAnyone
	case muc.CreateAdmins:
		return pubsub.CreateAdmins
	}
	return pubsub.CreateLocalUsers
}

// pubsubDefaultConfig is pubsub.DefaultConfig with the pubsub.default_node
// values that are set.
func pubsubDefaultConfig(d NodeDefaults) pubsub.Config {
	c := pubsub.DefaultConfig()
	if d.AccessModel != "" {
		c.AccessModel = d.AccessModel
	}
	if d.PublishModel != "" {
		c.PublishModel = d.PublishModel
	}
	if d.MaxItems != 0 {
		c.MaxItems = d.MaxItems
	}
	c.PersistItems = d.PersistItems
	c.ItemExpire = d.ItemExpire
	c.DeliverPayloads = d.DeliverPayloads
	if d.SendLastPublishedItem != "" {
		c.SendLastPublishedItem = d.SendLastPublishedItem
	}
	if d.NotificationType != "" {
		c.NotificationType = d.NotificationType
	}
	return c
}

// stopPubSub stops the node actors before the streams and the store close.
func (s *Server) stopPubSub(ctx context.Context) error {
	if s.pubsub == nil {
		return nil
	}
	return s.pubsub.Close(ctx)
}
