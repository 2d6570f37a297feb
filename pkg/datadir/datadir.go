// Package datadir gives a docgraph data directory (the embedded NATS
// store, the embedded graph, temp files) to one process at a time. The
// owner holds an OS lock on the directory's LOCK file, which the system
// releases when the process ends, however it ends, so a killed process
// leaves no stale lock. The file also says who the owner is and where its
// NATS takes clients, so that other commands can reach it instead of
// opening the directory a second time.
package datadir

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// FileName is the lock file in a data directory.
const FileName = "LOCK"

// Off is Owner.NATS for an owner whose NATS server takes no clients from
// other processes (in-process only).
const Off = "off"

// Owner describes the process that holds a data directory.
type Owner struct {
	PID     int    `json:"pid"`
	Command string `json:"command"` // e.g. "up", "ingest", "worker graph-writer", "status"
	// NATS is where the owner's NATS takes clients: the client URL of its
	// embedded server, Off, or the URL of the external server it uses
	// (External, without credentials). Empty while the owner is starting
	// its embedded server.
	NATS     string `json:"nats,omitempty"`
	External bool   `json:"external,omitempty"`
	// MaxStore is the disk its embedded server's JetStream may use, in
	// bytes (0 when unknown or external): what 'docgraph status' measures
	// the store against, since NATS tells clients only account limits.
	MaxStore int64 `json:"max_store,omitempty"`
}

// String names the owner for messages: "docgraph up (pid 42)".
func (o Owner) String() string {
	if o.PID <= 0 {
		return "another docgraph process"
	}
	return fmt.Sprintf("docgraph %s (pid %d)", o.Command, o.PID)
}

// InUseError is returned by Acquire when another process holds the
// directory.
type InUseError struct {
	Dir   string // absolute
	Owner Owner  // as far as the owner has recorded itself (PID 0: not yet)
}

func (e *InUseError) Error() string {
	return fmt.Sprintf("data dir %s is in use by %s: one process at a time can use it", e.Dir, e.Owner)
}

// Lock is a held data directory. It is not safe for concurrent use.
type Lock struct {
	f   *os.File
	dir string
	// created are the folders Acquire created: dir and the missing ones
	// above it, dir first.
	created []string
}

// Acquire takes dir for this process, creating it if needed, and records
// o (PID 0 means this process). It does not wait: when another process
// holds dir, it returns an *InUseError naming that process. Two Acquires of
// one directory in the same process conflict too.
func Acquire(dir string, o Owner) (*Lock, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	var created []string
	for d := abs; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) || filepath.Dir(d) == d {
			break
		}
		created = append(created, d)
	}
	if err := os.MkdirAll(abs, 0o750); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	path := filepath.Join(abs, FileName)
	// A process that discards the directory (Discard) removes the file
	// while it holds the lock: one that opened the file before and locks
	// it after holds a file nobody else sees, and tries again.
	for attempt := 0; ; attempt++ {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
		if err != nil {
			return nil, fmt.Errorf("data dir: %w", err)
		}
		if err := lockFile(f); err != nil {
			_ = f.Close()
			if errors.Is(err, errLocked) {
				return nil, &InUseError{Dir: abs, Owner: readOwner(path)}
			}
			return nil, fmt.Errorf("data dir: lock %s: %w", path, err)
		}
		if !sameFile(f, path) {
			_ = f.Close()
			if attempt == 2 {
				return nil, fmt.Errorf("data dir: %s was removed while it was being locked", path)
			}
			if err := os.MkdirAll(abs, 0o750); err != nil {
				return nil, fmt.Errorf("data dir: %w", err)
			}
			continue
		}
		l := &Lock{f: f, dir: abs, created: created}
		if err := l.Record(o); err != nil {
			_ = l.Close()
			return nil, err
		}
		return l, nil
	}
}

// sameFile reports whether f is the file at path.
func sameFile(f *os.File, path string) bool {
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	pi, err := os.Stat(path)
	return err == nil && os.SameFile(fi, pi)
}

// Dir is the locked directory, absolute.
func (l *Lock) Dir() string { return l.dir }

// Record replaces the owner's description, e.g. once its NATS server
// listens. PID 0 means this process.
func (l *Lock) Record(o Owner) error {
	if o.PID == 0 {
		o.PID = os.Getpid()
	}
	b, err := json.Marshal(o)
	if err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	// Readers see an empty or partial file while this runs; they take it
	// for an owner that has not recorded itself yet.
	if err := l.f.Truncate(0); err != nil {
		return fmt.Errorf("data dir: record owner: %w", err)
	}
	if _, err := l.f.WriteAt(append(b, '\n'), 0); err != nil {
		return fmt.Errorf("data dir: record owner: %w", err)
	}
	return nil
}

// Close gives the directory up. The file stays: removing it would let a
// process that opened it before the removal lock a file nobody else sees.
func (l *Lock) Close() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close() // closing the last descriptor releases the lock
	l.f = nil
	return err
}

// Discard gives the directory up, as Close does, and removes it, with the
// folders above it that Acquire created, if Acquire created it and it
// holds nothing but the lock file and empty folders: what a process that
// failed at start left there would otherwise look like a data directory
// (the embedded NATS server creates its store folders at start). A
// directory that existed before, or that holds any other file, stays.
func (l *Lock) Discard() error {
	if l == nil || l.f == nil {
		return nil
	}
	if len(l.created) == 0 || l.created[0] != l.dir {
		return l.Close()
	}
	var dirs []string // in walk order: each before the folders inside it
	onlyFolders := true
	err := filepath.WalkDir(l.dir, func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir():
			dirs = append(dirs, p)
		case p != filepath.Join(l.dir, FileName):
			onlyFolders = false
			return fs.SkipAll
		}
		return nil
	})
	if err != nil || !onlyFolders {
		return errors.Join(err, l.Close())
	}
	// The folders go first, while the lock keeps others out; then the
	// lock file (where an open file can be removed, while it is locked),
	// and the directory once it is unlocked.
	for i := len(dirs) - 1; i > 0; i-- {
		if err := os.Remove(dirs[i]); err != nil {
			return errors.Join(fmt.Errorf("data dir: %w", err), l.Close())
		}
	}
	lockPath := filepath.Join(l.dir, FileName)
	removed := os.Remove(lockPath) == nil
	if err := l.Close(); err != nil {
		return err
	}
	if !removed {
		if err := os.Remove(lockPath); err != nil {
			return fmt.Errorf("data dir: %w", err)
		}
	}
	// Another process may have taken the directory since: then it is not
	// empty, and stays.
	for _, d := range l.created {
		if os.Remove(d) != nil {
			break
		}
	}
	return nil
}

// readOwner reads what the owner recorded; the zero Owner if it has not
// recorded itself (yet).
func readOwner(path string) Owner {
	var o Owner
	b, err := os.ReadFile(path)
	if err != nil || json.Unmarshal(b, &o) != nil {
		return Owner{}
	}
	return o
}
