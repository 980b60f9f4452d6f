package auth

// Server side of SCRAM-SHA-1, SCRAM-SHA-256 (RFC 5802, RFC 7677) and their
// -PLUS variants with the tls-exporter channel binding (RFC 9266).
//
// Written here rather than taken from mellium.im/sasl: its server needs the
// SaltedPassword for every login, and SaltedPassword is password-equivalent
// for SCRAM (it yields ClientKey). We store only StoredKey and ServerKey,
// which verify a proof and sign the answer without letting a thief of the
// database log in. mellium's server also lacks -PLUS. Its client is the
// oracle of our tests.
//
// Channel binding (RFC 5802 §6, RFC 5801 §5). We offer -PLUS only on TLS 1.3
// connections and only with tls-exporter. Every binding mismatch fails with
// not-authorized ("MUST fail authentication"), the Text carrying RFC 5802's
// server-error-value:
//   - a non-PLUS mechanism with flag 'y' while we offered -PLUS on this
//     connection: a downgrade (server-does-support-channel-binding);
//   - flag 'p' with a type other than tls-exporter, tls-unique included
//     (unsupported-channel-binding-type);
//   - flag 'p' with a non-PLUS mechanism, or 'n'/'y' with a -PLUS one: the
//     mechanism and the flag contradict each other;
//   - a c= attribute other than the gs2 header plus the exporter value
//     (channel-bindings-dont-match).
// Only a message that breaks the grammar is malformed-request.
//
// An unknown user gets the same exchange as a known one: a server-first
// message whose salt is an HMAC of the name under a per-process secret (so it
// is stable across attempts) with the default iteration count, and the same
// not-authorized/invalid-proof at the end. (Accounts created before
// Options.Iterations changed still show their old count; that is the one
// difference left.)

import (
	"context"
	"crypto/hmac"
	"crypto/subtle"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"strconv"

	"mellium.im/xmpp/jid"
)

// RFC 9266 §2.
const (
	exporterLabel = "EXPORTER-Channel-Binding"
	exporterLen   = 32
	cbTLSExporter = "tls-exporter"
)

// serverNonceLen random bytes make the s-nonce (RFC 5802 asks for enough
// randomness; we use at least 18 bytes, here 24).
const serverNonceLen = 24

type scramState uint8

const (
	scramExpectFirst scramState = iota
	scramExpectFinal
	scramFinished
)

type scramExchange struct {
	a     *Accounts
	conn  ConnInfo
	h     *scramHash
	plus  bool
	state scramState
	// started is set once Step was called: a nil first input means "no
	// initial response" and is answered with an empty challenge, once.
	started bool

	cbind   []byte // expected c= value: gs2 header plus channel binding data
	authMsg []byte // client-first-bare "," server-first ","
	nonce   string // c-nonce + s-nonce
	authzid string
	user    jid.JID // zero if the username was not a valid localpart
	account string  // limiter key: user's bare JID, "" if invalid
	known   bool    // the account exists; creds are real
	creds   scramCreds
	id      jid.JID
}

func (a *Accounts) newSCRAM(c ConnInfo, h *scramHash, plus bool) *scramExchange {
	return &scramExchange{a: a, conn: c, h: h, plus: plus}
}

func (e *scramExchange) JID() jid.JID { return e.id }

func (e *scramExchange) Step(ctx context.Context, in []byte) ([]byte, bool, error) {
	switch e.state {
	case scramExpectFirst:
		if in == nil && !e.started {
			e.started = true
			return []byte{}, false, nil
		}
		e.started = true
		out, err := e.first(ctx, in)
		if err != nil {
			e.state = scramFinished
			return nil, false, err
		}
		e.state = scramExpectFinal
		return out, false, nil
	case scramExpectFinal:
		e.state = scramFinished
		out, err := e.final(in)
		if err != nil {
			return nil, false, err
		}
		return out, true, nil
	default:
		return nil, false, ErrFinished
	}
}

func (e *scramExchange) fail(cond, text string) *Failure {
	return e.a.failure(e.conn, e.account, cond, text)
}

