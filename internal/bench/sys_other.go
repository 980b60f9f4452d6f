//go:build !linux

package bench

import (
	"errors"
	"syscall"
	"time"
)

var errNotLinux = errors.New("only available on Linux")

// RaiseFileLimit is a no-op outside Linux.
func RaiseFileLimit(want uint64) (uint64, error) { return 0, errNotLinux }

// ProcRSSKB needs /proc.
func ProcRSSKB(pid int) (int64, error) { return 0, errNotLinux }

// SlabKB needs /proc.
func SlabKB() (int64, error) { return 0, errNotLinux }

// ProcCPU needs /proc.
func ProcCPU(pid int) (time.Duration, error) { return 0, errNotLinux }

// SelfCPU is unknown outside Linux.
func SelfCPU() time.Duration { return 0 }

// HostBusy needs /proc.
func HostBusy() (time.Duration, error) { return 0, errNotLinux }

// rcvBufControl is not available outside Linux: connections keep the
// system's receive buffer.
func rcvBufControl(int) func(network, address string, c syscall.RawConn) error { return nil }
