package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"

	"github.com/docgraph/docgraph/pkg/bus"
	"github.com/docgraph/docgraph/pkg/config"
	"github.com/docgraph/docgraph/pkg/datadir"
	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/gazetteer"
	"github.com/docgraph/docgraph/pkg/graph"
	"github.com/docgraph/docgraph/pkg/graph/duckstore"
	"github.com/docgraph/docgraph/pkg/graph/neostore"
	"github.com/docgraph/docgraph/pkg/llm"
	"github.com/docgraph/docgraph/pkg/logging"
	"github.com/docgraph/docgraph/pkg/pipeline"
	"github.com/docgraph/docgraph/pkg/schema"
	"github.com/docgraph/docgraph/schemas"
	"github.com/docgraph/docgraph/services/extractor"
	"github.com/docgraph/docgraph/services/graphwriter"
	"github.com/docgraph/docgraph/services/parser"
	"github.com/docgraph/docgraph/services/watcher"
)

// parseFlags builds a command's flag set over the config loader, parses
// args and loads the config (defaults < file < env < flags), refusing a
// DOCGRAPH_* variable that sets nothing. The returned args are the
// positional ones.
func parseFlags(e env, name, synopsis, help string, args []string, extra func(*flag.FlagSet)) (config.Config, []string, error) {
	fs := flag.NewFlagSet("docgraph "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	l := config.NewLoader()
	l.RegisterFlags(fs, true)
	if extra != nil {
		extra(fs)
	}
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: docgraph %s %s\n\n%s\n\nFlags:\n", name, synopsis, help)
		fs.PrintDefaults()
	}
	// Flags may come before or after positional arguments.
	var positional []string
	for {
		if err := parseFlagSet(fs, e.stderr, args); err != nil {
			return config.Config{}, nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			positional = append(positional, rest...)
			break
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
	cfg, err := l.Load(e.getenv)
	if err := errors.Join(err, config.CheckEnv(e.environ(), cfg)); err != nil {
		return cfg, nil, err
	}
	if err := cfg.Validate(); err != nil {
		return cfg, nil, fmt.Errorf("invalid configuration:\n%w", err)
	}
	return cfg, positional, nil
}

// system is one process's connection to the pipeline: NATS (embedded or
// external), metrics and the schemas.
type system struct {
	cfg     config.Config
	log     *slog.Logger
	reg     *prometheus.Registry
	metrics *pipeline.Metrics
	ns      *server.Server // embedded server, or nil
	nc      *nats.Conn
	js      jetstream.JetStream
	ready   atomic.Bool
	running runnerSet // the stages' runners, once consuming (/readyz)
	closers []func() error
	lock    *datadir.Lock // the data directory, when this system holds it; released last
	// maxStore is the disk the embedded server's JetStream may use
	// (operator commands: this process's server, or the one of the data
	// directory's owner), 0 when not known.
	maxStore int64
	// maxStoreUnrecorded names the data directory's owner when it runs
	// the embedded server but did not record its maxStore (an earlier
	// version did not): that server has a limit, which is unknown.
	maxStoreUnrecorded string
	procTemp           *datadir.Lock // this process's temp directory (procTempDir)

	graphStore graph.Store // the graph writer's store (set by stageRunners)
	// rowsRejected, if set before stageRunners, is told the spreadsheet
	// rows the parser skips (ingest's summary).
	rowsRejected func(file string, rows []event.RowError)
	book         *gazetteer.Book
	refresher    *extractor.Refresher
	tasks        []func(context.Context) error // background work of the stages
}

// gazetteerBook returns the process's mirror of the gazetteer bucket,
// starting it on first use.
func (s *system) gazetteerBook(ctx context.Context) (*gazetteer.Book, error) {
	if s.book != nil {
		return s.book, nil
	}
	b, err := gazetteer.Open(ctx, s.js, s.log)
	if err != nil {
		return nil, err
	}
	s.book = b
	s.tasks = append(s.tasks, b.Run)
	return b, nil
}

// setMemoryLimit sets the Go runtime's soft memory limit, unless it is
// 0 or GOMEMLIMIT set one.
func setMemoryLimit(limit config.ByteSize, log *slog.Logger) {
	if limit <= 0 || debug.SetMemoryLimit(-1) != math.MaxInt64 {
		return
	}
	debug.SetMemoryLimit(int64(limit))
	log.Debug("go memory limit set", "bytes", int64(limit))
}

type systemOptions struct {
	listen bool // embedded server listens on cfg.NATS.Listen (up); ingest keeps it in-process
	resume bool // stages run here: redeliver what a previous run left in flight
	// operator: an operator command creates the streams and buckets that
	// are missing but leaves the running system's configuration of the
	// others alone (its defaults are not the system's).
	operator bool
}

func startSystem(ctx context.Context, cfg config.Config, log *slog.Logger, opts systemOptions) (*system, error) {
	if opts.resume {
		setMemoryLimit(cfg.MemoryLimit, log)
	}
	s := &system{cfg: cfg, log: log, reg: prometheus.NewRegistry()}
	s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m, err := pipeline.NewMetrics(s.reg)
	if err != nil {
		return nil, err
	}
	s.metrics = m
	url := cfg.NATS.URL
	var connOpts []nats.Option
	if url == "" {
		ec := bus.EmbeddedConfig{
			StoreDir:     filepath.Join(cfg.Data, "nats"),
			Port:         -1,
			SyncInterval: cfg.NATS.SyncInterval,
			SyncAlways:   cfg.NATS.SyncAlways,
			MaxStore:     int64(cfg.NATS.MaxStore),
		}
		if opts.listen && cfg.NATS.Listen != "" && cfg.NATS.Listen != "off" {
			host, port, err := net.SplitHostPort(cfg.NATS.Listen)
			if err != nil {
				return nil, fmt.Errorf("nats.listen: %w", err)
			}
			ec.Host = host
			if ec.Port, err = strconv.Atoi(port); err != nil {
				return nil, fmt.Errorf("nats.listen: bad port %q", port)
			}
		}
		ns, err := bus.StartEmbedded(ec, log)
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("nats.listen: %w (give each docgraph process on this machine its own --nats.listen, or off for none)", err)
		}
		if err != nil {
			return nil, err
		}
		s.ns = ns
		connOpts = append(connOpts, nats.InProcessServer(ns))
		url = ns.ClientURL()
	}
	nc, err := bus.Connect(bus.ConnConfig{
		URL: url, Name: "docgraph", User: cfg.NATS.User, Password: cfg.NATS.Password, Token: cfg.NATS.Token,
		NKeyFile: cfg.NATS.NKeyFile, CredsFile: cfg.NATS.CredsFile,
		TLSCA: cfg.NATS.TLSCA, TLSCert: cfg.NATS.TLSCert, TLSKey: cfg.NATS.TLSKey,
	}, log, connOpts...)
	if err != nil {
		s.close()
		return nil, err
	}
	s.nc = nc
	s.js, err = jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096), jetstream.WithPublishAsyncTimeout(cfg.NATS.PubAckTimeout))
	if err != nil {
		s.close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	topo := bus.TopologyConfig{Replicas: cfg.Streams.Replicas, MaxAge: cfg.Streams.MaxAge, ChunksMaxAge: cfg.Streams.ChunksMaxAge,
		Duplicates: cfg.Streams.Duplicates, DataDuplicates: cfg.Streams.DataDuplicates, KeepExisting: opts.operator}
	if err := provision(ctx, s.js, topo, log); err != nil {
		s.close()
		return nil, err
	}
	if s.ns != nil && opts.resume {
		n, err := bus.ResumeOrphans(ctx, s.js)
		if err != nil {
			s.close()
			return nil, err
		}
		if n > 0 {
			log.Info("resuming work left in flight by the previous run", slog.Int("messages", n))
		}
	}
	return s, nil
}

