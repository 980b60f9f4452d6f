package server

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/auth"
	"github.com/gavelhq/gavel/data"
)

// Markers in the store that first-start tasks ran; once set, the task (and
// the printing of its passwords) never happens again for this database.
var (
	adminCreatedKey = data.AdminCreatedKey()
	demoCreatedKey  = data.DemoCreatedKey()
)

// AdminUser is the localpart of the account created on first start.
const AdminUser = "admin"

// DemoUsers are created on the first start in dev mode.
var DemoUsers = []string{"alice", "bob"}

// AdminJID is the bare JID of the first-start administrator.
func AdminJID(domain string) string { return AdminUser + "@" + domain }

// Credential is an account created with a generated password.
type Credential struct {
	JID      string
	Password string
	Note     string
}

// GeneratePassword returns a random password of 26 base32 characters (130 bits).
func GeneratePassword() string { return rand.Text() }

// firstStart creates the administrator and, in dev mode, the demo
// accounts, each exactly once per database. It returns the credentials to
// print.
func (s *Server) firstStart(ctx context.Context) ([]Credential, error) {
	var out []Credential
	admin, err := s.ensureOnce(ctx, adminCreatedKey, []string{AdminUser}, "administrator")
	if err != nil {
		return nil, fmt.Errorf("first start: creating the admin account: %w", err)
	}
	out = append(out, admin...)
	if s.cfg.Dev {
		demo, err := s.ensureOnce(ctx, demoCreatedKey, DemoUsers, "demo user (dev mode)")
		if err != nil {
			return nil, fmt.Errorf("first start: creating demo accounts: %w", err)
		}
		out = append(out, demo...)
	}
	return out, nil
}

// ensureOnce creates the accounts unless marker is set, then sets marker.
// An account that already exists (made with `gavel user add`) keeps its
// password and is not printed. A crash between creating and marking loses
// only the printed password: `gavel user passwd` sets a new one.
func (s *Server) ensureOnce(ctx context.Context, marker []byte, users []string, note string) ([]Credential, error) {
	_, _, err := s.store.Get(ctx, marker)
	if err == nil {
		return nil, nil
	}
	if !errors.Is(err, data.ErrNotFound) {
		return nil, err
	}
	var creds []Credential
	for _, u := range users {
		j, err := jid.New(u, s.cfg.Domain, "")
		if err != nil {
			return nil, err
		}
		pw := GeneratePassword()
		switch err := s.Accounts.Create(ctx, j, pw); {
		case errors.Is(err, auth.ErrExists):
			s.log.Info("first start: account already exists, password unchanged", "jid", j.String())
		case err != nil:
			return nil, err
		default:
			creds = append(creds, Credential{JID: j.String(), Password: pw, Note: note})
		}
	}
	stamp := []byte(time.Now().UTC().Format(time.RFC3339))
	if _, err := s.store.CompareAndSet(ctx, marker, stamp, 0); err != nil && !errors.Is(err, data.ErrRevision) {
		return nil, err
	}
	if err := s.store.Sync(); err != nil {
		return nil, err
	}
	return creds, nil
}

// printCredentials shows the generated passwords, once, on stdout (not in
// the log, which may be shipped elsewhere), with how to connect.
func printCredentials(w io.Writer, cfg Config, addrs Addrs, creds []Credential) {
	if len(creds) == 0 {
		return
	}
	var b strings.Builder
	b.WriteString("\n==================================================================\n")
	b.WriteString(" Gavel created these accounts. The passwords are shown only now;\n")
	b.WriteString(" change one with: gavel user passwd NAME\n\n")
	for _, c := range creds {
		fmt.Fprintf(&b, "   %-28s password: %s   (%s)\n", c.JID, c.Password, c.Note)
	}
	if addrs.C2S != "" {
		fmt.Fprintf(&b, "\n Clients: connect to %s (STARTTLS", addrs.C2S)
		if !cfg.C2S.RequireTLS {
			b.WriteString(" optional in dev mode")
		}
		b.WriteString(")")
		if addrs.C2STLS != "" {
			fmt.Fprintf(&b, ", or direct TLS on %s", addrs.C2STLS)
		}
		b.WriteString(".\n")
	}
	if addrs.HTTP != "" {
		fmt.Fprintf(&b, " WebSocket: ws://%s/xmpp-websocket\n", addrs.HTTP)
	}
	b.WriteString("==================================================================\n\n")
	_, _ = io.WriteString(w, b.String())
}
