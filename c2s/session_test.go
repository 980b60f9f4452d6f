package c2s_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gavelhq/gavel/c2s"
	"github.com/gavelhq/gavel/internal/xmpptest"
	"github.com/gavelhq/gavel/router"
	"github.com/gavelhq/gavel/xmlstream"
)

func TestBindResources(t *testing.T) {
	e := newEnv(t, envConfig{})
	c := e.login(t, "alice", "")
	if !strings.HasPrefix(c.JID, "alice@"+testDomain+"/") || len(c.JID) <= len("alice@"+testDomain+"/") {
		t.Fatalf("generated JID %q", c.JID)
	}
	c2 := e.login(t, "alice", "desk")
	if c2.JID != "alice@"+testDomain+"/desk" {
		t.Fatalf("client resource: %q", c2.JID)
	}
	if n := e.srv.SessionCount(); n != 2 {
		t.Fatalf("SessionCount %d, want 2", n)
	}
	if got := len(e.router.Resources("alice@" + testDomain)); got != 2 {
		t.Fatalf("router has %d resources", got)
	}

	// Invalid resourcepart (a lone surrogate is not even valid UTF-8 once encoded this way).
	c3 := e.dial(t)
	c3.Login("SCRAM-SHA-256", "bob", testPassword, "ok")
	c3.SendRaw("<iq type='set' id='b2'><bind xmlns='" + xmpptest.NSBind + "'><resource>again</resource></bind></iq>")
	st := c3.ExpectError(t, "not-allowed", time.Second)
	if st.ID() != "b2" {
		t.Fatalf("second bind answer: %s", st.Raw)
	}
}

func TestBindInvalidResource(t *testing.T) {
	e := newEnv(t, envConfig{})
	c := e.dial(t)
	c.Open()
	c.StartTLS()
	if err := c.Auth("SCRAM-SHA-256", "alice", testPassword); err != nil {
		t.Fatal(err)
	}
	res := c.TryBind(strings.Repeat("r", 1100)) // over 1023 bytes
	if res.Type() != "error" || xmpptest.ErrorCondition(res) != "bad-request" || xmpptest.ErrorType(res) != "modify" {
		t.Fatalf("oversized resource: %s", res.Raw)
	}
	// The stream stays usable.
	c.Bind("fine")
}

func TestConflictPolicies(t *testing.T) {
	t.Run("replace", func(t *testing.T) {
		e := newEnv(t, envConfig{router: router.Options{Conflict: router.ConflictReplace}})
		old := e.login(t, "alice", "phone")
		n := e.login(t, "alice", "phone")
		old.ExpectStreamError(t, "conflict", 3*time.Second)
		ev := e.h.nextEnded(t)
		if ev.bound || ev.jid != "alice@"+testDomain+"/phone" {
			t.Fatalf("SessionEnded for the replaced session: %+v (want bound=false)", ev)
		}
		res, ok := e.router.Lookup(mustJID(n.JID))
		if !ok || res.Session.JID().String() != n.JID {
			t.Fatal("the new session is not bound")
		}
	})
	t.Run("refuse", func(t *testing.T) {
		e := newEnv(t, envConfig{router: router.Options{Conflict: router.ConflictRefuse}})
		e.login(t, "alice", "phone")
		c := e.dial(t)
		c.Open()
		c.StartTLS()
		if err := c.Auth("SCRAM-SHA-256", "alice", testPassword); err != nil {
			t.Fatal(err)
		}
		res := c.TryBind("phone")
		if xmpptest.ErrorCondition(res) != "conflict" || xmpptest.ErrorType(res) != "cancel" {
			t.Fatalf("bind under refuse: %s", res.Raw)
		}
		c.Bind("tablet")
	})
	t.Run("rename", func(t *testing.T) {
		e := newEnv(t, envConfig{router: router.Options{Conflict: router.ConflictRename}})
		a := e.login(t, "alice", "phone")
		b := e.login(t, "alice", "phone")
		if a.JID == b.JID || !strings.HasPrefix(b.JID, "alice@"+testDomain+"/") {
			t.Fatalf("rename: %q and %q", a.JID, b.JID)
		}
	})
	t.Run("too many resources", func(t *testing.T) {
		e := newEnv(t, envConfig{router: router.Options{MaxResources: 1}})
		e.login(t, "alice", "one")
		c := e.dial(t)
		c.Open()
		c.StartTLS()
		if err := c.Auth("SCRAM-SHA-256", "alice", testPassword); err != nil {
			t.Fatal(err)
		}
		res := c.TryBind("two")
		if xmpptest.ErrorCondition(res) != "resource-constraint" || xmpptest.ErrorType(res) != "wait" {
			t.Fatalf("bind over the limit: %s", res.Raw)
		}
	})
}

