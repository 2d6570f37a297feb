package pipeline

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Outcomes and dead-letter reasons (metric label values).
const (
	OutcomeAck  = "ack"
	OutcomeNak  = "nak"
	OutcomeTerm = "term"

	ReasonPermanent  = "permanent"
	ReasonMaxDeliver = "max_deliver"
	ReasonPanic      = "panic"
)

// Metrics is the runner's standard set, shared by every runner of a process.
type Metrics struct {
	messages *prometheus.CounterVec
	duration *prometheus.HistogramVec
	dlq      *prometheus.CounterVec
	inFlight *prometheus.GaugeVec
	outputs  *prometheus.CounterVec
	paused   *prometheus.GaugeVec
	slow     *prometheus.CounterVec
	missed   *prometheus.CounterVec
	noRoom   *prometheus.GaugeVec
	copies   *prometheus.CounterVec
}

// NewMetrics registers the runner metrics with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "docgraph", Subsystem: "pipeline", Name: "messages_total",
			Help: "Messages handled, by stage and outcome.",
		}, []string{"stage", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "docgraph", Subsystem: "pipeline", Name: "handler_duration_seconds",
			Help:    "Time from receiving a message to its ack, nak or term, by stage.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10),
		}, []string{"stage"}),
		dlq: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "docgraph", Subsystem: "pipeline", Name: "dlq_total",
			Help: "Messages dead-lettered, by stage and reason.",
		}, []string{"stage", "reason"}),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "docgraph", Subsystem: "pipeline", Name: "in_flight",
			Help: "Messages being handled, by stage.",
		}, []string{"stage"}),
		outputs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "docgraph", Subsystem: "pipeline", Name: "outputs_total",
			Help: "Output messages published, by stage.",
		}, []string{"stage"}),
		paused: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "docgraph", Subsystem: "pipeline", Name: "paused",
			Help: "1 while a stage has stopped pulling because a dependency is down.",
		}, []string{"stage"}),
		slow: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "docgraph", Subsystem: "pipeline", Name: "slow_total",
			Help: "Handlings (of a message or a batch) still running after slow_after, by stage.",
		}, []string{"stage"}),
		missed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "docgraph", Subsystem: "pipeline", Name: "missed_total",
			Help: "Messages that left a stage's input stream (max age, size limit) before the stage received them, by stage.",
		}, []string{"stage"}),
		noRoom: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "docgraph", Subsystem: "pipeline", Name: "waiting_for_room",
			Help: "Inputs of a stage retried because JetStream has no room for their outputs (its store is full), by stage.",
		}, []string{"stage"}),
		copies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "docgraph", Subsystem: "pipeline", Name: "copies_dropped_total",
			Help: "Redelivered copies of messages a stage held or had just handled, not handled again, by stage: its messages wait longer than ack_wait in the pull buffer.",
		}, []string{"stage"}),
	}
	for _, c := range []prometheus.Collector{m.messages, m.duration, m.dlq, m.inFlight, m.outputs, m.paused, m.slow, m.missed, m.noRoom, m.copies} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register pipeline metrics: %w", err)
		}
	}
	return m, nil
}

// WaitingForRoomGauge returns the gauge of a stage's inputs waiting for
// room in JetStream (for tests).
func (m *Metrics) WaitingForRoomGauge(stage string) prometheus.Gauge {
	return m.noRoom.WithLabelValues(stage)
}

// MessagesCounter returns the messages counter of a stage and outcome (for
// tests and status).
func (m *Metrics) MessagesCounter(stage, outcome string) prometheus.Counter {
	return m.messages.WithLabelValues(stage, outcome)
}

// SlowCounter returns the counter of slow handlings of a stage (for tests).
func (m *Metrics) SlowCounter(stage string) prometheus.Counter {
	return m.slow.WithLabelValues(stage)
}

// CopiesCounter is the counter of a stage's redelivered copies dropped.
func (m *Metrics) CopiesCounter(stage string) prometheus.Counter {
	return m.copies.WithLabelValues(stage)
}

// MissedCounter returns the counter of messages a stage missed (for tests).
func (m *Metrics) MissedCounter(stage string) prometheus.Counter {
	return m.missed.WithLabelValues(stage)
}

// stageMetrics are one stage's series of the per-message metrics, looked
// up once instead of for every message.
type stageMetrics struct {
	inFlight       prometheus.Gauge
	duration       prometheus.Observer
	outputs        prometheus.Counter
	ack, nak, term prometheus.Counter
	copies         prometheus.Counter
}

func (m *Metrics) forStage(stage string) stageMetrics {
	return stageMetrics{
		inFlight: m.inFlight.WithLabelValues(stage),
		duration: m.duration.WithLabelValues(stage),
		outputs:  m.outputs.WithLabelValues(stage),
		ack:      m.messages.WithLabelValues(stage, OutcomeAck),
		nak:      m.messages.WithLabelValues(stage, OutcomeNak),
		term:     m.messages.WithLabelValues(stage, OutcomeTerm),
		copies:   m.copies.WithLabelValues(stage),
	}
}

// messages is the counter of result (an Outcome constant).
func (s stageMetrics) messages(result string) prometheus.Counter {
	switch result {
	case OutcomeAck:
		return s.ack
	case OutcomeNak:
		return s.nak
	default:
		return s.term
	}
}
