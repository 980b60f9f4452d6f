package im

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/data"
	"github.com/gavelhq/gavel/router"
	"github.com/gavelhq/gavel/xmlstream"
)

const (
	juliet     = "juliet@example.org"
	wantDelay  = `<delay xmlns='urn:xmpp:delay' from='example.org' stamp='2025-03-14T15:09:26.535Z'>Offline Storage</delay>`
	julietFull = "juliet@example.org/balcony"
)

// queue returns the raw records of bare's offline queue.
func (f *svcFixture) queue(bare string) []string {
	f.t.Helper()
	entries, err := f.store.Read(context.Background(), offlineStream(bare), 1, 10_000)
	if err != nil {
		f.t.Fatalf("Read: %v", err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, string(e.Data))
	}
	return out
}

// store calls storeOffline for raw addressed to its 'to'.
func (f *svcFixture) store1(raw string) bool {
	f.t.Helper()
	st := parseStanza(f.t, raw)
	return f.srv.storeOffline(context.Background(), jid.MustParse(st.To()), st)
}

func chatTo(to string, n int) string {
	return fmt.Sprintf(`<message from='romeo@remote.test/home' to='%s' type='chat' id='m%d'><body>msg %d</body></message>`, to, n, n)
}

func bodies(sts []*xmlstream.Stanza) []string {
	var out []string
	for _, st := range sts {
		el, err := st.Element()
		if err != nil {
			out = append(out, "unparsable: "+err.Error())
			continue
		}
		out = append(out, el.ChildText(xmlstream.NSClient, "body"))
	}
	return out
}

func msgBodies(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("msg %d", i))
	}
	return out
}

func TestStoreOfflineKeepsBytesAddsDelay(t *testing.T) {
	f := newSvcFixture(t, Options{})
	raw := "<message from=\"romeo@remote.test/home\" to='juliet@example.org'  type='chat' xml:lang='en'>" +
		"<body>a &amp; b &lt;3 \u00e9</body>\n  <x xmlns='urn:example'><y a=\"1\"/></x></message>"
	if !f.store1(raw) {
		t.Fatal("storeOffline = false")
	}
	end := strings.LastIndex(raw, "</message>")
	want := "jabber:client\n" + raw[:end] + wantDelay + "</message>"
	if got := f.queue(juliet); !slices.Equal(got, []string{want}) {
		t.Fatalf("stored\n%q\nwant\n%q", got, want)
	}

	// A full JID recipient is stored under the bare JID, 'to' untouched.
	if !f.store1(chatTo(julietFull, 1)) {
		t.Fatal("storeOffline to full JID = false")
	}
	if got := f.queue(juliet); len(got) != 2 || !strings.Contains(got[1], "to='"+julietFull+"'") {
		t.Fatalf("queue %q", got)
	}

	// The delivered copy parses and carries the delay.
	sess := newSvcSession(julietFull)
	f.srv.sendOffline(context.Background(), sess)
	got := sess.received()
	if len(got) != 2 || string(got[0].Raw) != raw[:end]+wantDelay+"</message>" {
		t.Fatalf("delivered %d stanzas, first %q", len(got), got[0].Raw)
	}
	el, err := got[0].Element()
	if err != nil {
		t.Fatal(err)
	}
	if d := el.Child(nsDelay, "delay"); d == nil || d.Attr("stamp") != "2025-03-14T15:09:26.535Z" || d.Attr("from") != svcDomain {
		t.Fatalf("delay %v", d)
	}
	if got[0].Type() != "chat" || got[0].From() != "romeo@remote.test/home" || got[0].Name != (xmlstream.Name{Space: xmlstream.NSClient, Local: "message"}) {
		t.Fatalf("delivered attrs %v name %v", got[0].Attrs, got[0].Name)
	}
}

func TestWithDelay(t *testing.T) {
	at := svcClock
	for _, c := range []struct{ in, want string }{
		{`<message to='a@b'/>`, `<message to='a@b'>` + wantDelay + `</message>`},
		{`<message to='a@b' />  `, `<message to='a@b' >` + wantDelay + `</message>`},
		{`<c:message xmlns:c='jabber:client' to='a@b'><c:body>x</c:body></c:message>`,
			`<c:message xmlns:c='jabber:client' to='a@b'><c:body>x</c:body>` + wantDelay + `</c:message>`},
		{`<c:message xmlns:c='jabber:client'/>`, `<c:message xmlns:c='jabber:client'>` + wantDelay + `</c:message>`},
	} {
		if got := string(withDelay([]byte(c.in), svcDomain, at)); got != c.want {
			t.Errorf("withDelay(%s)\n got %s\nwant %s", c.in, got, c.want)
		}
	}
	if got := withDelay([]byte("not xml"), svcDomain, at); got != nil {
		t.Errorf("withDelay(not xml) = %q, want nil", got)
	}
}