// provision creates the streams and buckets, retrying for up to two
// minutes while JetStream does not answer in time: workers starting
// together against a fresh cluster all create the replicated streams at
// once, and a create that races another one can go unanswered although
// the stream gets created. Each retry gets further.
func provision(ctx context.Context, js jetstream.JetStream, topo bus.TopologyConfig, log *slog.Logger) error {
	deadline := time.Now().Add(2 * time.Minute)
	for attempt := 0; ; attempt++ {
		err := bus.Provision(ctx, js, topo)
		if err == nil || ctx.Err() != nil || !bus.IsTransient(err) || time.Now().After(deadline) {
			return err
		}
		wait := min(250*time.Millisecond<<attempt, 2*time.Second)
		log.Warn("provision streams: jetstream slow to answer; retrying", slog.Duration("retry_in", wait), slog.Any(logging.KeyErr, err))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

func (s *system) onClose(fn func() error) { s.closers = append(s.closers, fn) }

func (s *system) close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		if err := s.closers[i](); err != nil {
			s.log.Warn("close", slog.Any(logging.KeyErr, err))
		}
	}
	if s.nc != nil {
		// Acks and naks are fire-and-forget: flush them before closing.
		if err := s.nc.FlushTimeout(5 * time.Second); err != nil && s.nc.IsConnected() {
			s.log.Warn("flush nats", slog.Any(logging.KeyErr, err))
		}
		s.nc.Close()
	}
	if s.ns != nil {
		s.ns.Shutdown()
		s.ns.WaitForShutdown()
	}
	if err := s.lock.Close(); err != nil {
		s.log.Warn("release data dir", slog.Any(logging.KeyErr, err))
	}
}

