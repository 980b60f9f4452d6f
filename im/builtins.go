package im

// registerBuiltins registers the features of this package. Each feature
// file provides a register function; this list is the one place they meet.
func (s *Server) registerBuiltins() {
	for _, reg := range []func(*Server){
		registerRoster,       // roster.go, subscription.go, presence.go
		registerServices,     // services.go, disco.go, offline.go
		registerBlocking,     // blocking.go (XEP-0191)
		registerVCard,        // vcard.go (XEP-0054)
		registerPrivate,      // private.go (XEP-0049)
		registerLastActivity, // lastactivity.go (XEP-0012)
		registerMAM,          // mam.go (XEP-0313, XEP-0359)
		registerCarbons,      // carbons.go (XEP-0280)
		registerRegistration, // register.go (XEP-0077)
		registerAdhoc,        // adhoc.go, admin_commands.go, push.go (XEP-0050, XEP-0133); after registerServices
	} {
		reg(s)
	}
}
