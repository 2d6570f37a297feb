//go:build !linux

package config

// physicalMemory returns 0: the machine's memory is only read on Linux,
// elsewhere graph.duckdb_memory "auto" is its minimum.
func physicalMemory() uint64 { return 0 }
