package im

// XEP-0313 queries on a user's archive: form discovery (iq get <query/>),
// queries (iq set <query/>) with the urn:xmpp:mam:2 form (with, start, end,
// before-id, after-id, ids), XEP-0059 paging and <flip-page/>, and archive
// metadata (<metadata/>).
//
// A query becomes a range of log sequences [lo, hi]: archive times grow
// with the sequence, so start and end are binary searches, and ids lead
// straight to their sequence (mam_record.go). Pages are read from storage
// in small chunks, never the whole archive:
//   - Without 'with', every entry in the range matches: count and the RSM
//     index are exact and free, <index/> jumps straight to its entry.
//   - With 'with', entries are matched on their header (no XML parsing)
//     and at most mamScanLimit entries are examined per query; a page cut
//     short by that limit says complete='false'. Count and index are then
//     omitted (XEP-0059 §2.2 allows it when they are expensive), and
//     <index/> is answered with feature-not-implemented (§2.6).
//
// Limits: a page holds at most mamMaxPage results (a larger <max/> is
// clamped, as §5.1 permits: the page then reports complete='false'), 50
// when the client sets none, and about mamPageBytes of stanzas so that a
// page never overflows a client's write queue.

import (
	"context"
	"math"
	"slices"
	"strings"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/data"
	"github.com/gavelhq/gavel/xmlstream"
)

const (
	nsDataForms = "jabber:x:data"

	mamDefaultPage = 50
	mamMaxPage     = 250
	mamPageBytes   = 256 << 10
	mamScanLimit   = 10000
	mamReadChunk   = 32
	mamMaxIDs      = mamMaxPage
)

// mamQuery is a parsed query.
type mamQuery struct {
	queryID           string
	with              *jid.JID
	start, end        *time.Time
	afterID, beforeID string
	ids               []string
	rsm               rsmRequest
	flip              bool
}

// mamHit is one result.
type mamHit struct {
	seq uint64
	rec mamRecord
}

// mamPage is a query's answer.
type mamPage struct {
	hits       []mamHit // chronological
	complete   bool
	count      int // -1: unknown
	firstIndex int // -1: unknown
}

func (s *Server) handleMAMQuery(ctx context.Context, iq *xmlstream.Stanza, q *xmlstream.Element) (*xmlstream.Element, error) {
	owner, err := ownArchive(iq)
	if err != nil {
		return nil, err
	}
	if iq.Type() == "get" {
		return mamQueryForm(), nil
	}
	mq, err := parseMAMQuery(q)
	if err != nil {
		return nil, err
	}
	page, err := s.runMAMQuery(ctx, owner, mq)
	if err != nil {
		return nil, err
	}
	s.sendMAMResults(iq, owner, mq, page)
	return mamFin(page), nil
}

// mamQueryForm lists the supported fields (§4.1.6).
func mamQueryForm() *xmlstream.Element {
	x := xmlstream.NewElement(nsDataForms, "x", "type", "form")
	x.Append(xmlstream.NewElement(nsDataForms, "field", "type", "hidden", "var", "FORM_TYPE").
		Append(xmlstream.NewElement(nsDataForms, "value").AppendText(nsMAM)))
	for _, f := range [][2]string{{"jid-single", "with"}, {"text-single", "start"}, {"text-single", "end"},
		{"text-single", "before-id"}, {"text-single", "after-id"}} {
		x.Append(xmlstream.NewElement(nsDataForms, "field", "type", f[0], "var", f[1]))
	}
	x.Append(xmlstream.NewElement(nsDataForms, "field", "type", "list-multi", "var", "ids").Append(
		xmlstream.NewElement("http://jabber.org/protocol/xdata-validate", "validate", "datatype", "xs:string").
			Append(xmlstream.NewElement("http://jabber.org/protocol/xdata-validate", "open"))))
	return xmlstream.NewElement(nsMAM, "query").Append(x)
}

// parseMAMQuery validates a query: bad values are bad-request, unknown
// fields feature-not-implemented (§4.1.6).
func parseMAMQuery(q *xmlstream.Element) (*mamQuery, error) {
	mq := &mamQuery{queryID: q.Attr("queryid"), flip: q.Child(nsMAM, "flip-page") != nil}
	var err error
	if mq.rsm, err = parseRSM(q.Child(nsRSM, "set")); err != nil {
		return nil, err
	}
	if x := q.Child(nsDataForms, "x"); x != nil {
		if err := parseMAMForm(x, mq); err != nil {
			return nil, err
		}
	}
	if mq.rsm.index >= 0 && mq.with != nil {
		return nil, xmlstream.FeatureNotImplemented("RSM <index/> is not supported with a 'with' filter")
	}
	return mq, nil
}

