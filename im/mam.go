package im

// XEP-0313 message archive management (placeholder until implemented).

func registerMAM(s *Server) {}
