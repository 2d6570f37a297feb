// Package bustest starts a real, in-process NATS server with JetStream for
// tests, with storage in a temporary directory.
package bustest

import (
	"context"
	"log/slog"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/docgraph/docgraph/pkg/bus"
)

// NewServer starts an embedded JetStream server on a random 127.0.0.1 port
// with storage under t.TempDir(); it is shut down in t.Cleanup.
func NewServer(t testing.TB) *server.Server {
	t.Helper()
	return NewServerAt(t, t.TempDir())
}

// NewServerAt is NewServer with a given store directory (to restart a
// server over the same storage).
func NewServerAt(t testing.TB, dir string) *server.Server {
	t.Helper()
	ns, err := bus.StartEmbedded(bus.EmbeddedConfig{StoreDir: dir, Port: 0}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("start nats: %v", err)
	}
	t.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	return ns
}

// Connect connects to ns; the connection is closed in t.Cleanup.
func Connect(t testing.TB, ns *server.Server) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(ns.ClientURL(), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatalf("connect nats: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	return nc, js
}

// Provisioned starts a server, connects and creates docgraph's streams and
// buckets.
func Provisioned(t testing.TB) (*server.Server, *nats.Conn, jetstream.JetStream) {
	t.Helper()
	ns := NewServer(t)
	nc, js := Connect(t, ns)
	if err := bus.Provision(context.Background(), js, bus.DefaultTopology()); err != nil {
		t.Fatalf("provision: %v", err)
	}
	return ns, nc, js
}

// NewServerWith starts an embedded server with cfg (StoreDir defaults to
// t.TempDir(), Port to a random one); it is shut down in t.Cleanup.
func NewServerWith(t testing.TB, cfg bus.EmbeddedConfig) *server.Server {
	t.Helper()
	if cfg.StoreDir == "" {
		cfg.StoreDir = t.TempDir()
	}
	ns, err := bus.StartEmbedded(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("start nats: %v", err)
	}
	t.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	return ns
}
