package auth

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/text/secure/precis"
	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/data"
)

// ErrBadPassword is Verify's answer to a wrong password.
var ErrBadPassword = errors.New("auth: wrong password")

var errCorruptRecord = errors.New("auth: corrupt account record")

// ErrFinished is returned by Exchange.Step once the exchange has succeeded or
// failed; the stream layer must start a new exchange instead.
var ErrFinished = errors.New("auth: SASL exchange already finished")

const (
	// recordVersion is the version of accountRecord written by this code.
	recordVersion = 1
	// defaultIterations is RFC 7677's minimum PBKDF2 iteration count.
	defaultIterations = 4096
	// maxIterations bounds Options.Iterations (and what a record may hold):
	// beyond it one PLAIN login would take seconds.
	maxIterations = 1 << 22
	// saltLen is the length of the random per-hash salts.
	saltLen = 16
	// maxPasswordLen bounds the password in bytes after PRECIS: nobody needs
	// more, and PRECIS and PBKDF2 work grow with it.
	maxPasswordLen = 1024
	// casRetries bounds the read-modify-write loops against concurrent writers.
	casRetries = 5
)

// accountsImpl is the state behind Accounts beyond the store and options.
type accountsImpl struct {
	iterations int
	anonDomain string // normalized Options.AnonymousDomain, "" if none
	limiter    *limiter

	// fakeSecret keys the deterministic salts of the fake SCRAM exchange run
	// for unknown users; fakeStored/fakeServer stand in for their keys.
	fakeSecret []byte
	fakeStored []byte
	fakeServer []byte

	// serverNonce, if set (tests only), replaces the random SCRAM server nonce.
	serverNonce func() string

	hooksMu sync.Mutex
	hooks   []func(ctx context.Context, bare jid.JID) error
}

// scramCreds are the RFC 5802 §3 server-side credentials for one hash:
// enough to verify a client proof and to sign the server's answer, but not
// to impersonate the user (that needs ClientKey or SaltedPassword, which are
// never stored).
type scramCreds struct {
	Salt       []byte
	Iterations int
	StoredKey  []byte
	ServerKey  []byte
}

// accountRecord is the value stored under "acct/<bare JID>", encoded by
// encodeRecord.
type accountRecord struct {
	Created int64 // unix seconds
	SHA1    scramCreds
	SHA256  scramCreds
}

func (r *accountRecord) creds(h *scramHash) *scramCreds {
	if h == &sha1Hash {
		return &r.SHA1
	}
	return &r.SHA256
}

func newAccounts(kv data.KV, o Options) *Accounts {
	a := &Accounts{kv: kv, opts: o}
	a.impl.iterations = o.Iterations
	if a.impl.iterations <= 0 {
		a.impl.iterations = defaultIterations
	}
	a.impl.iterations = min(a.impl.iterations, maxIterations)
	if o.AnonymousDomain != "" {
		if d, err := jid.New("", o.AnonymousDomain, ""); err == nil {
			a.impl.anonDomain = d.Domainpart()
		} else {
			// A bad name can never match a stream's host; keep it verbatim.
			a.impl.anonDomain = o.AnonymousDomain
		}
	}
	a.impl.limiter = newLimiter(o, time.Now)
	a.impl.fakeSecret = randomBytes(32)
	a.impl.fakeStored = randomBytes(sha256.Size)
	a.impl.fakeServer = randomBytes(sha256.Size)
	return a
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b) // never fails since Go 1.24
	return b
}

// normalizeBare validates bare's parts again (a jid.JID may come from
// jid.Unsafe) and drops any resource.
func normalizeBare(bare jid.JID) (jid.JID, error) {
	if bare.Localpart() == "" {
		return jid.JID{}, ErrBadName
	}
	n, err := jid.New(bare.Localpart(), bare.Domainpart(), "")
	if err != nil {
		return jid.JID{}, fmt.Errorf("%w: %v", ErrBadName, err)
	}
	return n, nil
}

// accountKey is "acct/<bare JID>" (data/keys.go).
func accountKey(bare jid.JID) []byte { return data.AccountKey(bare.String()) }

