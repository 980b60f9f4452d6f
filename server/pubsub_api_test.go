package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gavelhq/gavel/internal/testserver"
	"github.com/gavelhq/gavel/server"
	"github.com/gavelhq/gavel/webui"
)

// The HTTP publish API is mounted on the HTTP listener when pubsub.api is
// on, over the real pubsub service, with tokens from the data directory.
func TestPubSubHTTPAPI(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	cfg := testserver.Config(t)
	cfg.DataDir = dir
	if err := cfg.Finalize(); err != nil {
		t.Fatal(err)
	}
	dd, err := server.OpenDataDir(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	token, _, err := webui.NewTokens(dd.Store).Create(context.Background(), "alice@"+testserver.Domain, "test")
	if cerr := dd.Close(); err != nil || cerr != nil {
		t.Fatal(err, cerr)
	}
	ts := testserver.Start(t, func(c *server.Config) { c.DataDir = dir; c.PubSub.API = true })
	base := "http://" + ts.HTTPAddr + webui.PubSubAPIPath + "/pubsub." + ts.Domain + "/news"
	do := func(method, url, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/xml")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&v)
		return resp.StatusCode, v
	}
	// alice (a --dev demo account) is a local user: publishing auto-creates the node.
	if code, v := do("POST", base+"?id=one", "<n xmlns='urn:t'>hi</n>"); code != 201 || v["id"] != "one" {
		t.Fatalf("publish: %d %v", code, v)
	}
	code, v := do("GET", base, "")
	items, _ := v["items"].([]any)
	if code != 200 || len(items) != 1 || items[0].(map[string]any)["payload"] != "<n xmlns='urn:t'>hi</n>" {
		t.Fatalf("get: %d %v", code, v)
	}
	if code, _ := do("GET", "http://"+ts.HTTPAddr+webui.PubSubAPIPath+"/pubsub.elsewhere/news", ""); code != 404 {
		t.Errorf("other service: %d", code)
	}

	off := testserver.Start(t, nil)
	resp, err := http.Get("http://" + off.HTTPAddr + webui.PubSubAPIPath + "/pubsub." + off.Domain + "/news")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("API off: %d", resp.StatusCode)
	}
}
