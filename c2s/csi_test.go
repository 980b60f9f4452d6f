package c2s_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/gavelhq/gavel/c2s"
	"github.com/gavelhq/gavel/internal/xmpptest"
	"github.com/gavelhq/gavel/xmlstream"
)

func presenceFrom(from, id, show string) *xmlstream.Stanza {
	el := xmlstream.NewElement(xmlstream.NSClient, "presence", "from", from, "id", id)
	if show != "" {
		el.Append(xmlstream.NewElement(xmlstream.NSClient, "show").AppendText(show))
	}
	return xmlstream.NewStanza(el)
}

func messageWith(from, id string, payload *xmlstream.Element) *xmlstream.Stanza {
	return xmlstream.NewStanza(xmlstream.NewElement(xmlstream.NSClient, "message", "from", from, "id", id, "type", "chat").Append(payload))
}

// expectStanzaIDs reads the next len(ids) stanzas and checks their ids.
func expectStanzaIDs(t *testing.T, c *xmpptest.Client, ids ...string) {
	t.Helper()
	for _, id := range ids {
		st := c.Expect(t, func(st *xmlstream.Stanza) bool { return st.Name.Space == xmlstream.NSClient }, 3*time.Second)
		if st.ID() != id {
			t.Fatalf("got %s, want id %q", st.Raw, id)
		}
	}
}

func TestCSIHoldsAndFlushesInOrder(t *testing.T) {
	e := newEnv(t, envConfig{})
	c := e.login(t, "alice", "phone")
	sess := e.session(t, c.JID)
	carol, bob := "carol@"+testDomain+"/pc", "bob@"+testDomain+"/x"
	c.SendRaw("<inactive xmlns='" + xmpptest.NSCSI + "'/>")
	c.SendRaw("<message id='sync' to='bob@" + testDomain + "'/>")
	e.h.next(t) // the state change is processed in order

	sess.Send(presenceFrom(carol, "p1", ""))
	sess.Send(presenceFrom(bob, "p2", ""))
	sess.Send(presenceFrom(carol, "p3", "away")) // supersedes p1
	sess.Send(messageWith(bob, "cs1", xmlstream.NewElement("http://jabber.org/protocol/chatstates", "composing")))
	sess.Send(messageWith(bob, "rc1", xmlstream.NewElement("urn:xmpp:receipts", "received", "id", "x")))
	sess.Send(messageWith(bob, "cs2", xmlstream.NewElement("http://jabber.org/protocol/chatstates", "paused"))) // supersedes cs1
	expectNoMessage(t, c, 150*time.Millisecond)

	// A message with a body is urgent: what was held goes first, in order.
	sess.Send(chat(c.JID, "body1", "hello"))
	expectStanzaIDs(t, c, "p2", "p3", "rc1", "cs2", "body1")
	expectNoMessage(t, c, 100*time.Millisecond)

	// An iq is urgent too.
	sess.Send(presenceFrom(carol, "p4", "dnd"))
	sess.Send(xmlstream.NewStanza(xmlstream.NewElement(xmlstream.NSClient, "iq", "from", testDomain, "to", c.JID, "id", "iq1", "type", "get").
		Append(xmlstream.NewElement("urn:x", "q"))))
	expectStanzaIDs(t, c, "p4", "iq1")

	// A subscription request is urgent.
	sess.Send(presenceFrom(carol, "p5", ""))
	sess.Send(xmlstream.NewStanza(xmlstream.NewElement(xmlstream.NSClient, "presence", "from", "carol@"+testDomain, "id", "sub", "type", "subscribe")))
	expectStanzaIDs(t, c, "p5", "sub")

	// <active/> flushes.
	sess.Send(presenceFrom(bob, "p6", "xa"))
	expectNoMessage(t, c, 100*time.Millisecond)
	c.SendRaw("<active xmlns='" + xmpptest.NSCSI + "'/>")
	expectStanzaIDs(t, c, "p6")
	// Active: nothing is held.
	sess.Send(presenceFrom(bob, "p7", ""))
	expectStanzaIDs(t, c, "p7")
}

func TestCSIBounded(t *testing.T) {
	e := newEnv(t, envConfig{opts: func(o *c2s.Options) { o.CSIMaxHeld = 3 }})
	c := e.login(t, "alice", "phone")
	sess := e.session(t, c.JID)
	c.SendRaw("<inactive xmlns='" + xmpptest.NSCSI + "'/>")
	c.SendRaw("<message id='sync' to='bob@" + testDomain + "'/>")
	e.h.next(t)
	for i := range 3 {
		sess.Send(presenceFrom("u"+strconv.Itoa(i)+"@"+testDomain+"/r", strconv.Itoa(i), ""))
	}
	expectNoMessage(t, c, 100*time.Millisecond)
	sess.Send(presenceFrom("u3@"+testDomain+"/r", "3", ""))
	expectStanzaIDs(t, c, "0", "1", "2", "3")
}

// With stream management: held stanzas are not counted until sent; an ack
// request from the client flushes them; on a lost connection they wait in
// the SM queue and come on resume, where the state is active again.
func TestCSIWithSM(t *testing.T) {
	e := newEnv(t, envConfig{})
	c := e.login(t, "alice", "phone")
	id := c.EnableSM(true).Attr("id")
	sess := e.session(t, c.JID)
	c.SendRaw("<inactive xmlns='" + xmpptest.NSCSI + "'/>")
	c.RequestAck()
	sess.Send(presenceFrom("bob@"+testDomain+"/x", "p1", ""))
	expectNoMessage(t, c, 100*time.Millisecond)
	c.SendRaw("<r xmlns='" + xmpptest.NSSM + "'/>")
	expectStanzaIDs(t, c, "p1")
	c.Ack()

	sess.Send(presenceFrom("bob@"+testDomain+"/x", "p2", "away"))
	h := c.SMReceived()
	cutAndWait(t, e, c, 1)
	n := e.dial(t)
	n.LoginNoBind("SCRAM-SHA-256", "alice", testPassword)
	if r := n.Resume(id, h); r.Name.Local != "resumed" {
		t.Fatalf("resume: %s", r)
	}
	expectStanzaIDs(t, n, "p2")
	sess.Send(presenceFrom("bob@"+testDomain+"/x", "p3", ""))
	expectStanzaIDs(t, n, "p3") // active after resume
}

func TestCSIHeldGoToUndelivered(t *testing.T) {
	e := newEnv(t, envConfig{})
	c := e.login(t, "alice", "phone")
	sess := e.session(t, c.JID)
	c.SendRaw("<inactive xmlns='" + xmpptest.NSCSI + "'/>")
	c.SendRaw("<message id='sync' to='bob@" + testDomain + "'/>")
	e.h.next(t)
	sess.Send(messageWith("bob@"+testDomain+"/x", "rc", xmlstream.NewElement("urn:xmpp:receipts", "received", "id", "x")))
	c.Close()
	e.h.nextEnded(t)
	if left := e.h.nextUndelivered(t); len(left) != 1 || left[0].ID() != "rc" {
		t.Fatalf("Undelivered: %v", left)
	}
}
