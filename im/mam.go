package im

// XEP-0313 Message Archive Management for one-to-one messages, with XEP-0359
// stanza ids. This file archives; mam_query.go answers queries,
// mam_prefs.go holds the XEP-0441 preferences, mam_record.go the entry
// format and archive ids.
//
// What is archived (XEP-0313 §7.1.1 "User Archives", XEP-0334):
//   - messages of type chat or normal (absent or unknown types read as
//     normal, RFC 6121 §5.2.2) with a <body/>, and any message but error and
//     groupchat carrying a <store/> hint;
//   - never error, groupchat or headline (without <store/>) messages, nor
//     any message with a <no-store/> or <no-permanent-store/> hint;
//   - only for accounts of the primary domain (anonymous accounts have none),
//     subject to the owner's preferences (mam_prefs.go).
//
// Both ends are archived when local: the sender's copy in an OutboundFilter
// (outgoing, 'with' = 'to'), the recipient's in an InboundFilter (incoming,
// 'with' = 'from'), each once, however many resources receive it. A message
// to one's own account is archived once, as incoming.
//
// XEP-0359 (§4 rule 2): a <stanza-id/> whose 'by' is the archive owner's
// bare JID is removed from every message that owner sends or receives; the
// recipient's delivered copy then gets <stanza-id by='<recipient>' id=
// '<archive id>'/>. A sender's own archive id must not reach the contact
// (XEP-0313 §3.3), but belongs in the sender's carbon copies: the outbound
// archive filter adds it, carbons (OrderCarbons) copy it, and a filter
// right after carbons removes it before the message is routed.
//
// Retention: entries older than the retention period are invisible to
// queries at once and removed from storage every mamRetentionEvery appends to
// an archive and by ExpireArchives.

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/data"
	"github.com/gavelhq/gavel/mam"
	"github.com/gavelhq/gavel/router"
	"github.com/gavelhq/gavel/xmlstream"
)

const (
	nsMAM         = mam.NS
	nsMAMExtended = mam.NSExtended

	// orderStripOwnID runs right after carbons: it removes the sender's
	// archive id from an outgoing message before it is routed.
	orderStripOwnID = OrderCarbons + 1

	// mamRetentionEvery: an archive is trimmed to the retention period
	// every this many appends to it.
	mamRetentionEvery = 256
)

// mamState is the configuration of archiving.
type mamState struct {
	// retention: entries older than this are expired (0: kept forever).
	retention time.Duration
	// scanLimit bounds the entries one query with a 'with' filter examines.
	scanLimit int
}

func registerMAM(s *Server) {
	s.state.mam.retention = s.opts.MAMRetention
	s.state.mam.scanLimit = mamScanLimit
	s.AddAccountFeature(nsMAM, nsMAMExtended, nsStanzaID)
	s.HandleAccountIQ(nsMAM, "query", s.handleMAMQuery)
	s.HandleAccountIQ(nsMAM, "metadata", s.handleMAMMetadata)
	s.HandleAccountIQ(nsMAM, "prefs", s.handleMAMPrefs)
	s.AddOutboundFilter(OrderArchive, s.archiveOutbound)
	s.AddOutboundFilter(orderStripOwnID, s.stripSenderArchiveID)
	s.AddInboundFilter(OrderArchive, s.archiveInbound)
	if s.accounts != nil {
		s.accounts.OnDelete(func(ctx context.Context, bare jid.JID) error {
			key := bare.Bare().String()
			if err := s.store.DeleteStream(ctx, data.MAMStream(key)); err != nil {
				return err
			}
			return s.store.Delete(ctx, data.MAMPrefsKey(key))
		})
	}
}

// archivable applies the storage rules above to a message.
func archivable(typ string, el *xmlstream.Element) bool {
	if typ == "error" || typ == "groupchat" {
		return false
	}
	if el.Child(nsHints, "no-store") != nil || el.Child(nsHints, "no-permanent-store") != nil {
		return false
	}
	if el.Child(nsHints, "store") != nil {
		return true
	}
	return typ != "headline" && el.Child(el.Name.Space, "body") != nil
}

