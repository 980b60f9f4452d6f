package auth

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"regexp"
	"strings"
	"testing"

	"mellium.im/sasl"
)

var scramMechs = []struct {
	name   string
	client sasl.Mechanism
	h      *scramHash
}{
	{MechSCRAMSHA256, sasl.ScramSha256, &sha256Hash},
	{MechSCRAMSHA1, sasl.ScramSha1, &sha1Hash},
}

func TestSCRAMInterop(t *testing.T) {
	a, _, _ := newTestAccounts(t, Options{})
	alice := mustCreate(t, a, "alice@example.com", "pencil")
	for _, m := range scramMechs {
		t.Run(m.name, func(t *testing.T) {
			ex := begin(t, a, plainConn(), m.name)
			if err := run(t, ex, sasl.NewClient(m.client, creds("alice", "pencil", ""))); err != nil {
				t.Fatalf("login: %v", err)
			}
			if !ex.JID().Equal(alice) {
				t.Fatalf("JID = %v", ex.JID())
			}
			if _, _, err := ex.Step(context.Background(), []byte("more")); !errors.Is(err, ErrFinished) {
				t.Fatalf("Step after success = %v", err)
			}
		})
	}
}

// Without an initial response the server opens with an empty challenge.
func TestSCRAMNoInitialResponse(t *testing.T) {
	ctx := context.Background()
	a, _, _ := newTestAccounts(t, Options{})
	mustCreate(t, a, "alice@example.com", "pencil")
	ex := begin(t, a, plainConn(), MechSCRAMSHA256)
	out, done, err := ex.Step(ctx, nil)
	if err != nil || done || out == nil || len(out) != 0 {
		t.Fatalf("Step(nil) = %q, %v, %v; want an empty challenge", out, done, err)
	}
	c := sasl.NewClient(sasl.ScramSha256, creds("alice", "pencil", ""))
	_, first, _ := c.Step(nil)
	sf, done, err := ex.Step(ctx, first)
	if err != nil || done {
		t.Fatalf("client-first: %v", err)
	}
	_, final, err := c.Step(sf)
	if err != nil {
		t.Fatal(err)
	}
	sfin, done, err := ex.Step(ctx, final)
	if err != nil || !done {
		t.Fatalf("client-final: %v", err)
	}
	if _, _, err := c.Step(sfin); err != nil {
		t.Fatalf("client rejects server signature: %v", err)
	}
}

// An empty response after the empty challenge is malformed, not a second
// "no initial response".
func TestSCRAMEmptyResponse(t *testing.T) {
	a, _, _ := newTestAccounts(t, Options{})
	ex := begin(t, a, plainConn(), MechSCRAMSHA256)
	ex.Step(context.Background(), nil)
	_, _, err := ex.Step(context.Background(), nil)
	wantCondition(t, err, condMalformedRequest)
}

