package muc

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync/atomic"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/xmlstream"
)

// envelope is one item of a room's mailbox: a stanza, or a function to run
// in the actor (done is closed after it ran).
type envelope struct {
	st   *xmlstream.Stanza
	fn   func(*room)
	done chan struct{}
}

// roomInfo is what the service may read about an active room without
// asking its actor (disco#items of the service).
type roomInfo struct {
	jid        string
	name       string
	listed     bool // exists, unlocked, public
	persistent bool
}

type roomInfoBox struct{ p atomic.Pointer[roomInfo] }

func (b *roomInfoBox) load() *roomInfo   { return b.p.Load() }
func (b *roomInfoBox) store(i *roomInfo) { b.p.Store(i) }

// room is the state of one room, owned by its actor goroutine: nothing
// else reads or writes it, so it needs no lock.
type room struct {
	svc  *Service
	h    *roomHandle
	jid  jid.JID // bare room JID
	addr string  // jid.String()
	log  *slog.Logger

	loadErr error // the room could not be loaded: every request fails

	// Durable state (persist.go).
	exists  bool // created (stored if persistent)
	locked  bool // created but not configured yet (§10.1)
	cfg     RoomConfig
	rev     uint64 // revision of the stored room document (0: not stored)
	affs    map[string]affEntry
	subject subjectState
	secret  []byte // occupant-id key
	creator string
	created time.Time
	// histLast is the last sequence of the history log.
	histLast    uint64
	appendsTrim int
	commit      historyCommit // the group commit in progress (history_commit.go)

	// Visit state (memory only).
	occupants map[string]*occupant // by nick
	sessions  map[string]*session  // by full JID
	order     []*occupant          // join order
	relays    relayTable           // iqs relayed to occupants (iqrelay.go)
}

func (s *Service) runRoom(h *roomHandle) {
	j, _ := jid.Parse(h.Key)
	r := &room{svc: s, h: h, jid: j, addr: h.Key, log: s.log.With("room", h.Key),
		occupants: map[string]*occupant{}, sessions: map[string]*session{}}
	ctx := s.baseCtx
	r.load(ctx)
	idle := time.NewTimer(s.opts.IdleTimeout)
	defer idle.Stop()
	for {
		select {
		case <-s.rooms.Stopping():
			r.shutdown(ctx)
			return
		case env := <-h.Mailbox:
			r.handle(ctx, env)
			if len(r.order) == 0 && !r.exists && s.rooms.Release(h) {
				return // nothing left of it (destroyed, never created)
			}
			if !idle.Stop() {
				select {
				case <-idle.C:
				default:
				}
			}
			idle.Reset(s.opts.IdleTimeout)
		case <-idle.C:
			// Hibernate: the state is in the Store already.
			if len(r.order) == 0 && s.rooms.Release(h) {
				return
			}
			idle.Reset(s.opts.IdleTimeout)
		}
	}
}

