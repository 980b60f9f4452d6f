package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gavelhq/gavel/internal/bench"
	"github.com/gavelhq/gavel/internal/testserver"
)

// The integration tests drive a real in-process Gavel over loopback
// briefly, so CI exercises every scenario's code path. They check counts
// (no failures, nothing lost), never timing.

func startServer(t *testing.T, users int) (*testserver.Server, bench.Config) {
	t.Helper()
	ts := testserver.Start(t, nil)
	for i := range users {
		ts.CreateUser(bench.AccountName("bench", i), "secret")
	}
	cfg := bench.Defaults()
	cfg.Server = "gavel-test"
	cfg.Addr = ts.C2SAddr
	cfg.WSURL = ts.WebSocketURL
	cfg.Domain = ts.Domain
	cfg.Users = users
	cfg.Concurrency = 4
	cfg.ConnectTimeout = 10 * time.Second
	cfg.MaxRuntime = time.Minute
	return ts, cfg
}

func metric(t *testing.T, r *bench.Result, name string) float64 {
	t.Helper()
	m, ok := r.Metric(name)
	if !ok {
		t.Fatalf("result lacks %s: %+v", name, r.Metrics)
	}
	return m.Value
}

func TestS2AndS3AgainstGavel(t *testing.T) {
	_, cfg := startServer(t, 10)

	s2 := cfg
	s2.Scenario, s2.Logins = "S2", 20
	r, err := bench.Run(context.Background(), s2, testLog{t})
	if err != nil {
		t.Fatalf("S2: %v (errors %v)", err, r.Errors)
	}
	if ok, failed := metric(t, r, "logins_ok"), metric(t, r, "logins_failed"); ok != 20 || failed != 0 {
		t.Fatalf("S2: %v ok, %v failed, errors %v", ok, failed, r.Errors)
	}
	if r.Mechanism != "SCRAM-SHA-256" {
		t.Fatalf("S2 used %q, want SCRAM-SHA-256", r.Mechanism)
	}
	if d := metric(t, r, "scram_derivations_measured"); d != 0 {
		t.Fatalf("S2 derived SCRAM keys %v times while measuring; the warm-up should have filled the cache", d)
	}
	if l, ok := r.Latency("login"); !ok || l.Count != 20 {
		t.Fatalf("S2 login latency %+v", l)
	}

	s3 := cfg
	s3.Scenario, s3.Rate, s3.Duration, s3.Drain, s3.Senders = "S3", 100, time.Second, 10*time.Second, 4
	r, err = bench.Run(context.Background(), s3, testLog{t})
	if err != nil {
		t.Fatalf("S3: %v (errors %v)", err, r.Errors)
	}
	sent, delivered := metric(t, r, "sent"), metric(t, r, "delivered")
	if sent < 10 || delivered != sent || metric(t, r, "lost") != 0 || metric(t, r, "error_replies") != 0 {
		t.Fatalf("S3: sent %v delivered %v lost %v errors %v", sent, delivered, metric(t, r, "lost"), r.Errors)
	}
	if l, _ := r.Latency("delivery"); l.Count != uint64(delivered) {
		t.Fatalf("S3: %d latencies for %v deliveries", l.Count, delivered)
	}
}

func TestS1AndWebSocketAgainstGavel(t *testing.T) {
	_, cfg := startServer(t, 3)

	s1 := cfg
	s1.Scenario, s1.Sessions, s1.Hold = "S1", 6, 200*time.Millisecond
	s1.ServerPID = os.Getpid() // the server runs in this process
	r, err := bench.Run(context.Background(), s1, testLog{t})
	if err != nil {
		t.Fatalf("S1: %v (errors %v)", err, r.Errors)
	}
	if n := metric(t, r, "sessions"); n != 6 || metric(t, r, "dropped_while_idle") != 0 {
		t.Fatalf("S1: %v sessions, errors %v", n, r.Errors)
	}
	metric(t, r, "rss_per_session")

	ws := cfg
	ws.Scenario, ws.Transport, ws.Logins = "S2", "ws", 5
	r, err = bench.Run(context.Background(), ws, testLog{t})
	if err != nil {
		t.Fatalf("S2 over WebSocket: %v (errors %v)", err, r.Errors)
	}
	if ok := metric(t, r, "logins_ok"); ok != 5 {
		t.Fatalf("S2 over WebSocket: %v logins, errors %v", ok, r.Errors)
	}
}

func TestCommandLine(t *testing.T) {
	ts, _ := startServer(t, 2)
	var out, errb bytes.Buffer
	jsonFile := filepath.Join(t.TempDir(), "r.jsonl")
	code := run(context.Background(), []string{"run", "-addr", ts.C2SAddr, "-domain", ts.Domain, "-users", "2",
		"-logins", "4", "-concurrency", "2", "-server", "gavel", "-json", jsonFile, "S2"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "S2 login storm against gavel") || !strings.Contains(out.String(), `{"scenario":"S2"`) {
		t.Fatalf("output lacks the table or the JSON line:\n%s", out.String())
	}
	out.Reset()
	if code := run(context.Background(), []string{"compare", jsonFile}, &out, &errb); code != 0 || !strings.Contains(out.String(), "logins_per_s") {
		t.Fatalf("compare: exit %d\n%s%s", code, out.String(), errb.String())
	}
	if code := run(context.Background(), []string{"run", "-rate", "0", "S3"}, &out, &errb); code != 2 {
		t.Fatalf("bad flags: exit %d, want 2", code)
	}
}

func TestPrepareCreatesAccounts(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	args := []string{"prepare", "-data", dir, "-users", "3", "-domain", testserver.Domain}
	if code := run(context.Background(), args, &out, &errb); code != 0 {
		t.Fatalf("prepare: exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "3 created") {
		t.Fatalf("prepare said %q", out.String())
	}
	out.Reset()
	if code := run(context.Background(), args, &out, &errb); code != 0 || !strings.Contains(out.String(), "3 existed") {
		t.Fatalf("second prepare: exit %d %q %s", code, out.String(), errb.String())
	}
}

// testLog sends progress lines to the test log.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
