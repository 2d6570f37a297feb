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
	if err := os.MkdirAll(abs, 0o750); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	path := filepath.Join(abs, FileName)
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
	l := &Lock{f: f, dir: abs}
	if err := l.Record(o); err != nil {
		_ = l.Close()
		return nil, err
	}
	return l, nil
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
