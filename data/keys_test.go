package data

import (
	"bytes"
	"testing"
)

// The layout is persistent: changing any of these breaks existing
// databases unless SchemaVersion is bumped with a migration.
func TestKeyLayoutIsStable(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{string(AccountKey("u@x")), "acct/u@x"},
		{string(AccountPrefix()), "acct/"},
		{string(RosterKey("u@x")), "roster/u@x"},
		{string(BlocklistKey("u@x")), "block/u@x"},
		{string(PrivateKey("u@x", "storage:bookmarks")), "private/u@x/storage:bookmarks"},
		{MAMStream("u@x"), "mam/u@x"},
		{string(AdminCreatedKey()), "meta/admin-created"},
		{string(MUCRoomKey("r@muc.x")), "muc/room/r@muc.x"},
		{string(MUCAffiliationKey("r@muc.x", "u@x")), "muc/aff/r@muc.x/u@x"},
		{string(MUCPublicKey("r@muc.x")), "muc/public/r@muc.x"},
		{string(MUCCreatorKey("u@x", "r@muc.x")), "muc/creator/u@x/r@muc.x"},
		{MUCHistoryStream("r@muc.x"), "muc/history/r@muc.x"},
		{string(CertKey("main")), "cert/main"},
		{string(SchemaKey()), "meta/schema"},
		{OfflineStream("u@x"), "offline/u@x"},
		{string(kvKey([]byte("acct/u@x"))), "k/acct/u@x"},
		{string(logKey("offline/u@x", 258)), "l/offline/u@x\x00\x00\x00\x00\x00\x00\x00\x01\x02"},
		{string(logMetaKey("offline/u@x")), "s/offline/u@x"},
		{string(revLeaseKey), "x/rev"},
	} {
		if c.got != c.want {
			t.Errorf("key %q, want %q", c.got, c.want)
		}
	}
}

func TestLogKeysOrderAndSeparate(t *testing.T) {
	// Sequence order is key order, across byte boundaries.
	for _, p := range [][2]uint64{{1, 2}, {255, 256}, {65535, 65536}, {1<<32 - 1, 1 << 32}} {
		if bytes.Compare(logKey("s", p[0]), logKey("s", p[1])) >= 0 {
			t.Errorf("logKey(%d) does not sort before logKey(%d)", p[0], p[1])
		}
	}
	// No entry of a stream falls under another stream's prefix.
	names := []string{"a", "a/b", "a/", "ab", "a\x01", "a\xff"}
	for _, x := range names {
		for _, y := range names {
			if x != y && bytes.HasPrefix(logKey(y, 1), logPrefix(x)) {
				t.Errorf("entry of %q is under the prefix of %q", y, x)
			}
		}
	}
	if got := logKeySeq(logKey("a/b", 1<<40+7)); got != 1<<40+7 {
		t.Errorf("logKeySeq = %d", got)
	}
}
