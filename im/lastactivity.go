package im

// XEP-0012 last activity (placeholder until implemented).

func registerLastActivity(s *Server) {}
