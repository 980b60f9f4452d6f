package im

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"mellium.im/xmpp/jid"
)

// hookLog records presence hook calls as strings.
type hookLog struct {
	mu  sync.Mutex
	got []string
}

func (h *hookLog) add(s string) {
	h.mu.Lock()
	h.got = append(h.got, s)
	h.mu.Unlock()
}

func (h *hookLog) take() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := h.got
	h.got = nil
	return out
}

func describe(pc PresenceChange) string {
	ver := ""
	if pc.Caps != nil {
		ver = pc.Caps.Attr("ver")
	}
	return fmt.Sprintf("available=%v initial=%v show=%q prio=%d caps=%q", pc.Available, pc.Initial, pc.Show, pc.Priority, ver)
}

func TestPresenceHooks(t *testing.T) {
	f := newIMFixture(t)
	var log hookLog
	f.srv.OnSessionPresence(func(_ context.Context, full jid.JID, pc PresenceChange) {
		log.add("session " + full.String() + " " + describe(pc))
	})
	f.srv.OnContactPresence(func(_ context.Context, owner, from jid.JID, pc PresenceChange) {
		log.add("contact " + owner.String() + " <- " + from.String() + " " + describe(pc))
	})
	f.account("juliet")
	sess := f.login("juliet@example.com/balcony")
	c := "<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='n' ver='V1'/>"

	f.client(sess, "<presence><show>away</show><priority>5</priority>"+c+"</presence>")
	f.client(sess, "<presence><show>dnd</show></presence>")
	f.client(sess, "<presence to='romeo@remote.test'/>") // directed: not the session's presence
	f.client(sess, "<presence type='unavailable'/>")
	f.client(sess, "<presence>"+c+"</presence>")
	f.logout(sess)
	want := []string{
		`session juliet@example.com/balcony available=true initial=true show="away" prio=5 caps="V1"`,
		`session juliet@example.com/balcony available=true initial=false show="dnd" prio=0 caps=""`,
		`session juliet@example.com/balcony available=false initial=false show="" prio=0 caps=""`,
		`session juliet@example.com/balcony available=true initial=true show="" prio=0 caps="V1"`,
		`session juliet@example.com/balcony available=false initial=false show="" prio=0 caps=""`,
	}
	if got := log.take(); !slices.Equal(got, want) {
		t.Fatalf("session hooks:\n%q\nwant\n%q", got, want)
	}

	// Presence that reaches the account's bare JID, online or not.
	f.route("<presence from='romeo@remote.test/orchard' to='juliet@example.com'><show>chat</show>" + c + "</presence>")
	f.route("<presence from='romeo@remote.test/orchard' to='juliet@example.com' type='unavailable'/>")
	f.route("<presence from='romeo@remote.test' to='juliet@example.com' type='unavailable'/>")
	f.route("<presence from='romeo@remote.test/orchard' to='juliet@example.com' type='error'/>")
	f.route("<presence from='romeo@remote.test/orchard' to='juliet@example.com/balcony'/>") // to a full JID
	want = []string{
		`contact juliet@example.com <- romeo@remote.test/orchard available=true initial=false show="chat" prio=0 caps="V1"`,
		`contact juliet@example.com <- romeo@remote.test/orchard available=false initial=false show="" prio=0 caps=""`,
		`contact juliet@example.com <- romeo@remote.test available=false initial=false show="" prio=0 caps=""`,
	}
	if got := log.take(); !slices.Equal(got, want) {
		t.Fatalf("contact hooks:\n%q\nwant\n%q", got, want)
	}
}

func TestRelations(t *testing.T) {
	f := newIMFixture(t)
	juliet := f.account("juliet")
	ctx := context.Background()
	_, _, err := f.srv.updateRoster(ctx, "juliet@example.com", func(d *rosterDoc) error {
		d.Items["romeo@remote.test"] = &rosterItem{JID: "romeo@remote.test", To: true, From: true, Groups: []string{"Friends"}}
		d.Items["nurse@example.com"] = &rosterItem{JID: "nurse@example.com", From: true}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	rel := f.srv.Relations()
	for contact, want := range map[string]string{
		"romeo@remote.test/orchard": "both", "nurse@example.com": "from", "benvolio@remote.test": "none",
	} {
		if sub, _ := rel.Roster(ctx, juliet, jid.MustParse(contact)); sub != want {
			t.Errorf("Roster(%s) = %q, want %q", contact, sub, want)
		}
	}
	if _, groups := rel.Roster(ctx, juliet, jid.MustParse("romeo@remote.test")); !slices.Equal(groups, []string{"Friends"}) {
		t.Errorf("groups = %v", groups)
	}
	if sub, _ := rel.Roster(ctx, jid.MustParse("x@remote.test"), juliet); sub != "none" {
		t.Errorf("a remote owner's roster: %q", sub)
	}

	a := f.login("juliet@example.com/a")
	f.login("juliet@example.com/b") // bound, never available
	if got := rel.Available(juliet); len(got) != 0 {
		t.Fatalf("available before presence: %v", got)
	}
	f.client(a, "<presence><show>xa</show></presence>")
	got := rel.Sessions(juliet)
	if len(got) != 1 || got[0].Full.String() != "juliet@example.com/a" || got[0].Show != "xa" {
		t.Fatalf("sessions = %+v", got)
	}
	if got := rel.Available(jid.MustParse("x@remote.test")); got != nil {
		t.Fatalf("remote available = %v", got)
	}
}
