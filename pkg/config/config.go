// Package config is docgraph's one typed configuration: defaults, then a
// YAML file, then DOCGRAPH_* environment variables, then flags (flags win).
// Validate reports every problem at once, naming the YAML path.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/docgraph/docgraph/pkg/logging"
)

// Config is everything a docgraph process needs. Flag names mirror the
// YAML paths (--nats.url); env names are DOCGRAPH_<PATH> with dots as
// underscores (DOCGRAPH_NATS_URL).
type Config struct {
	Data      string          `yaml:"data" help:"data directory: embedded NATS storage, embedded graph, temp files"`
	Watch     WatchConfig     `yaml:"watch"`
	NATS      NATSConfig      `yaml:"nats"`
	Streams   StreamsConfig   `yaml:"streams"`
	Graph     GraphConfig     `yaml:"graph"`
	Neo4j     Neo4jConfig     `yaml:"neo4j"`
	Parser    ParserConfig    `yaml:"parser"`
	Extractor ExtractorConfig `yaml:"extractor"`
	Schemas   SchemasConfig   `yaml:"schemas"`
	Stages    StagesConfig    `yaml:"stages"`
	Log       logging.Config  `yaml:"log"`
	Metrics   MetricsConfig   `yaml:"metrics"`
	Shutdown  time.Duration   `yaml:"shutdown_timeout" help:"time in-flight work gets after SIGINT/SIGTERM"`
	// MemoryLimit is the Go runtime's soft memory limit for processes that
	// run stages: near it the garbage collector works harder (at most half
	// the CPU) instead of letting the heap double. NATS's file store keeps
	// 8 MiB block caches for a few seconds after use, so without a limit the
	// heap grows with the ingest rate. Too low a limit costs throughput: an
	// embedded ingest's live heap (block caches, the deduplication windows)
	// is some 300–450 MB, and at 384MiB the collector took half the CPU.
	MemoryLimit ByteSize `yaml:"memory_limit" help:"soft limit of the Go heap of processes running stages (0 = none; GOMEMLIMIT, if set, wins)"`
}

// WatchConfig configures the watcher.
type WatchConfig struct {
	Dir         string        `yaml:"dir" help:"folder to watch (recursively)"`
	Settle      time.Duration `yaml:"settle" help:"a file is picked up once its size and mtime were stable this long"`
	Rescan      time.Duration `yaml:"rescan" help:"periodic full rescan, for what file events miss; a folder whose scan takes over a twentieth of it is rescanned less often"`
	MaxFileSize ByteSize      `yaml:"max_file_size" help:"larger files are refused (e.g. 256MiB)"`
	Ignore      []string      `yaml:"ignore" help:"files and folders not to publish: glob patterns (Go's path.Match), comma-separated, each matched against the name and the path relative to the folder, e.g. archive,drafts/*,*.bak"`
	AllowEmpty  bool          `yaml:"allow_empty" help:"a scan that finds the folder empty withdraws its files from the graph (by default they are kept: an empty folder that held files is taken for a share not mounted; files deleted while docgraph runs are withdrawn all the same)"`
}

// NATSConfig says which NATS to use: an external one (URL) or the embedded
// server (URL empty).
type NATSConfig struct {
	URL          string        `yaml:"url" help:"NATS server URL(s), comma-separated; empty runs an embedded server"`
	Listen       string        `yaml:"listen" help:"embedded server's client listen address; \"off\" for in-process only"`
	SyncInterval time.Duration `yaml:"sync_interval" help:"embedded server fsync interval (0 = server default, 2m)"`
	SyncAlways   bool          `yaml:"sync_always" help:"embedded server fsyncs every write (durable against power loss, slower)"`
	MaxStore     ByteSize      `yaml:"max_store" help:"embedded server: disk its JetStream store may use, e.g. 50GiB (0 = the server's default, most of the free disk); when it is full, stages retry and wait for room"`
	User         string        `yaml:"user" help:"NATS user"`
	Password     string        `yaml:"password" secret:"true" help:"NATS password (prefer the env variable)"`
	Token        string        `yaml:"token" secret:"true" help:"NATS token (prefer the env variable)"`
	NKeyFile     string        `yaml:"nkey_file" help:"NATS NKey seed file"`
	CredsFile    string        `yaml:"creds_file" help:"NATS .creds file"`
	TLSCA        string        `yaml:"tls_ca" help:"CA certificate for NATS TLS"`
	TLSCert      string        `yaml:"tls_cert" help:"client certificate for NATS TLS"`
	TLSKey       string        `yaml:"tls_key" help:"client key for NATS TLS"`
	// PubAckTimeout bounds the wait for a publish's acknowledgement. A
	// publish lost with a stream leader is never acknowledged; until this
	// runs out, the stage holds it and the outputs published after it, so
	// it bounds the stall of a failover.
	PubAckTimeout time.Duration `yaml:"pub_ack_timeout" help:"a publish not acknowledged by JetStream within this fails and its input is retried (bounds the stall when a stream leader is lost)"`
}

