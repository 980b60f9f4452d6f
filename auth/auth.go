// Package auth owns accounts and SASL: salted SCRAM keys in the Store (never
// passwords), the server side of PLAIN, SCRAM-SHA-1/256(-PLUS) and ANONYMOUS,
// and the failed-login rate limits. It knows nothing of XML: the stream layer
// turns Exchange steps into <challenge/>, <success/> and <failure/>.
package auth

import (
	"context"
	"crypto/tls"
	"errors"
	"net/netip"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/data"
)

var (
	ErrExists    = errors.New("auth: account exists")
	ErrNoAccount = errors.New("auth: no such account")
	ErrBadName   = errors.New("auth: invalid username")
	ErrWeak      = errors.New("auth: password rejected")
)

// Options configure accounts and SASL.
type Options struct {
	// Iterations for new SCRAM keys (default 4096, RFC 7677's minimum).
	Iterations int
	// AnonymousDomain, if set, is a host whose sessions log in with SASL
	// ANONYMOUS (and only that).
	AnonymousDomain string
	// Failed-login limits: at most MaxFailuresPerIP and MaxFailuresPerAccount
	// failures within FailureWindow; beyond that logins are refused with
	// temporary-auth-failure until the window passes. 0 = defaults (10, 5, 5m).
	MaxFailuresPerIP      int
	MaxFailuresPerAccount int
	FailureWindowSeconds  int
}

// Accounts is the account database and SASL server.
type Accounts struct {
	kv   data.KV
	opts Options
	// implementation fields added by auth's implementation
	impl accountsImpl
}

// New returns Accounts over kv.
func New(kv data.KV, o Options) *Accounts { return newAccounts(kv, o) }

// Create adds an account with the given password; ErrExists if it exists,
// ErrBadName if the localpart is empty or not a valid JID localpart.
func (a *Accounts) Create(ctx context.Context, bare jid.JID, password string) error {
	return a.create(ctx, bare, password)
}

// SetPassword replaces the credentials of an existing account.
func (a *Accounts) SetPassword(ctx context.Context, bare jid.JID, password string) error {
	return a.setPassword(ctx, bare, password)
}

// Delete removes the account and runs the OnDelete hooks (roster, offline
// queue, ... of other packages). ErrNoAccount if absent.
func (a *Accounts) Delete(ctx context.Context, bare jid.JID) error { return a.delete(ctx, bare) }

// Exists reports whether the account exists.
func (a *Accounts) Exists(ctx context.Context, bare jid.JID) (bool, error) {
	return a.exists(ctx, bare)
}

// List returns the localparts of domain's accounts in order.
func (a *Accounts) List(ctx context.Context, domain string) ([]string, error) {
	return a.list(ctx, domain)
}

// Verify checks a password (used by PLAIN and by tools).
func (a *Accounts) Verify(ctx context.Context, bare jid.JID, password string) error {
	return a.verify(ctx, bare, password)
}

// OnDelete registers cleanup run when an account is deleted.
func (a *Accounts) OnDelete(fn func(ctx context.Context, bare jid.JID) error) { a.onDelete(fn) }

// ConnInfo is what SASL needs to know about the connection.
type ConnInfo struct {
	Domain string // the stream's 'to' host
	// TLS is the connection state once TLS is up, nil on a plain stream.
	TLS *tls.ConnectionState
	// PlainWithoutTLS allows PLAIN on this unencrypted stream (dev mode on loopback).
	PlainWithoutTLS bool
	RemoteIP        netip.Addr
}

// Mechanisms lists the SASL mechanisms to offer on this connection, best first.
func (a *Accounts) Mechanisms(c ConnInfo) []string { return a.mechanisms(c) }

// Failure is a SASL failure with its RFC 6120 §6.5 condition
// (aborted, account-disabled, credentials-expired, encryption-required,
// incorrect-encoding, invalid-authzid, invalid-mechanism, malformed-request,
// mechanism-too-weak, not-authorized, temporary-auth-failure).
type Failure struct {
	Condition string
	Text      string
	// Negotiation is set when the attempt failed before any credential was
	// checked (no common channel-binding type, a mechanism not offered, an
	// abort): it says nothing about the password, so the stream need not
	// count it as a guess. Clients fall through mechanisms this way, e.g.
	// one that only knows tls-unique tries -PLUS first.
	Negotiation bool
}

func (f *Failure) Error() string { return "sasl: " + f.Condition + " " + f.Text }

// Exchange is one SASL authentication in progress.
type Exchange interface {
	// Step consumes the client's data (the initial response first, nil if
	// none was sent) and returns the server data. done=true means success;
	// out is then the additional data for <success/>. A *Failure error ends it.
	Step(ctx context.Context, in []byte) (out []byte, done bool, err error)
	// JID is the authenticated bare JID once done.
	JID() jid.JID
}

// Begin starts mech on the connection; a *Failure (invalid-mechanism,
// encryption-required, temporary-auth-failure) if it may not be used.
func (a *Accounts) Begin(c ConnInfo, mech string) (Exchange, error) { return a.begin(c, mech) }
