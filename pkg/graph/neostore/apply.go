package neostore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/docgraph/docgraph/pkg/graph"
)

// Apply commits ops in order in one managed write transaction. The driver
// runs the transaction again after a transient error (deadlock, leader
// switch, lost connection), which is safe because every op is idempotent
// and the failed attempt was rolled back. Earlier versions too large to
// withdraw in that transaction are withdrawn before it, in parts (see
// prewithdraw).
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
	err = s.prewithdraw(ctx, sess, plans)
	if err == nil {
		err = s.execute(ctx, sess, func(ctx context.Context, w *writer) error { return w.applyPlans(ctx, plans) })
	}
	s.m.duration.Observe(time.Since(start).Seconds())
	if err != nil {
		return classifyWrite(fmt.Errorf("apply %d ops to neo4j %s: %w", len(ops), s.uri, err))
	}
	s.m.batchSize.Observe(float64(items))
	return nil
}

// runs are the kinds of ops applyPlans writes together: how many plans
// from the first a run of the kind takes, the fewest worth writing as one,
// how it is written, and what errors call its ops.
var runs = []struct {
	length func([]plan) int
	least  int
	write  func(*writer, context.Context, []plan) error
	what   string
}{
	{recordsRun, 1, (*writer).applyRecords, "records"},
	{deleteRun, 2, (*writer).applyDeletes, "deletions"},
	{chunkRun, 2, (*writer).applyChunks, "chunks"},
}

// applyPlans writes plans in order, runs of records, deletions and chunks
// together (see recordsRun, deleteRun and chunkRun), the others op by op.
func (w *writer) applyPlans(ctx context.Context, plans []plan) error {
next:
	for i := 0; i < len(plans); {
		for _, r := range runs {
			if n := r.length(plans[i:]); n >= r.least {
				run := plans[i : i+n]
				if err := r.write(w, ctx, run); err != nil {
					return fmt.Errorf("ops %d-%d (%s of %s…): %w", run[0].opIndex, run[n-1].opIndex, r.what, run[0].path, err)
				}
				i += n
				continue next
			}
		}
		if err := w.apply(ctx, plans[i]); err != nil {
			return fmt.Errorf("op %d (%s): %w", plans[i].opIndex, plans[i].path, err)
		}
		i++
	}
	return nil
}

// execute runs write in a managed write transaction of sess. The driver
// runs it again after a transient error; execute runs it again after a
// race with another writer: a concurrent transaction created a node this
// one was creating (write again, finding every node by MERGE), gave a node
// this one was deleting a relationship (see qCollect), or deleted a node
// this one found (its garbage collection), or another writer (a graph
// writer replica) took the same locks in another order and the driver's
// retries ran out on it. Neo4j answers, so write again rather than report
// it down, which would pause every replica's consumer as for an outage.
func (s *Store) execute(ctx context.Context, sess neo4j.SessionWithContext, write func(context.Context, *writer) error) error {
	attempts := 0
	mergeOnly := false
	tx := func(tx neo4j.ManagedTransaction) (any, error) {
		attempts++
		if attempts > 1 {
			s.m.retries.Inc()
		}
		return nil, write(ctx, &writer{tx: tx, mergeOnly: mergeOnly})
	}
	_, err := sess.ExecuteWrite(ctx, tx)
	for n := 0; n < raceRetries && ctx.Err() == nil; n++ {
		if isUniquenessRace(err) {
			mergeOnly = true
		} else if !isDeleteRace(err) && !isDeletedMeanwhile(err) && !isDeadlock(err) {
			break
		}
		_, err = sess.ExecuteWrite(ctx, tx)
	}
	return err
}

