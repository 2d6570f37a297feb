package bus_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/bus"
	"github.com/docgraph/docgraph/pkg/bus/bustest"
	"github.com/docgraph/docgraph/pkg/logging"
)

func TestClaimGraphWriter(t *testing.T) {
	embedded := func(pid int, data string) bus.GraphWriter {
		return bus.GraphWriter{Command: "worker graph-writer", PID: pid, Host: "h", Store: bus.StoreEmbedded, Data: data}
	}
	neo := func(pid int) bus.GraphWriter {
		return bus.GraphWriter{Command: "worker graph-writer", PID: pid, Host: "h", Store: "neo4j bolt://db:7687"}
	}
	tests := []struct {
		name          string
		running, give bus.GraphWriter
		wantConflict  bool
	}{
		{"replicas on Neo4j share the messages", neo(1), neo(2), false},
		{"a second embedded graph", embedded(1, "/a"), embedded(2, "/b"), true},
		{"an embedded graph next to Neo4j", neo(1), embedded(2, "/b"), true},
		{"Neo4j next to an embedded graph", embedded(1, "/a"), neo(2), true},
		{"the same embedded graph restarted after a crash", embedded(1, "/a"), embedded(2, "/a"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, js := bustest.Provisioned(t)
			ctx := t.Context()
			_, err := bus.ClaimGraphWriter(ctx, js, tt.running, logging.Discard())
			require.NoError(t, err)
			_, err = bus.ClaimGraphWriter(ctx, js, tt.give, logging.Discard())
			if !tt.wantConflict {
				require.NoError(t, err)
				return
			}
			var ce *bus.GraphWriterConflictError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tt.running, ce.Other)
			assert.Contains(t, err.Error(), "pid 1 on h")
		})
	}
}

// A stopped writer removes its entry: another store may start at once.
func TestClaimGraphWriterReleasedAtStop(t *testing.T) {
	_, _, js := bustest.Provisioned(t)
	ctx := t.Context()
	w := bus.GraphWriter{Command: "up", PID: 1, Host: "h", Store: bus.StoreEmbedded, Data: "/a"}
	c, err := bus.ClaimGraphWriter(ctx, js, w, logging.Discard())
	require.NoError(t, err)
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(rctx) }()
	stop()
	require.NoError(t, <-done)
	w.Data, w.PID = "/b", 2
	_, err = bus.ClaimGraphWriter(ctx, js, w, logging.Discard())
	require.NoError(t, err)
}

// The process that starts the NATS server forgets the entries of its own
// earlier run, left by a kill on another host name (a new container).
func TestForgetGraphWriters(t *testing.T) {
	_, _, js := bustest.Provisioned(t)
	ctx := t.Context()
	w := bus.GraphWriter{Command: "up", PID: 1, Host: "old-container", Store: bus.StoreEmbedded, Data: "/data"}
	_, err := bus.ClaimGraphWriter(ctx, js, w, logging.Discard())
	require.NoError(t, err)
	w.Host, w.PID = "new-container", 2
	_, err = bus.ClaimGraphWriter(ctx, js, w, logging.Discard())
	var ce *bus.GraphWriterConflictError
	require.ErrorAs(t, err, &ce)
	require.NoError(t, bus.ForgetGraphWriters(ctx, js))
	_, err = bus.ClaimGraphWriter(ctx, js, w, logging.Discard())
	require.NoError(t, err)
}
