package bench

import (
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"hash"
	"strings"
	"testing"

	"mellium.im/sasl"
)

// melliumServer is mellium's server side of mech for user/password with
// salt and iter, as an independent implementation to check ours against.
func melliumServer(t *testing.T, mech sasl.Mechanism, h func() hash.Hash, password string, salt []byte, iter int) *sasl.Negotiator {
	t.Helper()
	salted, err := pbkdf2.Key(h, password, salt, iter, h().Size())
	if err != nil {
		t.Fatal(err)
	}
	fetch := func(user, _ []byte, _ string) ([]byte, []byte, int64, error) {
		return salt, salted, int64(iter), nil
	}
	return sasl.NewServer(mech, func(*sasl.Negotiator) bool { return true }, sasl.SaltedCredentials(fetch))
}

// exchange runs our client against srv and returns the client's error.
func exchange(t *testing.T, c *SCRAMClient, srv *sasl.Negotiator) error {
	t.Helper()
	_, serverFirst, err := srv.Step(c.First())
	if err != nil {
		t.Fatalf("server rejected client-first: %v", err)
	}
	final, err := c.Final(serverFirst)
	if err != nil {
		return err
	}
	_, serverFinal, err := srv.Step(final)
	if err != nil {
		return err
	}
	return c.Verify(serverFinal)
}

func TestSCRAMAgainstMelliumServer(t *testing.T) {
	for _, tc := range []struct {
		name string
		mech sasl.Mechanism
		h    func() hash.Hash
	}{
		{"SCRAM-SHA-256", sasl.ScramSha256, sha256.New},
		{"SCRAM-SHA-1", sasl.ScramSha1, sha1.New},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cache := NewSCRAMCache()
			salt := []byte("0123456789abcdef")
			for i := range 3 {
				c, err := NewSCRAMClient(tc.name, "user1", "pencil", cache)
				if err != nil {
					t.Fatal(err)
				}
				if err := exchange(t, c, melliumServer(t, tc.mech, tc.h, "pencil", salt, 4096)); err != nil {
					t.Fatalf("login %d: %v", i, err)
				}
			}
			if d := cache.Derivations(); d != 1 {
				t.Fatalf("%d PBKDF2 derivations for 3 logins of one account, want 1", d)
			}
			// A new salt (password changed on the server) derives again.
			c, _ := NewSCRAMClient(tc.name, "user1", "pencil", cache)
			if err := exchange(t, c, melliumServer(t, tc.mech, tc.h, "pencil", []byte("another salt"), 4096)); err != nil {
				t.Fatal(err)
			}
			if d := cache.Derivations(); d != 2 {
				t.Fatalf("%d derivations after a salt change, want 2", d)
			}
		})
	}
}

func TestSCRAMWrongPasswordFails(t *testing.T) {
	c, _ := NewSCRAMClient("SCRAM-SHA-256", "alice", "wrong", NewSCRAMCache())
	if err := exchange(t, c, melliumServer(t, sasl.ScramSha256, sha256.New, "right", []byte("salt-salt"), 4096)); err == nil {
		t.Fatal("a wrong password authenticated")
	}
}

func TestSCRAMRejectsBadServerMessages(t *testing.T) {
	c, _ := NewSCRAMClient("SCRAM-SHA-1", "alice", "pw", nil)
	first := string(c.First())
	if !strings.HasPrefix(first, "n,,n=alice,r=") {
		t.Fatalf("client-first %q", first)
	}
	nonce := strings.TrimPrefix(first, "n,,n=alice,r=")
	for _, bad := range []string{
		"r=" + nonce + ",s=c2FsdA==,i=4096",          // nonce not extended
		"r=other" + nonce + "xyz,s=c2FsdA==,i=4096",  // foreign nonce
		"r=" + nonce + "xyz,s=,i=4096",               // empty salt
		"r=" + nonce + "xyz,s=c2FsdA==,i=0",          // bad count
		"r=" + nonce + "xyz,s=c2FsdA==,i=99999999",   // absurd count
		"m=ext,r=" + nonce + "xyz,s=c2FsdA==,i=4096", // reserved attribute
		"garbage",
	} {
		if _, err := c.Final([]byte(bad)); err == nil {
			t.Errorf("Final accepted %q", bad)
		}
	}
	if _, err := c.Final([]byte("r=" + nonce + "xyz,s=c2FsdA==,i=4096")); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"v=AAAA", "e=invalid-proof", "", "v=!!"} {
		if err := c.Verify([]byte(bad)); err == nil {
			t.Errorf("Verify accepted %q", bad)
		}
	}
	if _, err := NewSCRAMClient("SCRAM-MD5", "a", "b", nil); err == nil {
		t.Error("unknown mechanism accepted")
	}
}

func TestEscapeSASLName(t *testing.T) {
	if got := escapeSASLName("a,b=c"); got != "a=2Cb=3Dc" {
		t.Fatalf("escapeSASLName = %q", got)
	}
	if got := escapeSASLName("plain"); got != "plain" {
		t.Fatalf("escapeSASLName = %q", got)
	}
}