// Cypher for the bookkeeping. Labels and types of the schema are the only
// text ever spliced in (see nodeQuery and relQuery); values are parameters.
const (
	// qVersion locks the path's version node (SET then REMOVE of a dummy
	// property takes the write lock before the version is read, so
	// concurrent ops on one path serialise), returns the stored version and
	// whether a deletion set it, and stores the op's version unless the op
	// is stale (see storedVersion.stale).
	qVersion = `MERGE (v:_Version {key: $path})
SET v._lock = true
REMOVE v._lock
WITH v, v.version AS old, coalesce(v.deleted, false) AS gone
WITH v, old, gone, old IS NOT NULL AND ($version < old OR (gone AND $version <= old)) AS stale
SET v.version = CASE WHEN stale THEN old ELSE $version END,
    v.deleted = CASE WHEN stale THEN gone ELSE $deleted END
RETURN old, gone`

	// qPutDocument also gives the op's source its support id (sources
	// written before ids existed get one on their next write).
	qPutDocument = `MERGE (d:Document {key: $path})
SET d += $doc
MERGE (s:_Source {key: $source})
ON CREATE SET s.path = $path, s.sha = $sha, s.part = $part
SET s.sid = coalesce(s.sid, $sid), s.revision = $revision`

	// qVersions is qVersion for several paths (sorted, so concurrent
	// transactions lock them in the same order), each with the largest
	// version a run of ops (all deletions, or none) brings: that one is
	// stale only if every op of the path in the run is.
	qVersions = `UNWIND $paths AS p
MERGE (v:_Version {key: p.path})
SET v._lock = true
REMOVE v._lock
WITH p, v, v.version AS old, coalesce(v.deleted, false) AS gone
WITH p, v, old, gone, old IS NOT NULL AND (p.version < old OR (gone AND p.version <= old)) AS stale
SET v.version = CASE WHEN stale THEN old ELSE p.version END,
    v.deleted = CASE WHEN stale THEN gone ELSE $deleted END
RETURN p.path AS path, old, gone`

	// qPutDocuments is qPutDocument for several ops, in op order.
	qPutDocuments = `UNWIND $docs AS x
MERGE (d:Document {key: x.path})
SET d += x.doc
MERGE (s:_Source {key: x.source})
ON CREATE SET s.path = x.path, s.sha = x.sha, s.part = x.part
SET s.sid = coalesce(s.sid, x.sid), s.revision = x.revision`

	// qSourceRevisions returns the gazetteer revision of the extraction
	// each existing source (of a chunk) was last written with.
	qSourceRevisions = `UNWIND $keys AS k
MATCH (s:_Source {key: k})
RETURN k AS key, s.revision AS revision`

	// qCutSources returns the sources of the chunks past the last of a
	// document's new cut: its chunks of the same content at index total
	// or above.
	qCutSources = `UNWIND $cuts AS x
MATCH (s:_Source {path: x.path})
WHERE s.sha = x.sha AND s.part <> '` + partRows + `' AND toInteger(s.part) >= x.total
RETURN s.key AS key`

	// qDeleteCutChunks unlinks a document's chunks past the last of its
	// new cut and deletes those no other document shares.
	qDeleteCutChunks = `UNWIND $cuts AS x
MATCH (:Document {key: x.path})-[h:HAS_CHUNK]->(c:Chunk)
WHERE c.key STARTS WITH x.prefix AND c.index >= x.total
` + qUnlinkedChunks

	qPutChunk = `MATCH (d:Document {key: $path})
MERGE (c:Chunk {key: $chunk})
SET c.index = $index, c.text = $text
MERGE (d)-[:HAS_CHUNK]->(c)`

	// qUnlinkedChunks ends a query that matched HAS_CHUNK h from a
	// document to chunk c: it deletes h, then the chunks no document has
	// any more, and returns the element ids of what they mentioned.
	qUnlinkedChunks = `DELETE h
WITH DISTINCT c
WHERE NOT EXISTS { MATCH (:Document)-[:HAS_CHUNK]->(c) }
OPTIONAL MATCH (c)-[:MENTIONS]->(n)
WITH c, collect(elementId(n)) AS ids
DETACH DELETE c
RETURN ids`

	// qDeleteChunks unlinks the path's chunks (all, or those of other
	// contents than $keep) and deletes those no other document shares.
	qDeleteChunks = `MATCH (:Document {key: $path})-[h:HAS_CHUNK]->(c:Chunk)
WHERE $keep IS NULL OR NOT c.key STARTS WITH $keep
` + qUnlinkedChunks

	qDeleteDocument = `MATCH (d:Document {key: $path}) DETACH DELETE d`

	// qDeleteDocuments deletes the documents of several paths and their
	// chunks that no other document has (qDeleteChunks, then
	// qDeleteDocument, for each path): the aggregation deletes every
	// document before any chunk is found unshared, so a chunk that only
	// documents of $paths share goes too.
	qDeleteDocuments = `UNWIND $paths AS path
MATCH (d:Document {key: path})
OPTIONAL MATCH (d)-[:HAS_CHUNK]->(c:Chunk)
WITH collect(DISTINCT d) AS docs, collect(DISTINCT c) AS chunks
FOREACH (d IN docs | DETACH DELETE d)
WITH chunks
UNWIND chunks AS c
WITH c
WHERE NOT EXISTS { MATCH (:Document)-[:HAS_CHUNK]->(c) }
OPTIONAL MATCH (c)-[:MENTIONS]->(n)
WITH c, collect(elementId(n)) AS ids
DETACH DELETE c
RETURN ids`

	// qPutChunks is qPutChunk for several chunks.
	qPutChunks = `UNWIND $chunks AS x
MATCH (d:Document {key: x.path})
MERGE (c:Chunk {key: x.chunk})
SET c.index = x.index, c.text = x.text
MERGE (d)-[:HAS_CHUNK]->(c)`

	// qDeleteChunksMentions removes from chunks written again the mentions that
	// their new extraction does not make (x.keep: its labels and keys), the
	// rest being written again anyway: deleting a relationship of an entity
	// many chunks mention is costly.
	qDeleteChunksMentions = `UNWIND $chunks AS x
MATCH (:Chunk {key: x.chunk})-[m:MENTIONS]->(n)
WHERE NOT any(k IN x.keep WHERE k.label IN labels(n) AND k.key = n.key)
DELETE m
RETURN elementId(n) AS id`

	// qCollect deletes the candidate entities left without support and
	// without relationships other than bookkeeping. The bookkeeping of an
	// entity only ever points at it (from its sources), so it has no other
	// relationship when it has no outgoing one and only _SUPPORTS_REL
	// incoming ones; those are counted from the node's degrees, without
	// reading its relationships: an entity many chunks mention has
	// thousands, and going through them for every candidate made garbage
	// collection most of the cost of a deletion.
	//
	// The bookkeeping is deleted, then the node, by DELETE: the
	// relationships of a dense node take only shared locks on it, so
	// another transaction may give it support or a relationship while this
	// one runs. DELETE waits for that transaction, and then fails
	// (isDeleteRace) where DETACH DELETE would delete what it wrote.
	qCollect = `UNWIND $ids AS id
MATCH (n) WHERE elementId(n) = id
WITH n
WHERE NOT n:Document AND NOT n:Chunk AND NOT n:_Source AND NOT n:_Version
  AND NOT EXISTS { (n)<-[:_SUPPORTS]-() }
  AND NOT EXISTS { (n)-->() }
  AND COUNT { (n)<--() } = COUNT { (n)<-[:_SUPPORTS_REL]-() }
OPTIONAL MATCH (n)<-[b:_SUPPORTS_REL]-()
DELETE b
WITH DISTINCT n
DELETE n`
)

// Which sources a withdrawal concerns: a path's (all, those of other
// contents), or those of a list of keys.
const (
	allSources      = "s.path = $path"
	pathsSources    = "s.path IN $paths"
	otherSHASources = "s.path = $path AND s.sha <> $sha"
	listedSources   = "s.key IN $keys"
)

// qWithdrawRels removes the sources' ids from the support lists of the
// relationships they support (found from the nodes the sources support)
// and deletes the relationships left without support. The list is
// read again after a write has locked the relationship: a concurrent
// transaction may have changed it since the MATCH read it. The properties
// the sources gave a relationship that stays are taken off its list of
// given properties (propGiven) and returned with those left (rel), for
// regive.
func qWithdrawRels(cond string) string {
	return qWithdrawRelsFrom(cond, "")
}

// qWithdrawRelsFrom is qWithdrawRels for the relationships whose start
// node matches from (of a, e.g. "elementId(a) IN $nodes"), or all if from
// is "".
func qWithdrawRelsFrom(cond, from string) string {
	if from != "" {
		from = " AND " + from
	}
	return `MATCH (s:_Source) WHERE ` + cond + `
MATCH (s)-[:_SUPPORTS]->(a)-[r]->(b)
WHERE s.sid IN r.` + propSupport + from + `
WITH a, b, r, collect(s.sid) AS gone, collect(s.key + '\u0000') AS prefixes
` + lockRel + `
WITH a, b, r, gone, [e IN coalesce(r.` + propGiven + `, []) WHERE any(p IN prefixes WHERE e STARTS WITH p)] AS taken
SET r.` + propSupport + ` = [x IN r.` + propSupport + ` WHERE NOT x IN gone],
  r.` + propGiven + ` = CASE WHEN size(taken) = 0 THEN r.` + propGiven + ` ELSE [e IN r.` + propGiven + ` WHERE NOT e IN taken] END
WITH a, b, r, taken, size(r.` + propSupport + `) = 0 AS dead
WITH a, b, r, dead, CASE WHEN NOT dead AND size(taken) > 0 THEN {id: elementId(r), taken: taken, given: r.` + propGiven + `} END AS rel
FOREACH (_ IN CASE WHEN dead THEN [1] ELSE [] END | DELETE r)
RETURN CASE WHEN dead THEN elementId(a) END AS a, CASE WHEN dead THEN elementId(b) END AS b, rel`
}

// qRegive sets the properties of relationships that lost given ones
// (regive).
const qRegive = `UNWIND $rows AS row
MATCH ()-[r]->() WHERE elementId(r) = row.id
SET r += row.props`

