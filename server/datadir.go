package server

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/gavelhq/gavel/auth"
	"github.com/gavelhq/gavel/data"
)

// DataDir is a data directory opened by an operations command (user,
// backup, restore) while no server runs on it.
type DataDir struct {
	Store    *data.Badger
	Accounts *auth.Accounts
	lock     *DirLock
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
	return &DataDir{Store: db, Accounts: accounts, lock: lock}, nil
}

// Close syncs and closes the database and releases the lock.
func (d *DataDir) Close() error {
	errs := []error{d.Store.Sync(), d.Store.Close(), d.lock.Unlock()}
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
