package muc

// XEP-0421 occupant identifiers: HMAC-SHA256 of the occupant's real bare JID
// under a random per-room secret (§4.1 of the XEP): stable for a user in a
// room, unlinkable across rooms, and not reversible without the secret.

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
)

const occupantSecretLen = 32

func newOccupantSecret() []byte {
	b := make([]byte, occupantSecretLen)
	_, _ = rand.Read(b) // crypto/rand never fails (Go ≥ 1.24)
	return b
}

// occupantID is the occupant-id of bare in this room (43 characters).
func (r *room) occupantID(bare string) string {
	m := hmac.New(sha256.New, r.secret)
	m.Write([]byte(bare))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
