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
// The archive id of an entry is mam.ID(sequence, nonce) (mam/id.go): it
// leads straight to its entry, and an id whose nonce does not match the
// stored entry does not exist.

import (
	"encoding/binary"
	"errors"

	"github.com/gavelhq/gavel/data"
	"github.com/gavelhq/gavel/mam"
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

// Nonce and Size make a record a mam.Record.
func (r mamRecord) Nonce() uint32 { return r.nonce }
func (r mamRecord) Size() int     { return len(r.raw) }

// archiveLog is the archive stream of one user as package mam reads it.
type archiveLog struct{ mam.Stream }

func (a archiveLog) Decode(e data.Entry) (mamRecord, error) { return decodeMAMRecord(e.Data) }

// Time is the record's archive time, read from its header alone; the
// store's own clock for an unreadable one.
func (a archiveLog) Time(e data.Entry) int64 {
	if at, ok := recordTime(e.Data); ok {
		return at
	}
	return e.Time
}
