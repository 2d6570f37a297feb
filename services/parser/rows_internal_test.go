package parser

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/pipeline"
	"github.com/docgraph/docgraph/pkg/schema"
)

// A panic while mapping a batch (a bug) is raised again in the emitting
// goroutine, the caller's, where the stage runner recovers it; it names
// the file and the batch and keeps the worker's stack.
func TestMapPanicRaisedInCaller(t *testing.T) {
	b := &recordBatcher{doc: event.NewDocument("teams.csv", "sha", 1, 1)}
	rb := &rowBatch{seq: 3, lines: []int{2}, cells: [][]string{{"x"}}, typed: [][]int{nil}, errs: []*event.RowError{nil}, done: make(chan batchResult, 1)}
	res := b.safeMapBatch(nil, &schema.Source{}, rb) // nil mapper: a nil dereference
	require.NotEmpty(t, res.panic)
	assert.Contains(t, res.panic, "teams.csv: batch 3: runtime error")
	assert.Contains(t, res.panic, "mapRow", "the worker's stack")

	rb.done <- res
	order := make(chan *rowBatch, 1)
	order <- rb
	close(order)
	s := &Structured{}
	assert.PanicsWithValue(t, res.panic, func() {
		_ = s.emitBatches(context.Background(), b.doc, &schema.Source{}, func(pipeline.Message) error { return nil }, order)
	})
}
