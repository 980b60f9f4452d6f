package im

// XEP-0049 private XML storage (placeholder until implemented).

func registerPrivate(s *Server) {}