// schemas loads the extraction schema and the structured mapping: the
// configured files, or the shipped ones.
func loadSchemas(cfg config.Config) (*schema.Extraction, *schema.Mapping, error) {
	read := func(file, shipped string) ([]byte, error) {
		if file != "" {
			return os.ReadFile(file)
		}
		return fs.ReadFile(schemas.FS, shipped)
	}
	// Both files are read and checked before either error is returned,
	// so that one run reports every problem of both.
	// An error names the key and, when it is not the shipped one, the file.
	label := func(key, file string) string {
		if file == "" {
			return key
		}
		return key + " " + file
	}
	x, xerr := func() (*schema.Extraction, error) {
		b, err := read(cfg.Schemas.Extraction, "extraction.yaml")
		if err != nil {
			return nil, fmt.Errorf("schemas.extraction: %w", err)
		}
		x, err := schema.LoadExtraction(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", label("schemas.extraction", cfg.Schemas.Extraction), err)
		}
		return x, nil
	}()
	m, merr := func() (*schema.Mapping, error) {
		b, err := read(cfg.Schemas.Mapping, "structured.yaml")
		if err != nil {
			return nil, fmt.Errorf("schemas.mapping: %w", err)
		}
		m, err := schema.LoadMapping(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", label("schemas.mapping", cfg.Schemas.Mapping), err)
		}
		return m, nil
	}()
	if xerr != nil || merr != nil {
		return nil, nil, errors.Join(xerr, merr)
	}
	if err := m.CheckAgainst(x); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", label("schemas.mapping", cfg.Schemas.Mapping), err)
	}
	return x, m, nil
}

// graphSchema lists the labels and relationship types a store accepts.
func graphSchema(x *schema.Extraction, m *schema.Mapping) (labels, relTypes []string) {
	add := func(list []string, v string) []string {
		if !slices.Contains(list, v) {
			list = append(list, v)
		}
		return list
	}
	for _, l := range x.Labels() {
		labels = add(labels, l)
	}
	for _, t := range x.RelationshipTypes() {
		relTypes = add(relTypes, t)
	}
	for _, src := range m.Sources {
		for _, n := range src.Nodes {
			labels = add(labels, n.Label)
		}
		for _, r := range src.Relationships {
			relTypes = add(relTypes, r.Type)
		}
	}
	return labels, relTypes
}

// openStore opens the configured graph store; log (nil: discarded) gets
// the embedded store's own events, such as a reopen after a fatal error.
func openStore(ctx context.Context, cfg config.Config, reg prometheus.Registerer, log *slog.Logger) (graph.Store, error) {
	x, m, err := loadSchemas(cfg)
	if err != nil {
		return nil, err
	}
	labels, relTypes := graphSchema(x, m)
	var st graph.Store
	switch cfg.GraphStore() {
	case "neo4j":
		if reg == nil {
			reg = prometheus.NewRegistry()
		}
		st, err = neostore.Open(ctx, neostore.Config{
			URI: cfg.Neo4j.URI, User: cfg.Neo4j.User, Password: cfg.Neo4j.Password, Database: cfg.Neo4j.Database, Logger: log,
			Labels: labels, RelTypes: relTypes,
		}, reg)
		err = neo4jLoginHint(err, cfg.Neo4j)
	default:
		if err := os.MkdirAll(cfg.Data, 0o750); err != nil {
			return nil, fmt.Errorf("data dir: %w", err)
		}
		path := filepath.Join(cfg.Data, "graph.duckdb")
		st, err = duckstore.Open(ctx, duckstore.Config{
			Path: path, Labels: labels, RelTypes: relTypes, MemoryLimit: cfg.GraphDuckDBMemory(), Logger: log, Registerer: reg,
		})
		if err != nil {
			err = fmt.Errorf("%w (the embedded graph can be open in one process only: is `docgraph up` running on %s?)", err, cfg.Data)
		}
	}
	if err != nil {
		return nil, err
	}
	if err := st.Setup(ctx); err != nil {
		_ = st.Close()
		return nil, err
	}
	return st, nil
}

