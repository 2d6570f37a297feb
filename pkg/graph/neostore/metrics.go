package neostore

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	sessions  prometheus.Gauge
	batchSize prometheus.Histogram
	duration  prometheus.Histogram
	retries   prometheus.Counter
	// withdrawParts counts the transactions of prewithdraw.
	withdrawParts prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		sessions: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "docgraph", Subsystem: "graph", Name: "sessions_in_use",
			Help: "Neo4j sessions currently open.",
		}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "docgraph", Subsystem: "graph", Name: "batch_size",
			Help:    "Items (nodes, mentions and relationships) written per Apply call.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 10),
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "docgraph", Subsystem: "graph", Name: "write_duration_seconds",
			Help:    "Duration of one Apply call, retries included.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12),
		}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "docgraph", Subsystem: "graph", Name: "retried_transactions_total",
			Help: "Write transactions run again after a transient error.",
		}),
		withdrawParts: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "docgraph", Subsystem: "graph", Name: "withdrawal_parts_total",
			Help: "Transactions that withdrew part of the earlier versions a write replaces (a large spreadsheet's, re-saved or deleted) before the write's own.",
		}),
	}
	var err error
	if m.sessions, err = register(reg, m.sessions); err != nil {
		return nil, err
	}
	if m.batchSize, err = register(reg, m.batchSize); err != nil {
		return nil, err
	}
	if m.duration, err = register(reg, m.duration); err != nil {
		return nil, err
	}
	if m.retries, err = register(reg, m.retries); err != nil {
		return nil, err
	}
	if m.withdrawParts, err = register(reg, m.withdrawParts); err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c, or returns the collector registered as c before: a
// store opened again on the same registry (start-up retrying after Setup
// failed on a server still starting) counts on the same series.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	if are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); ok {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	if err != nil {
		return c, fmt.Errorf("register graph metrics: %w", err)
	}
	return c, nil
}
