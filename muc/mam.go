package muc

// XEP-0313 on the room JID: the room's history log (history.go) is its
// archive. Every groupchat message with a body is in it once, in the order
// the room broadcast it, under the id it was broadcast with (the XEP-0359
// stanza-id by the room = base64url(sequence ‖ nonce)), so an id leads
// straight to its entry. Private messages never enter the log.
//
// Queries: form discovery (get), queries (set) with FORM_TYPE, with,
// start, end, after-id, before-id, ids; XEP-0059 paging both ways with
// <max/>, <after/>, <before/> (empty: the last page) and <index/>;
// <flip-page/>; <metadata/>. A query is a range of log sequences: start
// and end are binary searches on the entries' times (compared at the
// millisecond precision of the stamps clients see), ids are direct reads.
//
// Access (§8.4.2 "MUC Archives"): only who may enter the room now — not
// outcasts; in a members-only room members, admins and owners; in a
// password-protected room owners and users with a session in the room
// (they gave the password); and only while muc#roomconfig_enablearchiving
// is on (otherwise the room has no archive: service-unavailable). Denied:
// forbidden. A room that does not exist (or is locked, for all but its
// owners) is item-not-found.
//
// 'with': the occupant JID room@service/nick matches what was sent under
// that nick (nicks are public in the room). Any other JID is a real JID —
// the publisher — and matches the sender's bare JID (the archive keeps the
// bare JID: an occupant is a bare JID, whatever resources joined). Real
// JIDs are only for who may see them now (a non-anonymous room, or a
// moderator, admin or owner); others get forbidden, so a visitor of a
// semi-anonymous room cannot probe who said what. The same rule decides
// whether results carry <x xmlns='muc#user'><item jid/></x>.
//
// Limits: a page holds at most mamMaxPage results (50 without <max/>) and
// about mamPageBytes of stanzas; a 'with' query examines at most
// mamScanLimit entries and then says complete='false'. With 'with' the
// count and <index/> are not computed (XEP-0059 §2.2 allows it).
// Queries run in the room's actor: a page costs a few small reads.

import (
	"context"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/data"
	"github.com/gavelhq/gavel/xmlstream"
)

// Namespaces of XEP-0313 and what it builds on.
const (
	NSMAM           = "urn:xmpp:mam:2"
	NSMAMExtended   = "urn:xmpp:mam:2#extended"
	nsForward       = "urn:xmpp:forward:0"
	nsXDataValidate = "http://jabber.org/protocol/xdata-validate"
)

const (
	mamDefaultPage = 50
	mamMaxPage     = 250
	mamPageBytes   = 256 << 10
	mamScanLimit   = 5000
	mamReadChunk   = 64
	mamMaxIDs      = mamMaxPage
)

// rsmRequest is a parsed XEP-0059 <set/>; -1 means not given.
type rsmRequest struct {
	max       int
	after     string
	hasAfter  bool
	before    string
	hasBefore bool // before == "": the last page (§2.5)
	index     int
}

// mamQuery is a parsed query.
type mamQuery struct {
	queryID           string
	withNick          *string // with = an occupant JID
	withBare          string  // with = a real JID (its bare form)
	start, end        *time.Time
	afterID, beforeID string
	ids               []string
	rsm               rsmRequest
	flip              bool
}

// mamHit is one result.
type mamHit struct {
	seq  uint64
	time int64 // unix nanoseconds
	rec  historyRecord
}

// mamPage is a query's answer.
type mamPage struct {
	hits       []mamHit // chronological
	complete   bool
	count      int // -1: not computed
	firstIndex int // -1: not computed
}

// archiveFeatures are the room's disco features for its archive: none
// while archiving is off.
func (r *room) archiveFeatures() []string {
	if !r.cfg.Archiving {
		return nil
	}
	return []string{NSMAM, NSMAMExtended}
}

// mayReadArchive applies the access rules above to requester from.
func (r *room) mayReadArchive(from jid.JID) error {
	bare := from.Bare().String()
	aff := r.affiliation(bare)
	if !r.exists || (r.locked && aff != AffOwner) {
		return mucError(r.addr, xmlstream.ErrCancel, "item-not-found")
	}
	if !r.cfg.Archiving {
		return mucError(r.addr, xmlstream.ErrCancel, "service-unavailable")
	}
	switch {
	case aff == AffOutcast,
		r.cfg.MembersOnly && aff.rank() < AffMember.rank(),
		r.cfg.PasswordProtected && aff != AffOwner && !r.bareInRoom(bare):
		return mucError(r.addr, xmlstream.ErrAuth, "forbidden")
	}
	return nil
}

