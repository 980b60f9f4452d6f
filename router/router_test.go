package router

import (
	"context"
	"errors"
	"sync"
	"testing"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/xmlstream"
)

type fakeSession struct {
	mu     sync.Mutex
	jid    jid.JID
	got    []*xmlstream.Stanza
	closed string
}

func (f *fakeSession) JID() jid.JID { f.mu.Lock(); defer f.mu.Unlock(); return f.jid }
func (f *fakeSession) Send(st *xmlstream.Stanza) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed != "" {
		return false
	}
	f.got = append(f.got, st)
	return true
}
func (f *fakeSession) Close(cond, text string) { f.mu.Lock(); f.closed = cond; f.mu.Unlock() }

// bind binds a fresh fake session and records the bound JID in it, as c2s does.
func bind(t *testing.T, r *Router, bare, res string) (*fakeSession, error) {
	t.Helper()
	s := &fakeSession{}
	full, err := r.Bind(s, jid.MustParse(bare), res)
	if err == nil {
		s.jid = full
	}
	return s, err
}

func TestBindConflictPolicies(t *testing.T) {
	t.Run("replace", func(t *testing.T) {
		r := New(Options{Conflict: ConflictReplace})
		old, _ := bind(t, r, "alice@example.org", "phone")
		nw, err := bind(t, r, "alice@example.org", "phone")
		if err != nil {
			t.Fatal(err)
		}
		if old.closed != "conflict" {
			t.Fatalf("old session closed with %q, want conflict", old.closed)
		}
		res := r.Resources("alice@example.org")
		if len(res) != 1 || res[0].Session != nw {
			t.Fatalf("resources after replace = %+v", res)
		}
		if _, bound := r.Unbind(old); bound {
			t.Fatal("Unbind of the replaced session reported it bound")
		}
		if r.SessionCount() != 1 {
			t.Fatalf("SessionCount = %d, want 1", r.SessionCount())
		}
	})
	t.Run("refuse", func(t *testing.T) {
		r := New(Options{Conflict: ConflictRefuse})
		old, _ := bind(t, r, "alice@example.org", "phone")
		if _, err := bind(t, r, "alice@example.org", "phone"); !errors.Is(err, ErrConflict) {
			t.Fatalf("err = %v, want ErrConflict", err)
		}
		if old.closed != "" {
			t.Fatal("refuse policy closed the old session")
		}
	})
	t.Run("rename", func(t *testing.T) {
		r := New(Options{Conflict: ConflictRename})
		bind(t, r, "alice@example.org", "phone")
		nw, err := bind(t, r, "alice@example.org", "phone")
		if err != nil {
			t.Fatal(err)
		}
		if nw.jid.Resourcepart() == "phone" || nw.jid.Resourcepart() == "" {
			t.Fatalf("renamed resource = %q", nw.jid.Resourcepart())
		}
		if len(r.Resources("alice@example.org")) != 2 {
			t.Fatal("rename should keep both sessions")
		}
	})
}

func TestBindGeneratesResourceAndLimits(t *testing.T) {
	r := New(Options{MaxResources: 2})
	a, _ := bind(t, r, "bob@example.org", "")
	b, _ := bind(t, r, "bob@example.org", "")
	if a.jid.Resourcepart() == "" || a.jid.Resourcepart() == b.jid.Resourcepart() {
		t.Fatalf("generated resources %q %q", a.jid.Resourcepart(), b.jid.Resourcepart())
	}
	if _, err := bind(t, r, "bob@example.org", "third"); !errors.Is(err, ErrTooManyResources) {
		t.Fatalf("err = %v, want ErrTooManyResources", err)
	}
	// Replacing an existing resource is not a new one.
	r2 := New(Options{MaxResources: 1})
	bind(t, r2, "bob@example.org", "x")
	if _, err := bind(t, r2, "bob@example.org", "x"); err != nil {
		t.Fatalf("replace at the limit: %v", err)
	}
}

func TestUpdateLookupUnbind(t *testing.T) {
	r := New(Options{})
	s, _ := bind(t, r, "carol@example.org", "desk")
	got, ok := r.Update(s, func(res *Resource) { res.Available = true; res.Priority = 5 })
	if !ok || !got.Available || got.Priority != 5 {
		t.Fatalf("Update = %+v, %v", got, ok)
	}
	res, ok := r.Lookup(jid.MustParse("carol@example.org/desk"))
	if !ok || res.Priority != 5 {
		t.Fatalf("Lookup = %+v, %v", res, ok)
	}
	last, bound := r.Unbind(s)
	if !bound || !last.Available {
		t.Fatalf("Unbind = %+v, %v", last, bound)
	}
	if _, ok := r.Lookup(jid.MustParse("carol@example.org/desk")); ok {
		t.Fatal("still bound after Unbind")
	}
	if r.SessionCount() != 0 || len(r.All()) != 0 {
		t.Fatal("registry not empty")
	}
}

