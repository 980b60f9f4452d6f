package auth

// Placeholder until the implementation lands; auth.go is the contract.

import (
	"context"
	"errors"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/data"
)

type accountsImpl struct{}

var errTODO = errors.New("auth: not implemented yet")

func newAccounts(kv data.KV, o Options) *Accounts                              { return &Accounts{kv: kv, opts: o} }
func (a *Accounts) create(ctx context.Context, b jid.JID, p string) error      { return errTODO }
func (a *Accounts) setPassword(ctx context.Context, b jid.JID, p string) error { return errTODO }
func (a *Accounts) delete(ctx context.Context, b jid.JID) error                { return errTODO }
func (a *Accounts) exists(ctx context.Context, b jid.JID) (bool, error)        { return false, errTODO }
func (a *Accounts) list(ctx context.Context, d string) ([]string, error)       { return nil, errTODO }
func (a *Accounts) verify(ctx context.Context, b jid.JID, p string) error      { return errTODO }
func (a *Accounts) onDelete(fn func(ctx context.Context, bare jid.JID) error)  {}
func (a *Accounts) mechanisms(c ConnInfo) []string                             { return nil }
func (a *Accounts) begin(c ConnInfo, mech string) (Exchange, error)            { return nil, errTODO }
