package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/bus"
	"github.com/docgraph/docgraph/pkg/bus/bustest"
	"github.com/docgraph/docgraph/pkg/logging"
	"github.com/docgraph/docgraph/pkg/pipeline"
	"github.com/docgraph/docgraph/pkg/testwait"
)

type env struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	metrics *pipeline.Metrics
	reg     *prometheus.Registry
}

func newEnv(t testing.TB) *env {
	t.Helper()
	_, nc, js := bustest.Provisioned(t)
	return setupEnv(t, nc, js)
}

func newEnvWith(t testing.TB, cfg bus.EmbeddedConfig) *env {
	t.Helper()
	ns := bustest.NewServerWith(t, cfg)
	nc, js := bustest.Connect(t, ns)
	require.NoError(t, bus.Provision(context.Background(), js, bus.DefaultTopology()))
	return setupEnv(t, nc, js)
}

func setupEnv(t testing.TB, nc *nats.Conn, js jetstream.JetStream) *env {
	t.Helper()
	ctx := context.Background()
	for _, s := range []jetstream.StreamConfig{
		{Name: "T_IN", Subjects: []string{"t.in"}, Storage: jetstream.FileStorage},
		{Name: "T_OUT", Subjects: []string{"t.out"}, Storage: jetstream.FileStorage},
	} {
		_, err := js.CreateOrUpdateStream(ctx, s)
		require.NoError(t, err)
	}
	reg := prometheus.NewRegistry()
	m, err := pipeline.NewMetrics(reg)
	require.NoError(t, err)
	return &env{nc: nc, js: js, metrics: m, reg: reg}
}

func (e *env) publish(t testing.TB, n int, cid string) {
	t.Helper()
	for i := range n {
		m := nats.NewMsg("t.in")
		m.Data = []byte(strconv.Itoa(i))
		m.Header.Set(pipeline.HeaderCorrelationID, cid+"-"+strconv.Itoa(i))
		_, err := e.js.PublishMsg(context.Background(), m)
		require.NoError(t, err)
	}
}

func (e *env) start(t testing.TB, cfg pipeline.Config, h pipeline.StreamHandler) (*pipeline.Runner, func()) {
	t.Helper()
	if cfg.Stage == "" {
		cfg.Stage = "test"
	}
	cfg.Stream = "T_IN"
	r, err := pipeline.NewRunner(cfg, e.js, h, logging.Discard(), e.metrics)
	require.NoError(t, err)
	return r, e.run(t, r)
}

func (e *env) run(t testing.TB, r *pipeline.Runner) func() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	stop := func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err)
		case <-time.After(30 * time.Second):
			t.Error("runner did not stop")
		}
	}
	var once sync.Once
	stopOnce := func() { once.Do(stop) }
	t.Cleanup(stopOnce)
	return stopOnce
}

// waitFor polls cond until it holds or the timeout passes.
var waitFor = testwait.Until

// waitCounted waits until the runner has counted want outcomes of a stage:
// it counts an outcome just after acking, so the server can report a
// message done a moment before the count.
func (e *env) waitCounted(t testing.TB, stage, outcome string, want float64) {
	t.Helper()
	waitFor(t, 10*time.Second, func() error {
		if got := testutil.ToFloat64(e.metrics.MessagesCounter(stage, outcome)); got != want {
			return fmt.Errorf("%s %s: %v counted, want %v", stage, outcome, got, want)
		}
		return nil
	})
}

func streamMsgs(t testing.TB, js jetstream.JetStream, stream string) uint64 {
	t.Helper()
	s, err := js.Stream(context.Background(), stream)
	require.NoError(t, err)
	info, err := s.Info(context.Background())
	require.NoError(t, err)
	return info.State.Msgs
}

func consumerInfo(t testing.TB, js jetstream.JetStream, stream, durable string) *jetstream.ConsumerInfo {
	t.Helper()
	c, err := js.Consumer(context.Background(), stream, durable)
	require.NoError(t, err)
	info, err := c.Info(context.Background())
	require.NoError(t, err)
	return info
}

func consumerDone(t testing.TB, js jetstream.JetStream, stream, durable string) error {
	c, err := js.Consumer(context.Background(), stream, durable)
	if err != nil {
		return err
	}
	info, err := c.Info(context.Background())
	if err != nil {
		return err
	}
	si, err := js.Stream(context.Background(), stream)
	if err != nil {
		return err
	}
	sinfo, err := si.Info(context.Background())
	if err != nil {
		return err
	}
	if info.NumPending != 0 || info.NumAckPending != 0 || info.Delivered.Stream < sinfo.State.LastSeq {
		return fmt.Errorf("pending %d, ack pending %d, delivered up to %d of %d",
			info.NumPending, info.NumAckPending, info.Delivered.Stream, sinfo.State.LastSeq)
	}
	return nil
}

func identity(_ context.Context, in pipeline.Message, emit pipeline.Emit) error {
	return emit(pipeline.Message{Subject: "t.out", Data: in.Data})
}

// identityUnlessDown is identity while down is false; while it is true its
// dependency is unavailable.
func identityUnlessDown(down *atomic.Bool) pipeline.StreamHandler {
	return func(ctx context.Context, in pipeline.Message, emit pipeline.Emit) error {
		if down.Load() {
			return pipeline.Unavailable(errors.New("graph store down"))
		}
		return identity(ctx, in, emit)
	}
}

func TestRunnerAcksAfterPublishingWithCorrelationID(t *testing.T) {
	e := newEnv(t)
	e.publish(t, 20, "cid")
	e.start(t, pipeline.Config{Concurrency: 3}, identity)

	waitFor(t, 10*time.Second, func() error { return consumerDone(t, e.js, "T_IN", "test") })
	require.EqualValues(t, 20, streamMsgs(t, e.js, "T_OUT"))
	e.waitCounted(t, "test", pipeline.OutcomeAck, 20)

	s, err := e.js.Stream(context.Background(), "T_OUT")
	require.NoError(t, err)
	seen := map[string]bool{}
	for seq := uint64(1); seq <= 20; seq++ {
		m, err := s.GetMsg(context.Background(), seq)
		require.NoError(t, err)
		cid := m.Header.Get(pipeline.HeaderCorrelationID)
		assert.Equal(t, "cid-"+string(m.Data), cid, "output keeps its input's correlation ID")
		id := m.Header.Get(pipeline.HeaderMsgID)
		assert.Regexp(t, `^test:[A-Za-z0-9_-]{22}$`, id, "the stage and a digest of the output's ID")
		assert.False(t, seen[id], "msg ids are unique")
		seen[id] = true
	}
}

