package bus

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/docgraph/docgraph/pkg/logging"
)

// GraphWriterTTL is how long a graph writer's entry outlives its last
// refresh: a writer killed without a chance to remove it is forgotten
// after this long.
const GraphWriterTTL = 15 * time.Second

// StoreEmbedded names the embedded graph store in a GraphWriter.
const StoreEmbedded = "duckdb"

// GraphWriter describes one running graph-writer process.
//
// Replicas of the graph writer share one durable consumer, so each gets a
// share of the messages. That is what several writers on one Neo4j want;
// an embedded graph (a DuckDB file of its process) must be the only writer
// on its NATS, or the graph would be split between files.
type GraphWriter struct {
	Command string `json:"command"` // e.g. "worker graph-writer"
	PID     int    `json:"pid"`
	Host    string `json:"host"`
	Store   string `json:"store"`          // StoreEmbedded or neo4j
	Data    string `json:"data,omitempty"` // absolute data directory of an embedded store
}

func (w GraphWriter) String() string {
	s := fmt.Sprintf("docgraph %s (pid %d on %s", w.Command, w.PID, w.Host)
	if w.Store == StoreEmbedded {
		s += ", embedded graph in " + w.Data
	} else {
		s += ", graph on " + w.Store
	}
	return s + ")"
}

// key is w's entry in BucketGraphWriters. An embedded store's key is its
// host and directory (the directory's lock makes its writer unique), so a
// writer restarted after a crash takes over its own entry.
func (w GraphWriter) key() string {
	if w.Store == StoreEmbedded {
		return "embedded." + base64.RawURLEncoding.EncodeToString([]byte(w.Host+":"+w.Data))
	}
	return "shared." + nuid.Next()
}

// GraphWriterConflictError says that a graph writer cannot run next to
// another one on the same NATS.
type GraphWriterConflictError struct {
	Self, Other GraphWriter
}

func (e *GraphWriterConflictError) Error() string {
	return fmt.Sprintf("another graph writer consumes this NATS: %s. An embedded graph takes a single graph writer "+
		"(each would write its share of the messages to its own graph): stop the other one, or run the graph writers on Neo4j (--neo4j). "+
		"An entry left by a writer that died expires within %s", e.Other, GraphWriterTTL)
}

// conflicts reports whether a and b cannot both consume the graph
// writer's messages: an embedded graph shares them with no other store.
func conflicts(a, b GraphWriter) bool {
	return a.Store == StoreEmbedded || b.Store == StoreEmbedded
}

// GraphWriterClaim is a graph writer's entry in BucketGraphWriters, kept
// fresh by Run.
type GraphWriterClaim struct {
	kv  jetstream.KeyValue
	key string
	val []byte
	log *slog.Logger
}

// ClaimGraphWriter records w among the running graph writers, unless a
// running one conflicts with it (a *GraphWriterConflictError). Run keeps
// the entry until ctx ends. Call it before consuming any message.
func ClaimGraphWriter(ctx context.Context, js jetstream.JetStream, w GraphWriter, log *slog.Logger) (*GraphWriterClaim, error) {
	kv, err := js.KeyValue(ctx, BucketGraphWriters)
	if err != nil {
		return nil, fmt.Errorf("graph writers bucket: %w", err)
	}
	val, err := json.Marshal(w)
	if err != nil {
		return nil, err
	}
	c := &GraphWriterClaim{kv: kv, key: w.key(), val: val, log: log}
	if err := c.check(ctx, w); err != nil {
		return nil, err
	}
	if _, err := kv.Put(ctx, c.key, val); err != nil {
		return nil, fmt.Errorf("graph writers bucket: %w", err)
	}
	// Two writers starting together each saw none of the other: now both
	// entries are there for both to see.
	if err := c.check(ctx, w); err != nil {
		return nil, errors.Join(err, c.remove(ctx))
	}
	return c, nil
}

// check returns the conflict of w with a running graph writer, if any.
func (c *GraphWriterClaim) check(ctx context.Context, w GraphWriter) error {
	keys, err := c.kv.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("graph writers bucket: %w", err)
	}
	var others []string
	for k := range keys.Keys() {
		if k != c.key {
			others = append(others, k)
		}
	}
	// The lister has stopped by itself once it listed every key.
	if err := keys.Stop(); err != nil && !errors.Is(err, nats.ErrBadSubscription) {
		return fmt.Errorf("graph writers bucket: %w", err)
	}
	for _, k := range others {
		e, err := c.kv.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // gone since
		}
		if err != nil {
			return fmt.Errorf("graph writers bucket: %w", err)
		}
		var o GraphWriter
		if err := json.Unmarshal(e.Value(), &o); err != nil {
			continue
		}
		if conflicts(w, o) {
			return &GraphWriterConflictError{Self: w, Other: o}
		}
	}
	return nil
}

// Run refreshes the entry until ctx ends, then removes it.
func (c *GraphWriterClaim) Run(ctx context.Context) error {
	tick := time.NewTicker(GraphWriterTTL / 3)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := c.remove(rctx); err != nil {
				c.log.Warn("graph writer entry not removed; it expires on its own", slog.Duration("ttl", GraphWriterTTL), slog.Any(logging.KeyErr, err))
			}
			return nil
		case <-tick.C:
			rctx, cancel := context.WithTimeout(ctx, GraphWriterTTL/3)
			_, err := c.kv.Put(rctx, c.key, c.val)
			cancel()
			if err != nil && ctx.Err() == nil {
				// NATS is down or failing over: the next tick tries again.
				c.log.Debug("graph writer entry not refreshed", slog.Any(logging.KeyErr, err))
			}
		}
	}
}

func (c *GraphWriterClaim) remove(ctx context.Context) error {
	if err := c.kv.Delete(ctx, c.key); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("graph writers bucket: %w", err)
	}
	return nil
}

// ForgetGraphWriters removes every graph writer entry. A process that
// starts the NATS server calls it before its claim: entries there can only
// be left by its own earlier run (killed, or restarted on another host
// name, as a container is), which would otherwise keep it from starting
// until they expire.
func ForgetGraphWriters(ctx context.Context, js jetstream.JetStream) error {
	kv, err := js.KeyValue(ctx, BucketGraphWriters)
	if err != nil {
		return fmt.Errorf("graph writers bucket: %w", err)
	}
	keys, err := kv.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("graph writers bucket: %w", err)
	}
	var all []string
	for k := range keys.Keys() {
		all = append(all, k)
	}
	if err := keys.Stop(); err != nil && !errors.Is(err, nats.ErrBadSubscription) {
		return fmt.Errorf("graph writers bucket: %w", err)
	}
	for _, k := range all {
		if err := kv.Delete(ctx, k); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return fmt.Errorf("graph writers bucket: %w", err)
		}
	}
	return nil
}