// The RFC examples, with the server nonce pinned (RFC 5802 §5, RFC 7677 §3).
func TestSCRAMRFCVectors(t *testing.T) {
	ctx := context.Background()
	for _, v := range []struct {
		mech, h                  string
		cnonce, snonce, salt     string
		clientFinal, serverFinal string
	}{
		{
			MechSCRAMSHA1, "SHA-1", "fyko+d2lbbFgONRv9qkxdawL", "3rfcNHYJY1ZVvWVs7j", "QSXCR+Q6sek8bf92",
			"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
			"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
		},
		{
			MechSCRAMSHA256, "SHA-256", "rOprNGfwEbeRWgbNEkqO", "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0", "W22ZaJ0SNY7soEsUEjb6gQ==",
			"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
			"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
		},
	} {
		t.Run(v.mech, func(t *testing.T) {
			a, kv, _ := newTestAccounts(t, Options{})
			a.impl.serverNonce = func() string { return v.snonce }
			user := mustCreate(t, a, "user@example.com", "other")
			// Replace the keys with ones derived from the RFC's salt.
			raw, _, _ := kv.Get(ctx, accountKey(user))
			rec, _ := decodeRecord(raw)
			salt, _ := base64.StdEncoding.DecodeString(v.salt)
			for _, h := range scramHashes {
				c, err := deriveCreds(h, "pencil", salt, 4096)
				if err != nil {
					t.Fatal(err)
				}
				*rec.creds(h) = c
			}
			raw = encodeRecord(rec)
			kv.Put(ctx, accountKey(user), raw)

			ex := begin(t, a, plainConn(), v.mech)
			sf, _, err := ex.Step(ctx, []byte("n,,n=user,r="+v.cnonce))
			if err != nil {
				t.Fatal(err)
			}
			if want := "r=" + v.cnonce + v.snonce + ",s=" + v.salt + ",i=4096"; string(sf) != want {
				t.Fatalf("server-first = %q, want %q", sf, want)
			}
			out, done, err := ex.Step(ctx, []byte(v.clientFinal))
			if err != nil || !done {
				t.Fatalf("client-final: %v", err)
			}
			if string(out) != v.serverFinal {
				t.Fatalf("server-final = %q, want %q", out, v.serverFinal)
			}
		})
	}
}

var serverFirstShape = regexp.MustCompile(`^r=([!-+\--~]+),s=([A-Za-z0-9+/]+={0,2}),i=([0-9]+)$`)

// A wrong password and an unknown user look the same from the outside:
// same server-first shape and iteration count, a stable salt per name, and
// the same failure.
func TestSCRAMWrongPasswordAndUnknownUser(t *testing.T) {
	ctx := context.Background()
	a, _, _ := newTestAccounts(t, Options{MaxFailuresPerAccount: 100, MaxFailuresPerIP: 100})
	mustCreate(t, a, "alice@example.com", "pencil")
	for _, m := range scramMechs {
		t.Run(m.name, func(t *testing.T) {
			attempt := func(user, password string) (sf []byte, f *Failure) {
				ex := begin(t, a, plainConn(), m.name)
				c := sasl.NewClient(m.client, creds(user, password, ""))
				_, first, _ := c.Step(nil)
				sf, _, err := ex.Step(ctx, first)
				if err != nil {
					t.Fatalf("client-first for %s: %v", user, err)
				}
				_, final, err := c.Step(sf)
				if err != nil {
					t.Fatal(err)
				}
				_, _, err = ex.Step(ctx, final)
				return sf, wantCondition(t, err, condNotAuthorized)
			}
			sfWrong, fWrong := attempt("alice", "wrong")
			sfUnknown, fUnknown := attempt("mallory", "pencil")
			sfUnknown2, _ := attempt("mallory", "other")
			if *fWrong != *fUnknown {
				t.Fatalf("failures differ: %+v vs %+v", fWrong, fUnknown)
			}
			mw, mu := serverFirstShape.FindStringSubmatch(string(sfWrong)), serverFirstShape.FindStringSubmatch(string(sfUnknown))
			if mw == nil || mu == nil {
				t.Fatalf("bad server-first: %q / %q", sfWrong, sfUnknown)
			}
			if len(mw[1]) != len(mu[1]) || len(mw[2]) != len(mu[2]) || mw[3] != mu[3] {
				t.Fatalf("shapes differ: %q vs %q", sfWrong, sfUnknown)
			}
			if parseServerFirst(t, sfUnknown).salt == nil || !bytes.Equal(parseServerFirst(t, sfUnknown).salt, parseServerFirst(t, sfUnknown2).salt) {
				t.Fatal("an unknown user's salt changes between attempts")
			}
		})
	}
}

