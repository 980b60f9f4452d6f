package mam

// Answering a query on an archive log. A query becomes a range of log
// sequences [lo, hi]: archive times grow with the sequence, so start and
// end are binary searches, and ids lead straight to their sequence (id.go).
// Pages are read from storage in small chunks, never the whole archive:
//   - Without a 'with' filter every entry in the range matches: count and
//     the RSM index are exact and free, <index/> jumps straight to its
//     entry, and <max>0</max> is answered without a read (XEP-0059 §2.7).
//   - With a filter, entries are matched as decoded and at most
//     Options.ScanLimit entries are examined per query; a page cut short by
//     that limit says complete='false'. Count and index are then omitted
//     (XEP-0059 §2.2 allows it when they are expensive).

import (
	"context"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/gavelhq/gavel/data"
	"github.com/gavelhq/gavel/xmlstream"
)

// Timeline is an archive log as far as time is concerned.
type Timeline interface {
	// Read returns up to n entries with Seq >= from, ascending (data.Log).
	Read(ctx context.Context, from uint64, n int) ([]data.Entry, error)
	// Time is an entry's archive time in unix nanoseconds; it must not
	// decrease with the sequence.
	Time(e data.Entry) int64
}

// Log is one archive's log of records R.
type Log[R Record] interface {
	Timeline
	// ReadBack returns up to n entries with Seq <= from, descending.
	ReadBack(ctx context.Context, from uint64, n int) ([]data.Entry, error)
	// Decode parses an entry's record.
	Decode(e data.Entry) (R, error)
}

// Stream reads one log stream of a store: an archive's Log embeds it and
// adds Decode and Time.
type Stream struct {
	Store data.Logs
	Name  string
}

func (s Stream) Read(ctx context.Context, from uint64, n int) ([]data.Entry, error) {
	return s.Store.Read(ctx, s.Name, from, n)
}

func (s Stream) ReadBack(ctx context.Context, from uint64, n int) ([]data.Entry, error) {
	return s.Store.ReadBack(ctx, s.Name, from, n)
}

// Record is what paging needs of a decoded entry.
type Record interface {
	// Nonce is the nonce of the entry's id (id.go).
	Nonce() uint32
	// Size is what the entry adds to a page, in bytes.
	Size() int
}

// Options are an archive's costs.
type Options struct {
	// ScanLimit bounds the entries one filtered query examines.
	ScanLimit int
	// ReadChunk is how many entries one storage read asks for.
	ReadChunk int
	// Logger hears of entries skipped as unreadable.
	Logger *slog.Logger
}

// Hit is one result.
type Hit[R any] struct {
	Seq uint64
	Rec R
}

// Page is a query's answer.
type Page[R Record] struct {
	Hits       []Hit[R] // chronological
	Complete   bool
	Count      int // -1: not computed
	FirstIndex int // -1: not computed
}

// InOrder is the order to send the hits in: chronological, or newest
// first for <flip-page/>.
func (p *Page[R]) InOrder(flip bool) []Hit[R] {
	if !flip {
		return p.Hits
	}
	order := slices.Clone(p.Hits)
	slices.Reverse(order)
	return order
}

// Fin is the iq result payload: <fin complete><set/></fin> (§4.3).
func (p *Page[R]) Fin() *xmlstream.Element {
	var first, last string
	if n := len(p.Hits); n > 0 {
		first = ID(p.Hits[0].Seq, p.Hits[0].Rec.Nonce())
		last = ID(p.Hits[n-1].Seq, p.Hits[n-1].Rec.Nonce())
	}
	return xmlstream.NewElement(NS, "fin", "complete", strconv.FormatBool(p.Complete)).
		Append(RSMResult(first, last, p.FirstIndex, p.Count))
}

