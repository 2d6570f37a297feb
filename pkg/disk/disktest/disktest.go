// Package disktest gives tests a disk that fills up.
package disktest

import (
	"errors"
	"fmt"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// Small mounts a tmpfs of size bytes on a temporary directory for the
// test's duration and returns the directory. Mounting needs root, as CI
// runs; elsewhere the test is skipped.
func Small(t testing.TB, size int) string {
	t.Helper()
	dir := t.TempDir()
	err := unix.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d", size))
	if errors.Is(err, unix.EPERM) && os.Getenv("CI") != "true" {
		t.Skip("mounting a tmpfs needs root")
	}
	if err != nil {
		t.Fatalf("mount a tmpfs on %s: %v", dir, err)
	}
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
	return dir
}