// neo4jLoginHint adds to a refused login without a password how to give
// one: the driver's "unauthorized" does not say that none was sent.
func neo4jLoginHint(err error, cfg config.Neo4jConfig) error {
	if err == nil || cfg.Password != "" || !neostore.IsLoginRefused(err) {
		return err
	}
	return fmt.Errorf("%w: no password was given (set NEO4J_PASSWORD, or neo4j.password_file)", err)
}

func stageRunnerConfig(cfg config.Config, sc config.StageConfig, stage, stream string) pipeline.Config {
	return pipeline.Config{
		Stage: stage, Stream: stream, Durable: stage,
		Concurrency: sc.Concurrency, MaxAckPending: sc.MaxAckPending, AckWait: sc.AckWait,
		MaxDeliver: sc.MaxDeliver, Backoff: sc.Backoff, HandlerTimeout: sc.HandlerTimeout, SlowAfter: sc.SlowAfter,
		PubAckTimeout: cfg.NATS.PubAckTimeout, ShutdownTimeout: cfg.Shutdown,
	}
}

// extractorRunnerConfig is the extractor's runner configuration. With an
// LLM a chunk takes seconds: the runner takes a few per handler ahead
// instead of the default 256, which would wait in its buffer past
// ack_wait and come back as copies.
func extractorRunnerConfig(cfg config.Config) pipeline.Config {
	rc := stageRunnerConfig(cfg, cfg.Stages.Extractor, bus.StageExtractor, bus.StreamChunks)
	if cfg.Extractor.Kind == "llm" {
		rc.PullBatch = max(8, 4*rc.Concurrency)
	}
	return rc
}

// tempDir is where stages write temporary files: under --data, which is
// writable where the root file system is not.
func (s *system) tempDir() string { return filepath.Join(s.cfg.Data, "tmp") }

// procTempDir is this process's own directory under tempDir, for the
// parser's copies of spreadsheets and DuckDB's spill files. Processes
// share tempDir (workers on one --data); each removes the directories of
// those that were killed before they could clean up, and its own at a
// clean stop.
func (s *system) procTempDir() (string, error) {
	if s.procTemp != nil {
		return s.procTemp.Dir(), nil
	}
	l, err := datadir.TempDir(s.tempDir(), datadir.Owner{Command: "temp files"})
	if err != nil {
		return "", err
	}
	s.procTemp = l
	s.onClose(func() error {
		return errors.Join(os.RemoveAll(l.Dir()), l.Close())
	})
	return l.Dir(), nil
}

