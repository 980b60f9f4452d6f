package auth

// PLAIN (RFC 4616): "[authzid] NUL authcid NUL passwd", checked against the
// stored SCRAM-SHA-256 keys by deriving SaltedPassword from the supplied
// password with the stored salt and iteration count. Offered only over TLS
// (or where the listener explicitly allows it).

import (
	"bytes"
	"context"
	"errors"
	"unicode/utf8"

	"mellium.im/xmpp/jid"
)

type plainExchange struct {
	a        *Accounts
	conn     ConnInfo
	started  bool
	finished bool
	account  string
	id       jid.JID
}

func (e *plainExchange) JID() jid.JID { return e.id }

func (e *plainExchange) Step(ctx context.Context, in []byte) ([]byte, bool, error) {
	if e.finished {
		return nil, false, ErrFinished
	}
	if in == nil && !e.started {
		e.started = true
		return []byte{}, false, nil
	}
	e.started = true
	e.finished = true
	if err := e.check(ctx, in); err != nil {
		return nil, false, err
	}
	return nil, true, nil
}

func (e *plainExchange) fail(cond, text string) *Failure {
	return e.a.failure(e.conn, e.account, cond, text)
}

func (e *plainExchange) check(ctx context.Context, in []byte) error {
	if len(in) > maxSASLMessage {
		return e.fail(condMalformedRequest, "message too long")
	}
	if !utf8.Valid(in) {
		return e.fail(condMalformedRequest, "not UTF-8")
	}
	parts := bytes.Split(in, []byte{0})
	if len(parts) != 3 || len(parts[1]) == 0 || len(parts[2]) == 0 {
		return e.fail(condMalformedRequest, "expected [authzid] NUL authcid NUL passwd")
	}
	authzid, authcid, passwd := string(parts[0]), string(parts[1]), string(parts[2])

	// RFC 6120 §6.3.8: the authcid is a simple user name, the localpart.
	var user jid.JID
	if u, err := jid.New(authcid, e.conn.Domain, ""); err == nil && u.Localpart() != "" {
		user = u
		e.account = u.String()
	}
	if e.a.impl.limiter.blocked(e.conn.RemoteIP, e.account) {
		return rateLimited()
	}
	known := false
	var creds scramCreds
	if e.account != "" {
		rec, _, err := e.a.load(ctx, user)
		switch {
		case err == nil:
			creds, known = rec.SHA256, true
		case !errors.Is(err, ErrNoAccount):
			return &Failure{Condition: condTemporaryAuthFailure, Text: "account store unavailable"}
		}
	}
	if !known {
		// Same PBKDF2 work for an unknown user, so timing does not tell.
		creds = e.a.fakeCreds(&sha256Hash, authcid)
	}
	if !checkPassword(&sha256Hash, &creds, passwd) || !known {
		return e.fail(condNotAuthorized, "")
	}
	if authzid != "" {
		if az, err := jid.Parse(authzid); err != nil || !az.Equal(user) {
			return e.fail(condInvalidAuthzid, "")
		}
	}
	e.a.impl.limiter.succeeded(e.account)
	e.id = user
	return nil
}
