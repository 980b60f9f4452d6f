package muc

import (
	"context"
	"errors"
	"strings"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/data"
	"github.com/gavelhq/gavel/xmlstream"
)

// mayCreate applies Options.Create to bare (admins may always create).
func (s *Service) mayCreate(bare string) bool {
	if s.isAdmin(bare) {
		return true
	}
	switch s.opts.Create {
	case CreateAnyone:
		return true
	case CreateAdmins:
		return false
	}
	j, err := jid.Parse(bare)
	return err == nil && s.local[strings.ToLower(j.Domainpart())]
}

// roomsCreatedBy counts the rooms bare created that still exist, up to
// limit, dropping index rows of rooms that are gone (a temporary room
// cut short by a crash).
func (s *Service) roomsCreatedBy(ctx context.Context, bare, self string, limit int) (int, error) {
	prefix := data.MUCCreatorPrefix(bare)
	var rooms []string
	err := s.store.Scan(ctx, prefix, nil, 0, func(key, _ []byte, _ uint64) bool {
		rooms = append(rooms, strings.TrimPrefix(string(key), string(prefix)))
		return true
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, room := range rooms {
		if n >= limit {
			break
		}
		if room != self && s.active(room) == nil {
			if _, _, err := s.store.Get(ctx, data.MUCRoomKey(room)); errors.Is(err, data.ErrNotFound) {
				_ = s.store.Delete(ctx, data.MUCCreatorKey(bare, room))
				continue
			}
		}
		n++
	}
	return n, nil
}

// create makes a new, locked room owned by bare (§10.1.1), or says why not.
func (r *room) create(ctx context.Context, bare string) *xmlstream.StanzaError {
	svc := r.svc
	if !svc.mayCreate(bare) {
		return mucError(r.addr, xmlstream.ErrCancel, "not-allowed")
	}
	if max := svc.opts.MaxRoomsPerUser; max > 0 && !svc.isAdmin(bare) {
		n, err := svc.roomsCreatedBy(ctx, bare, r.addr, max)
		if err != nil {
			r.log.Error("counting rooms failed", "err", err)
			return xmlstream.InternalServerError()
		}
		if n >= max {
			e := mucError(r.addr, xmlstream.ErrCancel, "not-allowed")
			e.Text = "You may not create more rooms"
			return e
		}
	}
	// Clear what a temporary room of this name may have left after a crash.
	if err := svc.store.DeleteStream(ctx, data.MUCHistoryStream(r.addr)); err != nil {
		r.log.Error("clearing old history failed", "err", err)
		return xmlstream.InternalServerError()
	}
	if _, err := svc.store.Put(ctx, data.MUCCreatorKey(bare, r.addr), nil); err != nil {
		r.log.Error("recording room creator failed", "err", err)
		return xmlstream.InternalServerError()
	}
	r.exists, r.locked, r.rev = true, true, 0
	r.cfg = svc.opts.DefaultConfig.clone()
	r.secret = newOccupantSecret()
	r.creator, r.created = bare, svc.now().UTC()
	r.subject = subjectState{}
	r.histLast = 0
	r.affs = map[string]affEntry{bare: {Affiliation: AffOwner}}
	return nil
}

// ownerQuery handles muc#owner iqs (§10.1-10.2, §10.9): the configuration
// form, instant-room acceptance, configuration, cancellation, destruction.
func (r *room) ownerQuery(ctx context.Context, typ string, q *xmlstream.Element, from jid.JID) (*xmlstream.Element, error) {
	if !r.exists {
		return nil, xmlstream.ItemNotFound()
	}
	if r.affiliation(from.Bare().String()) != AffOwner {
		return nil, xmlstream.Forbidden("")
	}
	if typ == "get" {
		if len(q.Elements()) != 0 {
			return nil, xmlstream.BadRequest("the config request is an empty query")
		}
		return xmlstream.NewElement(NSMUCOwner, "query").Append(r.configForm()), nil
	}
	if d := q.Child(NSMUCOwner, "destroy"); d != nil {
		return nil, r.destroy(ctx, d)
	}
	x := q.Child(NSDataForms, "x")
	if x == nil {
		return nil, xmlstream.BadRequest("expected a data form or <destroy/>")
	}
	switch x.Attr("type") {
	case "cancel":
		if r.locked {
			// §10.1.3: cancelling the initial configuration destroys the room.
			return nil, r.destroy(ctx, xmlstream.NewElement(NSMUCOwner, "destroy"))
		}
		return nil, nil
	case "submit":
	default:
		return nil, xmlstream.BadRequest("the form must be a submit or a cancel")
	}
	return nil, r.submitConfig(ctx, x, from)
}

// configure applies a new configuration: it unlocks a new room, keeps the
// Store in step with persistence, and tells the occupants what changed
// (§10.2.1).
func (r *room) configure(ctx context.Context, cfg RoomConfig) error {
	old, wasLocked := r.cfg, r.locked
	r.cfg, r.locked = cfg, false
	var err error
	switch {
	case cfg.Persistent && (!old.Persistent || wasLocked):
		err = r.persistAll(ctx)
	case cfg.Persistent:
		err = r.saveRoom(ctx)
	case old.Persistent && !wasLocked:
		err = r.unpersist(ctx)
	}
	if err != nil {
		r.cfg, r.locked = old, wasLocked
		r.log.Error("storing configuration failed", "err", err)
		return xmlstream.InternalServerError()
	}
	if !wasLocked {
		r.notifyConfigChange(ctx, old)
	}
	r.afterExit(ctx) // a temporary room with nobody in it ends here
	return nil
}

// notifyConfigChange sends the status codes of §10.2.1 to every occupant.
func (r *room) notifyConfigChange(ctx context.Context, old RoomConfig) {
	codes := []string{statusConfigChanged}
	if old.Logging != r.cfg.Logging {
		codes = append(codes, map[bool]string{true: statusLoggingOn, false: statusLoggingOff}[r.cfg.Logging])
	}
	if old.nonAnonymous() != r.cfg.nonAnonymous() {
		codes = append(codes, map[bool]string{true: statusNowNonAnon, false: statusNowSemiAnon}[r.cfg.nonAnonymous()])
	}
	x := xmlstream.NewElement(NSMUCUser, "x")
	for _, c := range codes {
		x.Append(xmlstream.NewElement(NSMUCUser, "status", "code", c))
	}
	msg := xmlstream.NewElement(xmlstream.NSClient, xmlstream.KindMessage, "from", r.addr, "id", newID(), "type", "groupchat").Append(x)
	newTemplate(msg).fanout(ctx, r.svc.router, r.allSessions())
}
