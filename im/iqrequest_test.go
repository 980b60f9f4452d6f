package im

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/xmlstream"
)

type iqOutcome struct {
	st  *xmlstream.Stanza
	err error
}

func awaitIQ(t *testing.T, ch <-chan iqOutcome) iqOutcome {
	t.Helper()
	select {
	case o := <-ch:
		return o
	case <-time.After(5 * time.Second):
		t.Fatal("no answer delivered")
		return iqOutcome{}
	}
}

func collect(ch chan iqOutcome) IQAnswer {
	return func(st *xmlstream.Stanza, err error) { ch <- iqOutcome{st, err} }
}

func discoQueryElement() *xmlstream.Element {
	return xmlstream.NewElement(nsDiscoInfo, "query", "node", "http://x#ver")
}

func TestSendIQAnswerAndSpoof(t *testing.T) {
	f := newIMFixture(t)
	juliet := f.account("juliet")
	f.account("romeo")
	romeo := f.login("romeo@example.com/orchard")
	ch := make(chan iqOutcome, 1)
	if err := f.srv.SendIQ(context.Background(), juliet, romeo.jid, "get", discoQueryElement(), time.Minute, collect(ch)); err != nil {
		t.Fatal(err)
	}
	got := romeo.take()
	if len(got) != 1 || got[0].From() != "juliet@example.com" || got[0].Type() != "get" || !strings.HasPrefix(got[0].ID(), "gavel-") {
		t.Fatalf("romeo received %v", got)
	}
	id := got[0].ID()
	// An answer from anyone else is not taken for it.
	f.route("<iq type='result' id='" + id + "' from='mallory@example.com/x' to='juliet@example.com'/>")
	f.route("<iq type='result' id='" + id + "' from='romeo@example.com/orchard' to='nurse@example.com'/>")
	select {
	case o := <-ch:
		t.Fatalf("a spoofed answer was delivered: %+v", o)
	case <-time.After(100 * time.Millisecond):
	}
	f.route("<iq type='result' id='" + id + "' from='romeo@example.com/orchard' to='juliet@example.com'><query xmlns='" + nsDiscoInfo + "'/></iq>")
	o := awaitIQ(t, ch)
	if o.err != nil || o.st.Type() != "result" {
		t.Fatalf("answer = %+v", o)
	}
	// Answered once: a replay is dropped.
	f.route("<iq type='result' id='" + id + "' from='romeo@example.com/orchard' to='juliet@example.com'/>")
	select {
	case o := <-ch:
		t.Fatalf("a second answer was delivered: %+v", o)
	case <-time.After(100 * time.Millisecond):
	}
}

func TestSendIQErrorsAndTimeout(t *testing.T) {
	f := newIMFixture(t)
	juliet := f.account("juliet")
	f.account("romeo")
	romeo := f.login("romeo@example.com/orchard")
	ctx := context.Background()

	// An error answer from the client.
	ch := make(chan iqOutcome, 1)
	if err := f.srv.SendIQ(ctx, juliet, romeo.jid, "get", discoQueryElement(), time.Minute, collect(ch)); err != nil {
		t.Fatal(err)
	}
	id := romeo.take()[0].ID()
	f.route("<iq type='error' id='" + id + "' from='romeo@example.com/orchard' to='juliet@example.com'><error type='cancel'>" +
		"<feature-not-implemented xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>no</text></error></iq>")
	o := awaitIQ(t, ch)
	var se *xmlstream.StanzaError
	if !errors.As(o.err, &se) || se.Condition != "feature-not-implemented" || se.Type != "cancel" || se.Text != "no" {
		t.Fatalf("error answer = %+v", o)
	}

	// A resource that is not bound: the server's own bounce answers.
	if err := f.srv.SendIQ(ctx, juliet, jid.MustParse("romeo@example.com/gone"), "get", discoQueryElement(), time.Minute, collect(ch)); err != nil {
		t.Fatal(err)
	}
	if o := awaitIQ(t, ch); !errors.As(o.err, &se) || se.Condition != "service-unavailable" {
		t.Fatalf("to an unbound resource = %+v", o)
	}

	// From the server's domain, answered to it.
	if err := f.srv.SendIQ(ctx, jid.MustParse(testDomain), romeo.jid, "get", discoQueryElement(), time.Minute, collect(ch)); err != nil {
		t.Fatal(err)
	}
	id = romeo.take()[0].ID()
	f.route("<iq type='result' id='" + id + "' from='romeo@example.com/orchard' to='example.com'/>")
	if o := awaitIQ(t, ch); o.err != nil {
		t.Fatalf("answer to the domain = %+v", o)
	}

	// No answer at all.
	if err := f.srv.SendIQ(ctx, juliet, romeo.jid, "get", discoQueryElement(), 20*time.Millisecond, collect(ch)); err != nil {
		t.Fatal(err)
	}
	if o := awaitIQ(t, ch); !errors.Is(o.err, ErrIQTimeout) {
		t.Fatalf("unanswered = %+v", o)
	}

	// Only the domain or an account's bare JID sends; only get and set.
	for _, from := range []string{"juliet@example.com/balcony", "remote.test", "x@remote.test"} {
		if err := f.srv.SendIQ(ctx, jid.MustParse(from), romeo.jid, "get", discoQueryElement(), 0, collect(ch)); !errors.Is(err, ErrIQBadFrom) {
			t.Errorf("from %s: %v", from, err)
		}
	}
	if err := f.srv.SendIQ(ctx, juliet, romeo.jid, "result", nil, 0, collect(ch)); err == nil {
		t.Error("an iq result was sent as a request")
	}
}

func TestSendIQBound(t *testing.T) {
	f := newIMFixture(t)
	juliet := f.account("juliet")
	remote := jid.MustParse("x@" + testRemote + "/r")
	ctx := context.Background()
	for i := 0; i < MaxIQsInFlight; i++ {
		if err := f.srv.SendIQ(ctx, juliet, remote, "get", discoQueryElement(), time.Hour, func(*xmlstream.Stanza, error) {}); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if err := f.srv.SendIQ(ctx, juliet, remote, "get", discoQueryElement(), time.Hour, func(*xmlstream.Stanza, error) {}); !errors.Is(err, ErrIQBusy) {
		t.Fatalf("request past the bound: %v", err)
	}
	if n := len(f.takeRemote()); n != MaxIQsInFlight {
		t.Fatalf("%d requests routed, want %d", n, MaxIQsInFlight)
	}
	// Answers free room again.
	f.srv.state.iq.mu.Lock()
	var id string
	for k := range f.srv.state.iq.pending {
		id = k
		break
	}
	f.srv.state.iq.mu.Unlock()
	f.route("<iq type='result' id='" + id + "' from='x@remote.test/r' to='juliet@example.com'/>")
	if err := f.srv.SendIQ(ctx, juliet, remote, "get", discoQueryElement(), time.Hour, func(*xmlstream.Stanza, error) {}); err != nil {
		t.Fatalf("after an answer: %v", err)
	}
}