// lockRel takes r's write lock (setting and removing a dummy property), so
// that what follows reads r's support list as the last commit left it;
// lockNode does the same for a node n.
const (
	lockRel  = "SET r._docgraph_lock = true\nREMOVE r._docgraph_lock"
	lockNode = "SET n._docgraph_lock = true\nREMOVE n._docgraph_lock"
)

// qWithdrawNodes deletes the sources and so their support of nodes. It
// returns the nodes they supported (ids) and, for each support that held
// properties (records' and mentions'), the node and the property keys
// (taken).
func qWithdrawNodes(cond string) string {
	return `MATCH (s:_Source) WHERE ` + cond + `
OPTIONAL MATCH (s)-[u:_SUPPORTS]->(n)
WITH collect(DISTINCT s) AS sources, collect(DISTINCT elementId(n)) AS ids,
  collect(CASE WHEN size(keys(u)) > 0 THEN {id: elementId(n), keys: keys(u)} END) AS taken
FOREACH (x IN sources | DETACH DELETE x)
RETURN ids, taken`
}

// qReapplyProps gives nodes that lost support that gave them properties
// (records', or a mention's: the name the gazetteer had when the chunk was
// extracted) the properties the sources left give: it removes the keys the
// withdrawn supports held (row.keys; row.clear maps them to null), then
// sets the properties of each remaining support in turn, in givenProps'
// order, so that the result does not depend on the order the files were
// written in. A
// node that has those values already (a new version that gives a row
// again unchanged) is not written. One that is gets its write lock first
// and its supports read again: a concurrent transaction that wrote the node
// and a support of it has committed by then, and its properties are kept.
const qReapplyProps = `UNWIND $rows AS row
MATCH (n) WHERE elementId(n) = row.id
` + givenProps + `
WITH n, row, given
WHERE any(k IN reduce(ks = row.keys, p IN given | ks + [x IN keys(p) WHERE NOT x IN ks]) WHERE NOT coalesce(
  n[k] = last([p IN given WHERE p[k] IS NOT NULL | p[k]])
    AND valueType(n[k]) = valueType(last([p IN given WHERE p[k] IS NOT NULL | p[k]])),
  n[k] IS NULL AND none(p IN given WHERE p[k] IS NOT NULL)))
` + lockNode + `
WITH n, row
` + givenProps + `
SET n += row.clear
FOREACH (p IN given | SET n += p)`

// givenProps collects the properties of n's supports (given): those of
// mentions first, in chunk order (the key "<sha256>:<index>" as text), then
// those of records, in the order of their source's path and key. A
// spreadsheet states its entities, and wins over a name a chunk was
// extracted with. As most of an entity's mentions give the same, each
// distinct value is listed once, at its last place, which merges to the
// same result: an entity thousands of chunks mention has a short list.
const givenProps = `CALL (n) {
  OPTIONAL MATCH (s:_Source)-[u:_SUPPORTS]->(n)
  WITH properties(u) AS p, s.part = '` + partRows + `' AS rows,
    CASE WHEN s.part = '` + partRows + `' THEN s.path ELSE s.sha + ':' + s.part END + '\u0000' + s.key AS place
  WITH p, rows, max(place) AS last
  ORDER BY rows, last
  RETURN collect(p) AS given
}`

// nodeQuery upserts nodes of one schema label with the support of one
// source, and MENTIONS from the chunk when mentions is set.
func nodeQuery(label string, mentions bool) string {
	q := "MATCH (s:_Source {key: $source})\n"
	if mentions {
		q += "MATCH (c:Chunk {key: $chunk})\n"
	}
	// The support keeps the properties its source gave (see
	// qReapplyProps).
	q += "UNWIND $rows AS row\nMERGE (n:`" + label + "` {key: row.key})\nSET n += row.props\nMERGE (s)-[u:_SUPPORTS]->(n)\nSET u += row.props"
	if mentions {
		return q + "\nMERGE (c)-[:MENTIONS]->(n)"
	}
	return q
}

// mentionQuery upserts nodes of one schema label mentioned by chunks, each
// row with the support of its chunk's source and a MENTIONS from its chunk.
func mentionQuery(label string) string {
	return "UNWIND $rows AS row\nMATCH (s:_Source {key: row.source})\nMATCH (c:Chunk {key: row.chunk})\n" +
		"MERGE (n:`" + label + "` {key: row.key})\nSET n += row.props\nMERGE (s)-[u:_SUPPORTS]->(n)\nSET u += row.props\nMERGE (c)-[:MENTIONS]->(n)"
}

// recordNodeQuery upserts nodes of one schema label from records, with
// the support of one source, for rows of distinct keys. A node that does
// not exist yet is created outright, with its support: a MERGE, and the
// check that the support is not there yet, cost about an eighth of a new
// node's write. Should a concurrent transaction create the same key between
// the lookup and the CREATE, the uniqueness constraint fails this
// transaction, and Apply runs it again with nodeQuery's MERGE. (Neo4j's
// lookup waits for an uncommitted creation of the key, so this is a safety
// net: TestRecordsNodeCreatedConcurrently.) The support keeps the
// properties its source gave, merged over its batches as the node's are
// (see qReapplyProps).
func recordNodeQuery(label string) string {
	return "MATCH (s:_Source {key: $source})\nUNWIND $rows AS row\nOPTIONAL MATCH (x:`" + label + "` {key: row.key})\n" +
		"FOREACH (_ IN CASE WHEN x IS NULL THEN [1] ELSE [] END |\n" +
		"  CREATE (n:`" + label + "` {key: row.key}) CREATE (s)-[u:_SUPPORTS]->(n) SET n += row.props, u += row.props)\n" +
		"FOREACH (_ IN CASE WHEN x IS NULL THEN [] ELSE [1] END |\n" +
		"  SET x += row.props MERGE (s)-[v:_SUPPORTS]->(x) SET v += row.props)"
}

// isUniquenessRace reports whether err is a uniqueness constraint failing
// a CREATE of recordNodeQuery (nothing else in a write creates nodes
// without MERGE).
func isUniquenessRace(err error) bool {
	var ne *neo4j.Neo4jError
	return errors.As(err, &ne) && ne.Code == codeConstraint && !isDeleteRace(err)
}

// isDeleteRace reports whether err is the failure of a DELETE of a node
// that a concurrent transaction gave a relationship (see qCollect).
func isDeleteRace(err error) bool {
	var ne *neo4j.Neo4jError
	return errors.As(err, &ne) && ne.Code == codeConstraint && strings.Contains(ne.Msg, "still has relationships")
}

// isDeletedMeanwhile reports whether err is a write to a node that a
// concurrent transaction deleted after this one found it: that
// transaction held the node's lock until it committed the deletion.
func isDeletedMeanwhile(err error) bool {
	var ne *neo4j.Neo4jError
	return errors.As(err, &ne) && ne.Code == "Neo.ClientError.Statement.EntityNotFound"
}

