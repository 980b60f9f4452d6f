package muc

// Service discovery (§6): the service's identity, features and public rooms
// (XEP-0059 paging), and each room's identity, features and muc#roominfo.

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/data"
	"github.com/gavelhq/gavel/mam"
	"github.com/gavelhq/gavel/xmlstream"
)

// maxItemsPage is the largest page of rooms one disco#items answer holds.
const maxItemsPage = 100

// serviceFeatures are the service's disco#info features.
var serviceFeatures = []string{NSDiscoInfo, NSDiscoItems, NSMUC, NSStableID, NSOccupantID, NSRSM, NSPing}

// handleServiceStanza handles stanzas to the service domain itself.
func (s *Service) handleServiceStanza(ctx context.Context, to jid.JID, st *xmlstream.Stanza) {
	if st.Name.Local != xmlstream.KindIQ {
		if st.Name.Local == xmlstream.KindMessage && st.Type() != "error" {
			s.bounce(ctx, st, xmlstream.ServiceUnavailable())
		}
		return // presence to the service means nothing
	}
	typ := st.Type()
	if typ != "get" && typ != "set" {
		return
	}
	if to.Resourcepart() != "" {
		s.bounce(ctx, st, xmlstream.ServiceUnavailable())
		return
	}
	el, err := st.Element()
	if err != nil {
		s.bounce(ctx, st, xmlstream.BadRequest("unparsable iq"))
		return
	}
	q := el.FirstElement()
	if q == nil || len(el.Elements()) != 1 {
		s.bounce(ctx, st, xmlstream.BadRequest("an iq get or set carries exactly one payload"))
		return
	}
	var result *xmlstream.Element
	switch {
	case typ != "get":
		err = xmlstream.ServiceUnavailable()
	case q.Name == xmlstream.Name{Space: NSDiscoInfo, Local: "query"}:
		result, err = s.discoInfo(q)
	case q.Name == xmlstream.Name{Space: NSDiscoItems, Local: "query"}:
		result, err = s.discoItems(ctx, q)
	case q.Name == xmlstream.Name{Space: NSPing, Local: "ping"}:
	default:
		err = xmlstream.ServiceUnavailable()
	}
	if err != nil {
		se, ok := err.(*xmlstream.StanzaError)
		if !ok {
			s.log.Error("service iq failed", "err", err)
			se = xmlstream.InternalServerError()
		}
		s.bounce(ctx, st, se)
		return
	}
	s.router.Route(ctx, xmlstream.ResultReply(st, result))
}

func (s *Service) discoInfo(q *xmlstream.Element) (*xmlstream.Element, error) {
	if q.Attr("node") != "" {
		return nil, xmlstream.ItemNotFound()
	}
	res := xmlstream.NewElement(NSDiscoInfo, "query")
	res.Append(xmlstream.NewElement(NSDiscoInfo, "identity", "category", "conference", "type", "text", "name", s.opts.Name))
	appendFeatures(res, serviceFeatures)
	return res, nil
}

func appendFeatures(q *xmlstream.Element, vars []string) {
	vars = slices.Clone(vars)
	slices.Sort(vars)
	for _, v := range slices.Compact(vars) {
		q.Append(xmlstream.NewElement(NSDiscoInfo, "feature", "var", v))
	}
}

// listedRoom is one entry of the service's disco#items.
type listedRoom struct{ jid, name string }

// maxListedRooms bounds how many rooms one listing reads from the Store.
const maxListedRooms = 100000

// discoItems lists public rooms (§6.3): persistent ones from the public
// index, temporary ones from the active registry, sorted by JID, paged with
// XEP-0059 (max, after, before — empty for the last page —, index; count
// and the first item's index in every answer that has a <set/>), at most
// maxItemsPage per answer.
func (s *Service) discoItems(ctx context.Context, q *xmlstream.Element) (*xmlstream.Element, error) {
	if q.Attr("node") != "" {
		return nil, xmlstream.ItemNotFound()
	}
	set := q.Child(NSRSM, "set")
	req, err := mam.ParseRSM(set)
	if err != nil {
		return nil, err
	}
	rooms, err := s.listedRooms(ctx)
	if err != nil {
		return nil, err
	}
	lo, hi, err := rsmWindow(rooms, req)
	if err != nil {
		return nil, err
	}
	res := xmlstream.NewElement(NSDiscoItems, "query")
	for _, r := range rooms[lo:hi] {
		res.Append(xmlstream.NewElement(NSDiscoItems, "item", "jid", r.jid, "name", r.name))
	}
	if set != nil || lo > 0 || hi < len(rooms) {
		first, last := "", ""
		if hi > lo {
			first, last = rooms[lo].jid, rooms[hi-1].jid
		}
		res.Append(mam.RSMResult(first, last, lo, len(rooms)))
	}
	return res, nil
}

// listedRooms returns the rooms disco#items shows, sorted by JID.
func (s *Service) listedRooms(ctx context.Context) ([]listedRoom, error) {
	var rooms []listedRoom
	prefix := data.MUCPublicPrefix()
	err := s.store.Scan(ctx, prefix, nil, maxListedRooms, func(key, val []byte, _ uint64) bool {
		rooms = append(rooms, listedRoom{jid: strings.TrimPrefix(string(key), string(prefix)), name: string(val)})
		return true
	})
	if err != nil {
		return nil, err
	}
	for _, in := range s.activeInfos() {
		if in.listed && !in.persistent {
			rooms = append(rooms, listedRoom{jid: in.jid, name: in.name})
		}
	}
	slices.SortFunc(rooms, func(a, b listedRoom) int { return strings.Compare(a.jid, b.jid) })
	return slices.CompactFunc(rooms, func(a, b listedRoom) bool { return a.jid == b.jid }), nil
}

