package graphapi_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/bus/bustest"
	"github.com/docgraph/docgraph/pkg/graph"
	"github.com/docgraph/docgraph/pkg/graph/graphapi"
	"github.com/docgraph/docgraph/pkg/testwait"
)

// documentStore is a graph holding only Documents.
type documentStore struct {
	graph.Store
	docs map[string]string
}

func (s documentStore) Documents(context.Context) (map[string]string, error) { return s.docs, nil }

// The Documents of a folder of many files are more than one NATS message
// carries (8 MiB embedded, 1 MiB by default): they come through the
// object store, whole, and the object is removed.
func TestDocuments(t *testing.T) {
	tests := []struct {
		name string
		give int
	}{
		{name: "few", give: 3},
		{name: "more than a message holds", give: 100_000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns, nc, js := bustest.Provisioned(t)
			docs := make(map[string]string, tt.give)
			for i := range tt.give {
				docs[fmt.Sprintf("minutes/%06d-steering-committee.md", i)] = strings.Repeat(fmt.Sprintf("%x", i%16), 64)
			}
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() {
				done <- graphapi.Serve(ctx, nc, js, documentStore{docs: docs}, t.TempDir(), slog.New(slog.DiscardHandler))
			}()
			t.Cleanup(func() {
				cancel()
				assert.NoError(t, <-done)
			})
			client, cjs := bustest.Connect(t, ns)

			var got map[string]string
			testwait.Until(t, 10*time.Second, func() error {
				var err error
				got, err = graphapi.Documents(t.Context(), client, cjs)
				if errors.Is(err, graphapi.ErrNoServer) {
					return err // not serving yet
				}
				require.NoError(t, err)
				return nil
			})
			assert.Len(t, got, tt.give)
			assert.Equal(t, docs, got)
			obs, err := cjs.ObjectStore(t.Context(), "docgraph_exports")
			require.NoError(t, err)
			left, err := obs.List(t.Context())
			require.ErrorIs(t, err, jetstream.ErrNoObjectsFound, "the object is removed: %v", left)
		})
	}
}

// panickingStore is a graph whose Stats hits a bug.
type panickingStore struct{ documentStore }

func (panickingStore) Stats(context.Context) (graph.Stats, error) { panic("index out of range [3]") }

// A query that panics in the store fails with an error that says so; the
// server keeps answering.
func TestPanicFailsTheQueryAlone(t *testing.T) {
	ns, nc, js := bustest.Provisioned(t)
	ctx, cancel := context.WithCancel(t.Context())
	var logs testwait.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	done := make(chan error, 1)
	st := panickingStore{documentStore{docs: map[string]string{"a.md": "aa"}}}
	go func() { done <- graphapi.Serve(ctx, nc, js, st, t.TempDir(), log) }()
	t.Cleanup(func() {
		cancel()
		assert.NoError(t, <-done)
	})
	client, cjs := bustest.Connect(t, ns)

	testwait.Until(t, 10*time.Second, func() error {
		_, err := graphapi.Stats(t.Context(), client)
		if errors.Is(err, graphapi.ErrNoServer) {
			return err
		}
		require.ErrorContains(t, err, "internal error answering docgraph.api.graph.stats: index out of range [3]")
		return nil
	})
	got, err := graphapi.Documents(t.Context(), client, cjs)
	require.NoError(t, err, "the server answers after a panic")
	assert.Equal(t, map[string]string{"a.md": "aa"}, got)
	assert.Contains(t, logs.String(), `"msg":"graph api request panicked"`)
}

// blockingStore is a graph whose exports wait until release is closed,
// counting how many run at once.
type blockingStore struct {
	documentStore
	release          chan struct{}
	mu               sync.Mutex
	running, maxSeen int
}

func (s *blockingStore) Export(ctx context.Context, _ func(graph.Node) error, _ func(graph.Relationship) error) error {
	s.mu.Lock()
	s.running++
	s.maxSeen = max(s.maxSeen, s.running)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.running--
		s.mu.Unlock()
	}()
	select {
	case <-s.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *blockingStore) Stats(context.Context) (graph.Stats, error) {
	return graph.Stats{Nodes: map[string]int64{"Document": 1}}, nil
}

func (s *blockingStore) counts() (running, maxSeen int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running, s.maxSeen
}

// A burst of exports runs two at a time, the others waiting their turn;
// counts are answered meanwhile, and every export completes.
func TestExportsRunTwoAtATime(t *testing.T) {
	ns, nc, js := bustest.Provisioned(t)
	ctx, cancel := context.WithCancel(t.Context())
	st := &blockingStore{documentStore: documentStore{docs: map[string]string{"a.md": "aa"}}, release: make(chan struct{})}
	done := make(chan error, 1)
	go func() { done <- graphapi.Serve(ctx, nc, js, st, t.TempDir(), slog.New(slog.DiscardHandler)) }()
	t.Cleanup(func() {
		cancel()
		assert.NoError(t, <-done)
	})
	client, cjs := bustest.Connect(t, ns)
	testwait.Until(t, 10*time.Second, func() error {
		_, err := graphapi.Documents(t.Context(), client, cjs)
		return err // ErrNoServer until it serves
	})

	const burst = 5
	errs := make(chan error, burst)
	for range burst {
		go func() { errs <- graphapi.Export(t.Context(), client, cjs, "json", io.Discard) }()
	}
	testwait.Until(t, 10*time.Second, func() error {
		if running, _ := st.counts(); running < 2 {
			return fmt.Errorf("%d exports running", running)
		}
		return nil
	})
	stats, err := graphapi.Stats(t.Context(), client)
	require.NoError(t, err, "counts are answered while exports run")
	assert.Equal(t, int64(1), stats.Nodes["Document"])
	running, _ := st.counts()
	assert.Equal(t, 2, running, "the other exports wait")

	close(st.release)
	for range burst {
		require.NoError(t, <-errs)
	}
	_, maxSeen := st.counts()
	assert.Equal(t, 2, maxSeen)
}
