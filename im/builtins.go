package im

// registerBuiltins registers the IQ services of this package. Each feature
// file provides a register function; this list is the one place they meet.
func (s *Server) registerBuiltins() {
	for _, reg := range []func(*Server){
		registerRoster,   // roster.go
		registerServices, // services.go: disco, ping, version, time
	} {
		reg(s)
	}
}
