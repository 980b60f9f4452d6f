//go:build !unix

package data

// CheckNotInUse cannot probe Badger's lock on this platform; Open still
// reports a directory held by another process as ErrInUse.
func CheckNotInUse(dir string) error { return nil }
