package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/bus"
	"github.com/docgraph/docgraph/pkg/logging"
)

// An ingest through a NATS where a graph writer with an embedded graph
// runs refuses to start, as a worker graph-writer does: its own graph
// writer would take a share of that writer's messages into the graph under
// its own --data.
func TestIngestRefusedNextToEmbeddedGraphWriter(t *testing.T) {
	n := startTestNATS(t)
	data, in := t.TempDir(), t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(in, "a.md"), []byte("Ines Foster leads PRJ-1000.\n"), 0o600))
	mustDocgraph(t, ingestArgs(data, "--nats", n.url(), t.TempDir())...) // provisions

	nc, err := nats.Connect(n.url())
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	other := bus.GraphWriter{Command: "worker graph-writer", PID: 4242, Host: "elsewhere", Store: bus.StoreEmbedded, Data: "/srv/docgraph"}
	_, err = bus.ClaimGraphWriter(t.Context(), js, other, logging.Discard())
	require.NoError(t, err)

	_, errOut, err := docgraph(t, ingestArgs(data, "--nats", n.url(), in)...)
	require.Error(t, err, "ingest ran a graph writer next to another one with an embedded graph:\n%s", errOut)
	assert.Contains(t, err.Error(), "another graph writer consumes this NATS")
	assert.Contains(t, err.Error(), "pid 4242")
}
