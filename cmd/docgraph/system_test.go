package main

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/bus"
	"github.com/docgraph/docgraph/pkg/config"
	"github.com/docgraph/docgraph/pkg/testwait"
)

// Every stage's runner takes the process-wide settings: the PubAck
// timeout (which bounds a failover's stall) and the shutdown grace.
func TestStageRunnerConfig(t *testing.T) {
	cfg := config.Default()
	cfg.NATS.PubAckTimeout = 2 * time.Second
	cfg.Shutdown = 7 * time.Second
	cfg.Stages.Extractor.Concurrency = 3
	rc := stageRunnerConfig(cfg, cfg.Stages.Extractor, bus.StageExtractor, bus.StreamChunks)
	assert.Equal(t, 2*time.Second, rc.PubAckTimeout)
	assert.Equal(t, 7*time.Second, rc.ShutdownTimeout)
	assert.Equal(t, 3, rc.Concurrency)
	assert.Equal(t, bus.StageExtractor, rc.Durable)
	assert.Equal(t, bus.StreamChunks, rc.Stream)
	assert.Equal(t, 5*time.Second, config.Default().NATS.PubAckTimeout, "the default")

	assert.Zero(t, extractorRunnerConfig(cfg).PullBatch, "rules: the runner's default")
	cfg.Extractor.Kind = "llm"
	llm := extractorRunnerConfig(cfg)
	assert.Equal(t, 12, llm.PullBatch, "an LLM: a few chunks per handler ahead")
	assert.Equal(t, 3, llm.Concurrency)
}

// A stop signal that arrives while the stages start is a clean stop, not a
// failure ('gazetteer bucket: context canceled', exit 2).
func TestStopWhileStartingIsClean(t *testing.T) {
	cfg := config.Default()
	cfg.Data = t.TempDir()
	cfg.NATS.Listen = "off"
	cfg.Metrics.Addr = ""
	cfg.Watch.Dir = t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var logs testwait.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	stages := []string{bus.StageWatcher, bus.StageParser, bus.StageExtractor, bus.StageGraphWriter}
	require.NoError(t, runStages(ctx, cfg, "up", stages, false, log))
	assert.Contains(t, logs.String(), "docgraph stopped while starting")
}
