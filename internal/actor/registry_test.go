package actor

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// An actor starts on its first message, keeps its key's order, retires
// only with an empty mailbox, and Close stops every actor.
func TestRegistry(t *testing.T) {
	var started atomic.Int32
	got := make(chan int, 16)
	var r *Registry[string, int, struct{}]
	r = New(2, func(h *Handle[string, int, struct{}]) {
		started.Add(1)
		for {
			select {
			case m := <-h.Mailbox:
				got <- m
				if m < 0 && r.Release(h) {
					return
				}
			case <-r.Stopping():
				return
			}
		}
	})
	for i := 1; i <= 2; i++ {
		if err := r.Send("a", i); err != nil {
			t.Fatal(err)
		}
	}
	if a, b := <-got, <-got; a != 1 || b != 2 {
		t.Fatalf("order: %d %d", a, b)
	}
	if err := r.Send("a", -1); err != nil { // retires
		t.Fatal(err)
	}
	<-got
	for deadline := time.Now().Add(5 * time.Second); r.Get("a") != nil; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the actor did not retire")
		}
	}
	if err := r.Send("a", 3); err != nil || <-got != 3 || started.Load() != 2 {
		t.Fatalf("restart: %v, started %d", err, started.Load())
	}
	if r.Len() != 1 {
		t.Fatalf("Len = %d", r.Len())
	}
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := r.Send("b", 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after Close: %v", err)
	}
}

// A full mailbox refuses instead of blocking, and Release refuses while
// messages wait.
func TestRegistryFullMailbox(t *testing.T) {
	hold := make(chan struct{})
	var r *Registry[int, int, struct{}]
	var h0 *Handle[int, int, struct{}]
	ready := make(chan struct{})
	r = New(1, func(h *Handle[int, int, struct{}]) {
		h0 = h
		close(ready)
		<-hold
		for range h.Mailbox {
			if r.Release(h) {
				return
			}
		}
	})
	if err := r.Send(7, 1); err != nil {
		t.Fatal(err)
	}
	<-ready // the actor has not read message 1: its mailbox of 1 is full
	if err := r.Send(7, 2); !errors.Is(err, ErrFull) {
		t.Fatalf("full mailbox: %v", err)
	}
	if r.Release(h0) {
		t.Fatal("released with a message waiting")
	}
	close(hold)
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}
