package neostore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"slices"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/docgraph/docgraph/pkg/graph"
)

// Bookkeeping labels and types (see the package documentation). Their
// leading underscore keeps them apart from schema names, which must start
// with a letter.
const (
	labelSource  = "_Source"
	labelVersion = "_Version"
	relSupports  = "_SUPPORTS"
	// propSupport is the relationship property listing the ids (sid) of
	// the sources that support a domain relationship.
	propSupport = "_docgraph_support"
	// propGiven is the relationship property listing the properties each
	// source gave it: "<source key>\x00<encoded properties>" (see
	// graph.EncodeProperties), in the order written.
	propGiven = "_docgraph_given"
	// legacyRelSupport is the relationship support of earlier versions (one
	// edge per supported relationship); Setup converts it.
	legacyRelSupport = "_SUPPORTS_REL"
)

// qMigrateRelSupport converts legacy relationship support (an edge from
// the source to the start node per relationship, naming it) to support
// lists and the source's support of the start node, in batches. It finds nothing to do once converted.
const qMigrateRelSupport = `MATCH (s:_Source)-[x:` + legacyRelSupport + `]->(a)
CALL (s, x, a) {
  SET s.sid = coalesce(s.sid, toInteger(rand() * 9007199254740991))
  WITH s, x, a
  OPTIONAL MATCH (a)-[r]->(b)
  WHERE type(r) = x.type AND r.source = x.source AND b.key = x.to_key AND x.to_label IN labels(b)
  FOREACH (rel IN CASE WHEN r IS NULL THEN [] ELSE [r] END |
    SET rel.` + propSupport + ` = CASE WHEN s.sid IN coalesce(rel.` + propSupport + `, []) THEN rel.` + propSupport + `
      ELSE coalesce(rel.` + propSupport + `, []) + s.sid END)
  MERGE (s)-[:` + relSupports + `]->(a)
  DELETE x
} IN TRANSACTIONS OF 1000 ROWS`

// Config says where Neo4j is and which schema the store accepts.
type Config struct {
	// URI is the Bolt URI, e.g. bolt://127.0.0.1:7687 or neo4j://host:7687.
	URI      string
	User     string
	Password string
	// Database is the database name; empty means the server's default.
	Database string
	// Labels and RelTypes are the entity labels and domain relationship types
	// of the schema; an op naming anything else is refused with
	// graph.ErrInvalid.
	Labels   []string
	RelTypes []string
	// MaxConnectionPoolSize bounds the driver's connections; 0 means the
	// driver default (100).
	MaxConnectionPoolSize int
	// ConnectTimeout bounds Open's check that Neo4j answers; 0 means
	// DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// Logger receives the store's own events (an earlier version withdrawn
	// in part); nil discards them.
	Logger *slog.Logger
}

// DefaultConnectTimeout is how long Open waits for Neo4j to answer. A
// server that accepts connections but never answers the Bolt handshake (the
// port of another service, a hung server, a load balancer with no backend)
// would otherwise block Open for ever: the driver gives up a read only when
// its context has a deadline, so not even a cancelled context ends it.
const DefaultConnectTimeout = 15 * time.Second

// LogValue redacts the password.
func (c Config) LogValue() slog.Value {
	pw := ""
	if c.Password != "" {
		pw = "REDACTED"
	}
	return slog.GroupValue(
		slog.String("uri", redactURI(c.URI)), slog.String("user", c.User), slog.String("password", pw),
		slog.String("database", c.Database), slog.Any("labels", c.Labels), slog.Any("rel_types", c.RelTypes),
		slog.Int("max_connection_pool_size", c.MaxConnectionPoolSize), slog.Duration("connect_timeout", c.ConnectTimeout))
}

// redactURI hides a password in uri, should one be written there.
func redactURI(uri string) string {
	u, err := url.Parse(uri)
	if err != nil {
		return uri
	}
	return u.Redacted()
}