func TestSCRAMAuthzid(t *testing.T) {
	a, _, _ := newTestAccounts(t, Options{})
	mustCreate(t, a, "alice@example.com", "pencil")
	// ',' and '=' are legal in a localpart and must be saslname-escaped.
	odd := mustCreate(t, a, "o,d=d@example.com", "pencil")
	for _, m := range scramMechs {
		ex := begin(t, a, plainConn(), m.name)
		if err := run(t, ex, sasl.NewClient(m.client, creds("alice", "pencil", "alice@example.com"))); err != nil {
			t.Fatalf("%s: authzid = own JID: %v", m.name, err)
		}
		ex = begin(t, a, plainConn(), m.name)
		var sf []byte
		err := run(t, ex, sasl.NewClient(m.client, creds("alice", "pencil", "bob@example.com")))
		wantCondition(t, err, condInvalidAuthzid)
		if ex.JID().String() != "" {
			t.Fatal("JID set after invalid-authzid")
		}
		// mellium's client escapes the username but not the authzid, so the
		// escaped authzid is written by hand below.
		ex = begin(t, a, plainConn(), m.name)
		if err := run(t, ex, sasl.NewClient(m.client, creds("o,d=d", "pencil", ""))); err != nil {
			t.Fatalf("%s: escaped username: %v", m.name, err)
		}
		if !ex.JID().Equal(odd) {
			t.Fatalf("JID = %v", ex.JID())
		}
		ex = begin(t, a, plainConn(), m.name)
		gs2 := "n,a=" + encodeSaslname("o,d=d@example.com") + ","
		bare := "n=" + encodeSaslname("o,d=d") + ",r=abcdef"
		sf, _, err = ex.Step(context.Background(), []byte(gs2+bare))
		if err != nil {
			t.Fatalf("%s: escaped authzid: %v", m.name, err)
		}
		final := clientFinalFor(t, m.h, "pencil", bare, sf, []byte(gs2), parseServerFirst(t, sf).nonce)
		if _, done, err := ex.Step(context.Background(), []byte(final)); err != nil || !done {
			t.Fatalf("%s: escaped authzid: %v", m.name, err)
		}
	}
}

// startSCRAM runs the client-first step with a valid message and returns the
// exchange waiting for the client-final, the client-first-bare and the
// server-first.
func startSCRAM(t *testing.T, a *Accounts, c ConnInfo, mech, gs2 string) (Exchange, string, []byte) {
	t.Helper()
	ex := begin(t, a, c, mech)
	bare := "n=alice,r=clientnonce0123456789"
	sf, _, err := ex.Step(context.Background(), []byte(gs2+bare))
	if err != nil {
		t.Fatalf("client-first: %v", err)
	}
	return ex, bare, sf
}

func TestSCRAMMalformedClientFirst(t *testing.T) {
	a, _, _ := newTestAccounts(t, Options{MaxFailuresPerIP: 1000})
	mustCreate(t, a, "alice@example.com", "pencil")
	for _, msg := range []string{
		"",
		"n",
		"n,",
		"x,,n=alice,r=abc",
		"p,,n=alice,r=abc",
		"p=,,n=alice,r=abc",
		"p=tls exporter,,n=alice,r=abc",
		"n,b=alice,n=alice,r=abc",
		"n,a=,n=alice,r=abc",
		"n,a=al=ice,n=alice,r=abc",
		"n,,",
		"n,,n=alice",
		"n,,r=abc,n=alice",
		"n,,n=,r=abc",
		"n,,n=al=2Xice,r=abc",
		"n,,n=alice=,r=abc",
		"n,,n=alice,r=",
		"n,,n=alice,r=a b",
		"n,,n=alice,r=abc\x7f",
		"n,,n=alice,x=abc",
		"n,,m=ext,n=alice,r=abc",
		"n,,n=alice,r=abc,",
		"n,,n=alice,r=abc,1=x",
		"n,,n=alice,r=abc,e=",
		"n,,n=al\x00ice,r=abc",
		"n,,n=al\xffice,r=abc",
		"n,,n=alice,r=abc" + strings.Repeat("x", maxSASLMessage),
	} {
		ex := begin(t, a, plainConn(), MechSCRAMSHA256)
		_, _, err := ex.Step(context.Background(), []byte(msg))
		f := failureOf(t, err)
		if f.Condition != condMalformedRequest {
			t.Errorf("client-first %q: %s (%s), want malformed-request", msg, f.Condition, f.Text)
		}
		if _, _, err := ex.Step(context.Background(), []byte("c=biws")); !errors.Is(err, ErrFinished) {
			t.Errorf("Step after failure = %v", err)
		}
	}
}

