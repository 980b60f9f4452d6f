package im

// The MAM archive record and archive ids (XEP-0313 §2, §4.5 "IDs").
//
// Each entry of the log stream data.MAMStream(<bare JID>) is one archived
// message, a small fixed header before the stanza bytes, so a query can
// filter by time and peer without parsing any XML:
//
//	byte  0      format version (1)
//	byte  1      flags: bit 0 set = outgoing (sent by the archive's owner)
//	bytes 2..5   nonce, random, part of the archive id
//	bytes 6..13  archive time, unix nanoseconds (server clock), big-endian
//	uvarint n, n bytes   the peer JID, normalized: 'to' of an outgoing
//	                     message, 'from' of an incoming one
//	the rest     the stanza as archived (Raw: it may rely on the stream's
//	             default namespace; forwardedBytes makes it standalone)
//
// The archive id of an entry is base64url(8-byte big-endian log sequence ‖
// 4-byte nonce): unique and never reused (log sequences are never reused,
// even after truncation), stable, opaque to clients, unpredictable (32
// random bits), and it leads straight to its entry: no index is needed to
// resolve an RSM <after/> or an 'after-id'. An id whose nonce does not match
// the stored entry does not exist.

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
)

const mamRecordVersion = 1

const mamFlagOutgoing = 1 << 0

// mamRecord is one decoded archive entry.
type mamRecord struct {
	nonce    uint32
	time     int64 // unix nanoseconds
	outgoing bool
	with     string // normalized peer JID
	raw      []byte // aliases the entry data when decoded
}

var errMAMRecord = errors.New("mam: corrupt archive record")

func (r *mamRecord) encode() []byte {
	b := make([]byte, 0, 14+binary.MaxVarintLen64+len(r.with)+len(r.raw))
	var flags byte
	if r.outgoing {
		flags |= mamFlagOutgoing
	}
	b = append(b, mamRecordVersion, flags)
	b = binary.BigEndian.AppendUint32(b, r.nonce)
	b = binary.BigEndian.AppendUint64(b, uint64(r.time))
	b = binary.AppendUvarint(b, uint64(len(r.with)))
	b = append(b, r.with...)
	return append(b, r.raw...)
}

// decodeMAMRecord parses an entry; raw aliases b.
func decodeMAMRecord(b []byte) (mamRecord, error) {
	if len(b) < 14 || b[0] != mamRecordVersion {
		return mamRecord{}, errMAMRecord
	}
	r := mamRecord{
		outgoing: b[1]&mamFlagOutgoing != 0,
		nonce:    binary.BigEndian.Uint32(b[2:]),
		time:     int64(binary.BigEndian.Uint64(b[6:])),
	}
	n, k := binary.Uvarint(b[14:])
	if k <= 0 || n > uint64(len(b)-14-k) {
		return mamRecord{}, errMAMRecord
	}
	at := 14 + k
	r.with = string(b[at : at+int(n)])
	r.raw = b[at+int(n):]
	return r, nil
}

// recordTime reads only the archive time of an entry.
func recordTime(b []byte) (int64, bool) {
	if len(b) < 14 || b[0] != mamRecordVersion {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(b[6:])), true
}

// newNonce returns 32 random bits.
func newNonce() uint32 {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand never fails (Go ≥ 1.24)
	return binary.BigEndian.Uint32(b[:])
}

// mamID is the archive id of entry seq with nonce.
func mamID(seq uint64, nonce uint32) string {
	var b [12]byte
	binary.BigEndian.PutUint64(b[:], seq)
	binary.BigEndian.PutUint32(b[8:], nonce)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// parseMAMID is the inverse of mamID; ok is false for anything mamID
// cannot have produced.
func parseMAMID(id string) (seq uint64, nonce uint32, ok bool) {
	if len(id) != 16 {
		return 0, 0, false
	}
	var b [12]byte
	n, err := base64.RawURLEncoding.Decode(b[:], []byte(id))
	if err != nil || n != 12 {
		return 0, 0, false
	}
	seq = binary.BigEndian.Uint64(b[:])
	return seq, binary.BigEndian.Uint32(b[8:]), seq != 0
}