func TestStoreOfflinePolicy(t *testing.T) {
	f := newSvcFixture(t, Options{})
	const from = `from='romeo@remote.test/home' to='juliet@example.org'`
	for _, c := range []struct {
		name, raw string
		stored    bool
	}{
		{"normal", `<message ` + from + `><body>x</body></message>`, true},
		{"explicit normal", `<message ` + from + ` type='normal'><body>x</body></message>`, true},
		{"chat", `<message ` + from + ` type='chat'><body>x</body></message>`, true},
		{"receipt only", `<message ` + from + ` type='chat'><received xmlns='urn:xmpp:receipts' id='m1'/></message>`, true},
		{"encrypted, no body", `<message ` + from + ` type='chat'><encrypted xmlns='eu.siacs.conversations.axolotl'/><store xmlns='urn:xmpp:hints'/></message>`, true},
		{"chat state with store hint", `<message ` + from + ` type='chat'><active xmlns='http://jabber.org/protocol/chatstates'/><store xmlns='urn:xmpp:hints'/></message>`, true},
		{"unknown type is normal", `<message ` + from + ` type='bogus'><body>x</body></message>`, true},
		{"headline with store hint", `<message ` + from + ` type='headline'><body>x</body><store xmlns='urn:xmpp:hints'/></message>`, true},
		{"no-permanent-store allows offline", `<message ` + from + ` type='chat'><body>x</body><no-permanent-store xmlns='urn:xmpp:hints'/></message>`, true},

		{"headline", `<message ` + from + ` type='headline'><body>x</body></message>`, false},
		{"groupchat", `<message ` + from + ` type='groupchat'><body>x</body></message>`, false},
		{"groupchat with store hint", `<message ` + from + ` type='groupchat'><body>x</body><store xmlns='urn:xmpp:hints'/></message>`, false},
		{"error", `<message ` + from + ` type='error'><body>x</body><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>`, false},
		{"error with store hint", `<message ` + from + ` type='error'><body>x</body><store xmlns='urn:xmpp:hints'/></message>`, false},
		{"chat state only", `<message ` + from + ` type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/><thread>t</thread><origin-id xmlns='urn:xmpp:sid:0' id='o'/></message>`, false},
		{"empty", `<message ` + from + ` type='chat'/>`, false},
		{"no-store", `<message ` + from + ` type='chat'><body>x</body><no-store xmlns='urn:xmpp:hints'/></message>`, false},
		{"no-store beats store", `<message ` + from + ` type='chat'><body>x</body><store xmlns='urn:xmpp:hints'/><no-store xmlns='urn:xmpp:hints'/></message>`, false},
		{"anonymous recipient", `<message from='romeo@remote.test/home' to='guest@anon.example.org' type='chat'><body>x</body></message>`, false},
		{"not a message", `<presence ` + from + ` type='subscribe'/>`, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := parseStanza(t, c.raw)
			to := jid.MustParse(st.To())
			before := len(f.queue(to.Bare().String()))
			if got := f.srv.storeOffline(context.Background(), to, st); got != c.stored {
				t.Fatalf("storeOffline = %v, want %v", got, c.stored)
			}
			after := len(f.queue(to.Bare().String()))
			if want := before + map[bool]int{true: 1}[c.stored]; after != want {
				t.Fatalf("queue length %d, want %d", after, want)
			}
		})
	}
}

