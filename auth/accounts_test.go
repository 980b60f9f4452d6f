package auth

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"mellium.im/xmpp/jid"
)

func TestCreateExistsVerify(t *testing.T) {
	ctx := context.Background()
	a, _, _ := newTestAccounts(t, Options{})
	alice := mustCreate(t, a, "alice@example.com", "s3cret")

	if ok, err := a.Exists(ctx, alice); err != nil || !ok {
		t.Fatalf("Exists(alice) = %v, %v", ok, err)
	}
	if ok, err := a.Exists(ctx, jid.MustParse("bob@example.com")); err != nil || ok {
		t.Fatalf("Exists(bob) = %v, %v", ok, err)
	}
	// A resource is ignored.
	if ok, _ := a.Exists(ctx, jid.MustParse("alice@example.com/phone")); !ok {
		t.Fatal("Exists(full JID) = false")
	}
	if err := a.Verify(ctx, alice, "s3cret"); err != nil {
		t.Fatalf("Verify(right) = %v", err)
	}
	if err := a.Verify(ctx, alice, "S3cret"); !errors.Is(err, ErrBadPassword) {
		t.Fatalf("Verify(wrong) = %v", err)
	}
	if err := a.Verify(ctx, jid.MustParse("bob@example.com"), "s3cret"); !errors.Is(err, ErrNoAccount) {
		t.Fatalf("Verify(unknown) = %v", err)
	}
}

func TestCreateRejects(t *testing.T) {
	ctx := context.Background()
	a, _, _ := newTestAccounts(t, Options{})
	mustCreate(t, a, "alice@example.com", "pw")
	for _, tc := range []struct {
		name     string
		bare     jid.JID
		password string
		want     error
	}{
		{"exists", jid.MustParse("alice@example.com"), "x", ErrExists},
		{"exists after case mapping", jid.NewUnsafe("ALICE", "example.com", "").JID, "x", ErrExists},
		{"no localpart", jid.MustParse("example.com"), "x", ErrBadName},
		{"zero JID", jid.JID{}, "x", ErrBadName},
		{"space in localpart", jid.NewUnsafe("a b", "example.com", "").JID, "x", ErrBadName},
		{"slash in localpart", jid.NewUnsafe("a/b", "example.com", "").JID, "x", ErrBadName},
		{"empty password", jid.MustParse("carol@example.com"), "", ErrWeak},
		{"control character", jid.MustParse("carol@example.com"), "a\x07b", ErrWeak},
		{"too long", jid.MustParse("carol@example.com"), string(bytes.Repeat([]byte("a"), maxPasswordLen+1)), ErrWeak},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := a.Create(ctx, tc.bare, tc.password); !errors.Is(err, tc.want) {
				t.Fatalf("Create = %v, want %v", err, tc.want)
			}
		})
	}
	if ok, _ := a.Exists(ctx, jid.MustParse("carol@example.com")); ok {
		t.Fatal("a rejected Create left an account behind")
	}
}

func TestCreateIsAtomic(t *testing.T) {
	a, _, _ := newTestAccounts(t, Options{Iterations: 64})
	bare := jid.MustParse("race@example.com")
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = a.Create(context.Background(), bare, "pw")
		}()
	}
	wg.Wait()
	created := 0
	for _, err := range errs {
		switch {
		case err == nil:
			created++
		case !errors.Is(err, ErrExists):
			t.Fatalf("Create: %v", err)
		}
	}
	if created != 1 {
		t.Fatalf("%d concurrent creates succeeded, want 1", created)
	}
}

