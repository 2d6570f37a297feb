// Package metrictest reads metrics back from a Prometheus registry in tests.
package metrictest

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
)

// Counter returns the value of the counter called name whose labels
// include the given name/value pairs (none: its first series), or 0 when
// no such series has been recorded.
func Counter(t testing.TB, g prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	return value(t, g, name, labels, func(m *dto.Metric) float64 { return m.GetCounter().GetValue() })
}

// Gauge returns the value of the gauge called name, as Counter does a
// counter's.
func Gauge(t testing.TB, g prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	return value(t, g, name, labels, func(m *dto.Metric) float64 { return m.GetGauge().GetValue() })
}

func value(t testing.TB, g prometheus.Gatherer, name string, labels []string, get func(*dto.Metric) float64) float64 {
	t.Helper()
	require.Zero(t, len(labels)%2, "labels come in name/value pairs")
	families, err := g.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			for i := 0; i < len(labels); i += 2 {
				found := false
				for _, l := range m.GetLabel() {
					if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue series
				}
			}
			return get(m)
		}
	}
	return 0
}