// Valid but unusual client-first messages are accepted.
func TestSCRAMClientFirstExtensions(t *testing.T) {
	a, _, _ := newTestAccounts(t, Options{})
	mustCreate(t, a, "alice@example.com", "pencil")
	for _, msg := range []string{
		"n,,n=alice,r=abc,x=ext,y=more=stuff",
		"n,a=alice@example.com,n=alice,r=abc",
		"n,,n=ALICE,r=abc", // usernames are case-mapped like localparts
	} {
		ex := begin(t, a, plainConn(), MechSCRAMSHA256)
		sf, _, err := ex.Step(context.Background(), []byte(msg))
		if err != nil {
			t.Fatalf("%q: %v", msg, err)
		}
		gs2, bare, _ := strings.Cut(msg, ",n=")
		gs2 += ","
		bare = "n=" + bare
		nonce := parseServerFirst(t, sf).nonce
		final := clientFinalFor(t, &sha256Hash, "pencil", bare, sf, []byte(gs2), nonce)
		if _, done, err := ex.Step(context.Background(), []byte(final)); err != nil || !done {
			t.Fatalf("%q: final: %v", msg, err)
		}
	}
}

func TestSCRAMMalformedClientFinal(t *testing.T) {
	a, _, _ := newTestAccounts(t, Options{MaxFailuresPerIP: 1000})
	mustCreate(t, a, "alice@example.com", "pencil")
	proof := base64.StdEncoding.EncodeToString(make([]byte, 32))
	for _, tmpl := range []string{
		"",
		"c=biws",
		"c=biws,r=NONCE",
		"r=NONCE,c=biws,p=" + proof,
		"c=biws,p=" + proof + ",r=NONCE",
		"c=biws,r=NONCE,p=" + proof + ",x=y",
		"c=!!!!,r=NONCE,p=" + proof,
		"c=biws=,r=NONCE,p=" + proof,
		"c=,r=NONCE,p=" + proof,
		"x=biws,r=NONCE,p=" + proof,
		"c=biws,n=NONCE,p=" + proof,
		"c=biws,r=,p=" + proof,
		"c=biws,r=NONCE,p=",
		"c=biws,r=NONCE,p=****",
		"c=biws,r=NONCE,p=" + base64.StdEncoding.EncodeToString(make([]byte, 20)),
		"c=biws,r=NONCE,p=" + strings.TrimRight(proof, "="),
		"c=biws,r=NONCE,1=x,p=" + proof,
		"c=biws,r=NONCE\x00,p=" + proof,
		"c=biws,r=NONCE,x=" + strings.Repeat("y", maxSASLMessage) + ",p=" + proof,
	} {
		ex, _, sf := startSCRAM(t, a, plainConn(), MechSCRAMSHA256, "n,,")
		msg := strings.ReplaceAll(tmpl, "NONCE", parseServerFirst(t, sf).nonce)
		_, _, err := ex.Step(context.Background(), []byte(msg))
		f := failureOf(t, err)
		if f.Condition != condMalformedRequest {
			t.Errorf("client-final %q: %s (%s), want malformed-request", tmpl, f.Condition, f.Text)
		}
		if ex.JID().String() != "" {
			t.Error("JID set after failure")
		}
	}
}