const codeConstraint = "Neo.ClientError.Schema.ConstraintValidationFailed"

// raceRetries bounds the further managed transactions Apply runs after
// losing a race with another writer (or after the driver's retries ran out
// on deadlocks).
const raceRetries = 10

// isDeadlock reports whether err is Neo4j's deadlock detection, by itself
// or as the last error of the driver's spent retries.
func isDeadlock(err error) bool {
	var limit *neo4j.TransactionExecutionLimit
	if errors.As(err, &limit) && len(limit.Errors) > 0 {
		err = limit.Errors[len(limit.Errors)-1]
	}
	var ne *neo4j.Neo4jError
	return errors.As(err, &ne) && ne.Code == "Neo.TransientError.Transaction.DeadlockDetected"
}

// dedupeKeys is turned off only by a test of the uniqueness race: rows of
// one key in one recordNodeQuery then both CREATE it.
var dedupeKeys = true

// mergeDuplicateKeys merges rows (sorted by key) of one key into one row
// whose properties are theirs applied in order, as consecutive SET +=
// would. The input rows and maps are not modified (a transaction may run
// again).
func mergeDuplicateKeys(rows []map[string]any) []map[string]any {
	if !dedupeKeys {
		return rows
	}
	dup := false
	for i := 1; i < len(rows) && !dup; i++ {
		dup = rows[i]["key"] == rows[i-1]["key"]
	}
	if !dup {
		return rows
	}
	out := make([]map[string]any, 0, len(rows))
	for _, r := range rows {
		n := len(out)
		if n == 0 || out[n-1]["key"] != r["key"] {
			out = append(out, r)
			continue
		}
		merged := maps.Clone(out[n-1]["props"].(map[string]any))
		maps.Copy(merged, r["props"].(map[string]any))
		out[n-1] = map[string]any{"key": r["key"], "props": merged}
	}
	return out
}

// Which rows of relQuery give the source's support to their start node,
// through which a withdrawal finds the relationship.
const (
	everyStart   = iota // every row
	flaggedStart        // rows whose support field is true
)

// relQuery upserts relationships of one schema type between two schema
// labels, creating missing endpoints key-only, with the support of one
// source: its id in the relationship's support list, and its support of
// the start node (every row's, or only flagged rows': see starts).
// A relationship found is updated with its support list read in the
// right-hand side of its own SET, and so under the relationship's write
// lock (Cypher takes it before such a read): concurrent writers lose no
// update (TestSupportListNotLostToConcurrentWrite).
func relQuery(typ, from, to string, starts int) string {
	return relQueryFrom(oneSourceRows, typ, from, to, starts)
}

// How a query's rows find their source: one for all ($source), or each its
// own (row.src: relationships of several chunks).
const (
	oneSourceRows = "MATCH (s:_Source {key: $source})\nUNWIND $rows AS row\n"
	rowSources    = "UNWIND $rows AS row\nMATCH (s:_Source {key: row.src})\n"
)

// relQueryFrom is relQuery with the rows' sources found as head says.
func relQueryFrom(head, typ, from, to string, starts int) string {
	q := head +
		"MERGE (a:`" + from + "` {key: row.from})\n" +
		"MERGE (b:`" + to + "` {key: row.to})\n" +
		"MERGE (a)-[r:`" + typ + "` {source: row.source}]->(b)\n" +
		// What the source gave is kept (propGiven) for regive.
		"ON CREATE SET r += row.props, r." + propSupport + " = [s.sid], r." + propGiven + " = CASE WHEN row.given IS NULL THEN null ELSE [s.key + '\\u0000' + row.given] END\n" +
		"ON MATCH SET r += row.props, r." + propSupport + " = CASE WHEN s.sid IN coalesce(r." + propSupport + ", []) THEN r." + propSupport +
		" ELSE coalesce(r." + propSupport + ", []) + s.sid END,\n" +
		"  r." + propGiven + " = CASE WHEN row.given IS NULL OR s.key + '\\u0000' + row.given IN coalesce(r." + propGiven + ", []) THEN r." + propGiven +
		" ELSE coalesce(r." + propGiven + ", []) + (s.key + '\\u0000' + row.given) END\n"
	if starts == flaggedStart {
		return q + "FOREACH (_ IN CASE WHEN row.support THEN [1] ELSE [] END | MERGE (s)-[:_SUPPORTS]->(a))"
	}
	return q + "MERGE (s)-[:_SUPPORTS]->(a)"
}

// writer runs the ops of one transaction attempt. cand collects entities
// that may have lost their last support or relationship; collect deletes
// those that did, after each op.
type writer struct {
	tx   neo4j.ManagedTransaction
	cand []string
	// taken maps the nodes that lost support holding properties to those
	// properties' keys; collect (or reapplyProps) gives them the
	// properties their remaining supports give.
	taken map[string]map[string]bool
	// mergeOnly writes records nodes with nodeQuery's MERGE (after a
	// uniqueness race, see recordNodeQuery).
	mergeOnly bool
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
	old, err := w.version(ctx, p)
	if err != nil {
		return err
	}
	if old.stale(p.version) {
		return nil
	}
	newer := old.known && p.version > old.version
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
			// Before the mentions set their properties (a path whose
			// records are replaced by text).
			if err := w.reapplyProps(ctx); err != nil {
				return err
			}
		case old.known:
			if stale, err := w.staleExtractions(ctx, []plan{p}); err != nil || stale[p.source] {
				return err
			}
			if err := w.rewriteChunks(ctx, []plan{p}); err != nil {
				return err
			}
			if err := w.dropCut(ctx, []plan{p}); err != nil {
				return err
			}
		}
		if err := w.put(ctx, p); err != nil {
			return err
		}
	}
	return w.collect(ctx)
}

// maxQueryRows bounds the rows of one UNWIND query when a run of records
// ops is merged: much larger queries cost Neo4j more per row (memory).
const maxQueryRows = 10_000

// recordsRun returns how many plans from the first are a run of PutRecords
// ops that can be written together: only the last may be Final. Until a
// Final op nothing is withdrawn, so nothing is garbage-collected, and
// writing all their documents, then all their nodes, then all their
// relationships (each in op order) ends in the same graph as op by op.
func recordsRun(plans []plan) int {
	n := 0
	for _, p := range plans {
		if p.kind != opPutRecords {
			break
		}
		n++
		if p.final {
			break
		}
	}
	return n
}