// preparePassword applies the PRECIS OpaqueString profile (RFC 8265 §4.2),
// as RFC 7677/RFC 5802 ask of SCRAM passwords.
func preparePassword(p string) (string, error) {
	if p == "" {
		return "", ErrWeak
	}
	n, err := precis.OpaqueString.String(p)
	if err != nil || n == "" || len(n) > maxPasswordLen {
		return "", ErrWeak
	}
	return n, nil
}

// newRecord derives fresh credentials (new salts) for both hashes.
func (a *Accounts) newRecord(password string, created int64) (*accountRecord, error) {
	rec := &accountRecord{Created: created}
	for _, h := range scramHashes {
		c, err := deriveCreds(h, password, randomBytes(saltLen), a.impl.iterations)
		if err != nil {
			return nil, err
		}
		*rec.creds(h) = c
	}
	return rec, nil
}

// Record encoding, version 1 (binary: it is decoded on every SCRAM login
// and JSON cost more than the rest of the exchange):
//
//	byte     version (1)
//	int64    created, unix seconds, big-endian
//	then for SHA-1, then SHA-256:
//	uint32   iteration count, big-endian
//	byte     salt length n (1..255)
//	n bytes  salt
//	H bytes  StoredKey (H = hash size: 20, 32)
//	H bytes  ServerKey
//
// A later version may append fields; readers reject versions they do not know.
func encodeRecord(r *accountRecord) []byte {
	b := make([]byte, 0, 1+8+2*(4+1+saltLen)+2*(sha1Hash.size+sha256Hash.size))
	b = append(b, recordVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(r.Created))
	for _, h := range scramHashes {
		c := r.creds(h)
		b = binary.BigEndian.AppendUint32(b, uint32(c.Iterations))
		b = append(b, byte(len(c.Salt)))
		b = append(b, c.Salt...)
		b = append(b, c.StoredKey...)
		b = append(b, c.ServerKey...)
	}
	return b
}

func decodeRecord(val []byte) (*accountRecord, error) {
	if len(val) == 0 || val[0] != recordVersion {
		return nil, errors.New("auth: account record version unsupported")
	}
	if len(val) < 9 {
		return nil, errCorruptRecord
	}
	rec := &accountRecord{Created: int64(binary.BigEndian.Uint64(val[1:9]))}
	rest := val[9:]
	for _, h := range scramHashes {
		if len(rest) < 5 {
			return nil, errCorruptRecord
		}
		iter := binary.BigEndian.Uint32(rest)
		n := int(rest[4])
		rest = rest[5:]
		if iter == 0 || iter > maxIterations || n == 0 || len(rest) < n+2*h.size {
			return nil, errCorruptRecord
		}
		// Copies: the caller's buffer may be reused (Scan values are).
		*rec.creds(h) = scramCreds{
			Salt:       bytes.Clone(rest[:n]),
			Iterations: int(iter),
			StoredKey:  bytes.Clone(rest[n : n+h.size]),
			ServerKey:  bytes.Clone(rest[n+h.size : n+2*h.size]),
		}
		rest = rest[n+2*h.size:]
	}
	if len(rest) != 0 {
		return nil, errCorruptRecord
	}
	return rec, nil
}

// load returns the account's record and revision; ErrNoAccount if absent.
func (a *Accounts) load(ctx context.Context, bare jid.JID) (*accountRecord, uint64, error) {
	val, rev, err := a.kv.Get(ctx, accountKey(bare))
	if errors.Is(err, data.ErrNotFound) {
		return nil, 0, ErrNoAccount
	}
	if err != nil {
		return nil, 0, err
	}
	rec, err := decodeRecord(val)
	if err != nil {
		return nil, 0, err
	}
	return rec, rev, nil
}

func (a *Accounts) create(ctx context.Context, b jid.JID, p string) error {
	bare, err := normalizeBare(b)
	if err != nil {
		return err
	}
	pw, err := preparePassword(p)
	if err != nil {
		return err
	}
	key := accountKey(bare)
	// Cheap early answer before spending two PBKDF2 runs; the
	// CompareAndSet below is what makes creation atomic.
	if _, _, err := a.kv.Get(ctx, key); err == nil {
		return ErrExists
	} else if !errors.Is(err, data.ErrNotFound) {
		return err
	}
	rec, err := a.newRecord(pw, time.Now().Unix())
	if err != nil {
		return err
	}
	if _, err := a.kv.CompareAndSet(ctx, key, encodeRecord(rec), 0); err != nil {
		if errors.Is(err, data.ErrRevision) {
			return ErrExists
		}
		return err
	}
	return nil
}

