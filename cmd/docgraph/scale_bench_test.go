package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/bus"
	"github.com/docgraph/docgraph/pkg/corpusgen"
	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/logging"
	"github.com/docgraph/docgraph/pkg/pipeline"
)

// Scaling benchmarks: docgraph worker processes against one NATS server.
// The machine's core count bounds what more processes can give; run them
// without -race:
//
//	go test -run '^$' -bench 'ExtractorScaling|DeploymentEndToEnd' -benchtime 1x ./cmd/docgraph/

// benchEnvInt reads a size from the environment, or def.
func benchEnvInt(b *testing.B, name string, def int) int {
	b.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	require.NoError(b, err, name)
	return n
}

// benchWait polls cond until it returns nil, failing after timeout.
func benchWait(b *testing.B, timeout time.Duration, procs []*proc, cond func() error) {
	b.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for err := cond(); err != nil; err = cond() {
		for _, p := range procs {
			select {
			case perr := <-p.done:
				p.done <- perr
				b.Fatalf("worker exited: %v\n%s", perr, tail(p.log(), 20))
			default:
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("not met within %s: %v", timeout, err)
		}
		<-tick.C
	}
}

// benchStop stops processes with SIGTERM and waits for them.
func benchStop(b *testing.B, procs []*proc) {
	b.Helper()
	for _, p := range procs {
		require.NoError(b, p.cmd.Process.Signal(syscall.SIGTERM))
	}
	for _, p := range procs {
		select {
		case err := <-p.done:
			p.done <- err
			require.NoError(b, err, tail(p.log(), 20))
		case <-time.After(60 * time.Second):
			b.Fatalf("no exit after SIGTERM\n%s", tail(p.log(), 20))
		}
	}
}

// benchNATS starts a NATS server with docgraph's streams for one
// benchmark iteration; stop it with the returned function.
func benchNATS(b *testing.B) (*server.Server, jetstream.JetStream, func()) {
	b.Helper()
	ns, err := bus.StartEmbedded(bus.EmbeddedConfig{StoreDir: b.TempDir(), Port: 0, ServerName: "docgraph-bench"}, logging.Discard())
	require.NoError(b, err)
	nc, err := nats.Connect(ns.ClientURL())
	require.NoError(b, err)
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	require.NoError(b, err)
	require.NoError(b, bus.Provision(b.Context(), js, bus.DefaultTopology()))
	return ns, js, func() {
		nc.Close()
		ns.Shutdown()
		ns.WaitForShutdown()
	}
}

// prefillChunks publishes n distinct chunks (five per document) with
// mentions, as the parser would.
func prefillChunks(b *testing.B, js jetstream.JetStream, n int) {
	b.Helper()
	const perDoc = 5
	for i := 0; i < n; i += perDoc {
		doc := i / perDoc
		sum := sha256.Sum256([]byte(strconv.Itoa(doc)))
		d := event.NewDocument(fmt.Sprintf("bench/doc-%06d.md", doc), hex.EncodeToString(sum[:]), 5000, uint64(doc+1))
		for j := range min(perDoc, n-i) {
			var text strings.Builder
			for k := range 8 {
				fmt.Fprintf(&text, "Section %d of document %d follows ISO %d and AACE %d; the estimate was reviewed. ", k, doc, 1000+doc%5000, 10+(j*8+k)%90)
			}
			m, err := pipeline.NewMessage(event.SubjectChunk, event.Chunk{Document: d, Index: j, Total: perDoc, Text: text.String()})
			require.NoError(b, err)
			m.Header.Set(pipeline.HeaderCorrelationID, fmt.Sprintf("bench-%06d", doc))
			m.Header.Set(pipeline.HeaderMsgID, fmt.Sprintf("bench:%d:%d", doc, j))
			_, err = js.PublishMsgAsync(&nats.Msg{Subject: m.Subject, Data: m.Data, Header: m.Header})
			require.NoError(b, err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(2 * time.Minute):
		b.Fatal("prefill: publish acks missing after 2m")
	}
}

// consumerDrained says why a consumer has work left, or nil.
func consumerDrained(ctx context.Context, js jetstream.JetStream, c bus.ConsumerSpec) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ci, si, err := pipelineState(ctx, js, c)
	if err != nil {
		return err
	}
	if ci.NumPending > 0 || ci.NumAckPending > 0 || ci.AckFloor.Stream < si.State.LastSeq {
		return fmt.Errorf("%s: %d pending, %d unacked, ack floor %d of %d", c.Durable, ci.NumPending, ci.NumAckPending, ci.AckFloor.Stream, si.State.LastSeq)
	}
	return nil
}

func benchWorkerArgs(stage, url, data string) []string {
	return []string{"worker", stage, "--nats", url, "--data", data, "--metrics-addr", "", "--graph.store", "duckdb",
		"--log-format", "json", "--log-level", "info", "--extractor.refresh_delay", "50ms"}
}

// BenchmarkExtractorScaling measures extractor throughput with 1, 2 and 3
// extractor processes draining a chunk stream pre-filled with
// DOCGRAPH_BENCH_CHUNKS chunks (default 20000). The clock runs from the
// processes' start until the consumer has acked every chunk, so process
// start-up is included; ready-s reports it.
func BenchmarkExtractorScaling(b *testing.B) {
	chunks := benchEnvInt(b, "DOCGRAPH_BENCH_CHUNKS", 20000)
	extractor := bus.ConsumersOf(bus.StageExtractor)[0]
	for _, k := range []int{1, 2, 3} {
		b.Run(fmt.Sprintf("extractors=%d", k), func(b *testing.B) {
			var msgs, secs, ready float64
			for b.Loop() {
				b.StopTimer()
				ns, js, stop := benchNATS(b)
				prefillChunks(b, js, chunks)
				b.StartTimer()
				start := time.Now()
				var procs []*proc
				for range k {
					procs = append(procs, startProc(b, benchWorkerArgs(bus.StageExtractor, ns.ClientURL(), b.TempDir())...))
				}
				benchWait(b, time.Minute, procs, func() error {
					for _, p := range procs {
						if !strings.Contains(p.log(), "all stages ready") {
							return fmt.Errorf("not ready")
						}
					}
					return nil
				})
				ready += time.Since(start).Seconds()
				benchWait(b, 10*time.Minute, procs, func() error { return consumerDrained(b.Context(), js, extractor) })
				secs += time.Since(start).Seconds()
				msgs += float64(chunks)
				b.StopTimer()
				benchStop(b, procs)
				stop()
				b.StartTimer()
			}
			b.ReportMetric(msgs/secs, "msgs/s")
			b.ReportMetric(ready/float64(b.N), "ready-s")
		})
	}
}

// BenchmarkDeploymentEndToEnd ingests one generated corpus of
// DOCGRAPH_BENCH_DOCS documents (default 300) with the multi-process
// deployment (watcher, parser, two extractors and the graph writer as
// separate processes on one NATS server; the clock starts with the
// watcher, the others already running) and with a single-process
// `docgraph ingest`.
func BenchmarkDeploymentEndToEnd(b *testing.B) {
	docs := benchEnvInt(b, "DOCGRAPH_BENCH_DOCS", 300)
	in := b.TempDir()
	gen, err := corpusgen.Generate(in, corpusgen.Options{Docs: docs, Seed: 1, Formats: []string{"md", "txt", "html"}})
	require.NoError(b, err)

	b.Run("multi-process", func(b *testing.B) {
		var files, secs float64
		for b.Loop() {
			b.StopTimer()
			ns, js, stop := benchNATS(b)
			url := ns.ClientURL()
			procs := []*proc{startProc(b, benchWorkerArgs(bus.StageGraphWriter, url, b.TempDir())...)}
			for range 2 {
				procs = append(procs, startProc(b, benchWorkerArgs(bus.StageExtractor, url, b.TempDir())...))
			}
			procs = append(procs, startProc(b, benchWorkerArgs(bus.StageParser, url, b.TempDir())...))
			benchWait(b, time.Minute, procs, func() error {
				for _, p := range procs {
					if !strings.Contains(p.log(), "all stages ready") {
						return fmt.Errorf("not ready")
					}
				}
				return nil
			})
			b.StartTimer()
			start := time.Now()
			procs = append(procs, startProc(b, append(benchWorkerArgs(bus.StageWatcher, url, b.TempDir()), "--watch", in)...))
			quiet := 0
			benchWait(b, 10*time.Minute, procs, func() error {
				if err := drained(b.Context(), js, gen.Files); err != nil {
					quiet = 0
					return err
				}
				if quiet++; quiet < 2 {
					return fmt.Errorf("drained once")
				}
				return nil
			})
			secs += time.Since(start).Seconds()
			files += float64(gen.Files)
			b.StopTimer()
			benchStop(b, procs)
			stop()
			b.StartTimer()
		}
		b.ReportMetric(files/secs, "docs/s")
	})

	b.Run("ingest", func(b *testing.B) {
		var files, secs float64
		for b.Loop() {
			b.StopTimer()
			data := b.TempDir()
			b.StartTimer()
			start := time.Now()
			mustDocgraph(b, ingestArgs(data, in)...)
			secs += time.Since(start).Seconds()
			files += float64(gen.Files)
		}
		b.ReportMetric(files/secs, "docs/s")
	})
}
