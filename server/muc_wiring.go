package server

import (
	"context"
	"fmt"

	"github.com/gavelhq/gavel/muc"
)

// newMUC builds the XEP-0045 service at cfg.Services.MUC and registers it
// with the router and in the server's disco#items. Server admins act as
// owners of every room; accounts of the server's domain may create rooms.
// The service starts no goroutine until a room gets a stanza.
func (s *Server) newMUC() error {
	cfg := s.cfg
	svc, err := muc.New(muc.Options{
		Domain:       cfg.Services.MUC,
		Router:       s.Router,
		Store:        s.store,
		Logger:       s.log.With("pkg", "muc"),
		Admins:       append([]string{AdminJID(cfg.Domain)}, cfg.Admins...),
		Create:       muc.CreateLocalUsers,
		LocalDomains: []string{cfg.Domain},
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