// bareInRoom reports whether some session of bare is in the room.
func (r *room) bareInRoom(bare string) bool {
	for _, o := range r.order {
		if o.bare == bare {
			return true
		}
	}
	return false
}

// archiveSeesJIDs reports whether requester may learn senders' real JIDs:
// in a non-anonymous room, or as a moderator now, or as an admin or owner
// (moderators whenever they are in the room).
func (r *room) archiveSeesJIDs(from jid.JID) bool {
	if r.cfg.nonAnonymous() || r.affiliation(from.Bare().String()).rank() >= AffAdmin.rank() {
		return true
	}
	s := r.sessions[from.String()]
	return s != nil && s.occ.role == RoleModerator
}

// handleMAMQuery answers <query xmlns='urn:xmpp:mam:2'/> to the room: the
// form on get; on set the results, sent before the returned <fin/>.
func (r *room) handleMAMQuery(ctx context.Context, st *xmlstream.Stanza, typ string, q *xmlstream.Element, from jid.JID) (*xmlstream.Element, error) {
	if err := r.mayReadArchive(from); err != nil {
		return nil, err
	}
	if typ == "get" {
		return mamQueryForm(), nil
	}
	if q.Attr("node") != "" {
		return nil, xmlstream.ItemNotFound() // pubsub archives (XEP-0442) are not rooms
	}
	mq, err := r.parseMAMQuery(q, from)
	if err != nil {
		return nil, err
	}
	page, err := r.runMAMQuery(ctx, mq)
	if err != nil {
		return nil, err
	}
	r.sendMAMResults(ctx, st.From(), mq, page, r.archiveSeesJIDs(from))
	return mamFin(page), nil
}

// mamQueryForm lists the supported fields (XEP-0313 §4.1.6).
func mamQueryForm() *xmlstream.Element {
	x := xmlstream.NewElement(NSDataForms, "x", "type", "form")
	x.Append(xmlstream.NewElement(NSDataForms, "field", "type", "hidden", "var", "FORM_TYPE").Append(
		xmlstream.NewElement(NSDataForms, "value").AppendText(NSMAM)))
	for _, f := range [][2]string{{"jid-single", "with"}, {"text-single", "start"}, {"text-single", "end"},
		{"text-single", "before-id"}, {"text-single", "after-id"}} {
		x.Append(xmlstream.NewElement(NSDataForms, "field", "type", f[0], "var", f[1]))
	}
	x.Append(xmlstream.NewElement(NSDataForms, "field", "type", "list-multi", "var", "ids").Append(
		xmlstream.NewElement(nsXDataValidate, "validate", "datatype", "xs:string").
			Append(xmlstream.NewElement(nsXDataValidate, "open"))))
	return xmlstream.NewElement(NSMAM, "query").Append(x)
}

// parseRSM reads a request <set/> (nil: none). Bad numbers and an empty
// <after/> are bad-request.
func parseRSM(set *xmlstream.Element) (rsmRequest, error) {
	req := rsmRequest{max: -1, index: -1}
	if set == nil {
		return req, nil
	}
	num := func(name string) (int, error) {
		el := set.Child(NSRSM, name)
		if el == nil {
			return -1, nil
		}
		n, err := strconv.Atoi(strings.TrimSpace(el.Text()))
		if err != nil || n < 0 {
			return 0, xmlstream.BadRequest("RSM <" + name + "/> must be a non-negative integer")
		}
		return n, nil
	}
	var err error
	if req.max, err = num("max"); err != nil {
		return req, err
	}
	if req.index, err = num("index"); err != nil {
		return req, err
	}
	if a := set.Child(NSRSM, "after"); a != nil {
		req.after, req.hasAfter = strings.TrimSpace(a.Text()), true
		if req.after == "" {
			return req, xmlstream.BadRequest("empty RSM <after/>")
		}
	}
	if b := set.Child(NSRSM, "before"); b != nil {
		req.before, req.hasBefore = strings.TrimSpace(b.Text()), true
	}
	return req, nil
}