func TestStoreOfflineQuota(t *testing.T) {
	f := newSvcFixture(t, Options{OfflineQuota: 3})
	for i := range 3 {
		if !f.store1(chatTo(juliet, i)) {
			t.Fatalf("message %d not stored", i)
		}
	}
	if f.store1(chatTo(juliet, 3)) {
		t.Fatal("4th message stored beyond the quota of 3")
	}
	// The quota is per account.
	if !f.store1(chatTo("nurse@example.org", 0)) {
		t.Fatal("other account refused")
	}
	// Delivery frees the queue.
	sess := newSvcSession(julietFull)
	f.srv.sendOffline(context.Background(), sess)
	if got := bodies(sess.received()); !slices.Equal(got, msgBodies(0, 3)) {
		t.Fatalf("delivered %q", got)
	}
	for i := range 3 {
		if !f.store1(chatTo(juliet, 10+i)) {
			t.Fatalf("message %d not stored after delivery", 10+i)
		}
	}
	if f.store1(chatTo(juliet, 13)) {
		t.Fatal("stored beyond the quota after delivery")
	}

	// A sender that appends between our count and our append (simulated
	// deterministically) cannot make us overshoot the quota.
	h := newSvcFixture(t, Options{OfflineQuota: 2})
	if !h.store1(chatTo(juliet, 0)) {
		t.Fatal("first message not stored")
	}
	racer := &racingStore{Store: h.store, record: []byte("jabber:client\n" + chatTo(juliet, 1))}
	h.srv.store = racer
	if h.store1(chatTo(juliet, 2)) {
		t.Fatal("stored beyond the quota after a concurrent append")
	}
	if q := h.queue(juliet); len(q) != 2 || !strings.Contains(q[1], "msg 1") {
		t.Fatalf("queue after the race %q", q)
	}

	// Concurrent senders never overshoot the quota.
	g := newSvcFixture(t, Options{OfflineQuota: 10})
	var wg sync.WaitGroup
	var mu sync.Mutex
	stored := 0
	for w := range 4 {
		var batch []*xmlstream.Stanza
		for i := range 10 {
			batch = append(batch, parseStanza(t, chatTo(juliet, w*100+i)))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, st := range batch {
				if g.srv.storeOffline(context.Background(), jid.MustParse(juliet), st) {
					mu.Lock()
					stored++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if n := len(g.queue(juliet)); n != 10 || stored != 10 {
		t.Fatalf("concurrent: %d reported stored, %d in queue; want 10", stored, n)
	}
}

func TestSendOfflineOrderAndPaging(t *testing.T) {
	n := 2*offlinePage + 5
	f := newSvcFixture(t, Options{OfflineQuota: n})
	for i := range n {
		if !f.store1(chatTo(juliet, i)) {
			t.Fatalf("message %d not stored", i)
		}
	}
	sess := newSvcSession(julietFull)
	f.srv.sendOffline(context.Background(), sess)
	if got := bodies(sess.received()); !slices.Equal(got, msgBodies(0, n)) {
		t.Fatalf("delivered %d, want %d in order: %q", len(got), n, got)
	}
	if q := f.queue(juliet); len(q) != 0 {
		t.Fatalf("%d messages left after delivery", len(q))
	}
	last, first, err := f.store.Last(context.Background(), offlineStream(juliet))
	if err != nil || queued(last, first) != 0 {
		t.Fatalf("Last = %d, %d, %v; want an empty queue", last, first, err)
	}
	again := newSvcSession(julietFull)
	f.srv.sendOffline(context.Background(), again)
	if len(again.received()) != 0 {
		t.Fatal("messages delivered twice")
	}
	// Numbering goes on after a truncation: new messages are found too.
	if !f.store1(chatTo(juliet, 1000)) {
		t.Fatal("not stored after delivery")
	}
	f.srv.sendOffline(context.Background(), again)
	if got := bodies(again.received()); !slices.Equal(got, []string{"msg 1000"}) {
		t.Fatalf("after refill delivered %q", got)
	}
}

func TestSendOfflineConcurrentLogins(t *testing.T) {
	const n = 150
	f := newSvcFixture(t, Options{OfflineQuota: n})
	for i := range n {
		if !f.store1(chatTo(juliet, i)) {
			t.Fatalf("message %d not stored", i)
		}
	}
	a, b := newSvcSession("juliet@example.org/a"), newSvcSession("juliet@example.org/b")
	var wg sync.WaitGroup
	for _, s := range []*svcSession{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.srv.sendOffline(context.Background(), s)
		}()
	}
	wg.Wait()
	all := append(bodies(a.received()), bodies(b.received())...)
	if len(all) != n {
		t.Fatalf("delivered %d messages in total (%d + %d), want each of %d once", len(all), len(a.received()), len(b.received()), n)
	}
	seen := map[string]bool{}
	for _, m := range all {
		if seen[m] {
			t.Fatalf("%q delivered twice", m)
		}
		seen[m] = true
	}
	// Each session got its share in order.
	for _, s := range []*svcSession{a, b} {
		got := bodies(s.received())
		if !slices.IsSortedFunc(got, func(x, y string) int {
			var i, j int
			fmt.Sscanf(x, "msg %d", &i)
			fmt.Sscanf(y, "msg %d", &j)
			return i - j
		}) {
			t.Fatalf("%s got messages out of order: %q", s.jid, got)
		}
	}
}

func TestSendOfflineSendFailureKeepsRest(t *testing.T) {
	f := newSvcFixture(t, Options{})
	for i := range 5 {
		f.store1(chatTo(juliet, i))
	}
	closing := newSvcSession(julietFull)
	closing.acceptN = 2
	f.srv.sendOffline(context.Background(), closing)
	if got := bodies(closing.received()); !slices.Equal(got, msgBodies(0, 2)) {
		t.Fatalf("closing session got %q", got)
	}
	if q := f.queue(juliet); len(q) != 3 {
		t.Fatalf("%d left in the queue, want 3", len(q))
	}
	next := newSvcSession("juliet@example.org/chamber")
	f.srv.sendOffline(context.Background(), next)
	if got := bodies(next.received()); !slices.Equal(got, msgBodies(2, 5)) {
		t.Fatalf("next session got %q", got)
	}

	// A record that cannot be parsed is dropped, not left blocking the queue.
	if _, err := f.store.Append(context.Background(), offlineStream(juliet), []byte("jabber:client\n<message><body>"), data.AnySeq); err != nil {
		t.Fatal(err)
	}
	f.store1(chatTo(juliet, 9))
	last := newSvcSession("juliet@example.org/c")
	f.srv.sendOffline(context.Background(), last)
	if got := bodies(last.received()); !slices.Equal(got, []string{"msg 9"}) {
		t.Fatalf("after a corrupt record got %q", got)
	}
	if q := f.queue(juliet); len(q) != 0 {
		t.Fatalf("queue %q", q)
	}
}

// A message stored just after the recipient's login flush is delivered at once.
func TestStoreOfflineFlushesToAvailableResource(t *testing.T) {
	f := newSvcFixture(t, Options{})
	sess := f.bind(julietFull)
	if !f.store1(chatTo(juliet, 0)) {
		t.Fatal("not stored")
	}
	if len(sess.received()) != 0 {
		t.Fatal("delivered to a resource that is not available")
	}
	f.router.Update(sess, func(r *router.Resource) { r.Available, r.Priority = true, -1 })
	f.store1(chatTo(juliet, 1))
	if len(sess.received()) != 0 {
		t.Fatal("delivered to a negative-priority resource")
	}
	f.router.Update(sess, func(r *router.Resource) { r.Priority = 0 })
	f.store1(chatTo(juliet, 2))
	if got := bodies(sess.received()); !slices.Equal(got, msgBodies(0, 3)) {
		t.Fatalf("got %q", got)
	}
	if q := f.queue(juliet); len(q) != 0 {
		t.Fatalf("queue %q", q)
	}
}

func TestAccountDeleteRemovesQueue(t *testing.T) {
	f := newSvcFixture(t, Options{})
	ctx := context.Background()
	bare := jid.MustParse(juliet)
	if err := f.acc.Create(ctx, bare, "secret-password"); err != nil {
		t.Fatalf("Create: %v", err)
	}
	for i := range 3 {
		f.store1(chatTo(juliet, i))
	}
	f.store1(chatTo("nurse@example.org", 0))
	if err := f.acc.Delete(ctx, bare); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if q := f.queue(juliet); len(q) != 0 {
		t.Fatalf("queue of a deleted account: %q", q)
	}
	if q := f.queue("nurse@example.org"); len(q) != 1 {
		t.Fatalf("other queue %q", q)
	}
}

func TestKeyedMutex(t *testing.T) {
	var k keyedMutex
	unlockA := k.lock("a")
	done := make(chan struct{})
	go func() {
		unlock := k.lock("a")
		unlock()
		close(done)
	}()
	// Another key is not blocked.
	k.lock("b")()
	// Wait until the second locker has registered, then check it is still waiting.
	for {
		k.mu.Lock()
		refs := k.locks["a"].refs
		k.mu.Unlock()
		if refs == 2 {
			break
		}
		runtime.Gosched()
	}
	select {
	case <-done:
		t.Fatal("second holder of the same key did not wait")
	default:
	}
	unlockA()
	<-done
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.locks) != 0 {
		t.Fatalf("%d lock entries left", len(k.locks))
	}
}

// racingStore appends record once, right after the first Last, as a
// concurrent sender would between storeOffline's count and its append.
type racingStore struct {
	data.Store
	record []byte
	done   bool
}

func (r *racingStore) Last(ctx context.Context, stream string) (uint64, uint64, error) {
	last, first, err := r.Store.Last(ctx, stream)
	if !r.done {
		r.done = true
		if _, err := r.Store.Append(ctx, stream, r.record, data.AnySeq); err != nil {
			return 0, 0, err
		}
	}
	return last, first, err
}
