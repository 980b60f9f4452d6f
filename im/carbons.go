package im

// XEP-0280 message carbons (placeholder until implemented).

func registerCarbons(s *Server) {}