func TestAddressing(t *testing.T) {
	e := newEnv(t, envConfig{})
	c := e.login(t, "alice", "home")
	bare := "alice@" + testDomain

	// 'from' is stamped with the full JID, even when the client gave its bare JID.
	c.SendRaw("<message from='" + bare + "' to='bob@" + testDomain + "' id='m1'><body>hi</body></message>")
	st := e.h.next(t)
	if st.From() != c.JID || st.To() != "bob@"+testDomain {
		t.Fatalf("stamped message: %s", st.Raw)
	}
	if el, err := st.Element(); err != nil || el.ChildText("", "body") != "hi" {
		t.Fatalf("payload lost: %s (%v)", st.Raw, err)
	}

	// Message and iq without 'to' go to the bare JID; presence stays a broadcast.
	c.SendRaw("<message id='m2'><body>self</body></message>")
	if st := e.h.next(t); st.To() != bare || st.From() != c.JID {
		t.Fatalf("to-less message: %s", st.Raw)
	}
	c.SendRaw("<iq type='get' id='q1'><query xmlns='jabber:iq:roster'/></iq>")
	if st := e.h.next(t); st.To() != bare || st.ID() != "q1" {
		t.Fatalf("to-less iq: %s", st.Raw)
	}
	c.SendRaw("<presence/>")
	if st := e.h.next(t); st.To() != "" || st.From() != c.JID || st.Name.Local != "presence" {
		t.Fatalf("presence: %s", st.Raw)
	}

	// Legacy session establishment: an empty result, not passed on.
	c.SendRaw("<iq type='set' id='s1'><session xmlns='" + xmpptest.NSSession + "'/></iq>")
	if r := c.Expect(t, xmpptest.IsID("s1"), time.Second); r.Type() != "result" {
		t.Fatalf("session: %s", r.Raw)
	}

	// IQ rules of RFC 6120 §8.2.3, answered by the stream.
	c.SendRaw("<iq type='get'><query xmlns='jabber:iq:roster'/></iq>")
	if r := c.ExpectError(t, "bad-request", time.Second); r.Name.Local != "iq" {
		t.Fatalf("iq without id: %s", r.Raw)
	}
	c.SendRaw("<iq type='fetch' id='q2'><query xmlns='jabber:iq:roster'/></iq>")
	if r := c.ExpectError(t, "bad-request", time.Second); r.ID() != "q2" {
		t.Fatalf("iq with bad type: %s", r.Raw)
	}
	c.SendRaw("<iq type='get' id='q3'><a xmlns='urn:a'/><b xmlns='urn:b'/></iq>")
	if r := c.ExpectError(t, "bad-request", time.Second); r.ID() != "q3" {
		t.Fatalf("iq with two payloads: %s", r.Raw)
	}
	// None of those reached the handler.
	c.SendRaw("<message id='m3' to='bob@" + testDomain + "'/>")
	if st := e.h.next(t); st.ID() != "m3" {
		t.Fatalf("the handler got %s before m3", st.Raw)
	}

	// Messages between two sessions, through the handler and router.
	b := e.login(t, "bob", "work")
	c.SendRaw("<message to='" + b.JID + "' id='m4' type='chat'><body>hello bob</body></message>")
	got := b.Expect(t, xmpptest.IsID("m4"), 2*time.Second)
	if got.From() != c.JID {
		t.Fatalf("delivered: %s", got.Raw)
	}
}

func TestInvalidFrom(t *testing.T) {
	e := newEnv(t, envConfig{})
	c := e.login(t, "alice", "home")
	c.SendRaw("<message from='bob@" + testDomain + "/x' to='carol@" + testDomain + "'><body>spoof</body></message>")
	c.ExpectStreamError(t, "invalid-from", 2*time.Second)
	if ev := e.h.nextEnded(t); !ev.bound || ev.jid != c.JID {
		t.Fatalf("SessionEnded: %+v", ev)
	}
	select {
	case st := <-e.h.stanzas:
		t.Fatalf("spoofed stanza reached the handler: %s", st.Raw)
	default:
	}
}

