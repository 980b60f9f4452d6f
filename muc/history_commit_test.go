package muc

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gavelhq/gavel/data"
	"github.com/gavelhq/gavel/mam"
	"github.com/gavelhq/gavel/xmlstream"
)

// countingStore counts AppendBatch calls and can fail the next ones.
type countingStore struct {
	data.Store
	batches  atomic.Int64
	appends  atomic.Int64
	failNext atomic.Int64
}

var errInjectedAppend = errors.New("injected storage failure")

func (c *countingStore) AppendBatch(ctx context.Context, stream string, ds [][]byte, expect uint64) (uint64, error) {
	c.batches.Add(1)
	if c.failNext.Load() > 0 {
		c.failNext.Add(-1)
		return 0, errInjectedAppend
	}
	return c.Store.AppendBatch(ctx, stream, ds, expect)
}

func (c *countingStore) Append(ctx context.Context, stream string, d []byte, expect uint64) (uint64, error) {
	c.appends.Add(1)
	return c.Store.Append(ctx, stream, d, expect)
}

// holdRoom blocks the room's actor until the returned function is called,
// so that stanzas routed meanwhile wait in its mailbox together.
func holdRoom(t *testing.T, f *fixture) (release func()) {
	t.Helper()
	gate, running := make(chan struct{}), make(chan struct{})
	if !f.svc.deliver(context.Background(), testRoom, envelope{fn: func(*room) { close(running); <-gate }}) {
		t.Fatal("could not hold the room")
	}
	<-running
	return func() { close(gate); f.sync(testRoom) }
}

// route sends raw without waiting for the room.
func routeNoWait(t *testing.T, f *fixture, raw string) {
	t.Helper()
	st, err := xmlstream.ParseStanza([]byte(raw), xmlstream.NSClient, xmlstream.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	f.router.Route(context.Background(), st)
}

func gcMessage(from, id string) string {
	return "<message id='" + id + "' type='groupchat' from='" + from + "' to='" + testRoom + "'><body>" + id + "</body></message>"
}

// logBodies reads the room's log: the body and stanza-id of each entry.
func logBodies(t *testing.T, st data.Store) (bodies, ids []string) {
	t.Helper()
	es, err := st.Read(context.Background(), data.MUCHistoryStream(testRoom), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range es {
		if i > 0 && e.Seq != es[i-1].Seq+1 {
			t.Fatalf("log sequences jump from %d to %d", es[i-1].Seq, e.Seq)
		}
		rec, err := decodeHistoryRecord(e.Data)
		if err != nil {
			t.Fatal(err)
		}
		el, err := xmlstream.ParseElement(rec.raw, xmlstream.NSClient, xmlstream.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		sid := el.Child(NSStanzaID, "stanza-id").Attr("id")
		if want := mam.ID(e.Seq, rec.nonce); sid != want {
			t.Fatalf("entry %d holds stanza-id %s, want %s", e.Seq, sid, want)
		}
		bodies = append(bodies, el.ChildText(xmlstream.NSClient, "body"))
		ids = append(ids, sid)
	}
	return bodies, ids
}

// received lists what s got: the body (or "<presence>") and stanza-id of each.
func receivedBodies(t *testing.T, s *fakeSession) (what, ids []string) {
	t.Helper()
	for _, st := range s.takeRaw() {
		el, err := st.Element()
		if err != nil {
			t.Fatal(err)
		}
		if st.Name.Local == xmlstream.KindPresence {
			what, ids = append(what, "<presence>"), append(ids, "")
			continue
		}
		if st.Type() == "error" {
			what, ids = append(what, "error:"+st.ID()), append(ids, "")
			continue
		}
		what = append(what, el.ChildText(xmlstream.NSClient, "body"))
		sid := ""
		if s := el.Child(NSStanzaID, "stanza-id"); s != nil {
			sid = s.Attr("id")
		}
		ids = append(ids, sid)
	}
	return what, ids
}

func TestGroupCommitBatchesQueuedMessagesInOrder(t *testing.T) {
	mem, err := data.OpenInMemory()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mem.Close() })
	cs := &countingStore{Store: mem}
	f := newFixtureOn(t, cs, nil)
	f.createInstant(alice, "first")
	f.join(bob, "second")
	f.join(carol, "third")
	f.drainAll()
	sayN(f, bob, "warm", 1) // an idle room commits a message alone
	if n := cs.batches.Load(); n != 1 {
		t.Fatalf("%d batches for one message", n)
	}
	f.drainAll()

	// Queue, while the room is busy: 40 messages, a presence change, 30
	// messages, a chat state (no body, not archived), 20 messages.
	release := holdRoom(t, f)
	var want []string
	for i := 1; i <= 90; i++ {
		from := bob
		if i%3 == 0 {
			from = alice
		}
		id := "m" + strconv.Itoa(i)
		routeNoWait(t, f, gcMessage(from, id))
		want = append(want, id)
		switch i {
		case 40:
			routeNoWait(t, f, "<presence from='"+bob+"' to='"+testRoom+"/second'><show>away</show></presence>")
			want = append(want, "<presence>")
		case 70:
			routeNoWait(t, f, "<message id='cs' type='groupchat' from='"+alice+"' to='"+testRoom+"'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>")
			want = append(want, "")
		}
	}
	cs.batches.Store(0)
	release()

	// Three rounds: the presence and the chat state each end one, and are
	// delivered exactly where they were sent.
	if n := cs.batches.Load(); n != 3 {
		t.Errorf("%d AppendBatch calls, want 3", n)
	}
	if n := cs.appends.Load(); n != 0 {
		t.Errorf("%d single appends", n)
	}
	got, ids := receivedBodies(t, f.user(carol))
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("carol received\n%q\nwant\n%q", got, want)
	}
	// What everyone saw is what the log holds, same ids, same order.
	logged, logIDs := logBodies(t, cs)
	var sawBodies, sawIDs []string
	for i, w := range got {
		if w != "" && w != "<presence>" {
			sawBodies, sawIDs = append(sawBodies, w), append(sawIDs, ids[i])
		}
	}
	if strings.Join(logged[1:], ",") != strings.Join(sawBodies, ",") || strings.Join(logIDs[1:], ",") != strings.Join(sawIDs, ",") {
		t.Fatalf("log and broadcast differ:\nlog %q\nsaw %q", logged[1:], sawBodies)
	}
	// Everyone got the same sequence.
	for _, who := range []string{alice, bob} {
		other, _ := receivedBodies(t, f.user(who))
		var bodies []string
		for _, w := range other {
			if w != "<presence>" {
				bodies = append(bodies, w)
			}
		}
		var wantBodies []string
		for _, w := range want {
			if w != "<presence>" {
				wantBodies = append(wantBodies, w)
			}
		}
		if strings.Join(bodies, ",") != strings.Join(wantBodies, ",") {
			t.Errorf("%s received %q", who, bodies)
		}
	}

	// A round is capped: more than commitMaxMessages queued take two.
	release = holdRoom(t, f)
	for i := range commitMaxMessages + 10 {
		routeNoWait(t, f, gcMessage(bob, "c"+strconv.Itoa(i)))
	}
	cs.batches.Store(0)
	release()
	if n := cs.batches.Load(); n != 2 {
		t.Errorf("%d batches for %d messages, want 2", n, commitMaxMessages+10)
	}
	if got, _ := receivedBodies(t, f.user(alice)); len(got) != commitMaxMessages+10 || got[0] != "c0" || got[len(got)-1] != "c"+strconv.Itoa(commitMaxMessages+9) {
		t.Errorf("alice received %d messages", len(got))
	}
}

