package main

import (
	"math"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/docgraph/docgraph/pkg/logging"
)

func TestSetMemoryLimit(t *testing.T) {
	prev := debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })

	setMemoryLimit(0, logging.Discard())
	assert.Equal(t, int64(math.MaxInt64), debug.SetMemoryLimit(-1), "0 sets no limit")
	setMemoryLimit(100<<20, logging.Discard())
	assert.Equal(t, int64(100<<20), debug.SetMemoryLimit(-1))
	setMemoryLimit(200<<20, logging.Discard())
	assert.Equal(t, int64(100<<20), debug.SetMemoryLimit(-1), "a limit already set (GOMEMLIMIT) wins")
}
