package neostore

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	sessions  prometheus.Gauge
	batchSize prometheus.Histogram
	duration  prometheus.Histogram
	retries   prometheus.Counter
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
	}
	for _, c := range []prometheus.Collector{m.sessions, m.batchSize, m.duration, m.retries} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register graph metrics: %w", err)
		}
	}
	return m, nil
}
