package im

// imState holds the in-memory state of the feature files; each adds its fields here.
type imState struct {
	// offline.go: per-account serialization of queue delivery.
	offline offlineState
	// services.go, disco.go: disco items, the presence-authorization hook, the clock.
	services serviceState
	// presence.go: per-session directed-presence targets (RFC 6121 §4.6).
	presence presenceState
}
