package config

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Bounds of graph.duckdb_memory "auto": a quarter of the machine's memory,
// within these.
const (
	minAutoDuckDBMemory = 256 << 20
	maxAutoDuckDBMemory = 16 << 30
)

// GraphDuckDBMemory resolves graph.duckdb_memory "auto" (or empty) to a
// quarter of the memory the process may use (the machine's, or its
// cgroup's limit if lower), at least 256 MiB and at most 16 GiB, in MiB:
// DuckDB keeps the indexes of the graph's keys in that memory, so it
// bounds how large the embedded graph can grow, and DuckDB takes only
// what it needs of it. Other values are returned as they are.
func (c Config) GraphDuckDBMemory() string {
	if v := c.Graph.DuckDBMemory; v != "" && v != "auto" {
		return v
	}
	return autoDuckDBMemory(usableMemory())
}

func autoDuckDBMemory(total uint64) string {
	n := min(max(total/4, minAutoDuckDBMemory), maxAutoDuckDBMemory)
	return fmt.Sprintf("%dMiB", n>>20)
}

// usableMemory returns the machine's memory, or the cgroup's limit when
// lower; 0 when neither is known.
func usableMemory() uint64 {
	total := physicalMemory()
	for _, f := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil && v > 0 && (total == 0 || v < total) {
			total = v
		}
	}
	return total
}
