package server_test

// End to end over real TCP clients: a 1,000-message archive paged through
// with XEP-0313 and XEP-0059 both ways, XEP-0359 stanza ids on delivered
// messages, and XEP-0280 carbons between two resources of one account.

import (
	"fmt"
	"slices"
	"strconv"
	"testing"

	"github.com/gavelhq/gavel/internal/testserver"
	"github.com/gavelhq/gavel/internal/xmpptest"
	"github.com/gavelhq/gavel/xmlstream"
)

const (
	mcNSMAM      = "urn:xmpp:mam:2"
	mcNSRSM      = "http://jabber.org/protocol/rsm"
	mcNSForward  = "urn:xmpp:forward:0"
	mcNSCarbons  = "urn:xmpp:carbons:2"
	mcNSStanzaID = "urn:xmpp:sid:0"
)

// mcLogin connects name over TCP with STARTTLS, binds resource and starts
// an IM session (roster, available presence).
func mcLogin(t *testing.T, ts *testserver.Server, name, password, resource string) (*xmpptest.Client, string) {
	t.Helper()
	c := xmpptest.Dial(t, ts.C2SAddr)
	c.Domain = ts.Domain
	full := c.Login("SCRAM-SHA-256", name, password, resource)
	startSession(t, c)
	return c, full
}

// mcPage is one answered query.
type mcPage struct {
	bodies, ids          []string
	first, last, count   string
	firstIndex, complete string
}

// mcQuery sends a MAM query and reads its results up to the iq result.
func mcQuery(t *testing.T, c *xmpptest.Client, owner, id, rsm string) mcPage {
	t.Helper()
	c.SendRaw(`<iq type='set' id='` + id + `'><query xmlns='urn:xmpp:mam:2' queryid='q` + id + `'>` + rsm + `</query></iq>`)
	var p mcPage
	for {
		st, err := c.Next(wait)
		if err != nil {
			t.Fatalf("query %s: %v", id, err)
		}
		e := el(t, st)
		if st.Name.Local == xmlstream.KindIQ && st.ID() == id {
			fin := e.Child(mcNSMAM, "fin")
			if st.Type() != "result" || fin == nil {
				t.Fatalf("query %s: %s", id, st.Raw)
			}
			set := fin.Child(mcNSRSM, "set")
			p.complete = fin.Attr("complete")
			if f := set.Child(mcNSRSM, "first"); f != nil {
				p.first, p.firstIndex = f.Text(), f.Attr("index")
			}
			p.last, p.count = set.ChildText(mcNSRSM, "last"), set.ChildText(mcNSRSM, "count")
			return p
		}
		res := e.Child(mcNSMAM, "result")
		if st.Name.Local != xmlstream.KindMessage || res == nil || res.Attr("queryid") != "q"+id {
			continue // presence and the like
		}
		if st.From() != owner {
			t.Fatalf("result from %q, want the archive %s", st.From(), owner)
		}
		msg := res.Child(mcNSForward, "forwarded").Child(xmlstream.NSClient, "message")
		if msg == nil {
			t.Fatalf("result without a jabber:client message: %s", st.Raw)
		}
		p.ids = append(p.ids, res.Attr("id"))
		p.bodies = append(p.bodies, msg.ChildText(xmlstream.NSClient, "body"))
	}
}

func mcRSM(max int, after, before string, last bool) string {
	s := fmt.Sprintf("<set xmlns='%s'><max>%d</max>", mcNSRSM, max)
	if after != "" {
		s += "<after>" + after + "</after>"
	}
	if before != "" || last {
		s += "<before>" + before + "</before>"
	}
	return s + "</set>"
}

