package muc

// Room history is the room's log stream (data.MUCHistoryStream): one entry
// per groupchat message with a body, appended BEFORE the message is
// broadcast, so what anyone saw survives a crash and a restart. The entry
// sequence is the message's place in the room; its XEP-0359 stanza-id is
// the archive id mam.ID(sequence, 4 random bytes), so a later MAM query
// resolves an id to its entry without an index.
//
// Entry layout:
//
//	byte 0        format version (1)
//	bytes 1..4    nonce (part of the stanza-id)
//	uvarint n, n bytes   the sender's real bare JID (MAM 'with', ofrom)
//	uvarint n, n bytes   the sender's nick at the time
//	the rest      the message as broadcast, without 'to' (jabber:client)

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gavelhq/gavel/data"
	"github.com/gavelhq/gavel/mam"
	"github.com/gavelhq/gavel/xmlstream"
)

const historyVersion = 1

// historyTrimEvery: retention is applied every so many appends.
const historyTrimEvery = 64

type historyRecord struct {
	nonce uint32
	bare  string
	nick  string
	raw   []byte
}

var errHistoryRecord = errors.New("muc: corrupt history record")

func (h *historyRecord) encode() []byte {
	b := make([]byte, 0, 5+2*binary.MaxVarintLen64+len(h.bare)+len(h.nick)+len(h.raw))
	b = append(b, historyVersion)
	b = binary.BigEndian.AppendUint32(b, h.nonce)
	b = binary.AppendUvarint(b, uint64(len(h.bare)))
	b = append(b, h.bare...)
	b = binary.AppendUvarint(b, uint64(len(h.nick)))
	b = append(b, h.nick...)
	return append(b, h.raw...)
}

func decodeHistoryRecord(b []byte) (historyRecord, error) {
	if len(b) < 5 || b[0] != historyVersion {
		return historyRecord{}, errHistoryRecord
	}
	h := historyRecord{nonce: binary.BigEndian.Uint32(b[1:])}
	rest := b[5:]
	str := func() (string, bool) {
		n, k := binary.Uvarint(rest)
		if k <= 0 || n > uint64(len(rest)-k) {
			return "", false
		}
		s := string(rest[k : k+int(n)])
		rest = rest[k+int(n):]
		return s, true
	}
	var ok bool
	if h.bare, ok = str(); !ok {
		return historyRecord{}, errHistoryRecord
	}
	if h.nick, ok = str(); !ok {
		return historyRecord{}, errHistoryRecord
	}
	h.raw = rest
	return h, nil
}

// newID is a random stanza id for stanzas the room originates.
func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// historyRecordFor gives out, the message the room is about to broadcast,
// the stanza-id of log entry seq and returns the entry it will be
// (history_commit.go appends it).
func (r *room) historyRecordFor(out *xmlstream.Element, o *occupant, seq uint64) []byte {
	nonce := mam.NewNonce()
	out.Append(xmlstream.NewElement(NSStanzaID, "stanza-id", "id", mam.ID(seq, nonce), "by", r.addr))
	rec := historyRecord{nonce: nonce, bare: o.bare, nick: o.nick, raw: out.AppendXML(nil, xmlstream.NSClient)}
	return rec.encode()
}

// trimHistory applies Options.HistoryRetention now and then; appended is
// how many entries were just added.
func (r *room) trimHistory(ctx context.Context, appended int) {
	keep := uint64(r.svc.opts.HistoryRetention)
	if keep == 0 {
		return
	}
	r.appendsTrim += appended
	if r.appendsTrim < historyTrimEvery || r.histLast <= keep {
		return
	}
	r.appendsTrim = 0
	if err := r.svc.store.Truncate(ctx, data.MUCHistoryStream(r.addr), r.histLast-keep+1); err != nil {
		r.log.Warn("trimming history failed", "err", err)
	}
}

// historyRequest is a parsed <history/> (§7.2.13); -1 means not given.
type historyRequest struct {
	maxChars   int
	maxStanzas int
	since      time.Time
	seconds    int
}

// parseHistoryRequest reads <history/>. Unparsable attributes are ignored:
// a client asking for something odd still gets into the room.
func parseHistoryRequest(h *xmlstream.Element) historyRequest {
	req := historyRequest{maxChars: -1, maxStanzas: -1, seconds: -1}
	if h == nil {
		return req
	}
	num := func(name string) int {
		v, ok := h.LookupAttr(name)
		if !ok {
			return -1
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 0 {
			return -1
		}
		return n
	}
	req.maxChars = num("maxchars")
	req.maxStanzas = num("maxstanzas")
	req.seconds = num("seconds")
	if v := h.Attr("since"); v != "" {
		if t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(v)); err == nil {
			req.since = t
		}
	}
	return req
}

// sendHistory sends the join history to s (§7.2.12-13): the newest messages
// that meet every limit (the request's, the room's, the service's), oldest
// first, each with a delay stamp from the room. Reads are bounded by the
// message limit, whatever the request.
func (r *room) sendHistory(ctx context.Context, s *session, req historyRequest) {
	limit := r.svc.opts.MaxHistoryFetch
	if m := r.cfg.MaxHistoryFetch; m > 0 && m < limit {
		limit = m
	}
	if req.maxStanzas >= 0 && req.maxStanzas < limit {
		limit = req.maxStanzas
	}
	if limit == 0 || req.maxChars == 0 || r.histLast == 0 {
		return
	}
	since := req.since
	if req.seconds >= 0 {
		if t := r.svc.now().Add(-time.Duration(req.seconds) * time.Second); t.After(since) {
			since = t
		}
	}
	entries, err := r.svc.store.ReadBack(ctx, data.MUCHistoryStream(r.addr), data.AnySeq, limit)
	if err != nil {
		r.log.Warn("reading history failed", "err", err)
		return
	}
	var out []*xmlstream.Stanza
	chars := 0
	for _, e := range entries {
		at := time.Unix(0, e.Time)
		if !since.IsZero() && at.Before(since) {
			break
		}
		rec, err := decodeHistoryRecord(e.Data)
		if err != nil {
			r.log.Warn("skipping corrupt history entry", "seq", e.Seq)
			continue
		}
		el, err := xmlstream.ParseElement(rec.raw, xmlstream.NSClient, entryLimits(len(rec.raw)))
		if err != nil {
			r.log.Warn("skipping unparsable history entry", "seq", e.Seq, "err", err)
			continue
		}
		el.Append(delayElement(r.addr, at))
		st := newTemplate(el).stanza(s)
		chars += utf8.RuneCount(st.Raw)
		if req.maxChars > 0 && chars > req.maxChars {
			break
		}
		out = append(out, st)
	}
	for i := len(out) - 1; i >= 0; i-- {
		r.send(ctx, out[i])
	}
}

// entryLimits lets a stored entry parse whatever limits it was received
// under: it was checked then, and the room built what it added.
func entryLimits(n int) xmlstream.Limits {
	n++
	return xmlstream.Limits{MaxStanzaBytes: n, MaxDepth: n, MaxAttrs: n, MaxNameBytes: n}
}