func TestOutputMsgID(t *testing.T) {
	a := pipeline.OutputMsgID("parser", "0123abcd:7@1732000000000000000")
	assert.Equal(t, a, pipeline.OutputMsgID("parser", "0123abcd:7@1732000000000000000"), "deterministic")
	assert.NotEqual(t, a, pipeline.OutputMsgID("parser", "0123abcd:7@1732000000000000001"))
	assert.NotEqual(t, a, pipeline.OutputMsgID("extractor", "0123abcd:7@1732000000000000000"))
	assert.Len(t, a, len("parser:")+22)
}

func TestRunnerRedeliveryIsDeduplicated(t *testing.T) {
	e := newEnv(t)
	e.publish(t, 1, "dup")
	var calls atomic.Int32
	obs := &countObserver{finished: func(pipeline.Outcome) {}}
	// The first attempt publishes its outputs and then fails: the retry
	// publishes them again with the same Nats-Msg-Id, which JetStream drops.
	r, err := pipeline.NewRunner(pipeline.Config{Stage: "test", Stream: "T_IN", Backoff: []time.Duration{10 * time.Millisecond}}, e.js, func(ctx context.Context, in pipeline.Message, emit pipeline.Emit) error {
		for i := range 3 {
			if err := emit(pipeline.Message{Subject: "t.out", Data: []byte(strconv.Itoa(i))}); err != nil {
				return err
			}
		}
		if calls.Add(1) == 1 {
			return errors.New("transient")
		}
		return nil
	}, logging.Discard(), e.metrics)
	require.NoError(t, err)
	r.Observe(obs)
	e.run(t, r)
	waitFor(t, 10*time.Second, func() error { return consumerDone(t, e.js, "T_IN", "test") })
	assert.EqualValues(t, 2, calls.Load())
	assert.EqualValues(t, 6, obs.emitted.Load())
	assert.EqualValues(t, 3, obs.dropped.Load(), "the retry's outputs were duplicates")
	assert.EqualValues(t, 3, streamMsgs(t, e.js, "T_OUT"), "redelivered outputs are deduplicated")
	assert.EqualValues(t, 1, testutil.ToFloat64(e.metrics.MessagesCounter("test", pipeline.OutcomeNak)))
}

func dlqMessages(t testing.TB, js jetstream.JetStream) []*jetstream.RawStreamMsg {
	t.Helper()
	s, err := js.Stream(context.Background(), bus.StreamDLQ)
	require.NoError(t, err)
	info, err := s.Info(context.Background())
	require.NoError(t, err)
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(context.Background(), seq)
		if err == nil {
			out = append(out, m)
		}
	}
	return out
}

func TestRunnerDeadLetters(t *testing.T) {
	tests := []struct {
		name      string
		handler   pipeline.StreamHandler
		wantClass string
		wantErr   string
		wantAtt   string
	}{
		{
			name: "permanent error",
			handler: func(context.Context, pipeline.Message, pipeline.Emit) error {
				return fmt.Errorf("parse x.txt: %w", pipeline.Permanent(errors.New("not text")))
			},
			wantClass: pipeline.ClassPermanent, wantErr: "parse x.txt: not text", wantAtt: "1",
		},
		{
			name: "retries exhausted",
			handler: func(context.Context, pipeline.Message, pipeline.Emit) error {
				return errors.New("database down")
			},
			wantClass: pipeline.ClassExhausted, wantErr: "database down", wantAtt: "3",
		},
		{
			name: "panic",
			handler: func(_ context.Context, in pipeline.Message, _ pipeline.Emit) error {
				var m map[string]int
				m[string(in.Data)] = 1 // nil map write
				return nil
			},
			wantClass: pipeline.ClassPermanent, wantErr: "panic: assignment to entry in nil map", wantAtt: "1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.publish(t, 1, "bad")
			e.start(t, pipeline.Config{MaxDeliver: 3, Backoff: []time.Duration{time.Millisecond}}, tt.handler)
			var dl []*jetstream.RawStreamMsg
			waitFor(t, 10*time.Second, func() error {
				dl = dlqMessages(t, e.js)
				if len(dl) == 0 {
					return errors.New("no dead letter yet")
				}
				return consumerDone(t, e.js, "T_IN", "test")
			})
			require.Len(t, dl, 1)
			m := dl[0]
			assert.Equal(t, "docgraph.dlq.test", m.Subject)
			assert.Equal(t, []byte("0"), m.Data, "payload is the original")
			assert.Equal(t, tt.wantClass, m.Header.Get(pipeline.HeaderErrorClass))
			assert.Contains(t, m.Header.Get(pipeline.HeaderError), tt.wantErr)
			assert.Equal(t, tt.wantAtt, m.Header.Get(pipeline.HeaderAttempts))
			assert.Equal(t, "t.in", m.Header.Get(pipeline.HeaderOrigSubject))
			assert.Equal(t, "T_IN", m.Header.Get(pipeline.HeaderOrigStream))
			assert.Equal(t, "1", m.Header.Get(pipeline.HeaderOrigSeq))
			assert.Equal(t, "bad-0", m.Header.Get(pipeline.HeaderCorrelationID))
			assert.Equal(t, "test", m.Header.Get(pipeline.HeaderStage))
		})
	}
}

func TestRunnerNoAckBeforeOutputsStored(t *testing.T) {
	e := newEnv(t)
	e.publish(t, 1, "noack")
	// No stream stores "t.nowhere": the PubAck fails, so the input must not
	// be acked; after MaxDeliver it is dead-lettered, never dropped.
	e.start(t, pipeline.Config{MaxDeliver: 2, Backoff: []time.Duration{time.Millisecond}},
		func(_ context.Context, in pipeline.Message, emit pipeline.Emit) error {
			return emit(pipeline.Message{Subject: "t.nowhere", Data: in.Data})
		})
	// The dead letter is stored before the runner counts its outcome.
	waitFor(t, 20*time.Second, func() error {
		if len(dlqMessages(t, e.js)) != 1 {
			return errors.New("not dead-lettered yet")
		}
		if n := testutil.ToFloat64(e.metrics.MessagesCounter("test", pipeline.OutcomeTerm)); n != 1 {
			return fmt.Errorf("%v terms counted", n)
		}
		return nil
	})
	assert.EqualValues(t, 0, testutil.ToFloat64(e.metrics.MessagesCounter("test", pipeline.OutcomeAck)))
}

