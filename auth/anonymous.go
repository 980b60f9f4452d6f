package auth

// ANONYMOUS (RFC 4505): one client message of optional trace information,
// checked for form and otherwise ignored. XEP-0175 §3 has clients send no
// initial response and the server answer <success/> at once (no empty
// challenge), so a nil first input succeeds directly. The session gets a
// fresh unguessable localpart on the anonymous domain (XEP-0175 §3).

import (
	"context"
	"encoding/base32"
	"strings"
	"unicode/utf8"

	"mellium.im/xmpp/jid"
)

// maxTrace: RFC 4505 trace is at most 255 characters, 4 bytes each in UTF-8.
const maxTrace = 255 * 4

// anonymousIDBytes of randomness name an anonymous session (128 bits).
const anonymousIDBytes = 16

type anonymousExchange struct {
	domain   string
	finished bool
	id       jid.JID
}

func (e *anonymousExchange) JID() jid.JID { return e.id }

func (e *anonymousExchange) Step(_ context.Context, in []byte) ([]byte, bool, error) {
	if e.finished {
		return nil, false, ErrFinished
	}
	e.finished = true
	if len(in) > maxTrace || !utf8.Valid(in) || utf8.RuneCount(in) > 255 {
		return nil, false, &Failure{Condition: condMalformedRequest, Text: "bad trace information"}
	}
	local := strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(randomBytes(anonymousIDBytes)))
	id, err := jid.New(local, e.domain, "")
	if err != nil {
		return nil, false, &Failure{Condition: condTemporaryAuthFailure, Text: "bad anonymous domain"}
	}
	e.id = id
	return nil, true, nil
}