// parseMAMQuery validates a query: bad values are bad-request, unknown
// fields feature-not-implemented (XEP-0313 §4.1.6), a real-JID 'with' from
// who may not see real JIDs forbidden.
func (r *room) parseMAMQuery(q *xmlstream.Element, from jid.JID) (*mamQuery, error) {
	mq := &mamQuery{queryID: q.Attr("queryid"), flip: q.Child(NSMAM, "flip-page") != nil}
	var err error
	if mq.rsm, err = parseRSM(q.Child(NSRSM, "set")); err != nil {
		return nil, err
	}
	x := q.Child(NSDataForms, "x")
	if x == nil {
		return mq, nil
	}
	if t := x.Attr("type"); t != "" && t != "submit" {
		return nil, xmlstream.BadRequest("the query form must be of type submit")
	}
	seen := map[string]bool{}
	for _, f := range x.ChildrenNamed(NSDataForms, "field") {
		name := f.Attr("var")
		if seen[name] {
			return nil, xmlstream.BadRequest("field " + name + " given twice")
		}
		seen[name] = true
		var values []string
		for _, v := range f.ChildrenNamed(NSDataForms, "value") {
			if t := strings.TrimSpace(v.Text()); t != "" {
				values = append(values, t)
			}
		}
		if name != "ids" && len(values) > 1 {
			return nil, xmlstream.BadRequest("field " + name + " takes one value")
		}
		value := ""
		if len(values) == 1 {
			value = values[0]
		}
		switch name {
		case "FORM_TYPE":
			if value != NSMAM {
				return nil, xmlstream.BadRequest("FORM_TYPE must be " + NSMAM)
			}
		case "with":
			if value == "" {
				continue
			}
			w, err := jid.Parse(value)
			if err != nil {
				return nil, xmlstream.BadRequest("'with' is not a valid JID")
			}
			switch {
			case w.Bare().Equal(r.jid) && w.Resourcepart() != "":
				nick := w.Resourcepart()
				mq.withNick = &nick
			case w.Equal(r.jid):
				// The room itself published everything: no filter.
			case !r.archiveSeesJIDs(from):
				return nil, xmlstream.Forbidden("real JIDs are not disclosed to you in this room")
			default:
				mq.withBare = w.Bare().String()
			}
		case "start", "end":
			if value == "" {
				continue
			}
			t, err := time.Parse(time.RFC3339Nano, value)
			if err != nil {
				return nil, xmlstream.BadRequest("'" + name + "' is not an XEP-0082 DateTime")
			}
			if name == "start" {
				mq.start = &t
			} else {
				mq.end = &t
			}
		case "after-id":
			mq.afterID = value
		case "before-id":
			mq.beforeID = value
		case "ids":
			if len(values) > mamMaxIDs {
				return nil, &xmlstream.StanzaError{Type: xmlstream.ErrModify, Condition: "policy-violation", Text: "too many ids in one query"}
			}
			mq.ids = values
		default:
			return nil, xmlstream.FeatureNotImplemented("unsupported field " + name)
		}
	}
	if mq.rsm.index >= 0 && mq.filtered() {
		return nil, xmlstream.FeatureNotImplemented("RSM <index/> is not supported with a 'with' filter")
	}
	return mq, nil
}

// filtered reports whether entries must be examined to know if they match.
func (mq *mamQuery) filtered() bool { return mq.withNick != nil || mq.withBare != "" }

func (mq *mamQuery) match(rec *historyRecord) bool {
	switch {
	case mq.withNick != nil:
		return rec.nick == *mq.withNick
	case mq.withBare != "":
		return rec.bare == mq.withBare
	}
	return true
}

// unixNanos is t in unix nanoseconds, clamped to what int64 holds (years
// 1678..2262) instead of overflowing.
func unixNanos(t time.Time) int64 {
	switch {
	case t.Before(time.Unix(0, math.MinInt64)):
		return math.MinInt64
	case t.After(time.Unix(0, math.MaxInt64-1)):
		return math.MaxInt64 - 1
	}
	return t.UnixNano()
}

// archiveTime is an entry's time as clients see it in stamps: whole
// milliseconds, so a 'start' or 'end' copied from a stamp includes that
// message.
func archiveTime(e data.Entry) int64 { return e.Time - e.Time%int64(time.Millisecond) }

