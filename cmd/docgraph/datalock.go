package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/docgraph/docgraph/pkg/bus"
	"github.com/docgraph/docgraph/pkg/config"
	"github.com/docgraph/docgraph/pkg/datadir"
)

// The data directory (--data) belongs to one process at a time: the one
// that runs the embedded NATS server on its store or opens its embedded
// graph. That process holds the directory's lock (pkg/datadir) and records
// there where its NATS takes clients; operator commands read it to reach
// that process instead of opening the store a second time.

// ownerWait bounds how long an operator command waits for a starting
// owner to record where its NATS listens (JetStream recovers its store
// first, which can take a while on a large one).
const ownerWait = 30 * time.Second

// lockData takes the data directory for a process that runs stages (up,
// worker, ingest), when it needs it to itself: for the embedded NATS
// server, or for the embedded graph if it runs the graph writer. It
// returns nil when the process needs neither (workers against an external
// NATS share their data directory's temp files freely). listen says
// whether an embedded server listens on nats.listen (up); until it does,
// the lock says nothing of its NATS, and operator commands wait for it.
func lockData(cfg config.Config, command string, graphWriter, listen bool) (*datadir.Lock, error) {
	embeddedGraph := graphWriter && cfg.GraphStore() != "neo4j"
	if cfg.NATS.URL != "" && !embeddedGraph {
		return nil, nil
	}
	o := datadir.Owner{Command: command}
	switch {
	case cfg.NATS.URL != "":
		o.NATS, o.External = bus.RedactURL(cfg.NATS.URL), true
	case !listen || cfg.NATS.Listen == "" || cfg.NATS.Listen == datadir.Off:
		o.NATS = datadir.Off
	}
	l, err := datadir.Acquire(cfg.Data, o)
	var inUse *datadir.InUseError
	if errors.As(err, &inUse) {
		if command == "ingest" && inUse.Owner.Command == "up" {
			// Another --data would make a graph of its own, which the
			// up's graph does not show.
			return nil, fmt.Errorf("%w (while 'docgraph up' runs, drop the files into its watched folder instead)", err)
		}
		return nil, fmt.Errorf("%w (stop it, or give this one another --data)", err)
	}
	return l, err
}

// releaseData gives up the data directory l holds (nil: none) at the end
// of a command that returns err. A command that failed also removes the
// directory if it created it and stored nothing there (datadir's Discard):
// a start that failed (a port in use, say) leaves no folder that looks like
// docgraph data to the operator commands.
func releaseData(l *datadir.Lock, err error) error {
	if err == nil {
		return l.Close()
	}
	if derr := l.Discard(); derr != nil {
		return errors.Join(err, derr)
	}
	return err
}

// recordNATS records in l where s's embedded NATS server takes clients:
// its client URL, or off when it listens in-process only.
func recordNATS(l *datadir.Lock, s *system, command string) error {
	if l == nil || s.ns == nil {
		return nil
	}
	o := datadir.Owner{Command: command, NATS: datadir.Off, MaxStore: s.ns.JetStreamConfig().MaxStore}
	if addr := s.ns.Addr(); addr != nil {
		o.NATS = s.ns.ClientURL()
	}
	return l.Record(o)
}

// attachment is how an operator command reaches the docgraph whose data is
// under --data: either nothing runs there and the command holds the
// directory (lock), or a running process owns it (owner, with the URL of
// its NATS).
type attachment struct {
	lock  *datadir.Lock
	owner datadir.Owner
}

// noDataError says that --data holds no docgraph data, or lacks what (the
// embedded graph).
func noDataError(dir, what string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	if what != "" {
		abs += ", " + what
	}
	return fmt.Errorf("no docgraph data at %s (is it the --data, or DOCGRAPH_DATA, that 'docgraph up' or 'ingest' used?)", abs)
}

// attachData finds out how an operator command reaches the docgraph on
// cfg.Data; the command runs without --nats. Without a running owner the
// command takes the directory itself, provided it holds the NATS store
// (needNATS) and the embedded graph (needGraph) the command needs: a wrong
// --data is an error, and nothing is created there. The caller closes
// the attachment's lock.
func attachData(ctx context.Context, cfg config.Config, command string, needNATS, needGraph bool) (attachment, error) {
	has := func(name string) bool {
		_, err := os.Stat(filepath.Join(cfg.Data, name))
		return err == nil
	}
	// missing says what the command needs and the directory lacks.
	missing := func() (string, bool) {
		switch {
		case needNATS && !has("nats"):
			return "", true
		case needGraph && !has("graph.duckdb"):
			if has("nats") {
				return "no embedded graph (graph.duckdb) there", true
			}
			return "", true
		}
		return "", false
	}
	if st, err := os.Stat(cfg.Data); err != nil || !st.IsDir() {
		return attachment{}, noDataError(cfg.Data, "")
	}
	if what, ok := missing(); ok && !has(datadir.FileName) {
		return attachment{}, noDataError(cfg.Data, what)
	}
	deadline, tick := time.After(ownerWait), time.NewTicker(50*time.Millisecond)
	defer tick.Stop()
	for {
		l, err := datadir.Acquire(cfg.Data, datadir.Owner{Command: command, NATS: datadir.Off})
		if err == nil {
			if what, ok := missing(); ok {
				return attachment{}, errors.Join(noDataError(cfg.Data, what), l.Close())
			}
			return attachment{lock: l}, nil
		}
		var inUse *datadir.InUseError
		if !errors.As(err, &inUse) {
			return attachment{}, err
		}
		if o := inUse.Owner; o.NATS != "" {
			return attachment{owner: o}, ownerReachable(inUse.Dir, o)
		}
		select {
		case <-ctx.Done():
			return attachment{}, ctx.Err()
		case <-deadline:
			return attachment{}, fmt.Errorf("%s holds %s but has not said within %s where its NATS takes clients",
				inUse.Owner, inUse.Dir, ownerWait)
		case <-tick.C:
		}
	}
}

// ownerReachable says why an operator command cannot reach the owner of
// dir through NATS, if it cannot.
func ownerReachable(dir string, o datadir.Owner) error {
	switch {
	case o.External:
		return fmt.Errorf("%s is running on %s against the NATS at %s: pass --nats URL", o, dir, o.NATS)
	case o.NATS != datadir.Off:
		return nil
	case o.Command == "up":
		return fmt.Errorf("%s is running on %s with nats.listen off; stop it or give it a listen address (--nats.listen 127.0.0.1:4222)", o, dir)
	default:
		return fmt.Errorf("%s is using %s, its NATS in-process only; try again when it has finished", o, dir)
	}
}

// connect opens a system for an operator command: on the external NATS
// (--nats), on the data directory (the attachment holds it), or on the
// NATS of the process that owns it.
func (a attachment) connect(ctx context.Context, cfg config.Config, log *slog.Logger) (*system, error) {
	if cfg.NATS.URL == "" && a.lock == nil {
		cfg.NATS.URL = a.owner.NATS
		// The embedded server takes no credentials.
		cfg.NATS.User, cfg.NATS.Password, cfg.NATS.Token = "", "", ""
		cfg.NATS.NKeyFile, cfg.NATS.CredsFile = "", ""
		cfg.NATS.TLSCA, cfg.NATS.TLSCert, cfg.NATS.TLSKey = "", "", ""
	}
	return startSystem(ctx, cfg, log, systemOptions{operator: true})
}