func TestRunnerObserveAccountsForEveryMessage(t *testing.T) {
	e := newEnv(t)
	e.publish(t, 30, "acct")
	var acked, termed atomic.Int32
	obs := &countObserver{}
	r, err := pipeline.NewRunner(pipeline.Config{Stage: "test", Stream: "T_IN", Concurrency: 4}, e.js,
		func(_ context.Context, in pipeline.Message, emit pipeline.Emit) error {
			n, _ := strconv.Atoi(string(in.Data))
			if n%10 == 3 {
				return pipeline.Permanent(errors.New("poison"))
			}
			return emit(pipeline.Message{Subject: "t.out", Data: in.Data})
		}, logging.Discard(), e.metrics)
	require.NoError(t, err)
	obs.finished = func(o pipeline.Outcome) {
		switch o.Result {
		case pipeline.OutcomeAck:
			assert.Equal(t, 1, o.Outputs)
			acked.Add(1)
		case pipeline.OutcomeTerm:
			termed.Add(1)
		}
	}
	r.Observe(obs)
	e.run(t, r)
	waitFor(t, 10*time.Second, func() error {
		if acked.Load()+termed.Load() != 30 {
			return fmt.Errorf("%d acked + %d termed", acked.Load(), termed.Load())
		}
		return nil
	})
	assert.EqualValues(t, 27, acked.Load())
	assert.EqualValues(t, 3, termed.Load())
	assert.Len(t, dlqMessages(t, e.js), 3)
	assert.EqualValues(t, 27, obs.emitted.Load())
	assert.EqualValues(t, 0, obs.dropped.Load())
}

type countObserver struct {
	emitted, dropped atomic.Int32
	finished         func(pipeline.Outcome)
}

func (c *countObserver) Emitted(string)              { c.emitted.Add(1) }
func (c *countObserver) Dropped(string)              { c.dropped.Add(1) }
func (c *countObserver) Finished(o pipeline.Outcome) { c.finished(o) }