// A resource may contain '/' and '@'; the lookup splits the bare JID at
// the first '/', which only the resource can follow.
func TestLookupResourceWithSlashAndAt(t *testing.T) {
	r := New(Options{})
	bind(t, r, "dave@example.org", "home/desk@2")
	if _, ok := r.Lookup(jid.MustParse("dave@example.org/home/desk@2")); !ok {
		t.Fatal("resource with '/' and '@' not found")
	}
	if _, ok := r.Lookup(jid.MustParse("dave@example.org/home")); ok {
		t.Fatal("a prefix of the resource matched")
	}
	if _, ok := r.Lookup(jid.MustParse("example.org/home/desk@2")); ok {
		t.Fatal("a domain JID with that resource matched")
	}
}

func iq(from, to string) *xmlstream.Stanza {
	return xmlstream.NewStanza(xmlstream.NewElement(xmlstream.NSClient, "iq",
		"from", from, "to", to, "id", "q1", "type", "get").
		Append(xmlstream.NewElement("urn:xmpp:ping", "ping")))
}

func TestRouteByDomain(t *testing.T) {
	r := New(Options{})
	var local, service []*xmlstream.Stanza
	r.HandleDomain("example.org", HandlerFunc(func(_ context.Context, st *xmlstream.Stanza) { local = append(local, st) }), true)
	r.HandleDomain("conference.example.org", HandlerFunc(func(_ context.Context, st *xmlstream.Stanza) { service = append(service, st) }), false)
	if !r.IsLocal("example.org") || r.IsLocal("conference.example.org") || !r.Serves("conference.example.org") {
		t.Fatal("IsLocal/Serves wrong")
	}
	ctx := context.Background()
	r.Route(ctx, iq("a@example.org/x", "b@example.org"))
	r.Route(ctx, iq("a@example.org/x", "room@conference.example.org/nick"))
	if len(local) != 1 || len(service) != 1 {
		t.Fatalf("local %d service %d", len(local), len(service))
	}
}

func TestRouteUnknownDomainBounces(t *testing.T) {
	r := New(Options{})
	var got []*xmlstream.Stanza
	r.HandleDomain("example.org", HandlerFunc(func(_ context.Context, st *xmlstream.Stanza) { got = append(got, st) }), true)
	r.Route(context.Background(), iq("a@example.org/x", "someone@elsewhere.test"))
	if len(got) != 1 {
		t.Fatalf("bounce not routed back: %d", len(got))
	}
	b := got[0]
	if b.Type() != "error" || b.To() != "a@example.org/x" || b.From() != "someone@elsewhere.test" || b.ID() != "q1" {
		t.Fatalf("bounce attrs: %s", b.Raw)
	}
	el, _ := b.Element()
	if el.Child("", "error").Child(xmlstream.NSStanzas, "remote-server-not-found") == nil {
		t.Fatalf("bounce condition: %s", b.Raw)
	}
	// An error is never answered with an error.
	r.Route(context.Background(), b.WithAttrs("to", "x@elsewhere.test"))
	if len(got) != 1 {
		t.Fatal("an error stanza was bounced")
	}
}

func TestRouteMalformedTo(t *testing.T) {
	r := New(Options{})
	var got []*xmlstream.Stanza
	r.HandleDomain("example.org", HandlerFunc(func(_ context.Context, st *xmlstream.Stanza) { got = append(got, st) }), true)
	r.Route(context.Background(), iq("a@example.org/x", "@@bad"))
	if len(got) != 1 || got[0].Type() != "error" {
		t.Fatalf("got %d", len(got))
	}
	el, _ := got[0].Element()
	if el.Child("", "error").Child(xmlstream.NSStanzas, "jid-malformed") == nil {
		t.Fatalf("condition: %s", got[0].Raw)
	}
}

func TestConcurrentBindUnbind(t *testing.T) {
	r := New(Options{})
	var wg sync.WaitGroup
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 200; j++ {
				s, err := bind(t, r, "load@example.org", "")
				if err != nil {
					t.Error(err)
					return
				}
				r.Update(s, func(res *Resource) { res.Available = true })
				r.Resources("load@example.org")
				r.Unbind(s)
			}
		}()
	}
	wg.Wait()
	if r.SessionCount() != 0 {
		t.Fatalf("SessionCount = %d after all unbinds", r.SessionCount())
	}
}
