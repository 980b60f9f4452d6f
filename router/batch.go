package router

import (
	"context"

	"github.com/gavelhq/gavel/xmlstream"
)

// A Batch lets a producer that sends several stanzas to the same sessions
// (a room broadcasting a round of messages) have each session's share
// written together: one TLS record and one syscall per session instead of
// one per stanza. Deliveries routed with a context from WithBatch are held
// by sessions that can (BatchSender) until the producer calls Flush; the
// rest are sent as usual. Everything about routing — filters, blocking,
// hooks — is unchanged: only the moment of the write moves.
//
// A Batch belongs to one goroutine; Flush must follow (defer it).
type Batch struct {
	held []Flusher
}

// Flusher is a session's output held for a batch.
type Flusher interface {
	// Flush writes (or hands to the writer) what was held.
	Flush()
}

// BatchSender is a Session that can hold a stanza for a batch. SendBatched
// is Send, except that the write waits for b.Flush; the session adds
// itself to b (once per batch) when it holds something.
type BatchSender interface {
	SendBatched(st *xmlstream.Stanza, b *Batch) bool
}

// Hold records f, to be flushed with the batch.
func (b *Batch) Hold(f Flusher) { b.held = append(b.held, f) }

// Flush writes everything held, in the order it was first held.
func (b *Batch) Flush() {
	for i, f := range b.held {
		f.Flush()
		b.held[i] = nil
	}
	b.held = b.held[:0]
}

type batchKey struct{}

// WithBatch returns ctx carrying b.
func WithBatch(ctx context.Context, b *Batch) context.Context {
	return context.WithValue(ctx, batchKey{}, b)
}

// BatchFrom returns the batch ctx carries, or nil.
func BatchFrom(ctx context.Context) *Batch {
	b, _ := ctx.Value(batchKey{}).(*Batch)
	return b
}

// SendVia sends st to s, held for the batch ctx carries if there is one
// and s can hold it.
func SendVia(ctx context.Context, s Session, st *xmlstream.Stanza) bool {
	if b := BatchFrom(ctx); b != nil {
		if bs, ok := s.(BatchSender); ok {
			return bs.SendBatched(st, b)
		}
	}
	return s.Send(st)
}
