package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/bus"
)

// statusLine returns the line of `docgraph status` for stage on stream.
func statusLine(t *testing.T, url, stage, stream string) string {
	t.Helper()
	out := mustDocgraph(t, "status", "--nats", url)
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 2 && f[0] == stage && f[1] == stream {
			return l
		}
	}
	t.Fatalf("no status line for %s on %s:\n%s", stage, stream, out)
	return ""
}

func TestStatusShowsWhatEachStageDoes(t *testing.T) {
	n := startTestNATS(t)
	js := connect(t, n.url())
	d := newDeployment(t, n.url(), t.TempDir())
	w := d.start(bus.StageGraphWriter)
	w.waitReady(t)

	assert.Contains(t, statusLine(t, n.url(), bus.StageParser, bus.StreamFiles), "not started")
	assert.Contains(t, statusLine(t, n.url(), bus.StageGraphWriter, bus.StreamExtractions), "pulling")

	// A paused stage (its dependency is down) says so, with the time left.
	_, err := js.PauseConsumer(t.Context(), bus.StreamExtractions, bus.StageGraphWriter, time.Now().Add(time.Hour))
	require.NoError(t, err)
	assert.Regexp(t, `paused, (1h0m0s|59m\d+s) left`, statusLine(t, n.url(), bus.StageGraphWriter, bus.StreamExtractions))
	_, err = js.ResumeConsumer(t.Context(), bus.StreamExtractions, bus.StageGraphWriter)
	require.NoError(t, err)

	// Without its worker, the stage waits for one.
	w.stop(t)
	waitUntil(t, 60*time.Second, func() error {
		if l := statusLine(t, n.url(), bus.StageGraphWriter, bus.StreamExtractions); !strings.Contains(l, "no worker pulling") {
			return fmt.Errorf("status: %s", l)
		}
		return nil
	})
}
