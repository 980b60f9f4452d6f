package c2s

import (
	"encoding/base64"
	"errors"
	"strings"

	"github.com/gavelhq/gavel/auth"
	"github.com/gavelhq/gavel/xmlstream"
)

// SASL failure conditions the stream itself produces (RFC 6120 §6.5).
const (
	saslAborted             = "aborted"
	saslEncryptionRequired  = "encryption-required"
	saslIncorrectEncoding   = "incorrect-encoding"
	saslMalformedRequest    = "malformed-request"
	saslTemporaryAuthFailed = "temporary-auth-failure"
)

// connInfo describes the connection to the SASL server.
func (c *conn) connInfo() auth.ConnInfo {
	ci := auth.ConnInfo{Domain: c.domain, TLS: c.tr.tlsState(), RemoteIP: c.remote}
	switch {
	case c.tr.secure() && ci.TLS == nil:
		// Encrypted by a proxy in front (WebSocketSecure): no TLS state to
		// bind to, but PLAIN is safe on it.
		ci.PlainWithoutTLS = true
	case c.opts.PlainWithoutTLSOnLoopback && c.remote.IsLoopback():
		ci.PlainWithoutTLS = true
	}
	return ci
}

// saslAuth handles <auth mechanism='...'>initial response</auth> (§6.4.2).
func (c *conn) saslAuth(st *xmlstream.Stanza) (bool, error) {
	c.sasl = nil
	if c.tlsRequired() {
		return false, c.saslRefuse(saslEncryptionRequired, "Use STARTTLS first")
	}
	el, err := st.Element()
	if err != nil {
		return false, newStreamError(condBadFormat, "")
	}
	// Begin refuses mechanisms not offered here (invalid-mechanism, or
	// encryption-required for PLAIN on a plain stream).
	info := c.connInfo()
	mech := el.Attr("mechanism")
	in, ok := decodeSASL(el.Text())
	if !ok {
		return false, c.saslFail(saslIncorrectEncoding, "")
	}
	ex, err := c.srv.accounts.Begin(info, mech)
	if err != nil {
		return false, c.saslError(err)
	}
	c.sasl = ex
	return c.saslStep(in)
}

// saslResponse handles <response/> to our challenge (§6.4.3).
func (c *conn) saslResponse(st *xmlstream.Stanza) (bool, error) {
	if c.sasl == nil {
		return false, c.saslFail(saslMalformedRequest, "No authentication in progress")
	}
	el, err := st.Element()
	if err != nil {
		return false, newStreamError(condBadFormat, "")
	}
	in, ok := decodeSASL(el.Text())
	if !ok {
		c.sasl = nil
		return false, c.saslFail(saslIncorrectEncoding, "")
	}
	if in == nil {
		in = []byte{} // an empty <response/> is an empty response
	}
	return c.saslStep(in)
}

// saslAbort handles <abort/> (§6.4.4).
func (c *conn) saslAbort() error {
	c.sasl = nil
	return c.saslRefuse(saslAborted, "")
}

func (c *conn) saslStep(in []byte) (bool, error) {
	out, done, err := c.sasl.Step(c.ctx(), in)
	if err != nil {
		c.sasl = nil
		return false, c.saslError(err)
	}
	if !done {
		c.send(appendSASL(nil, "challenge", out, true))
		return false, nil
	}
	user := c.sasl.JID()
	c.sasl = nil
	if user.Domainpart() != c.domain || user.Localpart() == "" {
		c.log.Error("c2s: SASL identity outside the stream's host", "jid", user.String(), "host", c.domain)
		return false, c.saslFail(saslTemporaryAuthFailed, "")
	}
	c.authenticated = true
	c.user = user
	// §6.4.6: additional data, or an empty element when there is none.
	c.send(appendSASL(nil, "success", out, false))
	c.tr.restart()
	c.q.restarted()
	c.log.Debug("c2s: authenticated", "jid", user.String())
	return true, nil
}

// maxSASLAttempts bounds failed exchanges of any kind on one stream, so a
// client cycling through mechanisms it cannot complete still ends.
const maxSASLAttempts = 10

// saslError turns an Exchange error into a failure.
func (c *conn) saslError(err error) error {
	var f *auth.Failure
	if errors.As(err, &f) {
		if f.Negotiation {
			return c.saslRefuse(f.Condition, f.Text)
		}
		return c.saslFail(f.Condition, f.Text)
	}
	c.log.Error("c2s: SASL error", "err", err)
	return c.saslFail(saslTemporaryAuthFailed, "")
}

// saslFail sends <failure/> and counts the attempt; past MaxAuthAttempts
// the stream is closed with policy-violation (§6.4.5).
func (c *conn) saslFail(cond, text string) error {
	c.authFailures++
	err := c.saslRefuse(cond, text)
	if err == nil && c.authFailures >= c.opts.MaxAuthAttempts {
		return newStreamError(condPolicyViolation, "Too many failed authentication attempts")
	}
	return err
}

// saslRefuse sends <failure/> for an attempt that checked no credentials
// (see auth.Failure.Negotiation): it counts only towards maxSASLAttempts.
func (c *conn) saslRefuse(cond, text string) error {
	b := []byte("<failure xmlns='" + nsSASL + "'><")
	b = append(b, cond...)
	b = append(b, "/>"...)
	if text != "" {
		b = append(b, "<text xml:lang='en'>"...)
		b = xmlstream.AppendEscaped(b, text)
		b = append(b, "</text>"...)
	}
	b = append(b, "</failure>"...)
	c.send(b)
	c.opts.Metrics.AuthFailed(cond)
	c.saslAttempts++
	if c.saslAttempts >= maxSASLAttempts {
		return newStreamError(condPolicyViolation, "Too many failed authentication attempts")
	}
	return nil
}

// appendSASL serializes <name xmlns=sasl>base64</name>; zero-length data is
// "=" (§6.4.2), or nothing at all when emptyAsEquals is false and there is no data.
func appendSASL(b []byte, name string, data []byte, emptyAsEquals bool) []byte {
	b = append(b, '<')
	b = append(b, name...)
	b = append(b, " xmlns='"+nsSASL+"'"...)
	switch {
	case len(data) > 0:
		b = append(b, '>')
		b = base64.StdEncoding.AppendEncode(b, data)
	case data != nil || emptyAsEquals:
		b = append(b, ">="...)
	default:
		return append(b, "/>"...)
	}
	b = append(b, "</"...)
	b = append(b, name...)
	return append(b, '>')
}

// decodeSASL decodes the character data of <auth/> or <response/>: none is
// no data (nil), "=" is empty data, anything else must be base64.
func decodeSASL(text string) ([]byte, bool) {
	text = strings.TrimSpace(text)
	switch text {
	case "":
		return nil, true
	case "=":
		return []byte{}, true
	}
	b, err := base64.StdEncoding.Strict().DecodeString(text)
	return b, err == nil
}
