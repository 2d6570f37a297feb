package graphwriter

import (
	"github.com/docgraph/docgraph/pkg/graph"
	"github.com/docgraph/docgraph/pkg/pipeline"
)

// SetDecode replaces the decoder of messages until the test ends.
func SetDecode(cleanup func(func()), f func(pipeline.Message) (graph.Op, error)) {
	old := decode
	decode = f
	cleanup(func() { decode = old })
}