// runMAMQuery computes the page. The result set is the retained log
// narrowed by after-id, before-id, start, end, then with and ids; RSM
// <after/>, <before/> and <index/> only pick the page within the set, so
// count and index describe the whole set (XEP-0059 §2.2).
func (r *room) runMAMQuery(ctx context.Context, mq *mamQuery) (*mamPage, error) {
	stream := data.MUCHistoryStream(r.addr)
	last, first, err := r.svc.store.Last(ctx, stream)
	if err != nil {
		return nil, err
	}
	lo, hi := first, last
	retLo, retHi := lo, hi
	lookup := func(id string) (uint64, error) { return r.mamLookup(ctx, stream, id, retLo, retHi) }
	if mq.afterID != "" {
		seq, err := lookup(mq.afterID)
		if err != nil {
			return nil, err
		}
		lo = max(lo, seq+1)
	}
	if mq.beforeID != "" {
		seq, err := lookup(mq.beforeID)
		if err != nil {
			return nil, err
		}
		hi = min(hi, seq-1)
	}
	var idSeqs []uint64
	for _, id := range mq.ids {
		seq, err := lookup(id)
		if err != nil {
			return nil, err
		}
		idSeqs = append(idSeqs, seq)
	}
	pageLo, pageHi := uint64(1), retHi
	if mq.rsm.hasAfter {
		seq, err := lookup(mq.rsm.after)
		if err != nil {
			return nil, err
		}
		pageLo = seq + 1
	}
	if mq.rsm.hasBefore && mq.rsm.before != "" {
		seq, err := lookup(mq.rsm.before)
		if err != nil {
			return nil, err
		}
		pageHi = seq - 1
	}
	if mq.start != nil && lo <= hi {
		if lo, err = r.firstSeqAtOrAfter(ctx, stream, lo, hi, unixNanos(*mq.start)); err != nil {
			return nil, err
		}
	}
	if mq.end != nil && lo <= hi {
		past, err := r.firstSeqAtOrAfter(ctx, stream, lo, hi, unixNanos(*mq.end)+1)
		if err != nil {
			return nil, err
		}
		hi = past - 1
	}
	limit := mamDefaultPage
	if mq.rsm.max >= 0 {
		limit = min(mq.rsm.max, mamMaxPage)
	}
	backward := mq.rsm.hasBefore
	if mq.ids != nil {
		return r.pageOfIDs(ctx, stream, mq, idSeqs, lo, hi, pageLo, pageHi, limit, backward)
	}
	page := &mamPage{count: -1, firstIndex: -1}
	if !mq.filtered() {
		page.count = 0
		if lo <= hi {
			page.count = int(hi - lo + 1)
		}
	}
	from, to := max(lo, pageLo), min(hi, pageHi)
	if !mq.filtered() && mq.rsm.index >= 0 {
		if mq.rsm.index >= page.count {
			from, to = 1, 0 // past the end: an empty page (XEP-0059 §2.6)
		} else {
			from, to, backward = lo+uint64(mq.rsm.index), hi, false
		}
	}
	if from > to || limit == 0 {
		// <max>0</max> asks for the count only (XEP-0059 §2.7).
		page.complete = from > to
		return page, nil
	}
	if backward {
		from, to = to, from
	}
	hits, complete, err := r.collectMAM(ctx, stream, mq, from, to, backward, limit)
	if err != nil {
		return nil, err
	}
	page.hits, page.complete = hits, complete
	if !mq.filtered() && len(hits) > 0 {
		page.firstIndex = int(hits[0].seq - lo)
	}
	return page, nil
}

// mamLookup resolves an archive id to its sequence, which must be in the
// retained range [lo, hi] and carry the id's nonce; item-not-found
// otherwise (XEP-0313 §4.1.4).
func (r *room) mamLookup(ctx context.Context, stream, id string, lo, hi uint64) (uint64, error) {
	seq, nonce, ok := parseStanzaID(id)
	if !ok || seq < lo || seq > hi {
		return 0, xmlstream.ItemNotFound()
	}
	es, err := r.svc.store.Read(ctx, stream, seq, 1)
	if err != nil {
		return 0, err
	}
	if len(es) == 0 || es[0].Seq != seq {
		return 0, xmlstream.ItemNotFound()
	}
	if rec, err := decodeHistoryRecord(es[0].Data); err != nil || rec.nonce != nonce {
		return 0, xmlstream.ItemNotFound()
	}
	return seq, nil
}