func parseMAMForm(x *xmlstream.Element, mq *mamQuery) error {
	if t := x.Attr("type"); t != "" && t != "submit" {
		return xmlstream.BadRequest("the query form must be of type submit")
	}
	seen := map[string]bool{}
	for _, f := range x.ChildrenNamed(nsDataForms, "field") {
		name := f.Attr("var")
		if seen[name] {
			return xmlstream.BadRequest("field " + name + " given twice")
		}
		seen[name] = true
		var values []string
		for _, v := range f.ChildrenNamed(nsDataForms, "value") {
			if t := strings.TrimSpace(v.Text()); t != "" {
				values = append(values, t)
			}
		}
		if name != "ids" && len(values) > 1 {
			return xmlstream.BadRequest("field " + name + " takes one value")
		}
		value := ""
		if len(values) == 1 {
			value = values[0]
		}
		switch name {
		case "FORM_TYPE":
			if value != nsMAM {
				return xmlstream.BadRequest("FORM_TYPE must be " + nsMAM)
			}
		case "with":
			if value != "" {
				j, err := jid.Parse(value)
				if err != nil {
					return xmlstream.BadRequest("'with' is not a valid JID")
				}
				mq.with = &j
			}
		case "start", "end":
			if value != "" {
				t, err := parseDateTime(value)
				if err != nil {
					return xmlstream.BadRequest("'" + name + "' is not an XEP-0082 DateTime")
				}
				if name == "start" {
					mq.start = &t
				} else {
					mq.end = &t
				}
			}
		case "after-id":
			mq.afterID = value
		case "before-id":
			mq.beforeID = value
		case "ids":
			if len(values) > mamMaxIDs {
				return policyViolation("too many ids in one query")
			}
			if len(values) > 0 {
				mq.ids = values
			}
		default:
			return xmlstream.FeatureNotImplemented("unsupported field " + name)
		}
	}
	return nil
}

// parseDateTime reads an XEP-0082 DateTime (CCYY-MM-DDThh:mm:ss[.sss]TZD).
func parseDateTime(v string) (time.Time, error) {
	return time.Parse(time.RFC3339Nano, v)
}

// unixNanos is t in unix nanoseconds, clamped to the representable range
// (years 1678..2262) instead of overflowing.
func unixNanos(t time.Time) int64 {
	switch {
	case t.Before(time.Unix(0, math.MinInt64)):
		return math.MinInt64
	case t.After(time.Unix(0, math.MaxInt64-1)):
		return math.MaxInt64 - 1
	}
	return t.UnixNano()
}

// runMAMQuery computes the page for mq on owner's archive. The result set
// is the retained range narrowed by the form (after-id, before-id, start,
// end, then with and ids); RSM <after/>, <before/> and <index/> only pick the
// page within it, so count and index describe the whole set (XEP-0059 §2.2).
func (s *Server) runMAMQuery(ctx context.Context, owner jid.JID, mq *mamQuery) (*mamPage, error) {
	stream := data.MAMStream(owner.String())
	last, first, err := s.store.Last(ctx, stream)
	if err != nil {
		return nil, err
	}
	// The retained range: entries past the retention period are gone even
	// before storage is trimmed.
	lo, hi := first, last
	if cutoff := s.retentionCutoff(); cutoff != 0 && lo <= hi {
		if lo, err = s.firstSeqAtOrAfter(ctx, stream, lo, hi, cutoff); err != nil {
			return nil, err
		}
	}
	// Every id given must exist (§4.1.4, §5.2): item-not-found otherwise.
	retLo, retHi := lo, hi
	lookup := func(id string) (uint64, error) { return s.mamLookup(ctx, stream, id, retLo, retHi) }

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
	// The page range within the set.
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
		if lo, err = s.firstSeqAtOrAfter(ctx, stream, lo, hi, unixNanos(*mq.start)); err != nil {
			return nil, err
		}
	}
	if mq.end != nil && lo <= hi {
		past, err := s.firstSeqAtOrAfter(ctx, stream, lo, hi, unixNanos(*mq.end)+1)
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
	var match func(*mamRecord) bool
	if mq.with != nil {
		match = withMatcher(*mq.with)
	}
	if mq.ids != nil {
		return s.pageOfIDs(ctx, stream, idSeqs, lo, hi, pageLo, pageHi, match, limit, backward, mq.rsm.index)
	}

	page := &mamPage{count: -1, firstIndex: -1}
	if match == nil {
		page.count = 0
		if lo <= hi {
			page.count = int(hi - lo + 1)
		}
	}
	from, to := max(lo, pageLo), min(hi, pageHi)
	if match == nil && mq.rsm.index >= 0 {
		if uint64(mq.rsm.index) >= uint64(page.count) {
			from, to = 1, 0 // past the end: an empty page (§2.6)
		} else {
			from, to, backward = lo+uint64(mq.rsm.index), hi, false
		}
	}
	if from > to {
		page.complete = true
		return page, nil
	}
	if backward {
		from, to = to, from
	}
	hits, complete, err := s.collectMAM(ctx, stream, from, to, backward, match, limit)
	if err != nil {
		return nil, err
	}
	page.hits, page.complete = hits, complete
	if match == nil && len(hits) > 0 {
		page.firstIndex = int(hits[0].seq - lo)
	}
	return page, nil
}