func TestIntegrationMAMThousandMessages(t *testing.T) {
	ts := testserver.Start(t, nil)
	ts.CreateUser("juliet", "juliet-pw")
	ts.CreateUser("romeo", "romeo-pw")
	juliet, _ := mcLogin(t, ts, "juliet", "juliet-pw", "balcony")
	romeo, _ := mcLogin(t, ts, "romeo", "romeo-pw", "garden")
	julietBare, romeoBare := "juliet@"+ts.Domain, "romeo@"+ts.Domain

	const n = 1000
	for i := range n {
		juliet.SendRaw(fmt.Sprintf(`<message to='%s' type='chat' id='m%d'><body>%d</body></message>`, romeoBare, i, i))
	}
	// Romeo gets every message, each with his archive's stanza id.
	var delivered []string
	for len(delivered) < n {
		st := romeo.Expect(t, xmpptest.IsKind(xmlstream.KindMessage), wait)
		e := el(t, st)
		if e.ChildText(xmlstream.NSClient, "body") != strconv.Itoa(len(delivered)) {
			t.Fatalf("message %d out of order: %s", len(delivered), st.Raw)
		}
		var sid string
		for _, s := range e.ChildrenNamed(mcNSStanzaID, "stanza-id") {
			if s.Attr("by") == julietBare {
				t.Fatalf("juliet's archive id leaked to romeo: %s", st.Raw)
			}
			if s.Attr("by") == romeoBare {
				sid = s.Attr("id")
			}
		}
		if sid == "" {
			t.Fatalf("delivered message without stanza-id by %s: %s", romeoBare, st.Raw)
		}
		delivered = append(delivered, sid)
	}

	// Juliet pages forwards through her 1,000 sent messages.
	var ids []string
	after := ""
	for page := 0; page < 20; page++ {
		p := mcQuery(t, juliet, julietBare, "f"+strconv.Itoa(page), mcRSM(100, after, "", false))
		if p.count != "1000" || p.firstIndex != strconv.Itoa(page*100) || len(p.bodies) != 100 {
			t.Fatalf("forward page %d: %d results, count %s, index %s", page, len(p.bodies), p.count, p.firstIndex)
		}
		for i, b := range p.bodies {
			if b != strconv.Itoa(page*100+i) {
				t.Fatalf("forward page %d result %d: body %s", page, i, b)
			}
		}
		if wantComplete := strconv.FormatBool(page == 9); p.complete != wantComplete && page <= 9 {
			t.Fatalf("forward page %d: complete=%s", page, p.complete)
		}
		ids = append(ids, p.ids...)
		after = p.last
		if p.complete == "true" {
			break
		}
	}
	if len(ids) != n {
		t.Fatalf("forward paging returned %d ids", len(ids))
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Fatalf("id %s returned twice", id)
		}
		seen[id] = true
	}

	// And backwards from the last page: the same ids, in the same order.
	var back []string
	before, last := "", true
	for page := 0; page < 20; page++ {
		p := mcQuery(t, juliet, julietBare, "b"+strconv.Itoa(page), mcRSM(100, "", before, last))
		if len(p.ids) != 100 || p.count != "1000" {
			t.Fatalf("backward page %d: %d results, count %s", page, len(p.ids), p.count)
		}
		back = append(p.ids, back...)
		before, last = p.first, false
		if p.complete == "true" {
			break
		}
	}
	if !slices.Equal(back, ids) {
		t.Fatal("backward paging differs from forward paging")
	}

	// Romeo's archive: its last page carries the ids he saw on delivery.
	p := mcQuery(t, romeo, romeoBare, "r", mcRSM(50, "", "", true))
	if !slices.Equal(p.ids, delivered[n-50:]) {
		t.Fatalf("romeo's archive ids differ from the stanza ids delivered to him")
	}
}

