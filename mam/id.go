package mam

// Archive ids (XEP-0313 §4.5, and the XEP-0359 stanza-ids that equal them).
//
// The id of an archived entry is base64url(8-byte big-endian log sequence ‖
// 4-byte nonce): unique and never reused (log sequences are never reused,
// even after truncation), stable, opaque to clients, unpredictable (32
// random bits), and it leads straight to its entry, so no index is needed
// to resolve an RSM <after/> or an 'after-id'. An id whose nonce does not
// match the stored entry does not exist.

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
)

// ID is the archive id of entry seq with nonce.
func ID(seq uint64, nonce uint32) string {
	var b [12]byte
	binary.BigEndian.PutUint64(b[:], seq)
	binary.BigEndian.PutUint32(b[8:], nonce)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// ParseID is the inverse of ID; ok is false for anything ID cannot have
// produced.
func ParseID(id string) (seq uint64, nonce uint32, ok bool) {
	if len(id) != 16 {
		return 0, 0, false
	}
	var b [12]byte
	if n, err := base64.RawURLEncoding.Decode(b[:], []byte(id)); err != nil || n != 12 {
		return 0, 0, false
	}
	seq = binary.BigEndian.Uint64(b[:])
	return seq, binary.BigEndian.Uint32(b[8:]), seq != 0
}

// NewNonce returns 32 random bits for a new entry's id.
func NewNonce() uint32 {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand never fails (Go ≥ 1.24)
	return binary.BigEndian.Uint32(b[:])
}
