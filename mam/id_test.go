package mam

import "testing"

func TestIDRoundTrip(t *testing.T) {
	id := ID(1234567, 42)
	if seq, nonce, ok := ParseID(id); !ok || seq != 1234567 || nonce != 42 {
		t.Fatalf("ParseID(%s) = %d %d %v", id, seq, nonce, ok)
	}
	if got := ID(1<<64-1, 1<<32-1); len(got) != 16 {
		t.Errorf("ID of the largest sequence: %q", got)
	}
	// Sequence 0 is never an entry; other lengths and alphabets are not ids.
	for _, bad := range []string{"", "x", "AAAAAAAAAAAAAAAA", id + "A", id[:15], "!!!!!!!!!!!!!!!!", "AAAAAAAAAAAAAAA=", "AAAAAAAAAAAAAA+/"} {
		if _, _, ok := ParseID(bad); ok {
			t.Errorf("ParseID accepted %q", bad)
		}
	}
}

func TestNewNonceVaries(t *testing.T) {
	seen := map[uint32]bool{}
	for range 8 {
		seen[NewNonce()] = true
	}
	if len(seen) < 2 {
		t.Fatalf("8 nonces, %d distinct", len(seen))
	}
}