// rsmWindow applies an RSM request to the sorted rooms: the page is
// rooms[lo:hi]. An <after/> or <before/> naming no listed room is
// item-not-found (XEP-0059 §2.5).
func rsmWindow(rooms []listedRoom, req mam.RSMRequest) (lo, hi int, err error) {
	max := maxItemsPage
	if req.Max >= 0 {
		max = min(req.Max, maxItemsPage)
	}
	find := func(id string) (int, error) {
		i, ok := slices.BinarySearchFunc(rooms, id, func(r listedRoom, id string) int { return strings.Compare(r.jid, id) })
		if !ok {
			return 0, xmlstream.ItemNotFound()
		}
		return i, nil
	}
	switch {
	case req.Index >= 0:
		lo = min(req.Index, len(rooms))
		hi = min(lo+max, len(rooms))
	case req.HasBefore:
		hi = len(rooms)
		if req.Before != "" {
			if hi, err = find(req.Before); err != nil {
				return 0, 0, err
			}
		}
		lo = hi - min(max, hi)
	case req.HasAfter:
		i, err := find(req.After)
		if err != nil {
			return 0, 0, err
		}
		lo = i + 1
		hi = min(lo+max, len(rooms))
	default:
		hi = min(max, len(rooms))
	}
	return lo, hi, nil
}

// discoInfo answers disco#info to the room (§6.4).
func (r *room) discoInfo(typ string, q *xmlstream.Element, from jid.JID) (*xmlstream.Element, error) {
	if typ != "get" {
		return nil, xmlstream.BadRequest("disco is a get")
	}
	if !r.exists || (r.locked && r.affiliation(from.Bare().String()) != AffOwner) {
		return nil, xmlstream.ItemNotFound()
	}
	switch q.Attr("node") {
	case "":
	case "http://jabber.org/protocol/muc#traffic":
		// §17.1.1: no namespace is discarded.
		return nil, xmlstream.ServiceUnavailable()
	case reservedNickNode:
		return r.reservedNickInfo(from), nil // register.go
	default:
		return nil, xmlstream.ItemNotFound()
	}
	name := r.cfg.Name
	if name == "" {
		name = r.jid.Localpart()
	}
	res := xmlstream.NewElement(NSDiscoInfo, "query")
	res.Append(xmlstream.NewElement(NSDiscoInfo, "identity", "category", "conference", "type", "text", "name", name))
	pick := func(cond bool, yes, no string) string {
		if cond {
			return yes
		}
		return no
	}
	c := &r.cfg
	appendFeatures(res, append(r.archiveFeatures(), NSDiscoInfo, NSDiscoItems, NSMUC, NSStableID, NSOccupantID, NSStanzaID, NSPing, NSRegister,
		NSSelfPingOptimization,
		pick(c.Public, "muc_public", "muc_hidden"),
		pick(c.Persistent, "muc_persistent", "muc_temporary"),
		pick(c.MembersOnly, "muc_membersonly", "muc_open"),
		pick(c.Moderated, "muc_moderated", "muc_unmoderated"),
		pick(c.nonAnonymous(), "muc_nonanonymous", "muc_semianonymous"),
		pick(c.PasswordProtected, "muc_passwordprotected", "muc_unsecured"),
	))
	x := xmlstream.NewElement(NSDataForms, "x", "type", "result")
	x.Append(
		formField("hidden", "FORM_TYPE", "", NSRoomInfo),
		formField("", "muc#roominfo_description", "Description", c.Description),
		formField("", "muc#roominfo_subject", "Current Discussion Topic", r.subject.Text),
		formField("", "muc#roominfo_occupants", "Number of occupants", strconv.Itoa(len(r.order))),
		formField("", "muc#roomconfig_changesubject", "Subject can be modified", boolValue(c.ChangeSubject)),
	)
	if c.Lang != "" {
		x.Append(formField("", "muc#roominfo_lang", "Language of discussion", c.Lang))
	}
	if c.MaxHistoryFetch > 0 {
		x.Append(formField("", "muc#maxhistoryfetch", "Maximum Number of History Messages Returned by Room", strconv.Itoa(c.MaxHistoryFetch)))
	}
	res.Append(x)
	return res, nil
}

// discoItems answers disco#items to the room (§6.5): occupants are not
// listed (advised off by default), so the list is empty.
func (r *room) discoItems(typ string, q *xmlstream.Element, from jid.JID) (*xmlstream.Element, error) {
	if typ != "get" {
		return nil, xmlstream.BadRequest("disco is a get")
	}
	if !r.exists || (r.locked && r.affiliation(from.Bare().String()) != AffOwner) {
		return nil, xmlstream.ItemNotFound()
	}
	if q.Attr("node") != "" {
		return nil, xmlstream.ItemNotFound()
	}
	return xmlstream.NewElement(NSDiscoItems, "query"), nil
}
