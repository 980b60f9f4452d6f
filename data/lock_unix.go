//go:build unix

package data

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// CheckNotInUse reports (as an error matching ErrInUse) whether another
// process holds the database in dir, by probing the flock Badger takes on
// the directory. It is advisory (the holder may come or go right after);
// Open gives the same error when it loses the race. A missing directory is
// not in use.
func CheckNotInUse(dir string) error {
	f, err := os.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	defer f.Close()
	fd := int(f.Fd())
	if err := syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return fmt.Errorf("%w: %s", ErrInUse, dir)
		}
		return fmt.Errorf("data: locking %s: %w", dir, err)
	}
	return syscall.Flock(fd, syscall.LOCK_UN)
}