// mayHaveStanzaID is a cheap pre-check: without the namespace name spelled
// out or a character reference (which could spell it), no element of
// XEP-0359 can be in raw, so it need not be parsed.
func mayHaveStanzaID(raw []byte) bool {
	return bytes.Contains(raw, []byte(nsStanzaID)) || bytes.Contains(raw, []byte("&#"))
}

// mayBeArchivable is a cheap pre-check for archivable: without the word
// "body" (an element name cannot be spelled with character references) or
// the hints namespace (mayHaveStanzaID already catches "&#"), a message has
// neither a body nor a <store/> hint.
func mayBeArchivable(raw []byte) bool {
	return bytes.Contains(raw, []byte("body")) || bytes.Contains(raw, []byte(nsHints))
}

// withoutOwnStanzaIDs removes the direct <stanza-id/> children whose 'by'
// is owner (XEP-0359 §4 rule 2). It returns st unchanged when there is none.
func withoutOwnStanzaIDs(st *xmlstream.Stanza, el *xmlstream.Element, owner jid.JID) *xmlstream.Stanza {
	forged := func(c *xmlstream.Element) bool {
		if c == nil || c.Name.Space != nsStanzaID || c.Name.Local != "stanza-id" {
			return false
		}
		by, err := jid.Parse(c.Attr("by"))
		return err == nil && by.Equal(owner)
	}
	found := false
	for _, c := range el.Children {
		if forged(c.Elem) {
			found = true
			break
		}
	}
	if !found {
		return st
	}
	kept := &xmlstream.Element{Name: el.Name, Attrs: el.Attrs}
	for _, c := range el.Children {
		if !forged(c.Elem) {
			kept.Children = append(kept.Children, c)
		}
	}
	// Serialized in the stanza's own namespace context, so the top level
	// keeps relying on the stream's default namespace as Raw did.
	return withRaw(st, kept.AppendXML(nil, st.Inherited))
}

// stanzaIDElement is <stanza-id xmlns='urn:xmpp:sid:0' by=owner id=id/>,
// byte for byte what stripSenderArchiveID looks for.
func stanzaIDElement(owner, id string) []byte {
	b := []byte("<stanza-id xmlns='" + nsStanzaID + "'")
	b = appendAttrs(b, []string{"by", owner, "id", id})
	return append(b, "/>"...)
}

// withStanzaID adds the archive id as the last child of st.
func withStanzaID(st *xmlstream.Stanza, owner, id string) *xmlstream.Stanza {
	raw := insertChild(st.Raw, stanzaIDElement(owner, id))
	if raw == nil {
		return st
	}
	return withRaw(st, raw)
}

// archiveOutbound archives a message a local user sends and stamps the
// sender's archive id on it for carbons.
func (s *Server) archiveOutbound(ctx context.Context, sess router.Session, st *xmlstream.Stanza) (*xmlstream.Stanza, bool) {
	if st.Name.Local != xmlstream.KindMessage {
		return st, false
	}
	owner := sess.JID().Bare()
	typ := st.Type()
	if typ == "groupchat" && !mayHaveStanzaID(st.Raw) {
		return st, false // fast path: never archived, nothing to strip
	}
	el, err := st.Element()
	if err != nil {
		return st, false
	}
	st = withoutOwnStanzaIDs(st, el, owner)
	if !archivable(typ, el) || s.isAnonymous(owner) {
		return st, false
	}
	to, err := jid.Parse(st.To())
	if err != nil || to.Bare().Equal(owner) {
		// To oneself: archived once, on arrival.
		return st, false
	}
	if !s.mamWanted(ctx, owner, to) {
		return st, false
	}
	id, err := s.archive(ctx, owner, true, to, st.Raw)
	if err != nil {
		s.log.Error("mam: archiving sent message", "user", owner.String(), "err", err)
		return st, false
	}
	return withStanzaID(st, owner.String(), id), false
}

