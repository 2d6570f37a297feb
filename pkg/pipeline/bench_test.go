package pipeline_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/bus"
	"github.com/docgraph/docgraph/pkg/pipeline"
)

// BenchmarkRunnerHop measures one hop: stream T_IN -> identity handler ->
// stream T_OUT, 1 KiB messages, each input acked only after its output's
// PubAck. Report: msgs/s.
//
//	go test -run '^$' -bench RunnerHop -benchtime 200000x ./pkg/pipeline/
func BenchmarkRunnerHop(b *testing.B) {
	benchHop(b, newEnv(b))
}

// BenchmarkRunnerHopFsync compares the hop with the server's default fsync
// (every 2 minutes) and with an fsync on every write (sync_always), the
// setting that survives power loss.
//
//	go test -run '^$' -bench RunnerHopFsync -benchtime 50000x ./pkg/pipeline/
func BenchmarkRunnerHopFsync(b *testing.B) {
	for _, tc := range []struct {
		name string
		cfg  bus.EmbeddedConfig
	}{
		{"default", bus.EmbeddedConfig{}},
		{"sync_always", bus.EmbeddedConfig{SyncAlways: true}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			benchHop(b, newEnvWith(b, tc.cfg))
		})
	}
}

func benchHop(b *testing.B, e *env) {
	js, err := jetstream.New(e.nc, jetstream.WithPublishAsyncMaxPending(4096))
	require.NoError(b, err)
	payload := make([]byte, 1024)
	for i := 0; i < b.N; i++ {
		m := nats.NewMsg("t.in")
		m.Data = payload
		m.Header.Set(pipeline.HeaderCorrelationID, "bench")
		if _, err := js.PublishMsgAsync(m); err != nil {
			b.Fatal(err)
		}
		if i%1000 == 999 { // stay within the async window, also when every write is fsynced
			<-js.PublishAsyncComplete()
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		b.Fatal("publish did not complete")
	}
	r, err := pipeline.NewRunner(pipeline.Config{
		Stage: "bench", Stream: "T_IN", Concurrency: 2, MaxAckPending: 20000, PullBatch: 1024, PublishWindow: 1024,
	}, js, identity, discardLogger(), e.metrics)
	require.NoError(b, err)
	b.SetBytes(1024)
	b.ResetTimer()
	start := time.Now()
	stop := e.run(b, r)
	waitFor(b, 10*time.Minute, func() error { return consumerDone(b, js, "T_IN", "bench") })
	elapsed := time.Since(start)
	b.StopTimer()
	stop()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	_ = context.Background()
}