// stageRunners builds the runners of one stage.
func (s *system) stageRunners(ctx context.Context, stage string) ([]*pipeline.Runner, error) {
	cfg := s.cfg
	switch stage {
	case bus.StageParser:
		_, m, err := loadSchemas(cfg)
		if err != nil {
			return nil, err
		}
		objects, err := bus.NewObjects(ctx, s.js, bus.BucketFiles)
		if err != nil {
			return nil, err
		}
		tmp, err := s.procTempDir()
		if err != nil {
			return nil, err
		}
		st, err := parser.NewStructured(m, parser.StructuredConfig{BatchSize: cfg.Parser.BatchRows, TempDir: tmp, OnRejected: s.rowsRejected}, s.log)
		if err != nil {
			return nil, err
		}
		s.onClose(st.Close)
		unmapped := cfg.Parser.Unmapped
		if unmapped == "" {
			unmapped = m.Unmapped // the mapping's own setting
		}
		p, err := parser.New(parser.Config{
			ChunkSize: cfg.Parser.ChunkSize, ChunkOverlap: cfg.Parser.ChunkOverlap,
			MaxFileSize: int64(cfg.Watch.MaxFileSize), Unmapped: unmapped, Mapping: cfg.Schemas.Mapping, TempDir: tmp,
			ReadTimeout: cfg.Parser.ReadTimeout, PDFCache: cfg.Parser.PDFCache,
		}, objects, st, s.log)
		if err != nil {
			return nil, err
		}
		if err := p.RegisterMetrics(s.reg); err != nil {
			return nil, err
		}
		r, err := pipeline.NewRunner(stageRunnerConfig(cfg, cfg.Stages.Parser, stage, bus.StreamFiles), s.js, p.Handle, s.log, s.metrics)
		return []*pipeline.Runner{r}, err
	case bus.StageExtractor:
		x, _, err := loadSchemas(cfg)
		if err != nil {
			return nil, err
		}
		var entries []extractor.Entry
		if cfg.Schemas.Gazetteer != "" {
			if entries, err = extractor.LoadGazetteerFile(cfg.Schemas.Gazetteer); err != nil {
				return nil, fmt.Errorf("schemas.gazetteer: %w", err)
			}
		}
		g := extractor.NewGazetteer(entries)
		ex, err := extractor.New(x, g)
		if err != nil {
			return nil, err
		}
		if cfg.Extractor.Kind == "llm" {
			if err := useLLM(ex, cfg.Extractor.LLM, s.reg, s.log); err != nil {
				return nil, err
			}
		}
		book, err := s.gazetteerBook(ctx)
		if err != nil {
			return nil, err
		}
		ref := extractor.NewRefresher(s.js, ex, s.log, cfg.Extractor.RefreshDelay)
		ref.UseMark(book)
		if s.ns != nil {
			// A lease left in this process's own NATS server is its
			// earlier run's, killed.
			if err := bus.ForgetRefresher(ctx, s.js); err != nil {
				return nil, err
			}
		}
		lease, err := bus.RefresherLease(ctx, s.js, stage, s.log)
		if err != nil {
			return nil, err
		}
		ref.UseLease(lease)
		s.tasks = append(s.tasks, lease.Run)
		s.refresher = ref
		book.Listen(func(c gazetteer.Change) {
			if c.Deleted {
				g.Delete(c.Entry.Label, c.Entry.Key)
			} else {
				g.Put(extractor.Entry{Label: c.Entry.Label, Key: c.Entry.Key, Name: c.Entry.Name})
			}
			g.SetRevision(c.Revision)
			if !c.Initial {
				// The revision is refreshed even when no name changed, so
				// that the next start does not re-extract every chunk.
				ref.Changed("", c.Revision)
				for _, name := range c.NamesChanged() {
					ref.Changed(name, c.Revision)
				}
			}
		})
		s.tasks = append(s.tasks, ref.Run)
		r, err := pipeline.NewRunner(extractorRunnerConfig(cfg), s.js, pipeline.Stream(ex.Handle), s.log, s.metrics)
		return []*pipeline.Runner{r}, err
	case bus.StageGraphWriter:
		st, err := openStoreRetry(ctx, cfg, s.reg, s.log)
		if err != nil {
			return nil, err
		}
		s.onClose(st.Close)
		s.graphStore = st
		if err := s.forgetEarlierVersions(ctx, st); err != nil {
			return nil, err
		}
		wcfg := graphwriter.Config{Small: cfg.Graph.BatchSmall, Medium: cfg.Graph.BatchMedium, Large: cfg.Graph.BatchLarge, MaxLatency: cfg.Graph.MaxLatency}
		book, err := s.gazetteerBook(ctx)
		if err != nil {
			return nil, err
		}
		x, _, err := loadSchemas(cfg)
		if err != nil {
			return nil, err
		}
		w, err := graphwriter.New(st, s.log, s.reg, book, gazetteerLabels(x))
		if err != nil {
			return nil, err
		}
		w.MaxRows = cfg.GraphMaxRows()
		var out []*pipeline.Runner
		for _, stream := range []string{bus.StreamExtractions, bus.StreamRecords} {
			rc := stageRunnerConfig(cfg, cfg.Stages.GraphWriter, stage, stream)
			rc.BatchSize, rc.BatchMaxWait = wcfg.BatchSize, wcfg.MaxLatency
			r, err := pipeline.NewBatchRunner(rc, s.js, w.Handle, s.log, s.metrics)
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown stage %q (want watcher, parser, extractor or graph-writer)", stage)
}

// useLLM adds the LLM pass of extractor.kind llm to ex.
func useLLM(ex *extractor.Extractor, cfg config.LLMConfig, reg prometheus.Registerer, log *slog.Logger) error {
	if err := cfg.MissingAPIKey(); err != nil {
		return err
	}
	c, err := llm.New(llm.Config{BaseURL: cfg.BaseURL, Model: cfg.Model, APIKey: cfg.APIKey, Timeout: cfg.Timeout}, reg)
	if err != nil {
		return fmt.Errorf("extractor.llm: %w", err)
	}
	if err := ex.UseLLM(extractor.LLMOptions{
		Client: c, MaxChunkChars: cfg.MaxChunkChars, CacheEntries: cfg.CacheEntries, Registerer: reg, Logger: log,
	}); err != nil {
		return err
	}
	log.Info("extractor: the rules and an LLM", slog.String("model", cfg.Model),
		slog.String("base_url", bus.RedactURL(cfg.BaseURL)), slog.Duration("timeout", cfg.Timeout))
	return nil
}

// versionStore is a graph store that outlives the files stream whose
// sequences are its versions (Neo4j; the embedded graph lives with the
// streams under --data).
type versionStore interface {
	MaxVersion(ctx context.Context) (uint64, error)
	ForgetVersions(ctx context.Context, through uint64) (int64, error)
	FilesStream(ctx context.Context) (string, error)
	SetFilesStream(ctx context.Context, id string) error
}

// forgetEarlierVersions lets a files stream started afresh (a new data
// directory or NATS store) write to a graph that an earlier one wrote:
// the earlier stream's versions are not comparable with the new one's,
// and every write of the new one below them would be ignored as older.
// The graph records the stream it was written through (its creation
// time); a graph written before it did counts as written through another
// stream when its versions are above the stream's last sequence. The
// graph's maximum is read before the stream's last sequence, so a version
// written meanwhile through this stream is never taken for one.
func (s *system) forgetEarlierVersions(ctx context.Context, st graph.Store) error {
	vs, ok := st.(versionStore)
	if !ok {
		return nil
	}
	stored, err := vs.MaxVersion(ctx)
	if err != nil {
		return fmt.Errorf("graph versions: %w", err)
	}
	stream, err := s.js.Stream(ctx, bus.StreamFiles)
	if err != nil {
		return fmt.Errorf("graph versions: stream %s: %w", bus.StreamFiles, err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return fmt.Errorf("graph versions: stream %s: %w", bus.StreamFiles, err)
	}
	id := info.Created.UTC().Format(time.RFC3339Nano)
	recorded, err := vs.FilesStream(ctx)
	if err != nil {
		return fmt.Errorf("graph versions: %w", err)
	}
	earlier := recorded != id && (recorded != "" || stored > info.State.LastSeq)
	if stored > 0 && earlier {
		n, err := vs.ForgetVersions(ctx, stored)
		if err != nil {
			return fmt.Errorf("graph versions: %w", err)
		}
		s.log.Warn("graph written through an earlier files stream: its versions are forgotten, so the next change of each path is written",
			slog.String("uri", bus.RedactURL(s.cfg.Neo4j.URI)), slog.Uint64("graph_version", stored),
			slog.Uint64("files_last_seq", info.State.LastSeq), slog.Int64("paths", n))
	}
	if recorded != id {
		if err := vs.SetFilesStream(ctx, id); err != nil {
			return fmt.Errorf("graph versions: %w", err)
		}
	}
	return nil
}

func (s *system) newWatcher(root string) (*watcher.Watcher, error) {
	return watcher.New(watcherConfig(s.cfg, root), s.js, s.log, s.reg)
}

// watcherConfig is the watcher's configuration for the folder root: it
// publishes the formats the parser reads, and never the data directory.
func watcherConfig(cfg config.Config, root string) watcher.Config {
	return watcher.Config{
		Root: root, Settle: cfg.Watch.Settle, Rescan: cfg.Watch.Rescan, MaxFileSize: int64(cfg.Watch.MaxFileSize),
		Ignore: cfg.Watch.Ignore, Formats: parser.Formats(), Exclude: []string{cfg.Data}, AllowEmpty: cfg.Watch.AllowEmpty,
	}
}

// listenMetrics binds metrics.addr, or returns nil when it is empty or
// "off".
func listenMetrics(cfg config.Config) (net.Listener, error) {
	if cfg.Metrics.Addr == "" || cfg.Metrics.Addr == "off" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", cfg.Metrics.Addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		// Most often a second docgraph on one machine: the default port is
		// the same for every process.
		return nil, fmt.Errorf("metrics.addr: %w (give each docgraph process on this machine its own --metrics-addr, or off for none)", err)
	}
	if err != nil {
		return nil, fmt.Errorf("metrics.addr: %w", err)
	}
	return ln, nil
}

// serveHTTP serves /metrics, /healthz, /readyz and, with metrics.pprof,
// /debug/pprof/ on ln (from listenMetrics) until ctx is done.
func (s *system) serveHTTP(ctx context.Context, ln net.Listener) error {
	if ln == nil {
		return nil
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	if s.cfg.Metrics.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		switch {
		case !s.ready.Load():
			http.Error(w, "not ready: starting", http.StatusServiceUnavailable)
		case !s.nc.IsConnected():
			http.Error(w, "not ready: not connected to NATS", http.StatusServiceUnavailable)
		default:
			if why := s.running.held(); why != "" {
				http.Error(w, "not ready: "+why, http.StatusServiceUnavailable)
				return
			}
			fmt.Fprintln(w, "ready")
		}
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	s.log.Info("serving metrics", slog.String("addr", ln.Addr().String()))
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// runnerSet holds the runners of a process for /readyz.
type runnerSet struct {
	mu      sync.Mutex
	runners []*pipeline.Runner
}

func (rs *runnerSet) add(runners ...*pipeline.Runner) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.runners = append(rs.runners, runners...)
}

// held says which stage holds its messages (a dependency down, the
// JetStream store full) and why, or "" if none does: such a process is up
// but not doing its work.
func (rs *runnerSet) held() string {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return strings.TrimPrefix(outages(rs.runners), "; ")
}

// gazetteerLabels are the entity labels the extractor finds by name.
func gazetteerLabels(x *schema.Extraction) []string {
	var out []string
	for _, e := range x.Entities {
		if slices.Contains(e.Source, schema.SourceGazetteer) {
			out = append(out, e.Label)
		}
	}
	return out
}

// startTasks starts the stages' background work and waits until the
// gazetteer mirror holds the bucket's values, so no chunk is extracted
// with a half-loaded gazetteer.
func (s *system) startTasks(ctx context.Context, g *errgroup.Group) error {
	for _, t := range s.tasks {
		g.Go(func() error { return t(ctx) })
	}
	if s.book == nil {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := s.book.WaitSynced(wctx); err != nil {
		return fmt.Errorf("load gazetteer: %w", err)
	}
	if s.refresher != nil {
		if err := s.refresher.Start(wctx, s.book.Revision()); err != nil {
			return fmt.Errorf("load gazetteer: %w", err)
		}
	}
	return nil
}

// openStoreRetry opens the graph store, waiting with backoff while it is
// unreachable (Neo4j starting after docgraph); other errors return at once.
func openStoreRetry(ctx context.Context, cfg config.Config, reg prometheus.Registerer, log *slog.Logger) (graph.Store, error) {
	for attempt := 0; ; attempt++ {
		st, err := openStore(ctx, cfg, reg, log)
		if err == nil {
			if attempt > 0 {
				log.Info("graph store reachable", slog.String("uri", bus.RedactURL(cfg.Neo4j.URI)))
			}
			return st, nil
		}
		if !errors.Is(err, graph.ErrUnavailable) || ctx.Err() != nil {
			return nil, err
		}
		wait := min(500*time.Millisecond<<min(attempt, 6), 30*time.Second)
		log.Warn("graph store unavailable; retrying", slog.String("uri", bus.RedactURL(cfg.Neo4j.URI)),
			slog.Duration("retry_in", wait), slog.Any(logging.KeyErr, err))
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
	}
}