// The record holds per-hash salt, iterations, StoredKey and ServerKey, never
// the password or SaltedPassword (or ClientKey).
func TestRecordHoldsNoSecrets(t *testing.T) {
	ctx := context.Background()
	a, kv, _ := newTestAccounts(t, Options{})
	const password = "correct horse"
	before := time.Now().Unix()
	mustCreate(t, a, "alice@example.com", password)

	raw, _, err := kv.Get(ctx, []byte("acct/alice@example.com"))
	if err != nil {
		t.Fatalf("record not under acct/<bare JID>: %v", err)
	}
	// Decode the documented layout independently of decodeRecord.
	type hashPart struct {
		salt, stored, server []byte
		iter                 int
	}
	if raw[0] != 1 {
		t.Fatalf("version byte %d", raw[0])
	}
	created := int64(binary.BigEndian.Uint64(raw[1:9]))
	if created < before || created > time.Now().Unix() {
		t.Fatalf("created %d", created)
	}
	rest := raw[9:]
	var parts []hashPart
	for _, size := range []int{20, 32} {
		iter := int(binary.BigEndian.Uint32(rest))
		n := int(rest[4])
		rest = rest[5:]
		parts = append(parts, hashPart{salt: rest[:n], stored: rest[n : n+size], server: rest[n+size : n+2*size], iter: iter})
		rest = rest[n+2*size:]
	}
	if len(rest) != 0 {
		t.Fatalf("%d trailing bytes", len(rest))
	}
	if bytes.Contains(raw, []byte(password)) {
		t.Fatal("record contains the password")
	}
	for i, h := range []*scramHash{&sha1Hash, &sha256Hash} {
		c := struct {
			h                    *scramHash
			salt, stored, server []byte
			iter                 int
		}{h, parts[i].salt, parts[i].stored, parts[i].server, parts[i].iter}
		if c.iter != 4096 || len(c.salt) < 16 {
			t.Fatalf("%s: iterations %d, salt %x", c.h.name, c.iter, c.salt)
		}
		salted := pbkdf2Key(t, c.h, password, c.salt, c.iter)
		clientKey := c.h.hmac(salted, []byte("Client Key"))
		if !bytes.Equal(c.stored, c.h.sum(clientKey)) || !bytes.Equal(c.server, c.h.hmac(salted, []byte("Server Key"))) {
			t.Fatalf("%s: stored keys are not RFC 5802's StoredKey/ServerKey", c.h.name)
		}
		for _, secret := range [][]byte{salted, clientKey} {
			for _, enc := range [][]byte{secret, []byte(base64.StdEncoding.EncodeToString(secret)), []byte(hex.EncodeToString(secret))} {
				if bytes.Contains(raw, enc) {
					t.Fatalf("%s: record contains SaltedPassword or ClientKey", c.h.name)
				}
			}
		}
	}
	if bytes.Equal(parts[0].salt, parts[1].salt) {
		t.Fatal("both hashes share a salt")
	}
}

func TestSetPassword(t *testing.T) {
	ctx := context.Background()
	a, kv, _ := newTestAccounts(t, Options{})
	alice := mustCreate(t, a, "alice@example.com", "old")
	raw, _, _ := kv.Get(ctx, accountKey(alice))
	oldRec, _ := decodeRecord(raw)

	if err := a.SetPassword(ctx, alice, "new"); err != nil {
		t.Fatal(err)
	}
	if err := a.Verify(ctx, alice, "old"); !errors.Is(err, ErrBadPassword) {
		t.Fatalf("old password: %v", err)
	}
	if err := a.Verify(ctx, alice, "new"); err != nil {
		t.Fatalf("new password: %v", err)
	}
	raw, _, _ = kv.Get(ctx, accountKey(alice))
	newRec, _ := decodeRecord(raw)
	if newRec.Created != oldRec.Created || bytes.Equal(newRec.SHA256.Salt, oldRec.SHA256.Salt) {
		t.Fatal("SetPassword must keep the creation time and pick new salts")
	}
	if err := a.SetPassword(ctx, jid.MustParse("bob@example.com"), "x"); !errors.Is(err, ErrNoAccount) {
		t.Fatalf("SetPassword(unknown) = %v", err)
	}
	if err := a.SetPassword(ctx, alice, ""); !errors.Is(err, ErrWeak) {
		t.Fatalf("SetPassword(empty) = %v", err)
	}
}

