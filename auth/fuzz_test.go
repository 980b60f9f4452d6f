package auth

import (
	"context"
	"errors"
	"testing"
)

// Arbitrary client messages never panic and always end in a *Failure or a
// well-formed server message.
func FuzzSCRAM(f *testing.F) {
	f.Add([]byte("n,,n=alice,r=abc"), []byte("c=biws,r=abc,p=AAAA"))
	f.Add([]byte("p=tls-exporter,a=alice@example.com,n=alice,r=abc,x=y"), []byte("c=cD10bHMtZXhwb3J0ZXIsLA==,r=abc,e=f,p="))
	f.Add([]byte("y,,m=x,n=a=2Cb,r=a"), []byte(""))
	a, _, _ := newTestAccounts(f, Options{Iterations: 1, MaxFailuresPerIP: 1 << 30, MaxFailuresPerAccount: 1 << 30})
	mustCreate(f, a, "alice@example.com", "pencil")
	f.Fuzz(func(t *testing.T, first, final []byte) {
		ctx := context.Background()
		for _, mech := range []string{MechSCRAMSHA256, MechSCRAMSHA1} {
			ex, err := a.Begin(tls12Conn(), mech)
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = ex.Step(ctx, first)
			if err == nil {
				_, done, err := ex.Step(ctx, final)
				if err == nil && done && ex.JID().String() == "" {
					t.Fatal("success without a JID")
				}
			}
			var fl *Failure
			if err != nil && !errors.As(err, &fl) {
				t.Fatalf("non-Failure error %v", err)
			}
		}
		ex, _ := a.Begin(tls12Conn(), MechPlain)
		if _, _, err := ex.Step(ctx, first); err != nil {
			var fl *Failure
			if !errors.As(err, &fl) {
				t.Fatalf("PLAIN: non-Failure error %v", err)
			}
		}
	})
}
