package auth

import (
	"crypto/tls"
	"slices"
)

// SASL mechanism names (IANA registry).
const (
	MechSCRAMSHA256Plus = "SCRAM-SHA-256-PLUS"
	MechSCRAMSHA1Plus   = "SCRAM-SHA-1-PLUS"
	MechSCRAMSHA256     = "SCRAM-SHA-256"
	MechSCRAMSHA1       = "SCRAM-SHA-1"
	MechPlain           = "PLAIN"
	MechAnonymous       = "ANONYMOUS"
)

// RFC 6120 §6.5 failure conditions used here.
const (
	condEncryptionRequired   = "encryption-required"
	condInvalidAuthzid       = "invalid-authzid"
	condInvalidMechanism     = "invalid-mechanism"
	condMalformedRequest     = "malformed-request"
	condNotAuthorized        = "not-authorized"
	condTemporaryAuthFailure = "temporary-auth-failure"
)

// maxSASLMessage bounds one client message. The longest legitimate one is a
// SCRAM client-first with a 1023-byte localpart, escaped, and an authzid.
const maxSASLMessage = 8192

func (a *Accounts) isAnonymous(c ConnInfo) bool {
	return a.impl.anonDomain != "" && c.Domain == a.impl.anonDomain
}

// channelBindingOffered: tls-exporter (RFC 9266) is only defined for TLS 1.3
// (earlier versions need the extended master secret, which Go's state does
// not expose), and tls-unique is unsafe there, so -PLUS is TLS 1.3 only.
func channelBindingOffered(c ConnInfo) bool {
	return c.TLS != nil && c.TLS.Version >= tls.VersionTLS13
}

func plainAllowed(c ConnInfo) bool { return c.TLS != nil || c.PlainWithoutTLS }

func (a *Accounts) mechanisms(c ConnInfo) []string {
	if a.isAnonymous(c) {
		return []string{MechAnonymous}
	}
	m := make([]string, 0, 5)
	if channelBindingOffered(c) {
		m = append(m, MechSCRAMSHA256Plus, MechSCRAMSHA1Plus)
	}
	m = append(m, MechSCRAMSHA256, MechSCRAMSHA1)
	if plainAllowed(c) {
		m = append(m, MechPlain)
	}
	return m
}

func (a *Accounts) begin(c ConnInfo, mech string) (Exchange, error) {
	if mech == MechPlain && !a.isAnonymous(c) && !plainAllowed(c) {
		return nil, &Failure{Condition: condEncryptionRequired, Negotiation: true}
	}
	if !slices.Contains(a.mechanisms(c), mech) {
		return nil, &Failure{Condition: condInvalidMechanism, Negotiation: true}
	}
	if a.impl.limiter.blockedIP(c.RemoteIP) {
		return nil, rateLimited()
	}
	switch mech {
	case MechSCRAMSHA256Plus:
		return a.newSCRAM(c, &sha256Hash, true), nil
	case MechSCRAMSHA1Plus:
		return a.newSCRAM(c, &sha1Hash, true), nil
	case MechSCRAMSHA256:
		return a.newSCRAM(c, &sha256Hash, false), nil
	case MechSCRAMSHA1:
		return a.newSCRAM(c, &sha1Hash, false), nil
	case MechPlain:
		return &plainExchange{a: a, conn: c}, nil
	case MechAnonymous:
		return &anonymousExchange{domain: a.impl.anonDomain}, nil
	}
	return nil, &Failure{Condition: condInvalidMechanism, Negotiation: true}
}

// failure ends an exchange. Conditions that mean "wrong credentials or a
// broken client" count against the address, and against the account when one
// was named; the limiter's own refusal and an authorization mismatch after a
// correct password do not.
func (a *Accounts) failure(c ConnInfo, account, cond, text string) *Failure {
	switch cond {
	case condNotAuthorized:
		a.impl.limiter.failed(c.RemoteIP, account)
	case condMalformedRequest:
		a.impl.limiter.failed(c.RemoteIP, "")
	}
	return &Failure{Condition: cond, Text: text}
}

// rateLimited is the failure of an attempt refused by the limiter.
func rateLimited() *Failure {
	return &Failure{Condition: condTemporaryAuthFailure, Text: "too many failed logins"}
}
