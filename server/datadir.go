package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/auth"
	"github.com/gavelhq/gavel/data"
	"github.com/gavelhq/gavel/pubsub"
)

// DataDir is a data directory opened by an operations command (user,
// backup, restore) while no server runs on it.
type DataDir struct {
	Store    *data.Badger
	Accounts *auth.Accounts
	lock     *DirLock
	pep      *pubsub.Service // removes a deleted account's PEP nodes
	pubsub   *pubsub.Service // and its subscriptions, affiliations, sole-owned nodes
}

// OpenDataDir locks cfg.DataDir and opens its database. A directory held
// by a running server gives an error matching ErrLocked. Accounts carry the
// IM core's deletion hooks (roster, offline messages).
func OpenDataDir(cfg Config, log *slog.Logger) (*DataDir, error) {
	lock, err := LockDataDir(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	db, err := OpenStore(cfg.DataDir, log)
	if err != nil {
		_ = lock.Unlock()
		if errors.Is(err, data.ErrInUse) {
			return nil, &LockedError{Dir: cfg.DataDir}
		}
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	accounts, _, _ := newCore(cfg, db, log)
	d := &DataDir{Store: db, Accounts: accounts, lock: lock}
	if cfg.PEP.Enabled {
		// Offline there is nobody to notify: the service only erases.
		d.pep, err = pubsub.New(pubsub.Options{PEP: true, Store: db, Notifier: offlineNotifier{}, Logger: log})
		if err != nil {
			_ = d.Close()
			return nil, err
		}
		accounts.OnDelete(func(ctx context.Context, bare jid.JID) error {
			return d.pep.DeleteHost(ctx, bare.String())
		})
	}
	host := cfg.Services.PubSub
	d.pubsub, err = pubsub.New(pubsub.Options{Host: host, Store: db, Notifier: offlineNotifier{}, Logger: log})
	if err != nil {
		_ = d.Close()
		return nil, err
	}
	accounts.OnDelete(func(ctx context.Context, bare jid.JID) error {
		return d.pubsub.ForgetUser(ctx, host, bare)
	})
	return d, nil
}

// offlineNotifier drops the notifications of a service run by an
// operations command.
type offlineNotifier struct{}

func (offlineNotifier) Notify(context.Context, *pubsub.Event, []pubsub.Recipient)         {}
func (offlineNotifier) RequestAuthorization(context.Context, pubsub.AuthorizationRequest) {}

// Close syncs and closes the database and releases the lock.
func (d *DataDir) Close() error {
	var errs []error
	for _, svc := range []*pubsub.Service{d.pep, d.pubsub} {
		if svc != nil {
			errs = append(errs, svc.Close(context.Background()))
		}
	}
	errs = append(errs, d.Store.Sync(), d.Store.Close(), d.lock.Unlock())
	return errors.Join(errs...)
}

// HasDatabase reports whether dataDir already holds a database (restore
// refuses to load into one).
func HasDatabase(dataDir string) (bool, error) {
	entries, err := os.ReadDir(filepath.Join(dataDir, DBDir))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("data directory: %w", err)
	}
	return len(entries) > 0, nil
}
