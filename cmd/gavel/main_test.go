package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/data"
	"github.com/gavelhq/gavel/pubsub"
	"github.com/gavelhq/gavel/server"
)

// result is one in-process run of the command.
type result struct {
	code           int
	stdout, stderr string
}

// gavel runs the command line with the environment env and stdin.
func gavel(t *testing.T, vars map[string]string, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	e := env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb,
		getenv: func(k string) string { return vars[k] }}
	code := run(context.Background(), args, e, nil)
	return result{code, out.String(), errb.String()}
}

// testEnv is a data directory and domain for the commands.
func testEnv(t *testing.T) map[string]string {
	return map[string]string{
		server.EnvData:   filepath.Join(t.TempDir(), "data"),
		server.EnvDomain: "example.org",
	}
}

func TestUsageAndVersion(t *testing.T) {
	if r := gavel(t, nil, ""); r.code != exitUsage || !strings.Contains(r.stderr, "gavel serve") {
		t.Errorf("no args: %+v", r)
	}
	if r := gavel(t, nil, "", "frobnicate"); r.code != exitUsage || !strings.Contains(r.stderr, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: %+v", r)
	}
	if r := gavel(t, nil, "", "version"); r.code != exitOK || r.stdout != "gavel "+server.Version+"\n" {
		t.Errorf("version: %+v", r)
	}
	if r := gavel(t, nil, "", "user"); r.code != exitUsage || !strings.Contains(r.stderr, "gavel user add NAME") {
		t.Errorf("user without subcommand: %+v", r)
	}
	if r := gavel(t, nil, "", "user", "add"); r.code != exitUsage {
		t.Errorf("user add without NAME: %+v", r)
	}
	if r := gavel(t, nil, "", "serve", "--no-such-flag"); r.code != exitUsage {
		t.Errorf("bad flag: %+v", r)
	}
	if r := gavel(t, map[string]string{server.EnvDomain: "a b"}, "", "user", "list"); r.code != exitUsage || !strings.Contains(r.stderr, "domain:") {
		t.Errorf("invalid config: %+v", r)
	}
}