// StreamsConfig sizes the JetStream streams.
type StreamsConfig struct {
	Replicas int           `yaml:"replicas" help:"stream replicas: 1 embedded, 3 in a cluster"`
	MaxAge   time.Duration `yaml:"max_age" help:"history kept for replay (the chunk stream's: streams.chunks_max_age)"`
	// ChunksMaxAge is the chunk stream's own history: when known names
	// change, the extractor re-reads the chunks in that stream, so a
	// document whose chunks have left it keeps the names it was extracted
	// with.
	ChunksMaxAge time.Duration `yaml:"chunks_max_age" help:"history of the chunk stream, which the extractor re-reads when the spreadsheets' names change: a document older than this no longer learns new names or forgets removed ones (0 = forever)"`
	Duplicates   time.Duration `yaml:"duplicates" help:"deduplication window for Nats-Msg-Id"`
	// DataDuplicates is the window of the chunk, record and extraction
	// streams, which carry tens of messages per file; the server holds
	// every ID of the window in memory (about 100 bytes each).
	DataDuplicates time.Duration `yaml:"data_duplicates" help:"deduplication window of the chunk, record and extraction streams (the server keeps about 100 bytes per message of the window in memory)"`
}

// GraphConfig selects and tunes the graph store.
type GraphConfig struct {
	Store        string        `yaml:"store" help:"graph store: auto (neo4j when neo4j.uri is set), duckdb or neo4j"`
	BatchSmall   int           `yaml:"batch_small" help:"write batch size under 500 pending messages"`
	BatchMedium  int           `yaml:"batch_medium" help:"write batch size from 500 to 5000 pending"`
	BatchLarge   int           `yaml:"batch_large" help:"write batch size above 5000 pending"`
	MaxLatency   time.Duration `yaml:"max_latency" help:"a partial batch is written after this long"`
	MaxRows      int           `yaml:"max_rows" help:"rows (nodes, relationships, mentions) per graph transaction; a larger batch is written in several (0 = the store's default: 10000 on Neo4j, 20000 on the embedded graph)"`
	DuckDBMemory string        `yaml:"duckdb_memory" help:"memory cap of the embedded graph (DuckDB), e.g. 2GB; auto = a quarter of the machine's memory (or of its cgroup limit), 256MiB to 16GiB. The graph's key indexes stay in it, so it bounds the graph's size: about 50 bytes per node, relationship and support row"`
}

// Neo4jConfig says how to reach Neo4j.
type Neo4jConfig struct {
	URI          string `yaml:"uri" env:"NEO4J_URI" help:"Neo4j bolt URI (selects the Neo4j store)"`
	User         string `yaml:"user" env:"NEO4J_USER" help:"Neo4j user"`
	Password     string `yaml:"password" env:"NEO4J_PASSWORD" secret:"true" help:"Neo4j password (prefer the env variable or password_file)"`
	PasswordFile string `yaml:"password_file" help:"file holding the Neo4j password"`
	Database     string `yaml:"database" help:"Neo4j database name (empty = default)"`
}

