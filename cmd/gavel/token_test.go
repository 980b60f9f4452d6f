package main

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/gavelhq/gavel/server"
	"github.com/gavelhq/gavel/webui"
)

func TestTokenCommands(t *testing.T) {
	env := testEnv(t)
	r := gavel(t, env, "", "token", "add", "alice", "--label", "push service")
	m := regexp.MustCompile(`^created token ([0-9a-f]{12}) for alice@example.org\ntoken: (gvl_\S+)\n$`).FindStringSubmatch(r.stdout)
	if r.code != exitOK || m == nil || !strings.Contains(r.stderr, "shown only now") {
		t.Fatalf("token add: %+v", r)
	}
	prefix, token := m[1], m[2]
	if webui.HashToken(token)[:12] != prefix {
		t.Errorf("printed hash %s is not the token's", prefix)
	}
	if r := gavel(t, env, "", "token", "add", "--label", "bot", "bot@pubsub.example.org"); r.code != exitOK || !strings.Contains(r.stdout, "for bot@pubsub.example.org") {
		t.Errorf("token add (flag first, any JID): %+v", r)
	}
	r = gavel(t, env, "", "token", "list")
	if r.code != exitOK || !strings.Contains(r.stdout, prefix) || !strings.Contains(r.stdout, "push service") ||
		!strings.Contains(r.stdout, "bot@pubsub.example.org") || strings.Contains(r.stdout, token) {
		t.Errorf("token list: %+v", r)
	}
	// The server's view: the token authenticates as alice.
	cfg, err := server.Load(server.Overrides{}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	dd, err := server.OpenDataDir(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	info, ok, err := webui.NewTokens(dd.Store).Lookup(context.Background(), token)
	dd.Close()
	if err != nil || !ok || info.JID != "alice@example.org" {
		t.Errorf("lookup: %+v %v %v", info, ok, err)
	}

	for _, bad := range [][]string{
		{"token"}, {"token", "add"}, {"token", "frob"}, {"token", "list", "x"},
		{"token", "add", "a@b@c"}, {"token", "revoke", "12"}, {"token", "add", "alice", "--label", "a\nb"},
	} {
		if r := gavel(t, env, "", bad...); r.code != exitUsage {
			t.Errorf("%q: %+v", bad, r)
		}
	}
	if r := gavel(t, env, "", "token", "revoke", "000000"); r.code != exitError && !strings.HasPrefix(prefix, "000000") {
		t.Errorf("revoke unknown: %+v", r)
	}
	if r := gavel(t, env, "", "token", "revoke", prefix); r.code != exitOK || r.stdout != "revoked token "+prefix+" for alice@example.org\n" {
		t.Errorf("revoke: %+v", r)
	}
	if r := gavel(t, env, "", "token", "list"); strings.Contains(r.stdout, prefix) {
		t.Errorf("revoked token listed: %+v", r)
	}
}
