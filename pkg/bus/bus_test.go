package bus_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/bus"
	"github.com/docgraph/docgraph/pkg/bus/bustest"
)

// The high-volume streams get the shorter deduplication window; 0 falls
// back to the files stream's window. Provisioning again updates them.
func TestProvisionSetsDuplicateWindows(t *testing.T) {
	_, _, js := bustest.Provisioned(t)
	windows := func() map[string]time.Duration {
		out := map[string]time.Duration{}
		for _, s := range bus.Streams {
			st, err := js.Stream(t.Context(), s.Name)
			require.NoError(t, err)
			out[s.Name] = st.CachedInfo().Config.Duplicates
		}
		return out
	}
	assert.Equal(t, map[string]time.Duration{
		bus.StreamFiles: 10 * time.Minute, bus.StreamDLQ: 10 * time.Minute,
		bus.StreamChunks: 2 * time.Minute, bus.StreamRecords: 2 * time.Minute, bus.StreamExtractions: 2 * time.Minute,
	}, windows())

	topo := bus.DefaultTopology()
	topo.Duplicates, topo.DataDuplicates = 5*time.Minute, 0
	require.NoError(t, bus.Provision(t.Context(), js, topo))
	for name, d := range windows() {
		assert.Equal(t, 5*time.Minute, d, name)
	}
}
