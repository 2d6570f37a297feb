package pipeline_test

import (
	"math/rand/v2"
	"strconv"
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
// PubAck. Report: msgs/s; BenchmarkHopBaseline is the same hop without the
// runner.
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
	js := prefill(b, e)
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
}

// BenchmarkHopBaseline is the same hop without the runner: the shortest
// nats.go program that does its work. One goroutine pulls and publishes
// each input's output asynchronously, into a window of 256 outputs; another
// acks the inputs in order once their output's PubAck is in. Run beside
// BenchmarkRunnerHop, it tells the runner's own cost from the machine's,
// which varies by a third from day to day. msg_id sets a Nats-Msg-Id on
// every output, as the runner does (the server then keeps each ID for
// deduplication); no_msg_id does not.
//
//	go test -run '^$' -bench 'RunnerHop$|HopBaseline' -benchtime 200000x ./pkg/pipeline/
func BenchmarkHopBaseline(b *testing.B) {
	for _, msgID := range []bool{true, false} {
		name := "no_msg_id"
		if msgID {
			name = "msg_id"
		}
		b.Run(name, func(b *testing.B) {
			e := newEnv(b)
			js := prefill(b, e)
			ctx := b.Context()
			cons, err := js.CreateOrUpdateConsumer(ctx, "T_IN", jetstream.ConsumerConfig{
				Durable: "baseline", AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 20000,
			})
			require.NoError(b, err)
			b.SetBytes(1024)
			b.ResetTimer()
			start := time.Now()
			it, err := cons.Messages(jetstream.PullMaxMessages(1024))
			require.NoError(b, err)
			defer it.Stop()
			type pending struct {
				in  jetstream.Msg
				fut jetstream.PubAckFuture
			}
			window := make(chan pending, 256)
			acked := make(chan error, 1)
			go func() {
				var first error
				for p := range window {
					select {
					case <-p.fut.Ok():
						if err := p.in.Ack(); err != nil && first == nil {
							first = err
						}
					case err := <-p.fut.Err():
						if first == nil {
							first = err
						}
					}
				}
				acked <- first
			}()
			for range b.N {
				in, err := it.Next()
				require.NoError(b, err)
				out := nats.NewMsg("t.out")
				out.Data = in.Data()
				out.Header = in.Headers()
				if msgID {
					md, err := in.Metadata()
					require.NoError(b, err)
					out.Header.Set(pipeline.HeaderMsgID, "baseline:"+strconv.FormatUint(md.Sequence.Stream, 10))
				}
				fut, err := js.PublishMsgAsync(out)
				require.NoError(b, err)
				window <- pending{in: in, fut: fut}
			}
			close(window)
			require.NoError(b, <-acked)
			waitFor(b, 10*time.Minute, func() error { return consumerDone(b, js, "T_IN", "baseline") })
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
		})
	}
}

// prefill stores b.N inputs of 1 KiB in T_IN and returns a JetStream
// context with room for the hop's asynchronous publishes.
func prefill(b *testing.B, e *env) jetstream.JetStream {
	b.Helper()
	js, err := jetstream.New(e.nc, jetstream.WithPublishAsyncMaxPending(4096))
	require.NoError(b, err)
	// Random bytes, which do not compress: the runner tries and stores them
	// as they are, so that the hop moves the same bytes as the baseline.
	payload := make([]byte, 1024)
	_, _ = rand.NewChaCha8([32]byte{}).Read(payload)
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
	return js
}
