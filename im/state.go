package im

// imState holds the in-memory state of the feature files; each adds its fields here.
type imState struct {
	// offline.go: per-account serialization of queue delivery.
	offline offlineState
	// services.go, disco.go: disco items, the presence-authorization hook, the clock.
	services serviceState
	// presence.go: per-session directed-presence targets (RFC 6121 §4.6).
	presence presenceState
	// blocking.go: blocklist cache and the sessions that asked for it (XEP-0191).
	blocking blockState
	// lastactivity.go: start time and pending logout status (XEP-0012).
	last lastState
	// mam.go: archiving configuration (XEP-0313).
	mam mamState
	// carbons.go: carbons-enabled sessions per account (XEP-0280).
	carbons carbonsState
	// iqrequest.go: iqs the server sent and awaits answers to.
	iq iqRequests
}