// ParserConfig tunes the parser.
type ParserConfig struct {
	ChunkSize    int           `yaml:"chunk_size" help:"target chunk size in bytes"`
	ChunkOverlap int           `yaml:"chunk_overlap" help:"overlap between chunks in bytes (whole sentences)"`
	Unmapped     string        `yaml:"unmapped" help:"spreadsheets the structured mapping does not name: document, skip or reject (default: the mapping's unmapped setting)"`
	BatchRows    int           `yaml:"batch_rows" help:"spreadsheet rows per records message"`
	ReadTimeout  time.Duration `yaml:"read_timeout" help:"time to read a file's bytes from NATS, plus a second per MiB; a stalled read is retried"`
	PDFCache     string        `yaml:"pdf_cache" help:"folder keeping the PDF engine's compiled code between starts (empty = docgraph/pdfium in the user cache folder; off = compile at every start)"`
}

// ExtractorConfig tunes the extractor.
type ExtractorConfig struct {
	Kind         string        `yaml:"kind" help:"extractor: rules (schema patterns and gazetteer) or llm (the rules plus an OpenAI-compatible chat API, see extractor.llm.*)"`
	RefreshDelay time.Duration `yaml:"refresh_delay" help:"after gazetteer changes, wait this long for more before re-extracting affected chunks"`
	LLM          LLMConfig     `yaml:"llm"`
}

// LLMConfig configures the LLM of extractor.kind llm. The API key is read
// from the environment variable APIKeyEnv names, never from a file or flag.
type LLMConfig struct {
	BaseURL       string        `yaml:"base_url" help:"OpenAI-compatible API base URL (requests go to {base_url}/chat/completions), e.g. https://api.openai.com/v1"`
	Model         string        `yaml:"model" help:"model name; it must support structured output (response_format json_schema)"`
	APIKeyEnv     string        `yaml:"api_key_env" help:"environment variable holding the API key, sent as a bearer token (empty: an API without keys)"`
	Timeout       time.Duration `yaml:"timeout" help:"time limit of one API request; must be less than stages.extractor.handler_timeout"`
	MaxChunkChars int           `yaml:"max_chunk_chars" help:"longer chunk texts are cut to this many characters for the API (the rules still read all of it)"`
	CacheEntries  int           `yaml:"cache_entries" help:"API answers kept in memory by chunk text, so a chunk extracted again (gazetteer refresh, redelivery) costs no request (0 = none)"`

	// APIKey is the value of the environment variable APIKeyEnv, set by
	// Loader.Load.
	APIKey string `yaml:"-"`
}

// SchemasConfig points at user-edited schema files; empty uses the shipped
// ones.
type SchemasConfig struct {
	Extraction string `yaml:"extraction" help:"extraction schema file (default: shipped schemas/extraction.yaml)"`
	Mapping    string `yaml:"mapping" help:"structured mapping file (default: shipped schemas/structured.yaml)"`
	Gazetteer  string `yaml:"gazetteer" help:"file of known entities to seed the gazetteer (JSON or YAML list)"`
}

// StagesConfig holds the runner settings of each consuming stage.
type StagesConfig struct {
	Parser      StageConfig `yaml:"parser"`
	Extractor   StageConfig `yaml:"extractor"`
	GraphWriter StageConfig `yaml:"graph_writer"`
}

// StageConfig tunes one stage's consumer and runner.
type StageConfig struct {
	Concurrency    int             `yaml:"concurrency" help:"handler goroutines"`
	MaxDeliver     int             `yaml:"max_deliver" help:"deliveries before a failing message is dead-lettered"`
	AckWait        time.Duration   `yaml:"ack_wait" help:"redelivery timeout of an unacknowledged message"`
	MaxAckPending  int             `yaml:"max_ack_pending" help:"messages in flight per consumer"`
	Backoff        []time.Duration `yaml:"backoff" help:"retry delays after failures, comma-separated (last repeats)"`
	HandlerTimeout time.Duration   `yaml:"handler_timeout" help:"time limit for one message"`
	SlowAfter      time.Duration   `yaml:"slow_after" help:"a message (or batch) still being handled after this is logged as slow, and again as its age doubles"`
}

