package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/internal/testserver"
	"github.com/gavelhq/gavel/server"
)

var passwordLine = regexp.MustCompile(`(\S+@\S+)\s+password: (\S+)`)

// printedPasswords parses the first-start banner.
func printedPasswords(out string) map[string]string {
	m := map[string]string{}
	for _, sub := range passwordLine.FindAllStringSubmatch(out, -1) {
		m[sub[1]] = sub[2]
	}
	return m
}

func TestFirstStartPrintsPasswordsOnce(t *testing.T) {
	dir := t.TempDir()
	start := func() (*testserver.Server, string) {
		ts := testserver.Start(t, func(c *server.Config) { c.DataDir = dir })
		return ts, ts.Stdout.String()
	}
	ts, out := start()
	pw := printedPasswords(out)
	admin := server.AdminJID(testserver.Domain)
	for _, u := range []string{admin, "alice@" + testserver.Domain, "bob@" + testserver.Domain} {
		p, ok := pw[u]
		if !ok {
			t.Fatalf("first start did not print a password for %s:\n%s", u, out)
		}
		if err := ts.Accounts.Verify(context.Background(), jid.MustParse(u), p); err != nil {
			t.Errorf("printed password of %s does not work: %v", u, err)
		}
	}
	if !strings.Contains(out, ts.C2SAddr) {
		t.Errorf("banner does not say where to connect (%s):\n%s", ts.C2SAddr, out)
	}
	shutdown(t, ts)

	ts2, out2 := start()
	if len(printedPasswords(out2)) != 0 || strings.Contains(out2, "password") {
		t.Errorf("second start printed passwords again:\n%s", out2)
	}
	// The admin kept the password printed the first time.
	if err := ts2.Accounts.Verify(context.Background(), jid.MustParse(admin), pw[admin]); err != nil {
		t.Errorf("admin password changed on restart: %v", err)
	}
}

func TestNoDemoUsersOutsideDev(t *testing.T) {
	ts := testserver.Start(t, func(c *server.Config) {
		c.Dev = false
		c.C2S.RequireTLS = true
		c.Auth.AnonymousDomain = ""
		c.Registration.Open = false
	})
	pw := printedPasswords(ts.Stdout.String())
	if len(pw) != 1 || pw[server.AdminJID(testserver.Domain)] == "" {
		t.Errorf("want only the admin, got %v", pw)
	}
	ok, err := ts.Accounts.Exists(context.Background(), jid.MustParse("alice@"+testserver.Domain))
	if err != nil || ok {
		t.Errorf("alice exists outside dev mode (%v, %v)", ok, err)
	}
}

func shutdown(t *testing.T, ts *testserver.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ts.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

func TestDataDirLockedWhileRunning(t *testing.T) {
	ts := testserver.Start(t, nil)
	cfg := ts.Config()
	_, err := server.Start(context.Background(), cfg, server.WithOutput(io.Discard))
	if !errors.Is(err, server.ErrLocked) {
		t.Fatalf("second server on the same data dir: %v, want ErrLocked", err)
	}
	if _, err := server.OpenDataDir(cfg, nil); !errors.Is(err, server.ErrLocked) || !strings.Contains(err.Error(), "stop the server first") {
		t.Errorf("OpenDataDir while running: %v", err)
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestHealthz(t *testing.T) {
	ts := testserver.Start(t, nil)
	code, body := get(t, "http://"+ts.HTTPAddr+"/healthz")
	var v map[string]string
	if code != http.StatusOK || json.Unmarshal([]byte(body), &v) != nil || v["status"] != "ok" {
		t.Errorf("healthz = %d %q", code, body)
	}
	// After the store closed the check fails.
	shutdown(t, ts)
}

func TestMetricsEndpoint(t *testing.T) {
	ts := testserver.Start(t, nil)
	code, body := get(t, "http://"+ts.HTTPAddr+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics = %d", code)
	}
	for _, name := range []string{
		server.MetricSessions + `{transport="tcp"}`,
		server.MetricStreams + `{transport="websocket"}`,
		server.MetricStanzas + `{direction="in",kind="message"}`,
		server.MetricStanzas + `{direction="out",kind="presence"}`,
		server.MetricRoutingSeconds + "_bucket",
		server.MetricStorageSeconds + `_bucket{op="get"`,
		server.MetricSlowConsumers,
		"go_goroutines",
	} {
		if !strings.Contains(body, name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	// First start wrote accounts: the storage histogram saw operations.
	if !regexp.MustCompile(server.MetricStorageSeconds + `_count\{op="compare_and_set"\} [1-9]`).MatchString(body) {
		t.Errorf("storage latency not recorded:\n%s", grepLines(body, server.MetricStorageSeconds+"_count"))
	}

	off := testserver.Start(t, func(c *server.Config) { c.Metrics.Enabled = false })
	if code, _ := get(t, "http://"+off.HTTPAddr+"/metrics"); code != http.StatusNotFound {
		t.Errorf("metrics disabled: /metrics = %d, want 404", code)
	}
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// A client connected during shutdown receives <system-shutdown/> and the
// closing </stream:stream>, then the connection ends.
func TestShutdownClosesStreams(t *testing.T) {
	ts := testserver.Start(t, nil)
	conn, err := net.Dial("tcp", ts.C2SAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, err = io.WriteString(conn, `<?xml version='1.0'?><stream:stream to='`+ts.Domain+
		`' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`)
	if err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(conn)
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var got strings.Builder
	for !strings.Contains(got.String(), "</stream:features>") {
		b, err := r.ReadByte()
		if err != nil {
			t.Fatalf("reading features: %v (got %q)", err, got.String())
		}
		got.WriteByte(b)
	}
	got.Reset()

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- ts.Shutdown(ctx)
	}()
	rest, _ := io.ReadAll(r) // until the server closes the connection
	s := string(rest)
	if !strings.Contains(s, "<system-shutdown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>") &&
		!strings.Contains(s, `<system-shutdown xmlns="urn:ietf:params:xml:ns:xmpp-streams"/>`) {
		t.Errorf("no system-shutdown stream error in %q", s)
	}
	if !strings.HasSuffix(strings.TrimSpace(s), "</stream:stream>") {
		t.Errorf("stream not closed with </stream:stream>: %q", s)
	}
	if err := <-done; err != nil {
		t.Errorf("shutdown: %v", err)
	}
	// Nothing listens any more.
	if c, err := net.DialTimeout("tcp", ts.C2SAddr, time.Second); err == nil {
		c.Close()
		t.Error("c2s listener still accepts after shutdown")
	}
}