func TestRunnerShutdownFinishesInFlightWork(t *testing.T) {
	e := newEnv(t)
	e.publish(t, 1, "slow")
	started := make(chan struct{})
	release := make(chan struct{})
	_, stop := e.start(t, pipeline.Config{}, func(ctx context.Context, in pipeline.Message, emit pipeline.Emit) error {
		close(started)
		<-release
		return emit(pipeline.Message{Subject: "t.out", Data: in.Data})
	})
	<-started
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	select {
	case <-stopped:
		t.Fatal("runner stopped before its in-flight message finished")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	<-stopped
	assert.EqualValues(t, 1, streamMsgs(t, e.js, "T_OUT"))
	require.NoError(t, consumerDone(t, e.js, "T_IN", "test"))
}

func TestRunnerHeartbeatKeepsSlowWork(t *testing.T) {
	e := newEnv(t)
	e.publish(t, 1, "hb")
	var calls atomic.Int32
	release := make(chan struct{})
	e.start(t, pipeline.Config{AckWait: 300 * time.Millisecond}, func(ctx context.Context, in pipeline.Message, emit pipeline.Emit) error {
		calls.Add(1)
		<-release
		return emit(pipeline.Message{Subject: "t.out", Data: in.Data})
	})
	// Wait well past AckWait: without InProgress the server would redeliver.
	deadline := time.Now().Add(1200 * time.Millisecond)
	waitFor(t, 5*time.Second, func() error {
		if time.Now().Before(deadline) {
			return errors.New("waiting")
		}
		return nil
	})
	close(release)
	waitFor(t, 5*time.Second, func() error { return consumerDone(t, e.js, "T_IN", "test") })
	assert.EqualValues(t, 1, calls.Load(), "no redelivery while the handler works")
}

// A batch handler that outlasts AckWait keeps every message of its batch:
// the heartbeats go on for each of them until it is acked.
func TestRunnerHeartbeatKeepsSlowBatch(t *testing.T) {
	e := newEnv(t)
	e.publish(t, 10, "hb")
	var calls atomic.Int32
	r, err := pipeline.NewBatchRunner(pipeline.Config{
		Stage: "writer", Stream: "T_IN", AckWait: 300 * time.Millisecond,
		BatchSize: func(uint64) int { return 10 }, BatchMaxWait: time.Second,
	}, e.js, func(ctx context.Context, in []pipeline.Message) []error {
		calls.Add(int32(len(in)))
		// Well past AckWait: without InProgress the server would redeliver.
		select {
		case <-time.After(1200 * time.Millisecond):
		case <-ctx.Done():
		}
		return make([]error, len(in))
	}, logging.Discard(), e.metrics)
	require.NoError(t, err)
	e.run(t, r)
	waitFor(t, 20*time.Second, func() error { return consumerDone(t, e.js, "T_IN", "writer") })
	e.waitCounted(t, "writer", pipeline.OutcomeAck, 10)
	assert.EqualValues(t, 10, calls.Load(), "no message handled twice")
	c, err := e.js.Consumer(t.Context(), "T_IN", "writer")
	require.NoError(t, err)
	info, err := c.Info(t.Context())
	require.NoError(t, err)
	assert.EqualValues(t, 0, info.NumRedelivered, "no redelivery while the batches ran")
}

// A stage slower than its pull buffer: the messages waiting there outlast
// AckWait and the server redelivers them, the copies queueing behind the
// originals. No copy is handled again, and none is dead-lettered for its
// delivery count while its original was handled.
func TestRunnerDropsCopiesOfMessagesItHandled(t *testing.T) {
	e := newEnv(t)
	const n = 60
	e.publish(t, n, "copy")
	var calls atomic.Int32
	e.start(t, pipeline.Config{AckWait: 300 * time.Millisecond, Concurrency: 2, MaxDeliver: 3},
		func(ctx context.Context, in pipeline.Message, emit pipeline.Emit) error {
			calls.Add(1)
			select { // the work of a slow stage: 40 messages/s
			case <-time.After(50 * time.Millisecond):
			case <-ctx.Done():
				return ctx.Err()
			}
			return emit(pipeline.Message{Subject: "t.out", Data: in.Data})
		})
	waitFor(t, 30*time.Second, func() error {
		if err := consumerDone(t, e.js, "T_IN", "test"); err != nil {
			return err
		}
		if c := testutil.ToFloat64(e.metrics.CopiesCounter("test")); c < 1 {
			return errors.New("no copy seen yet")
		}
		return nil
	})
	assert.EqualValues(t, n, calls.Load(), "each message handled once")
	e.waitCounted(t, "test", pipeline.OutcomeAck, n)
	assert.Zero(t, testutil.ToFloat64(e.metrics.MessagesCounter("test", pipeline.OutcomeTerm)), "nothing dead-lettered")
	assert.EqualValues(t, n, streamMsgs(t, e.js, "T_OUT"))
}

func TestRunnerBatch(t *testing.T) {
	e := newEnv(t)
	e.publish(t, 50, "batch")
	var sizes []int
	var mu sync.Mutex
	r, err := pipeline.NewBatchRunner(pipeline.Config{
		Stage: "writer", Stream: "T_IN",
		BatchSize:    func(uint64) int { return 16 },
		BatchMaxWait: 20 * time.Millisecond,
		Backoff:      []time.Duration{time.Millisecond},
	}, e.js, func(_ context.Context, in []pipeline.Message) []error {
		mu.Lock()
		sizes = append(sizes, len(in))
		mu.Unlock()
		errs := make([]error, len(in))
		for i, m := range in {
			if string(m.Data) == "7" {
				errs[i] = pipeline.Permanent(errors.New("bad row"))
			}
			if string(m.Data) == "9" {
				panic("boom")
			}
		}
		return errs
	}, logging.Discard(), e.metrics)
	require.NoError(t, err)
	e.run(t, r)
	waitFor(t, 10*time.Second, func() error { return consumerDone(t, e.js, "T_IN", "writer") })
	e.waitCounted(t, "writer", pipeline.OutcomeAck, 48)
	e.waitCounted(t, "writer", pipeline.OutcomeTerm, 2)
	mu.Lock()
	defer mu.Unlock()
	for _, s := range sizes {
		assert.LessOrEqual(t, s, 16)
	}
}

func TestNewRunnerValidates(t *testing.T) {
	_, err := pipeline.NewRunner(pipeline.Config{}, nil, identity, logging.Discard(), nil)
	require.Error(t, err)
}

func discardLogger() *slog.Logger { return logging.Discard() }

func TestRunnerHoldsMessagesDuringAnOutage(t *testing.T) {
	tests := []struct {
		name  string
		batch bool
	}{{"stream handler", false}, {"batch handler", true}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.publish(t, 5, "outage")
			var down atomic.Bool
			down.Store(true)
			var delivered sync.Map
			cfg := pipeline.Config{Stage: "test", Stream: "T_IN", MaxDeliver: 2, Backoff: []time.Duration{time.Millisecond}}
			var r *pipeline.Runner
			var err error
			if tt.batch {
				r, err = pipeline.NewBatchRunner(cfg, e.js, func(_ context.Context, in []pipeline.Message) []error {
					errs := make([]error, len(in))
					for i, m := range in {
						delivered.Store(string(m.Data), m.Delivered)
						if down.Load() {
							errs[i] = pipeline.Unavailable(errors.New("graph store down"))
						}
					}
					return errs
				}, logging.Discard(), e.metrics)
			} else {
				r, err = pipeline.NewRunner(cfg, e.js, func(ctx context.Context, m pipeline.Message, emit pipeline.Emit) error {
					delivered.Store(string(m.Data), m.Delivered)
					return identityUnlessDown(&down)(ctx, m, emit)
				}, logging.Discard(), e.metrics)
			}
			require.NoError(t, err)
			e.run(t, r)
			waitFor(t, 10*time.Second, func() error {
				if !r.Paused() {
					return errors.New("not paused yet")
				}
				c, err := e.js.Consumer(context.Background(), "T_IN", "test")
				if err != nil {
					return err
				}
				info, err := c.Info(context.Background())
				if err != nil {
					return err
				}
				if !info.Paused {
					return errors.New("consumer not paused on the server")
				}
				return nil
			})
			down.Store(false)
			waitFor(t, 20*time.Second, func() error { return consumerDone(t, e.js, "T_IN", "test") })
			assert.False(t, r.Paused())
			assert.Empty(t, dlqMessages(t, e.js), "an outage dead-letters nothing")
			e.waitCounted(t, "test", pipeline.OutcomeAck, 5)
			assert.EqualValues(t, 0, testutil.ToFloat64(e.metrics.MessagesCounter("test", pipeline.OutcomeNak)))
			delivered.Range(func(k, v any) bool {
				assert.LessOrEqual(t, v.(uint64), uint64(1), "message %s was redelivered during the outage", k)
				return true
			})
		})
	}
}

func TestRunnerShutdownReturnsBufferedMessages(t *testing.T) {
	e := newEnv(t)
	e.publish(t, 300, "buffered")
	started := make(chan struct{}, 1)
	r, err := pipeline.NewBatchRunner(pipeline.Config{
		Stage: "writer", Stream: "T_IN", PullBatch: 256,
		BatchSize: func(uint64) int { return 8 }, BatchMaxWait: time.Millisecond,
	}, e.js, func(_ context.Context, in []pipeline.Message) []error {
		select {
		case started <- struct{}{}:
		default:
		}
		return nil
	}, logging.Discard(), e.metrics)
	require.NoError(t, err)
	stop := e.run(t, r)
	<-started
	stop()
	// A restart gets the returned messages at once, not after AckWait.
	var handled atomic.Int32
	r2, err := pipeline.NewBatchRunner(pipeline.Config{
		Stage: "writer", Stream: "T_IN", AckWait: time.Minute,
		BatchSize: func(uint64) int { return 64 }, BatchMaxWait: time.Millisecond,
	}, e.js, func(_ context.Context, in []pipeline.Message) []error {
		handled.Add(int32(len(in)))
		for _, m := range in {
			assert.LessOrEqual(t, m.Delivered, uint64(2), "returning a message costs at most one delivery")
		}
		return nil
	}, logging.Discard(), e.metrics)
	require.NoError(t, err)
	e.run(t, r2)
	waitFor(t, 10*time.Second, func() error { return consumerDone(t, e.js, "T_IN", "writer") })
	assert.Positive(t, handled.Load())
}

