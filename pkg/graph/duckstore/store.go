// Package duckstore is the embedded graph.Store: a property graph with
// provenance kept in DuckDB tables (nodes, relationships, support and
// document versions), for `docgraph up` on one machine.
package duckstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/duckdb/duckdb-go/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/docgraph/docgraph/pkg/graph"
	"github.com/docgraph/docgraph/pkg/logging"
)

// columnTypes are the appender column types Apply uses.
type columnTypes struct{ varchar, bigint, ubigint, boolean duckdb.TypeInfo }

func newColumnTypes() (columnTypes, error) {
	var t columnTypes
	var err error
	if t.varchar, err = duckdb.NewTypeInfo(duckdb.TYPE_VARCHAR); err != nil {
		return t, err
	}
	if t.bigint, err = duckdb.NewTypeInfo(duckdb.TYPE_BIGINT); err != nil {
		return t, err
	}
	if t.ubigint, err = duckdb.NewTypeInfo(duckdb.TYPE_UBIGINT); err != nil {
		return t, err
	}
	t.boolean, err = duckdb.NewTypeInfo(duckdb.TYPE_BOOLEAN)
	return t, err
}

// Config configures a Store.
type Config struct {
	// Path is the database file, e.g. <data>/graph.duckdb; "" keeps the
	// graph in memory. The file can be opened by one process at a time.
	Path string
	// Labels are the entity labels the schema allows.
	Labels []string
	// RelTypes are the domain relationship types the schema allows.
	RelTypes []string
	// MemoryLimit caps DuckDB's memory, e.g. "512MB" or "2GiB"; "" keeps
	// DuckDB's default (80% of RAM).
	MemoryLimit string
	// Threads is the number of DuckDB's worker threads; 0 means 1. The graph
	// has one writer whose statements each touch a batch's rows: DuckDB's
	// default, a thread per core, spends more on handing tasks between its
	// threads (and takes the cores the pipeline's other stages run on) than
	// it gains from running them in parallel.
	Threads int
	// Logger receives the store's own events (the database reopened after
	// a fatal error); nil discards them.
	Logger *slog.Logger
	// Registerer, if set, registers the store's gauges: the bytes its
	// indexes hold and its memory limit.
	Registerer prometheus.Registerer
}

// Store is a graph.Store in DuckDB. It is safe for concurrent use: Apply
// calls are serialised (DuckDB has one writer per process), reads run
// concurrently on snapshots.
//
// After a fatal error DuckDB invalidates the database and refuses every
// statement until it is opened again; the store then opens its file again
// by itself (see Apply).
type Store struct {
	path     string
	settings []string // run on each new connection
	log      *slog.Logger
	types    columnTypes
	labels   map[string]bool
	relTypes map[string]bool

	mu sync.Mutex // serialises Apply, Setup, reopening and Close
	// dbMu guards the connections below: reads hold it shared, reopening
	// and Close exclusively, so no read runs on a database being closed.
	// Their writers also hold mu, so Apply and Setup use them under mu alone.
	dbMu      sync.RWMutex
	connector *duckdb.Connector
	db        *sql.DB
	wconn     *sql.Conn // Apply's connection: appenders need the transaction's connection
	// fatal is the error that invalidated the database while it is not
	// open again (the connections above are then nil); closed is set by
	// Close. Both are guarded like the connections.
	fatal  error
	closed bool

	// memLimit is the memory limit in bytes (0: DuckDB's default);
	// indexChecked and indexWarned are watchIndexMemory's, guarded by mu.
	memLimit     int64
	indexChecked time.Time
	indexWarned  bool
	indexBytes   prometheus.Gauge
}

var _ graph.Store = (*Store)(nil)

// maxCheckpointThreshold is the largest write-ahead log DuckDB lets grow
// before folding it into the database file. A checkpoint rewrites the
// tables' indexes, so its cost grows with the graph: at DuckDB's default
// (16MB) an ingest spends much of its time checkpointing. But what is not
// checkpointed stays in DuckDB's memory, so the threshold is also kept to a
// quarter of the memory limit: above it, DuckDB spills to its temp
// directory and slows down many times over. The log is also folded in when
// the store closes.
const maxCheckpointThreshold = 64 << 20

