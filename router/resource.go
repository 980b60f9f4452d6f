package router

import (
	"crypto/rand"
	"encoding/base32"
)

var resourceEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// GenerateResource returns a random resourcepart (RFC 6120 §7.6.2.1: the
// server-generated resource must be unique and hard to guess).
func GenerateResource() string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return "gavel-" + resourceEncoding.EncodeToString(b[:])
}
