package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gavelhq/gavel/server"
)

// syncBuffer is a bytes.Buffer safe to read while the server writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// serve runs in-process until ctx is cancelled, as SIGTERM does.
func TestServeUntilSignal(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "gavel.yaml")
	if err := os.WriteFile(cfgFile, []byte("domain: serve.example\nlog:\n  format: json\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{server.EnvConfig: cfgFile, server.EnvData: filepath.Join(dir, "data")}
	var out, errb syncBuffer
	e := env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(k string) string { return vars[k] }}
	ctx, cancel := context.WithCancel(context.Background())
	codec := make(chan int, 1)
	go func() {
		codec <- run(ctx, []string{"serve", "--dev", "--c2s-addr", "127.0.0.1:0", "--c2s-tls-addr", "", "--s2s-addr", "",
			"--http-addr", "127.0.0.1:0"}, e, nil)
	}()
	// Wait for the start log line (JSON, from the config file) with the HTTP address.
	var httpAddr string
	deadline := time.Now().Add(20 * time.Second)
	for httpAddr == "" && time.Now().Before(deadline) {
		for _, line := range strings.Split(errb.String(), "\n") {
			if strings.Contains(line, `"msg":"gavel started"`) {
				i := strings.Index(line, `"http":"`)
				httpAddr = line[i+8:]
				httpAddr = httpAddr[:strings.IndexByte(httpAddr, '"')]
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if httpAddr == "" {
		cancel()
		t.Fatalf("server did not start: %s", errb.String())
	}
	resp, err := http.Get("http://" + httpAddr + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("healthz: %v %v", resp, err)
	}
	if resp != nil {
		resp.Body.Close()
	}
	if !strings.Contains(out.String(), "admin@serve.example") || !strings.Contains(out.String(), "alice@serve.example") {
		t.Errorf("no first-start banner on stdout: %q", out.String())
	}
	cancel()
	select {
	case code := <-codec:
		if code != exitOK {
			t.Errorf("exit code %d, stderr %s", code, errb.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop after the signal")
	}
	if !strings.Contains(errb.String(), `"msg":"stopped"`) {
		t.Errorf("no clean stop logged: %s", errb.String())
	}
	// The data directory is free again.
	if r := gavel(t, vars, "", "user", "list", "--domain", "serve.example"); r.code != exitOK ||
		r.stdout != "admin@serve.example\nalice@serve.example\nbob@serve.example\n" {
		t.Errorf("user list after serve: %+v", r)
	}
}
