package server

import "context"

// newPEP builds the per-account pubsub service (XEP-0163) from the pep:
// section and hooks it into im (account iqs, presence, caps).
// (Wired by the PEP work.)
func (s *Server) newPEP() error { return nil }

// stopPEP stops PEP's node actors.
func (s *Server) stopPEP(ctx context.Context) error { return nil }