// MetricsConfig configures the HTTP endpoint.
type MetricsConfig struct {
	Addr string `yaml:"addr" help:"address for /metrics, /healthz and /readyz; empty or \"off\" disables"`
	// Pprof also serves Go's profiles on Addr.
	Pprof bool `yaml:"pprof" help:"also serve Go's runtime profiles under /debug/pprof/ on metrics.addr (go tool pprof http://ADDR/debug/pprof/profile for 30 s of CPU, .../heap for memory); off by default, as they expose the process's internals"`
}

// Default returns the defaults.
func Default() Config {
	stage := func(conc, maxAck int) StageConfig {
		return StageConfig{
			Concurrency: conc, MaxDeliver: 5, AckWait: 30 * time.Second, MaxAckPending: maxAck,
			Backoff:        []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, 2 * time.Minute},
			HandlerTimeout: 5 * time.Minute, SlowAfter: 30 * time.Second,
		}
	}
	return Config{
		Data:    ".docgraph",
		Watch:   WatchConfig{Settle: time.Second, Rescan: 30 * time.Second, MaxFileSize: 256 << 20},
		NATS:    NATSConfig{Listen: "127.0.0.1:4222", PubAckTimeout: 5 * time.Second},
		Streams: StreamsConfig{Replicas: 1, MaxAge: 7 * 24 * time.Hour, Duplicates: 10 * time.Minute, DataDuplicates: 2 * time.Minute},
		Graph: GraphConfig{Store: "auto", BatchSmall: 256, BatchMedium: 1024, BatchLarge: 4096,
			MaxLatency: 50 * time.Millisecond, DuckDBMemory: "auto"},
		Neo4j:  Neo4jConfig{User: "neo4j"},
		Parser: ParserConfig{ChunkSize: 4000, ChunkOverlap: 200, BatchRows: 500, ReadTimeout: 30 * time.Second},
		Extractor: ExtractorConfig{Kind: "rules", RefreshDelay: 500 * time.Millisecond, LLM: LLMConfig{
			APIKeyEnv: "OPENAI_API_KEY", Timeout: time.Minute, MaxChunkChars: 8000, CacheEntries: 4096,
		}},
		Stages: StagesConfig{
			Parser:      stage(2, 256),
			Extractor:   stage(2, 2048),
			GraphWriter: stage(1, 8192),
		},
		Log:         logging.Config{Format: "auto", Level: "info"},
		Metrics:     MetricsConfig{Addr: "127.0.0.1:9090"},
		Shutdown:    30 * time.Second,
		MemoryLimit: 768 << 20,
	}
}

// Neo4jMaxRows is the default bound of rows per Neo4j transaction: much
// larger transactions cost Neo4j more per row.
const Neo4jMaxRows = 10_000

// EmbeddedMaxRows is the default bound of rows per transaction of the
// embedded graph: a batch of 256 records messages (128,000 spreadsheet
// rows) held about 500 MB of pending writes in Go, and its transaction
// could outgrow graph.duckdb_memory. Batches of document chunks are
// smaller.
const EmbeddedMaxRows = 20_000

// GraphMaxRows resolves graph.max_rows 0 to the store's default.
func (c Config) GraphMaxRows() int {
	switch {
	case c.Graph.MaxRows != 0:
		return c.Graph.MaxRows
	case c.GraphStore() == "neo4j":
		return Neo4jMaxRows
	}
	return EmbeddedMaxRows
}

// GraphStore resolves "auto".
func (c Config) GraphStore() string {
	if c.Graph.Store == "" || c.Graph.Store == "auto" {
		if c.Neo4j.URI != "" {
			return "neo4j"
		}
		return "duckdb"
	}
	return c.Graph.Store
}

