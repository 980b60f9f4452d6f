package muc

// Group commit of the room's history. A groupchat message with a body is
// durable in the room's log before anyone sees it; one durable append per
// message would cap a room at one message per fsync. So the actor commits
// in rounds: the message that starts a round takes with it every groupchat
// message already waiting in the mailbox (those that queued up during the
// previous round's fsync), appends all of them in ONE AppendBatch, and only
// then broadcasts each, in arrival order. The busier the room, the bigger
// the batches; an idle room commits each message alone, as before.
//
// Ordering: a round only takes envelopes that are groupchat messages with
// a body from occupants to the room, whose handling produces nothing but
// the staged message (or an error to its sender alone). The first other
// envelope ends the collection and is handled after the round's broadcasts,
// so the room's output is in exactly the order of its input. Messages
// without a body (chat states) are not archived but, inside a round, wait
// their turn like the rest.

import (
	"context"
	"errors"
	"strings"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/data"
	"github.com/gavelhq/gavel/xmlstream"
)

// A round commits at most this many messages or record bytes, far below
// what one Store transaction may hold (about 1 MB with the low-memory
// Badger settings); the rest start the next round.
const (
	commitMaxMessages = 256
	commitMaxBytes    = 256 << 10
)

// historyCommit is the round in progress, owned by the room's actor.
type historyCommit struct {
	open     bool // a round is collecting: groupchat() stages into it
	staged   []stagedMessage
	archived int // staged messages with a record
	bytes    int // size of their records
}

// stagedMessage is one message of a round.
type stagedMessage struct {
	st  *xmlstream.Stanza  // as the occupant sent it (answered if the commit fails)
	out *xmlstream.Element // as the room broadcasts it
	rec []byte             // its history record; nil: not archived
}

// broadcastGroupchat sends out, the message the room reflects for st, to
// every occupant: archived first if archive is set (with its stanza-id),
// and in any case after every message staged before it.
func (r *room) broadcastGroupchat(ctx context.Context, st *xmlstream.Stanza, out *xmlstream.Element, o *occupant, archive bool) {
	c := &r.commit
	if !archive && !c.open {
		newTemplate(out).fanout(ctx, r.svc.router, r.allSessions())
		return
	}
	m := stagedMessage{st: st, out: out}
	if archive {
		m.rec = r.historyRecordFor(out, o, r.histLast+1+uint64(c.archived))
		c.archived++
		c.bytes += len(m.rec)
	}
	c.staged = append(c.staged, m)
	if !c.open {
		r.commitRound(ctx)
	}
}

// commitRound collects the waiting groupchat messages, commits them and
// broadcasts them, then handles the envelope that ended the collection.
func (r *room) commitRound(ctx context.Context) {
	c := &r.commit
	c.open = true
	defer r.resetCommit() // also after a panic: the room must not stay in a round
	var held *envelope
collect:
	for len(c.staged) < commitMaxMessages && c.bytes < commitMaxBytes {
		select {
		case env := <-r.h.Mailbox:
			if !r.joinsCommit(env) {
				held = &env
				break collect
			}
			r.handle(ctx, env)
		default:
			break collect
		}
	}
	r.flushCommit(ctx)
	r.resetCommit()
	if held != nil {
		r.handle(ctx, *held)
	}
}

func (r *room) resetCommit() {
	clear(r.commit.staged) // drop references for the GC
	r.commit = historyCommit{staged: r.commit.staged[:0]}
}

// joinsCommit reports whether env may be handled inside a round: a
// groupchat message with a body from a session in the room, to the room
// itself. Anything else might produce output that must not overtake the
// staged messages.
func (r *room) joinsCommit(env envelope) bool {
	st := env.st
	if st == nil || r.loadErr != nil || st.Name.Local != xmlstream.KindMessage || st.Type() != "groupchat" {
		return false
	}
	if strings.IndexByte(st.To(), '/') >= 0 {
		return false // a private message attempt
	}
	from, err := jid.Parse(st.From())
	if err != nil || r.sessions[from.String()] == nil {
		return false
	}
	el, err := st.Element()
	return err == nil && el.Child(el.Name.Space, "body") != nil
}

// flushCommit appends the round's records in one batch and broadcasts the
// round's messages in order. If the append fails, the archived messages
// are answered with internal-server-error and not broadcast: nobody sees
// a message that is not in the log.
func (r *room) flushCommit(ctx context.Context) {
	c := &r.commit
	if len(c.staged) == 0 {
		return
	}
	failed := false
	if c.archived > 0 {
		recs := make([][]byte, 0, c.archived)
		for _, m := range c.staged {
			if m.rec != nil {
				recs = append(recs, m.rec)
			}
		}
		stream := data.MUCHistoryStream(r.addr)
		first, err := r.svc.store.AppendBatch(ctx, stream, recs, r.histLast)
		switch {
		case err == nil:
			r.histLast = first + uint64(len(recs)) - 1
			r.trimHistory(ctx, len(recs))
		case errors.Is(err, data.ErrSequence):
			// Someone else wrote the stream (another process):
			// resynchronize so the next round gets correct ids.
			if last, _, lerr := r.svc.store.Last(ctx, stream); lerr == nil {
				r.histLast = last
			}
			failed = true
		default:
			failed = true
		}
		if failed {
			r.log.Error("history append failed", "err", err, "messages", len(recs))
		}
	}
	out := make([]*xmlstream.Element, 0, len(c.staged))
	for _, m := range c.staged {
		if failed && m.rec != nil {
			r.svc.bounce(ctx, m.st, xmlstream.InternalServerError())
			continue
		}
		out = append(out, m.out)
	}
	fanoutRound(ctx, r.svc.router, out, r.allSessions())
}
