package server

import (
	"context"
	"fmt"

	"github.com/gavelhq/gavel/muc"
)

// newMUC builds the XEP-0045 service at cfg.Services.MUC from the muc:
// section and registers it with the router and in the server's
// disco#items. Server admins act as owners of every room. The service
// starts no goroutine until a room gets a stanza.
func (s *Server) newMUC() error {
	cfg := s.cfg
	m := cfg.MUC
	create, _ := muc.ParseCreatePolicy(m.Create) // validated with the config
	def := muc.DefaultRoomConfig()
	d := m.DefaultRoom
	def.Public, def.Persistent, def.MembersOnly, def.Moderated = d.Public, d.Persistent, d.MembersOnly, d.Moderated
	def.Whois, def.AllowPM, def.MaxUsers = d.Whois, d.AllowPM, d.MaxUsers
	def.ChangeSubject, def.AllowInvites, def.Archiving = d.ChangeSubject, d.AllowInvites, d.Archiving
	svc, err := muc.New(muc.Options{
		Domain:           cfg.Services.MUC,
		Name:             m.Name,
		Router:           s.Router,
		Store:            s.store,
		Logger:           s.log.With("pkg", "muc"),
		Admins:           append([]string{AdminJID(cfg.Domain)}, cfg.Admins...),
		Create:           create,
		LocalDomains:     []string{cfg.Domain},
		MaxRoomsPerUser:  m.MaxRoomsPerUser,
		DefaultConfig:    &def,
		MaxHistoryFetch:  m.MaxHistoryFetch,
		HistoryRetention: m.HistoryRetention,
		MailboxSize:      m.MailboxSize,
		IdleTimeout:      m.IdleTimeout,
	})
	if err != nil {
		return fmt.Errorf("muc: %w", err)
	}
	s.muc = svc
	s.Router.HandleDomain(svc.Domain(), svc, false)
	s.IM.AddServerItem(svc.Domain(), svc.Name())
	return nil
}

// stopMUC stops the room actors (occupants get status 332) before the
// streams and the store close.
func (s *Server) stopMUC(ctx context.Context) error {
	if s.muc == nil {
		return nil
	}
	return s.muc.Close(ctx)
}