// Run computes the page for q on log, whose retained entries are [lo, hi].
// The result set is that range narrowed by the form (after-id, before-id,
// start, end, then with and ids); RSM <after/>, <before/> and <index/>
// only pick the page within it, so count and index describe the whole set
// (XEP-0059 §2.2). Every id given must name a retained entry (§4.1.4,
// §5.2): item-not-found otherwise.
func Run[R Record](ctx context.Context, log Log[R], q *Query[R], lo, hi uint64, opts Options) (*Page[R], error) {
	retLo, retHi := lo, hi
	lookup := func(id string) (uint64, error) { return lookupID(ctx, log, id, retLo, retHi) }
	if q.AfterID != "" {
		seq, err := lookup(q.AfterID)
		if err != nil {
			return nil, err
		}
		lo = max(lo, seq+1)
	}
	if q.BeforeID != "" {
		seq, err := lookup(q.BeforeID)
		if err != nil {
			return nil, err
		}
		hi = min(hi, seq-1)
	}
	var idSeqs []uint64
	for _, id := range q.IDs {
		seq, err := lookup(id)
		if err != nil {
			return nil, err
		}
		idSeqs = append(idSeqs, seq)
	}
	// The page range within the set.
	pageLo, pageHi := uint64(1), retHi
	if q.RSM.HasAfter {
		seq, err := lookup(q.RSM.After)
		if err != nil {
			return nil, err
		}
		pageLo = seq + 1
	}
	if q.RSM.HasBefore && q.RSM.Before != "" {
		seq, err := lookup(q.RSM.Before)
		if err != nil {
			return nil, err
		}
		pageHi = seq - 1
	}
	var err error
	if q.Start != nil && lo <= hi {
		if lo, err = FirstAtOrAfter(ctx, log, lo, hi, unixNanos(*q.Start)); err != nil {
			return nil, err
		}
	}
	if q.End != nil && lo <= hi {
		past, err := FirstAtOrAfter(ctx, log, lo, hi, unixNanos(*q.End)+1)
		if err != nil {
			return nil, err
		}
		hi = past - 1
	}

	limit := DefaultPage
	if q.RSM.Max >= 0 {
		limit = min(q.RSM.Max, MaxPage)
	}
	backward := q.RSM.HasBefore
	if q.IDs != nil {
		return pageOfIDs(ctx, log, q, idSeqs, lo, hi, pageLo, pageHi, limit, backward)
	}
	page := &Page[R]{Count: -1, FirstIndex: -1}
	if q.Match == nil {
		page.Count = 0
		if lo <= hi {
			page.Count = int(hi - lo + 1)
		}
	}
	from, to := max(lo, pageLo), min(hi, pageHi)
	if q.Match == nil && q.RSM.Index >= 0 {
		if q.RSM.Index >= page.Count {
			from, to = 1, 0 // past the end: an empty page (XEP-0059 §2.6)
		} else {
			from, to, backward = lo+uint64(q.RSM.Index), hi, false
		}
	}
	if from > to || (limit == 0 && q.Match == nil) {
		// <max>0</max> asks for the count only (XEP-0059 §2.7); without a
		// filter every entry matches, so the set goes on iff from <= to.
		page.Complete = from > to
		return page, nil
	}
	if backward {
		from, to = to, from
	}
	hits, complete, err := collect(ctx, log, q.Match, from, to, backward, limit, opts)
	if err != nil {
		return nil, err
	}
	page.Hits, page.Complete = hits, complete
	if q.Match == nil && len(hits) > 0 {
		page.FirstIndex = int(hits[0].Seq - lo)
	}
	return page, nil
}

// lookupID resolves an archive id to its sequence, which must be in the
// retained range [lo, hi] and carry the id's nonce.
func lookupID[R Record](ctx context.Context, log Log[R], id string, lo, hi uint64) (uint64, error) {
	seq, nonce, ok := ParseID(id)
	if !ok || seq < lo || seq > hi {
		return 0, xmlstream.ItemNotFound()
	}
	es, err := log.Read(ctx, seq, 1)
	if err != nil {
		return 0, err
	}
	if len(es) == 0 || es[0].Seq != seq {
		return 0, xmlstream.ItemNotFound()
	}
	if rec, err := log.Decode(es[0]); err != nil || rec.Nonce() != nonce {
		return 0, xmlstream.ItemNotFound()
	}
	return seq, nil
}

