package datadir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// startGrace is how long a process directory with an empty lock file is
// taken for one whose process is still creating it (see sweep).
const startGrace = time.Minute

// procPrefix starts the name of a process's own temporary directory.
const procPrefix = "proc-"

// TempDir creates a temporary directory of this process under parent,
// locked like a data directory for as long as the process lives, and
// first removes the directories there of processes that have ended (a
// killed process cannot remove its own temporary files, which can be
// large: copies of spreadsheets, DuckDB spill files). Processes sharing
// parent leave each other's directories alone. Close the returned lock at
// the end; the directory stays for the next sweep if it is not empty.
func TempDir(parent string, o Owner) (*Lock, error) {
	if err := os.MkdirAll(parent, 0o750); err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	if err := sweep(parent); err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		dir, err := os.MkdirTemp(parent, fmt.Sprintf("%s%d-", procPrefix, os.Getpid()))
		if err != nil {
			return nil, fmt.Errorf("temp dir: %w", err)
		}
		l, err := Acquire(dir, o)
		if err != nil {
			return nil, err
		}
		// Another process's sweep may have taken the directory between its
		// creation and the lock: then make another.
		_, err = os.Stat(filepath.Join(dir, FileName))
		if err == nil {
			return l, nil
		}
		if cerr := l.Close(); cerr != nil || attempt == 2 {
			return nil, errors.Join(fmt.Errorf("temp dir %s: %w", dir, err), cerr)
		}
	}
}

// sweep removes the process directories under parent whose lock nobody
// holds.
func sweep(parent string) error {
	entries, err := os.ReadDir(parent)
	if err != nil {
		return fmt.Errorf("temp dir: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), procPrefix) {
			continue
		}
		dir := filepath.Join(parent, e.Name())
		fi, err := os.Stat(filepath.Join(dir, FileName))
		if err != nil {
			continue // not locked yet by a process creating it
		}
		if fi.Size() == 0 && time.Since(fi.ModTime()) < startGrace {
			// A process records itself in the lock file once it holds the
			// lock: an empty one may be between creating the file and
			// locking it, and taking the lock now would make it fail (or
			// lose its directory). One left empty by a process killed
			// then holds nothing else, and goes at a later sweep.
			continue
		}
		l, err := Acquire(dir, Owner{Command: "sweep"})
		var inUse *InUseError
		if errors.As(err, &inUse) {
			continue // its process runs
		}
		if err != nil {
			return err
		}
		if err := errors.Join(l.Close(), os.RemoveAll(dir)); err != nil {
			return fmt.Errorf("temp dir: remove %s: %w", dir, err)
		}
	}
	return nil
}
