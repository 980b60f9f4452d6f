package im

// XEP-0054 vcard-temp (placeholder until implemented).

func registerVCard(s *Server) {}
