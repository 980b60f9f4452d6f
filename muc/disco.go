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

// discoItems lists public rooms (§6.3): persistent ones from the public
// index, temporary ones from the active registry, sorted by JID, paged
// with RSM <max/> and <after/> (at most maxItemsPage per answer, with a
// <set/> whenever the list does not end there).
func (s *Service) discoItems(ctx context.Context, q *xmlstream.Element) (*xmlstream.Element, error) {
	if q.Attr("node") != "" {
		return nil, xmlstream.ItemNotFound()
	}
	max, after, hasSet := maxItemsPage, "", false
	if set := q.Child(NSRSM, "set"); set != nil {
		hasSet = true
		if m := set.Child(NSRSM, "max"); m != nil {
			n, err := strconv.Atoi(strings.TrimSpace(m.Text()))
			if err != nil || n < 0 {
				return nil, xmlstream.BadRequest("RSM <max/> must be a non-negative integer")
			}
			max = min(n, maxItemsPage)
		}
		if a := set.Child(NSRSM, "after"); a != nil {
			after = strings.TrimSpace(a.Text())
			if after == "" {
				return nil, xmlstream.BadRequest("empty RSM <after/>")
			}
		}
		if set.Child(NSRSM, "before") != nil || set.Child(NSRSM, "index") != nil {
			return nil, xmlstream.FeatureNotImplemented("paging backwards through rooms is not supported")
		}
	}
	// Persistent public rooms after 'after', one more than needed to know
	// whether the list goes on.
	var rooms []listedRoom
	prefix := data.MUCPublicPrefix()
	var from []byte
	if after != "" {
		from = append(slices.Clone(prefix), after...)
	}
	err := s.store.Scan(ctx, prefix, from, max+1, func(key, val []byte, _ uint64) bool {
		rooms = append(rooms, listedRoom{jid: strings.TrimPrefix(string(key), string(prefix)), name: string(val)})
		return true
	})
	if err != nil {
		return nil, err
	}
	for _, in := range s.activeInfos() {
		if in.listed && !in.persistent && in.jid > after {
			rooms = append(rooms, listedRoom{jid: in.jid, name: in.name})
		}
	}
	slices.SortFunc(rooms, func(a, b listedRoom) int { return strings.Compare(a.jid, b.jid) })
	rooms = slices.CompactFunc(rooms, func(a, b listedRoom) bool { return a.jid == b.jid })
	more := len(rooms) > max
	if more {
		rooms = rooms[:max]
	}
	res := xmlstream.NewElement(NSDiscoItems, "query")
	for _, r := range rooms {
		res.Append(xmlstream.NewElement(NSDiscoItems, "item", "jid", r.jid, "name", r.name))
	}
	if hasSet || more {
		set := xmlstream.NewElement(NSRSM, "set")
		if len(rooms) > 0 {
			set.Append(xmlstream.NewElement(NSRSM, "first").AppendText(rooms[0].jid),
				xmlstream.NewElement(NSRSM, "last").AppendText(rooms[len(rooms)-1].jid))
		}
		res.Append(set)
	}
	return res, nil
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
