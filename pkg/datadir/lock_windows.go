//go:build windows

package datadir

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"
)

var errLocked = errors.New("locked")

// lockFile takes an exclusive lock on f without waiting. Windows locks
// byte ranges, and a locked range cannot be read by others, so the lock
// covers one byte far past the owner record, which others still read. The
// system drops the lock when the process ends.
func lockFile(f *os.File) error {
	ol := &windows.Overlapped{OffsetHigh: 1} // at 4 GiB
	err := windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, ol)
	if errors.Is(err, windows.ERROR_LOCK_VIOLATION) {
		return errLocked
	}
	return err
}
