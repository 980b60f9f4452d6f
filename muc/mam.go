package muc

// XEP-0313 on the room JID: the room's history log (history.go) is its
// archive. Every groupchat message with a body is in it once, in the order
// the room broadcast it, under the id it was broadcast with (the XEP-0359
// stanza-id by the room = mam.ID(sequence, nonce)), so an id leads
// straight to its entry. Private messages never enter the log.
//
// Queries: form discovery (get), queries (set) with the urn:xmpp:mam:2
// form, XEP-0059 paging and <flip-page/> are package mam's (mam/page.go:
// a query is a range of log sequences; start and end are binary searches
// on the entries' times, compared at the millisecond precision of the
// stamps clients see; ids are direct reads); <metadata/> is answered here.
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
// Limits: those of package mam, and a 'with' query examines at most
// mamScanLimit entries and then says complete='false'. Queries run in the
// room's actor: a page costs a few small reads.

import (
	"context"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/data"
	"github.com/gavelhq/gavel/mam"
	"github.com/gavelhq/gavel/xmlstream"
)

// Namespaces of XEP-0313 and what it builds on.
const (
	NSMAM         = mam.NS
	NSMAMExtended = mam.NSExtended
	nsForward     = "urn:xmpp:forward:0"
)

const (
	mamScanLimit = 5000
	mamReadChunk = 64
)

// archivedMessage is a history entry as a MAM result.
type archivedMessage struct {
	historyRecord
	time int64 // archiveTime of the entry
}

// Nonce and Size make an archivedMessage a mam.Record.
func (m archivedMessage) Nonce() uint32 { return m.nonce }
func (m archivedMessage) Size() int     { return len(m.raw) }

// historyLog is the room's history log as package mam reads it.
type historyLog struct{ mam.Stream }

func (h historyLog) Decode(e data.Entry) (archivedMessage, error) {
	rec, err := decodeHistoryRecord(e.Data)
	return archivedMessage{historyRecord: rec, time: archiveTime(e)}, err
}

func (h historyLog) Time(e data.Entry) int64 { return archiveTime(e) }

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
		return mam.QueryForm(), nil
	}
	if q.Attr("node") != "" {
		return nil, xmlstream.ItemNotFound() // pubsub archives (XEP-0442) are not rooms
	}
	mq, err := mam.ParseQuery(q, func(with jid.JID) (func(*archivedMessage) bool, error) {
		return r.withFilter(with, from)
	})
	if err != nil {
		return nil, err
	}
	stream := data.MUCHistoryStream(r.addr)
	last, first, err := r.svc.store.Last(ctx, stream)
	if err != nil {
		return nil, err
	}
	page, err := mam.Run(ctx, historyLog{mam.Stream{Store: r.svc.store, Name: stream}}, mq, first, last, mam.Options{
		ScanLimit: mamScanLimit,
		ReadChunk: mamReadChunk,
		Logger:    r.log,
	})
	if err != nil {
		return nil, err
	}
	r.sendMAMResults(ctx, st.From(), mq, page, r.archiveSeesJIDs(from))
	return page.Fin(), nil
}

// withFilter is the 'with' filter of a query by from: the occupant JID
// room@service/nick matches what was sent under that nick, the room's own
// JID filters nothing (the room published everything), any other JID is a
// real JID and matches its bare JID, for who may see real JIDs only.
func (r *room) withFilter(with, from jid.JID) (func(*archivedMessage) bool, error) {
	switch {
	case with.Bare().Equal(r.jid) && with.Resourcepart() != "":
		nick := with.Resourcepart()
		return func(m *archivedMessage) bool { return m.nick == nick }, nil
	case with.Equal(r.jid):
		return nil, nil
	case !r.archiveSeesJIDs(from):
		return nil, xmlstream.Forbidden("real JIDs are not disclosed to you in this room")
	}
	bare := with.Bare().String()
	return func(m *archivedMessage) bool { return m.bare == bare }, nil
}

// archiveTime is an entry's time as clients see it in stamps: whole
// milliseconds, so a 'start' or 'end' copied from a stamp includes that
// message.
func archiveTime(e data.Entry) int64 { return e.Time - e.Time%int64(time.Millisecond) }

// sendMAMResults sends one message per hit to the requester, before the
// iq result (XEP-0313 §4.2): the archived groupchat message as the room
// broadcast it (from the occupant JID, no 'to'), forwarded with its time,
// and the sender's real bare JID if the requester may see it.
func (r *room) sendMAMResults(ctx context.Context, to string, mq *mam.Query[archivedMessage], page *mam.Page[archivedMessage], withJIDs bool) {
	for _, h := range page.InOrder(mq.Flip) {
		inner, err := xmlstream.ParseElement(h.Rec.raw, xmlstream.NSClient, entryLimits(len(h.Rec.raw)))
		if err != nil {
			r.log.Warn("mam: skipping unparsable history entry", "seq", h.Seq, "err", err)
			continue
		}
		if withJIDs && h.Rec.bare != "" {
			inner.Append(xmlstream.NewElement(NSMUCUser, "x").Append(
				xmlstream.NewElement(NSMUCUser, "item", "jid", h.Rec.bare)))
		}
		msg := xmlstream.NewElement(xmlstream.NSClient, xmlstream.KindMessage, "from", r.addr, "to", to).Append(
			xmlstream.NewElement(NSMAM, "result", "queryid", mq.QueryID, "id", mam.ID(h.Seq, h.Rec.nonce)).Append(
				xmlstream.NewElement(nsForward, "forwarded").Append(
					xmlstream.NewElement(NSDelay, "delay", "stamp", stampOf(h.Rec.time)),
					inner)))
		r.send(ctx, xmlstream.NewStanza(msg))
	}
}

// stampOf formats unix nanoseconds as an XEP-0082 DateTime in UTC.
func stampOf(ns int64) string { return time.Unix(0, ns).UTC().Format("2006-01-02T15:04:05.000Z") }

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
		md.Append(xmlstream.NewElement(NSMAM, end.name, "id", mam.ID(end.e.Seq, rec.nonce), "timestamp", stampOf(archiveTime(end.e))))
	}
	return md, nil
}
