package auth

import (
	"context"
	"testing"

	"mellium.im/sasl"
)

func TestPlain(t *testing.T) {
	a, _, _ := newTestAccounts(t, Options{MaxFailuresPerIP: 100})
	alice := mustCreate(t, a, "alice@example.com", "pencil")
	dev := plainConn()
	dev.PlainWithoutTLS = true

	for _, tc := range []struct {
		name           string
		conn           ConnInfo
		user, pw, auth string
		want           string // "" = success
	}{
		{"TLS", tls12Conn(), "alice", "pencil", "", ""},
		{"without TLS when allowed", dev, "alice", "pencil", "", ""},
		{"authzid = own JID", tls12Conn(), "alice", "pencil", "alice@example.com", ""},
		{"case-mapped username", tls12Conn(), "Alice", "pencil", "", ""},
		{"wrong password", tls12Conn(), "alice", "Pencil", "", condNotAuthorized},
		{"unknown user", tls12Conn(), "bob", "pencil", "", condNotAuthorized},
		{"username not a localpart", tls12Conn(), "alice@example.com", "pencil", "", condNotAuthorized},
		{"authzid of another", tls12Conn(), "alice", "pencil", "bob@example.com", condInvalidAuthzid},
		{"authzid not a JID", tls12Conn(), "alice", "pencil", "@@", condInvalidAuthzid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ex := begin(t, a, tc.conn, MechPlain)
			err := run(t, ex, sasl.NewClient(sasl.Plain, creds(tc.user, tc.pw, tc.auth)))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("login: %v", err)
				}
				if !ex.JID().Equal(alice) {
					t.Fatalf("JID = %v", ex.JID())
				}
				return
			}
			wantCondition(t, err, tc.want)
			if ex.JID().String() != "" {
				t.Fatal("JID set after failure")
			}
		})
	}
}

func TestPlainRequiresTLS(t *testing.T) {
	a, _, _ := newTestAccounts(t, Options{})
	_, err := a.Begin(plainConn(), MechPlain)
	wantCondition(t, err, condEncryptionRequired)
}

func TestPlainMalformed(t *testing.T) {
	ctx := context.Background()
	a, _, _ := newTestAccounts(t, Options{MaxFailuresPerIP: 100})
	mustCreate(t, a, "alice@example.com", "pencil")
	for _, msg := range []string{
		"",
		"alice",
		"\x00alice",
		"\x00alice\x00",
		"\x00\x00pencil",
		"\x00alice\x00pencil\x00",
		"\x00alice\x00pen\xffcil",
		"\x00alice\x00" + string(make([]byte, maxSASLMessage)),
	} {
		ex := begin(t, a, tls12Conn(), MechPlain)
		ex.Step(ctx, nil) // no initial response: empty challenge
		_, _, err := ex.Step(ctx, []byte(msg))
		wantCondition(t, err, condMalformedRequest)
		if _, _, err := ex.Step(ctx, []byte("\x00alice\x00pencil")); err != ErrFinished {
			t.Fatalf("Step after failure = %v", err)
		}
	}
}

func TestPlainNoInitialResponse(t *testing.T) {
	ctx := context.Background()
	a, _, _ := newTestAccounts(t, Options{})
	mustCreate(t, a, "alice@example.com", "pencil")
	ex := begin(t, a, tls12Conn(), MechPlain)
	out, done, err := ex.Step(ctx, nil)
	if err != nil || done || out == nil || len(out) != 0 {
		t.Fatalf("Step(nil) = %q, %v, %v", out, done, err)
	}
	out, done, err = ex.Step(ctx, []byte("\x00alice\x00pencil"))
	if err != nil || !done || out != nil {
		t.Fatalf("Step = %q, %v, %v", out, done, err)
	}
	if _, _, err := ex.Step(ctx, nil); err != ErrFinished {
		t.Fatalf("Step after success = %v", err)
	}
}
