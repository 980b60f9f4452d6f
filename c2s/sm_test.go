package c2s_test

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gavelhq/gavel/c2s"
	"github.com/gavelhq/gavel/internal/xmpptest"
	"github.com/gavelhq/gavel/router"
	"github.com/gavelhq/gavel/xmlstream"
)

// chat builds a message from bob to 'to' with id and body.
func chat(to, id, body string) *xmlstream.Stanza {
	return xmlstream.NewStanza(xmlstream.NewElement(xmlstream.NSClient, "message",
		"from", "bob@"+testDomain+"/x", "to", to, "id", id, "type", "chat").
		Append(xmlstream.NewElement(xmlstream.NSClient, "body").AppendText(body)))
}

// session returns the router session bound at full.
func (e *env) session(t testing.TB, full string) router.Session {
	t.Helper()
	res, ok := e.router.Lookup(mustJID(full))
	if !ok {
		t.Fatalf("%s is not bound", full)
	}
	return res.Session
}

// expectIDs reads messages and checks their ids, in order.
func expectIDs(t *testing.T, c *xmpptest.Client, ids ...string) {
	t.Helper()
	for _, id := range ids {
		st := c.Expect(t, xmpptest.IsKind("message"), 3*time.Second)
		if st.ID() != id {
			t.Fatalf("got message %q, want %q", st.ID(), id)
		}
	}
}

// expectNoMessage fails if a message arrives within d.
func expectNoMessage(t *testing.T, c *xmpptest.Client, d time.Duration) {
	t.Helper()
	for {
		st, err := c.Next(d)
		if err == xmpptest.ErrTimeout {
			return
		}
		if err != nil {
			t.Fatalf("reading: %v", err)
		}
		if st.Name.Local == "message" || st.Name.Local == "presence" {
			t.Fatalf("unexpected stanza: %s", st.Raw)
		}
	}
}

func TestSMFeaturesAndEnable(t *testing.T) {
	e := newEnv(t, envConfig{})
	c := e.dial(t)
	c.Open()
	c.StartTLS()
	if c.HasFeature(xmpptest.NSSM, "sm") || c.HasFeature(xmpptest.NSCSI, "csi") {
		t.Fatal("SM or CSI offered before authentication")
	}
	// Before authentication: failed, the stream goes on.
	c.SendRaw("<enable xmlns='" + xmpptest.NSSM + "'/>")
	f := c.Expect(t, xmpptest.IsName(xmpptest.NSSM, "failed"), time.Second)
	if el, _ := f.Element(); xmpptest.SMFailure(el) != "unexpected-request" {
		t.Fatalf("enable before auth: %s", f.Raw)
	}
	if err := c.Auth("SCRAM-SHA-256", "alice", testPassword); err != nil {
		t.Fatal(err)
	}
	if !c.HasFeature(xmpptest.NSSM, "sm") || !c.HasFeature(xmpptest.NSCSI, "csi") {
		t.Fatalf("SM and CSI not offered after authentication: %s", c.Features)
	}
	// Before bind (§3): failed unexpected-request, binding still works.
	if el := c.TryEnableSM(true, ""); xmpptest.SMFailure(el) != "unexpected-request" {
		t.Fatalf("enable before bind: %s", el)
	}
	c.Bind("phone")
	el := c.TryEnableSM(true, "60")
	if el.Name.Local != "enabled" || el.Attr("resume") != "true" || el.Attr("id") == "" || el.Attr("max") != "60" {
		t.Fatalf("enabled: %s", el)
	}
	// A second enable is refused and ends the stream.
	c.SendRaw("<enable xmlns='" + xmpptest.NSSM + "'/>")
	f = c.Expect(t, xmpptest.IsName(xmpptest.NSSM, "failed"), time.Second)
	if el, _ := f.Element(); xmpptest.SMFailure(el) != "unexpected-request" {
		t.Fatalf("second enable: %s", f.Raw)
	}
	c.ExpectStreamError(t, "policy-violation", 2*time.Second)
}

