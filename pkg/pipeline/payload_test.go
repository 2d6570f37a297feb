package pipeline_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/bus"
	"github.com/docgraph/docgraph/pkg/pipeline"
)

// Outputs of text are stored compressed, with the header that says so;
// handlers are given plain payloads whichever way their inputs were
// stored; an input that does not decompress is dead-lettered, naming why,
// without reaching the handler, and the others go on.
func TestRunnerCompressesPayloads(t *testing.T) {
	e := newEnv(t)
	text := `{"text":"` + strings.Repeat("Alice Smith manages PRJ-1042 under AACE-101. ", 50) + `"}`
	inputs := []struct {
		data       string
		compressed bool
		corrupt    bool
	}{
		{data: text},
		{data: `{"path":"a.md"}`},
		{data: strings.Replace(text, "Alice", "Bob", 1), compressed: true},
		{data: text, compressed: true, corrupt: true},
	}
	for i, in := range inputs {
		m := nats.NewMsg("t.in")
		m.Data = []byte(in.data)
		m.Header.Set(pipeline.HeaderCorrelationID, "cid-"+string(rune('a'+i)))
		if in.compressed {
			m.Data = bus.EncodePayload(m.Header, m.Data)
			require.Equal(t, bus.EncodingS2, m.Header.Get(bus.HeaderEncoding))
		}
		if in.corrupt {
			m.Data = m.Data[:len(m.Data)/2]
		}
		_, err := e.js.PublishMsg(t.Context(), m)
		require.NoError(t, err)
	}

	var mu sync.Mutex
	got := map[string]string{} // correlation ID -> payload handed to the handler
	e.start(t, pipeline.Config{MaxDeliver: 3, Backoff: []time.Duration{time.Millisecond}},
		func(ctx context.Context, in pipeline.Message, emit pipeline.Emit) error {
			mu.Lock()
			got[in.CorrelationID()] = string(in.Data)
			mu.Unlock()
			assert.Empty(t, in.Header.Get(bus.HeaderEncoding), "the handler sees no encoding")
			return identity(ctx, in, emit)
		})
	waitFor(t, 10*time.Second, func() error {
		if len(dlqMessages(t, e.js)) == 0 {
			return errors.New("no dead letter yet")
		}
		return consumerDone(t, e.js, "T_IN", "test")
	})

	mu.Lock()
	assert.Equal(t, map[string]string{"cid-a": inputs[0].data, "cid-b": inputs[1].data, "cid-c": inputs[2].data}, got)
	mu.Unlock()

	out, err := e.js.Stream(t.Context(), "T_OUT")
	require.NoError(t, err)
	for seq := uint64(1); seq <= 3; seq++ {
		m, err := out.GetMsg(t.Context(), seq)
		require.NoError(t, err)
		want := got[m.Header.Get(pipeline.HeaderCorrelationID)]
		if len(want) < 1024 {
			assert.Empty(t, m.Header.Get(bus.HeaderEncoding), "a small output is stored plain")
			assert.Equal(t, want, string(m.Data))
			continue
		}
		assert.Equal(t, bus.EncodingS2, m.Header.Get(bus.HeaderEncoding))
		assert.Less(t, len(m.Data), len(want)/3)
		plain, err := bus.Payload(m.Header, m.Data)
		require.NoError(t, err)
		assert.Equal(t, want, string(plain))
	}
	_, err = out.GetMsg(t.Context(), 4)
	require.ErrorIs(t, err, jetstream.ErrMsgNotFound, "the corrupt input has no output")

	dl := dlqMessages(t, e.js)
	require.Len(t, dl, 1)
	assert.Equal(t, "cid-d", dl[0].Header.Get(pipeline.HeaderCorrelationID))
	assert.Equal(t, pipeline.ClassPermanent, dl[0].Header.Get(pipeline.HeaderErrorClass))
	assert.Equal(t, "1", dl[0].Header.Get(pipeline.HeaderAttempts), "not retried")
	assert.Contains(t, dl[0].Header.Get(pipeline.HeaderError), "decode t.in: payload (Docgraph-Encoding s2): s2: corrupt input")
	assert.Equal(t, bus.EncodingS2, dl[0].Header.Get(bus.HeaderEncoding), "the dead letter keeps the bytes as stored")
}

// A batch handler is given plain payloads too.
func TestRunnerBatchGetsPlainPayloads(t *testing.T) {
	e := newEnv(t)
	text := `{"text":"` + strings.Repeat("Procedure AACE-101 applies to every project. ", 50) + `"}`
	for range 3 {
		m := nats.NewMsg("t.in")
		m.Data = bus.EncodePayload(m.Header, []byte(text))
		_, err := e.js.PublishMsg(t.Context(), m)
		require.NoError(t, err)
	}
	var mu sync.Mutex
	var got []string
	r, err := pipeline.NewBatchRunner(pipeline.Config{Stage: "test", Stream: "T_IN", BatchSize: func(uint64) int { return 8 }, BatchMaxWait: 10 * time.Millisecond},
		e.js, func(_ context.Context, in []pipeline.Message) []error {
			mu.Lock()
			defer mu.Unlock()
			for _, m := range in {
				got = append(got, string(m.Data))
			}
			return nil
		}, discardLogger(), e.metrics)
	require.NoError(t, err)
	e.run(t, r)
	waitFor(t, 10*time.Second, func() error { return consumerDone(t, e.js, "T_IN", "test") })
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []string{text, text, text}, got)
}