// withMatcher implements §4.1.2: a bare 'with' matches any resource of
// that JID, a full one exactly. The owner's own JID matches only messages
// to oneself, whose peer is the owner (a full JID of the owner).
func withMatcher(with jid.JID) func(*mamRecord) bool {
	w := with.String()
	if with.Resourcepart() != "" {
		return func(r *mamRecord) bool { return r.with == w }
	}
	return func(r *mamRecord) bool {
		return r.with == w || (len(r.with) > len(w) && r.with[len(w)] == '/' && r.with[:len(w)] == w)
	}
}

// mamLookup resolves an archive id to its sequence, which must be in the
// retained range [lo, hi] and carry the id's nonce.
func (s *Server) mamLookup(ctx context.Context, stream, id string, lo, hi uint64) (uint64, error) {
	seq, nonce, ok := parseMAMID(id)
	if !ok || seq < lo || seq > hi {
		return 0, xmlstream.ItemNotFound()
	}
	es, err := s.store.Read(ctx, stream, seq, 1)
	if err != nil {
		return 0, err
	}
	if len(es) == 0 || es[0].Seq != seq {
		return 0, xmlstream.ItemNotFound()
	}
	if rec, err := decodeMAMRecord(es[0].Data); err != nil || rec.nonce != nonce {
		return 0, xmlstream.ItemNotFound()
	}
	return seq, nil
}

// collectMAM reads entries from 'from' towards 'to' (inclusive; downwards
// when backward) and returns up to max matches in chronological order.
// complete is true when the range holds no further match: one match past a
// full page proves there are more. Without a matcher every entry matches;
// with one, at most mamScanLimit entries are examined.
func (s *Server) collectMAM(ctx context.Context, stream string, from, to uint64, backward bool, match func(*mamRecord) bool, limit int) ([]mamHit, bool, error) {
	var hits []mamHit
	size, examined := 0, 0
	next := from
	for {
		remaining := int(min(absDiff(next, to)+1, uint64(mamReadChunk)))
		n := remaining
		if match == nil {
			n = min(remaining, limit-len(hits)+1) // +1: the look-ahead
		}
		var es []data.Entry
		var err error
		if backward {
			es, err = s.store.ReadBack(ctx, stream, next, n)
		} else {
			es, err = s.store.Read(ctx, stream, next, n)
		}
		if err != nil {
			return nil, false, err
		}
		for _, e := range es {
			if (!backward && e.Seq > to) || (backward && e.Seq < to) {
				return finishHits(hits, backward), true, nil
			}
			examined++
			rec, err := decodeMAMRecord(e.Data)
			if err != nil {
				s.log.Error("mam: skipping unreadable archive entry", "stream", stream, "seq", e.Seq)
				continue
			}
			if match == nil || match(&rec) {
				if len(hits) >= limit || (len(hits) > 0 && size+len(rec.raw) > mamPageBytes) {
					return finishHits(hits, backward), false, nil
				}
				size += len(rec.raw)
				hits = append(hits, mamHit{seq: e.Seq, rec: rec})
			}
			if match != nil && examined >= s.state.mam.scanLimit {
				// Honest: more may match beyond what was examined.
				return finishHits(hits, backward), e.Seq == to, nil
			}
			if e.Seq == to {
				return finishHits(hits, backward), true, nil
			}
			if backward {
				next = e.Seq - 1
			} else {
				next = e.Seq + 1
			}
		}
		if len(es) < n || ctx.Err() != nil {
			// The stream ended early (truncated or deleted meanwhile).
			return finishHits(hits, backward), len(es) < n, ctx.Err()
		}
	}
}

func absDiff(a, b uint64) uint64 {
	if a > b {
		return a - b
	}
	return b - a
}

// finishHits puts hits in chronological order.
func finishHits(hits []mamHit, backward bool) []mamHit {
	if backward {
		slices.Reverse(hits)
	}
	return hits
}