func TestSMEnableWithoutResume(t *testing.T) {
	e := newEnv(t, envConfig{opts: func(o *c2s.Options) { o.ResumeTimeout = -1 }})
	c := e.login(t, "alice", "")
	el := c.TryEnableSM(true, "")
	if el.Name.Local != "enabled" || el.Attr("resume") != "" || el.Attr("id") != "" {
		t.Fatalf("resumption disabled, yet: %s", el)
	}
	c2 := e.dial(t)
	c2.LoginNoBind("SCRAM-SHA-256", "alice", testPassword)
	if f := c2.Resume("whatever", 0); xmpptest.SMFailure(f) != "feature-not-implemented" {
		t.Fatalf("resume with resumption disabled: %s", f)
	}
}

func TestSMAckCounting(t *testing.T) {
	e := newEnv(t, envConfig{})
	c := e.login(t, "alice", "phone")
	c.EnableSM(false)
	// Inbound: three stanzas of each kind, then <r/>: h=3. Nonzas and
	// the stream's own answers (a bad iq) count as handled stanzas too.
	c.SendRaw("<message to='bob@" + testDomain + "' id='m1'><body>1</body></message>")
	c.SendRaw("<presence/>")
	c.SendRaw("<iq type='get' id='q1' to='" + testDomain + "'><query xmlns='urn:x'/></iq>")
	if h := c.RequestAck(); h != 3 {
		t.Fatalf("server h = %d, want 3", h)
	}
	c.SendRaw("<iq type='get'><query xmlns='urn:x'/></iq>") // no id: answered by the stream
	c.ExpectError(t, "bad-request", time.Second)
	if h := c.RequestAck(); h != 4 {
		t.Fatalf("server h = %d, want 4", h)
	}

	// Outbound: every stanza is counted (the iq error above was the first;
	// an <r/> followed it, which RequestAck skipped). While that request is
	// unanswered no other is sent; once answered, the stanzas sent since
	// are requested by the timer.
	sess := e.session(t, c.JID)
	for i := range 3 {
		sess.Send(chat(c.JID, fmt.Sprint("s", i), "hi"))
	}
	expectIDs(t, c, "s0", "s1", "s2")
	if got := c.SMReceived(); got != 4 {
		t.Fatalf("client received %d stanzas, want 4", got)
	}
	c.SendRaw("<a xmlns='" + xmpptest.NSSM + "' h='1'/>")
	c.Expect(t, xmpptest.IsName(xmpptest.NSSM, "r"), 3*time.Second)
	c.Ack()
	// Acknowledging more than was sent: undefined-condition with the count.
	c.SendRaw("<a xmlns='" + xmpptest.NSSM + "' h='10'/>")
	st := c.Expect(t, xmpptest.IsName(xmlstream.NSStream, "error"), 2*time.Second)
	el, _ := st.Element()
	hc := el.Child(xmpptest.NSSM, "handled-count-too-high")
	if xmpptest.StreamErrorCondition(st) != "undefined-condition" || hc == nil || hc.Attr("h") != "10" || hc.Attr("send-count") != "4" {
		t.Fatalf("h too high: %s", st.Raw)
	}
	c.ExpectEnd(t, 2*time.Second)
	// Everything was acknowledged: nothing to hand back.
	e.h.nextEnded(t)
	select {
	case sts := <-e.h.undelivered:
		t.Fatalf("Undelivered after a full ack: %d stanzas", len(sts))
	case <-time.After(100 * time.Millisecond):
	}
}

func TestSMBadAcks(t *testing.T) {
	e := newEnv(t, envConfig{})
	t.Run("r without enable", func(t *testing.T) {
		c := e.login(t, "alice", "")
		c.SendRaw("<r xmlns='" + xmpptest.NSSM + "'/>")
		c.ExpectStreamError(t, "unsupported-stanza-type", 2*time.Second)
	})
	t.Run("bad h", func(t *testing.T) {
		c := e.login(t, "alice", "")
		c.EnableSM(false)
		c.SendRaw("<a xmlns='" + xmpptest.NSSM + "' h='-1'/>")
		c.ExpectStreamError(t, "bad-format", 2*time.Second)
	})
	t.Run("resume when bound", func(t *testing.T) {
		c := e.login(t, "alice", "")
		if f := c.Resume("x", 0); xmpptest.SMFailure(f) != "unexpected-request" {
			t.Fatalf("resume after bind: %s", f)
		}
	})
}

