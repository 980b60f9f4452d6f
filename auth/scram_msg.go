package auth

import (
	"bytes"
	"encoding/base64"
	"strings"
	"unicode/utf8"
)

// Parsers for the SCRAM client messages of RFC 5802 §7. They accept exactly
// the grammar (attribute order included) and report anything else as a
// malformedError, which the exchange turns into malformed-request.

type malformedError string

func (e malformedError) Error() string { return string(e) }

// clientFirst is a parsed client-first-message.
type clientFirst struct {
	cbFlag    byte   // 'n', 'y' or 'p'
	cbName    string // the channel binding type with 'p'
	authzid   string // decoded a= value, "" if absent
	gs2Header []byte // "n,,", "p=tls-exporter,a=...,": the c= attribute repeats it
	bare      []byte // client-first-message-bare, part of AuthMessage
	username  string // decoded n= value
	nonce     string // c-nonce
}

// clientFinal is a parsed client-final-message.
type clientFinal struct {
	cbind        []byte // decoded c= value
	nonce        string
	proof        []byte
	withoutProof []byte // client-final-message-without-proof, part of AuthMessage
}

// validText: SCRAM messages are UTF-8 without NUL (value-char, RFC 5802 §7).
func validText(b []byte) bool {
	return utf8.Valid(b) && bytes.IndexByte(b, 0) < 0
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// validCBName: cb-name = 1*(ALPHA / DIGIT / "." / "-").
func validCBName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isAlpha(c) && !(c >= '0' && c <= '9') && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

// validNonce: printable = %x21-2B / %x2D-7E (no comma, no space).
func validNonce(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == ',' {
			return false
		}
	}
	return true
}

// validAttrVal: attr-val = ALPHA "=" value, value = 1*value-char.
func validAttrVal(s string) bool {
	return len(s) >= 3 && isAlpha(s[0]) && s[1] == '='
}

// decodeSaslname undoes the "=2C" / "=3D" escaping of ',' and '='; a bare
// '=' or any other escape is malformed, as is an empty name.
func decodeSaslname(s string) (string, bool) {
	if s == "" {
		return "", false
	}
	if strings.IndexByte(s, '=') < 0 {
		return s, true
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '=' {
			b.WriteByte(s[i])
			continue
		}
		switch {
		case strings.HasPrefix(s[i:], "=2C"):
			b.WriteByte(',')
		case strings.HasPrefix(s[i:], "=3D"):
			b.WriteByte('=')
		default:
			return "", false
		}
		i += 2
	}
	return b.String(), true
}

// parseClientFirst parses
//
//	gs2-header = gs2-cbind-flag "," [ authzid ] ","
//	client-first-message-bare = [reserved-mext ","] username "," nonce ["," extensions]
func parseClientFirst(msg []byte) (*clientFirst, error) {
	if len(msg) == 0 {
		return nil, malformedError("empty client-first-message")
	}
	if !validText(msg) {
		return nil, malformedError("not UTF-8 or contains NUL")
	}
	s := string(msg)
	cf := &clientFirst{}
	flag, rest, ok := strings.Cut(s, ",")
	if !ok {
		return nil, malformedError("no gs2 header")
	}
	switch {
	case flag == "n" || flag == "y":
		cf.cbFlag = flag[0]
	case strings.HasPrefix(flag, "p="):
		cf.cbFlag = 'p'
		cf.cbName = flag[2:]
		if !validCBName(cf.cbName) {
			return nil, malformedError("bad channel binding name")
		}
	default:
		return nil, malformedError("bad gs2-cbind-flag")
	}
	az, rest, ok := strings.Cut(rest, ",")
	if !ok {
		return nil, malformedError("gs2 header not terminated")
	}
	if az != "" {
		v, ok := strings.CutPrefix(az, "a=")
		if !ok {
			return nil, malformedError("bad authzid")
		}
		if cf.authzid, ok = decodeSaslname(v); !ok {
			return nil, malformedError("bad authzid")
		}
	}
	cf.gs2Header = msg[:len(s)-len(rest)]
	cf.bare = msg[len(s)-len(rest):]

	if strings.HasPrefix(rest, "m=") {
		// RFC 5802 §5.1: an unknown mandatory extension must fail.
		return nil, malformedError("extensions-not-supported")
	}
	user, rest, ok := strings.Cut(rest, ",")
	if !ok {
		return nil, malformedError("no nonce")
	}
	v, ok := strings.CutPrefix(user, "n=")
	if !ok {
		return nil, malformedError("username expected")
	}
	if cf.username, ok = decodeSaslname(v); !ok {
		return nil, malformedError("bad username")
	}
	nonce, rest, more := strings.Cut(rest, ",")
	if cf.nonce, ok = strings.CutPrefix(nonce, "r="); !ok || !validNonce(cf.nonce) {
		return nil, malformedError("bad nonce")
	}
	for more {
		var ext string
		ext, rest, more = strings.Cut(rest, ",")
		if !validAttrVal(ext) {
			return nil, malformedError("bad extension")
		}
	}
	return cf, nil
}

// parseClientFinal parses
//
//	client-final-message = channel-binding "," nonce ["," extensions] "," proof
//
// proofLen is the hash size the proof must have.
func parseClientFinal(msg []byte, proofLen int) (*clientFinal, error) {
	if len(msg) == 0 {
		return nil, malformedError("empty client-final-message")
	}
	if !validText(msg) {
		return nil, malformedError("not UTF-8 or contains NUL")
	}
	s := string(msg)
	i := strings.LastIndexByte(s, ',')
	if i < 0 {
		return nil, malformedError("no proof")
	}
	cf := &clientFinal{withoutProof: msg[:i]}
	p, ok := strings.CutPrefix(s[i+1:], "p=")
	if !ok {
		return nil, malformedError("proof must come last")
	}
	proof, err := base64.StdEncoding.Strict().DecodeString(p)
	if err != nil || len(proof) != proofLen {
		return nil, malformedError("bad proof")
	}
	cf.proof = proof

	c, rest, ok := strings.Cut(s[:i], ",")
	if !ok {
		return nil, malformedError("no nonce")
	}
	c, ok = strings.CutPrefix(c, "c=")
	if !ok {
		return nil, malformedError("channel binding expected")
	}
	if cf.cbind, err = base64.StdEncoding.Strict().DecodeString(c); err != nil || len(cf.cbind) == 0 {
		return nil, malformedError("bad channel binding")
	}
	nonce, rest, more := strings.Cut(rest, ",")
	if cf.nonce, ok = strings.CutPrefix(nonce, "r="); !ok || !validNonce(cf.nonce) {
		return nil, malformedError("bad nonce")
	}
	for more {
		var ext string
		ext, rest, more = strings.Cut(rest, ",")
		if !validAttrVal(ext) {
			return nil, malformedError("bad extension")
		}
	}
	return cf, nil
}
