package auth

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"testing"

	"github.com/gavelhq/gavel/data"
)

// scramBenchClient is a client that derived its ClientKey once (as real
// clients cache it), so the loop measures the server, not PBKDF2.
type scramBenchClient struct {
	h         *scramHash
	clientKey []byte
	storedKey []byte
}

func newBenchClient(b *testing.B, a *Accounts, user string, password string) *scramBenchClient {
	rec, _, err := a.load(context.Background(), userJID(b, user))
	if err != nil {
		b.Fatal(err)
	}
	salted := pbkdf2Key(b, &sha256Hash, password, rec.SHA256.Salt, rec.SHA256.Iterations)
	ck := sha256Hash.hmac(salted, []byte("Client Key"))
	return &scramBenchClient{h: &sha256Hash, clientKey: ck, storedKey: sha256Hash.sum(ck)}
}

const benchFirstBare = "n=alice,r=fyko+d2lbbFgONRv9qkxdawL"

func (c *scramBenchClient) final(serverFirst []byte) []byte {
	nonce := serverFirst[2:]
	for i, ch := range nonce {
		if ch == ',' {
			nonce = nonce[:i]
			break
		}
	}
	without := append([]byte("c=biws,r="), nonce...)
	authMsg := make([]byte, 0, 256)
	authMsg = append(authMsg, benchFirstBare...)
	authMsg = append(authMsg, ',')
	authMsg = append(authMsg, serverFirst...)
	authMsg = append(authMsg, ',')
	authMsg = append(authMsg, without...)
	proof := c.h.hmac(c.storedKey, authMsg)
	subtle.XORBytes(proof, proof, c.clientKey)
	out := append(without, ",p="...)
	return base64.StdEncoding.AppendEncode(out, proof)
}

func benchLogin(b *testing.B, kv data.KV) {
	ctx := context.Background()
	a := New(kv, Options{})
	if err := a.Create(ctx, userJID(b, "alice"), "pencil"); err != nil {
		b.Fatal(err)
	}
	client := newBenchClient(b, a, "alice", "pencil")
	conn := plainConn()
	first := []byte("n,," + benchFirstBare)
	b.ReportAllocs()
	for b.Loop() {
		ex, err := a.Begin(conn, MechSCRAMSHA256)
		if err != nil {
			b.Fatal(err)
		}
		sf, _, err := ex.Step(ctx, first)
		if err != nil {
			b.Fatal(err)
		}
		if _, done, err := ex.Step(ctx, client.final(sf)); err != nil || !done {
			b.Fatalf("login: %v", err)
		}
	}
}

// BenchmarkSCRAMSHA256Login is one whole SCRAM-SHA-256 login against stored
// keys: Begin, client-first, client-final (account lookup in an in-memory
// map). The client's share (one HMAC, see BenchmarkSCRAMSHA256ClientShare) is
// included; no PBKDF2 runs on either side.
func BenchmarkSCRAMSHA256Login(b *testing.B) { benchLogin(b, newMemKV()) }

// BenchmarkSCRAMSHA256LoginBadger is the same with the account in Badger.
func BenchmarkSCRAMSHA256LoginBadger(b *testing.B) {
	db, err := data.OpenInMemory()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	benchLogin(b, db)
}

// BenchmarkSCRAMSHA256ClientShare is the client-side work included in the
// login benchmark, to subtract from it.
func BenchmarkSCRAMSHA256ClientShare(b *testing.B) {
	a := New(newMemKV(), Options{})
	if err := a.Create(context.Background(), userJID(b, "alice"), "pencil"); err != nil {
		b.Fatal(err)
	}
	client := newBenchClient(b, a, "alice", "pencil")
	sf := []byte("r=fyko+d2lbbFgONRv9qkxdawLAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA,s=QSXCR+Q6sek8bf92QSXCRA==,i=4096")
	b.ReportAllocs()
	for b.Loop() {
		client.final(sf)
	}
}

// BenchmarkPlainLogin shows what PLAIN costs per login: a full PBKDF2.
func BenchmarkPlainLogin(b *testing.B) {
	ctx := context.Background()
	a := New(newMemKV(), Options{})
	if err := a.Create(ctx, userJID(b, "alice"), "pencil"); err != nil {
		b.Fatal(err)
	}
	conn := tls12Conn()
	msg := []byte("\x00alice\x00pencil")
	b.ReportAllocs()
	for b.Loop() {
		ex, _ := a.Begin(conn, MechPlain)
		if _, done, err := ex.Step(ctx, msg); err != nil || !done {
			b.Fatal(err)
		}
	}
}