// first handles the client-first-message and returns the server-first-message.
func (e *scramExchange) first(ctx context.Context, in []byte) ([]byte, error) {
	if len(in) > maxSASLMessage {
		return nil, e.fail(condMalformedRequest, "message too long")
	}
	cf, err := parseClientFirst(in)
	if err != nil {
		return nil, e.fail(condMalformedRequest, err.Error())
	}
	if text := e.checkBinding(cf); text != "" {
		// Not a credential check: not counted by the failed-login limiter.
		return nil, &Failure{Condition: condNotAuthorized, Text: text, Negotiation: true}
	}
	if cf.cbFlag == 'p' {
		data, err := tlsExporter(e.conn.TLS)
		if err != nil {
			return nil, e.fail(condNotAuthorized, "channel-binding-not-supported")
		}
		e.cbind = append(append([]byte(nil), cf.gs2Header...), data...)
	} else {
		e.cbind = append([]byte(nil), cf.gs2Header...)
	}
	e.authzid = cf.authzid

	if u, err := jid.New(cf.username, e.conn.Domain, ""); err == nil && u.Localpart() != "" {
		e.user = u
		e.account = u.String()
	}
	if e.a.impl.limiter.blocked(e.conn.RemoteIP, e.account) {
		return nil, rateLimited()
	}
	if e.account != "" {
		rec, _, err := e.a.load(ctx, e.user)
		switch {
		case err == nil:
			e.creds = *rec.creds(e.h)
			e.known = true
		case !errors.Is(err, ErrNoAccount):
			return nil, &Failure{Condition: condTemporaryAuthFailure, Text: "account store unavailable"}
		}
	}
	if !e.known {
		name := cf.username
		if e.account != "" {
			name = e.user.Localpart()
		}
		e.creds = e.a.fakeCreds(e.h, name)
	}

	e.nonce = cf.nonce + e.a.newServerNonce()
	saltB64 := base64.StdEncoding.EncodeToString(e.creds.Salt)
	sf := make([]byte, 0, 2+len(e.nonce)+3+len(saltB64)+3+10)
	sf = append(sf, "r="...)
	sf = append(sf, e.nonce...)
	sf = append(sf, ",s="...)
	sf = append(sf, saltB64...)
	sf = append(sf, ",i="...)
	sf = strconv.AppendInt(sf, int64(e.creds.Iterations), 10)

	e.authMsg = make([]byte, 0, len(cf.bare)+1+len(sf)+1+128)
	e.authMsg = append(e.authMsg, cf.bare...)
	e.authMsg = append(e.authMsg, ',')
	e.authMsg = append(e.authMsg, sf...)
	e.authMsg = append(e.authMsg, ',')
	return sf, nil
}

// checkBinding applies RFC 5802 §6 to the gs2-cbind-flag; "" if acceptable,
// else the server-error-value explaining the refusal.
func (e *scramExchange) checkBinding(cf *clientFirst) string {
	switch cf.cbFlag {
	case 'p':
		if !e.plus {
			return "channel binding requires a -PLUS mechanism"
		}
		if cf.cbName != cbTLSExporter {
			return "unsupported-channel-binding-type"
		}
		if e.conn.TLS == nil {
			return "channel-binding-not-supported"
		}
	case 'y':
		if e.plus {
			return "-PLUS requires channel binding"
		}
		if channelBindingOffered(e.conn) {
			return "server-does-support-channel-binding"
		}
	case 'n':
		if e.plus {
			return "-PLUS requires channel binding"
		}
	}
	return ""
}

// final handles the client-final-message and returns the server-final-message.
func (e *scramExchange) final(in []byte) ([]byte, error) {
	if len(in) > maxSASLMessage {
		return nil, e.fail(condMalformedRequest, "message too long")
	}
	cf, err := parseClientFinal(in, e.h.size)
	if err != nil {
		return nil, e.fail(condMalformedRequest, err.Error())
	}
	if !hmac.Equal(cf.cbind, e.cbind) {
		return nil, e.fail(condNotAuthorized, "channel-bindings-dont-match")
	}
	if cf.nonce != e.nonce {
		return nil, e.fail(condNotAuthorized, "nonce mismatch")
	}
	authMsg := append(e.authMsg, cf.withoutProof...)
	// ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage); the proof is
	// good iff H(ClientKey) = StoredKey.
	clientKey := e.h.hmac(e.creds.StoredKey, authMsg)
	subtle.XORBytes(clientKey, clientKey, cf.proof)
	ok := hmac.Equal(e.h.sum(clientKey), e.creds.StoredKey)
	serverSig := e.h.hmac(e.creds.ServerKey, authMsg)
	if !ok || !e.known {
		return nil, e.fail(condNotAuthorized, "invalid-proof")
	}
	if e.authzid != "" {
		if az, err := jid.Parse(e.authzid); err != nil || !az.Equal(e.user) {
			return nil, e.fail(condInvalidAuthzid, "")
		}
	}
	e.a.impl.limiter.succeeded(e.account)
	e.id = e.user
	out := make([]byte, 2+base64.StdEncoding.EncodedLen(len(serverSig)))
	copy(out, "v=")
	base64.StdEncoding.Encode(out[2:], serverSig)
	return out, nil
}

// tlsExporter returns the RFC 9266 channel binding of the connection. A
// ConnectionState not made by crypto/tls has no exporter and would make
// ExportKeyingMaterial panic; that is reported as an error instead.
func tlsExporter(cs *tls.ConnectionState) (data []byte, err error) {
	defer func() {
		if recover() != nil {
			data, err = nil, errors.New("auth: connection state has no keying material exporter")
		}
	}()
	data, err = cs.ExportKeyingMaterial(exporterLabel, nil, exporterLen)
	if err == nil && len(data) != exporterLen {
		err = errors.New("auth: short exporter value")
	}
	return data, err
}

// fakeCreds are the credentials of the pretend account of an unknown user:
// a salt derived from the name so repeated attempts see the same one.
func (a *Accounts) fakeCreds(h *scramHash, name string) scramCreds {
	salt := sha256Hash.hmac(a.impl.fakeSecret, []byte(h.name), []byte{0}, []byte(name))[:saltLen]
	return scramCreds{
		Salt:       salt,
		Iterations: a.impl.iterations,
		StoredKey:  a.impl.fakeStored[:h.size],
		ServerKey:  a.impl.fakeServer[:h.size],
	}
}

func (a *Accounts) newServerNonce() string {
	if a.impl.serverNonce != nil {
		return a.impl.serverNonce()
	}
	return base64.RawStdEncoding.EncodeToString(randomBytes(serverNonceLen))
}
