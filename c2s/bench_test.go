package c2s_test

import (
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/gavelhq/gavel/c2s"
	"github.com/gavelhq/gavel/internal/xmpptest"
	"github.com/gavelhq/gavel/xmlstream"
)

// BenchmarkLogin measures full logins over loopback: TCP, STARTTLS, SCRAM-SHA-256,
// bind, end of stream. Client and server share the machine, so the figure
// is end to end (the client's PBKDF2 is about half of it).
func BenchmarkLogin(b *testing.B) {
	e := newEnv(b, envConfig{})
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		c := e.dial(b)
		c.Login("SCRAM-SHA-256", "alice", testPassword, "")
		c.Close()
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "logins/s")
}

// BenchmarkLoginParallel runs logins from several clients at once.
func BenchmarkLoginParallel(b *testing.B) {
	e := newEnv(b, envConfig{})
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c := e.dial(b)
			c.Login("SCRAM-SHA-256", "bob", testPassword, "")
			c.Close()
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "logins/s")
}

// BenchmarkFanOut queues one shared stanza to a bound session and measures
// the server side of delivery: Send plus the coalescing writer.
func BenchmarkFanOut(b *testing.B) {
	e := newEnv(b, envConfig{opts: func(o *c2s.Options) { o.WriteQueueBytes = 64 << 20 }})
	c := e.login(b, "alice", "sink")
	res, _ := e.router.Lookup(mustJID(c.JID))
	st := xmlstream.NewStanza(xmlstream.NewElement(xmlstream.NSClient, "message", "to", c.JID, "type", "groupchat").
		Append(xmlstream.NewElement(xmlstream.NSClient, "body").AppendText("a bid of 1,250.00")))
	go func() { // the client drains its socket
		buf := make([]byte, 64<<10)
		for {
			if _, err := c.Conn().Read(buf); err != nil {
				return
			}
		}
	}()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if !res.Session.Send(st) {
			b.Fatal("Send refused")
		}
	}
	b.StopTimer()
	_ = xmpptest.DefaultTimeout
}

// BenchmarkFanOutSM is BenchmarkFanOut on a stream management session: each
// Send also counts the stanza, keeps it until acknowledged and sometimes
// asks for an ack; the client acknowledges every 1,000 stanzas.
func BenchmarkFanOutSM(b *testing.B) {
	e := newEnv(b, envConfig{opts: func(o *c2s.Options) {
		o.WriteQueueBytes = 64 << 20
		// The acks travel while Send runs: bounds out of the way.
		o.MaxUnackedStanzas, o.MaxUnackedBytes = 1<<30, 1<<30
	}})
	c := e.login(b, "alice", "sink")
	c.EnableSM(true)
	res, _ := e.router.Lookup(mustJID(c.JID))
	st := xmlstream.NewStanza(xmlstream.NewElement(xmlstream.NSClient, "message", "to", c.JID, "type", "groupchat").
		Append(xmlstream.NewElement(xmlstream.NSClient, "body").AppendText("a bid of 1,250.00")))
	go func() {
		buf := make([]byte, 64<<10)
		for {
			if _, err := c.Conn().Read(buf); err != nil {
				return
			}
		}
	}()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if !res.Session.Send(st) {
			b.Fatal("Send refused")
		}
		if (i+1)%1000 == 0 {
			if err := c.TrySend("<a xmlns='urn:xmpp:sm:3' h='" + strconv.Itoa(i+1) + "'/>"); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
}

// BenchmarkResume measures a resumption on an authenticated stream: from
// <resume/> to <resumed/> and the one unacknowledged stanza replayed (the
// connection, TLS and SASL are outside the timer).
func BenchmarkResume(b *testing.B) {
	e := newEnv(b, envConfig{})
	c := e.login(b, "alice", "phone")
	id := c.EnableSM(true).Attr("id")
	sess, _ := e.router.Lookup(mustJID(c.JID))
	b.ResetTimer()
	b.StopTimer()
	for i := 0; i < b.N; i++ {
		sess.Session.Send(chat(c.JID, "m"+strconv.Itoa(i), "x"))
		h := c.SMReceived()
		c.CloseNow()
		waitFor(b, "detach", 3*time.Second, func() bool { return e.srv.DetachedCount() == 1 })
		n := e.dial(b)
		n.LoginNoBind("PLAIN", "alice", testPassword)
		b.StartTimer()
		if r := n.Resume(id, h); r.Name.Local != "resumed" {
			b.Fatalf("resume: %s", r)
		}
		n.Expect(b, xmpptest.IsKind("message"), 3*time.Second)
		b.StopTimer()
		c = n
	}
}

// BenchmarkDetachedMemory reports the heap held by each detached session
// (session, router entry, timers, SM state with one kept stanza), the
// figure a reconnect storm multiplies.
func BenchmarkDetachedMemory(b *testing.B) {
	const n = 300
	for i := 0; i < b.N; i++ {
		e := newEnv(b, envConfig{})
		clients := make([]*xmpptest.Client, n)
		for j := range clients {
			clients[j] = e.login(b, "alice", "r"+strconv.Itoa(j))
			clients[j].EnableSM(true)
		}
		for j, c := range clients {
			res, _ := e.router.Lookup(mustJID(c.JID))
			res.Session.Send(chat(c.JID, "k", "kept while away"))
			c.CloseNow()
			_ = j
		}
		waitFor(b, "detach", 10*time.Second, func() bool { return e.srv.DetachedCount() == n })
		detached := heapInUse()
		e.stop(b) // ends every detached session
		waitFor(b, "end", 10*time.Second, func() bool { return e.router.SessionCount() == 0 })
		ended := heapInUse()
		b.ReportMetric(float64(detached-ended)/n, "B/detached-session")
	}
}

func heapInUse() int64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse)
}
