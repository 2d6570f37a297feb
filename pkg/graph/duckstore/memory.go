package duckstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// DuckDB keeps the indexes of the tables' keys (nodes, relationships,
// support) in memory, within its memory limit, and cannot spill them: they
// grow with the graph, about 50 bytes per node, relationship and support
// row, and once they fill the limit every write fails. watchIndexMemory
// warns before that, and resourceErr says so after.

// indexWarnShare is the share of the memory limit the indexes hold when
// watchIndexMemory warns.
const indexWarnShare = 0.7

// indexCheckEvery is how often watchIndexMemory looks; a variable only so
// that a test can look after every write.
var indexCheckEvery = 30 * time.Second

// outgrown is what to do when the indexes fill the memory limit.
const outgrown = "the embedded graph has outgrown it; raise graph.duckdb_memory (the indexes need about 50 bytes per node, relationship and support row, and stay in memory) or move the graph to Neo4j"

// indexMemory returns the bytes DuckDB's indexes hold in memory. It is
// called with s.mu held.
func (s *Store) indexMemory(ctx context.Context) (int64, error) {
	if s.wconn == nil {
		return 0, errClosed
	}
	var n int64
	err := s.wconn.QueryRowContext(ctx,
		"SELECT coalesce(sum(memory_usage_bytes), 0)::BIGINT FROM duckdb_memory() WHERE tag = 'ART_INDEX'").Scan(&n)
	return n, err
}

// watchIndexMemory logs a warning, once until they shrink again, when the
// indexes hold indexWarnShare of the memory limit, looking at most every
// indexCheckEvery. It is called with s.mu held, after a write.
func (s *Store) watchIndexMemory(ctx context.Context) {
	if s.memLimit == 0 || time.Since(s.indexChecked) < indexCheckEvery {
		return
	}
	s.indexChecked = time.Now()
	n, err := s.indexMemory(ctx)
	if err != nil {
		return
	}
	s.indexBytes.Set(float64(n))
	if float64(n) < indexWarnShare*float64(s.memLimit) {
		s.indexWarned = false
		return
	}
	if !s.indexWarned {
		s.indexWarned = true
		s.log.Warn("the graph's indexes fill its memory limit, "+indexShare(n, s.memLimit)+": "+outgrown+", before writes fail",
			"index_bytes", n, "memory_limit_bytes", s.memLimit)
	}
}

// indexShare says how much of limit the indexes' n bytes are.
func indexShare(n, limit int64) string {
	return fmt.Sprintf("%d MiB of %d MiB", n>>20, limit>>20)
}

// register registers the store's gauges with reg (none if nil); a store
// opened again in the same process takes over the gauges already there.
func (s *Store) register(reg prometheus.Registerer) error {
	s.indexBytes = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "docgraph", Subsystem: "graph", Name: "index_bytes",
		Help: "Bytes the embedded graph's key indexes hold in memory, as last measured (after a write, at most every 30 s). They cannot spill to disk: writes fail once they fill docgraph_graph_memory_limit_bytes.",
	})
	if reg == nil {
		return nil
	}
	limit := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "docgraph", Subsystem: "graph", Name: "memory_limit_bytes",
		Help: "The embedded graph's memory limit (graph.duckdb_memory); 0 for DuckDB's default.",
	})
	gauges := []*prometheus.Gauge{&s.indexBytes, &limit}
	for _, g := range gauges {
		if err := reg.Register(*g); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return fmt.Errorf("metrics: %w", err)
			}
			existing, ok := are.ExistingCollector.(prometheus.Gauge)
			if !ok {
				return fmt.Errorf("metrics: %w", err)
			}
			*g = existing
		}
	}
	limit.Set(float64(s.memLimit))
	return nil
}
