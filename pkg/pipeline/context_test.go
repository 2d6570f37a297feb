package pipeline_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/pipeline"
	"github.com/docgraph/docgraph/pkg/testwait"
)

// What a handler logs with its context names the message (correlation ID,
// stage, subject, stream sequence), though its own logger knows none of
// them.
func TestHandlerLogLinesNameTheMessage(t *testing.T) {
	e := newEnv(t)
	e.publish(t, 2, "ctx")
	handlerLog := &testwait.Buffer{}
	own := mustLogger(t, handlerLog)
	e.start(t, pipeline.Config{Stage: "parser"}, func(ctx context.Context, in pipeline.Message, emit pipeline.Emit) error {
		own.InfoContext(ctx, "handling")
		return emit(pipeline.Message{Subject: "t.out", Data: in.Data})
	})
	waitFor(t, 10*time.Second, func() error { return consumerDone(t, e.js, "T_IN", "parser") })

	lines := logLines(t, handlerLog, "handling")
	require.Len(t, lines, 2)
	for _, l := range lines {
		assert.Equal(t, "parser", l["stage"])
		assert.Equal(t, "t.in", l["subject"])
		seq := l["stream_seq"].(float64)
		assert.Contains(t, []float64{1, 2}, seq)
		assert.Equal(t, "ctx-"+map[float64]string{1: "0", 2: "1"}[seq], l["correlation_id"])
	}
}
