package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/docgraph/docgraph/pkg/bus"
	"github.com/docgraph/docgraph/pkg/config"
	"github.com/docgraph/docgraph/pkg/graph"
	"github.com/docgraph/docgraph/pkg/graph/graphapi"
	"github.com/docgraph/docgraph/pkg/logging"
	"github.com/docgraph/docgraph/pkg/pipeline"
)

const upHelp = `Runs every stage in one process: the watcher on --watch, the parser, the extractor
and the graph writer. Without --nats it starts an embedded NATS JetStream server
(storage under --data, clients on --nats.listen so more workers can join); without
--neo4j the graph lives in an embedded DuckDB file under --data. One process at a
time uses a data directory: a second 'up' or 'ingest' on it fails at once, and the
operator commands (status, dlq, graph, ...) on it talk to this process. The watched
folder is created if missing, provided its parent folder exists.
Drop files into the watched folder; they appear in the graph within seconds.
Stop with Ctrl-C (SIGINT) or SIGTERM: in-flight work finishes first.`

func cmdUp(ctx context.Context, e env, args []string) error {
	cfg, rest, err := parseFlags(e, "up", "[--watch DIR] [flags]", upHelp, args, nil)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("up: unexpected arguments %q (use --watch DIR)", rest)
	}
	log, err := logging.New(cfg.Log, e.stderr)
	if err != nil {
		return err
	}
	stages := []string{bus.StageParser, bus.StageExtractor, bus.StageGraphWriter}
	if cfg.Watch.Dir != "" {
		stages = append([]string{bus.StageWatcher}, stages...)
	}
	return runStages(ctx, cfg, "up", stages, true, log)
}

// llmKeyMissing reports an API key that extractor.kind llm needs and the
// environment lacks, when stages include the extractor: before the data
// directory, the server or the watcher start.
func llmKeyMissing(cfg config.Config, stages []string) error {
	if cfg.Extractor.Kind != "llm" || !slices.Contains(stages, bus.StageExtractor) {
		return nil
	}
	return cfg.Extractor.LLM.MissingAPIKey()
}

// makeWatchDir creates the watched folder if it is missing and its parent
// exists (`up --watch ./inbox` on a fresh machine), and says whether it
// did; a missing parent is more likely a mistyped path.
func makeWatchDir(dir string, log *slog.Logger) (created bool, err error) {
	err = os.Mkdir(dir, 0o750)
	switch {
	case err == nil:
		log.Info("watch folder created", slog.String("dir", dir))
		return true, nil
	case errors.Is(err, fs.ErrExist):
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return false, fmt.Errorf("watch.dir: %s is not a folder", dir)
		}
		return false, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, fmt.Errorf("watch.dir: %s does not exist, nor its parent folder %s", dir, filepath.Dir(filepath.Clean(dir)))
	default:
		return false, fmt.Errorf("watch.dir: %w", err)
	}
}

const workerHelp = `Runs one stage against an external NATS (--nats URL[,URL...]): watcher, parser,
extractor or graph-writer. Replicas of a stage share its durable consumer, so start as
many as the load needs; a replica that dies leaves its unacknowledged messages to the
others after stages.<stage>.ack_wait. Run one watcher per folder. Graph writers
replicate on Neo4j only: one with the embedded graph (under --data) must be the only
graph writer on its NATS, and a second one refuses to start. Each process on a machine
needs its own --metrics-addr (or "" for none).`

