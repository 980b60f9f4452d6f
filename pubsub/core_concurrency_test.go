package pubsub

// Actors under concurrency (run with -race), a full mailbox, panics,
// cancellation and shutdown.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"mellium.im/xmpp/jid"
)

func TestConcurrentNodes(t *testing.T) {
	e := newCoreEnv(t, nil)
	const nodes, workers, rounds = 20, 8, 15
	for i := range nodes {
		e.createNode("juliet@example.com", fmt.Sprintf("n%02d", i), func(c *Config) { c.MaxItems = 100 })
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds*4)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			who := jidOf(fmt.Sprintf("user%d@example.com", w))
			for r := range rounds {
				node := fmt.Sprintf("n%02d", (w*rounds+r)%nodes)
				if _, err := e.svc.Subscribe(bgCtx, coreHost, who, node, who, nil); err != nil {
					errs <- err
				}
				if _, err := e.svc.Publish(bgCtx, coreHost, jidOf("juliet@example.com"), node,
					[]Item{{ID: fmt.Sprintf("w%d-r%d", w, r), Payload: atomPayload(coreNSAtom, "x")}}, nil); err != nil {
					errs <- err
				}
				if _, err := e.svc.Items(bgCtx, coreHost, who, node, ItemQuery{MaxItems: 3}); err != nil {
					errs <- err
				}
				if _, err := e.svc.Subscriptions(bgCtx, coreHost, who, ""); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	total := 0
	for i := range nodes {
		info, err := e.svc.Info(bgCtx, coreHost, jidOf("juliet@example.com"), fmt.Sprintf("n%02d", i))
		mustOK(t, err)
		total += info.Items
	}
	if total != workers*rounds {
		t.Fatalf("%d items stored, want %d", total, workers*rounds)
	}
}

// blockingNotifier holds the first Notify until released.
type blockingNotifier struct {
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (b *blockingNotifier) Notify(context.Context, *Event, []Recipient) {
	b.once.Do(func() {
		close(b.entered)
		<-b.release
	})
}
func (b *blockingNotifier) RequestAuthorization(context.Context, AuthorizationRequest) {}

func TestFullMailboxAndCancel(t *testing.T) {
	bn := &blockingNotifier{entered: make(chan struct{}), release: make(chan struct{})}
	e := newCoreEnv(t, func(o *Options) { o.MailboxSize = 1; o.Notifier = bn })
	e.createNode("juliet@example.com", "n", nil)
	_, err := e.svc.Subscribe(bgCtx, coreHost, jidOf("romeo@example.com"), "n", jidOf("romeo@example.com"), nil)
	mustOK(t, err)
	done := make(chan error, 1)
	go func() {
		_, err := e.svc.Publish(bgCtx, coreHost, jidOf("juliet@example.com"), "n", []Item{{Payload: atomPayload(coreNSAtom, "x")}}, nil)
		done <- err
	}()
	<-bn.entered // the actor is busy notifying
	// The next request waits in the mailbox; its caller gives up.
	ctx, cancel := context.WithCancel(bgCtx)
	queued := make(chan error, 1)
	go func() {
		_, err := e.svc.Items(ctx, coreHost, jidOf("romeo@example.com"), "n", ItemQuery{})
		queued <- err
	}()
	h := e.svc.nodes.Get(nodeKey{coreHost, "n"})
	for deadline := time.Now().Add(5 * time.Second); len(h.Mailbox) == 0; {
		if time.Now().After(deadline) {
			t.Fatal("request never queued")
		}
		time.Sleep(time.Millisecond)
	}
	_, err = e.svc.Items(bgCtx, coreHost, jidOf("romeo@example.com"), "n", ItemQuery{})
	wantCoreErr(t, err, "resource-constraint", "wait", "")
	cancel()
	if err := <-queued; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled request: %v", err)
	}
	close(bn.release)
	mustOK(t, <-done)
}

// panickyRelations panics on the first roster question.
type panickyRelations struct{ fakeRelations }

func (p *panickyRelations) Roster(context.Context, jid.JID, jid.JID) (string, []string) {
	panic("roster exploded")
}

func TestPanicIsContained(t *testing.T) {
	e := newCoreEnv(t, func(o *Options) { o.Relations = &panickyRelations{} })
	e.createNode("juliet@example.com", "n", func(c *Config) { c.AccessModel = AccessPresence })
	e.publish("juliet@example.com", "n", "a", "x")
	_, err := e.svc.Items(bgCtx, coreHost, jidOf("romeo@example.com"), "n", ItemQuery{})
	wantCoreErr(t, err, "internal-server-error", "wait", "")
	// The node reloaded and serves on.
	page, err := e.svc.Items(bgCtx, coreHost, jidOf("juliet@example.com"), "n", ItemQuery{})
	mustOK(t, err)
	if len(page.Items) != 1 {
		t.Fatalf("items = %v", coreItemIDs(page.Items))
	}
}

func TestClosedService(t *testing.T) {
	e := newCoreEnv(t, nil)
	e.createNode("juliet@example.com", "n", nil)
	ctx, cancel := context.WithTimeout(bgCtx, 5*time.Second)
	defer cancel()
	mustOK(t, e.svc.Close(ctx))
	_, err := e.svc.Items(bgCtx, coreHost, jidOf("romeo@example.com"), "n", ItemQuery{})
	wantCoreErr(t, err, "service-unavailable", "cancel", "")
}