// firstSeqAtOrAfter is the first sequence in [lo, hi] whose archive time
// is >= t, or hi+1: a binary search of single-entry reads (entry times
// grow with the sequence).
func (r *room) firstSeqAtOrAfter(ctx context.Context, stream string, lo, hi uint64, t int64) (uint64, error) {
	l, h := lo, hi+1
	for l < h {
		mid := l + (h-l)/2
		es, err := r.svc.store.Read(ctx, stream, mid, 1)
		if err != nil {
			return 0, err
		}
		if len(es) == 0 || es[0].Seq != mid || archiveTime(es[0]) < t {
			l = mid + 1 // (or truncated meanwhile: what is gone is the oldest)
		} else {
			h = mid
		}
	}
	return l, nil
}

// collectMAM reads entries from 'from' towards 'to' (inclusive; downwards
// when backward) and returns up to limit matches in chronological order.
// complete is true when the range holds no further match.
func (r *room) collectMAM(ctx context.Context, stream string, mq *mamQuery, from, to uint64, backward bool, limit int) ([]mamHit, bool, error) {
	var hits []mamHit
	size, examined := 0, 0
	done := func(complete bool) ([]mamHit, bool, error) {
		if backward {
			slices.Reverse(hits)
		}
		return hits, complete, nil
	}
	next := from
	for {
		n := int(min(absDiff(next, to)+1, mamReadChunk))
		if !mq.filtered() {
			n = min(n, limit-len(hits)+1) // +1: the look-ahead that proves more
		}
		var es []data.Entry
		var err error
		if backward {
			es, err = r.svc.store.ReadBack(ctx, stream, next, n)
		} else {
			es, err = r.svc.store.Read(ctx, stream, next, n)
		}
		if err != nil {
			return nil, false, err
		}
		for _, e := range es {
			if (!backward && e.Seq > to) || (backward && e.Seq < to) {
				return done(true)
			}
			examined++
			rec, err := decodeHistoryRecord(e.Data)
			if err != nil {
				r.log.Warn("mam: skipping corrupt history entry", "seq", e.Seq)
			} else if mq.match(&rec) {
				if len(hits) >= limit || (len(hits) > 0 && size+len(rec.raw) > mamPageBytes) {
					return done(false)
				}
				size += len(rec.raw)
				hits = append(hits, mamHit{seq: e.Seq, time: archiveTime(e), rec: rec})
			}
			if e.Seq == to {
				return done(true)
			}
			if mq.filtered() && examined >= mamScanLimit {
				return done(false) // more may match beyond what was examined
			}
			if backward {
				next = e.Seq - 1
			} else {
				next = e.Seq + 1
			}
		}
		if len(es) < n {
			return done(true) // the log ended early (truncated meanwhile)
		}
	}
}

func absDiff(a, b uint64) uint64 {
	if a > b {
		return a - b
	}
	return b - a
}

// pageOfIDs answers an 'ids' query: the named entries in [lo, hi] that
// pass 'with' form the set, in chronological order; the page is taken
// from those in [pageLo, pageHi] like any other.
func (r *room) pageOfIDs(ctx context.Context, stream string, mq *mamQuery, seqs []uint64, lo, hi, pageLo, pageHi uint64, limit int, backward bool) (*mamPage, error) {
	slices.Sort(seqs)
	seqs = slices.Compact(seqs)
	var set []mamHit
	for _, seq := range seqs {
		if seq < lo || seq > hi {
			continue
		}
		es, err := r.svc.store.Read(ctx, stream, seq, 1)
		if err != nil {
			return nil, err
		}
		if len(es) == 0 || es[0].Seq != seq {
			continue
		}
		rec, err := decodeHistoryRecord(es[0].Data)
		if err != nil || !mq.match(&rec) {
			continue
		}
		set = append(set, mamHit{seq: seq, time: archiveTime(es[0]), rec: rec})
	}
	start, end := 0, len(set)
	for start < end && set[start].seq < pageLo {
		start++
	}
	for end > start && set[end-1].seq > pageHi {
		end--
	}
	index := mq.rsm.index
	switch {
	case index >= 0:
		start = min(index, len(set))
		end = min(start+limit, len(set))
	case backward:
		start = max(start, end-limit)
	default:
		end = min(end, start+limit)
	}
	page := &mamPage{count: len(set), firstIndex: -1, hits: set[start:end]}
	if backward && index < 0 {
		page.complete = start == 0 || set[start-1].seq < pageLo
	} else {
		page.complete = end == len(set) || set[end].seq > pageHi
	}
	if len(page.hits) > 0 {
		page.firstIndex = start
	}
	return page, nil
}