func TestRunnerShutdownReturnsBufferedMessagesStream(t *testing.T) {
	e := newEnv(t)
	e.publish(t, 300, "buffered")
	var n atomic.Int32
	release := make(chan struct{})
	r, err := pipeline.NewRunner(pipeline.Config{Stage: "ex", Stream: "T_IN", Concurrency: 2},
		e.js, func(_ context.Context, in pipeline.Message, emit pipeline.Emit) error {
			if n.Add(1) > 20 {
				<-release
			}
			return emit(pipeline.Message{Subject: "t.out", Data: in.Data})
		}, logging.Discard(), e.metrics)
	require.NoError(t, err)
	stop := e.run(t, r)
	waitFor(t, 5*time.Second, func() error {
		if n.Load() < 22 {
			return errors.New("not yet")
		}
		return nil
	})
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	close(release) // the handlers in flight finish while the runner stops
	<-stopped
	r2, err := pipeline.NewRunner(pipeline.Config{Stage: "ex", Stream: "T_IN", AckWait: time.Minute},
		e.js, func(_ context.Context, in pipeline.Message, emit pipeline.Emit) error {
			assert.LessOrEqual(t, in.Delivered, uint64(2))
			return emit(pipeline.Message{Subject: "t.out", Data: in.Data})
		}, logging.Discard(), e.metrics)
	require.NoError(t, err)
	e.run(t, r2)
	waitFor(t, 10*time.Second, func() error { return consumerDone(t, e.js, "T_IN", "ex") })
}

// A runner says it consumes only once its durable consumer exists and it
// pulls: a process reports ready (and a replica takes its share) only then.
func TestRunnerConsumingOnceItPulls(t *testing.T) {
	e := newEnv(t)
	r, err := pipeline.NewRunner(pipeline.Config{Stage: "test", Stream: "T_IN"}, e.js, identity, logging.Discard(), e.metrics)
	require.NoError(t, err)
	select {
	case <-r.Consuming():
		t.Fatal("consuming before Run")
	default:
	}
	_, err = e.js.Consumer(t.Context(), "T_IN", "test")
	require.ErrorIs(t, err, jetstream.ErrConsumerNotFound)

	e.run(t, r)
	select {
	case <-r.Consuming():
	case <-time.After(10 * time.Second):
		t.Fatal("not consuming 10 s after Run")
	}
	_, err = e.js.Consumer(t.Context(), "T_IN", "test")
	require.NoError(t, err, "the consumer exists once the runner says it consumes")
	e.publish(t, 3, "cid")
	waitFor(t, 10*time.Second, func() error { return consumerDone(t, e.js, "T_IN", "test") })
}

// failingResume is the real JetStream with its first resumes failing, as
// when NATS itself stumbles just as the stage's dependency comes back.
type failingResume struct {
	jetstream.JetStream
	fail atomic.Int32 // resumes still to fail
}

// runPaused runs a runner whose dependency is down and returns it once it
// has paused its consumer over a first message; down brings the
// dependency back.
func runPaused(t *testing.T, e *env, js jetstream.JetStream, cfg pipeline.Config) (r *pipeline.Runner, down *atomic.Bool) {
	t.Helper()
	down = new(atomic.Bool)
	down.Store(true)
	cfg.Stage, cfg.Stream = "test", "T_IN"
	r, err := pipeline.NewRunner(cfg, js, identityUnlessDown(down), logging.Discard(), e.metrics)
	require.NoError(t, err)
	e.run(t, r)
	e.publish(t, 1, "first")
	waitFor(t, 10*time.Second, func() error {
		if !r.Paused() {
			return errors.New("not paused yet")
		}
		return nil
	})
	return r, down
}

// PauseConsumer fails the resumes: the runner resumes by a pause that
// runs out at once (a pause for an outage lasts minutes).
func (f *failingResume) PauseConsumer(ctx context.Context, stream, consumer string, until time.Time) (*jetstream.ConsumerPauseResponse, error) {
	if time.Until(until) < time.Minute && f.fail.Add(-1) >= 0 {
		return nil, errors.New("nats: timeout")
	}
	return f.JetStream.PauseConsumer(ctx, stream, consumer, until)
}

func TestRunnerRetriesAFailedResume(t *testing.T) {
	e := newEnv(t)
	js := &failingResume{JetStream: e.js}
	js.fail.Store(2)
	r, down := runPaused(t, e, js, pipeline.Config{})
	down.Store(false)
	waitFor(t, 10*time.Second, func() error { return consumerDone(t, e.js, "T_IN", "test") })
	waitFor(t, 10*time.Second, func() error {
		if js.fail.Load() > -1 {
			return errors.New("the failed resume was not tried again")
		}
		return nil
	})

	// The consumer is resumed on the server despite the failed attempts:
	// later messages are delivered.
	e.publish(t, 3, "later")
	waitFor(t, 20*time.Second, func() error {
		if err := consumerDone(t, e.js, "T_IN", "test"); err != nil {
			return err
		}
		if n := streamMsgs(t, e.js, "T_OUT"); n != 4 {
			return fmt.Errorf("%d outputs", n)
		}
		return nil
	})
	assert.False(t, r.Paused())
}

