package server_test

import (
	"strings"
	"testing"

	"github.com/gavelhq/gavel/internal/testserver"
	"github.com/gavelhq/gavel/server"
)

// Profiles are served only on metrics.pprof_addr, never on the public HTTP
// listener.
func TestPprofOnlyOnItsOwnListener(t *testing.T) {
	ts := testserver.Start(t, func(c *server.Config) { c.Metrics.PprofAddr = "127.0.0.1:0" })
	addr := ts.Addrs().Pprof
	if addr == "" {
		t.Fatal("pprof listener not opened")
	}
	code, body := get(t, "http://"+addr+"/debug/pprof/heap?debug=1")
	if code != 200 || !strings.Contains(body, "heap profile") {
		t.Fatalf("heap profile: %d %.80q", code, body)
	}
	if code, _ := get(t, "http://"+ts.HTTPAddr+"/debug/pprof/"); code == 200 {
		t.Fatal("profiles served on the public HTTP listener")
	}
	// Off by default.
	plain := testserver.Start(t, nil)
	if plain.Addrs().Pprof != "" {
		t.Fatal("pprof listener opened without metrics.pprof_addr")
	}
}
