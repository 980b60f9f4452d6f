package muc

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gavelhq/gavel/data"
	"github.com/gavelhq/gavel/mam"
)

func TestLazyActivationAndHibernation(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.IdleTimeout = 20 * time.Millisecond })
	if n := f.svc.ActiveRooms(); n != 0 {
		t.Fatalf("%d rooms active before any stanza", n)
	}
	f.createInstant(alice, "first", fieldPersistent, "1")
	if n := f.svc.ActiveRooms(); n != 1 {
		t.Fatalf("%d active rooms, want 1", n)
	}
	f.send("<message id='m' type='groupchat' from='" + alice + "' to='" + testRoom + "'><body>kept</body></message>")
	f.send("<presence type='unavailable' from='" + alice + "' to='" + testRoom + "/first'/>")
	waitFor(t, "hibernation", func() bool { return f.svc.ActiveRooms() == 0 })
	// The next stanza wakes it with its state.
	got := f.join(bob, "second")
	if len(got) != 3 || !strings.Contains(got[1], "<body>kept</body>") {
		t.Fatalf("after hibernation: %q", got)
	}
	if n := f.svc.ActiveRooms(); n != 1 {
		t.Fatalf("%d active rooms after wake-up", n)
	}
	// An occupied room never hibernates.
	time.Sleep(60 * time.Millisecond)
	if n := f.svc.ActiveRooms(); n != 1 {
		t.Fatal("an occupied room hibernated")
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPanicInHandlerDoesNotKillRoom(t *testing.T) {
	f := twoInRoom(t)
	f.svc.do(context.Background(), testRoom, func(*room) { panic("boom") })
	f.send("<message id='m' type='groupchat' from='" + bob + "' to='" + testRoom + "'><body>still here</body></message>")
	if got := f.user(alice).take(); len(got) != 1 {
		t.Fatalf("room dead after a panic: %q", got)
	}
}

func TestPersistenceAcrossRestart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	open := func() *data.Badger {
		st, err := data.Open(dir, data.DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	st := open()
	f := newFixtureOn(t, st, func(o *Options) { o.MaxHistoryFetch = 1000 })
	f.createInstant(alice, "first", fieldPersistent, "1", fieldName, "Coven", fieldMembersOnly, "1")
	f.inRoom(testRoom, func(r *room) {
		_ = r.setAffiliation("bob@example.com", affEntry{Affiliation: AffMember, Nick: "second"})
		_ = r.setAffiliation("eve@example.com", affEntry{Affiliation: AffOutcast, Reason: "spam"})
	})
	f.join(bob, "second")
	f.send("<message id='s' type='groupchat' from='" + alice + "' to='" + testRoom + "'><subject>Spells</subject></message>")
	for i := 1; i <= 500; i++ {
		f.send("<message id='m" + strconv.Itoa(i) + "' type='groupchat' from='" + bob + "' to='" + testRoom + "'><body>n" + strconv.Itoa(i) + "</body></message>")
	}
	var secret string
	f.inRoom(testRoom, func(r *room) { secret = r.occupantID("bob@example.com") })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.svc.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	// A new process: new store handle, new service, nothing loaded yet.
	st2 := open()
	t.Cleanup(func() { _ = st2.Close() })
	f2 := newFixtureOn(t, st2, func(o *Options) { o.MaxHistoryFetch = 1000 })
	if f2.svc.ActiveRooms() != 0 {
		t.Fatal("rooms loaded at start")
	}
	f2.inRoom(testRoom, func(r *room) {
		if !r.exists || r.locked || r.cfg.Name != "Coven" || !r.cfg.Persistent || !r.cfg.MembersOnly {
			t.Errorf("config lost: exists=%v locked=%v %+v", r.exists, r.locked, r.cfg)
		}
		if r.affiliation("alice@example.com") != AffOwner || r.affiliation("bob@example.com") != AffMember ||
			r.affiliation("eve@example.com") != AffOutcast || r.reservedNick("bob@example.com") != "second" {
			t.Errorf("affiliations lost: %+v", r.affs)
		}
		if r.subject.Text != "Spells" || r.subject.Nick != "first" {
			t.Errorf("subject lost: %+v", r.subject)
		}
		if r.occupantID("bob@example.com") != secret {
			t.Error("occupant-id changed across restart")
		}
		if len(r.order) != 0 {
			t.Error("occupants survived a restart")
		}
	})
	// Members-only and bans still apply; history and subject come back.
	if got := f2.join("eve@example.com/x", "eve"); len(got) != 1 || !strings.Contains(got[0], "<forbidden") {
		t.Fatalf("ban lost: %q", got)
	}
	got := f2.join(bob, "second")
	msgs := 0
	for _, g := range got {
		if strings.Contains(g, "<body>") {
			msgs++
		}
	}
	if msgs != 500 || !strings.Contains(got[1], "<body>n1</body>") || !strings.Contains(got[500], "<body>n500</body>") ||
		!strings.Contains(got[len(got)-1], "<subject>Spells</subject>") {
		t.Fatalf("history after restart: %d messages, first %q, last %q", msgs, got[1], got[len(got)-1])
	}
	// Numbering continues.
	f2.send("<message id='next' type='groupchat' from='" + bob + "' to='" + testRoom + "'><body>after</body></message>")
	raw := f2.user(bob).takeRaw()
	el, _ := raw[0].Element()
	if seq, _, _ := mam.ParseID(el.Child(NSStanzaID, "stanza-id").Attr("id")); seq != 501 {
		t.Fatalf("stanza-id sequence %d after restart, want 501", seq)
	}
}
