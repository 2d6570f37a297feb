package config

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestAutoDuckDBMemory(t *testing.T) {
	tests := []struct {
		total uint64
		want  string
	}{
		{total: 0, want: "256MiB"},           // unknown
		{total: 512 << 20, want: "256MiB"},   // small container: the minimum
		{total: 24 << 30, want: "6144MiB"},   // a quarter
		{total: 256 << 30, want: "16384MiB"}, // the maximum
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, autoDuckDBMemory(tt.total), "total %d", tt.total)
	}
}

func TestGraphDuckDBMemory(t *testing.T) {
	c := Default()
	assert.Equal(t, "auto", c.Graph.DuckDBMemory)
	assert.Equal(t, autoDuckDBMemory(usableMemory()), c.GraphDuckDBMemory())
	c.Graph.DuckDBMemory = ""
	assert.Equal(t, autoDuckDBMemory(usableMemory()), c.GraphDuckDBMemory())
	c.Graph.DuckDBMemory = "1GB"
	assert.Equal(t, "1GB", c.GraphDuckDBMemory())
	if physicalMemory() > 0 {
		assert.LessOrEqual(t, usableMemory(), physicalMemory())
	}
}