func TestGroupCommitFailureBroadcastsNothing(t *testing.T) {
	mem, err := data.OpenInMemory()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mem.Close() })
	cs := &countingStore{Store: mem}
	f := newFixtureOn(t, cs, nil)
	f.createInstant(alice, "first")
	f.join(bob, "second")
	f.drainAll()
	release := holdRoom(t, f)
	routeNoWait(t, f, gcMessage(bob, "lost1"))
	routeNoWait(t, f, gcMessage(alice, "lost2"))
	routeNoWait(t, f, gcMessage(bob, "lost3"))
	cs.failNext.Store(1)
	release()
	// Each sender is told; nobody sees a message that is not in the log.
	errFor := func(to, id string) string {
		return "<message from='" + testRoom + "' id='" + id + "' to='" + to + "' type='error'><body>" + id + "</body>" +
			"<error type='cancel'><internal-server-error xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>"
	}
	wantStanzas(t, "bob", f.user(bob).take(), errFor(bob, "lost1"), errFor(bob, "lost3"))
	wantStanzas(t, "alice", f.user(alice).take(), errFor(alice, "lost2"))
	if logged, _ := logBodies(t, cs); len(logged) != 0 {
		t.Fatalf("log holds %q", logged)
	}
	// The room goes on, numbering from where the log is.
	sayN(f, bob, "ok", 1)
	got, ids := receivedBodies(t, f.user(alice))
	if len(got) != 1 || got[0] != "ok1" {
		t.Fatalf("after the failure alice got %q", got)
	}
	if seq, _, _ := mam.ParseID(ids[0]); seq != 1 {
		t.Fatalf("first message after the failure has sequence %d", seq)
	}
}

// TestGroupCommitDurableAfterReopen: a burst from several senders at once;
// then the store is closed and reopened (a crash cannot be staged in
// process): every message anyone received is in the log, under the id it
// was received with, in the order it was received.
func TestGroupCommitDurableAfterReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	st, err := data.Open(dir, data.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	f := newFixtureOn(t, st, nil)
	f.createInstant(alice, "first", fieldPersistent, "1")
	senders := []string{bob, carol, "dave@example.com/pc"}
	for i, s := range senders {
		f.join(s, "s"+strconv.Itoa(i))
	}
	f.drainAll()
	const each = 150
	var wg sync.WaitGroup
	for i, s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range each {
				id := "s" + strconv.Itoa(i) + "-" + strconv.Itoa(n)
				msg, _ := xmlstream.ParseStanza([]byte(gcMessage(s, id)), xmlstream.NSClient, xmlstream.Limits{})
				f.router.Route(context.Background(), msg)
			}
		}()
	}
	wg.Wait()
	f.sync(testRoom)
	got, ids := receivedBodies(t, f.user(alice))
	if len(got) != len(senders)*each {
		t.Fatalf("alice received %d messages, want %d", len(got), len(senders)*each)
	}
	// Each sender's messages in its own order.
	next := map[string]int{}
	for _, b := range got {
		s, n, _ := strings.Cut(b, "-")
		if strconv.Itoa(next[s]) != n {
			t.Fatalf("%s arrived out of its sender's order", b)
		}
		next[s]++
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5e9)
	defer cancel()
	if err := f.svc.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st, err = data.Open(dir, data.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	logged, logIDs := logBodies(t, st)
	if strings.Join(logged, ",") != strings.Join(got, ",") || strings.Join(logIDs, ",") != strings.Join(ids, ",") {
		t.Fatalf("after reopening, the log (%d entries) is not what was broadcast (%d)", len(logged), len(got))
	}
}