// Passwords go through PRECIS OpaqueString: a no-break space is a space.
func TestPasswordPRECIS(t *testing.T) {
	ctx := context.Background()
	a, _, _ := newTestAccounts(t, Options{})
	alice := mustCreate(t, a, "alice@example.com", "pass\u00a0word")
	if err := a.Verify(ctx, alice, "pass word"); err != nil {
		t.Fatalf("Verify after PRECIS mapping: %v", err)
	}
}

func TestDeleteRunsHooks(t *testing.T) {
	ctx := context.Background()
	a, _, _ := newTestAccounts(t, Options{})
	alice := mustCreate(t, a, "alice@example.com", "pw")
	errRoster := errors.New("roster cleanup failed")
	var ran []string
	a.OnDelete(func(_ context.Context, bare jid.JID) error {
		ran = append(ran, "roster:"+bare.String())
		return errRoster
	})
	a.OnDelete(func(_ context.Context, bare jid.JID) error {
		ran = append(ran, "offline:"+bare.String())
		return nil
	})
	err := a.Delete(ctx, jid.MustParse("alice@example.com/res"))
	if !errors.Is(err, errRoster) {
		t.Fatalf("Delete = %v, want the hook's error", err)
	}
	if want := []string{"roster:alice@example.com", "offline:alice@example.com"}; !slices.Equal(ran, want) {
		t.Fatalf("hooks ran %v, want %v", ran, want)
	}
	if ok, _ := a.Exists(ctx, alice); ok {
		t.Fatal("account still exists")
	}
	ran = nil
	if err := a.Delete(ctx, alice); !errors.Is(err, ErrNoAccount) {
		t.Fatalf("second Delete = %v", err)
	}
	if ran != nil {
		t.Fatal("hooks ran for a missing account")
	}
}

func TestList(t *testing.T) {
	ctx := context.Background()
	a, _, _ := newTestAccounts(t, Options{Iterations: 16})
	for _, u := range []string{"zed@example.com", "a@example.com", "a.b@example.com", "m@other.org", "b@example.com.evil"} {
		mustCreate(t, a, u, "pw")
	}
	got, err := a.List(ctx, "example.com")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a", "a.b", "zed"}; !slices.Equal(got, want) {
		t.Fatalf("List = %v, want %v", got, want)
	}
	got, _ = a.List(ctx, "EXAMPLE.com")
	if len(got) != 3 {
		t.Fatalf("List with an unnormalized domain = %v", got)
	}
	got, _ = a.List(ctx, "nowhere.net")
	if len(got) != 0 {
		t.Fatalf("List(empty domain) = %v", got)
	}
}

func TestCorruptRecord(t *testing.T) {
	ctx := context.Background()
	a, kv, _ := newTestAccounts(t, Options{})
	alice := mustCreate(t, a, "alice@example.com", "pw")
	good, _, _ := kv.Get(ctx, accountKey(alice))
	for _, bad := range [][]byte{
		nil,
		{2},                // unknown version
		good[:len(good)-1], // truncated
		append(good, 0),    // trailing byte
		good[:9],           // no credentials
		func() []byte { b := bytes.Clone(good); b[9], b[10], b[11], b[12] = 0, 0, 0, 0; return b }(), // 0 iterations
		func() []byte { b := bytes.Clone(good); b[13] = 0; return b }(),                              // empty salt
		[]byte(`{"v":1}`),
	} {
		kv.Put(ctx, accountKey(alice), bad)
		if err := a.Verify(ctx, alice, "pw"); err == nil || errors.Is(err, ErrBadPassword) {
			t.Fatalf("Verify on corrupt record %x = %v", bad, err)
		}
		ex := begin(t, a, plainConn(), MechSCRAMSHA256)
		_, _, err := ex.Step(ctx, []byte("n,,n=alice,r=abc"))
		wantCondition(t, err, condTemporaryAuthFailure)
	}
	rec, err := decodeRecord(good)
	if err != nil || !bytes.Equal(encodeRecord(rec), good) {
		t.Fatalf("record does not round-trip: %v", err)
	}
}