// Messages stored while the consumer was paused are delivered as soon as
// the stage recovers, not when the runner's waiting pull requests expire
// (the server does not wake them on an explicit resume: 15 s here).
func TestRunnerDeliversAtOnceAfterAnOutage(t *testing.T) {
	e := newEnv(t)
	before := time.Now()
	r, down := runPaused(t, e, e.js, pipeline.Config{})
	e.publish(t, 3, "during")
	assert.True(t, r.Paused())
	paused, since, cause := r.Outage()
	assert.True(t, paused)
	assert.WithinRange(t, since, before, time.Now())
	assert.ErrorContains(t, cause, "graph store down", "the outage names what it waits for")
	// The messages stored during the pause reach the server's consumer
	// (pending, not delivered) before the dependency comes back.
	waitFor(t, 10*time.Second, func() error {
		if n := consumerInfo(t, e.js, "T_IN", "test").NumPending; n != 3 {
			return fmt.Errorf("%d pending", n)
		}
		return nil
	})
	down.Store(false)
	waitFor(t, 10*time.Second, func() error { return consumerDone(t, e.js, "T_IN", "test") })
	assert.EqualValues(t, 4, streamMsgs(t, e.js, "T_OUT"))
	assert.False(t, consumerInfo(t, e.js, "T_IN", "test").Paused, "the consumer is no longer paused on the server")
	paused, _, cause = r.Outage()
	assert.False(t, paused)
	assert.NoError(t, cause)
}

// behindClock is the real JetStream on a server whose clock is behind:
// a pause meant to run out at once would last a minute.
type behindClock struct{ jetstream.JetStream }

func (b behindClock) PauseConsumer(ctx context.Context, stream, consumer string, until time.Time) (*jetstream.ConsumerPauseResponse, error) {
	if time.Until(until) < time.Minute {
		until = until.Add(time.Minute)
	}
	return b.JetStream.PauseConsumer(ctx, stream, consumer, until)
}

func TestRunnerResumesExplicitlyWhenTheServerClockIsBehind(t *testing.T) {
	e := newEnv(t)
	// The explicit resume does not wake the pull waiting on the server:
	// the messages stored meanwhile come when it expires and is renewed.
	r, down := runPaused(t, e, behindClock{e.js}, pipeline.Config{PullExpiry: time.Second})
	e.publish(t, 3, "during")
	assert.True(t, r.Paused())
	down.Store(false)
	waitFor(t, 10*time.Second, func() error { return consumerDone(t, e.js, "T_IN", "test") })
	assert.False(t, consumerInfo(t, e.js, "T_IN", "test").Paused, "resumed, not paused for another minute")
}

// lostTerm is the real JetStream whose first Term never reaches the
// server (a failover): the message comes back after AckWait.
type lostTerm struct {
	jetstream.JetStream
	lost atomic.Bool
}

func (l *lostTerm) CreateOrUpdateConsumer(ctx context.Context, stream string, cfg jetstream.ConsumerConfig) (jetstream.Consumer, error) {
	c, err := l.JetStream.CreateOrUpdateConsumer(ctx, stream, cfg)
	return termLosingConsumer{c, &l.lost}, err
}

type termLosingConsumer struct {
	jetstream.Consumer
	lost *atomic.Bool
}

func (c termLosingConsumer) Messages(opts ...jetstream.PullMessagesOpt) (jetstream.MessagesContext, error) {
	it, err := c.Consumer.Messages(opts...)
	return termLosingIter{it, c.lost}, err
}

type termLosingIter struct {
	jetstream.MessagesContext
	lost *atomic.Bool
}

func (it termLosingIter) Next(opts ...jetstream.NextOpt) (jetstream.Msg, error) {
	m, err := it.MessagesContext.Next(opts...)
	if err != nil {
		return nil, err
	}
	return termLosingMsg{m, it.lost}, nil
}

type termLosingMsg struct {
	jetstream.Msg
	lost *atomic.Bool
}

func (m termLosingMsg) Term() error {
	if m.lost.CompareAndSwap(false, true) {
		return nil
	}
	return m.Msg.Term()
}

// A message dead-lettered whose Term was lost comes back and fails again:
// it stays one dead letter, unless that one is gone by then (replayed or
// purged), when the new failure is recorded.
func TestRunnerDeadLettersAnInputOnce(t *testing.T) {
	for _, purged := range []bool{false, true} {
		t.Run(fmt.Sprintf("first purged %v", purged), func(t *testing.T) {
			e := newEnv(t)
			e.publish(t, 1, "bad")
			var deliveries atomic.Int32
			js := &lostTerm{JetStream: e.js}
			newRunner := func() *pipeline.Runner {
				r, err := pipeline.NewRunner(pipeline.Config{Stage: "test", Stream: "T_IN", AckWait: 2 * time.Second},
					js, func(_ context.Context, m pipeline.Message, _ pipeline.Emit) error {
						deliveries.Add(1)
						return pipeline.Permanent(errors.New("unreadable"))
					}, logging.Discard(), e.metrics)
				require.NoError(t, err)
				return r
			}
			// The first process dead-letters the input, and its Term is lost.
			stop := e.run(t, newRunner())
			e.waitCounted(t, "test", pipeline.OutcomeTerm, 1)
			require.Len(t, dlqMessages(t, e.js), 1)
			if purged {
				s, err := e.js.Stream(context.Background(), bus.StreamDLQ)
				require.NoError(t, err)
				require.NoError(t, s.Purge(context.Background()))
			}
			stop()
			// Another process gets the redelivery.
			e.run(t, newRunner())
			waitFor(t, 20*time.Second, func() error {
				if n := deliveries.Load(); n < 2 {
					return fmt.Errorf("%d deliveries", n)
				}
				return consumerDone(t, e.js, "T_IN", "test")
			})
			e.waitCounted(t, "test", pipeline.OutcomeTerm, 2)
			dl := dlqMessages(t, e.js)
			require.Len(t, dl, 1, "one dead letter for the input")
			assert.Equal(t, "1", dl[0].Header.Get(pipeline.HeaderOrigSeq))
			if purged {
				assert.Equal(t, "2", dl[0].Header.Get(pipeline.HeaderAttempts), "the redelivery is recorded")
			} else {
				assert.Equal(t, "1", dl[0].Header.Get(pipeline.HeaderAttempts))
			}
		})
	}
}

