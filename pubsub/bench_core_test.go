package pubsub

// Benchmarks of the core's publish path (the two shapes docs/benchmarks.md
// names): one node with 1,000 subscribers, and 5,000 nodes with 10
// subscribers each published to from many goroutines. The Notifier only
// counts, so these measure the core: permission checks, the item log
// write (an in-memory Badger: no fsync), the recipient cache.

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/gavelhq/gavel/data"
)

// countingNotifier counts notifications and recipients.
type countingNotifier struct{ events, recipients atomic.Int64 }

func (c *countingNotifier) Notify(_ context.Context, _ *Event, to []Recipient) {
	c.events.Add(1)
	c.recipients.Add(int64(len(to)))
}
func (c *countingNotifier) RequestAuthorization(context.Context, AuthorizationRequest) {}

func benchService(b *testing.B, n Notifier) *Service {
	b.Helper()
	st, err := data.OpenInMemory()
	if err != nil {
		b.Fatal(err)
	}
	svc, err := New(Options{Host: coreHost, Store: st, Notifier: n, LocalDomains: []string{"example.com"}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = svc.Close(context.Background())
		_ = st.Close()
	})
	return svc
}

func benchNode(b *testing.B, svc *Service, node string, subscribers int) {
	b.Helper()
	c := svc.DefaultConfig()
	c.SendLastPublishedItem = SendLastNever
	if _, err := svc.Create(bgCtx, coreHost, jidOf("owner@example.com"), node, &c); err != nil {
		b.Fatal(err)
	}
	for i := range subscribers {
		who := jidOf(fmt.Sprintf("sub%d@example.com", i))
		if _, err := svc.Subscribe(bgCtx, coreHost, who, node, who, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPublishFanout(b *testing.B) {
	cn := &countingNotifier{}
	svc := benchService(b, cn)
	benchNode(b, svc, "fanout", 1000)
	owner := jidOf("owner@example.com/bench")
	items := []Item{{ID: "current", Payload: atomPayload(coreNSAtom, "the price is 42")}}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := svc.Publish(bgCtx, coreHost, owner, "fanout", items, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if ev := cn.events.Load(); ev > 0 {
		b.ReportMetric(float64(cn.recipients.Load())/float64(ev), "recipients/op")
	}
}

func BenchmarkPublishManyNodes(b *testing.B) {
	const nodes, subscribers = 5000, 10
	cn := &countingNotifier{}
	svc := benchService(b, cn)
	for i := range nodes {
		benchNode(b, svc, fmt.Sprintf("node%d", i), subscribers)
	}
	owner := jidOf("owner@example.com/bench")
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		items := []Item{{ID: "current", Payload: atomPayload(coreNSAtom, "the price is 42")}}
		for pb.Next() {
			node := fmt.Sprintf("node%d", next.Add(1)%nodes)
			if _, err := svc.Publish(bgCtx, coreHost, owner, node, items, nil); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	if ev := cn.events.Load(); ev > 0 {
		b.ReportMetric(float64(cn.recipients.Load())/float64(ev), "recipients/op")
	}
}