func TestIntegrationCarbonsTwoResources(t *testing.T) {
	ts := testserver.Start(t, nil)
	ts.CreateUser("juliet", "juliet-pw")
	ts.CreateUser("romeo", "romeo-pw")
	phone, phoneFull := mcLogin(t, ts, "juliet", "juliet-pw", "phone")
	laptop, laptopFull := mcLogin(t, ts, "juliet", "juliet-pw", "laptop")
	romeo, romeoFull := mcLogin(t, ts, "romeo", "romeo-pw", "garden")
	julietBare := "juliet@" + ts.Domain

	// The server advertises carbons; both resources enable them.
	phone.SendRaw(`<iq type='get' id='disco' to='` + ts.Domain + `'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`)
	if d := phone.Expect(t, xmpptest.IsID("disco"), wait); !mcHasFeature(t, d, mcNSCarbons) {
		t.Fatalf("server disco#info lacks %s: %s", mcNSCarbons, d.Raw)
	}
	for _, c := range []*xmpptest.Client{phone, laptop} {
		c.SendRaw(`<iq type='set' id='carbons'><enable xmlns='urn:xmpp:carbons:2'/></iq>`)
		if r := c.Expect(t, xmpptest.IsID("carbons"), wait); r.Type() != "result" {
			t.Fatalf("enable: %s", r.Raw)
		}
	}

	// Sent from the phone: the laptop gets a <sent/> carbon.
	phone.SendRaw(`<message to='` + romeoFull + `' type='chat' id='s1'><body>from the phone</body></message>`)
	romeo.Expect(t, xmpptest.IsID("s1"), wait)
	sent := laptop.Expect(t, mcIsCarbon, wait)
	inner := mcCheckCarbon(t, sent, "sent", julietBare, laptopFull)
	if inner.ChildText(xmlstream.NSClient, "body") != "from the phone" || inner.Attr("from") != phoneFull {
		t.Fatalf("sent carbon: %s", sent.Raw)
	}

	// Romeo answers the laptop's full JID: the phone gets <received/>.
	romeo.SendRaw(`<message to='` + laptopFull + `' type='chat' id='r1'><body>to the laptop</body></message>`)
	laptop.Expect(t, xmpptest.IsID("r1"), wait)
	recv := phone.Expect(t, mcIsCarbon, wait)
	inner = mcCheckCarbon(t, recv, "received", julietBare, phoneFull)
	if inner.ChildText(xmlstream.NSClient, "body") != "to the laptop" {
		t.Fatalf("received carbon: %s", recv.Raw)
	}

	// A private message is not copied; the next ordinary one is, so the
	// phone seeing that one first proves the private one was not copied.
	romeo.SendRaw(`<message to='` + laptopFull + `' type='chat' id='p1'><body>secret</body><private xmlns='urn:xmpp:carbons:2'/><no-copy xmlns='urn:xmpp:hints'/></message>`)
	laptop.Expect(t, xmpptest.IsID("p1"), wait)
	romeo.SendRaw(`<message to='` + laptopFull + `' type='chat' id='r2'><body>public</body></message>`)
	recv = phone.Expect(t, mcIsCarbon, wait)
	if inner = mcCheckCarbon(t, recv, "received", julietBare, phoneFull); inner.Attr("id") != "r2" {
		t.Fatalf("a private message was copied: %s", recv.Raw)
	}
}

func mcIsCarbon(st *xmlstream.Stanza) bool {
	e, err := st.Element()
	return err == nil && st.Name.Local == xmlstream.KindMessage &&
		(e.Child(mcNSCarbons, "sent") != nil || e.Child(mcNSCarbons, "received") != nil)
}

// mcCheckCarbon verifies the wrapper and returns the forwarded message.
func mcCheckCarbon(t *testing.T, st *xmlstream.Stanza, wrap, fromBare, to string) *xmlstream.Element {
	t.Helper()
	e := el(t, st)
	w := e.Child(mcNSCarbons, wrap)
	if st.From() != fromBare || st.To() != to || w == nil {
		t.Fatalf("not a <%s/> carbon from %s to %s: %s", wrap, fromBare, to, st.Raw)
	}
	inner := w.Child(mcNSForward, "forwarded").Child(xmlstream.NSClient, "message")
	if inner == nil {
		t.Fatalf("carbon without a jabber:client message: %s", st.Raw)
	}
	return inner
}

func mcHasFeature(t *testing.T, st *xmlstream.Stanza, v string) bool {
	t.Helper()
	q := el(t, st).Child("http://jabber.org/protocol/disco#info", "query")
	if q == nil {
		return false
	}
	for _, f := range q.ChildrenNamed("http://jabber.org/protocol/disco#info", "feature") {
		if f.Attr("var") == v {
			return true
		}
	}
	return false
}