// The process that dead-lettered an input and lost its Term terminates
// the redelivery again, without handling it or recording it twice.
func TestRunnerTermsAgainARedeliveryAfterALostTerm(t *testing.T) {
	e := newEnv(t)
	e.publish(t, 1, "bad")
	var deliveries atomic.Int32
	js := &lostTerm{JetStream: e.js}
	r, err := pipeline.NewRunner(pipeline.Config{Stage: "test", Stream: "T_IN", AckWait: time.Second},
		js, func(_ context.Context, m pipeline.Message, _ pipeline.Emit) error {
			deliveries.Add(1)
			return pipeline.Permanent(errors.New("unreadable"))
		}, logging.Discard(), e.metrics)
	require.NoError(t, err)
	e.run(t, r)
	waitFor(t, 20*time.Second, func() error {
		if c := testutil.ToFloat64(e.metrics.CopiesCounter("test")); c < 1 {
			return errors.New("no redelivery yet")
		}
		return consumerDone(t, e.js, "T_IN", "test")
	})
	assert.EqualValues(t, 1, deliveries.Load(), "handled once")
	assert.Len(t, dlqMessages(t, e.js), 1)
	assert.InDelta(t, 1, testutil.ToFloat64(e.metrics.MessagesCounter("test", pipeline.OutcomeTerm)), 0)
}

// lostPubAck is the real JetStream whose first async publish never gets
// its PubAck (a JetStream context without its own publish timeout whose
// connection died).
type lostPubAck struct {
	jetstream.JetStream
	lost atomic.Bool
}

type pendingFuture struct{ msg *nats.Msg }

func (f pendingFuture) Ok() <-chan *jetstream.PubAck { return nil }
func (f pendingFuture) Err() <-chan error            { return nil }
func (f pendingFuture) Msg() *nats.Msg               { return f.msg }

func (l *lostPubAck) PublishMsgAsync(m *nats.Msg, opts ...jetstream.PublishOpt) (jetstream.PubAckFuture, error) {
	if l.lost.CompareAndSwap(false, true) {
		return pendingFuture{m}, nil
	}
	return l.JetStream.PublishMsgAsync(m, opts...)
}

func TestRunnerRetriesAnOutputWithoutPubAck(t *testing.T) {
	e := newEnv(t)
	e.publish(t, 1, "lost")
	js := &lostPubAck{JetStream: e.js}
	r, err := pipeline.NewRunner(pipeline.Config{Stage: "test", Stream: "T_IN", PubAckTimeout: 200 * time.Millisecond,
		Backoff: []time.Duration{time.Millisecond}}, js, identity, logging.Discard(), e.metrics)
	require.NoError(t, err)
	e.run(t, r)
	waitFor(t, 20*time.Second, func() error { return consumerDone(t, e.js, "T_IN", "test") })
	assert.EqualValues(t, 1, streamMsgs(t, e.js, "T_OUT"), "the retry stored the output")
	e.waitCounted(t, "test", pipeline.OutcomeNak, 1)
	e.waitCounted(t, "test", pipeline.OutcomeAck, 1)
}

// A handler that emits an output and then fails permanently (the parser's
// withdrawal of an unreadable version) is retried while the output is not
// stored: dead-lettering the input at once would lose the output.
func TestRunnerRetriesALostOutputOfAPermanentFailure(t *testing.T) {
	e := newEnv(t)
	e.publish(t, 1, "lost")
	js := &lostPubAck{JetStream: e.js}
	emitThenFail := func(ctx context.Context, in pipeline.Message, emit pipeline.Emit) error {
		if err := identity(ctx, in, emit); err != nil {
			return err
		}
		return pipeline.Permanent(errors.New("unreadable"))
	}
	r, err := pipeline.NewRunner(pipeline.Config{Stage: "test", Stream: "T_IN", PubAckTimeout: 200 * time.Millisecond,
		Backoff: []time.Duration{time.Millisecond}}, js, emitThenFail, logging.Discard(), e.metrics)
	require.NoError(t, err)
	e.run(t, r)
	waitFor(t, 20*time.Second, func() error {
		if n := len(dlqMessages(t, e.js)); n != 1 {
			return fmt.Errorf("%d dead letters", n)
		}
		return nil
	})
	assert.EqualValues(t, 1, streamMsgs(t, e.js, "T_OUT"), "the retry stored the output")
	dl := dlqMessages(t, e.js)[0]
	assert.Equal(t, "2", dl.Header.Get(pipeline.HeaderAttempts))
	assert.Equal(t, "unreadable", dl.Header.Get(pipeline.HeaderError))
	e.waitCounted(t, "test", pipeline.OutcomeNak, 1)
}

// A retryable error that says when to try again is redelivered no sooner,
// though the stage's backoff is shorter.
func TestRunnerHonoursRetryAfter(t *testing.T) {
	e := newEnv(t)
	e.publish(t, 1, "rate")
	const after = 400 * time.Millisecond
	times := make(chan time.Time, 2)
	e.start(t, pipeline.Config{MaxDeliver: 3, Backoff: []time.Duration{time.Millisecond}},
		func(_ context.Context, in pipeline.Message, _ pipeline.Emit) error {
			times <- time.Now()
			if in.Delivered == 1 {
				return fmt.Errorf("llm api: %w", pipeline.RetryAfter(errors.New("HTTP 429"), after))
			}
			return nil
		})
	var got []time.Time
	for len(got) < 2 {
		select {
		case tm := <-times:
			got = append(got, tm)
		case <-time.After(10 * time.Second):
			t.Fatalf("%d deliveries within 10s, want 2", len(got))
		}
	}
	assert.GreaterOrEqual(t, got[1].Sub(got[0]), after)
	e.waitCounted(t, "test", pipeline.OutcomeAck, 1)
	assert.Nil(t, pipeline.RetryAfter(nil, time.Second))
	assert.Equal(t, "x", pipeline.RetryAfter(errors.New("x"), time.Second).Error())
}

// expireInput gives the test input stream a max age of a second and
// waits until it has dropped every message it holds.
func (e *env) expireInput(t *testing.T) {
	t.Helper()
	st, err := e.js.Stream(t.Context(), "T_IN")
	require.NoError(t, err)
	cfg := st.CachedInfo().Config
	cfg.MaxAge, cfg.Duplicates = time.Second, time.Second
	_, err = e.js.UpdateStream(t.Context(), cfg)
	require.NoError(t, err)
	waitFor(t, 30*time.Second, func() error {
		if n := streamMsgs(t, e.js, "T_IN"); n > 0 {
			return fmt.Errorf("%d messages not expired yet", n)
		}
		return nil
	})
}