// applyRecords writes a run of PutRecords ops (see recordsRun) with a few
// queries for all of them instead of a few per op.
func (w *writer) applyRecords(ctx context.Context, run []plan) error {
	// Versions: one query for every path; staleness is then decided op by
	// op, as if each had read the version the ones before it left.
	_, stored, err := w.raiseVersions(ctx, run)
	if err != nil {
		return err
	}
	var live []plan
	for _, p := range run {
		if stored[p.path].stale(p.version) {
			continue
		}
		stored[p.path] = stored[p.path].after(p.version, false)
		live = append(live, p)
	}
	if len(live) == 0 {
		return nil
	}

	docs := make([]any, len(live))
	for i, p := range live {
		docs[i] = map[string]any{"path": p.path, "doc": p.doc, "source": p.source, "sha": p.sha, "part": p.part, "sid": p.sid}
	}
	if err := w.exec(ctx, qPutDocuments, map[string]any{"docs": docs}); err != nil {
		return fmt.Errorf("put documents: %w", err)
	}
	nodes := map[string][]sourceRows{}
	var labels []string
	rels := map[relKey][]sourceRows{}
	var relKeys []relKey
	for _, p := range live {
		for _, g := range p.nodes {
			if _, ok := nodes[g.label]; !ok {
				labels = append(labels, g.label)
			}
			nodes[g.label] = appendGroup(nodes[g.label], p.source, g.rows)
		}
		for _, g := range p.rels {
			k := relKey{g.typ, g.from, g.to}
			if _, ok := rels[k]; !ok {
				relKeys = append(relKeys, k)
			}
			rels[k] = appendGroup(rels[k], p.source, g.rows)
		}
	}
	// A node that a source states has that source's support: the start
	// nodes of relationships need it written only when the run does not
	// state them (kept only when relationships follow).
	stated := map[nodeSupport]bool{}
	// Rows merged from several ops are sorted again, stably (properties of
	// one key still apply in op order), so that locks are taken in key order.
	slices.Sort(labels)
	for _, l := range labels {
		for _, g := range nodes[l] {
			sortRows(g.rows, compareNodeRows)
			q := recordNodeQuery(l)
			if w.mergeOnly {
				q = nodeQuery(l, false)
			}
			for rows := range slices.Chunk(mergeDuplicateKeys(g.rows), maxQueryRows) {
				if err := w.exec(ctx, q, map[string]any{"source": g.source, "rows": rows}); err != nil {
					return fmt.Errorf("put %s nodes: %w", l, err)
				}
			}
			if len(relKeys) > 0 {
				for _, r := range g.rows {
					stated[nodeSupport{g.source, l, r["key"].(string)}] = true
				}
			}
		}
	}
	slices.SortFunc(relKeys, compareRelKeys)
	// The first row of each start node the run does not state gives it
	// the source's support; rows are the run's own maps (built by plan),
	// and every attempt sets the flag of each again.
	for _, k := range relKeys {
		for _, g := range rels[k] {
			sortRows(g.rows, compareRelRows)
			for _, r := range g.rows {
				n := nodeSupport{g.source, k.from, r["from"].(string)}
				r["support"] = !stated[n]
				stated[n] = true
			}
			for rows := range slices.Chunk(g.rows, maxQueryRows) {
				if err := w.exec(ctx, relQuery(k.typ, k.from, k.to, flaggedStart), map[string]any{"source": g.source, "rows": rows}); err != nil {
					return fmt.Errorf("put %s relationships: %w", k.typ, err)
				}
			}
		}
	}

	last := live[len(live)-1] // only the run's last op may be Final
	if !last.final {
		return nil
	}
	if err := w.withdraw(ctx, last.path, otherSHASources, map[string]any{"sha": last.sha}); err != nil {
		return err
	}
	keep := last.sha + ":"
	if err := w.deleteChunks(ctx, last.path, &keep); err != nil {
		return err
	}
	return w.collect(ctx)
}

// raiseVersions stores for every path of a run the largest version the run
// brings, with one query (paths sorted, so that concurrent transactions lock
// them in one order), and returns those versions and the ones stored before
// (absent for a path never seen).
func (w *writer) raiseVersions(ctx context.Context, run []plan) (versions map[string]int64, stored map[string]storedVersion, err error) {
	versions = map[string]int64{}
	for _, p := range run {
		versions[p.path] = max(versions[p.path], p.version)
	}
	paths := slices.Sorted(maps.Keys(versions))
	rows := make([]any, len(paths))
	for i, path := range paths {
		rows[i] = map[string]any{"path": path, "version": versions[path]}
	}
	recs, err := w.records(ctx, qVersions, map[string]any{"paths": rows, "deleted": run[0].kind == opDelete})
	if err != nil {
		return nil, nil, fmt.Errorf("versions: %w", err)
	}
	stored = map[string]storedVersion{}
	for _, r := range recs {
		path, _ := r.Values[0].(string)
		stored[path] = readVersion(r.Values[1], r.Values[2])
	}
	return versions, stored, nil
}

// chunkRun returns how many plans from the first are PutChunk ops that can
// be written together: each (path, chunk) once, and one version per path.
// What an op's version means — stale, a path's first content, a newer one
// that replaces the path's chunks, or the same one written again — is then
// the same for every op of a path, and writing the run's withdrawals
// first, then all its documents, chunks, mentions and relationships, ends
// in the graph that op-by-op writing gives.
func chunkRun(plans []plan) int {
	seen := map[[2]string]bool{}
	versions := map[string]int64{}
	totals := map[string]int64{}
	n := 0
	for _, p := range plans {
		if p.kind != opPutChunk {
			break
		}
		k := [2]string{p.path, p.chunk}
		if v, ok := versions[p.path]; seen[k] || (ok && v != p.version) {
			break
		}
		if t, ok := totals[p.path]; ok && t != p.total {
			break // a new cut of the path (see dropCut)
		}
		seen[k], versions[p.path], totals[p.path] = true, p.version, p.total
		n++
	}
	return n
}

