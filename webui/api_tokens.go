package webui

// Tokens of the HTTP publish API (docs/pubsub-api.md). A token is a random
// secret shown once when made; the database keeps only its SHA-256, under
// data.PubSubTokenKey, with the JID the token acts as. Whoever holds a
// token publishes and reads with that JID's pubsub permissions, nothing
// more.

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/data"
)

// tokenPrefix starts every token, so secret scanners and people recognize one.
const tokenPrefix = "gvl_"

// tokenBytes is the token's entropy: 256 bits.
const tokenBytes = 32

// maxTokenLen bounds what a request may present as a token (a real one is 47 bytes).
const maxTokenLen = 256

// maxLabelLen bounds a token's label.
const maxLabelLen = 200

// MinRevokePrefix is the shortest hash prefix Revoke accepts.
const MinRevokePrefix = 6

// Errors of the token store.
var (
	ErrTokenNotFound  = errors.New("no token with that hash prefix")
	ErrTokenAmbiguous = errors.New("the hash prefix matches more than one token")
	// ErrTokenInput wraps a bad JID, label or hash prefix.
	ErrTokenInput = errors.New("invalid input")
)

// TokenInfo is what the store keeps about a token (never the token itself).
type TokenInfo struct {
	Hash    string    `json:"hash"` // hex SHA-256 of the token
	JID     string    `json:"jid"`  // the JID the token acts as
	Created time.Time `json:"created"`
	Label   string    `json:"label,omitempty"`
}

// Tokens is the token store over a data.KV.
type Tokens struct {
	kv  data.KV
	now func() time.Time
}

// NewTokens returns the token store of kv.
func NewTokens(kv data.KV) *Tokens { return &Tokens{kv: kv, now: time.Now} }

// HashToken is the hex SHA-256 of a token, its key in the store.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Create makes a token acting as j and returns it; this is the only time
// the token is seen. j must be a valid JID (a bare account JID is usual).
func (t *Tokens) Create(ctx context.Context, j, label string) (string, TokenInfo, error) {
	actor, err := jid.Parse(j)
	if err != nil {
		return "", TokenInfo{}, fmt.Errorf("%w: %q is not a valid JID: %v", ErrTokenInput, j, err)
	}
	if len(label) > maxLabelLen || strings.ContainsAny(label, "\r\n") {
		return "", TokenInfo{}, fmt.Errorf("%w: the label must be one line of at most %d bytes", ErrTokenInput, maxLabelLen)
	}
	raw := make([]byte, tokenBytes)
	if _, err := rand.Read(raw); err != nil {
		return "", TokenInfo{}, err
	}
	token := tokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
	info := TokenInfo{Hash: HashToken(token), JID: actor.String(), Created: t.now().UTC().Truncate(time.Second), Label: label}
	val, err := json.Marshal(info)
	if err != nil {
		return "", TokenInfo{}, err
	}
	// CAS on absence: a hash collision of 256 random bits would be news.
	if _, err := t.kv.CompareAndSet(ctx, data.PubSubTokenKey(info.Hash), val, 0); err != nil {
		return "", TokenInfo{}, fmt.Errorf("storing the token: %w", err)
	}
	return token, info, nil
}

// Lookup returns the token's record; ok is false for an unknown token.
func (t *Tokens) Lookup(ctx context.Context, token string) (info TokenInfo, ok bool, err error) {
	if len(token) > maxTokenLen || !strings.HasPrefix(token, tokenPrefix) {
		return TokenInfo{}, false, nil
	}
	sum := sha256.Sum256([]byte(token))
	hash := hex.EncodeToString(sum[:])
	val, _, err := t.kv.Get(ctx, data.PubSubTokenKey(hash))
	if errors.Is(err, data.ErrNotFound) {
		return TokenInfo{}, false, nil
	}
	if err != nil {
		return TokenInfo{}, false, err
	}
	if err := json.Unmarshal(val, &info); err != nil {
		return TokenInfo{}, false, fmt.Errorf("token record %.12s: %w", hash, err)
	}
	// The key matched; compare the stored hash too, in constant time, so a
	// record filed under the wrong key never authenticates anyone.
	if subtle.ConstantTimeCompare([]byte(info.Hash), []byte(hash)) != 1 {
		return TokenInfo{}, false, nil
	}
	return info, true, nil
}

// List returns every token's record in hash order.
func (t *Tokens) List(ctx context.Context) ([]TokenInfo, error) {
	var out []TokenInfo
	var bad error
	err := t.kv.Scan(ctx, data.PubSubTokenPrefix(), nil, 0, func(key, val []byte, _ uint64) bool {
		var info TokenInfo
		if err := json.Unmarshal(val, &info); err != nil {
			bad = fmt.Errorf("token record %s: %w", key, err)
			return false
		}
		out = append(out, info)
		return true
	})
	if err == nil {
		err = bad
	}
	return out, err
}

// Revoke deletes the one token whose hash starts with prefix (at least
// MinRevokePrefix hex digits) and returns its record.
func (t *Tokens) Revoke(ctx context.Context, prefix string) (TokenInfo, error) {
	prefix = strings.ToLower(prefix)
	if len(prefix) < MinRevokePrefix || len(prefix) > sha256.Size*2 || strings.Trim(prefix, "0123456789abcdef") != "" {
		return TokenInfo{}, fmt.Errorf("%w: want %d to %d hex digits of the token's hash", ErrTokenInput, MinRevokePrefix, sha256.Size*2)
	}
	var found []TokenInfo
	var keys [][]byte
	err := t.kv.Scan(ctx, append(data.PubSubTokenPrefix(), prefix...), nil, 2, func(key, val []byte, _ uint64) bool {
		var info TokenInfo
		_ = json.Unmarshal(val, &info) // a damaged record can still be revoked
		found = append(found, info)
		keys = append(keys, append([]byte(nil), key...))
		return true
	})
	switch {
	case err != nil:
		return TokenInfo{}, err
	case len(found) == 0:
		return TokenInfo{}, ErrTokenNotFound
	case len(found) > 1:
		return TokenInfo{}, ErrTokenAmbiguous
	}
	if err := t.kv.Delete(ctx, keys[0]); err != nil {
		return TokenInfo{}, err
	}
	return found[0], nil
}