func (a *Accounts) setPassword(ctx context.Context, b jid.JID, p string) error {
	bare, err := normalizeBare(b)
	if err != nil {
		return err
	}
	pw, err := preparePassword(p)
	if err != nil {
		return err
	}
	for range casRetries {
		old, rev, err := a.load(ctx, bare)
		if err != nil {
			return err
		}
		rec, err := a.newRecord(pw, old.Created)
		if err != nil {
			return err
		}
		_, err = a.kv.CompareAndSet(ctx, accountKey(bare), encodeRecord(rec), rev)
		if !errors.Is(err, data.ErrRevision) {
			return err
		}
	}
	return fmt.Errorf("auth: set password of %s: %w", bare, data.ErrRevision)
}

func (a *Accounts) delete(ctx context.Context, b jid.JID) error {
	bare, err := normalizeBare(b)
	if err != nil {
		return err
	}
	key := accountKey(bare)
	deleted := false
	for range casRetries {
		_, rev, err := a.kv.Get(ctx, key)
		if errors.Is(err, data.ErrNotFound) {
			return ErrNoAccount
		}
		if err != nil {
			return err
		}
		err = a.kv.DeleteIf(ctx, key, rev)
		if err == nil {
			deleted = true
			break
		}
		if !errors.Is(err, data.ErrRevision) {
			return err
		}
	}
	if !deleted {
		return fmt.Errorf("auth: delete %s: %w", bare, data.ErrRevision)
	}
	a.impl.hooksMu.Lock()
	hooks := append([]func(context.Context, jid.JID) error(nil), a.impl.hooks...)
	a.impl.hooksMu.Unlock()
	// Every hook runs even if one fails: a failed roster cleanup must not
	// leave the offline queue behind.
	var errs []error
	for _, fn := range hooks {
		if err := fn(ctx, bare); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (a *Accounts) exists(ctx context.Context, b jid.JID) (bool, error) {
	bare, err := normalizeBare(b)
	if err != nil {
		return false, err
	}
	_, _, err = a.kv.Get(ctx, accountKey(bare))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, data.ErrNotFound):
		return false, nil
	default:
		return false, err
	}
}

// list scans every account key: keys start with the localpart, so one
// domain's accounts are not contiguous.
func (a *Accounts) list(ctx context.Context, domain string) ([]string, error) {
	d, err := jid.New("", domain, "")
	if err != nil {
		return nil, fmt.Errorf("%w: domain: %v", ErrBadName, err)
	}
	suffix := "@" + d.Domainpart()
	var out []string
	prefix := data.AccountPrefix()
	err = a.kv.Scan(ctx, prefix, nil, 0, func(key, _ []byte, _ uint64) bool {
		bare := string(key[len(prefix):])
		if local, ok := strings.CutSuffix(bare, suffix); ok && local != "" && !strings.Contains(local, "@") {
			out = append(out, local)
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(out)
	return out, nil
}

func (a *Accounts) verify(ctx context.Context, b jid.JID, p string) error {
	bare, err := normalizeBare(b)
	if err != nil {
		return err
	}
	rec, _, err := a.load(ctx, bare)
	if err != nil {
		return err
	}
	if !checkPassword(&sha256Hash, &rec.SHA256, p) {
		return ErrBadPassword
	}
	return nil
}

// checkPassword derives the StoredKey of password with c's salt and
// iteration count and compares it with c.StoredKey in constant time.
func checkPassword(h *scramHash, c *scramCreds, password string) bool {
	pw, err := preparePassword(password)
	valid := err == nil
	if !valid {
		pw = "" // still spend the PBKDF2 time: a rejected password is not faster
	}
	got, err := deriveCreds(h, pw, c.Salt, c.Iterations)
	return err == nil && valid && hmac.Equal(got.StoredKey, c.StoredKey)
}

func (a *Accounts) onDelete(fn func(ctx context.Context, bare jid.JID) error) {
	a.impl.hooksMu.Lock()
	a.impl.hooks = append(a.impl.hooks, fn)
	a.impl.hooksMu.Unlock()
}
