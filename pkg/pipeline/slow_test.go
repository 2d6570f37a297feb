package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/logging"
	"github.com/docgraph/docgraph/pkg/pipeline"
	"github.com/docgraph/docgraph/pkg/testwait"
)

// logLines returns the decoded JSON lines of b whose msg is msg.
func logLines(t *testing.T, b *testwait.Buffer, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(b.String()) {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), line)
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// A handling that outlasts SlowAfter is logged while it runs (with the
// message's correlation ID, subject and sequence), again as its age
// doubles, and counted once; one that finishes in time is not.
func TestRunnerWarnsWhileAHandlingIsSlow(t *testing.T) {
	single := func(e *env, cfg pipeline.Config, log *testwait.Buffer, release <-chan struct{}) (*pipeline.Runner, error) {
		return pipeline.NewRunner(cfg, e.js, func(_ context.Context, in pipeline.Message, emit pipeline.Emit) error {
			if string(in.Data) == "1" {
				<-release
			}
			return emit(pipeline.Message{Subject: "t.out", Data: in.Data})
		}, mustLogger(t, log), e.metrics)
	}
	batch := func(e *env, cfg pipeline.Config, log *testwait.Buffer, release <-chan struct{}) (*pipeline.Runner, error) {
		cfg.BatchSize = func(uint64) int { return 1 }
		return pipeline.NewBatchRunner(cfg, e.js, func(_ context.Context, in []pipeline.Message) []error {
			if string(in[0].Data) == "1" {
				<-release
			}
			return make([]error, len(in))
		}, mustLogger(t, log), e.metrics)
	}
	for _, tt := range []struct {
		name   string
		runner func(*env, pipeline.Config, *testwait.Buffer, <-chan struct{}) (*pipeline.Runner, error)
		seqKey string
		cid    bool
	}{
		{"message", single, "stream_seq", true},
		{"batch", batch, "first_stream_seq", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.publish(t, 2, "slow")
			log := &testwait.Buffer{}
			release := make(chan struct{})
			r, err := tt.runner(e, pipeline.Config{Stage: "test", Stream: "T_IN", SlowAfter: 100 * time.Millisecond}, log, release)
			require.NoError(t, err)
			e.run(t, r)

			waitFor(t, 10*time.Second, func() error {
				if n := len(logLines(t, log, "still handling")); n < 2 {
					return fmt.Errorf("%d warnings", n)
				}
				return nil
			})
			close(release)
			waitFor(t, 10*time.Second, func() error { return consumerDone(t, e.js, "T_IN", "test") })

			warnings := logLines(t, log, "still handling")
			first, second := warnings[0], warnings[1]
			assert.Equal(t, "WARN", first["level"])
			assert.Equal(t, "test", first["stage"])
			assert.Equal(t, "t.in", first["subject"])
			assert.EqualValues(t, 2, first[tt.seqKey], "the slow message is the second")
			if tt.cid {
				assert.Equal(t, "slow-1", first["correlation_id"])
			}
			assert.EqualValues(t, 1, first["messages"])
			assert.EqualValues(t, 5*time.Minute, first["handler_timeout"])
			d1, d2 := first["running"].(float64), second["running"].(float64)
			assert.GreaterOrEqual(t, d1, float64(100*time.Millisecond))
			assert.GreaterOrEqual(t, d2, float64(200*time.Millisecond), "the next warning waits for the age to double")
			for _, w := range warnings {
				assert.EqualValues(t, 2, w[tt.seqKey], "only the slow message is warned about")
			}
			assert.InDelta(t, 1, testutil.ToFloat64(e.metrics.SlowCounter("test")), 0, "counted once per handling")
		})
	}
}

func mustLogger(t *testing.T, w *testwait.Buffer) *slog.Logger {
	t.Helper()
	l, err := logging.New(logging.Config{Format: "json", Level: "info"}, w)
	require.NoError(t, err)
	return l
}
