package server

import (
	"errors"
	"fmt"
	"os"
	"strconv"
)

// LockFile is the file in the data directory that a process holding the
// data directory keeps locked (flock) and that names its pid.
const LockFile = "gavel.lock"

// ErrLocked: another process holds the data directory.
var ErrLocked = errors.New("data directory is in use")

// LockedError says who holds the data directory.
type LockedError struct {
	Dir string
	PID int // 0 if unknown
}

func (e *LockedError) Error() string {
	who := "another gavel process"
	if e.PID > 0 {
		who += " (pid " + strconv.Itoa(e.PID) + ")"
	}
	return fmt.Sprintf("data directory %s is in use by %s; stop the server first, or run this command against a copy of the data", e.Dir, who)
}

func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// DirLock is an exclusive lock on a data directory. Badger has its own lock;
// this one exists so the CLI can say clearly who holds the directory.
type DirLock struct{ f *os.File }
