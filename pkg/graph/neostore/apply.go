package neostore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/docgraph/docgraph/pkg/graph"
)

// Apply commits ops in order in one managed write transaction. The driver
// runs the transaction again after a transient error (deadlock, leader
// switch, lost connection), which is safe because every op is idempotent
// and the failed attempt was rolled back.
func (s *Store) Apply(ctx context.Context, ops []graph.Op) (err error) {
	if len(ops) == 0 {
		return nil
	}
	plans, err := s.plan(ops)
	if err != nil {
		return err
	}
	items := 0
	for _, p := range plans {
		items += p.items
	}
	start := time.Now()
	sess := s.session(ctx, neo4j.AccessModeWrite)
	defer func() { err = errors.Join(err, s.closeSession(ctx, sess)) }()
	attempts := 0
	_, err = sess.ExecuteWrite(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		attempts++
		if attempts > 1 {
			s.m.retries.Inc()
		}
		w := &writer{tx: tx}
		for _, p := range plans {
			if err := w.apply(ctx, p); err != nil {
				return nil, fmt.Errorf("op %d (%s): %w", p.opIndex, p.path, err)
			}
		}
		return nil, nil
	})
	s.m.duration.Observe(time.Since(start).Seconds())
	if err != nil {
		return classify(fmt.Errorf("apply %d ops to neo4j %s: %w", len(ops), s.uri, err))
	}
	s.m.batchSize.Observe(float64(items))
	return nil
}

// Cypher for the bookkeeping. Labels and types of the schema are the only
// text ever spliced in (see nodeQuery and relQuery); values are parameters.
const (
	// qVersion locks the path's version node (SET then REMOVE of a dummy
	// property takes the write lock before the version is read, so
	// concurrent ops on one path serialise), returns the stored version and
	// keeps the larger one.
	qVersion = `MERGE (v:_Version {key: $path})
SET v._lock = true
REMOVE v._lock
WITH v, v.version AS old
SET v.version = CASE WHEN old IS NULL OR $version > old THEN $version ELSE old END
RETURN old`

	qPutDocument = `MERGE (d:Document {key: $path})
SET d += $doc
MERGE (s:_Source {key: $source})
ON CREATE SET s.path = $path, s.sha = $sha, s.part = $part`

	qPutChunk = `MATCH (d:Document {key: $path})
MERGE (c:Chunk {key: $chunk})
SET c.index = $index, c.text = $text
MERGE (d)-[:HAS_CHUNK]->(c)`

	// qDeleteMentions removes a chunk's mentions before it is rewritten.
	qDeleteMentions = `MATCH (:Chunk {key: $chunk})-[m:MENTIONS]->(n)
DELETE m
RETURN elementId(n) AS id`

	// qDeleteChunks unlinks the path's chunks (all, or those of other
	// contents than $keep) and deletes those no other document shares.
	qDeleteChunks = `MATCH (:Document {key: $path})-[h:HAS_CHUNK]->(c:Chunk)
WHERE $keep IS NULL OR NOT c.key STARTS WITH $keep
DELETE h
WITH DISTINCT c
WHERE NOT EXISTS { MATCH (:Document)-[:HAS_CHUNK]->(c) }
OPTIONAL MATCH (c)-[:MENTIONS]->(n)
WITH c, collect(elementId(n)) AS ids
DETACH DELETE c
RETURN ids`

	qDeleteDocument = `MATCH (d:Document {key: $path}) DETACH DELETE d`

	// qDeleteUnsupportedRels deletes the relationships whose support edges
	// withdrawRels removed, unless another source still supports them.
	qDeleteUnsupportedRels = `UNWIND $rels AS x
MATCH (a) WHERE elementId(a) = x.a
MATCH (a)-[r]->(b)
WHERE type(r) = x.type AND r.source = x.source AND b.key = x.toKey AND x.toLabel IN labels(b)
  AND NOT EXISTS {
    MATCH (a)<-[y:_SUPPORTS_REL]-()
    WHERE y.type = x.type AND y.source = x.source AND y.to_label = x.toLabel AND y.to_key = x.toKey
  }
DELETE r
RETURN elementId(a) AS a, elementId(b) AS b`

	// qCollect deletes the candidate entities left without support and
	// without relationships other than bookkeeping.
	qCollect = `UNWIND $ids AS id
MATCH (n) WHERE elementId(n) = id
WITH n
WHERE NOT n:Document AND NOT n:Chunk AND NOT n:_Source AND NOT n:_Version
  AND NOT EXISTS { MATCH (n)<-[:_SUPPORTS]-() }
  AND NOT EXISTS { MATCH (n)-[r]-() WHERE NOT type(r) IN ['_SUPPORTS', '_SUPPORTS_REL'] }
DETACH DELETE n`
)

// Which sources of a path a withdrawal concerns.
const (
	allSources      = "true"
	oneSource       = "s.key = $key"
	otherSHASources = "s.sha <> $sha"
)

