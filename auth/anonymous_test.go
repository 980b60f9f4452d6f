package auth

import (
	"context"
	"slices"
	"strings"
	"testing"

	"mellium.im/sasl"
)

func TestAnonymous(t *testing.T) {
	a, _, _ := newTestAccounts(t, Options{AnonymousDomain: "Anon.Example.com."})
	anon := ConnInfo{Domain: "anon.example.com", TLS: tls12Conn().TLS}
	if got := a.Mechanisms(anon); !slices.Equal(got, []string{MechAnonymous}) {
		t.Fatalf("Mechanisms on the anonymous domain = %v", got)
	}
	for _, mech := range []string{MechSCRAMSHA256, MechSCRAMSHA1, MechPlain} {
		_, err := a.Begin(anon, mech)
		wantCondition(t, err, condInvalidMechanism)
	}
	// Elsewhere, no ANONYMOUS.
	if slices.Contains(a.Mechanisms(tls12Conn()), MechAnonymous) {
		t.Fatal("ANONYMOUS offered on a normal domain")
	}
	_, err := a.Begin(tls12Conn(), MechAnonymous)
	wantCondition(t, err, condInvalidMechanism)

	seen := map[string]bool{}
	for range 3 {
		ex := begin(t, a, anon, MechAnonymous)
		if err := run(t, ex, sasl.NewClient(sasl.Anonymous, creds("", "", "trace@example.net"))); err != nil {
			t.Fatalf("login: %v", err)
		}
		id := ex.JID()
		if id.Domainpart() != "anon.example.com" || len(id.Localpart()) < 22 || id.Resourcepart() != "" {
			t.Fatalf("JID = %v", id)
		}
		if seen[id.String()] {
			t.Fatalf("JID %v handed out twice", id)
		}
		seen[id.String()] = true
	}
}

func TestAnonymousSteps(t *testing.T) {
	ctx := context.Background()
	a, _, _ := newTestAccounts(t, Options{AnonymousDomain: "anon.example.com"})
	anon := ConnInfo{Domain: "anon.example.com"}

	// XEP-0175: no initial response, immediate success.
	ex := begin(t, a, anon, MechAnonymous)
	if out, done, err := ex.Step(ctx, nil); err != nil || !done || len(out) != 0 {
		t.Fatalf("Step(nil) = %q, %v, %v", out, done, err)
	}
	if _, _, err := ex.Step(ctx, nil); err != ErrFinished {
		t.Fatalf("Step after success = %v", err)
	}
	ex = begin(t, a, anon, MechAnonymous)
	if _, done, err := ex.Step(ctx, []byte("sirhc")); err != nil || !done {
		t.Fatalf("trace: %v", err)
	}

	for _, bad := range []string{"\xff", strings.Repeat("x", 256)} {
		ex = begin(t, a, anon, MechAnonymous)
		_, _, err := ex.Step(ctx, []byte(bad))
		wantCondition(t, err, condMalformedRequest)
	}
}