// fromLocalService reports whether addr is on a service domain of this
// server (MUC, pubsub...), not a user domain or a remote server.
func (s *Server) fromLocalService(addr string) bool {
	_, domain, _ := strings.Cut(addr, "@")
	if domain == "" {
		domain = addr
	}
	domain, _, _ = strings.Cut(domain, "/")
	return s.router.Serves(domain) && !s.router.IsLocal(domain)
}

// stripSenderArchiveID removes the id archiveOutbound added, now that
// carbons copied it: the contact must not see it (XEP-0313 §3.3).
func (s *Server) stripSenderArchiveID(_ context.Context, sess router.Session, st *xmlstream.Stanza) (*xmlstream.Stanza, bool) {
	if st.Name.Local != xmlstream.KindMessage || !mayHaveStanzaID(st.Raw) {
		return st, false // not archived (or no id at all): nothing to strip
	}
	raw := bytes.TrimRight(st.Raw, " \t\r\n")
	end := bytes.LastIndex(raw, []byte("</"))
	if end < 0 || !bytes.HasSuffix(raw[:end], []byte("/>")) {
		return st, false
	}
	prefix := stanzaIDElement(sess.JID().Bare().String(), "")
	prefix = prefix[:len(prefix)-2] // up to the end of by='...'
	start := bytes.LastIndex(raw[:end], prefix)
	if start < 0 || bytes.IndexByte(raw[start+1:end], '<') >= 0 {
		return st, false // not our element (ours is the last child)
	}
	out := make([]byte, 0, len(raw))
	out = append(out, raw[:start]...)
	out = append(out, raw[end:]...)
	return withRaw(st, out), false
}

// archiveInbound archives a message to a local account and stamps the
// recipient's archive id on the copy that is delivered.
func (s *Server) archiveInbound(ctx context.Context, to jid.JID, st *xmlstream.Stanza) (*xmlstream.Stanza, bool) {
	if st.Name.Local != xmlstream.KindMessage {
		return st, false
	}
	typ := st.Type()
	if (typ == "groupchat" || typ == "error") && (!mayHaveStanzaID(st.Raw) || s.fromLocalService(st.From())) {
		// The hot fan-out path: no parse. Groupchat is never archived
		// here; a service of this server (MUC) drops client-supplied
		// stanza-ids, so its copies carry no id forged in our users' names.
		return st, false
	}
	if !mayHaveStanzaID(st.Raw) && !mayBeArchivable(st.Raw) {
		// Nothing to strip and nothing to archive (pubsub notifications,
		// chat states...): no parse either.
		return st, false
	}
	el, err := st.Element()
	if err != nil {
		return st, false
	}
	owner := to.Bare()
	st = withoutOwnStanzaIDs(st, el, owner)
	if !archivable(typ, el) || s.isAnonymous(owner) || !s.willDeliver(ctx, to, typ) {
		return st, false
	}
	from, err := jid.Parse(st.From())
	if err != nil || !s.mamWanted(ctx, owner, from) {
		return st, false
	}
	id, err := s.archive(ctx, owner, false, from, st.Raw)
	if err != nil {
		s.log.Error("mam: archiving received message", "user", owner.String(), "err", err)
		return st, false
	}
	return withStanzaID(st, owner.String(), id), false
}

// willDeliver reports whether a message of type typ to 'to' is accepted
// for delivery (RFC 6121 §8.5) rather than bounced: a rejected message is
// not archived (XEP-0313 §7.1).
func (s *Server) willDeliver(ctx context.Context, to jid.JID, typ string) bool {
	if to.Resourcepart() != "" {
		if _, bound := s.router.Lookup(to); bound {
			return true
		}
		if typ != "chat" {
			return false // normal to a gone resource bounces (§8.5.3.2.1)
		}
	}
	return s.accountExists(ctx, to.Bare())
}