// cutAndWait drops the client's connection and waits until the session is
// detached.
func cutAndWait(t *testing.T, e *env, c *xmpptest.Client, detached int) {
	t.Helper()
	c.CloseNow()
	waitFor(t, "the session to detach", 3*time.Second, func() bool { return e.srv.DetachedCount() == detached })
}

func TestSMResumeAfterCut(t *testing.T) {
	for _, tc := range []struct {
		name string
		ws   bool
	}{{"tcp to tcp", false}, {"tcp to websocket", true}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envConfig{opts: func(o *c2s.Options) { o.WebSocketSecure = true }})
			c := e.login(t, "alice", "phone")
			id := c.EnableSM(true).Attr("id")
			c.SendRaw("<presence/>")
			e.h.next(t)
			sess := e.session(t, c.JID)
			// A burst the client only partly reads before its connection is cut:
			// some are read, the rest are in flight or still queued.
			const burst = 200
			for i := range burst {
				if !sess.Send(chat(c.JID, strconv.Itoa(i), strings.Repeat("x", 100))) {
					t.Fatalf("Send %d refused", i)
				}
			}
			expectIDs(t, c, "0", "1", "2", "3", "4")
			h := c.SMReceived()
			cutAndWait(t, e, c, 1)
			if n := e.srv.SessionCount(); n != 1 {
				t.Fatalf("SessionCount %d while detached", n)
			}
			// Still bound: stanzas for it are kept, in order.
			if got := e.session(t, "alice@"+testDomain+"/phone"); got != sess {
				t.Fatal("the router lost the detached session")
			}
			for i := burst; i < burst+3; i++ {
				if !sess.Send(chat(c.JID, strconv.Itoa(i), "while away")) {
					t.Fatalf("Send to the detached session refused")
				}
			}

			var n *xmpptest.Client
			if tc.ws {
				n = xmpptest.DialWebSocket(t, e.ws)
				n.Domain = testDomain
			} else {
				n = e.dial(t)
			}
			n.LoginNoBind("SCRAM-SHA-256", "alice", testPassword)
			start := time.Now()
			r := n.Resume(id, h)
			if r.Name.Local != "resumed" || r.Attr("previd") != id || r.Attr("h") != "1" {
				t.Fatalf("resume: %s", r)
			}
			// Every stanza after h, exactly once, in order.
			for i := int(h); i < burst+3; i++ {
				st := n.Expect(t, xmpptest.IsKind("message"), 3*time.Second)
				if st.ID() != strconv.Itoa(i) {
					t.Fatalf("after resume got %q, want %d", st.ID(), i)
				}
			}
			t.Logf("resume to last replayed stanza: %v", time.Since(start))
			if e.srv.DetachedCount() != 0 || e.srv.SessionCount() != 1 {
				t.Fatalf("detached %d sessions %d after resume", e.srv.DetachedCount(), e.srv.SessionCount())
			}
			// Same session: same identity in the router, new traffic flows.
			if got := e.session(t, "alice@"+testDomain+"/phone"); got != sess {
				t.Fatal("the resumed session is a new router.Session")
			}
			sess.Send(chat(c.JID, "new", "after"))
			expectIDs(t, n, "new")
			expectNoMessage(t, n, 100*time.Millisecond)
			// The client's stanzas flow too, counted from the old h.
			n.SendRaw("<message id='up' to='bob@" + testDomain + "'><body>back</body></message>")
			if st := e.h.next(t); st.ID() != "up" || st.From() != "alice@"+testDomain+"/phone" {
				t.Fatalf("after resume the handler got %s", st.Raw)
			}
			if hh := n.RequestAck(); hh != 2 {
				t.Fatalf("server h after resume = %d, want 2", hh)
			}
			select {
			case ev := <-e.h.ended:
				t.Fatalf("SessionEnded during a resume: %+v", ev)
			default:
			}
		})
	}
}