// applyChunks writes a run of PutChunk ops (see chunkRun) with a few
// queries for all of them instead of about ten per op.
func (w *writer) applyChunks(ctx context.Context, run []plan) error {
	versions, stored, err := w.raiseVersions(ctx, run)
	if err != nil {
		return err
	}
	// A newer version replaces everything of its path.
	for _, path := range slices.Sorted(maps.Keys(versions)) {
		if old := stored[path]; old.known && versions[path] > old.version {
			if err := w.withdraw(ctx, path, allSources, nil); err != nil {
				return err
			}
			if err := w.deleteChunks(ctx, path, nil); err != nil {
				return err
			}
		}
	}
	// Before the mentions set their properties (a path whose records are
	// replaced by text).
	if err := w.reapplyProps(ctx); err != nil {
		return err
	}
	var live, again []plan
	for _, p := range run {
		old := stored[p.path]
		if old.stale(p.version) {
			continue
		}
		if old.known && p.version == old.version {
			again = append(again, p)
		}
		live = append(live, p)
	}
	stale, err := w.staleExtractions(ctx, again)
	if err != nil {
		return err
	}
	if len(stale) > 0 {
		isStale := func(p plan) bool { return stale[p.source] }
		again = slices.DeleteFunc(again, isStale)
		live = slices.DeleteFunc(live, isStale)
	}
	if err := w.rewriteChunks(ctx, again); err != nil {
		return err
	}
	if err := w.dropCut(ctx, again); err != nil {
		return err
	}
	if len(live) == 0 {
		return w.collect(ctx)
	}

	docs := make([]any, len(live))
	chunks := make([]any, len(live))
	mentions := map[string][]map[string]any{}
	rels := map[relKey][]map[string]any{}
	for i, p := range live {
		docs[i] = map[string]any{"path": p.path, "doc": p.doc, "source": p.source, "sha": p.sha, "part": p.part, "sid": p.sid, "revision": p.revision}
		chunks[i] = map[string]any{"path": p.path, "chunk": p.chunk, "index": p.index, "text": p.text}
		for _, g := range p.nodes {
			for _, r := range g.rows {
				mentions[g.label] = append(mentions[g.label], map[string]any{"key": r["key"], "props": r["props"], "source": p.source, "chunk": p.chunk})
			}
		}
		for _, g := range p.rels {
			k := relKey{g.typ, g.from, g.to}
			for _, r := range g.rows {
				r["src"] = p.source
				rels[k] = append(rels[k], r)
			}
		}
	}
	if err := w.exec(ctx, qPutDocuments, map[string]any{"docs": docs}); err != nil {
		return fmt.Errorf("put documents: %w", err)
	}
	if err := w.exec(ctx, qPutChunks, map[string]any{"chunks": chunks}); err != nil {
		return fmt.Errorf("put chunks: %w", err)
	}
	// Sorted by key (then source and chunk) so that concurrent
	// transactions take their locks in one order; rows of one key keep op
	// order, as their properties apply in turn.
	for _, l := range slices.Sorted(maps.Keys(mentions)) {
		rows := mentions[l]
		slices.SortStableFunc(rows, func(a, b map[string]any) int {
			return cmp.Or(cmp.Compare(a["key"].(string), b["key"].(string)), cmp.Compare(a["source"].(string), b["source"].(string)),
				cmp.Compare(a["chunk"].(string), b["chunk"].(string)))
		})
		for part := range slices.Chunk(rows, maxQueryRows) {
			if err := w.exec(ctx, mentionQuery(l), map[string]any{"rows": part}); err != nil {
				return fmt.Errorf("put %s mentions: %w", l, err)
			}
		}
	}
	keys := slices.SortedFunc(maps.Keys(rels), compareRelKeys)
	for _, k := range keys {
		rows := rels[k]
		slices.SortStableFunc(rows, func(a, b map[string]any) int {
			return cmp.Or(compareRelRows(a, b), cmp.Compare(a["src"].(string), b["src"].(string)))
		})
		for part := range slices.Chunk(rows, maxQueryRows) {
			if err := w.exec(ctx, relQueryFrom(rowSources, k.typ, k.from, k.to, everyStart), map[string]any{"rows": part}); err != nil {
				return fmt.Errorf("put %s relationships: %w", k.typ, err)
			}
		}
	}
	return w.collect(ctx)
}

// deleteRun returns how many plans from the first are DeleteDocument ops.
// Deletions only take away: op by op, a path of the run is deleted by its
// first deletion that is not stale against the version stored before the
// run (the deletions before it are stale and raise nothing), and its later
// deletions find nothing left. So the path is deleted if and only if its
// largest version in the run is not stale, and the run's
// withdrawals and chunk and document deletions can be made for all its
// paths together. Collecting garbage once at the end of the run removes
// what collecting after each op would: nothing in the run adds support or
// relationships, and a node collected has no relationship that kept
// another.
func deleteRun(plans []plan) int {
	n := 0
	for _, p := range plans {
		if p.kind != opDelete {
			break
		}
		n++
	}
	return n
}

// applyDeletes writes a run of DeleteDocument ops (see deleteRun) with a
// few queries for all of them instead of several per op, in parts of at
// most maxDeletePaths paths.
func (w *writer) applyDeletes(ctx context.Context, run []plan) error {
	versions, stored, err := w.raiseVersions(ctx, run)
	if err != nil {
		return err
	}
	var paths []any
	for _, path := range slices.Sorted(maps.Keys(versions)) {
		if !stored[path].stale(versions[path]) {
			paths = append(paths, path)
		}
	}
	for part := range slices.Chunk(paths, maxDeletePaths) {
		params := map[string]any{"paths": part}
		if err := w.withdrawWhere(ctx, pathsSources, params); err != nil {
			return err
		}
		recs, err := w.records(ctx, qDeleteDocuments, params)
		if err != nil {
			return fmt.Errorf("delete documents: %w", err)
		}
		w.candidates(recs, "ids")
	}
	return w.collect(ctx)
}

// maxDeletePaths bounds the paths of one query of applyDeletes: each path
// brings all that its document supported and its chunks. A variable only so
// that a test can split small runs.
var maxDeletePaths = 1000

// rewriteChunks prepares chunks written again at the version already
// stored: each chunk's previous write loses the support it gave, and the
// mentions its new extraction does not make.
func (w *writer) rewriteChunks(ctx context.Context, ps []plan) error {
	if len(ps) == 0 {
		return nil
	}
	sources := make([]string, len(ps))
	chunks := make([]map[string]any, len(ps))
	for i, p := range ps {
		var keep []any
		for _, g := range p.nodes {
			for _, r := range g.rows {
				keep = append(keep, map[string]any{"label": g.label, "key": r["key"]})
			}
		}
		sources[i] = p.source
		chunks[i] = map[string]any{"chunk": p.chunk, "keep": keep}
	}
	slices.Sort(sources)
	if err := w.withdraw(ctx, "", listedSources, map[string]any{"keys": sources}); err != nil {
		return err
	}
	slices.SortFunc(chunks, func(a, b map[string]any) int { return cmp.Compare(a["chunk"].(string), b["chunk"].(string)) })
	recs, err := w.records(ctx, qDeleteChunksMentions, map[string]any{"chunks": chunks})
	if err != nil {
		return fmt.Errorf("delete mentions: %w", err)
	}
	w.candidates(recs, "id")
	return nil
}

// dropCut withdraws what the paths of the chunk plans (written again at
// their path's stored version) wrote to chunks of the same content past
// the last of the plans' cut (Total), and deletes those chunks unless
// another document has them: the parser cut the content into fewer chunks
// than before (it ran again with other chunk settings). The plans of a
// path in one run share one total (see chunkRun).
func (w *writer) dropCut(ctx context.Context, ps []plan) error {
	seen := map[string]bool{}
	var cuts []any
	for _, p := range ps {
		if p.total <= 0 || seen[p.path] {
			continue
		}
		seen[p.path] = true
		cuts = append(cuts, map[string]any{"path": p.path, "sha": p.sha, "total": p.total, "prefix": p.sha + ":"})
	}
	if len(cuts) == 0 {
		return nil
	}
	recs, err := w.records(ctx, qCutSources, map[string]any{"cuts": cuts})
	if err != nil {
		return fmt.Errorf("find chunks past the last: %w", err)
	}
	if len(recs) == 0 {
		return nil
	}
	keys := make([]string, len(recs))
	for i, r := range recs {
		keys[i], _ = r.Values[0].(string)
	}
	slices.Sort(keys)
	if err := w.withdraw(ctx, "", listedSources, map[string]any{"keys": keys}); err != nil {
		return err
	}
	recs, err = w.records(ctx, qDeleteCutChunks, map[string]any{"cuts": cuts})
	if err != nil {
		return fmt.Errorf("delete chunks past the last: %w", err)
	}
	w.candidates(recs, "ids")
	return nil
}

