// Package disk recognises a local disk that has no room left.
package disk

import (
	"errors"
	"strings"
	"syscall"
)

// Full reports whether err says that a local disk has no room left, or
// that its quota is used up: by the errno, or by the text of it that
// DuckDB reports, which carries no errno. Unlike a bad file, such a failure
// is nobody's input's fault, and the same work succeeds once room is made.
func Full(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "No space left on device") || strings.Contains(msg, "Disk quota exceeded")
}
