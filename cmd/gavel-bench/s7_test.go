package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gavelhq/gavel/internal/bench"
)

// S7 at a tiny scale against an in-process Gavel: every node created, every
// subscription made, every notification delivered; counts only.
func TestS7PubSubAgainstGavel(t *testing.T) {
	_, cfg := startServer(t, 6)
	c := cfg
	c.Scenario = "S7"
	c.Nodes, c.SubsPerNode, c.Senders = 3, 4, 2
	c.Rate, c.Duration, c.Drain, c.BodyBytes = 30, 2*time.Second, 10*time.Second, 100
	r, err := bench.Run(context.Background(), c, nil)
	if err != nil {
		t.Fatalf("S7: %v (errors %v)", err, r.Errors)
	}
	if n, s := metric(t, r, "nodes_created"), metric(t, r, "subscriptions"); n != 3 || s != 12 {
		t.Fatalf("S7: %v nodes, %v subscriptions; want 3 and 12 (errors %v)", n, s, r.Errors)
	}
	if svc := r.Params["pubsub_service"]; svc != "pubsub."+c.Domain {
		t.Errorf("S7 found the service %v", svc)
	}
	published, expected, delivered := metric(t, r, "published"), metric(t, r, "expected"), metric(t, r, "delivered")
	if published < 30 || expected != published*4 || delivered != expected {
		t.Fatalf("S7: %v published, %v of %v notifications (errors %v)", published, delivered, expected, r.Errors)
	}
	if l, _ := r.Latency("delivery"); l.Count != uint64(delivered) {
		t.Errorf("S7: %d latencies for %v notifications", l.Count, delivered)
	}
	if e := metric(t, r, "publish_errors") + metric(t, r, "sessions_dropped"); e != 0 {
		t.Errorf("S7: %v publish errors or dropped sessions: %v", e, r.Errors)
	}
}

func TestS7Flags(t *testing.T) {
	c, err := bench.ParseArgs([]string{"-nodes", "5000", "-subs-per-node", "10", "-rate", "2000", "S7"}, &strings.Builder{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Nodes != 5000 || c.SubsPerNode != 10 || c.Rate != 2000 || c.Users != 1000 || c.Duration != 30*time.Second {
		t.Errorf("S7 flags over defaults: %+v", c)
	}
	d, err := bench.ParseArgs([]string{"S7"}, &strings.Builder{})
	if err != nil || d.Nodes != 1 || d.SubsPerNode != 1000 || d.Rate != 50 {
		t.Errorf("S7 defaults: nodes %d subs %d rate %d: %v", d.Nodes, d.SubsPerNode, d.Rate, err)
	}
	for _, bad := range [][]string{
		{"-subs-per-node", "2000", "S7"},                    // more than -users
		{"-nodes", "0", "S7"},                               // no node
		{"-nodes", "100000", "-subs-per-node", "100", "S7"}, // 10M subscriptions
		{"-pubsub-service", "a'b", "S7"},
	} {
		if _, err := bench.ParseArgs(bad, &strings.Builder{}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