// archive appends a message to owner's archive and returns its archive id.
//
// Archive times are what start/end filter on (by binary search along the
// log), so they must never decrease along it and must compare at the
// precision clients see: the time is taken in milliseconds (the delay
// stamps carry milliseconds, so end=<a result's stamp> includes it) and
// raised to the previous entry's, with the append conditional on that
// entry still being the last (two sessions archiving for one user at
// once would otherwise interleave their clocks).
func (s *Server) archive(ctx context.Context, owner jid.JID, outgoing bool, with jid.JID, raw []byte) (string, error) {
	bare := owner.String()
	stream := data.MAMStream(bare)
	rec := mamRecord{nonce: mam.NewNonce(), outgoing: outgoing, with: with.String(), raw: raw}
	var seq uint64
	for attempt := 0; ; attempt++ {
		last, _, err := s.store.Last(ctx, stream)
		if err != nil {
			return "", err
		}
		rec.time = s.now().Truncate(time.Millisecond).UnixNano()
		if prev, ok := s.archiveTime(ctx, stream, last); ok && prev > rec.time {
			rec.time = prev
		}
		seq, err = s.store.Append(ctx, stream, rec.encode(), last)
		if err == nil {
			break
		}
		if !errors.Is(err, data.ErrSequence) || attempt >= casRetries {
			return "", err
		}
	}
	if seq%mamRetentionEvery == 0 {
		if err := s.expireArchive(ctx, bare); err != nil {
			s.log.Error("mam: expiring old messages", "user", bare, "err", err)
		}
	}
	return mam.ID(seq, rec.nonce), nil
}

// archiveTime is the archive time of entry seq of stream, if it is readable.
func (s *Server) archiveTime(ctx context.Context, stream string, seq uint64) (int64, bool) {
	if seq == 0 {
		return 0, false
	}
	es, err := s.store.Read(ctx, stream, seq, 1)
	if err != nil || len(es) != 1 || es[0].Seq != seq {
		return 0, false // expired or truncated: nothing to stay above
	}
	rec, err := decodeMAMRecord(es[0].Data)
	if err != nil {
		return 0, false
	}
	return rec.time, true
}

// retentionCutoff is the archive time before which entries are expired,
// or 0 when archives are kept forever.
func (s *Server) retentionCutoff() int64 {
	if s.state.mam.retention <= 0 {
		return 0
	}
	return s.now().Add(-s.state.mam.retention).UnixNano()
}

// expireArchive removes bare's entries older than the retention period.
// They are the oldest (XEP-0313 §2.2: no holes), found by binary search.
func (s *Server) expireArchive(ctx context.Context, bare string) error {
	cutoff := s.retentionCutoff()
	if cutoff == 0 {
		return nil
	}
	stream := data.MAMStream(bare)
	last, first, err := s.store.Last(ctx, stream)
	if err != nil || last < first {
		return err
	}
	keep, err := s.firstSeqAtOrAfter(ctx, stream, first, last, cutoff)
	if err != nil || keep <= first {
		return err
	}
	return s.store.Truncate(ctx, stream, keep)
}

// ExpireArchives applies the archive retention period to every account of
// the primary domain. Archives are also trimmed as they grow; call this
// periodically (e.g. hourly) so that archives nobody writes to any more
// shrink too. It returns the first error met, after trying every account.
func (s *Server) ExpireArchives(ctx context.Context) error {
	if s.retentionCutoff() == 0 || s.accounts == nil {
		return nil
	}
	users, err := s.accounts.List(ctx, s.opts.Domain)
	if err != nil {
		return err
	}
	var firstErr error
	for _, local := range users {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := s.expireArchive(ctx, local+"@"+s.opts.Domain); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// firstSeqAtOrAfter returns the first sequence in [lo, hi] of stream whose
// archive time is >= t, or hi+1 if none. Archive times grow with the
// sequence (the server clock; a clock stepped back only shifts a boundary),
// so this is a binary search (mam.FirstAtOrAfter).
func (s *Server) firstSeqAtOrAfter(ctx context.Context, stream string, lo, hi uint64, t int64) (uint64, error) {
	return mam.FirstAtOrAfter(ctx, archiveLog{mam.Stream{Store: s.store, Name: stream}}, lo, hi, t)
}