func cmdWorker(ctx context.Context, e env, args []string) error {
	// Flags may come before the stage: 'worker --nats URL parser'.
	stage, args := splitSubcommand(args)
	if stage == "" || isHelp(stage) {
		fmt.Fprintf(e.stderr, "Usage: docgraph worker STAGE --nats URL [flags]\n\n%s\n\n'docgraph worker STAGE --help' lists the flags.\n", workerHelp)
		if stage == "" {
			return fmt.Errorf("worker: stage required")
		}
		return nil
	}
	switch stage {
	case bus.StageWatcher, bus.StageParser, bus.StageExtractor, bus.StageGraphWriter:
	default:
		return fmt.Errorf("worker: unknown stage %q (want watcher, parser, extractor or graph-writer)", stage)
	}
	cfg, rest, err := parseFlags(e, "worker "+stage, "--nats URL [flags]", workerHelp, args, nil)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("worker: unexpected arguments %q", rest)
	}
	if cfg.NATS.URL == "" {
		return fmt.Errorf("worker: nats.url is required (--nats nats://host:4222); the embedded server runs only in `docgraph up`")
	}
	if stage == bus.StageWatcher && cfg.Watch.Dir == "" {
		return fmt.Errorf("worker watcher: watch.dir is required (--watch DIR)")
	}
	log, err := logging.New(cfg.Log, e.stderr)
	if err != nil {
		return err
	}
	return runStages(ctx, cfg, "worker "+stage, []string{stage}, false, log)
}

// runStages starts the system and runs the given stages until ctx is done.
// command names the process in the data directory's lock.
func runStages(ctx context.Context, cfg config.Config, command string, stages []string, listen bool, log *slog.Logger) (err error) {
	defer func() {
		// A stop signal while the stages start is a clean stop too.
		if err != nil && ctx.Err() != nil && errors.Is(err, context.Canceled) {
			log.Info("docgraph stopped while starting", slog.Any("cause", err))
			err = nil
		}
	}()
	// What can fail at once does so before the server starts or a stage
	// publishes anything.
	if slices.ContainsFunc(stages, func(s string) bool { return s != bus.StageWatcher }) {
		if _, _, err := loadSchemas(cfg); err != nil {
			return err
		}
	}
	if err := llmKeyMissing(cfg, stages); err != nil {
		return err
	}
	if command == "up" && cfg.Watch.Dir != "" {
		created, mkErr := makeWatchDir(cfg.Watch.Dir, log)
		if mkErr != nil {
			return mkErr
		}
		if created {
			// A start that fails takes back the folder it made, unless
			// files were put in it meanwhile (os.Remove leaves a folder
			// that is not empty).
			defer func() {
				if err != nil && !errors.Is(err, context.Canceled) {
					_ = os.Remove(cfg.Watch.Dir)
				}
			}()
		}
	}
	lock, err := lockData(cfg, command, slices.Contains(stages, bus.StageGraphWriter), listen)
	if err != nil {
		return err
	}
	defer func() { err = releaseData(lock, err) }()
	metricsLn, err := listenMetrics(cfg)
	if err != nil {
		return err
	}
	if metricsLn != nil {
		defer metricsLn.Close() // closed already once the server has run
	}
	s, err := startSystem(ctx, cfg, log, systemOptions{listen: listen, resume: true})
	if err != nil {
		return err
	}
	defer s.close()
	if err := recordNATS(lock, s, command); err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	if slices.Contains(stages, bus.StageGraphWriter) {
		claim, err := claimGraphWriter(ctx, cfg, s, command, log)
		if err != nil {
			return err
		}
		g.Go(func() error { return claim.Run(gctx) })
	}
	// Stages start independently: a graph writer waiting for Neo4j does not
	// hold up the others. /readyz turns true once every stage runs.
	var waiting atomic.Int32
	waiting.Store(int32(len(stages)))
	started := func() {
		if waiting.Add(-1) == 0 {
			s.ready.Store(true)
			log.Info("all stages ready")
		}
	}
	// A builder returns a stage's runners and, for the graph writer, the
	// store it serves to operator commands.
	type built struct {
		runners []*pipeline.Runner
		store   graph.Store
	}
	var builders []func() (built, error)
	for _, stage := range stages {
		if stage == bus.StageWatcher {
			w, err := s.newWatcher(cfg.Watch.Dir)
			if err != nil {
				return err
			}
			g.Go(func() error { started(); return w.Run(gctx) })
			continue
		}
		if stage == bus.StageGraphWriter {
			// The writer withdraws names through the gazetteer mirror,
			// which runs among the tasks started below: open it now, not
			// once the store is open (a later Neo4j would leave a
			// graph-writer worker's mirror never started).
			if _, err := s.gazetteerBook(ctx); err != nil {
				return err
			}
			builders = append(builders, func() (built, error) {
				rs, err := s.stageRunners(gctx, stage)
				return built{runners: rs, store: s.graphStore}, err
			})
			continue
		}
		rs, err := s.stageRunners(ctx, stage)
		if err != nil {
			return err
		}
		builders = append(builders, func() (built, error) { return built{runners: rs}, nil })
	}
	if err := s.startTasks(gctx, g); err != nil {
		return err
	}
	for _, build := range builders {
		g.Go(func() error {
			b, err := build()
			if err != nil {
				if gctx.Err() != nil {
					return nil
				}
				return err
			}
			rg, rctx := errgroup.WithContext(gctx)
			for _, r := range b.runners {
				rg.Go(func() error { return r.Run(rctx) })
			}
			if b.store != nil {
				rg.Go(func() error { return graphapi.Serve(rctx, s.nc, s.js, b.store, s.tempDir(), log) })
			}
			// Ready once every runner pulls from its consumer: a replica
			// reported ready before that could see its share taken by others.
			for _, r := range b.runners {
				select {
				case <-r.Consuming():
				case <-rctx.Done():
					return rg.Wait()
				}
			}
			s.running.add(b.runners...)
			started()
			return rg.Wait()
		})
	}
	g.Go(func() error { return s.serveHTTP(gctx, metricsLn) })
	natsURL := bus.RedactURL(cfg.NATS.URL)
	if s.ns != nil {
		natsURL = "embedded"
		if listen && cfg.NATS.Listen != "off" {
			natsURL = "embedded, clients on nats://" + cfg.NATS.Listen
		}
	}
	// The folder and the graph are named by the stages that use them.
	attrs := []any{slog.Any("stages", stages)}
	if slices.Contains(stages, bus.StageWatcher) {
		attrs = append(attrs, slog.String("watch", cfg.Watch.Dir))
	}
	attrs = append(attrs, slog.String("nats", natsURL))
	if slices.Contains(stages, bus.StageGraphWriter) {
		attrs = append(attrs, slog.String("graph", cfg.GraphStore()))
	}
	log.Info("docgraph running", append(attrs, slog.String("data", cfg.Data))...)
	err = g.Wait()
	log.Info("docgraph stopped")
	return err
}