// FirstAtOrAfter is the first sequence in [lo, hi] whose archive time is
// >= t, or hi+1 if none: a binary search of single-entry reads (~20 for a
// million entries).
func FirstAtOrAfter(ctx context.Context, log Timeline, lo, hi uint64, t int64) (uint64, error) {
	l, h := lo, hi+1
	for l < h {
		mid := l + (h-l)/2
		es, err := log.Read(ctx, mid, 1)
		if err != nil {
			return 0, err
		}
		if len(es) == 0 || es[0].Seq != mid || log.Time(es[0]) < t {
			l = mid + 1 // (or truncated meanwhile: what is gone is the oldest)
		} else {
			h = mid
		}
	}
	return l, nil
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

// collect reads entries from 'from' towards 'to' (inclusive; downwards
// when backward) and returns up to limit matches in chronological order.
// complete is true when the range holds no further match: one match past a
// full page proves there are more. Unreadable entries are skipped.
func collect[R Record](ctx context.Context, log Log[R], match func(*R) bool, from, to uint64, backward bool, limit int, opts Options) ([]Hit[R], bool, error) {
	var hits []Hit[R]
	size, examined := 0, 0
	done := func(complete bool, err error) ([]Hit[R], bool, error) {
		if backward {
			slices.Reverse(hits)
		}
		return hits, complete, err
	}
	next := from
	for {
		n := int(min(absDiff(next, to)+1, uint64(opts.ReadChunk)))
		if match == nil {
			n = min(n, limit-len(hits)+1) // +1: the look-ahead that proves more
		}
		var es []data.Entry
		var err error
		if backward {
			es, err = log.ReadBack(ctx, next, n)
		} else {
			es, err = log.Read(ctx, next, n)
		}
		if err != nil {
			return nil, false, err
		}
		for _, e := range es {
			if (!backward && e.Seq > to) || (backward && e.Seq < to) {
				return done(true, nil)
			}
			examined++
			rec, err := log.Decode(e)
			if err != nil {
				if opts.Logger != nil {
					opts.Logger.Warn("mam: skipping unreadable archive entry", "seq", e.Seq, "err", err)
				}
			} else if match == nil || match(&rec) {
				if len(hits) >= limit || (len(hits) > 0 && size+rec.Size() > PageBytes) {
					return done(false, nil)
				}
				size += rec.Size()
				hits = append(hits, Hit[R]{Seq: e.Seq, Rec: rec})
			}
			if e.Seq == to {
				return done(true, nil)
			}
			if match != nil && examined >= opts.ScanLimit {
				return done(false, nil) // more may match beyond what was examined
			}
			if backward {
				next = e.Seq - 1
			} else {
				next = e.Seq + 1
			}
		}
		if len(es) < n || ctx.Err() != nil {
			// The log ended early (truncated or deleted meanwhile).
			return done(len(es) < n, ctx.Err())
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
// pass the 'with' filter form the set, in chronological order; the page is
// taken from those in [pageLo, pageHi] like any other.
func pageOfIDs[R Record](ctx context.Context, log Log[R], q *Query[R], seqs []uint64, lo, hi, pageLo, pageHi uint64, limit int, backward bool) (*Page[R], error) {
	slices.Sort(seqs)
	seqs = slices.Compact(seqs)
	var set []Hit[R]
	for _, seq := range seqs {
		if seq < lo || seq > hi {
			continue
		}
		es, err := log.Read(ctx, seq, 1)
		if err != nil {
			return nil, err
		}
		if len(es) == 0 || es[0].Seq != seq {
			continue // truncated meanwhile
		}
		rec, err := log.Decode(es[0])
		if err != nil || (q.Match != nil && !q.Match(&rec)) {
			continue
		}
		set = append(set, Hit[R]{Seq: seq, Rec: rec})
	}
	// set[start:end] is the part RSM after/before allow.
	start, end := 0, len(set)
	for start < end && set[start].Seq < pageLo {
		start++
	}
	for end > start && set[end-1].Seq > pageHi {
		end--
	}
	index := q.RSM.Index
	switch {
	case index >= 0:
		start = min(index, len(set))
		end = min(start+limit, len(set))
	case backward:
		start = max(start, end-limit)
	default:
		end = min(end, start+limit)
	}
	page := &Page[R]{Count: len(set), FirstIndex: -1, Hits: set[start:end]}
	if backward && index < 0 {
		page.Complete = start == 0 || set[start-1].Seq < pageLo
	} else {
		page.Complete = end == len(set) || set[end].Seq > pageHi
	}
	if len(page.Hits) > 0 {
		page.FirstIndex = start
	}
	return page, nil
}