func TestUserCommands(t *testing.T) {
	env := testEnv(t)
	r := gavel(t, env, "", "user", "add", "alice", "--password", "secret-1")
	if r.code != exitOK || r.stdout != "created alice@example.org\n" {
		t.Fatalf("add alice: %+v", r)
	}
	// Generated password, printed once.
	r = gavel(t, env, "", "user", "add", "bob@example.org")
	if r.code != exitOK || !strings.HasPrefix(r.stdout, "created bob@example.org\npassword: ") {
		t.Fatalf("add bob: %+v", r)
	}
	bobPW := strings.TrimSpace(strings.TrimPrefix(r.stdout, "created bob@example.org\npassword: "))
	// Password from stdin, flags after NAME.
	r = gavel(t, env, "carol-pw\n", "user", "add", "carol", "--password-stdin")
	if r.code != exitOK {
		t.Fatalf("add carol: %+v", r)
	}
	r = gavel(t, env, "", "user", "add", "alice", "--password", "x")
	if r.code != exitError || !strings.Contains(r.stderr, "already exists") {
		t.Errorf("duplicate add: %+v", r)
	}
	r = gavel(t, env, "", "user", "add", "dave@elsewhere.example")
	if r.code != exitUsage || !strings.Contains(r.stderr, "not on this server's domain") {
		t.Errorf("foreign domain: %+v", r)
	}
	r = gavel(t, env, "", "user", "list")
	if r.code != exitOK || r.stdout != "alice@example.org\nbob@example.org\ncarol@example.org\n" {
		t.Fatalf("list: %+v", r)
	}

	r = gavel(t, env, "", "user", "passwd", "alice", "--password", "secret-2")
	if r.code != exitOK {
		t.Fatalf("passwd: %+v", r)
	}
	r = gavel(t, env, "", "user", "passwd", "nobody", "--password", "x")
	if r.code != exitError || !strings.Contains(r.stderr, "no account nobody@example.org") {
		t.Errorf("passwd of a missing account: %+v", r)
	}
	r = gavel(t, env, "", "user", "delete", "carol")
	if r.code != exitOK {
		t.Fatalf("delete: %+v", r)
	}
	r = gavel(t, env, "", "user", "delete", "carol")
	if r.code != exitError || !strings.Contains(r.stderr, "no account") {
		t.Errorf("second delete: %+v", r)
	}
	r = gavel(t, env, "", "user", "list")
	if r.stdout != "alice@example.org\nbob@example.org\n" {
		t.Errorf("list after delete: %+v", r)
	}

	// The passwords really are what was printed or set.
	cfg, err := server.Load(server.Overrides{}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	dd, err := server.OpenDataDir(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dd.Close()
	ctx := context.Background()
	for _, c := range []struct{ user, pw string }{{"alice", "secret-2"}, {"bob", bobPW}} {
		j, _ := parseUser(c.user, "example.org")
		if err := dd.Accounts.Verify(ctx, j, c.pw); err != nil {
			t.Errorf("%s: password does not verify: %v", c.user, err)
		}
	}
	j, _ := parseUser("alice", "example.org")
	if err := dd.Accounts.Verify(ctx, j, "secret-1"); err == nil {
		t.Error("alice's old password still works")
	}
}

// While a process holds the data directory, the commands say so and exit 3.
func TestUserCommandOnLockedDataDir(t *testing.T) {
	env := testEnv(t)
	cfg, err := server.Load(server.Overrides{}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	dd, err := server.OpenDataDir(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dd.Close()
	r := gavel(t, env, "", "user", "list")
	if r.code != exitLocked || !strings.Contains(r.stderr, "is in use by") || !strings.Contains(r.stderr, "stop the server first") {
		t.Errorf("locked: %+v", r)
	}
	r = gavel(t, env, "", "backup", filepath.Join(t.TempDir(), "b"))
	if r.code != exitLocked {
		t.Errorf("backup while locked: %+v", r)
	}
}

func TestBackupRestoreRoundTrip(t *testing.T) {
	env := testEnv(t)
	if r := gavel(t, env, "", "user", "add", "alice", "--password", "pw-a"); r.code != exitOK {
		t.Fatal(r)
	}
	if r := gavel(t, env, "", "user", "add", "bob", "--password", "pw-b"); r.code != exitOK {
		t.Fatal(r)
	}
	file := filepath.Join(t.TempDir(), "gavel.backup")
	r := gavel(t, env, "", "backup", file)
	if r.code != exitOK {
		t.Fatalf("backup: %+v", r)
	}
	if st, err := os.Stat(file); err != nil || st.Mode().Perm() != 0o600 || st.Size() == 0 {
		t.Fatalf("backup file: %v %v", st, err)
	}

	// Restoring over the existing database is refused.
	r = gavel(t, env, "", "restore", file)
	if r.code != exitError || !strings.Contains(r.stderr, "already holds a database") {
		t.Errorf("restore into a used directory: %+v", r)
	}

	fresh := map[string]string{server.EnvData: filepath.Join(t.TempDir(), "restored"), server.EnvDomain: "example.org"}
	r = gavel(t, fresh, "", "restore", file)
	if r.code != exitOK {
		t.Fatalf("restore: %+v", r)
	}
	r = gavel(t, fresh, "", "user", "list")
	if r.code != exitOK || r.stdout != "alice@example.org\nbob@example.org\n" {
		t.Errorf("restored accounts: %+v", r)
	}
	cfg, _ := server.Load(server.Overrides{}, func(k string) string { return fresh[k] })
	dd, err := server.OpenDataDir(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dd.Close()
	j, _ := parseUser("bob", "example.org")
	if err := dd.Accounts.Verify(context.Background(), j, "pw-b"); err != nil {
		t.Errorf("restored password: %v", err)
	}

	r = gavel(t, fresh, "", "restore", filepath.Join(t.TempDir(), "missing"))
	if r.code != exitError {
		t.Errorf("restore of a missing file: %+v", r)
	}
	empty := map[string]string{server.EnvData: filepath.Join(t.TempDir(), "none")}
	if r := gavel(t, empty, "", "backup", file+"2"); r.code != exitError || !strings.Contains(r.stderr, "no database") {
		t.Errorf("backup of an empty dir: %+v", r)
	}
}

// Deleting from the command line runs the IM core's cleanup: the roster and
// the offline queue go with the account.
func TestUserDeleteRemovesUserData(t *testing.T) {
	env := testEnv(t)
	if r := gavel(t, env, "", "user", "add", "erin", "--password", "pw"); r.code != exitOK {
		t.Fatal(r)
	}
	cfg, err := server.Load(server.Overrides{}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const bareJID = "erin@example.org"
	dd, err := server.OpenDataDir(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dd.Store.Put(ctx, data.RosterKey(bareJID), []byte("roster")); err != nil {
		t.Fatal(err)
	}
	if _, err := dd.Store.Append(ctx, data.OfflineStream(bareJID), []byte("<message/>"), data.AnySeq); err != nil {
		t.Fatal(err)
	}
	// A PEP node with an item, as a running server would have made it.
	pep, err := pubsub.New(pubsub.Options{PEP: true, Store: dd.Store, Notifier: nopNotifier{}})
	if err != nil {
		t.Fatal(err)
	}
	erin := jid.MustParse(bareJID + "/laptop")
	if _, err := pep.Publish(ctx, bareJID, erin, "urn:xmpp:bookmarks:1", []pubsub.Item{{ID: "room@muc.example.org",
		Payload: []byte("<conference xmlns='urn:xmpp:bookmarks:1'/>")}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := pep.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// And a node of her own on the pubsub service.
	ps, err := pubsub.New(pubsub.Options{Host: cfg.Services.PubSub, Store: dd.Store, Notifier: nopNotifier{},
		LocalDomains: []string{cfg.Domain}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ps.Create(ctx, cfg.Services.PubSub, erin, "erins-feed", nil); err != nil {
		t.Fatal(err)
	}
	if err := ps.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := dd.Close(); err != nil {
		t.Fatal(err)
	}

	if r := gavel(t, env, "", "user", "delete", "erin"); r.code != exitOK {
		t.Fatal(r)
	}

	dd, err = server.OpenDataDir(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dd.Close()
	if _, _, err := dd.Store.Get(ctx, data.RosterKey(bareJID)); !errors.Is(err, data.ErrNotFound) {
		t.Errorf("roster survived the account: %v", err)
	}
	if last, _, err := dd.Store.Last(ctx, data.OfflineStream(bareJID)); err != nil || last != 0 {
		t.Errorf("offline queue survived the account: last=%d err=%v", last, err)
	}
	nodes := 0
	if err := dd.Store.Scan(ctx, data.PubSubNodePrefix(bareJID), nil, 0, func(_, _ []byte, _ uint64) bool { nodes++; return true }); err != nil || nodes != 0 {
		t.Errorf("PEP nodes survived the account: %d, %v", nodes, err)
	}
	if last, first, err := dd.Store.Last(ctx, data.PubSubItemsStream(bareJID, "urn:xmpp:bookmarks:1")); err != nil || last >= first {
		t.Errorf("PEP items survived the account: [%d,%d] %v", first, last, err)
	}
	if _, _, err := dd.Store.Get(ctx, data.PubSubNodeKey(cfg.Services.PubSub, "erins-feed")); !errors.Is(err, data.ErrNotFound) {
		t.Errorf("the node she alone owned survived the account: %v", err)
	}
}

type nopNotifier struct{}

func (nopNotifier) Notify(context.Context, *pubsub.Event, []pubsub.Recipient)         {}
func (nopNotifier) RequestAuthorization(context.Context, pubsub.AuthorizationRequest) {}
