package muc

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/data"
	"github.com/gavelhq/gavel/internal/actor"
	"github.com/gavelhq/gavel/xmlstream"
)

// Router is what the service needs of the server's router: it routes the
// stanzas rooms generate (*router.Router implements it). Route must not
// block on a recipient.
type Router interface {
	Route(ctx context.Context, st *xmlstream.Stanza)
}

// CreatePolicy says who may create rooms (§10.1.1).
type CreatePolicy int

const (
	// CreateLocalUsers: accounts of the server's own domains (LocalDomains) and admins.
	CreateLocalUsers CreatePolicy = iota
	// CreateAnyone: any JID, remote ones included.
	CreateAnyone
	// CreateAdmins: service admins only.
	CreateAdmins
)

// ParseCreatePolicy maps a config word to a policy.
func ParseCreatePolicy(s string) (CreatePolicy, error) {
	switch s {
	case "", "local", "local_users":
		return CreateLocalUsers, nil
	case "anyone", "all":
		return CreateAnyone, nil
	case "admins", "admin":
		return CreateAdmins, nil
	}
	return 0, errors.New("muc: unknown room creation policy " + s)
}

// Options configure a Service. Zero values get the defaults noted.
type Options struct {
	// Domain is the service's JID (e.g. conference.example.org). Required.
	Domain string
	// Name is the service's disco identity name (default "Chatrooms").
	Name   string
	Router Router
	Store  data.Store
	Logger *slog.Logger
	// Admins are bare JIDs that act as owners of every room.
	Admins []string
	// Create says who may create rooms; LocalDomains are the server's own
	// domains for CreateLocalUsers.
	Create       CreatePolicy
	LocalDomains []string
	// MaxRoomsPerUser bounds the rooms one user creates (0: no limit; admins are exempt).
	MaxRoomsPerUser int
	// DefaultConfig is the configuration of new rooms (default DefaultRoomConfig()).
	DefaultConfig *RoomConfig
	// MaxHistoryFetch caps the messages sent on join, whatever the room or
	// the client ask (default 50; the room's muc#maxhistoryfetch can lower it).
	MaxHistoryFetch int
	// HistoryRetention is how many messages a room's log keeps (0: all).
	HistoryRetention int
	// MailboxSize bounds each room's queue of pending stanzas (default 1024);
	// a stanza to a full room is answered with resource-constraint.
	MailboxSize int
	// IdleTimeout: an active room with no occupants and no traffic for this
	// long stops its goroutine (default 5 minutes); its state stays in the Store.
	IdleTimeout time.Duration
	// Now is the clock (default time.Now); tests set it.
	Now func() time.Time
}

const (
	defaultMailbox         = 1024
	defaultIdleTimeout     = 5 * time.Minute
	defaultMaxHistoryFetch = 50
)

// Service is the MUC service: a router.Handler for its domain.
type Service struct {
	opts   Options
	domain string
	log    *slog.Logger
	store  data.Store
	router Router
	admins map[string]bool
	local  map[string]bool

	rooms *actor.Registry[string, envelope, roomInfoBox]

	baseCtx context.Context
}

// roomHandle is a room's entry in the registry while its actor runs: its
// JID (Key), mailbox, and the listing info it publishes (Extra).
type roomHandle = actor.Handle[string, envelope, roomInfoBox]

// New builds the service. It starts no goroutine: rooms start on demand.
func New(o Options) (*Service, error) {
	d, err := jid.Parse(o.Domain)
	if err != nil || d.Localpart() != "" || d.Resourcepart() != "" {
		return nil, errors.New("muc: invalid service domain " + o.Domain)
	}
	if o.Router == nil || o.Store == nil {
		return nil, errors.New("muc: Router and Store are required")
	}
	if o.Name == "" {
		o.Name = "Chatrooms"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.DefaultConfig == nil {
		c := DefaultRoomConfig()
		o.DefaultConfig = &c
	}
	o.DefaultConfig.normalize()
	if o.MaxHistoryFetch <= 0 {
		o.MaxHistoryFetch = defaultMaxHistoryFetch
	}
	if o.MailboxSize <= 0 {
		o.MailboxSize = defaultMailbox
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = defaultIdleTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Service{
		opts: o, domain: d.String(), log: o.Logger, store: o.Store, router: o.Router,
		admins: map[string]bool{}, local: map[string]bool{},
		baseCtx: context.Background(),
	}
	for _, a := range o.Admins {
		if j, err := jid.Parse(a); err == nil {
			s.admins[j.Bare().String()] = true
		}
	}
	for _, l := range o.LocalDomains {
		s.local[strings.ToLower(l)] = true
	}
	s.rooms = actor.New(o.MailboxSize, s.runRoom)
	return s, nil
}

// Domain is the service's JID.
func (s *Service) Domain() string { return s.domain }

// Name is the service's disco name.
func (s *Service) Name() string { return s.opts.Name }

func (s *Service) now() time.Time { return s.opts.Now() }

func (s *Service) isAdmin(bare string) bool { return s.admins[bare] }

// HandleStanza implements router.Handler for the service domain.
func (s *Service) HandleStanza(ctx context.Context, st *xmlstream.Stanza) {
	to, err := jid.Parse(st.To())
	if err != nil {
		s.bounce(ctx, st, xmlstream.JIDMalformed())
		return
	}
	if st.From() == "" {
		return // nobody to answer; every MUC action needs a sender
	}
	if to.Localpart() == "" {
		s.handleServiceStanza(ctx, to, st)
		return
	}
	s.deliver(ctx, to.Bare().String(), envelope{st: st})
}

// bounce answers st with an error, unless st is an error itself.
func (s *Service) bounce(ctx context.Context, st *xmlstream.Stanza, e *xmlstream.StanzaError) {
	if reply := xmlstream.ErrorReply(st, e); reply != nil && st.From() != "" {
		s.router.Route(ctx, reply)
	}
}

// deliver queues env on the room's actor, starting it if the room is not
// active. It never blocks: a full mailbox answers resource-constraint.
func (s *Service) deliver(ctx context.Context, room string, env envelope) bool {
	err := s.rooms.Send(room, env)
	if err == nil {
		return true
	}
	if env.st != nil {
		if errors.Is(err, actor.ErrFull) {
			s.bounce(ctx, env.st, xmlstream.ResourceConstraint("the room is busy"))
		} else {
			s.bounce(ctx, env.st, xmlstream.ServiceUnavailable())
		}
	}
	return false
}

// active returns the handle of an active room, or nil.
func (s *Service) active(room string) *roomHandle { return s.rooms.Get(room) }

// ActiveRooms is the number of rooms whose actor runs.
func (s *Service) ActiveRooms() int { return s.rooms.Len() }

// activeInfos snapshots the listing info of every active room.
func (s *Service) activeInfos() []roomInfo {
	var out []roomInfo
	s.rooms.Each(func(h *roomHandle) {
		if in := h.Extra.load(); in != nil {
			out = append(out, *in)
		}
	})
	return out
}

// do runs fn inside the room's actor (activating the room) and waits for it.
// It is how other parts of the server and the tests act on a room without
// sharing its state. It returns false if the service is closed or the
// room's mailbox is full.
func (s *Service) do(ctx context.Context, room string, fn func(r *room)) bool {
	done := make(chan struct{})
	if !s.deliver(ctx, room, envelope{fn: fn, done: done}) {
		return false
	}
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}

// Close stops every room actor: occupants get unavailable presence with
// status 332 (§13.2), and state is already durable. It waits for the actors
// or ctx. The service answers service-unavailable afterwards.
func (s *Service) Close(ctx context.Context) error { return s.rooms.Close(ctx) }
