package watcher

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	published prometheus.Counter
	skipped   *prometheus.CounterVec
	deleted   prometheus.Counter
	failed    prometheus.Counter
	bytes     prometheus.Counter
	scan      prometheus.Histogram
	held      prometheus.Gauge
	unwatched prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	opts := func(name, help string) prometheus.CounterOpts {
		return prometheus.CounterOpts{Namespace: "docgraph", Subsystem: "watcher", Name: name, Help: help}
	}
	m := &metrics{
		published: prometheus.NewCounter(opts("files_published_total", "File versions published.")),
		skipped: prometheus.NewCounterVec(opts("files_skipped_total",
			"Paths skipped (counted once per path and reason), by reason."), []string{"reason"}),
		deleted: prometheus.NewCounter(opts("files_deleted_total", "File deletions published.")),
		failed:  prometheus.NewCounter(opts("files_failed_total", "Paths that failed to be read, stored or published.")),
		bytes:   prometheus.NewCounter(opts("bytes_published_total", "Bytes of the file versions published.")),
		scan: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "docgraph", Subsystem: "watcher", Name: "scan_duration_seconds",
			Help:    "Duration of full scans of the watched folder.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}),
		held: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "docgraph", Subsystem: "watcher", Name: "files_held",
			Help: "Recorded files the last scan kept though it found the watched folder empty (a share not mounted?).",
		}),
		unwatched: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "docgraph", Subsystem: "watcher", Name: "directories_unwatched",
			Help: "Directories not watched for the system's limit of file watches, whose changes only rescans find.",
		}),
	}
	var err error
	m.published = register(reg, m.published, &err)
	m.skipped = register(reg, m.skipped, &err)
	m.deleted = register(reg, m.deleted, &err)
	m.failed = register(reg, m.failed, &err)
	m.bytes = register(reg, m.bytes, &err)
	m.scan = register(reg, m.scan, &err)
	m.held = register(reg, m.held, &err)
	m.unwatched = register(reg, m.unwatched, &err)
	if err != nil {
		return nil, fmt.Errorf("register watcher metrics: %w", err)
	}
	for _, r := range skipReasons {
		m.skipped.WithLabelValues(string(r))
	}
	return m, nil
}

// register registers c, or returns the collector already registered under
// the same description (a second Watcher on the same registry shares it).
func register[C prometheus.Collector](reg prometheus.Registerer, c C, errp *error) C {
	if *errp != nil {
		return c
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		*errp = err
	}
	return c
}
