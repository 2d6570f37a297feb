package bus_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/bus"
	"github.com/docgraph/docgraph/pkg/bus/bustest"
	"github.com/docgraph/docgraph/pkg/testwait"
)

// The high-volume streams get the shorter deduplication window; 0 falls
// back to the files stream's window. Provisioning again updates them.
func TestProvisionSetsDuplicateWindows(t *testing.T) {
	_, _, js := bustest.Provisioned(t)
	windows := func() map[string]time.Duration {
		return streamSettings(t, js, func(c jetstream.StreamConfig) time.Duration { return c.Duplicates })
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

// streamSettings returns one setting of each of docgraph's streams, by
// stream name.
func streamSettings[T any](t *testing.T, js jetstream.JetStream, get func(jetstream.StreamConfig) T) map[string]T {
	t.Helper()
	out := map[string]T{}
	for _, s := range bus.Streams {
		st, err := js.Stream(t.Context(), s.Name)
		require.NoError(t, err)
		out[s.Name] = get(st.CachedInfo().Config)
	}
	return out
}

// The chunk stream keeps its history (the extractor re-reads it when
// known names change) unless ChunksMaxAge bounds it; the other streams
// keep MaxAge, dead letters stay until purged.
func TestProvisionStreamHistory(t *testing.T) {
	_, _, js := bustest.Provisioned(t)
	ages := func() map[string]time.Duration {
		return streamSettings(t, js, func(c jetstream.StreamConfig) time.Duration { return c.MaxAge })
	}
	week := 7 * 24 * time.Hour
	assert.Equal(t, map[string]time.Duration{
		bus.StreamFiles: week, bus.StreamRecords: week, bus.StreamExtractions: week,
		bus.StreamChunks: 0, bus.StreamDLQ: 0,
	}, ages())

	topo := bus.DefaultTopology()
	topo.MaxAge, topo.ChunksMaxAge = time.Hour, 30*24*time.Hour
	require.NoError(t, bus.Provision(t.Context(), js, topo))
	assert.Equal(t, map[string]time.Duration{
		bus.StreamFiles: time.Hour, bus.StreamRecords: time.Hour, bus.StreamExtractions: time.Hour,
		bus.StreamChunks: 30 * 24 * time.Hour, bus.StreamDLQ: 0,
	}, ages())
}

// TestProvisionKeepExisting: an operator command's provisioning creates
// what is missing and leaves the configuration of existing streams and
// buckets alone, whatever its own defaults.
func TestProvisionKeepExisting(t *testing.T) {
	ns := bustest.NewServer(t)
	_, js := bustest.Connect(t, ns)
	system := bus.DefaultTopology()
	system.MaxAge, system.ChunksMaxAge = 720*time.Hour, 1440*time.Hour
	require.NoError(t, bus.Provision(t.Context(), js, system))
	_, err := js.KeyValue(t.Context(), bus.BucketGazetteer)
	require.NoError(t, err)
	require.NoError(t, js.DeleteKeyValue(t.Context(), bus.BucketGazetteer)) // one missing

	operator := bus.DefaultTopology()
	operator.MaxAge, operator.Duplicates, operator.KeepExisting = time.Hour, time.Minute, true
	require.NoError(t, bus.Provision(t.Context(), js, operator))
	for _, s := range bus.Streams {
		st, err := js.Stream(t.Context(), s.Name)
		require.NoError(t, err)
		switch s.Name {
		case bus.StreamDLQ:
		case bus.StreamChunks:
			assert.Equal(t, 1440*time.Hour, st.CachedInfo().Config.MaxAge, s.Name)
		default:
			assert.Equal(t, 720*time.Hour, st.CachedInfo().Config.MaxAge, s.Name)
		}
		assert.NotEqual(t, time.Minute, st.CachedInfo().Config.Duplicates, s.Name)
	}
	_, err = js.KeyValue(t.Context(), bus.BucketGazetteer)
	assert.NoError(t, err, "the missing bucket is created")

	// Three replicas on a single server: any stream, object store or
	// key-value bucket updated would fail.
	operator.Replicas = 3
	require.NoError(t, bus.Provision(t.Context(), js, operator), "nothing existing is updated")
	system.Replicas = 3
	require.Error(t, bus.Provision(t.Context(), js, system), "an update would fail here")
}

// Missed counts the messages that left a stream (here by its max age)
// before the consumer was delivered them; none for a new consumer, none
// once the consumer has been delivered a message after the gap.
func TestMissed(t *testing.T) {
	ns := bustest.NewServer(t)
	_, js := bustest.Connect(t, ns)
	ctx := t.Context()
	st, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "M", Subjects: []string{"m"}, MaxAge: time.Second})
	require.NoError(t, err)
	_, err = st.CreateConsumer(ctx, jetstream.ConsumerConfig{Durable: "stage", AckPolicy: jetstream.AckExplicitPolicy})
	require.NoError(t, err)
	publish := func(n int) {
		for range n {
			_, err := js.Publish(ctx, "m", []byte("x"))
			require.NoError(t, err)
		}
	}
	consume := func(n int) {
		cons, err := st.Consumer(ctx, "stage")
		require.NoError(t, err)
		batch, err := cons.Fetch(n, jetstream.FetchMaxWait(5*time.Second))
		require.NoError(t, err)
		got := 0
		for m := range batch.Messages() {
			require.NoError(t, m.DoubleAck(ctx))
			got++
		}
		require.Equal(t, n, got)
	}
	publish(5)
	n, err := bus.Missed(ctx, js, "M", "stage")
	require.NoError(t, err)
	assert.Zero(t, n, "a consumer delivered nothing yet starts at the first message")

	consume(2)
	testwait.Until(t, 30*time.Second, func() error {
		if n, err := bus.Missed(ctx, js, "M", "stage"); err != nil || n != 3 {
			return fmt.Errorf("missed %d (%v), want 3 once the stream has dropped them", n, err)
		}
		return nil
	})
	publish(1)
	consume(1)
	n, err = bus.Missed(ctx, js, "M", "stage")
	require.NoError(t, err)
	assert.Zero(t, n, "past the gap")

	_, err = bus.Missed(ctx, js, "M", "nobody")
	assert.ErrorContains(t, err, "consumer nobody on M")
}