func TestStreamErrorsAfterBind(t *testing.T) {
	cases := []struct{ name, input, cond string }{
		{"unknown element", "<foo xmlns='urn:example:foo'/>", "unsupported-stanza-type"},
		{"sasl after auth", "<auth xmlns='" + xmpptest.NSSASL + "' mechanism='PLAIN'>=</auth>", "unsupported-stanza-type"},
		{"stanza in jabber:server", "<message xmlns='jabber:server' to='bob@example.com'/>", "invalid-namespace"},
		{"unknown stanza name", "<mesage to='bob@example.com'/>", "unsupported-stanza-type"},
	}
	e := newEnv(t, envConfig{})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := e.login(t, "alice", "")
			c.SendRaw(tc.input)
			c.ExpectStreamError(t, tc.cond, 2*time.Second)
		})
	}
}

func TestKeepalive(t *testing.T) {
	e := newEnv(t, envConfig{opts: func(o *c2s.Options) {
		o.IdleTimeout = 150 * time.Millisecond
		o.PingTimeout = 300 * time.Millisecond
	}})
	c := e.login(t, "alice", "")
	isPing := func(st *xmlstream.Stanza) bool {
		el, err := st.Element()
		return err == nil && st.Type() == "get" && el.Child("urn:xmpp:ping", "ping") != nil
	}
	// Answered pings keep the session (an error reply counts too).
	for i, reply := range []string{"result", "error"} {
		p := c.Expect(t, isPing, 2*time.Second)
		if p.To() != c.JID || p.From() != testDomain {
			t.Fatalf("ping %d addressing: %s", i, p.Raw)
		}
		c.SendRaw("<iq type='" + reply + "' id='" + p.ID() + "' to='" + testDomain + "'/>")
	}
	c.Expect(t, isPing, 2*time.Second)
	select {
	case st := <-e.h.stanzas:
		t.Fatalf("a ping reply reached the handler: %s", st.Raw)
	default:
	}
	// Silence after a ping: connection-timeout.
	c.ExpectStreamError(t, "connection-timeout", 3*time.Second)
}

func TestSlowReaderDisconnected(t *testing.T) {
	e := newEnv(t, envConfig{opts: func(o *c2s.Options) {
		o.WriteQueueBytes = 64 << 10
		o.CloseGrace = 200 * time.Millisecond
	}})
	c := e.login(t, "alice", "slow")
	res, ok := e.router.Lookup(mustJID(c.JID))
	if !ok {
		t.Fatal("not bound")
	}
	// The client never reads. Sends must not block: they return false
	// once the queue (plus the socket buffers) is full.
	body := strings.Repeat("x", 8<<10)
	st := xmlstream.NewStanza(xmlstream.NewElement(xmlstream.NSClient, "message", "to", c.JID).
		Append(xmlstream.NewElement(xmlstream.NSClient, "body").AppendText(body)))
	done := make(chan int)
	go func() {
		for i := 1; i <= 100000; i++ {
			if !res.Session.Send(st) {
				done <- i
				return
			}
		}
		done <- -1
	}()
	select {
	case n := <-done:
		if n < 0 {
			t.Fatal("Send kept accepting 800 MB for a client that does not read")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Send blocked")
	}
	ev := e.h.nextEnded(t)
	if !ev.bound || ev.jid != c.JID {
		t.Fatalf("SessionEnded: %+v", ev)
	}
	if res.Session.Send(st) {
		t.Fatal("Send succeeded on a closed session")
	}
	waitFor(t, "the connection to close", 3*time.Second, func() bool {
		return e.srv.StreamCount() == 0
	})
	// The client sees the end of its connection.
	_ = c.Conn().SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 64<<10)
	for {
		if _, err := c.Conn().Read(buf); err != nil {
			if strings.Contains(err.Error(), "timeout") {
				t.Fatal("the connection was not closed")
			}
			break
		}
	}
}

// A client that stops reading is cut by the write deadline even when far
// less than WriteQueueBytes waits for it: its socket buffers fill, the
// writer's write stalls, and the stall is what counts.
func TestStalledReaderCutByWriteTimeout(t *testing.T) {
	e := newEnv(t, envConfig{opts: func(o *c2s.Options) {
		o.WriteQueueBytes = 256 << 20
		o.WriteTimeout = 300 * time.Millisecond
		o.CloseGrace = 200 * time.Millisecond
	}})
	c := e.login(t, "alice", "stalled")
	res, ok := e.router.Lookup(mustJID(c.JID))
	if !ok {
		t.Fatal("not bound")
	}
	st := xmlstream.NewStanza(xmlstream.NewElement(xmlstream.NSClient, "message", "to", c.JID).
		Append(xmlstream.NewElement(xmlstream.NSClient, "body").AppendText(strings.Repeat("x", 8<<10))))
	// 64 MiB at most, a quarter of the queue limit: more than loopback
	// socket buffers hold, so the writer blocks, but never an overflow.
	for i := 0; i < 8192 && res.Session.Send(st); i++ {
	}
	ev := e.h.nextEnded(t)
	if !ev.bound || ev.jid != c.JID {
		t.Fatalf("SessionEnded: %+v", ev)
	}
}