func TestSMResumeFailures(t *testing.T) {
	e := newEnv(t, envConfig{})
	a := e.login(t, "alice", "phone")
	id := a.EnableSM(true).Attr("id")
	cutAndWait(t, e, a, 1)

	t.Run("unknown id, then bind", func(t *testing.T) {
		c := e.dial(t)
		c.LoginNoBind("SCRAM-SHA-256", "alice", testPassword)
		if f := c.Resume("no-such-id", 0); xmpptest.SMFailure(f) != "item-not-found" {
			t.Fatalf("unknown id: %s", f)
		}
		c.Bind("other")
	})
	t.Run("another account", func(t *testing.T) {
		c := e.dial(t)
		c.LoginNoBind("SCRAM-SHA-256", "bob", testPassword)
		if f := c.Resume(id, 0); xmpptest.SMFailure(f) != "item-not-found" {
			t.Fatalf("bob resuming alice's session: %s", f)
		}
		if e.srv.DetachedCount() != 1 {
			t.Fatal("a failed resume touched the session")
		}
	})
	t.Run("h too high", func(t *testing.T) {
		c := e.dial(t)
		c.LoginNoBind("SCRAM-SHA-256", "alice", testPassword)
		c.SendRaw("<resume xmlns='" + xmpptest.NSSM + "' previd='" + id + "' h='5'/>") // nothing was sent since enabling
		st := c.Expect(t, xmpptest.IsName(xmlstream.NSStream, "error"), 2*time.Second)
		if el, _ := st.Element(); el.Child(xmpptest.NSSM, "handled-count-too-high") == nil {
			t.Fatalf("resume with h too high: %s", st.Raw)
		}
	})
	t.Run("owner resumes", func(t *testing.T) {
		c := e.dial(t)
		c.LoginNoBind("SCRAM-SHA-256", "alice", testPassword)
		if r := c.Resume(id, 0); r.Name.Local != "resumed" {
			t.Fatalf("owner: %s", r)
		}
	})
}

func TestSMResumeHalfOpen(t *testing.T) {
	e := newEnv(t, envConfig{})
	old := e.login(t, "alice", "phone")
	id := old.EnableSM(true).Attr("id")
	sess := e.session(t, old.JID)
	sess.Send(chat(old.JID, "m1", "1"))
	expectIDs(t, old, "m1")
	// The old connection still looks alive to the server.
	n := e.dial(t)
	n.LoginNoBind("SCRAM-SHA-256", "alice", testPassword)
	if r := n.Resume(id, 0); r.Name.Local != "resumed" {
		t.Fatalf("resume: %s", r)
	}
	expectIDs(t, n, "m1") // not acknowledged on the old stream
	old.ExpectStreamError(t, "conflict", 3*time.Second)
	sess.Send(chat(old.JID, "m2", "2"))
	expectIDs(t, n, "m2")
	select {
	case ev := <-e.h.ended:
		t.Fatalf("SessionEnded when the old stream closed: %+v", ev)
	case <-time.After(200 * time.Millisecond):
	}
	if e.srv.SessionCount() != 1 || e.srv.DetachedCount() != 0 {
		t.Fatalf("sessions %d detached %d", e.srv.SessionCount(), e.srv.DetachedCount())
	}
}

