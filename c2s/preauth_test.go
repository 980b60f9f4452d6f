package c2s_test

import (
	"context"
	"testing"
	"time"

	"github.com/gavelhq/gavel/c2s"
	"github.com/gavelhq/gavel/internal/xmpptest"
	"github.com/gavelhq/gavel/xmlstream"
)

// registerHook answers jabber:iq:register gets as XEP-0077 §3.1 begins,
// and records what it saw.
func registerHook(seen chan<- c2s.PreAuthInfo) func(context.Context, c2s.PreAuthInfo, *xmlstream.Stanza) *xmlstream.Stanza {
	return func(_ context.Context, info c2s.PreAuthInfo, iq *xmlstream.Stanza) *xmlstream.Stanza {
		el, err := iq.Element()
		if err != nil || el.Child("jabber:iq:register", "query") == nil {
			return nil
		}
		seen <- info
		return xmlstream.ResultReply(iq, xmlstream.NewElement("jabber:iq:register", "query").
			Append(xmlstream.NewElement("jabber:iq:register", "username")))
	}
}

func TestPreAuthIQ(t *testing.T) {
	seen := make(chan c2s.PreAuthInfo, 4)
	e := newEnv(t, envConfig{opts: func(o *c2s.Options) { o.PreAuthIQ = registerHook(seen) }})

	// Before STARTTLS, with TLS required, nothing is served.
	c := e.dial(t)
	c.Open()
	c.SendRaw("<iq type='get' id='r0'><query xmlns='jabber:iq:register'/></iq>")
	c.ExpectStreamError(t, "not-authorized", 2*time.Second)

	// After STARTTLS the hook answers, from the host and to nobody.
	c = e.dial(t)
	c.Open()
	c.StartTLS()
	c.SendRaw("<iq type='get' id='r1'><query xmlns='jabber:iq:register'/></iq>")
	res := c.Expect(t, xmpptest.IsID("r1"), 2*time.Second)
	if res.Type() != "result" || res.To() != "" || res.From() != testDomain {
		t.Fatalf("reply %s", res.Raw)
	}
	if el, _ := res.Element(); el.Child("jabber:iq:register", "query").Child("jabber:iq:register", "username") == nil {
		t.Fatalf("reply payload %s", res.Raw)
	}
	if info := <-seen; !info.Secure || info.Domain != testDomain || !info.RemoteIP.IsLoopback() {
		t.Fatalf("hook saw %+v", info)
	}
	// An iq without id is a bad-request from the stream.
	c.SendRaw("<iq type='get'><query xmlns='jabber:iq:register'/></iq>")
	if got := xmpptest.ErrorCondition(c.Expect(t, xmpptest.IsKind("iq"), 2*time.Second)); got != "bad-request" {
		t.Fatalf("iq without id: %s", got)
	}
	// The stream still authenticates afterwards.
	if err := c.Auth("SCRAM-SHA-256", "alice", testPassword); err != nil {
		t.Fatal(err)
	}

	// An iq the hook does not serve is a stanza before authentication.
	c = e.dial(t)
	c.Open()
	c.StartTLS()
	c.SendRaw("<iq type='get' id='v1'><query xmlns='jabber:iq:version'/></iq>")
	c.ExpectStreamError(t, "not-authorized", 2*time.Second)
}