// pageOfIDs answers an 'ids' query: the named entries in [lo, hi] that
// pass the 'with' filter form the set, in chronological order; the page is
// taken from those in [pageLo, pageHi] like any other.
func (s *Server) pageOfIDs(ctx context.Context, stream string, seqs []uint64, lo, hi, pageLo, pageHi uint64, match func(*mamRecord) bool, limit int, backward bool, index int) (*mamPage, error) {
	slices.Sort(seqs)
	seqs = slices.Compact(seqs)
	var set []mamHit
	for _, seq := range seqs {
		if seq < lo || seq > hi {
			continue
		}
		es, err := s.store.Read(ctx, stream, seq, 1)
		if err != nil {
			return nil, err
		}
		if len(es) == 0 || es[0].Seq != seq {
			continue // truncated meanwhile
		}
		rec, err := decodeMAMRecord(es[0].Data)
		if err != nil || (match != nil && !match(&rec)) {
			continue
		}
		set = append(set, mamHit{seq: seq, rec: rec})
	}
	// set[start:end] is the part RSM after/before allow.
	start, end := 0, len(set)
	for start < end && set[start].seq < pageLo {
		start++
	}
	for end > start && set[end-1].seq > pageHi {
		end--
	}
	switch {
	case index >= 0:
		start, end = min(index, len(set)), len(set)
		end = min(start+limit, end)
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

// sendMAMResults sends one <message/> per hit to the requesting resource,
// before the iq result (§4.2).
func (s *Server) sendMAMResults(iq *xmlstream.Stanza, owner jid.JID, mq *mamQuery, page *mamPage) {
	if len(page.hits) == 0 {
		return
	}
	requester, err := jid.Parse(iq.From())
	if err != nil {
		return
	}
	res, bound := s.router.Lookup(requester)
	order := page.hits
	if mq.flip {
		order = slices.Clone(order)
		slices.Reverse(order)
	}
	for _, h := range order {
		msg := forwardMessage([]string{"from", owner.String(), "to", requester.String()},
			nsMAM, "result", []string{"queryid", mq.queryID, "id", mamID(h.seq, h.rec.nonce)},
			stamp(time.Unix(0, h.rec.time)), forwardedBytes(h.rec.raw))
		if bound {
			if !res.Session.Send(msg) {
				return // the session is gone
			}
		} else {
			s.send(context.Background(), msg)
		}
	}
}

// mamFin is the iq result payload: <fin complete><set/></fin>.
func mamFin(page *mamPage) *xmlstream.Element {
	complete := "false"
	if page.complete {
		complete = "true"
	}
	var first, last string
	if n := len(page.hits); n > 0 {
		first = mamID(page.hits[0].seq, page.hits[0].rec.nonce)
		last = mamID(page.hits[n-1].seq, page.hits[n-1].rec.nonce)
	}
	return xmlstream.NewElement(nsMAM, "fin", "complete", complete).
		Append(rsmResult(first, last, page.firstIndex, page.count))
}

// handleMAMMetadata answers <metadata/> (§6): the first and last retained
// entries, or an empty element for an empty archive.
func (s *Server) handleMAMMetadata(ctx context.Context, iq *xmlstream.Stanza, _ *xmlstream.Element) (*xmlstream.Element, error) {
	owner, err := ownArchive(iq)
	if err != nil {
		return nil, err
	}
	if iq.Type() != "get" {
		return nil, xmlstream.BadRequest("metadata is retrieved with iq get")
	}
	stream := data.MAMStream(owner.String())
	md := xmlstream.NewElement(nsMAM, "metadata")
	last, first, err := s.store.Last(ctx, stream)
	if err != nil {
		return nil, err
	}
	if cutoff := s.retentionCutoff(); cutoff != 0 && first <= last {
		if first, err = s.firstSeqAtOrAfter(ctx, stream, first, last, cutoff); err != nil {
			return nil, err
		}
	}
	if first > last {
		return md, nil
	}
	for _, end := range []struct {
		name string
		back bool
	}{{"start", false}, {"end", true}} {
		var es []data.Entry
		if end.back {
			es, err = s.store.ReadBack(ctx, stream, last, 1)
		} else {
			es, err = s.store.Read(ctx, stream, first, 1)
		}
		if err != nil {
			return nil, err
		}
		if len(es) == 0 {
			return xmlstream.NewElement(nsMAM, "metadata"), nil
		}
		rec, err := decodeMAMRecord(es[0].Data)
		if err != nil {
			return nil, err
		}
		md.Append(xmlstream.NewElement(nsMAM, end.name, "id", mamID(es[0].Seq, rec.nonce),
			"timestamp", stamp(time.Unix(0, rec.time))))
	}
	return md, nil
}
