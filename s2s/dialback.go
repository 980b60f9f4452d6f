package s2s

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
)

// dialbackKey computes the XEP-0185 key:
// HMAC-SHA256(SHA256(secret), receiving ' ' originating ' ' streamID), hex.
func dialbackKey(secret []byte, receiving, originating, streamID string) string {
	k := sha256.Sum256(secret)
	h := hmac.New(sha256.New, []byte(hex.EncodeToString(k[:])))
	h.Write([]byte(receiving + " " + originating + " " + streamID))
	return hex.EncodeToString(h.Sum(nil))
}

// validKey checks a key in constant time.
func validKey(secret []byte, receiving, originating, streamID, key string) bool {
	want := dialbackKey(secret, receiving, originating, streamID)
	return hmac.Equal([]byte(want), []byte(key))
}