// claimGraphWriter records this process among the graph writers on its
// NATS, failing when it cannot run next to one already there (an embedded
// graph takes a single graph writer).
func claimGraphWriter(ctx context.Context, cfg config.Config, s *system, command string, log *slog.Logger) (*bus.GraphWriterClaim, error) {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown host"
	}
	w := bus.GraphWriter{Command: command, PID: os.Getpid(), Host: host, Store: cfg.GraphStore()}
	if w.Store != "neo4j" {
		w.Store = bus.StoreEmbedded
		if w.Data, err = filepath.Abs(cfg.Data); err != nil {
			return nil, fmt.Errorf("data dir: %w", err)
		}
	} else {
		w.Store = "neo4j " + bus.RedactURL(cfg.Neo4j.URI)
	}
	// Like provisioning, retried while JetStream is slow to answer (a
	// cluster starting, a leader election).
	deadline := time.Now().Add(2 * time.Minute)
	for attempt := 0; ; attempt++ {
		var c *bus.GraphWriterClaim
		err := forgetGraphWriters(ctx, s)
		if err == nil {
			c, err = bus.ClaimGraphWriter(ctx, s.js, w, log)
		}
		if err == nil || ctx.Err() != nil || !bus.IsTransient(err) || time.Now().After(deadline) {
			return c, err
		}
		wait := min(250*time.Millisecond<<attempt, 2*time.Second)
		log.Warn("record graph writer: jetstream slow to answer; retrying", slog.Duration("retry_in", wait), slog.Any(logging.KeyErr, err))
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
	}
}

// forgetGraphWriters forgets the graph writers recorded by an earlier run
// of this process's own NATS server, if it runs one.
func forgetGraphWriters(ctx context.Context, s *system) error {
	if s.ns == nil {
		return nil
	}
	return bus.ForgetGraphWriters(ctx, s.js)
}
