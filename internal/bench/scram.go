package bench

import (
	"bytes"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"sync"
)

// The client side of SCRAM (RFC 5802, RFC 7677) without channel binding,
// written here because mellium.im/sasl's client derives SaltedPassword
// (PBKDF2, ~1.2 ms at 4096 iterations) on every login and offers no way to
// cache it: a login benchmark would measure the tool's PBKDF2, not the
// server. Keys are cached per (mechanism, user, password, salt, iterations),
// so a changed salt or count simply derives again.

// SCRAMCache holds derived SCRAM client keys. It is safe for concurrent use
// and bounded by the number of distinct accounts a run uses.
type SCRAMCache struct {
	mu   sync.Mutex
	keys map[scramCacheKey]scramKeys
	// Derivations counts PBKDF2 runs (cache misses), for tests and reports.
	derivations int
}

type scramCacheKey struct {
	mech, user, password, salt string
	iter                       int
}

type scramKeys struct {
	clientKey, storedKey, serverKey []byte
}

// NewSCRAMCache returns an empty cache.
func NewSCRAMCache() *SCRAMCache {
	return &SCRAMCache{keys: make(map[scramCacheKey]scramKeys)}
}

// Derivations reports how many PBKDF2 derivations the cache has done.
func (c *SCRAMCache) Derivations() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.derivations
}

// maxSCRAMIterations refuses absurd counts from a server, which would stall
// the tool for minutes.
const maxSCRAMIterations = 1 << 20

func (c *SCRAMCache) keysFor(mech string, h func() hash.Hash, user, password string, salt []byte, iter int) scramKeys {
	k := scramCacheKey{mech, user, password, string(salt), iter}
	c.mu.Lock()
	ks, ok := c.keys[k]
	c.mu.Unlock()
	if ok {
		return ks
	}
	// Derive outside the lock: concurrent first logins of different accounts
	// must not serialise on one PBKDF2.
	salted, err := pbkdf2.Key(h, password, salt, iter, h().Size())
	if err != nil { // only for invalid parameters, which the caller checked
		panic(err)
	}
	ks.clientKey = hmacSum(h, salted, []byte("Client Key"))
	ks.serverKey = hmacSum(h, salted, []byte("Server Key"))
	sum := h()
	sum.Write(ks.clientKey)
	ks.storedKey = sum.Sum(nil)
	c.mu.Lock()
	c.keys[k] = ks
	c.derivations++
	c.mu.Unlock()
	return ks
}

func hmacSum(h func() hash.Hash, key, msg []byte) []byte {
	m := hmac.New(h, key)
	m.Write(msg)
	return m.Sum(nil)
}

// scramHash returns the hash of a SCRAM mechanism name (without -PLUS).
func scramHash(mech string) (func() hash.Hash, bool) {
	switch mech {
	case "SCRAM-SHA-256":
		return sha256.New, true
	case "SCRAM-SHA-1":
		return sha1.New, true
	}
	return nil, false
}

// SCRAMClient runs one SCRAM exchange. Use First, then Final with the
// server-first message, then Verify with the server-final message.
type SCRAMClient struct {
	mech           string
	h              func() hash.Hash
	user, password string
	cache          *SCRAMCache

	nonce       string
	clientFirst string // client-first-message-bare
	serverSig   []byte
}

// NewSCRAMClient starts an exchange for mech (SCRAM-SHA-256 or SCRAM-SHA-1).
func NewSCRAMClient(mech, user, password string, cache *SCRAMCache) (*SCRAMClient, error) {
	h, ok := scramHash(mech)
	if !ok {
		return nil, fmt.Errorf("scram: unsupported mechanism %q", mech)
	}
	if cache == nil {
		cache = NewSCRAMCache()
	}
	var nb [18]byte
	_, _ = rand.Read(nb[:])
	return &SCRAMClient{mech: mech, h: h, user: user, password: password, cache: cache,
		nonce: base64.RawStdEncoding.EncodeToString(nb[:])}, nil
}

// gs2Header: "n" = this client does not support channel binding.
const gs2Header = "n,,"

// First returns the client-first-message.
func (s *SCRAMClient) First() []byte {
	s.clientFirst = "n=" + escapeSASLName(s.user) + ",r=" + s.nonce
	return []byte(gs2Header + s.clientFirst)
}

// Final answers the server-first-message with the client-final-message.
func (s *SCRAMClient) Final(serverFirst []byte) ([]byte, error) {
	var nonce, salt64 string
	iter := -1
	for _, f := range strings.Split(string(serverFirst), ",") {
		if len(f) < 2 || f[1] != '=' {
			return nil, fmt.Errorf("scram: malformed attribute %q", f)
		}
		switch f[0] {
		case 'r':
			nonce = f[2:]
		case 's':
			salt64 = f[2:]
		case 'i':
			n, err := strconv.Atoi(f[2:])
			if err != nil {
				return nil, fmt.Errorf("scram: bad iteration count %q", f[2:])
			}
			iter = n
		case 'm':
			return nil, errors.New("scram: server sent the reserved attribute m")
		}
	}
	salt, err := base64.StdEncoding.DecodeString(salt64)
	switch {
	case !strings.HasPrefix(nonce, s.nonce) || len(nonce) == len(s.nonce):
		return nil, errors.New("scram: server nonce does not extend the client nonce")
	case err != nil || len(salt) == 0:
		return nil, errors.New("scram: missing or bad salt")
	case iter < 1 || iter > maxSCRAMIterations:
		return nil, fmt.Errorf("scram: iteration count %d out of range", iter)
	}
	ks := s.cache.keysFor(s.mech, s.h, s.user, s.password, salt, iter)
	withoutProof := "c=" + base64.StdEncoding.EncodeToString([]byte(gs2Header)) + ",r=" + nonce
	authMessage := []byte(s.clientFirst + "," + string(serverFirst) + "," + withoutProof)
	sig := hmacSum(s.h, ks.storedKey, authMessage)
	proof := make([]byte, len(sig))
	subtle.XORBytes(proof, ks.clientKey, sig)
	s.serverSig = hmacSum(s.h, ks.serverKey, authMessage)
	return []byte(withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof)), nil
}

// Verify checks the server-final-message (the additional data of <success/>).
func (s *SCRAMClient) Verify(serverFinal []byte) error {
	if s.serverSig == nil {
		return errors.New("scram: Verify before Final")
	}
	if e, ok := bytes.CutPrefix(serverFinal, []byte("e=")); ok {
		return fmt.Errorf("scram: server error %q", e)
	}
	v, ok := bytes.CutPrefix(serverFinal, []byte("v="))
	if !ok {
		return errors.New("scram: server-final-message without verifier")
	}
	if i := bytes.IndexByte(v, ','); i >= 0 {
		v = v[:i]
	}
	got, err := base64.StdEncoding.DecodeString(string(v))
	if err != nil || !hmac.Equal(got, s.serverSig) {
		return errors.New("scram: server signature does not verify")
	}
	return nil
}

// escapeSASLName escapes ',' and '=' in a saslname (RFC 5802 §5.1).
func escapeSASLName(s string) string {
	if !strings.ContainsAny(s, ",=") {
		return s
	}
	return strings.NewReplacer("=", "=3D", ",", "=2C").Replace(s)
}