// staleExtractions returns the sources of the chunk plans (written again
// at their path's stored version) whose stored extraction was made with
// later gazetteer names: an extraction redelivered after the chunk's
// re-extraction must not take its names away.
func (w *writer) staleExtractions(ctx context.Context, ps []plan) (map[string]bool, error) {
	if len(ps) == 0 {
		return nil, nil
	}
	keys := make([]any, len(ps))
	for i, p := range ps {
		keys[i] = p.source
	}
	recs, err := w.records(ctx, qSourceRevisions, map[string]any{"keys": keys})
	if err != nil {
		return nil, fmt.Errorf("extraction revisions: %w", err)
	}
	stored := make(map[string]int64, len(recs))
	for _, r := range recs {
		k, _ := r.Values[0].(string)
		if rev, ok := r.Values[1].(int64); ok {
			stored[k] = rev
		}
	}
	stale := map[string]bool{}
	for _, p := range ps {
		if rev, ok := stored[p.source]; ok && p.revision < rev {
			stale[p.source] = true
		}
	}
	return stale, nil
}

// relKey is a relationship group: its type and its endpoints' labels.
type relKey struct{ typ, from, to string }

func compareRelKeys(a, b relKey) int {
	return cmp.Or(cmp.Compare(a.typ, b.typ), cmp.Compare(a.from, b.from), cmp.Compare(a.to, b.to))
}

// nodeSupport is a node (label, key) supported by a source.
type nodeSupport struct{ source, label, key string }

// sourceRows are rows of one label or relationship group that one source
// supports, in op order.
type sourceRows struct {
	source string
	rows   []map[string]any
}

// appendGroup adds rows supported by source to groups, extending the last
// group when it has the same source (batches of one file version), so
// that one query writes them all.
func appendGroup(groups []sourceRows, source string, rows []map[string]any) []sourceRows {
	if n := len(groups); n > 0 && groups[n-1].source == source {
		groups[n-1].rows = append(groups[n-1].rows, rows...)
		return groups
	}
	return append(groups, sourceRows{source: source, rows: slices.Clone(rows)})
}

// version returns the version stored for the path before p, and stores
// p's unless p is stale.
func (w *writer) version(ctx context.Context, p plan) (storedVersion, error) {
	recs, err := w.records(ctx, qVersion, map[string]any{"path": p.path, "version": p.version, "deleted": p.kind == opDelete})
	if err != nil {
		return storedVersion{}, fmt.Errorf("version: %w", err)
	}
	if len(recs) != 1 {
		return storedVersion{}, fmt.Errorf("version: %d rows", len(recs))
	}
	return readVersion(recs[0].Values[0], recs[0].Values[1]), nil
}

// storedVersion is the version stored for a path: the newest written to
// it, and whether a deletion wrote it.
type storedVersion struct {
	known   bool // a version is stored
	version int64
	deleted bool
}

func readVersion(version, deleted any) storedVersion {
	v, ok := version.(int64)
	gone, _ := deleted.(bool)
	return storedVersion{known: ok, version: v, deleted: ok && gone}
}

// stale reports whether an op of version v is ignored: it is older than
// the stored version, or no newer than a deletion (the parser withdraws a
// version it cannot finish under that version's own number, and what of
// it arrives later must stay out).
func (s storedVersion) stale(v int64) bool {
	return s.known && (v < s.version || (s.deleted && v <= s.version))
}

// after is s once an op of version v that is not stale is written.
func (s storedVersion) after(v int64, deletion bool) storedVersion {
	return storedVersion{known: true, version: max(s.version, v), deleted: deletion}
}