// The final message must carry the whole server nonce, unchanged.
func TestSCRAMNonceTampering(t *testing.T) {
	a, _, _ := newTestAccounts(t, Options{})
	mustCreate(t, a, "alice@example.com", "pencil")
	for _, tamper := range []func(string) string{
		func(n string) string { return n[:len(n)-1] },            // truncated
		func(n string) string { return n + "x" },                 // extended
		func(n string) string { return "X" + n[1:] },             // client part changed
		func(n string) string { return n[:len(n)-1] + "A" + "" }, // server part changed
		func(n string) string { return "clientnonce0123456789" }, // client nonce only
	} {
		ex, bare, sf := startSCRAM(t, a, plainConn(), MechSCRAMSHA256, "n,,")
		nonce := tamper(parseServerFirst(t, sf).nonce)
		if nonce == parseServerFirst(t, sf).nonce {
			nonce += "y"
		}
		// The proof is computed over the tampered message so only the nonce
		// check can catch it.
		final := clientFinalFor(t, &sha256Hash, "pencil", bare, sf, []byte("n,,"), nonce)
		_, _, err := ex.Step(context.Background(), []byte(final))
		wantCondition(t, err, condNotAuthorized)
	}
}

// A recorded client-final message does not log in on a new exchange, even
// with the same client-first message.
func TestSCRAMReplay(t *testing.T) {
	ctx := context.Background()
	a, _, _ := newTestAccounts(t, Options{})
	mustCreate(t, a, "alice@example.com", "pencil")
	ex, bare, sf := startSCRAM(t, a, plainConn(), MechSCRAMSHA256, "n,,")
	final := clientFinalFor(t, &sha256Hash, "pencil", bare, sf, []byte("n,,"), parseServerFirst(t, sf).nonce)
	if _, done, err := ex.Step(ctx, []byte(final)); err != nil || !done {
		t.Fatalf("original login: %v", err)
	}
	ex2, _, sf2 := startSCRAM(t, a, plainConn(), MechSCRAMSHA256, "n,,")
	if bytes.Equal(sf, sf2) {
		t.Fatal("server-first repeated: the server nonce is not fresh")
	}
	_, _, err := ex2.Step(ctx, []byte(final))
	wantCondition(t, err, condNotAuthorized)
}

// A client-final whose c= does not repeat the gs2 header fails.
func TestSCRAMChannelBindingHeaderMismatch(t *testing.T) {
	a, _, _ := newTestAccounts(t, Options{})
	mustCreate(t, a, "alice@example.com", "pencil")
	ex, bare, sf := startSCRAM(t, a, tls12Conn(), MechSCRAMSHA256, "n,,")
	final := clientFinalFor(t, &sha256Hash, "pencil", bare, sf, []byte("y,,"), parseServerFirst(t, sf).nonce)
	_, _, err := ex.Step(context.Background(), []byte(final))
	if f := wantCondition(t, err, condNotAuthorized); f.Text != "channel-bindings-dont-match" {
		t.Fatalf("text = %q", f.Text)
	}
}

func TestSCRAMStoreOutage(t *testing.T) {
	a, kv, _ := newTestAccounts(t, Options{})
	mustCreate(t, a, "alice@example.com", "pencil")
	kv.getErr = errors.New("disk on fire")
	ex := begin(t, a, plainConn(), MechSCRAMSHA256)
	_, _, err := ex.Step(context.Background(), []byte("n,,n=alice,r=abc"))
	wantCondition(t, err, condTemporaryAuthFailure)
}

func TestBeginInvalidMechanism(t *testing.T) {
	a, _, _ := newTestAccounts(t, Options{})
	for _, mech := range []string{"", "DIGEST-MD5", "scram-sha-256", "SCRAM-SHA-512", "EXTERNAL", MechAnonymous, MechSCRAMSHA256Plus} {
		_, err := a.Begin(plainConn(), mech)
		wantCondition(t, err, condInvalidMechanism)
	}
}
