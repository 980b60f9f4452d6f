package auth

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"mellium.im/sasl"
	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/data"
)

// The account lifecycle and logins against the real store.
func TestWithBadger(t *testing.T) {
	ctx := context.Background()
	db, err := data.OpenInMemory()
	if err != nil {
		t.Fatalf("data.OpenInMemory: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	a := New(db, Options{})

	alice := mustCreate(t, a, "alice@example.com", "pencil")
	mustCreate(t, a, "bob@example.com", "pw")
	mustCreate(t, a, "carol@other.org", "pw")
	if err := a.Create(ctx, alice, "again"); !errors.Is(err, ErrExists) {
		t.Fatalf("second Create = %v", err)
	}

	var wg sync.WaitGroup
	results := make([]error, 4)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = a.Create(ctx, jid.MustParse("dave@example.com"), "pw")
		}()
	}
	wg.Wait()
	if n := len(slices.DeleteFunc(results, func(err error) bool { return errors.Is(err, ErrExists) })); n != 1 {
		t.Fatalf("%d concurrent creates succeeded: %v", n, results)
	}

	for _, m := range scramMechs {
		ex := begin(t, a, plainConn(), m.name)
		if err := run(t, ex, sasl.NewClient(m.client, creds("alice", "pencil", ""))); err != nil {
			t.Fatalf("%s: %v", m.name, err)
		}
	}
	ex := begin(t, a, tls12Conn(), MechPlain)
	if err := run(t, ex, sasl.NewClient(sasl.Plain, creds("alice", "pencil", ""))); err != nil {
		t.Fatalf("PLAIN: %v", err)
	}

	if err := a.SetPassword(ctx, alice, "new"); err != nil {
		t.Fatal(err)
	}
	if err := a.Verify(ctx, alice, "new"); err != nil {
		t.Fatal(err)
	}
	got, err := a.List(ctx, "example.com")
	if err != nil || !slices.Equal(got, []string{"alice", "bob", "dave"}) {
		t.Fatalf("List = %v, %v", got, err)
	}
	if err := a.Delete(ctx, alice); err != nil {
		t.Fatal(err)
	}
	if ok, _ := a.Exists(ctx, alice); ok {
		t.Fatal("deleted account exists")
	}
	if err := a.Delete(ctx, alice); !errors.Is(err, ErrNoAccount) {
		t.Fatalf("second Delete = %v", err)
	}
}