// identifier is what a configured label or type must look like: it is
// written into Cypher text (backquoted), so nothing else is allowed.
var identifier = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if c.URI == "" {
		errs = append(errs, errors.New("neo4j uri: required"))
	}
	if c.MaxConnectionPoolSize < 0 {
		errs = append(errs, fmt.Errorf("neo4j max connection pool size (%d): must not be negative", c.MaxConnectionPoolSize))
	}
	if c.ConnectTimeout < 0 {
		errs = append(errs, fmt.Errorf("neo4j connect timeout (%s): must not be negative", c.ConnectTimeout))
	}
	structural := []string{graph.LabelDocument, graph.LabelChunk, graph.RelHasChunk, graph.RelMentions}
	check := func(kind string, names []string) {
		for _, n := range names {
			switch {
			case !identifier.MatchString(n):
				errs = append(errs, fmt.Errorf("neo4j %s %q: must be a letter followed by letters, digits or _", kind, n))
			case slices.Contains(structural, n):
				errs = append(errs, fmt.Errorf("neo4j %s %q: reserved for documents and chunks", kind, n))
			}
		}
	}
	check("label", c.Labels)
	check("relationship type", c.RelTypes)
	return errors.Join(errs...)
}

// Store is a graph.Store on Neo4j. It is safe for concurrent use.
type Store struct {
	driver   neo4j.DriverWithContext
	database string
	uri      string        // for errors: without a password written in the URI
	timeout  time.Duration // of Ping
	labels   []string      // entity labels, sorted, deduplicated
	relTypes []string      // domain relationship types, sorted, deduplicated
	m        *metrics
	log      *slog.Logger
}

var _ graph.Store = (*Store)(nil)

// Open connects to Neo4j and checks that it answers. Metrics are registered
// with reg. Call Setup before the first Apply and Close when done.
func Open(ctx context.Context, cfg Config, reg prometheus.Registerer) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("open neo4j store: %w", err)
	}
	if reg == nil {
		return nil, errors.New("open neo4j store: nil prometheus registerer")
	}
	driver, err := neo4j.NewDriverWithContext(cfg.URI, neo4j.BasicAuth(cfg.User, cfg.Password, ""),
		func(c *neo4j.Config) {
			if cfg.MaxConnectionPoolSize > 0 {
				c.MaxConnectionPoolSize = cfg.MaxConnectionPoolSize
			}
			// The driver checks this budget before each backoff sleep
			// (1s, 2s, 4s, ...), so a call can block up to about twice
			// as long. Keep it short: once it is spent the error is
			// graph.ErrUnavailable and the graph writer pauses its
			// consumer and holds its messages; with 15s here a Neo4j
			// outage went unnoticed for about 30s while the writer's
			// buffered messages timed out and were redelivered.
			c.MaxTransactionRetryTime = maxTransactionRetryTime
			c.SocketConnectTimeout = 5 * time.Second
			c.ConnectionAcquisitionTimeout = 30 * time.Second
		})
	if err != nil {
		return nil, fmt.Errorf("neo4j %s: %w", redactURI(cfg.URI), err)
	}
	timeout := cmp.Or(cfg.ConnectTimeout, DefaultConnectTimeout)
	if err := verify(ctx, driver, timeout); err != nil {
		return nil, errors.Join(classify(fmt.Errorf("neo4j %s: %w", redactURI(cfg.URI), err)), driver.Close(context.WithoutCancel(ctx)))
	}
	// Metrics are registered once Neo4j answers (and an Open again on the
	// same registerer reuses them), so a caller may retry Open while Neo4j
	// is down or still starting.
	m, err := newMetrics(reg)
	if err != nil {
		return nil, errors.Join(err, driver.Close(context.WithoutCancel(ctx)))
	}
	return &Store{
		driver:   driver,
		database: cfg.Database,
		uri:      redactURI(cfg.URI),
		timeout:  timeout,
		labels:   sortedSet(cfg.Labels),
		relTypes: sortedSet(cfg.RelTypes),
		m:        m,
		log:      cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler)),
	}, nil
}

// maxTransactionRetryTime is the driver's retry budget of a managed
// transaction (see Open); a variable only so that a test can spend it on
// the first failure.
var maxTransactionRetryTime = 5 * time.Second

