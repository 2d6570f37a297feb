package neostore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/graph"
	"github.com/docgraph/docgraph/pkg/graph/neostore"
	"github.com/docgraph/docgraph/pkg/graph/neostore/neostoretest"
)

// openResult runs Open in the background and returns its outcome, failing
// the test if Open has not returned within limit.
func openResult(t *testing.T, ctx context.Context, cfg neostore.Config, limit time.Duration) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		s, err := neostore.Open(ctx, cfg, prometheus.NewRegistry())
		if s != nil {
			err = errors.Join(errors.New("opened a store on a server that never answers"), s.Close())
		}
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(limit):
		t.Fatalf("Open still waiting after %s for a server that never answers", limit)
		return nil
	}
}

// A server that accepts connections but never answers the Bolt handshake
// makes Open fail as unavailable (so that callers wait and retry, naming the
// URI) once the connect timeout has passed, instead of blocking for ever.
func TestOpenGivesUpOnASilentServer(t *testing.T) {
	uri := "bolt://" + neostoretest.SilentServer(t)
	start := time.Now()
	err := openResult(t, t.Context(), neostore.Config{URI: uri, User: "neo4j", ConnectTimeout: time.Second}, 30*time.Second)
	require.Error(t, err)
	assert.ErrorIs(t, err, graph.ErrUnavailable)
	assert.Contains(t, err.Error(), uri)
	assert.Contains(t, err.Error(), "no answer within 1s")
	assert.Less(t, time.Since(start), 15*time.Second)
}

// Cancelling the context (a stop signal) ends Open's wait for a server that
// never answers at once, whatever the connect timeout.
func TestOpenOnASilentServerStopsWhenCancelled(t *testing.T) {
	uri := "bolt://" + neostoretest.SilentServer(t)
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(500*time.Millisecond, cancel)
	err := openResult(t, ctx, neostore.Config{URI: uri, User: "neo4j", ConnectTimeout: time.Hour}, 30*time.Second)
	require.Error(t, err)
	assert.ErrorIs(t, err, context.Canceled)
	assert.NotErrorIs(t, err, graph.ErrUnavailable)
}
