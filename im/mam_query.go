package im

// XEP-0313 queries on a user's archive: form discovery (iq get <query/>),
// queries (iq set <query/>) and archive metadata (<metadata/>). The query
// form, XEP-0059 paging and the page algorithm are package mam's (a query
// is a range of log sequences, found by binary search on archive times and
// read in small chunks). This file binds them to the user's archive stream:
// the retained range, 'with' matched on the record header's peer (no XML
// parsing), at most mamScanLimit entries examined by a 'with' query, and
// the results forwarded to the requesting resource.

import (
	"context"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/data"
	"github.com/gavelhq/gavel/mam"
	"github.com/gavelhq/gavel/xmlstream"
)

const (
	mamScanLimit = 10000
	mamReadChunk = 32
)

func (s *Server) handleMAMQuery(ctx context.Context, iq *xmlstream.Stanza, q *xmlstream.Element) (*xmlstream.Element, error) {
	owner, err := ownArchive(iq)
	if err != nil {
		return nil, err
	}
	if iq.Type() == "get" {
		return mam.QueryForm(), nil
	}
	mq, err := mam.ParseQuery(q, withMatcher)
	if err != nil {
		return nil, err
	}
	page, err := s.runMAMQuery(ctx, owner, mq)
	if err != nil {
		return nil, err
	}
	s.sendMAMResults(iq, owner, mq, page)
	return page.Fin(), nil
}

// runMAMQuery computes the page for mq on owner's retained archive.
func (s *Server) runMAMQuery(ctx context.Context, owner jid.JID, mq *mam.Query[mamRecord]) (*mam.Page[mamRecord], error) {
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
	return mam.Run(ctx, archiveLog{mam.Stream{Store: s.store, Name: stream}}, mq, lo, hi, mam.Options{
		ScanLimit: s.state.mam.scanLimit,
		ReadChunk: mamReadChunk,
		Logger:    s.log.With("stream", stream),
	})
}

// withMatcher implements §4.1.2: a bare 'with' matches any resource of
// that JID, a full one exactly. The owner's own JID matches only messages
// to oneself, whose peer is the owner (a full JID of the owner).
func withMatcher(with jid.JID) (func(*mamRecord) bool, error) {
	w := with.String()
	if with.Resourcepart() != "" {
		return func(r *mamRecord) bool { return r.with == w }, nil
	}
	return func(r *mamRecord) bool {
		return r.with == w || (len(r.with) > len(w) && r.with[len(w)] == '/' && r.with[:len(w)] == w)
	}, nil
}

// sendMAMResults sends one <message/> per hit to the requesting resource,
// before the iq result (§4.2).
func (s *Server) sendMAMResults(iq *xmlstream.Stanza, owner jid.JID, mq *mam.Query[mamRecord], page *mam.Page[mamRecord]) {
	if len(page.Hits) == 0 {
		return
	}
	requester, err := jid.Parse(iq.From())
	if err != nil {
		return
	}
	res, bound := s.router.Lookup(requester)
	for _, h := range page.InOrder(mq.Flip) {
		msg := forwardMessage([]string{"from", owner.String(), "to", requester.String()},
			nsMAM, "result", []string{"queryid", mq.QueryID, "id", mam.ID(h.Seq, h.Rec.nonce)},
			stamp(time.Unix(0, h.Rec.time)), forwardedBytes(h.Rec.raw))
		if bound {
			if !res.Session.Send(msg) {
				return // the session is gone
			}
		} else {
			s.send(context.Background(), msg)
		}
	}
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
		md.Append(xmlstream.NewElement(nsMAM, end.name, "id", mam.ID(es[0].Seq, rec.nonce),
			"timestamp", stamp(time.Unix(0, rec.time))))
	}
	return md, nil
}