// A connection idle for longer than WriteTimeout still gets what is sent
// to it: the deadline the writer left behind has passed by then, and the
// stanza is written directly, on the sender's goroutine, then by the
// writer again (a burst).
func TestIdleBeyondWriteTimeoutStillDelivers(t *testing.T) {
	e := newEnv(t, envConfig{opts: func(o *c2s.Options) {
		o.WriteTimeout = 150 * time.Millisecond
	}})
	c := e.login(t, "alice", "idle")
	res, ok := e.router.Lookup(mustJID(c.JID))
	if !ok {
		t.Fatal("not bound")
	}
	time.Sleep(400 * time.Millisecond)
	for i := range 50 {
		id := fmt.Sprintf("m%d", i)
		if !res.Session.Send(xmlstream.NewStanza(xmlstream.NewElement(xmlstream.NSClient, "message", "to", c.JID, "id", id))) {
			t.Fatalf("send %s refused", id)
		}
	}
	for i := range 50 {
		c.Expect(t, xmpptest.IsID(fmt.Sprintf("m%d", i)), 2*time.Second)
	}
}

// Stanzas routed with a router.Batch wait for its Flush and then arrive
// together, in order; a plain Send meanwhile (another producer) takes the
// held ones with it, still in order.
func TestBatchHoldsUntilFlush(t *testing.T) {
	e := newEnv(t, envConfig{})
	c := e.login(t, "alice", "batch")
	res, ok := e.router.Lookup(mustJID(c.JID))
	if !ok {
		t.Fatal("not bound")
	}
	msg := func(id string) *xmlstream.Stanza {
		return xmlstream.NewStanza(xmlstream.NewElement(xmlstream.NSClient, "message", "to", c.JID, "id", id))
	}
	var b router.Batch
	ctx := router.WithBatch(context.Background(), &b)
	for _, id := range []string{"b1", "b2", "b3"} {
		if !router.SendVia(ctx, res.Session, msg(id)) {
			t.Fatalf("%s refused", id)
		}
	}
	if st, err := c.Next(200 * time.Millisecond); err == nil {
		t.Fatalf("got %s before the batch was flushed", st.Raw)
	}
	b.Flush()
	for _, id := range []string{"b1", "b2", "b3"} {
		c.Expect(t, xmpptest.IsID(id), 2*time.Second)
	}

	router.SendVia(ctx, res.Session, msg("h1"))
	res.Session.Send(msg("p1")) // not batched: writes h1 too
	c.Expect(t, xmpptest.IsID("h1"), 2*time.Second)
	c.Expect(t, xmpptest.IsID("p1"), 2*time.Second)
	b.Flush() // nothing left: harmless
	if st, err := c.Next(100 * time.Millisecond); err == nil {
		t.Fatalf("unexpected %s", st.Raw)
	}
}

func TestInboundThrottleStillServes(t *testing.T) {
	e := newEnv(t, envConfig{opts: func(o *c2s.Options) {
		o.InboundBytesPerSecond = 64 << 10
	}})
	c := e.login(t, "alice", "")
	c.SendRaw("<message id='t1' to='bob@" + testDomain + "'><body>throttled but served</body></message>")
	if st := e.h.next(t); st.ID() != "t1" {
		t.Fatalf("got %s", st.Raw)
	}
}

func TestSessionEndedOnClientClose(t *testing.T) {
	e := newEnv(t, envConfig{})
	c := e.login(t, "alice", "gone")
	c.SendRaw("<presence/>")
	e.h.next(t)
	c.Close()
	ev := e.h.nextEnded(t)
	if !ev.bound || ev.jid != "alice@"+testDomain+"/gone" {
		t.Fatalf("SessionEnded: %+v", ev)
	}
	waitFor(t, "unbind", 2*time.Second, func() bool { return e.router.SessionCount() == 0 && e.srv.SessionCount() == 0 })
}