// checkpointThreshold returns the checkpoint threshold in bytes for a
// memory limit already validated ("" for DuckDB's default).
func checkpointThreshold(memoryLimit string) int64 {
	n := sizeBytes(memoryLimit)
	if n == 0 {
		return maxCheckpointThreshold
	}
	return max(1<<20, min(maxCheckpointThreshold, n/4))
}

// sizeBytes returns the bytes of a memory limit already validated, or 0
// for "" (DuckDB's default).
func sizeBytes(memoryLimit string) int64 {
	m := memoryLimitRE.FindStringSubmatch(memoryLimit)
	if m == nil {
		return 0
	}
	num, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(memoryLimit, m[2])), 64)
	if err != nil {
		return 0
	}
	unit := map[string]float64{"B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
		"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}[m[2]]
	return int64(num * unit)
}

var memoryLimitRE = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$`)

// Open opens (creating if needed) the graph database and its tables.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	s := &Store{path: cfg.Path, log: cfg.Logger, labels: map[string]bool{}, relTypes: map[string]bool{}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	for _, l := range cfg.Labels {
		if l == "" || l == graph.LabelDocument || l == graph.LabelChunk {
			return nil, fmt.Errorf("open graph: labels: %q is not an entity label", l)
		}
		s.labels[l] = true
	}
	for _, t := range cfg.RelTypes {
		if t == "" || t == graph.RelHasChunk || t == graph.RelMentions {
			return nil, fmt.Errorf("open graph: relationship types: %q is not a domain type", t)
		}
		s.relTypes[t] = true
	}
	if cfg.MemoryLimit != "" && !memoryLimitRE.MatchString(cfg.MemoryLimit) {
		return nil, fmt.Errorf("open graph: memory limit %q: want a size such as 512MB or 2GiB", cfg.MemoryLimit)
	}
	if strings.ContainsRune(cfg.Path, '?') {
		return nil, fmt.Errorf("open graph: path %q: must not contain '?'", cfg.Path)
	}
	if cfg.Threads < 0 {
		return nil, fmt.Errorf("open graph: threads %d: must not be negative", cfg.Threads)
	}
	s.settings = []string{
		fmt.Sprintf("SET checkpoint_threshold = '%dB'", checkpointThreshold(cfg.MemoryLimit)),
		fmt.Sprintf("SET threads = %d", max(1, cfg.Threads)),
	}
	if cfg.MemoryLimit != "" {
		s.settings = append(s.settings, "SET memory_limit = '"+cfg.MemoryLimit+"'") // validated above
		s.memLimit = sizeBytes(cfg.MemoryLimit)
	}
	if err := s.register(cfg.Registerer); err != nil {
		return nil, fmt.Errorf("open graph: %w", err)
	}
	var err error
	if s.types, err = newColumnTypes(); err != nil {
		return nil, fmt.Errorf("open graph: %w", err)
	}
	if err := s.connect(ctx); err != nil {
		return nil, errors.Join(err, s.Close())
	}
	if err := s.Setup(ctx); err != nil {
		return nil, errors.Join(err, s.Close())
	}
	return s, nil
}

// connect opens the database file (DuckDB replays its write-ahead log) and
// Apply's connection. The pool opens connections long after ctx's call
// returned, so their settings run without ctx's cancellation.
func (s *Store) connect(ctx context.Context) error {
	initCtx := context.WithoutCancel(ctx)
	init := func(c driver.ExecerContext) error {
		for _, stmt := range s.settings {
			if _, err := c.ExecContext(initCtx, stmt, nil); err != nil {
				return err
			}
		}
		return nil
	}
	c, err := duckdb.NewConnector(s.path, init)
	if err != nil {
		return fmt.Errorf("open graph %s: %w", displayPath(s.path), err)
	}
	s.connector = c
	s.db = sql.OpenDB(c)
	if s.wconn, err = s.db.Conn(ctx); err != nil {
		return fmt.Errorf("open graph %s: %w", displayPath(s.path), err)
	}
	return nil
}

// disconnect closes the connections and the database, and forgets them.
func (s *Store) disconnect() error {
	var errs []error
	if s.wconn != nil {
		if err := s.wconn.Close(); err != nil && !errors.Is(err, sql.ErrConnDone) {
			errs = append(errs, err)
		}
	}
	if s.db != nil {
		errs = append(errs, s.db.Close())
	}
	if s.connector != nil {
		errs = append(errs, s.connector.Close())
	}
	s.wconn, s.db, s.connector = nil, nil, nil
	return errors.Join(errs...)
}

// invalidated reports whether err is one after which DuckDB refuses every
// statement until the database is opened again: a fatal error (a failed
// checkpoint, e.g. on a full disk) invalidates the whole database, not
// just the transaction, and later statements say so.
func invalidated(err error) bool {
	var de *duckdb.Error
	return err != nil && (errors.As(err, &de) && de.Type == duckdb.ErrorTypeFatal ||
		strings.Contains(err.Error(), "database has been invalidated"))
}

// reopen closes the connections to a database DuckDB invalidated (cause
// says why) and opens its file again: DuckDB replays the write-ahead log,
// so every committed transaction is kept and the failed one is gone
// whole. On failure the store stays closed, and the next Apply tries
// again. It is called with s.mu held.
func (s *Store) reopen(ctx context.Context, cause error) error {
	s.dbMu.Lock()
	defer s.dbMu.Unlock()
	s.fatal = cause
	closeErr := s.disconnect() // the invalidated database's: it is dropped anyway
	if s.path == "" {
		return errors.New("reopen graph: an in-memory graph is lost with its database")
	}
	if err := s.connect(ctx); err != nil {
		return errors.Join(fmt.Errorf("reopen graph: %w", err), s.disconnect())
	}
	attrs := []any{slog.String(logging.KeyPath, s.path), slog.Any(logging.KeyErr, s.fatal)}
	if closeErr != nil {
		attrs = append(attrs, slog.Any("close_err", closeErr))
	}
	s.log.WarnContext(ctx, "graph reopened after a fatal error", attrs...)
	s.fatal = nil
	return nil
}

// reader returns the database for a read; done releases it. While the
// database is being reopened reads wait, and until it is open again they
// fail as unavailable.
func (s *Store) reader() (db *sql.DB, done func(), err error) {
	s.dbMu.RLock()
	if s.db == nil {
		err := s.unopened()
		s.dbMu.RUnlock()
		return nil, nil, err
	}
	return s.db, s.dbMu.RUnlock, nil
}

// errClosed is returned by a Store's methods after Close.
var errClosed = errors.New("graph closed")

// unopened says why the connections are nil: closed, or a reopen failed.
func (s *Store) unopened() error {
	if s.closed || s.fatal == nil {
		return errClosed
	}
	return fmt.Errorf("%w: the database is not open again after a fatal error: %w", graph.ErrUnavailable, s.fatal)
}

func displayPath(p string) string {
	if p == "" {
		return "(in memory)"
	}
	return p
}

// schemaDDL creates the tables. Nodes, relationships, support and
// extraction digests are keyed by the hash of their identity (see ids.go).
// MENTIONS live in their own table, without a key: a chunk's mentions are
// only ever added all at once to a chunk that has none (a new chunk, or one
// whose mentions were just deleted), so they need no upsert; a mention keeps
// its entity alive, and the properties it gave the entity (props, added to
// files written before it) go with it (see reprops). MENTIONS have no index:
// DuckDB's secondary (ART) index on their chunk came to miss rows after
// the process was killed (replaying the write-ahead log, and checkpoints
// after it), so that deleting a chunk's mentions through it left some
// behind, duplicated or stale, for good; files written with the index lose
// it when opened. Finding a chunk's mentions scans the chunk column
// instead, which `bench --changed` (every chunk rewritten) does as fast.
// Support rows name their owner (kind 'node': label in
// from_label, key in from_key, other identity columns empty; kind 'rel')
// and its id; structural relationships have source ”. Documents keep the
// version of every path ever seen, with deleted set once a DocumentDeleted
// is applied, so stale ops stay ignored. Extractions keep a digest of the
// last extraction each (path, chunk) wrote, so that a redelivered chunk
// skips withdrawing what it would add again, and its gazetteer revision, so
// that an extraction made with older names is ignored (the column is added
// to files written before it).
const schemaDDL = `
CREATE TABLE IF NOT EXISTS nodes (
	id BIGINT PRIMARY KEY,
	label VARCHAR NOT NULL,
	key VARCHAR NOT NULL,
	props VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS relationships (
	id BIGINT PRIMARY KEY,
	type VARCHAR NOT NULL,
	from_label VARCHAR NOT NULL,
	from_key VARCHAR NOT NULL,
	to_label VARCHAR NOT NULL,
	to_key VARCHAR NOT NULL,
	source VARCHAR NOT NULL,
	props VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS mentions (
	chunk BIGINT NOT NULL USING COMPRESSION uncompressed,
	node BIGINT NOT NULL,
	label VARCHAR NOT NULL,
	key VARCHAR NOT NULL,
	props VARCHAR
);
DROP INDEX IF EXISTS mentions_chunk;
ALTER TABLE mentions ADD COLUMN IF NOT EXISTS props VARCHAR;
CREATE TABLE IF NOT EXISTS support (
	id BIGINT PRIMARY KEY,
	owner BIGINT NOT NULL,
	kind VARCHAR NOT NULL,
	type VARCHAR NOT NULL,
	from_label VARCHAR NOT NULL,
	from_key VARCHAR NOT NULL,
	to_label VARCHAR NOT NULL,
	to_key VARCHAR NOT NULL,
	source VARCHAR NOT NULL,
	path VARCHAR NOT NULL,
	sha256 VARCHAR NOT NULL,
	part VARCHAR NOT NULL,
	props VARCHAR DEFAULT '{}'
);
ALTER TABLE support ADD COLUMN IF NOT EXISTS props VARCHAR DEFAULT '{}';
CREATE TABLE IF NOT EXISTS extractions (
	id BIGINT PRIMARY KEY,
	path VARCHAR NOT NULL,
	sha256 VARCHAR NOT NULL,
	part VARCHAR NOT NULL,
	digest VARCHAR NOT NULL,
	revision UBIGINT DEFAULT 0
);
ALTER TABLE extractions ADD COLUMN IF NOT EXISTS revision UBIGINT DEFAULT 0;
CREATE TABLE IF NOT EXISTS documents (
	path VARCHAR PRIMARY KEY,
	sha256 VARCHAR NOT NULL,
	version UBIGINT NOT NULL,
	deleted BOOLEAN NOT NULL
);
`

// ErrOldLayout is returned by Open for a graph file whose tables have the
// layout of an earlier docgraph version.
var ErrOldLayout = errors.New("the graph file has the table layout of an earlier docgraph version")

// Setup creates the tables and indexes; it is idempotent.
func (s *Store) Setup(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil {
		return fmt.Errorf("graph setup: %w", s.unopened())
	}
	var old bool
	err := s.db.QueryRowContext(ctx, `SELECT count(*) > 0 FROM duckdb_tables() t
		WHERE t.table_name = 'nodes' AND t.schema_name = 'main' AND NOT EXISTS (SELECT 1 FROM duckdb_columns() c
			WHERE c.table_name = 'nodes' AND c.schema_name = 'main' AND c.column_name = 'id')`).Scan(&old)
	if err != nil {
		return fmt.Errorf("graph setup: %w", err)
	}
	if old {
		return fmt.Errorf("graph setup: %w: move it aside, start docgraph and rebuild the graph with "+
			"`docgraph reconcile --watch DIR --fix` (republishes every file the graph lacks) or, while the "+
			"streams keep the history, `docgraph replay graph-writer --since 2000-01-01` (both its input streams from the start)", ErrOldLayout)
	}
	if _, err := s.db.ExecContext(ctx, schemaDDL); err != nil {
		return fmt.Errorf("graph setup: %w", err)
	}
	return nil
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	db, done, err := s.reader()
	if err != nil {
		return fmt.Errorf("graph ping: %w", err)
	}
	defer done()
	var one int
	if err := db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("graph ping: %w", err)
	}
	return nil
}

// Close closes the database; the file is flushed and released.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dbMu.Lock()
	defer s.dbMu.Unlock()
	s.closed = true
	if err := s.disconnect(); err != nil {
		return fmt.Errorf("close graph: %w", err)
	}
	return nil
}

// Stats counts nodes per label and relationships per type.
func (s *Store) Stats(ctx context.Context) (graph.Stats, error) {
	db, done, err := s.reader()
	if err != nil {
		return graph.Stats{}, fmt.Errorf("graph stats: %w", err)
	}
	defer done()
	st := graph.Stats{Nodes: map[string]int64{}, Relationships: map[string]int64{}}
	if err := count(ctx, db, "SELECT label, count(*) FROM nodes GROUP BY label", st.Nodes); err != nil {
		return graph.Stats{}, err
	}
	if err := count(ctx, db, `SELECT type, count(*) FROM relationships GROUP BY type
		UNION ALL SELECT 'MENTIONS', count(*) FROM mentions HAVING count(*) > 0`, st.Relationships); err != nil {
		return graph.Stats{}, err
	}
	return st, nil
}

func count(ctx context.Context, db *sql.DB, q string, into map[string]int64) error {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return fmt.Errorf("graph stats: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var n int64
		if err := rows.Scan(&name, &n); err != nil {
			return fmt.Errorf("graph stats: %w", err)
		}
		into[name] = n
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("graph stats: %w", err)
	}
	return nil
}

// Documents maps every Document node's path to its sha256.
func (s *Store) Documents(ctx context.Context) (map[string]string, error) {
	db, done, err := s.reader()
	if err != nil {
		return nil, fmt.Errorf("graph documents: %w", err)
	}
	defer done()
	rows, err := db.QueryContext(ctx, "SELECT path, sha256 FROM documents WHERE NOT deleted")
	if err != nil {
		return nil, fmt.Errorf("graph documents: %w", err)
	}
	defer rows.Close()
	docs := map[string]string{}
	for rows.Next() {
		var p, sha string
		if err := rows.Scan(&p, &sha); err != nil {
			return nil, fmt.Errorf("graph documents: %w", err)
		}
		docs[p] = sha
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("graph documents: %w", err)
	}
	return docs, nil
}

// Export streams every node, then every relationship, sorted, from one
// snapshot. An error returned by a callback stops the export and is
// returned as is. The callbacks must not call the store: a reopen after a
// fatal error waits for the export to end, and the store's reads for it.
func (s *Store) Export(ctx context.Context, nodes func(graph.Node) error, rels func(graph.Relationship) error) error {
	db, done, err := s.reader()
	if err != nil {
		return fmt.Errorf("graph export: %w", err)
	}
	defer done()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("graph export: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only snapshot, nothing to keep
	if err := exportNodes(ctx, tx, nodes); err != nil {
		return err
	}
	return exportRels(ctx, tx, rels)
}

func exportNodes(ctx context.Context, tx *sql.Tx, fn func(graph.Node) error) error {
	rows, err := tx.QueryContext(ctx, "SELECT label, key, props FROM nodes ORDER BY label, key")
	if err != nil {
		return fmt.Errorf("graph export nodes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var n graph.Node
		var props string
		if err := rows.Scan(&n.Label, &n.Key, &props); err != nil {
			return fmt.Errorf("graph export nodes: %w", err)
		}
		if n.Properties, err = graph.DecodeProperties(props); err != nil {
			return fmt.Errorf("graph export node %s %q: %w", n.Label, n.Key, err)
		}
		if err := fn(n); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("graph export nodes: %w", err)
	}
	return nil
}

func exportRels(ctx context.Context, tx *sql.Tx, fn func(graph.Relationship) error) error {
	rows, err := tx.QueryContext(ctx, `SELECT type, from_label, from_key, to_label, to_key, source, props
		FROM relationships
		UNION ALL SELECT 'MENTIONS', 'Chunk', c.key, m.label, m.key, '', '{}' FROM mentions m JOIN nodes c ON c.id = m.chunk
		ORDER BY type, from_label, from_key, to_label, to_key, source`)
	if err != nil {
		return fmt.Errorf("graph export relationships: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r graph.Relationship
		var props string
		if err := rows.Scan(&r.Type, &r.From.Label, &r.From.Key, &r.To.Label, &r.To.Key, &r.Source, &props); err != nil {
			return fmt.Errorf("graph export relationships: %w", err)
		}
		if r.Properties, err = graph.DecodeProperties(props); err != nil {
			return fmt.Errorf("graph export relationship %s: %w", r.Type, err)
		}
		if r.Source != "" {
			if r.Properties == nil {
				r.Properties = map[string]any{}
			}
			r.Properties["source"] = r.Source
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("graph export relationships: %w", err)
	}
	return nil
}
