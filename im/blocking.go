package im

// XEP-0191 blocking command (placeholder until implemented).

func registerBlocking(s *Server) {}