func TestSMResumeTimeout(t *testing.T) {
	e := newEnv(t, envConfig{opts: func(o *c2s.Options) { o.ResumeTimeout = 300 * time.Millisecond }})
	c := e.login(t, "alice", "phone")
	id := c.EnableSM(true).Attr("id")
	sess := e.session(t, c.JID)
	sess.Send(chat(c.JID, "m1", "read"))
	sess.Send(chat(c.JID, "m2", "unread"))
	expectIDs(t, c, "m1", "m2")
	c.Ack() // h=2
	c.RequestAck()
	sess.Send(chat(c.JID, "m3", "in flight"))
	expectIDs(t, c, "m3") // read but never acknowledged
	cutAndWait(t, e, c, 1)
	sess.Send(chat(c.JID, "m4", "while away"))

	ev := e.h.nextEnded(t)
	if !ev.bound || ev.jid != "alice@"+testDomain+"/phone" {
		t.Fatalf("SessionEnded: %+v", ev)
	}
	left := e.h.nextUndelivered(t)
	var ids []string
	for _, st := range left {
		ids = append(ids, st.ID())
	}
	if strings.Join(ids, ",") != "m3,m4" {
		t.Fatalf("Undelivered got %v, want m3,m4", ids)
	}
	if e.srv.SessionCount() != 0 || e.srv.DetachedCount() != 0 || e.router.SessionCount() != 0 {
		t.Fatal("the expired session is still counted")
	}
	if sess.Send(chat(c.JID, "m5", "too late")) {
		t.Fatal("Send accepted by an ended session")
	}
	n := e.dial(t)
	n.LoginNoBind("SCRAM-SHA-256", "alice", testPassword)
	if f := n.Resume(id, 3); xmpptest.SMFailure(f) != "item-not-found" {
		t.Fatalf("resume after expiry: %s", f)
	}
}

func TestSMCleanCloseHandsBackUnacked(t *testing.T) {
	e := newEnv(t, envConfig{})
	c := e.login(t, "alice", "phone")
	c.EnableSM(true)
	sess := e.session(t, c.JID)
	sess.Send(chat(c.JID, "m1", "unacked"))
	expectIDs(t, c, "m1")
	c.Close() // </stream:stream>: the session ends, no resumption (§7)
	e.h.nextEnded(t)
	left := e.h.nextUndelivered(t)
	if len(left) != 1 || left[0].ID() != "m1" {
		t.Fatalf("Undelivered: %d stanzas", len(left))
	}
	if e.srv.DetachedCount() != 0 {
		t.Fatal("a cleanly closed session was detached")
	}
}

func TestSMUnackedBound(t *testing.T) {
	t.Run("attached", func(t *testing.T) {
		e := newEnv(t, envConfig{opts: func(o *c2s.Options) { o.MaxUnackedStanzas = 5 }})
		c := e.login(t, "alice", "phone")
		c.EnableSM(true)
		sess := e.session(t, c.JID)
		for i := range 5 {
			if !sess.Send(chat(c.JID, strconv.Itoa(i), "x")) {
				t.Fatalf("Send %d refused", i)
			}
		}
		if sess.Send(chat(c.JID, "5", "x")) {
			t.Fatal("Send over the unacked bound accepted")
		}
		c.ExpectStreamError(t, "policy-violation", 3*time.Second)
		e.h.nextEnded(t)
		if left := e.h.nextUndelivered(t); len(left) != 5 {
			t.Fatalf("Undelivered got %d, want 5", len(left))
		}
	})
	t.Run("detached", func(t *testing.T) {
		e := newEnv(t, envConfig{opts: func(o *c2s.Options) { o.MaxUnackedStanzas = 3 }})
		c := e.login(t, "alice", "phone")
		c.EnableSM(true)
		sess := e.session(t, c.JID)
		cutAndWait(t, e, c, 1)
		for i := range 3 {
			sess.Send(chat(c.JID, strconv.Itoa(i), "x"))
		}
		if sess.Send(chat(c.JID, "3", "x")) {
			t.Fatal("Send over the bound accepted while detached")
		}
		e.h.nextEnded(t)
		if left := e.h.nextUndelivered(t); len(left) != 3 {
			t.Fatalf("Undelivered got %d, want 3", len(left))
		}
	})
}

func TestSMKeepaliveDetaches(t *testing.T) {
	e := newEnv(t, envConfig{opts: func(o *c2s.Options) {
		o.IdleTimeout = 100 * time.Millisecond
		o.PingTimeout = 150 * time.Millisecond
		o.CloseGrace = 100 * time.Millisecond
	}})
	c := e.login(t, "alice", "phone")
	id := c.EnableSM(true).Attr("id")
	// The client goes silent (never reads, never answers the ping).
	waitFor(t, "the keepalive to detach the session", 5*time.Second, func() bool { return e.srv.DetachedCount() == 1 })
	n := e.dial(t)
	n.LoginNoBind("SCRAM-SHA-256", "alice", testPassword)
	r := n.Resume(id, 0)
	if r.Name.Local != "resumed" {
		t.Fatalf("resume after a keepalive cut: %s", r)
	}
	// The unanswered ping was a stanza: it comes again.
	n.Expect(t, func(st *xmlstream.Stanza) bool { return strings.HasPrefix(st.ID(), "ping-") }, 3*time.Second)
}