// Validate reports every problem, each naming its YAML path.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.Data == "" {
		add("data: required (a directory)")
	}
	if c.Watch.Settle < 0 {
		add("watch.settle (%s): must not be negative", c.Watch.Settle)
	}
	if c.Watch.Rescan <= 0 {
		add("watch.rescan (%s): must be positive", c.Watch.Rescan)
	}
	if c.NATS.MaxStore < 0 {
		add("nats.max_store (%d): must not be negative", c.NATS.MaxStore)
	}
	if c.Watch.MaxFileSize <= 0 {
		add("watch.max_file_size (%d): must be positive", c.Watch.MaxFileSize)
	}
	for i, p := range c.Watch.Ignore {
		if _, err := path.Match(p, ""); p == "" || err != nil {
			add("watch.ignore[%d] (%q): not a glob pattern (Go's path.Match: *, ?, [a-z], \\ escapes)", i, p)
		}
	}
	// Listen addresses: host:port, or empty or "off" for none.
	for _, l := range []struct{ field, addr, want string }{
		{"nats.listen", c.NATS.Listen, "must be host:port or off"},
		{"metrics.addr", c.Metrics.Addr, "must be host:port, or off"},
	} {
		if l.addr == "" || l.addr == "off" {
			continue
		}
		if _, port, err := net.SplitHostPort(l.addr); err != nil {
			add("%s (%q): %s", l.field, l.addr, l.want)
		} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			add("%s (%q): port must be a number from 0 to 65535", l.field, l.addr)
		}
	}
	if c.NATS.PubAckTimeout < 100*time.Millisecond {
		add("nats.pub_ack_timeout (%s): must be at least 100ms", c.NATS.PubAckTimeout)
	}
	if c.Streams.Replicas < 1 || c.Streams.Replicas > 5 {
		add("streams.replicas (%d): must be 1 to 5", c.Streams.Replicas)
	}
	if c.Streams.MaxAge < 0 {
		add("streams.max_age (%s): must not be negative", c.Streams.MaxAge)
	}
	if c.Streams.ChunksMaxAge < 0 {
		add("streams.chunks_max_age (%s): must not be negative", c.Streams.ChunksMaxAge)
	}
	if c.Streams.Duplicates < 0 || c.Streams.DataDuplicates < 0 {
		add("streams.duplicates (%s), streams.data_duplicates (%s): must not be negative", c.Streams.Duplicates, c.Streams.DataDuplicates)
	}
	switch c.Graph.Store {
	case "", "auto", "duckdb":
	case "neo4j":
		if c.Neo4j.URI == "" {
			add("neo4j.uri: required when graph.store is neo4j")
		}
	default:
		add("graph.store (%q): must be auto, duckdb or neo4j", c.Graph.Store)
	}
	if c.Graph.MaxRows < 0 {
		add("graph.max_rows (%d): must not be negative", c.Graph.MaxRows)
	}
	if c.Graph.BatchSmall < 1 || c.Graph.BatchMedium < c.Graph.BatchSmall || c.Graph.BatchLarge < c.Graph.BatchMedium {
		add("graph.batch_small/medium/large (%d/%d/%d): must be positive and non-decreasing",
			c.Graph.BatchSmall, c.Graph.BatchMedium, c.Graph.BatchLarge)
	}
	if c.Graph.MaxLatency <= 0 {
		add("graph.max_latency (%s): must be positive", c.Graph.MaxLatency)
	}
	if c.Neo4j.URI != "" && !strings.Contains(c.Neo4j.URI, "://") {
		add("neo4j.uri (%q): must be a URI such as bolt://127.0.0.1:7687", c.Neo4j.URI)
	}
	if c.Parser.ChunkSize < 100 {
		add("parser.chunk_size (%d): must be at least 100", c.Parser.ChunkSize)
	}
	if c.Parser.ReadTimeout <= 0 {
		add("parser.read_timeout (%s): must be positive", c.Parser.ReadTimeout)
	}
	if c.Parser.ChunkOverlap < 0 || c.Parser.ChunkOverlap >= c.Parser.ChunkSize {
		add("parser.chunk_overlap (%d): must be from 0 to less than parser.chunk_size", c.Parser.ChunkOverlap)
	}
	switch c.Parser.Unmapped {
	case "", "document", "skip", "reject":
	default:
		add("parser.unmapped (%q): must be document, skip or reject", c.Parser.Unmapped)
	}
	if c.Parser.BatchRows < 1 {
		add("parser.batch_rows (%d): must be positive", c.Parser.BatchRows)
	}
	switch c.Extractor.Kind {
	case "rules":
	case "llm":
		errs = append(errs, c.Extractor.LLM.validate(c.Stages.Extractor.HandlerTimeout)...)
	default:
		add("extractor.kind (%q): must be rules or llm", c.Extractor.Kind)
	}
	for name, s := range map[string]StageConfig{
		"parser": c.Stages.Parser, "extractor": c.Stages.Extractor, "graph_writer": c.Stages.GraphWriter,
	} {
		p := "stages." + name
		if s.Concurrency < 1 {
			add("%s.concurrency (%d): must be positive", p, s.Concurrency)
		}
		if s.MaxDeliver < 1 {
			add("%s.max_deliver (%d): must be positive", p, s.MaxDeliver)
		}
		if s.AckWait < time.Second {
			add("%s.ack_wait (%s): must be at least 1s", p, s.AckWait)
		}
		if d := c.Streams.DataDuplicates; d > 0 && d < s.AckWait {
			add("streams.data_duplicates (%s): shorter than %s.ack_wait (%s): the outputs of a redelivered input would not be dropped as duplicates", d, p, s.AckWait)
		}
		if s.MaxAckPending < 1 {
			add("%s.max_ack_pending (%d): must be positive", p, s.MaxAckPending)
		}
		if len(s.Backoff) == 0 {
			add("%s.backoff: at least one delay required", p)
		}
		if s.HandlerTimeout <= 0 {
			add("%s.handler_timeout (%s): must be positive", p, s.HandlerTimeout)
		}
		if s.SlowAfter <= 0 {
			add("%s.slow_after (%s): must be positive", p, s.SlowAfter)
		}
	}
	if name := "graph_writer"; c.Stages.GraphWriter.MaxAckPending < c.Graph.BatchLarge {
		add("stages.%s.max_ack_pending (%d): must be at least graph.batch_large (%d)", name,
			c.Stages.GraphWriter.MaxAckPending, c.Graph.BatchLarge)
	}
	if err := c.Log.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Shutdown <= 0 {
		add("shutdown_timeout (%s): must be positive", c.Shutdown)
	}
	return errors.Join(errs...)
}