func qWithdrawRels(cond string) string {
	return `MATCH (s:_Source) WHERE s.path = $path AND ` + cond + `
MATCH (s)-[x:_SUPPORTS_REL]->(a)
WITH a, x.type AS type, x.source AS source, x.to_label AS toLabel, x.to_key AS toKey, collect(x) AS xs
FOREACH (e IN xs | DELETE e)
RETURN elementId(a) AS a, type, source, toLabel, toKey`
}

func qWithdrawNodes(cond string) string {
	return `MATCH (s:_Source) WHERE s.path = $path AND ` + cond + `
OPTIONAL MATCH (s)-[:_SUPPORTS]->(n)
WITH collect(DISTINCT s) AS sources, collect(DISTINCT elementId(n)) AS ids
FOREACH (x IN sources | DETACH DELETE x)
RETURN ids`
}

// nodeQuery upserts nodes of one schema label with the op's support, and
// MENTIONS from the chunk when mentions is set.
func nodeQuery(label string, mentions bool) string {
	q := "MATCH (s:_Source {key: $source})\n"
	if mentions {
		q += "MATCH (c:Chunk {key: $chunk})\n"
	}
	q += "UNWIND $rows AS row\nMERGE (n:`" + label + "` {key: row.key})\nSET n += row.props\nMERGE (s)-[:_SUPPORTS]->(n)"
	if mentions {
		q += "\nMERGE (c)-[:MENTIONS]->(n)"
	}
	return q
}

// relQuery upserts relationships of one schema type between two schema
// labels, creating missing endpoints key-only, with the op's support.
func relQuery(typ, from, to string) string {
	return "MATCH (s:_Source {key: $source})\nUNWIND $rows AS row\n" +
		"MERGE (a:`" + from + "` {key: row.from})\n" +
		"MERGE (b:`" + to + "` {key: row.to})\n" +
		"MERGE (a)-[r:`" + typ + "` {source: row.source}]->(b)\n" +
		"SET r += row.props\n" +
		"MERGE (s)-[:_SUPPORTS_REL {type: $type, source: row.source, to_label: $toLabel, to_key: row.to}]->(a)"
}

// writer runs the ops of one transaction attempt. cand collects entities
// that may have lost their last support or relationship; collect deletes
// those that did, after each op.
type writer struct {
	tx   neo4j.ManagedTransaction
	cand []string
}

func (w *writer) exec(ctx context.Context, q string, params map[string]any) error {
	res, err := w.tx.Run(ctx, q, params)
	if err != nil {
		return err
	}
	_, err = res.Consume(ctx)
	return err
}

func (w *writer) records(ctx context.Context, q string, params map[string]any) ([]*neo4j.Record, error) {
	res, err := w.tx.Run(ctx, q, params)
	if err != nil {
		return nil, err
	}
	return res.Collect(ctx)
}

// candidates adds the ids in column col of recs; a column may hold one id
// or a list of ids, and nulls are skipped.
func (w *writer) candidates(recs []*neo4j.Record, cols ...string) {
	for _, r := range recs {
		for _, c := range cols {
			v, _ := r.Get(c)
			switch x := v.(type) {
			case string:
				w.cand = append(w.cand, x)
			case []any:
				for _, it := range x {
					if id, ok := it.(string); ok {
						w.cand = append(w.cand, id)
					}
				}
			}
		}
	}
}

func (w *writer) apply(ctx context.Context, p plan) error {
	old, stale, err := w.version(ctx, p)
	if err != nil {
		return err
	}
	if stale {
		return nil
	}
	newer := old != nil && p.version > *old
	switch p.kind {
	case opDelete:
		if err := w.withdraw(ctx, p.path, allSources, nil); err != nil {
			return err
		}
		if err := w.deleteChunks(ctx, p.path, nil); err != nil {
			return err
		}
		if err := w.exec(ctx, qDeleteDocument, map[string]any{"path": p.path}); err != nil {
			return fmt.Errorf("delete document: %w", err)
		}
	case opPutChunk:
		switch {
		case newer:
			if err := w.withdraw(ctx, p.path, allSources, nil); err != nil {
				return err
			}
			if err := w.deleteChunks(ctx, p.path, nil); err != nil {
				return err
			}
		case old != nil:
			// The same version again: this chunk's previous write loses the
			// support it gave and its mentions.
			if err := w.withdraw(ctx, p.path, oneSource, map[string]any{"key": p.source}); err != nil {
				return err
			}
			recs, err := w.records(ctx, qDeleteMentions, map[string]any{"chunk": p.chunk})
			if err != nil {
				return fmt.Errorf("delete mentions: %w", err)
			}
			w.candidates(recs, "id")
		}
		if err := w.put(ctx, p); err != nil {
			return err
		}
	case opPutRecords:
		if err := w.put(ctx, p); err != nil {
			return err
		}
		if p.final {
			if err := w.withdraw(ctx, p.path, otherSHASources, map[string]any{"sha": p.sha}); err != nil {
				return err
			}
			keep := p.sha + ":"
			if err := w.deleteChunks(ctx, p.path, &keep); err != nil {
				return err
			}
		}
	}
	return w.collect(ctx)
}