// Provisioning again with the same settings changes nothing: no stream,
// object store or bucket is updated (every process provisions at start,
// and nats-server races a stream update against a consumer created on
// that stream); a changed setting updates what it applies to.
func TestProvisionUpdatesOnlyWhatDiffers(t *testing.T) {
	_, nc, js := bustest.Provisioned(t)
	var mu sync.Mutex
	var updated []string
	sub, err := nc.Subscribe("$JS.API.STREAM.*.>", func(m *nats.Msg) {
		if op := strings.Split(m.Subject, ".")[3]; op == "UPDATE" || op == "CREATE" {
			mu.Lock()
			updated = append(updated, m.Subject)
			mu.Unlock()
		}
	})
	require.NoError(t, err)
	defer sub.Unsubscribe() //nolint:errcheck // test cleanup
	require.NoError(t, nc.Flush())
	seen := func() []string {
		require.NoError(t, nc.Flush())
		mu.Lock()
		defer mu.Unlock()
		out := slices.Clone(updated)
		updated = nil
		slices.Sort(out)
		return out
	}

	require.NoError(t, bus.Provision(t.Context(), js, bus.DefaultTopology()))
	assert.Empty(t, seen(), "nothing updated")

	topo := bus.DefaultTopology()
	topo.MaxAge = 48 * time.Hour
	require.NoError(t, bus.Provision(t.Context(), js, topo))
	assert.Equal(t, []string{"$JS.API.STREAM.UPDATE." + bus.StreamExtractions, "$JS.API.STREAM.UPDATE." + bus.StreamFiles,
		"$JS.API.STREAM.UPDATE." + bus.StreamRecords}, seen())
}