// validate checks the LLM settings (extractor.kind llm). Whether the API
// key's variable is set is checked where the extractor starts
// (MissingAPIKey): operator commands sharing the config file need no key.
func (l LLMConfig) validate(handlerTimeout time.Duration) []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if l.BaseURL == "" {
		add("extractor.llm.base_url: required when extractor.kind is llm (e.g. https://api.openai.com/v1)")
	} else if u, err := url.Parse(l.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		add("extractor.llm.base_url (%q): must be an http or https URL", l.BaseURL)
	}
	if l.Model == "" {
		add("extractor.llm.model: required when extractor.kind is llm")
	}
	if l.Timeout <= 0 {
		add("extractor.llm.timeout (%s): must be positive", l.Timeout)
	} else if l.Timeout >= handlerTimeout {
		add("extractor.llm.timeout (%s): must be less than stages.extractor.handler_timeout (%s)", l.Timeout, handlerTimeout)
	}
	if l.MaxChunkChars < 100 {
		add("extractor.llm.max_chunk_chars (%d): must be at least 100", l.MaxChunkChars)
	}
	if l.CacheEntries < 0 {
		add("extractor.llm.cache_entries (%d): must not be negative", l.CacheEntries)
	}
	return errs
}

// MissingAPIKey returns an error naming the field if api_key_env names an
// environment variable that is not set.
func (l LLMConfig) MissingAPIKey() error {
	if l.APIKeyEnv != "" && l.APIKey == "" {
		return fmt.Errorf("extractor.llm.api_key_env: environment variable %s is not set (set it, or set api_key_env to \"\" for an API without keys)", l.APIKeyEnv)
	}
	return nil
}

// LogValue hides secrets when the config is logged.
func (c Config) LogValue() slog.Value {
	r := c
	redact := func(s *string) {
		if *s != "" {
			*s = "REDACTED"
		}
	}
	redact(&r.NATS.Password)
	redact(&r.NATS.Token)
	redact(&r.Neo4j.Password)
	redact(&r.Extractor.LLM.APIKey)
	return slog.AnyValue(redacted(r))
}

// redacted is Config without LogValue, so logging it does not recurse.
type redacted Config
