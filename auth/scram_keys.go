package auth

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"hash"
)

// scramHash is one of SCRAM's hash functions.
type scramHash struct {
	name string // as in the mechanism name
	new  func() hash.Hash
	size int
}

var (
	sha1Hash    = scramHash{name: "SHA-1", new: sha1.New, size: sha1.Size}
	sha256Hash  = scramHash{name: "SHA-256", new: sha256.New, size: sha256.Size}
	scramHashes = []*scramHash{&sha1Hash, &sha256Hash}
)

func (h *scramHash) hmac(key []byte, msgs ...[]byte) []byte {
	m := hmac.New(h.new, key)
	for _, b := range msgs {
		m.Write(b)
	}
	return m.Sum(nil)
}

func (h *scramHash) sum(b []byte) []byte {
	d := h.new()
	d.Write(b)
	return d.Sum(nil)
}

// deriveCreds computes the RFC 5802 §3 server credentials:
//
//	SaltedPassword := Hi(Normalize(password), salt, i)
//	ClientKey      := HMAC(SaltedPassword, "Client Key")
//	StoredKey      := H(ClientKey)
//	ServerKey      := HMAC(SaltedPassword, "Server Key")
//
// SaltedPassword and ClientKey are wiped before returning: either one lets
// its holder log in.
func deriveCreds(h *scramHash, password string, salt []byte, iter int) (scramCreds, error) {
	salted, err := pbkdf2.Key(h.new, password, salt, iter, h.size)
	if err != nil {
		return scramCreds{}, err
	}
	clientKey := h.hmac(salted, []byte("Client Key"))
	c := scramCreds{
		Salt:       append([]byte(nil), salt...),
		Iterations: iter,
		StoredKey:  h.sum(clientKey),
		ServerKey:  h.hmac(salted, []byte("Server Key")),
	}
	clear(salted)
	clear(clientKey)
	return c, nil
}
