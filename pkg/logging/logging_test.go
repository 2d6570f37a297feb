package logging_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/logging"
)

func jsonLogger(t *testing.T) (*slog.Logger, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	l, err := logging.New(logging.Config{Format: "json", Level: "debug"}, &buf)
	require.NoError(t, err)
	return l, &buf
}

// decode returns the one line in buf, and how often each key occurs in it.
func decode(t *testing.T, buf *bytes.Buffer) (map[string]any, map[string]int) {
	t.Helper()
	line := strings.TrimSpace(buf.String())
	require.NotContains(t, line, "\n", "one line")
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(line), &m))
	counts := map[string]int{}
	dec := json.NewDecoder(strings.NewReader(line))
	_, err := dec.Token() // {
	require.NoError(t, err)
	for dec.More() {
		k, err := dec.Token()
		require.NoError(t, err)
		counts[k.(string)]++
		var v any
		require.NoError(t, dec.Decode(&v))
	}
	buf.Reset()
	return m, counts
}

// A line logged with a message's context names the message, whichever
// logger logs it, and never twice.
func TestContextNamesTheMessage(t *testing.T) {
	log, buf := jsonLogger(t)
	ctx := logging.WithMessage(context.Background(), "cid-1", "parser", "docgraph.files.discovered", 42)

	log.InfoContext(ctx, "plain logger")
	m, counts := decode(t, buf)
	assert.Equal(t, "cid-1", m["correlation_id"])
	assert.Equal(t, "parser", m["stage"])
	assert.Equal(t, "docgraph.files.discovered", m["subject"])
	assert.EqualValues(t, 42, m["stream_seq"])
	for _, k := range []string{"correlation_id", "stage", "subject", "stream_seq"} {
		assert.Equal(t, 1, counts[k], k)
	}

	// The logger's own stage and the record's subject win, once each.
	log.With(slog.String("stage", "graph-writer")).InfoContext(ctx, "own attrs", slog.String("subject", "x.y"))
	m, counts = decode(t, buf)
	assert.Equal(t, "graph-writer", m["stage"])
	assert.Equal(t, "x.y", m["subject"])
	assert.EqualValues(t, 42, m["stream_seq"])
	for _, k := range []string{"stage", "subject", "stream_seq", "correlation_id"} {
		assert.Equal(t, 1, counts[k], k)
	}

	// Attributes in a group are the group's.
	log.WithGroup("g").InfoContext(ctx, "grouped", slog.String("stage", "inner"))
	m, _ = decode(t, buf)
	assert.Equal(t, map[string]any{"stage": "inner", "correlation_id": "cid-1", "subject": "docgraph.files.discovered", "stream_seq": float64(42)}, m["g"])

	// A context with a correlation ID only, or nothing.
	log.InfoContext(logging.WithCorrelationID(context.Background(), "cid-2"), "id only")
	m, counts = decode(t, buf)
	assert.Equal(t, "cid-2", m["correlation_id"])
	assert.Zero(t, counts["stage"])
	log.InfoContext(context.Background(), "nothing")
	_, counts = decode(t, buf)
	assert.Zero(t, counts["correlation_id"])
	assert.Equal(t, "cid-1", logging.CorrelationID(ctx))
}