func (w *writer) put(ctx context.Context, p plan) error {
	params := map[string]any{
		"path": p.path, "doc": p.doc, "source": p.source, "sha": p.sha, "part": p.part,
		"chunk": p.chunk, "index": p.index, "text": p.text, "sid": p.sid, "revision": p.revision,
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
		params := map[string]any{"source": p.source, "rows": g.rows}
		if err := w.exec(ctx, relQuery(g.typ, g.from, g.to, everyStart), params); err != nil {
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
	return w.withdrawWhere(ctx, cond, params)
}

// withdrawWhere removes the support that the sources matching cond (with
// params) gave, deletes the relationships left without support and the
// sources.
func (w *writer) withdrawWhere(ctx context.Context, cond string, params map[string]any) error {
	recs, err := w.records(ctx, qWithdrawRels(cond), params)
	if err != nil {
		return fmt.Errorf("withdraw relationship support: %w", err)
	}
	w.candidates(recs, "a", "b")
	if err := w.regive(ctx, recs); err != nil {
		return err
	}
	recs, err = w.records(ctx, qWithdrawNodes(cond), params)
	if err != nil {
		return fmt.Errorf("withdraw node support: %w", err)
	}
	w.candidates(recs, "ids")
	w.takenProps(recs)
	return nil
}

// regive gives the relationships in column rel of recs (qWithdrawRels)
// the properties their remaining sources give: the keys the withdrawn
// sources gave are removed, then what each remaining source gave is
// applied, in the order of the sources' keys (path, sha256, part), as on
// the embedded store. So a relationship holds what the files present
// state: a column emptied in a new version, or the file that stated a
// value deleted, takes the value away.
func (w *writer) regive(ctx context.Context, recs []*neo4j.Record) error {
	var rows []map[string]any
	for _, rec := range recs {
		v, _ := rec.Get("rel")
		m, ok := v.(map[string]any)
		if !ok {
			continue
		}
		props := map[string]any{}
		taken, _ := m["taken"].([]any)
		for _, e := range taken {
			p, err := givenEntry(e)
			if err != nil {
				return err
			}
			for k := range p {
				props[k] = nil
			}
		}
		given, _ := m["given"].([]any)
		slices.SortStableFunc(given, func(a, b any) int { return cmp.Compare(givenSource(a), givenSource(b)) })
		for _, e := range given {
			p, err := givenEntry(e)
			if err != nil {
				return err
			}
			maps.Copy(props, p)
		}
		rows = append(rows, map[string]any{"id": m["id"], "props": props})
	}
	// Sorted by id, so that concurrent transactions lock in one order.
	slices.SortFunc(rows, func(a, b map[string]any) int { return cmp.Compare(a["id"].(string), b["id"].(string)) })
	for part := range slices.Chunk(rows, maxQueryRows) {
		if err := w.exec(ctx, qRegive, map[string]any{"rows": part}); err != nil {
			return fmt.Errorf("regive relationship properties: %w", err)
		}
	}
	return nil
}

// givenSource returns the source key of an entry of propGiven.
func givenSource(e any) string {
	s, _ := e.(string)
	if i := strings.LastIndexByte(s, 0); i >= 0 {
		return s[:i]
	}
	return s
}

// givenEntry decodes the properties of an entry of propGiven.
func givenEntry(e any) (map[string]any, error) {
	s, _ := e.(string)
	p, err := graph.DecodeProperties(s[strings.LastIndexByte(s, 0)+1:])
	if err != nil {
		return nil, fmt.Errorf("relationship properties given by %q: %w", givenSource(e), err)
	}
	return p, nil
}

// takenProps adds the nodes and property keys in column taken of recs
// (qWithdrawNodes) to w.taken.
func (w *writer) takenProps(recs []*neo4j.Record) {
	for _, r := range recs {
		v, _ := r.Get("taken")
		list, _ := v.([]any)
		for _, it := range list {
			m, _ := it.(map[string]any)
			id, ok := m["id"].(string)
			if !ok {
				continue
			}
			keys, _ := m["keys"].([]any)
			if w.taken == nil {
				w.taken = map[string]map[string]bool{}
			}
			if w.taken[id] == nil {
				w.taken[id] = map[string]bool{}
			}
			for _, k := range keys {
				if k, ok := k.(string); ok && k != "key" {
					w.taken[id][k] = true
				}
			}
		}
	}
}

// reapplyProps gives the nodes in w.taken that still exist the properties
// of the sources that support them (qReapplyProps), in parts of
// maxQueryRows nodes sorted by id, so that concurrent transactions lock them
// in one order.
func (w *writer) reapplyProps(ctx context.Context) error {
	if len(w.taken) == 0 {
		return nil
	}
	ids := slices.Sorted(maps.Keys(w.taken))
	rows := make([]any, len(ids))
	for i, id := range ids {
		keys := make([]any, 0, len(w.taken[id]))
		gone := make(map[string]any, len(w.taken[id]))
		for k := range w.taken[id] {
			keys = append(keys, k)
			gone[k] = nil
		}
		rows[i] = map[string]any{"id": id, "keys": keys, "clear": gone}
	}
	w.taken = nil
	for part := range slices.Chunk(rows, maxQueryRows) {
		if err := w.exec(ctx, qReapplyProps, map[string]any{"rows": part}); err != nil {
			return fmt.Errorf("reapply properties: %w", err)
		}
	}
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

// collect garbage-collects the candidates of the op (or run) just written,
// each once: a run of deletions names an entity its documents share once
// per document and mention. Then the nodes left that lost support that
// gave them properties get those their remaining sources give
// (reapplyProps).
func (w *writer) collect(ctx context.Context) error {
	if len(w.cand) == 0 {
		return w.reapplyProps(ctx)
	}
	slices.Sort(w.cand)
	cand := slices.Compact(w.cand)
	w.cand = w.cand[:0]
	for part := range slices.Chunk(cand, maxQueryRows) {
		ids := make([]any, len(part))
		for i, id := range part {
			ids[i] = id
		}
		if err := w.exec(ctx, qCollect, map[string]any{"ids": ids}); err != nil {
			return fmt.Errorf("collect garbage: %w", err)
		}
	}
	// After the collection, which deleted the nodes left without support:
	// only those that stay get their properties again.
	return w.reapplyProps(ctx)
}

// classify marks failures to reach Neo4j (connection errors, transient
// errors that outlasted the driver's retries, timeouts) and failures of
// the database itself (see isDatabaseFailure) as graph.ErrUnavailable, so
// the writer waits for Neo4j instead of dead-lettering; a transaction over
// Neo4j's memory limits as graph.ErrResources, so the writer tries it in
// smaller batches and then retries it alone a few times; anything else is
// a problem with the data.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if isMemoryLimit(err) {
		return fmt.Errorf("%w (Neo4j's transaction memory limit is too small for this write): %w", graph.ErrResources, err)
	}
	if errors.Is(err, context.DeadlineExceeded) || isDatabaseFailure(err) {
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

// memoryLimitErrors are the codes of Neo4j refusing a transaction more
// memory than its limits allow (db.memory.transaction.max,
// dbms.memory.transaction.total.max). They are transient errors, but the
// same write fails the same way again: held as an outage, the graph writer
// would wait for it, and every other file behind it, for good.
var memoryLimitErrors = []string{"Neo.TransientError.General.MemoryPoolOutOfMemoryError", "Neo.TransientError.General.TransactionMemoryLimit"}

// isMemoryLimit reports whether err is Neo4j refusing a transaction more
// memory. The driver's TransactionExecutionLimit keeps its last error only
// in its text.
func isMemoryLimit(err error) bool {
	return slices.ContainsFunc(memoryLimitErrors, func(code string) bool { return strings.Contains(err.Error(), code) })
}

// classifyWrite is classify for writes, which also count as unavailable the
// server's refusals that say nothing about the data (see isAccessError):
// the graph writer then holds its messages until the cause is fixed instead
// of dead-lettering every one of them. Open leaves those errors alone, so
// that a wrong password at start ends the process at once.
func classifyWrite(err error) error {
	if isAccessError(err) {
		return fmt.Errorf("%w: %w", graph.ErrUnavailable, err)
	}
	return classify(err)
}

// isDatabaseFailure reports whether err is Neo4j failing to run any
// transaction rather than this one: a commit it could not write (a full
// disk) and, after that, the "critical error" that refuses every
// transaction until the server is restarted. Those are
// Neo.DatabaseError.Transaction.* and Neo.DatabaseError.General.*; a
// statement's own failures (Neo.DatabaseError.Statement.*) are left to the
// caller.
func isDatabaseFailure(err error) bool {
	var ne *neo4j.Neo4jError
	if !errors.As(err, &ne) {
		return false
	}
	return strings.HasPrefix(ne.Code, "Neo.DatabaseError.Transaction.") || strings.HasPrefix(ne.Code, "Neo.DatabaseError.General.")
}

// IsLoginRefused reports whether err is Neo4j refusing the user and
// password (Neo.ClientError.Security.Unauthorized).
func IsLoginRefused(err error) bool {
	var ne *neo4j.Neo4jError
	return errors.As(err, &ne) && ne.Code == "Neo.ClientError.Security.Unauthorized"
}

// isAccessError reports whether err is Neo4j refusing the connection or the
// database rather than the statement: credentials that stopped working (a
// rotated password, an account locked after failed logins), a missing or
// read-only database.
func isAccessError(err error) bool {
	var ne *neo4j.Neo4jError
	if !errors.As(err, &ne) {
		return false
	}
	switch ne.Code {
	case "Neo.ClientError.Database.DatabaseNotFound", "Neo.ClientError.General.ForbiddenOnReadOnlyDatabase":
		return true
	}
	return strings.HasPrefix(ne.Code, "Neo.ClientError.Security.")
}