// version returns the version stored for the path before p (nil if none)
// and whether p is stale; it stores p's version when it is newer.
func (w *writer) version(ctx context.Context, p plan) (*int64, bool, error) {
	recs, err := w.records(ctx, qVersion, map[string]any{"path": p.path, "version": p.version})
	if err != nil {
		return nil, false, fmt.Errorf("version: %w", err)
	}
	if len(recs) != 1 {
		return nil, false, fmt.Errorf("version: %d rows", len(recs))
	}
	v, _ := recs[0].Get("old")
	old, ok := v.(int64)
	if !ok {
		return nil, false, nil
	}
	return &old, p.version < old, nil
}

func (w *writer) put(ctx context.Context, p plan) error {
	params := map[string]any{
		"path": p.path, "doc": p.doc, "source": p.source, "sha": p.sha, "part": p.part,
		"chunk": p.chunk, "index": p.index, "text": p.text,
	}
	if err := w.exec(ctx, qPutDocument, params); err != nil {
		return fmt.Errorf("put document: %w", err)
	}
	mentions := p.kind == opPutChunk
	if mentions {
		if err := w.exec(ctx, qPutChunk, params); err != nil {
			return fmt.Errorf("put chunk: %w", err)
		}
	}
	for _, g := range p.nodes {
		params := map[string]any{"source": p.source, "chunk": p.chunk, "rows": g.rows}
		if err := w.exec(ctx, nodeQuery(g.label, mentions), params); err != nil {
			return fmt.Errorf("put %s nodes: %w", g.label, err)
		}
	}
	for _, g := range p.rels {
		params := map[string]any{"source": p.source, "type": g.typ, "toLabel": g.to, "rows": g.rows}
		if err := w.exec(ctx, relQuery(g.typ, g.from, g.to), params); err != nil {
			return fmt.Errorf("put %s relationships: %w", g.typ, err)
		}
	}
	return nil
}

// withdraw removes the support that the path's sources matching cond gave,
// deletes the relationships left without support and the sources.
func (w *writer) withdraw(ctx context.Context, path, cond string, extra map[string]any) error {
	params := map[string]any{"path": path}
	for k, v := range extra {
		params[k] = v
	}
	recs, err := w.records(ctx, qWithdrawRels(cond), params)
	if err != nil {
		return fmt.Errorf("withdraw relationship support: %w", err)
	}
	if len(recs) > 0 {
		rels := make([]any, len(recs))
		for i, r := range recs {
			rels[i] = r.AsMap()
		}
		deleted, err := w.records(ctx, qDeleteUnsupportedRels, map[string]any{"rels": rels})
		if err != nil {
			return fmt.Errorf("delete unsupported relationships: %w", err)
		}
		w.candidates(deleted, "a", "b")
	}
	recs, err = w.records(ctx, qWithdrawNodes(cond), params)
	if err != nil {
		return fmt.Errorf("withdraw node support: %w", err)
	}
	w.candidates(recs, "ids")
	return nil
}

// deleteChunks unlinks the path's chunks, all or those whose key does not
// start with *keep.
func (w *writer) deleteChunks(ctx context.Context, path string, keep *string) error {
	params := map[string]any{"path": path, "keep": nil}
	if keep != nil {
		params["keep"] = *keep
	}
	recs, err := w.records(ctx, qDeleteChunks, params)
	if err != nil {
		return fmt.Errorf("delete chunks: %w", err)
	}
	w.candidates(recs, "ids")
	return nil
}

// collect garbage-collects the candidates of the op just written.
func (w *writer) collect(ctx context.Context) error {
	if len(w.cand) == 0 {
		return nil
	}
	ids := make([]any, len(w.cand))
	for i, id := range w.cand {
		ids[i] = id
	}
	w.cand = w.cand[:0]
	if err := w.exec(ctx, qCollect, map[string]any{"ids": ids}); err != nil {
		return fmt.Errorf("collect garbage: %w", err)
	}
	return nil
}

// classify marks failures to reach Neo4j (connection errors, transient
// errors that outlasted the driver's retries, timeouts) as
// graph.ErrUnavailable, so the writer waits for Neo4j instead of
// dead-lettering; anything else is a problem with the data.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", graph.ErrUnavailable, err)
	}
	// The driver's predicates look at the error itself, not its wrappers.
	for e := err; e != nil; e = errors.Unwrap(e) {
		if neo4j.IsConnectivityError(e) || neo4j.IsTransactionExecutionLimit(e) || neo4j.IsRetryable(e) {
			return fmt.Errorf("%w: %w", graph.ErrUnavailable, err)
		}
	}
	return err
}