// verify checks that Neo4j answers within timeout (see
// DefaultConnectTimeout). Running out of time is a context.DeadlineExceeded
// (Neo4j unavailable, to be retried); a cancelled ctx ends the wait at once.
func verify(ctx context.Context, driver neo4j.DriverWithContext, timeout time.Duration) error {
	vctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := driver.VerifyConnectivity(vctx)
	if err != nil && ctx.Err() == nil && vctx.Err() != nil {
		return fmt.Errorf("no answer within %s (is it a Neo4j Bolt address?): %w", timeout, context.DeadlineExceeded)
	}
	return err
}

func sortedSet(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}

// Close closes the driver and its connections.
func (s *Store) Close() error {
	// Close has no ctx in graph.Store; the driver needs one for the goodbye
	// messages, and a bounded one keeps shutdown from hanging.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.driver.Close(ctx); err != nil {
		return fmt.Errorf("close neo4j %s: %w", s.uri, err)
	}
	return nil
}

// Ping reports whether Neo4j answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := verify(ctx, s.driver, s.timeout); err != nil {
		return fmt.Errorf("ping neo4j %s: %w", s.uri, err)
	}
	return nil
}

// Setup creates a uniqueness constraint on key for every label the store
// writes (schema labels, Document, Chunk and the bookkeeping labels) and
// the index on sources' paths. It is idempotent.
func (s *Store) Setup(ctx context.Context) (err error) {
	labels := append([]string{graph.LabelDocument, graph.LabelChunk, labelSource, labelVersion}, s.labels...)
	stmts := make([]string, 0, len(labels)+1)
	for _, l := range labels {
		stmts = append(stmts, fmt.Sprintf(
			"CREATE CONSTRAINT `docgraph_%s_key` IF NOT EXISTS FOR (n:`%s`) REQUIRE n.key IS UNIQUE", l, l))
	}
	stmts = append(stmts, "CREATE INDEX `docgraph__Source_path` IF NOT EXISTS FOR (n:`_Source`) ON (n.path)")
	sess := s.session(ctx, neo4j.AccessModeWrite)
	defer func() { err = errors.Join(err, s.closeSession(ctx, sess)) }()
	if err := createSchema(ctx, sess, stmts); err != nil {
		return classify(fmt.Errorf("setup neo4j %s: %w", s.uri, err))
	}
	// CALL … IN TRANSACTIONS needs an auto-commit transaction.
	res, err := sess.Run(ctx, qMigrateRelSupport, nil)
	if err == nil {
		_, err = res.Consume(ctx)
	}
	if err != nil {
		return classify(fmt.Errorf("setup neo4j %s: convert relationship support: %w", s.uri, err))
	}
	if _, err := sess.ExecuteRead(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		res, err := tx.Run(ctx, "CALL db.awaitIndexes(300)", nil)
		if err != nil {
			return nil, err
		}
		return res.Consume(ctx)
	}); err != nil {
		return classify(fmt.Errorf("setup neo4j %s: await indexes: %w", s.uri, err))
	}
	return nil
}

// createSchema runs each of stmts (CREATE … IF NOT EXISTS) in a
// transaction of its own: schema changes cannot share one with anything
// else. Graph writers starting together run them at the same time, and on
// labels or properties new to the database IF NOT EXISTS does not keep two
// from creating the same rule: the later one fails with
// EquivalentSchemaRuleAlreadyExists, which means the rule is there.
func createSchema(ctx context.Context, sess neo4j.SessionWithContext, stmts []string) error {
	for _, q := range stmts {
		_, err := sess.ExecuteWrite(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
			res, err := tx.Run(ctx, q, nil)
			if err != nil {
				return nil, err
			}
			_, err = res.Consume(ctx)
			return nil, err
		})
		var ne *neo4j.Neo4jError
		if errors.As(err, &ne) && ne.Code == "Neo.ClientError.Schema.EquivalentSchemaRuleAlreadyExists" {
			continue
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) session(ctx context.Context, mode neo4j.AccessMode) neo4j.SessionWithContext {
	s.m.sessions.Inc()
	return s.driver.NewSession(ctx, neo4j.SessionConfig{DatabaseName: s.database, AccessMode: mode})
}

// closeSession closes a session even when ctx is done: the session must go
// back to the pool.
func (s *Store) closeSession(ctx context.Context, sess neo4j.SessionWithContext) error {
	s.m.sessions.Dec()
	if err := sess.Close(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("close neo4j session: %w", err)
	}
	return nil
}