// Messages that expire from the input stream while the stage is stopped
// are reported (an error log line and a metric) when it starts again, and
// the stage goes on with what follows.
func TestRunnerReportsMessagesMissedWhileStopped(t *testing.T) {
	e := newEnv(t)
	cfg := pipeline.Config{Stage: "test", Stream: "T_IN"}
	r, err := pipeline.NewRunner(cfg, e.js, identity, logging.Discard(), e.metrics)
	require.NoError(t, err)
	stop := e.run(t, r)
	e.publish(t, 1, "before")
	e.waitCounted(t, "test", pipeline.OutcomeAck, 1)
	stop()

	e.publish(t, 3, "lost")
	e.expireInput(t)

	var logs testwait.Buffer
	r, err = pipeline.NewRunner(cfg, e.js, identity, slog.New(slog.NewJSONHandler(&logs, nil)), e.metrics)
	require.NoError(t, err)
	e.run(t, r)
	<-r.Consuming()
	assert.EqualValues(t, 3, testutil.ToFloat64(e.metrics.MissedCounter("test")))
	assert.Contains(t, logs.String(), `"level":"ERROR","msg":"messages left the input stream before this stage received them`)
	assert.Contains(t, logs.String(), `"missed":3`)

	e.publish(t, 1, "after")
	e.waitCounted(t, "test", pipeline.OutcomeAck, 2)
	assert.EqualValues(t, 3, testutil.ToFloat64(e.metrics.MissedCounter("test")), "reported once")
}

// Messages that expire while the stage is paused for an outage are
// reported when the dependency is back, before the consumer resumes.
func TestRunnerReportsMessagesMissedDuringAnOutage(t *testing.T) {
	e := newEnv(t)
	r, down := runPaused(t, e, e.js, pipeline.Config{})
	e.publish(t, 4, "lost")
	e.expireInput(t)
	down.Store(false)
	waitFor(t, 10*time.Second, func() error {
		if r.Paused() {
			return errors.New("still paused")
		}
		return nil
	})
	assert.EqualValues(t, 4, testutil.ToFloat64(e.metrics.MissedCounter("test")))
	e.publish(t, 1, "after")
	e.waitCounted(t, "test", pipeline.OutcomeAck, 2)
}

// While JetStream has no room for a stage's outputs, its inputs wait and
// are retried past MaxDeliver, none is dead-lettered for it, and one error
// line says so; once room is made, every input gets through.
func TestRunnerWaitsForRoomInJetStream(t *testing.T) {
	e := newEnvWith(t, bus.EmbeddedConfig{MaxStore: 1 << 20})
	e.publish(t, 3, "full")
	_, err := e.js.CreateStream(t.Context(), jetstream.StreamConfig{Name: "FILL", Subjects: []string{"fill"}, Storage: jetstream.FileStorage})
	require.NoError(t, err)
	filler := make([]byte, 8<<10)
	for {
		_, err := e.js.Publish(t.Context(), "fill", filler)
		if err != nil {
			require.True(t, bus.IsStorageFull(err), "filling the store: %v", err)
			break
		}
	}

	var logs testwait.Buffer
	cfg := pipeline.Config{Stage: "test", Stream: "T_IN", MaxDeliver: 2, Backoff: []time.Duration{10 * time.Millisecond}}
	r, err := pipeline.NewRunner(cfg, e.js, identity, slog.New(slog.NewJSONHandler(&logs, nil)), e.metrics)
	require.NoError(t, err)
	e.run(t, r)
	waitFor(t, 30*time.Second, func() error {
		if n := testutil.ToFloat64(e.metrics.MessagesCounter("test", pipeline.OutcomeNak)); n < 12 {
			return fmt.Errorf("%v retries, want every input retried past max_deliver", n)
		}
		return nil
	})
	assert.Equal(t, 1, strings.Count(logs.String(), "JetStream has no room for this stage's outputs"), logs.String())
	assert.Empty(t, dlqMessages(t, e.js))
	waiting, since, cause := r.WaitingForRoom()
	assert.True(t, waiting)
	assert.False(t, since.IsZero())
	assert.ErrorContains(t, cause, "insufficient resources")
	assert.InDelta(t, 3, testutil.ToFloat64(e.metrics.WaitingForRoomGauge("test")), 0, "inputs waiting for room")

	require.NoError(t, e.js.DeleteStream(t.Context(), "FILL"))
	e.waitCounted(t, "test", pipeline.OutcomeAck, 3)
	assert.EqualValues(t, 3, streamMsgs(t, e.js, "T_OUT"))
	assert.Empty(t, dlqMessages(t, e.js), "nothing dead-lettered once room was made")
	waiting, _, _ = r.WaitingForRoom()
	assert.False(t, waiting)
	assert.Zero(t, testutil.ToFloat64(e.metrics.WaitingForRoomGauge("test")), "inputs waiting for room")
	assert.Zero(t, testutil.ToFloat64(e.metrics.MessagesCounter("test", pipeline.OutcomeTerm)))
}

// A process that dies during an outage leaves its consumer paused on the
// server for the rest of the pause (minutes). The stage started after it,
// with its dependency back, consumes at once: it resumes the consumer
// (should the dependency still be down, its first failure pauses it again).
func TestRunnerStartsOnAConsumerAnEarlierProcessLeftPaused(t *testing.T) {
	e := newEnv(t)
	down := new(atomic.Bool)
	down.Store(true)
	earlier, err := pipeline.NewRunner(pipeline.Config{Stage: "test", Stream: "T_IN"}, e.js, identityUnlessDown(down), logging.Discard(), e.metrics)
	require.NoError(t, err)
	stop := e.run(t, earlier)
	e.publish(t, 1, "first")
	waitFor(t, 10*time.Second, func() error {
		if !earlier.Paused() {
			return errors.New("not paused yet")
		}
		return nil
	})
	stop()
	require.True(t, consumerInfo(t, e.js, "T_IN", "test").Paused, "the earlier process left the consumer paused")

	e.start(t, pipeline.Config{}, identity)
	e.publish(t, 3, "after")
	waitFor(t, 10*time.Second, func() error { return consumerDone(t, e.js, "T_IN", "test") })
	assert.EqualValues(t, 4, streamMsgs(t, e.js, "T_OUT"))
	assert.False(t, consumerInfo(t, e.js, "T_IN", "test").Paused)
}
