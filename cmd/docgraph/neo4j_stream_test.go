package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/bus"
)

// A Neo4j graph written through one files stream, then through a fresh
// one whose watcher has published more files than the graph's largest
// version before the graph writer starts (up starts its watcher next to a
// graph writer still waiting for Neo4j, or a watcher worker runs ahead):
// the versions of the earlier stream are forgotten all the same, and a
// file changed in between is written, not ignored as older than them.
func TestNeo4jFreshFilesStreamAheadOfTheGraphWriter(t *testing.T) {
	neo := neo4jArgs(t)
	in := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		require.NoError(t, os.WriteFile(filepath.Join(in, name), []byte("# "+name+"\n\n"+text+"\n"), 0o600))
	}
	write("b.md", "The review covered AACE-102.")
	first := t.TempDir()
	mustDocgraph(t, ingestArgs(first, append(neo, in)...)...)
	for i := range 3 { // b.md's version: 4
		write("b.md", fmt.Sprintf("Edit %d covered AACE-2%02d.", i, i))
		mustDocgraph(t, ingestArgs(first, append(neo, in)...)...)
	}

	// A fresh NATS: its watcher publishes b.md first, then more files
	// than the graph's largest version, before any graph writer runs.
	write("b.md", "The final edit covered AACE-777.")
	for i := range 6 {
		write(fmt.Sprintf("z%d.md", i), fmt.Sprintf("Filler %d.", i))
	}
	n := startTestNATS(t)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	var out, errOut bytes.Buffer
	go func() {
		done <- run(ctx, []string{"worker", bus.StageWatcher, "--nats", n.url(), "--watch", in, "--data", t.TempDir(),
			"--metrics-addr", "", "--watch.settle", "50ms"}, &out, &errOut, func(string) string { return "" })
	}()
	nc, err := nats.Connect(n.url())
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		st, err := js.Stream(t.Context(), bus.StreamFiles)
		if !assert.NoError(c, err) {
			return
		}
		info, err := st.Info(t.Context())
		if assert.NoError(c, err) {
			assert.GreaterOrEqual(c, info.State.Msgs, uint64(7), "files published")
		}
	}, 30*time.Second, 50*time.Millisecond)
	cancel()
	require.NoError(t, <-done, errOut.String())

	second := t.TempDir()
	mustDocgraph(t, ingestArgs(second, append(append(neo, "--nats", n.url()), in)...)...)
	got := mustDocgraph(t, append([]string{"graph", "export", "--data", second, "--format", "json", "--nats", n.url()}, neo...)...)
	assert.Contains(t, got, `"key":"AACE-777"`, "the change made between the runs is in the graph")
	assert.NotContains(t, got, `"key":"AACE-202"`, "the first run's last version of b.md is replaced")
}
