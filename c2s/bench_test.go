package c2s_test

import (
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
