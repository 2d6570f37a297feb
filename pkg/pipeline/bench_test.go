package pipeline_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/pipeline"
)

// BenchmarkRunnerHop measures one hop: stream T_IN -> identity handler ->
// stream T_OUT, 1 KiB messages, each input acked only after its output's
// PubAck. Report: msgs/s.
//
//	go test -run '^$' -bench RunnerHop -benchtime 200000x ./pkg/pipeline/
func BenchmarkRunnerHop(b *testing.B) {
	e := newEnv(b)
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