// handle processes one envelope; a panic is logged and answered with
// internal-server-error, never taking the service down.
func (r *room) handle(ctx context.Context, env envelope) {
	defer func() {
		if env.done != nil {
			close(env.done)
		}
		if p := recover(); p != nil {
			r.log.Error("room handler panicked", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			if env.st != nil {
				r.svc.bounce(ctx, env.st, xmlstream.InternalServerError())
			}
		}
	}()
	if env.fn != nil {
		env.fn(r)
		return
	}
	st := env.st
	if r.loadErr != nil {
		r.svc.bounce(ctx, st, xmlstream.InternalServerError())
		return
	}
	from, err := jid.Parse(st.From())
	if err != nil {
		return
	}
	to, _ := jid.Parse(st.To())
	el, err := st.Element()
	if err != nil {
		r.svc.bounce(ctx, st, xmlstream.BadRequest("unparsable stanza"))
		return
	}
	switch st.Name.Local {
	case xmlstream.KindPresence:
		r.handlePresence(ctx, st, el, from, to.Resourcepart())
	case xmlstream.KindMessage:
		r.handleMessage(ctx, st, el, from, to.Resourcepart())
	case xmlstream.KindIQ:
		r.handleIQ(ctx, st, el, from, to.Resourcepart())
	}
	r.publishInfo()
}

// publishInfo updates what the service may read about this room.
func (r *room) publishInfo() {
	r.h.Extra.store(&roomInfo{
		jid: r.addr, name: r.cfg.Name, persistent: r.cfg.Persistent,
		listed: r.exists && !r.locked && r.cfg.Public,
	})
}

// send routes a stanza the room generated.
func (r *room) send(ctx context.Context, st *xmlstream.Stanza) { r.svc.router.Route(ctx, st) }

// fail answers st with a MUC error naming the room as 'by'.
func (r *room) fail(ctx context.Context, st *xmlstream.Stanza, typ, condition string) {
	r.svc.bounce(ctx, st, mucError(r.addr, typ, condition))
}

// occupantJID is room@service/nick.
func (r *room) occupantJID(nick string) string { return r.addr + "/" + nick }

// shutdown tells every occupant the service is going away (status 332, §13.2).
func (r *room) shutdown(ctx context.Context) {
	for _, o := range r.order {
		for _, s := range o.sessions {
			p := r.presenceElement(presenceSpec{occ: o, sess: s, typ: "unavailable", role: RoleNone,
				statuses: []string{statusSelf, "332"}, withJID: true})
			p.SetAttr("to", s.full)
			r.send(ctx, xmlstream.NewStanza(p))
		}
	}
}

// handleIQ dispatches iqs to the room JID; iqs to occupant JIDs are not
// relayed yet.
func (r *room) handleIQ(ctx context.Context, st *xmlstream.Stanza, el *xmlstream.Element, from jid.JID, nick string) {
	typ := st.Type()
	if typ != "get" && typ != "set" {
		if nick != "" {
			r.relayAnswer(ctx, st, el, from) // iqrelay.go
		}
		return // results and errors to the room are consumed
	}
	payload := el.FirstElement()
	if payload == nil || len(el.Elements()) != 1 {
		r.svc.bounce(ctx, st, xmlstream.BadRequest("an iq get or set carries exactly one payload"))
		return
	}
	if nick != "" {
		r.iqToOccupant(ctx, st, payload, from, nick) // self-ping, relay (iqrelay.go)
		return
	}
	var result *xmlstream.Element
	var err error
	switch payload.Name {
	case xmlstream.Name{Space: NSDiscoInfo, Local: "query"}:
		result, err = r.discoInfo(typ, payload, from)
	case xmlstream.Name{Space: NSDiscoItems, Local: "query"}:
		result, err = r.discoItems(typ, payload, from)
	case xmlstream.Name{Space: NSMUCOwner, Local: "query"}:
		result, err = r.ownerQuery(ctx, typ, payload, from)
	case xmlstream.Name{Space: NSRegister, Local: "query"}:
		r.registerQuery(ctx, st, typ, payload, from) // answers itself: the result precedes the presence
		return
	case xmlstream.Name{Space: NSMAM, Local: "query"}:
		result, err = r.handleMAMQuery(ctx, st, typ, payload, from) // mam.go
	case xmlstream.Name{Space: NSMAM, Local: "metadata"}:
		result, err = r.handleMAMMetadata(ctx, typ, from)
	case xmlstream.Name{Space: NSPing, Local: "ping"}:
		if typ != "get" {
			err = xmlstream.BadRequest("ping is a get")
		}
	case xmlstream.Name{Space: NSMUCAdmin, Local: "query"}:
		r.adminQuery(ctx, st, typ, payload, from) // answers itself: §8.2 orders result and presence
		return
	default:
		err = xmlstream.ServiceUnavailable()
	}
	if err != nil {
		se, ok := err.(*xmlstream.StanzaError)
		if !ok {
			r.log.Error("iq failed", "ns", payload.Name.Space, "err", err)
			se = xmlstream.InternalServerError()
		}
		r.svc.bounce(ctx, st, se)
		return
	}
	r.send(ctx, xmlstream.ResultReply(st, result))
}