// sendMAMResults sends one message per hit to the requester, before the
// iq result (XEP-0313 §4.2): the archived groupchat message as the room
// broadcast it (from the occupant JID, no 'to'), forwarded with its time,
// and the sender's real bare JID if the requester may see it.
func (r *room) sendMAMResults(ctx context.Context, to string, mq *mamQuery, page *mamPage, withJIDs bool) {
	order := page.hits
	if mq.flip {
		order = slices.Clone(order)
		slices.Reverse(order)
	}
	for _, h := range order {
		inner, err := xmlstream.ParseElement(h.rec.raw, xmlstream.NSClient, entryLimits(len(h.rec.raw)))
		if err != nil {
			r.log.Warn("mam: skipping unparsable history entry", "seq", h.seq, "err", err)
			continue
		}
		if withJIDs && h.rec.bare != "" {
			inner.Append(xmlstream.NewElement(NSMUCUser, "x").Append(
				xmlstream.NewElement(NSMUCUser, "item", "jid", h.rec.bare)))
		}
		msg := xmlstream.NewElement(xmlstream.NSClient, xmlstream.KindMessage, "from", r.addr, "to", to).Append(
			xmlstream.NewElement(NSMAM, "result", "queryid", mq.queryID, "id", stanzaID(h.seq, h.rec.nonce)).Append(
				xmlstream.NewElement(nsForward, "forwarded").Append(
					xmlstream.NewElement(NSDelay, "delay", "stamp", stampOf(h.time)),
					inner)))
		r.send(ctx, xmlstream.NewStanza(msg))
	}
}

// stampOf formats unix nanoseconds as an XEP-0082 DateTime in UTC.
func stampOf(ns int64) string { return time.Unix(0, ns).UTC().Format("2006-01-02T15:04:05.000Z") }

// mamFin is the iq result payload: <fin complete><set/></fin>.
func mamFin(page *mamPage) *xmlstream.Element {
	fin := xmlstream.NewElement(NSMAM, "fin", "complete", strconv.FormatBool(page.complete))
	set := xmlstream.NewElement(NSRSM, "set")
	if n := len(page.hits); n > 0 {
		first := xmlstream.NewElement(NSRSM, "first").AppendText(stanzaID(page.hits[0].seq, page.hits[0].rec.nonce))
		if page.firstIndex >= 0 {
			first.SetAttr("index", strconv.Itoa(page.firstIndex))
		}
		set.Append(first, xmlstream.NewElement(NSRSM, "last").AppendText(stanzaID(page.hits[n-1].seq, page.hits[n-1].rec.nonce)))
	}
	if page.count >= 0 {
		set.Append(xmlstream.NewElement(NSRSM, "count").AppendText(strconv.Itoa(page.count)))
	}
	return fin.Append(set)
}

// handleMAMMetadata answers <metadata/> (XEP-0313 §6): the first and last
// entries of the archive, or an empty element for an empty one.
func (r *room) handleMAMMetadata(ctx context.Context, typ string, from jid.JID) (*xmlstream.Element, error) {
	if err := r.mayReadArchive(from); err != nil {
		return nil, err
	}
	if typ != "get" {
		return nil, xmlstream.BadRequest("metadata is retrieved with iq get")
	}
	stream := data.MUCHistoryStream(r.addr)
	md := xmlstream.NewElement(NSMAM, "metadata")
	oldest, err := r.svc.store.Read(ctx, stream, 0, 1)
	if err != nil {
		return nil, err
	}
	newest, err := r.svc.store.ReadBack(ctx, stream, data.AnySeq, 1)
	if err != nil {
		return nil, err
	}
	if len(oldest) == 0 || len(newest) == 0 {
		return md, nil
	}
	for _, end := range []struct {
		name string
		e    data.Entry
	}{{"start", oldest[0]}, {"end", newest[0]}} {
		rec, err := decodeHistoryRecord(end.e.Data)
		if err != nil {
			return nil, err
		}
		md.Append(xmlstream.NewElement(NSMAM, end.name, "id", stanzaID(end.e.Seq, rec.nonce), "timestamp", stampOf(archiveTime(end.e))))
	}
	return md, nil
}