func TestSMShutdownEndsDetached(t *testing.T) {
	e := newEnv(t, envConfig{})
	c := e.login(t, "alice", "phone")
	c.EnableSM(true)
	sess := e.session(t, c.JID)
	cutAndWait(t, e, c, 1)
	sess.Send(chat(c.JID, "m1", "kept"))
	e.stop(t)
	if ev := e.h.nextEnded(t); !ev.bound {
		t.Fatalf("SessionEnded: %+v", ev)
	}
	if left := e.h.nextUndelivered(t); len(left) != 1 || left[0].ID() != "m1" {
		t.Fatalf("Undelivered at shutdown: %d", len(left))
	}
	if e.router.SessionCount() != 0 {
		t.Fatal("a detached session survived Shutdown")
	}
}

// TestSMDetachedHoldsNoGoroutine: a detached session is a timer, not a
// goroutine.
func TestSMDetachedHoldsNoGoroutine(t *testing.T) {
	e := newEnv(t, envConfig{})
	const n = 20
	clients := make([]*xmpptest.Client, n)
	for i := range clients {
		clients[i] = e.login(t, "alice", "r"+strconv.Itoa(i))
		clients[i].EnableSM(true)
	}
	withStreams := runtime.NumGoroutine()
	for i, c := range clients {
		cutAndWait(t, e, c, i+1)
	}
	// Each idle stream had its reader (a writer runs only while output is
	// queued); a detached session keeps none.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > withStreams-n {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines with %d streams, %d with them detached", withStreams, n, runtime.NumGoroutine())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if e.srv.DetachedCount() != n {
		t.Fatalf("%d detached", e.srv.DetachedCount())
	}
}

// With stream management, stanzas delivered through a router.Batch (a MUC
// round) and directly (an idle connection) are counted and kept like any
// other: all arrive in order, the server's h matches, and those held for a
// batch when the connection is cut are replayed on resume.
func TestSMBatchAndDirectWritesAreCountedAndReplayed(t *testing.T) {
	e := newEnv(t, envConfig{})
	c := e.login(t, "alice", "phone")
	id := c.EnableSM(true).Attr("id")
	c.SetAutoAck(true)
	c.SendRaw("<presence/>")
	e.h.next(t)
	sess := e.session(t, c.JID)

	sess.Send(chat(c.JID, "d1", "direct")) // an idle connection: written directly
	var b router.Batch
	ctx := router.WithBatch(context.Background(), &b)
	for i := range 5 {
		router.SendVia(ctx, sess, chat(c.JID, "b"+strconv.Itoa(i), "batched"))
	}
	b.Flush()
	expectIDs(t, c, "d1", "b0", "b1", "b2", "b3", "b4")
	h := c.SMReceived()
	if h != 6 {
		t.Fatalf("client counted %d stanzas, want 6", h)
	}

	// Held for a batch, then the connection is cut before the flush: the
	// stanzas are in the SM queue and come back on resume.
	for i := range 3 {
		router.SendVia(ctx, sess, chat(c.JID, "h"+strconv.Itoa(i), "held"))
	}
	cutAndWait(t, e, c, 1)
	b.Flush() // the connection is gone: nothing to write, nothing lost
	n := e.dial(t)
	n.LoginNoBind("SCRAM-SHA-256", "alice", testPassword)
	if r := n.Resume(id, h); r.Name.Local != "resumed" {
		t.Fatalf("resume: %s", r)
	}
	expectIDs(t, n, "h0", "h1", "h2")
	expectNoMessage(t, n, 100*time.Millisecond)
}
