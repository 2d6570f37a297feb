package duckstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/docgraph/docgraph/pkg/disk"
	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/graph"
)

// rowsPerStatement bounds multi-row statements (and so their parameters).
const rowsPerStatement = 256

// partRows is the support part of structured data.
const partRows = "rows"

// Apply validates every op, then commits them in order in one transaction.
// An invalid op fails the whole call with graph.ErrInvalid before anything
// is written.
//
// Ops that only add (a new chunk, a records batch) are merged in memory and
// written with multi-row upserts; an op that withdraws support (a newer
// version, a rewritten chunk, a deletion, a final records batch) first
// flushes what is pending, then withdraws, writes, and collects garbage
// among what it withdrew, so the result is the same as applying the ops one
// by one. A disk that fails the write (full, read-only) fails the call with
// graph.ErrUnavailable.
//
// A fatal error, after which DuckDB refuses every statement (it
// invalidates the database: a checkpoint that failed, e.g. on a full disk),
// also fails the call with graph.ErrUnavailable, and the store then opens
// its file again: what was committed before is kept, nothing of the failed
// call is. If that fails too, each later Apply tries once more before it
// writes, so the caller's retries, not the store, set the pace.
func (s *Store) Apply(ctx context.Context, ops []graph.Op) error {
	if len(ops) == 0 {
		return nil
	}
	valid := make([]op, len(ops))
	for i, o := range ops {
		v, err := s.validate(o)
		if err != nil {
			return fmt.Errorf("graph apply: op %d: %w", i, err)
		}
		valid[i] = v
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.wconn == nil {
		if s.closed || s.fatal == nil {
			return fmt.Errorf("graph apply: %w", errClosed)
		}
		if err := s.reopen(ctx, s.fatal); err != nil {
			return fmt.Errorf("%w: graph apply: %w", graph.ErrUnavailable, err)
		}
	}
	if err := s.renewConn(ctx); err != nil {
		return err
	}
	err := s.prewithdraw(ctx, valid)
	if err == nil {
		err = s.apply(ctx, valid)
	}
	if invalidated(err) {
		if rerr := s.reopen(ctx, err); rerr != nil {
			err = errors.Join(err, rerr)
		}
	}
	if err == nil {
		s.watchIndexMemory(ctx)
	}
	return s.resourceErr(ctx, storageErr(err))
}

// memoryErrors are what DuckDB says when a write needs more memory than
// its limit leaves, in whichever error type it reports it (an appender's
// is plain text).
var memoryErrors = []string{"Out of Memory Error", "failed to allocate data of size", "failed to pin block of size",
	"could not allocate block of size"}

// says reports whether err's text holds one of texts: DuckDB reports some
// failures in whichever error type the failing call has, or as plain text.
func says(err error, texts []string) bool {
	return slices.ContainsFunc(texts, func(t string) bool { return strings.Contains(err.Error(), t) })
}

// resourceErr marks DuckDB's out-of-memory errors graph.ErrResources,
// naming the setting that bounds the graph's memory, and, when the
// graph's indexes hold most of it, saying so: then every write fails
// alike, however small, until the limit is raised.
func (s *Store) resourceErr(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	var de *duckdb.Error
	if !(errors.As(err, &de) && de.Type == duckdb.ErrorTypeOutOfMemory) && !says(err, memoryErrors) {
		return err
	}
	why := "is too small for this write"
	if idx, ierr := s.indexMemory(ctx); ierr == nil && s.memLimit > 0 && idx >= s.memLimit/2 {
		why = "is mostly held by the graph's indexes, " + indexShare(idx, s.memLimit) + ": " + outgrown
	}
	return fmt.Errorf("%w (the graph's memory limit, graph.duckdb_memory, %s): %w", graph.ErrResources, why, err)
}

// renewConn replaces Apply's connection when database/sql has closed it:
// a statement interrupted by a cancelled context (the graph writer's
// handler timeout, a shutdown) marks the connection bad, and every later
// transaction on it would fail. It is called with s.mu held.
func (s *Store) renewConn(ctx context.Context) error {
	if err := s.wconn.Raw(func(any) error { return nil }); !errors.Is(err, sql.ErrConnDone) {
		return nil
	}
	s.dbMu.Lock()
	defer s.dbMu.Unlock()
	c, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("%w: graph apply: new connection: %w", graph.ErrUnavailable, err)
	}
	s.wconn = c
	return nil
}

// storageErrors are what DuckDB says when the disk under the graph fails a
// write (besides disk.Full), in whichever error type it reports it (a
// commit's is a transaction error).
var storageErrors = []string{"Read-only file system", "Could not write file"}

// storageErr marks a failure of the disk under the graph (full, read-only,
// over a quota) as graph.ErrUnavailable: not the batch's fault, so the
// graph writer holds its messages and retries once there is room, rather
// than dead-letter every message written meanwhile. DuckDB stays usable:
// the write that failed is rolled back, and the next one succeeds once the
// disk has room. So is a fatal error, after which Apply reopens the
// database: the stage pauses, and nothing is dead-lettered for it.
func storageErr(err error) error {
	if err == nil {
		return nil
	}
	var de *duckdb.Error
	if disk.Full(err) || (errors.As(err, &de) && (de.Type == duckdb.ErrorTypeIO || de.Type == duckdb.ErrorTypePermission || de.Type == duckdb.ErrorTypeFatal)) ||
		says(err, storageErrors) {
		return fmt.Errorf("%w: %w", graph.ErrUnavailable, err)
	}
	return err
}

// apply writes valid ops in one transaction; it is called with s.mu held.
func (s *Store) apply(ctx context.Context, valid []op) error {
	tx, err := s.wconn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("graph apply: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit this is a no-op
	b := newBatch(tx, s.wconn, s.types)
	if err := b.load(ctx, valid); err != nil {
		return fmt.Errorf("graph apply: %w", err)
	}
	if onlyDeletions(valid) {
		if err := b.deleteDocuments(ctx, valid); err != nil {
			return fmt.Errorf("graph apply: %w", err)
		}
	} else {
		if err := b.withdrawVersions(ctx, valid); err != nil {
			return fmt.Errorf("graph apply: %w", err)
		}
		if err := b.withdrawRewrites(ctx, valid); err != nil {
			return fmt.Errorf("graph apply: %w", err)
		}
		for i, o := range valid {
			if err := b.apply(ctx, o); err != nil {
				return fmt.Errorf("graph apply: op %d (%s): %w", i, o.doc.Path, err)
			}
		}
	}
	if err := b.collectPending(ctx); err != nil {
		return fmt.Errorf("graph apply: %w", err)
	}
	if err := b.repropsMentioned(ctx); err != nil {
		return fmt.Errorf("graph apply: %w", err)
	}
	if err := b.flush(ctx); err != nil {
		return fmt.Errorf("graph apply: %w", err)
	}
	if err := b.dropTemps(ctx); err != nil {
		return fmt.Errorf("graph apply: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("graph apply: commit: %w", err)
	}
	return nil
}

type docState struct {
	sha     string
	version uint64
	deleted bool
}

type supportRow struct {
	kind            string // "node" or "rel"
	id              relID  // for a node: fromLabel and fromKey
	path, sha, part string
}

// candidates are what lost support or relationships in one op: garbage
// collection looks only at them.
type candidates struct {
	nodes map[nodeID]bool
	rels  map[relID]bool
	// props holds the property keys that withdrawn records support gave
	// each node, relProps those withdrawn support gave each relationship:
	// collect takes them back (reprops, repropsRels). mentioned holds
	// those withdrawn mentions gave: collect hands them to the batch,
	// which takes back the ones no later op gives again
	// (repropsMentioned).
	props     map[nodeID]keySet
	relProps  map[relID]keySet
	mentioned map[nodeID]keySet
}

func (c *candidates) empty() bool { return len(c.nodes) == 0 && len(c.rels) == 0 }

func (c *candidates) addNode(id nodeID) {
	if c.nodes == nil {
		c.nodes = map[nodeID]bool{}
	}
	c.nodes[id] = true
}

func (c *candidates) addRel(id relID) {
	if c.rels == nil {
		c.rels = map[relID]bool{}
	}
	c.rels[id] = true
}

// batch is the state of one Apply: the versions and chunks it has seen, and
// the additions not yet written.
type batch struct {
	tx     *sql.Tx
	conn   *sql.Conn // tx's connection, for appenders
	types  columnTypes
	temps  map[string]bool      // temporary tables made (rowSource)
	docs   map[string]*docState // nil: path never seen
	chunks map[string]bool      // chunk key -> node exists
	// digests holds, per chunk key, the digest of the last extraction each
	// path wrote to it; revisions, per (path, sha256, part), its gazetteer
	// revision (loaded with the digests).
	digests   map[string]map[string]string
	revisions map[[3]string]uint64
	// lastPart holds, per (path, sha256), the highest chunk index the path
	// has an extraction of (loaded with the digests, raised by the batch).
	lastPart map[[2]string]int

	nodes     map[nodeID]map[string]any
	nodeOrder []nodeID
	rels      map[relID]map[string]any
	relOrder  []relID
	// fresh marks pending nodes and relationships known to be absent from
	// the database (a new chunk and its HAS_CHUNK): they are appended, not
	// upserted; the key still refuses a duplicate.
	freshNodes map[nodeID]bool
	freshRels  map[relID]bool
	// garbage gathers the candidates of the batch's ops for collectPending.
	garbage   candidates
	support   map[supportRow]bool
	suppOrder []supportRow
	// suppProps holds the properties a support row gives its node or
	// relationship (nil removes one), merged in order.
	suppProps map[supportRow]map[string]any
	dirtyDocs map[string]bool
	// early holds, per chunk key, what withdrawRewrites withdrew for the
	// chunk's op ahead of time, and earlyPaths, per path, what
	// withdrawVersions withdrew for the path's first op; shadowNodes and
	// shadowRels count those rows per owner until the op runs.
	early       map[string]*candidates
	earlyPaths  map[string]*candidates
	shadowNodes map[nodeID]int
	shadowRels  map[relID]int
	// mentioned holds the property keys withdrawn mentions gave each node
	// that no later op of the batch gave again (see repropsMentioned).
	mentioned map[nodeID]keySet
	// pendingChunks are the chunk keys with pending rows (the chunk's
	// support, MENTIONS and HAS_CHUNK).
	pendingChunks map[string]bool
	mentions      []mention               // MENTIONS to append
	extracted     map[[3]string]extracted // (path, sha256, part) -> what to write
}

// extracted is an extractions row to write.
type extracted struct {
	digest   string
	revision uint64
}

// mention is a MENTIONS row: the chunk's node id, the entity and the
// properties the mention gives it (encoded; "" for none).
type mention struct {
	chunk int64
	node  nodeID
	props string
}

func newBatch(tx *sql.Tx, conn *sql.Conn, types columnTypes) *batch {
	b := &batch{tx: tx, conn: conn, types: types, early: map[string]*candidates{}, earlyPaths: map[string]*candidates{},
		shadowNodes: map[nodeID]int{}, shadowRels: map[relID]int{}, docs: map[string]*docState{}, chunks: map[string]bool{}, digests: map[string]map[string]string{}, revisions: map[[3]string]uint64{},
		lastPart: map[[2]string]int{}}
	b.reset()
	return b
}

func (b *batch) reset() {
	b.nodes, b.nodeOrder = map[nodeID]map[string]any{}, b.nodeOrder[:0]
	b.rels, b.relOrder = map[relID]map[string]any{}, b.relOrder[:0]
	b.freshNodes, b.freshRels = map[nodeID]bool{}, map[relID]bool{}
	b.support, b.suppOrder = map[supportRow]bool{}, b.suppOrder[:0]
	b.suppProps = map[supportRow]map[string]any{}
	b.dirtyDocs = map[string]bool{}
	b.pendingChunks = map[string]bool{}
	b.extracted = map[[3]string]extracted{}
	b.mentions = b.mentions[:0]
}

// load reads the stored versions of the paths and which chunks exist.
func (b *batch) load(ctx context.Context, ops []op) error {
	var paths, keys, shas []any
	seenPath, seenKey, seenSHA := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, o := range ops {
		if !seenPath[o.doc.Path] {
			seenPath[o.doc.Path] = true
			paths = append(paths, o.doc.Path)
		}
		if o.kind == opChunk {
			k := event.ChunkKey(o.doc.SHA256, o.index)
			if !seenKey[k] {
				seenKey[k] = true
				keys = append(keys, k)
			}
			if !seenSHA[o.doc.SHA256] {
				seenSHA[o.doc.SHA256] = true
				shas = append(shas, o.doc.SHA256)
			}
		}
	}
	err := inChunks(paths, func(part []any) error {
		rows, err := b.tx.QueryContext(ctx, "SELECT path, sha256, version, deleted FROM documents WHERE path IN ("+
			placeholders(len(part), 1)+")", part...)
		if err != nil {
			return fmt.Errorf("load versions: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var p string
			var st docState
			if err := rows.Scan(&p, &st.sha, &st.version, &st.deleted); err != nil {
				return fmt.Errorf("load versions: %w", err)
			}
			b.docs[p] = &st
		}
		return rows.Err()
	})
	if err != nil {
		return err
	}
	// A chunk exists only while a live document has its content (sha256):
	// only the keys of such contents are looked up, none for new documents.
	live := map[string]bool{}
	err = inChunks(shas, func(part []any) error {
		found, err := queryStrings(ctx, b.tx, "SELECT DISTINCT sha256 FROM documents WHERE NOT deleted AND sha256 IN ("+
			placeholders(len(part), 1)+")", part...)
		for _, sha := range found {
			live[sha.(string)] = true
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("load contents: %w", err)
	}
	var known []any
	for _, k := range keys {
		if key := k.(string); live[key[:strings.LastIndexByte(key, ':')]] {
			known = append(known, k)
		}
	}
	shaExists := map[string]bool{}
	err = inChunks(chunkIDs(known), func(part []any) error {
		rows, err := b.tx.QueryContext(ctx, "SELECT key FROM nodes WHERE id IN ("+
			placeholders(len(part), 1)+") AND label = 'Chunk'", part...)
		if err != nil {
			return fmt.Errorf("load chunks: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				return fmt.Errorf("load chunks: %w", err)
			}
			if seenKey[k] {
				b.chunks[k] = true
				shaExists[k[:strings.LastIndexByte(k, ':')]] = true
			}
		}
		return rows.Err()
	})
	if err != nil {
		return err
	}
	// Digests matter only for chunks that exist (see sameExtraction): a
	// batch of new documents reads none.
	var existing []any
	for _, sha := range shas {
		if shaExists[sha.(string)] {
			existing = append(existing, sha)
		}
	}
	return inChunks(existing, func(part []any) error {
		rows, err := b.tx.QueryContext(ctx, "SELECT path, sha256, part, digest, coalesce(revision, 0) FROM extractions WHERE sha256 IN ("+
			placeholders(len(part), 1)+")", part...)
		if err != nil {
			return fmt.Errorf("load digests: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var p, sha, idx, digest string
			var rev uint64
			if err := rows.Scan(&p, &sha, &idx, &digest, &rev); err != nil {
				return fmt.Errorf("load digests: %w", err)
			}
			b.setDigest(sha+":"+idx, p, digest)
			b.revisions[[3]string{p, sha, idx}] = rev
			if n, err := strconv.Atoi(idx); err == nil {
				b.addPart(p, sha, n)
			}
		}
		return rows.Err()
	})
}

// chunkIDs returns the node ids of the chunk keys.
func chunkIDs(keys []any) []any {
	ids := make([]any, len(keys))
	for i, k := range keys {
		ids[i] = nodeID{graph.LabelChunk, k.(string)}.hash()
	}
	return ids
}

// withdrawRewrites withdraws, in two statements for the whole batch, the
// support and MENTIONS of every chunk the batch rewrites in place (same
// path, version and content, a different extraction), instead of two
// statements per chunk. Only chunks whose path has nothing but such chunk
// ops in the batch, each chunk once, qualify, so no other op touches their
// rows; until its op runs, a chunk's withdrawn rows still keep their owners
// from garbage collection (the shadow counts), so the result is the same as
// withdrawing in order.
func (b *batch) withdrawRewrites(ctx context.Context, ops []op) error {
	keyCount := map[string]int{}
	other := map[string]bool{} // paths with ops that do not qualify
	for _, o := range ops {
		if o.kind != opChunk {
			other[o.doc.Path] = true
			continue
		}
		keyCount[event.ChunkKey(o.doc.SHA256, o.index)]++
		st := b.docs[o.doc.Path]
		if st == nil || st.deleted || st.version != o.doc.Version || st.sha != o.doc.SHA256 {
			other[o.doc.Path] = true
		}
	}
	// Documents of the batch that hold the same content share its chunks:
	// another one's ops may orphan a chunk before its rewrite runs, so such
	// chunks are rewritten at their op.
	holders := map[string]int{}
	for _, st := range b.docs { // the batch's paths, as stored
		if st != nil && !st.deleted && st.sha != "" {
			holders[st.sha]++
		}
	}
	var parts, keys []any
	for _, o := range ops {
		key := event.ChunkKey(o.doc.SHA256, o.index)
		if o.kind != opChunk || other[o.doc.Path] || keyCount[key] != 1 || !b.chunks[key] || holders[o.doc.SHA256] > 1 || b.staleExtraction(o) {
			continue
		}
		digest, err := extractionDigest(o)
		if err != nil {
			return err
		}
		if b.sameExtraction(key, o.doc.Path, digest) {
			continue
		}
		b.early[key] = &candidates{}
		parts = append(parts, []any{o.doc.Path, o.doc.SHA256, fmt.Sprint(o.index)})
		keys = append(keys, key)
	}
	err := inChunks(parts, func(part []any) error {
		return b.deleteRows(ctx, "support s", "(VALUES "+placeholders(len(part), 3)+") AS w(path, sha256, part)",
			"s.path = w.path AND s.sha256 = w.sha256 AND s.part = w.part",
			"s.sha256, s.part, s.kind, s.type, s.from_label, s.from_key, s.to_label, s.to_key, s.source, "+propKeys("s.props"), flatten(part),
			func(rows *sql.Rows) error {
				var sha, idx, kind string
				var keys sql.NullString
				var id relID
				if err := rows.Scan(&sha, &idx, &kind, &id.typ, &id.fromLabel, &id.fromKey, &id.toLabel, &id.toKey, &id.source, &keys); err != nil {
					return err
				}
				return b.early[sha+":"+idx].withdrawn(kind, id, keys)
			})
	})
	if err != nil {
		return fmt.Errorf("withdraw support: %w", err)
	}
	byID := map[int64]*candidates{}
	for _, k := range keys {
		byID[nodeID{graph.LabelChunk, k.(string)}.hash()] = b.early[k.(string)]
	}
	err = b.deleteMentionsOf(ctx, keys, func(chunk int64, id nodeID, given sql.NullString) error {
		return byID[chunk].addMentioned(id, given)
	})
	for _, c := range b.early {
		b.shadow(c)
	}
	return err
}

// unshadow stops counting the rows withdrawn ahead for one chunk.
func (b *batch) unshadow(c *candidates) {
	for id := range c.nodes {
		b.shadowNodes[id]--
	}
	for id := range c.rels {
		b.shadowRels[id]--
	}
}

// stale reports whether an op for d must be ignored.
func (b *batch) stale(d event.Document) bool {
	st := b.docs[d.Path]
	return st != nil && (d.Version < st.version || (st.deleted && d.Version <= st.version))
}

// staleExtraction reports whether chunk op o must be ignored because the
// stored version of its document holds an extraction of the chunk made
// with later gazetteer names (o was redelivered after a re-extraction).
func (b *batch) staleExtraction(o op) bool {
	st := b.docs[o.doc.Path]
	if st == nil || st.deleted || st.version != o.doc.Version || st.sha != o.doc.SHA256 {
		return false
	}
	rev, ok := b.revisions[[3]string{o.doc.Path, o.doc.SHA256, fmt.Sprint(o.index)}]
	return ok && o.revision < rev
}

func (b *batch) apply(ctx context.Context, o op) error {
	switch o.kind {
	case opChunk:
		return b.putChunk(ctx, o)
	case opDelete:
		return b.deleteDocument(ctx, o.doc)
	default:
		return b.putRecords(ctx, o)
	}
}

func (b *batch) putChunk(ctx context.Context, o op) error {
	d := o.doc
	if b.stale(d) || b.staleExtraction(o) {
		return nil
	}
	var c candidates
	if st := b.docs[d.Path]; st != nil && !st.deleted && d.Version > st.version {
		if pre, ok := b.earlyPaths[d.Path]; ok {
			// Withdrawn up front with the batch's other new versions.
			delete(b.earlyPaths, d.Path)
			b.unshadow(pre)
			c = *pre
		} else if err := b.withdrawPath(ctx, d.Path, &c); err != nil {
			return err
		}
	}
	key := event.ChunkKey(d.SHA256, o.index)
	digest, err := extractionDigest(o)
	if err != nil {
		return err
	}
	// The chunk's mentions are added unless they are there already: an
	// existing chunk's stored (or pending) mentions are this extraction's
	// when it is unchanged, and none once they have been deleted.
	addMentions := true
	if pre, ok := b.early[key]; ok {
		// Withdrawn up front with the batch's other rewrites.
		delete(b.early, key)
		b.unshadow(pre)
		c = *pre
	} else if b.chunks[key] && b.sameExtraction(key, d.Path, digest) {
		addMentions = false
	} else if b.chunks[key] {
		// A rewrite: what this chunk supported and mentioned is replaced.
		// Only this batch's own pending rows of the chunk need writing
		// before they can be withdrawn.
		if b.pendingChunks[key] {
			if err := b.flush(ctx); err != nil {
				return err
			}
		}
		if err := b.withdraw(ctx, &c, "path = ? AND sha256 = ? AND part = ?", d.Path, d.SHA256, fmt.Sprint(o.index)); err != nil {
			return err
		}
		if err := b.deleteMentionsOf(ctx, []any{key}, func(_ int64, id nodeID, given sql.NullString) error {
			return c.addMentioned(id, given)
		}); err != nil {
			return err
		}
	}
	if err := b.dropChunksFrom(ctx, d, o.total, &c); err != nil {
		return err
	}
	b.putDocument(d)
	b.addPart(d.Path, d.SHA256, o.index)
	chunk := nodeID{graph.LabelChunk, key}
	chunkID := chunk.hash()
	hasChunk := relID{typ: graph.RelHasChunk, fromLabel: graph.LabelDocument, fromKey: d.Path,
		toLabel: graph.LabelChunk, toKey: key}
	if _, pending := b.nodes[chunk]; !b.chunks[key] && !pending {
		b.freshNodes[chunk] = true
		b.freshRels[hasChunk] = true
	}
	b.addNode(chunk, map[string]any{"index": int64(o.index), "text": o.text})
	b.chunks[key] = true
	b.pendingChunks[key] = true
	b.addRel(hasChunk, nil)
	part := fmt.Sprint(o.index)
	b.setDigest(key, d.Path, digest)
	b.revisions[[3]string{d.Path, d.SHA256, part}] = o.revision
	b.extracted[[3]string{d.Path, d.SHA256, part}] = extracted{digest, o.revision}
	for i, m := range o.mentions {
		b.addNode(m.id, m.props)
		if addMentions && !slices.ContainsFunc(o.mentions[:i], func(n nodeWrite) bool { return n.id == m.id }) {
			props, err := mentionProps(o.mentions[i:], m.id)
			if err != nil {
				return err
			}
			b.mentions = append(b.mentions, mention{chunk: chunkID, node: m.id, props: props})
		}
		// A property this extraction gives again is not taken back: the
		// node has it from this op, the latest, as it would anyway.
		c.regiven(m.id, m.props)
	}
	b.addDomainRels(o.rels, d, part)
	return b.collect(ctx, &c)
}

// extractionDigest fingerprints what a chunk op writes: its text, its
// mentions and its relationships, each field length-prefixed into SHA-256.
func extractionDigest(o op) (string, error) {
	d := digester{h: sha256.New()}
	d.str(o.text)
	d.count(len(o.mentions))
	for _, m := range o.mentions {
		d.str(m.id.label)
		d.str(m.id.key)
		if err := d.props(m.props); err != nil {
			return "", fmt.Errorf("digest extraction: %w", err)
		}
	}
	d.count(len(o.rels))
	for _, r := range o.rels {
		for _, s := range [...]string{r.id.typ, r.id.fromLabel, r.id.fromKey, r.id.toLabel, r.id.toKey, r.id.source} {
			d.str(s)
		}
		if err := d.props(r.props); err != nil {
			return "", fmt.Errorf("digest extraction: %w", err)
		}
	}
	return hex.EncodeToString(d.h.Sum(nil)), nil
}

// digester writes length-prefixed values into a hash, so that no two
// sequences of values write the same bytes.
type digester struct {
	h   hash.Hash
	buf [binary.MaxVarintLen64]byte
}

func (d *digester) count(n int) {
	_, _ = d.h.Write(d.buf[:binary.PutUvarint(d.buf[:], uint64(n))]) //nolint:gosec // a length
}

func (d *digester) str(s string) {
	d.count(len(s))
	_, _ = io.WriteString(d.h, s)
}

// props writes a property map in the stores' encoding of properties,
// which orders the keys and tags each value with its type.
func (d *digester) props(p map[string]any) error {
	enc, err := graph.EncodeProperties(p)
	if err != nil {
		return err
	}
	d.str(enc)
	return nil
}

func (b *batch) setDigest(key, path, digest string) {
	m := b.digests[key]
	if m == nil {
		m = map[string]string{}
		b.digests[key] = m
	}
	m[path] = digest
}

// sameExtraction reports whether path last wrote digest to the chunk key and
// every other path sharing the chunk wrote the same: re-adding it then
// changes no support and no MENTIONS, so nothing needs withdrawing.
func (b *batch) sameExtraction(key, path, digest string) bool {
	m := b.digests[key]
	if m[path] != digest {
		return false
	}
	for _, d := range m {
		if d != digest {
			return false
		}
	}
	return true
}

func (b *batch) putRecords(ctx context.Context, o op) error {
	d := o.doc
	if b.stale(d) {
		return nil
	}
	b.putDocument(d)
	for _, n := range o.nodes {
		b.addNode(n.id, n.props)
		r := supportRow{kind: "node", id: relID{fromLabel: n.id.label, fromKey: n.id.key},
			path: d.Path, sha: d.SHA256, part: partRows}
		b.addSupport(r, n.props)
	}
	b.addDomainRels(o.rels, d, partRows)
	if !o.final {
		return nil
	}
	var c candidates
	if err := b.flush(ctx); err != nil {
		return err
	}
	if err := b.withdraw(ctx, &c, "path = ? AND sha256 <> ?", d.Path, d.SHA256); err != nil {
		return err
	}
	if err := b.forgetExtractions(ctx, "path = ? AND sha256 <> ?", d.Path, d.SHA256); err != nil {
		return err
	}
	return b.collect(ctx, &c)
}

func (b *batch) deleteDocument(ctx context.Context, d event.Document) error {
	st := b.docs[d.Path]
	switch {
	case st != nil && d.Version < st.version:
		return nil
	case st == nil || st.deleted:
		// Remember the version so that older ops arriving later are ignored.
		b.docs[d.Path] = &docState{version: max(d.Version, versionOf(st)), deleted: true}
		b.dirtyDocs[d.Path] = true
		return nil
	}
	var c candidates
	if err := b.withdrawPath(ctx, d.Path, &c); err != nil {
		return err
	}
	if _, err := b.tx.ExecContext(ctx, "DELETE FROM nodes WHERE id = ? AND label = 'Document' AND key = ?",
		nodeID{graph.LabelDocument, d.Path}.hash(), d.Path); err != nil {
		return fmt.Errorf("delete document node: %w", err)
	}
	b.docs[d.Path] = &docState{sha: st.sha, version: d.Version, deleted: true}
	b.dirtyDocs[d.Path] = true
	return b.collect(ctx, &c)
}

// onlyDeletions reports whether every op deletes a document.
func onlyDeletions(ops []op) bool {
	for _, o := range ops {
		if o.kind != opDelete {
			return false
		}
	}
	return true
}

// deleteDocuments applies a batch of deletions alone (a folder removed, a
// reconcile of orphans): the live documents among them are withdrawn in a
// few statements for all, and garbage is collected once, instead of a
// dozen statements, each reading whole tables, per document. Nothing in
// the batch adds, so collecting at its end leaves what collecting after
// each deletion would.
func (b *batch) deleteDocuments(ctx context.Context, ops []op) error {
	var paths, docs []any
	for _, o := range ops {
		d := o.doc
		st := b.docs[d.Path]
		if st == nil || st.deleted || d.Version < st.version {
			if err := b.deleteDocument(ctx, d); err != nil { // records the version only
				return fmt.Errorf("delete %s: %w", d.Path, err)
			}
			continue
		}
		b.docs[d.Path] = &docState{sha: st.sha, version: d.Version, deleted: true}
		b.dirtyDocs[d.Path] = true
		paths = append(paths, d.Path)
		docs = append(docs, []any{nodeID{graph.LabelDocument, d.Path}.hash(), d.Path})
	}
	if len(paths) == 0 {
		return nil
	}
	if err := b.flush(ctx); err != nil {
		return err
	}
	var c candidates
	if err := b.withdrawPaths(ctx, paths, func(string) *candidates { return &c }); err != nil {
		return err
	}
	err := inChunks(docs, func(part []any) error {
		_, err := b.tx.ExecContext(ctx, `DELETE FROM nodes n USING (VALUES `+placeholders(len(part), 2)+`) AS d(id, key)
			WHERE n.id = d.id AND n.label = 'Document' AND n.key = d.key`, flatten(part)...)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete document nodes: %w", err)
	}
	return b.collect(ctx, &c)
}

func versionOf(st *docState) uint64 {
	if st == nil {
		return 0
	}
	return st.version
}

func (b *batch) putDocument(d event.Document) {
	b.docs[d.Path] = &docState{sha: d.SHA256, version: d.Version}
	b.dirtyDocs[d.Path] = true
	b.addNode(nodeID{graph.LabelDocument, d.Path}, map[string]any{
		"path": d.Path, "name": d.Name, "format": d.Format, "sha256": d.SHA256, "size": d.Size,
	})
}

func (b *batch) addDomainRels(rels []relWrite, d event.Document, part string) {
	for _, r := range rels {
		b.addNode(nodeID{r.id.fromLabel, r.id.fromKey}, nil)
		b.addNode(nodeID{r.id.toLabel, r.id.toKey}, nil)
		b.addRel(r.id, r.props)
		b.addSupport(supportRow{kind: "rel", id: r.id, path: d.Path, sha: d.SHA256, part: part}, r.props)
	}
}

// addNode merges props into the pending upsert of id (later values win,
// nil removes).
func (b *batch) addNode(id nodeID, props map[string]any) {
	cur, ok := b.nodes[id]
	if !ok {
		cur = map[string]any{}
		b.nodes[id] = cur
		b.nodeOrder = append(b.nodeOrder, id)
	}
	for k, v := range props {
		cur[k] = v
	}
	b.regiven(id, props)
}

func (b *batch) addRel(id relID, props map[string]any) {
	cur, ok := b.rels[id]
	if !ok {
		cur = map[string]any{}
		b.rels[id] = cur
		b.relOrder = append(b.relOrder, id)
	}
	for k, v := range props {
		cur[k] = v
	}
}

// addSupport adds the support row r, which gives its node or
// relationship props (kept in its props column, so that a withdrawal takes
// them back).
func (b *batch) addSupport(r supportRow, props map[string]any) {
	if !b.support[r] {
		b.support[r] = true
		b.suppOrder = append(b.suppOrder, r)
	}
	if len(props) > 0 {
		cur := b.suppProps[r]
		if cur == nil {
			cur = map[string]any{}
			b.suppProps[r] = cur
		}
		maps.Copy(cur, props)
	}
}

// withdrawPath withdraws all support of path and deletes its chunks that no
// other document has.
func (b *batch) withdrawPath(ctx context.Context, path string, c *candidates) error {
	if err := b.flush(ctx); err != nil {
		return err
	}
	return b.withdrawPaths(ctx, []any{path}, func(string) *candidates { return c })
}

// withdrawPaths withdraws all support of the paths, forgets their
// extraction digests and deletes their chunks that no other document has,
// in a few statements for all of them; what each path withdrew goes to its
// candidates.
func (b *batch) withdrawPaths(ctx context.Context, paths []any, cand func(path string) *candidates) error {
	err := inChunks(paths, func(part []any) error {
		return b.deleteRows(ctx, "support", "", "path IN ("+placeholders(len(part), 1)+")",
			"path, kind, type, from_label, from_key, to_label, to_key, source, "+propKeys("props"), part,
			func(rows *sql.Rows) error {
				var path, kind string
				var keys sql.NullString
				var id relID
				if err := rows.Scan(&path, &kind, &id.typ, &id.fromLabel, &id.fromKey, &id.toLabel, &id.toKey, &id.source, &keys); err != nil {
					return err
				}
				return cand(path).withdrawn(kind, id, keys)
			})
	})
	if err != nil {
		return fmt.Errorf("withdraw support: %w", err)
	}
	gone := map[string]bool{}
	err = inChunks(paths, func(part []any) error {
		for _, p := range part {
			gone[p.(string)] = true
		}
		_, err := b.tx.ExecContext(ctx, "DELETE FROM extractions WHERE path IN ("+placeholders(len(part), 1)+")", part...)
		return err
	})
	if err != nil {
		return fmt.Errorf("forget extractions: %w", err)
	}
	for _, m := range b.digests {
		for path := range m {
			if gone[path] {
				delete(m, path)
			}
		}
	}
	for k := range b.revisions {
		if gone[k[0]] {
			delete(b.revisions, k)
		}
	}
	for k := range b.lastPart {
		if gone[k[0]] {
			delete(b.lastPart, k)
		}
	}
	var keys []any
	pathOf := map[string]string{} // chunk key -> a withdrawn path that had it
	err = inChunks(paths, func(part []any) error {
		return b.deleteRows(ctx, "relationships", "",
			"type = 'HAS_CHUNK' AND from_label = 'Document' AND from_key IN ("+placeholders(len(part), 1)+")", "from_key, to_key", part,
			func(rows *sql.Rows) error {
				var path, key string
				if err := rows.Scan(&path, &key); err != nil {
					return err
				}
				if _, ok := pathOf[key]; !ok {
					pathOf[key] = path
					keys = append(keys, key)
				}
				return nil
			})
	})
	if err != nil {
		return fmt.Errorf("delete chunks: %w", err)
	}
	return b.dropChunks(ctx, keys, func(key string) *candidates { return cand(pathOf[key]) })
}

// dropChunks deletes the chunk nodes of keys that no document has any more
// (their HAS_CHUNK from the withdrawn paths already deleted) with their
// MENTIONS, whose entities go to the candidates of the chunk's path.
func (b *batch) dropChunks(ctx context.Context, keys []any, cand func(key string) *candidates) error {
	if len(keys) == 0 {
		return nil
	}
	shared := map[string]bool{}
	err := inChunks(keys, func(part []any) error {
		still, err := queryStrings(ctx, b.tx, `SELECT DISTINCT to_key FROM relationships
			WHERE type = 'HAS_CHUNK' AND to_label = 'Chunk' AND to_key IN (`+placeholders(len(part), 1)+")", part...)
		for _, k := range still {
			shared[k.(string)] = true
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("find shared chunks: %w", err)
	}
	var orphans []any
	keyOfID := map[int64]string{}
	for _, k := range keys {
		if key := k.(string); !shared[key] {
			orphans = append(orphans, k)
			b.chunks[key] = false
			keyOfID[nodeID{graph.LabelChunk, key}.hash()] = key
		}
	}
	err = b.deleteMentionsOf(ctx, orphans, func(chunk int64, id nodeID, given sql.NullString) error {
		return cand(keyOfID[chunk]).addMentioned(id, given)
	})
	if err != nil {
		return err
	}
	return inChunks(chunkIDs(orphans), func(part []any) error {
		_, err := b.tx.ExecContext(ctx, "DELETE FROM nodes WHERE id IN ("+
			placeholders(len(part), 1)+") AND label = 'Chunk'", part...)
		if err != nil {
			return fmt.Errorf("delete chunks: %w", err)
		}
		return nil
	})
}

// dropChunksFrom deletes what path wrote to the chunks of its content at
// index total and above (total 0: not known), when they exist: the parser
// cut the same content into fewer chunks than before (it ran again with
// other chunk settings), and the chunks past the new last one would
// otherwise stay in the graph with their mentions. Their support is
// withdrawn into c, their extraction digests forgotten, and the chunks
// deleted unless another document with the same content has them.
func (b *batch) dropChunksFrom(ctx context.Context, d event.Document, total int, c *candidates) error {
	if total <= 0 {
		return nil
	}
	k := [2]string{d.Path, d.SHA256}
	last, ok := b.lastPart[k]
	if !ok || last < total {
		return nil
	}
	if err := b.flush(ctx); err != nil {
		return err
	}
	b.lastPart[k] = total - 1
	var parts, keys []any
	for idx := total; idx <= last; idx++ {
		part, key := strconv.Itoa(idx), event.ChunkKey(d.SHA256, idx)
		parts, keys = append(parts, part), append(keys, key)
		delete(b.digests[key], d.Path)
		delete(b.revisions, [3]string{d.Path, d.SHA256, part})
	}
	args := append([]any{d.Path, d.SHA256}, parts...)
	where := "path = ? AND sha256 = ? AND part IN (" + placeholders(len(parts), 1) + ")"
	if err := b.withdraw(ctx, c, where, args...); err != nil {
		return err
	}
	if _, err := b.tx.ExecContext(ctx, "DELETE FROM extractions WHERE "+where, args...); err != nil {
		return fmt.Errorf("forget extractions: %w", err)
	}
	if _, err := b.tx.ExecContext(ctx, `DELETE FROM relationships WHERE type = 'HAS_CHUNK' AND from_label = 'Document'
		AND from_key = ? AND to_label = 'Chunk' AND to_key IN (`+placeholders(len(keys), 1)+")", append([]any{d.Path}, keys...)...); err != nil {
		return fmt.Errorf("delete chunks: %w", err)
	}
	return b.dropChunks(ctx, keys, func(string) *candidates { return c })
}

// addPart records that path has an extraction of chunk idx of content sha.
func (b *batch) addPart(path, sha string, idx int) {
	k := [2]string{path, sha}
	if last, ok := b.lastPart[k]; !ok || idx > last {
		b.lastPart[k] = idx
	}
}

// withdrawVersions withdraws, in a few statements for the whole batch, what
// the stored versions of the paths the batch replaces supported, instead of
// several statements per path. A path qualifies when its stored version is
// live and older, the batch has nothing for it but chunk ops of one newer
// version, no op of the batch has the stored version's content, and no other
// document shares a stored chunk with it. Until its first op runs, a path's
// withdrawn rows still keep their owners from garbage collection (the
// shadow counts), so the result is the same as withdrawing at that op.
func (b *batch) withdrawVersions(ctx context.Context, ops []op) error {
	type pathOps struct {
		version uint64
		sha     string
		ok      bool
	}
	byPath := map[string]*pathOps{}
	shas := map[string]bool{}
	var order []string
	for _, o := range ops {
		shas[o.doc.SHA256] = true
		p := byPath[o.doc.Path]
		if p == nil {
			st := b.docs[o.doc.Path]
			p = &pathOps{version: o.doc.Version, sha: o.doc.SHA256,
				ok: st != nil && !st.deleted && o.doc.Version > st.version}
			byPath[o.doc.Path] = p
			order = append(order, o.doc.Path)
		}
		if o.kind != opChunk || o.doc.Version != p.version || o.doc.SHA256 != p.sha {
			p.ok = false
		}
	}
	var paths []any
	for _, path := range order {
		if byPath[path].ok && !shas[b.docs[path].sha] {
			paths = append(paths, path)
		}
	}
	// A path sharing a stored chunk with another document (identical
	// content) is left to its op: whether the chunk is orphaned, and so
	// when its mentions lose their entities, depends on the other
	// document's ops in between.
	shared := map[string]bool{}
	err := inChunks(paths, func(part []any) error {
		found, err := queryStrings(ctx, b.tx, `SELECT DISTINCT h.from_key FROM relationships h
			WHERE h.type = 'HAS_CHUNK' AND h.from_label = 'Document' AND h.from_key IN (`+placeholders(len(part), 1)+`)
				AND EXISTS (SELECT 1 FROM relationships o WHERE o.type = 'HAS_CHUNK' AND o.to_key = h.to_key
					AND o.from_key <> h.from_key)`, part...)
		for _, p := range found {
			shared[p.(string)] = true
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("find shared chunks: %w", err)
	}
	paths = slices.DeleteFunc(paths, func(p any) bool { return shared[p.(string)] })
	if len(paths) == 0 {
		return nil
	}
	for _, p := range paths {
		b.earlyPaths[p.(string)] = &candidates{}
	}
	err = b.withdrawPaths(ctx, paths, func(path string) *candidates { return b.earlyPaths[path] })
	for _, c := range b.earlyPaths {
		b.shadow(c)
	}
	return err
}

// shadow counts the rows withdrawn ahead of an op (see unshadow).
func (b *batch) shadow(c *candidates) {
	for id := range c.nodes {
		b.shadowNodes[id]++
	}
	for id := range c.rels {
		b.shadowRels[id]++
	}
}

// forgetExtractions deletes the extraction digests matching where, whose
// first argument is the path.
func (b *batch) forgetExtractions(ctx context.Context, where string, args ...any) error {
	if _, err := b.tx.ExecContext(ctx, "DELETE FROM extractions WHERE "+where, args...); err != nil {
		return fmt.Errorf("forget extractions: %w", err)
	}
	path := args[0].(string)
	for key, m := range b.digests {
		if len(args) == 1 || !strings.HasPrefix(key, args[1].(string)+":") {
			delete(m, path)
		}
	}
	for k := range b.revisions {
		if k[0] == path && (len(args) == 1 || k[1] != args[1].(string)) {
			delete(b.revisions, k)
		}
	}
	for k := range b.lastPart {
		if k[0] == path && (len(args) == 1 || k[1] != args[1].(string)) {
			delete(b.lastPart, k)
		}
	}
	return nil
}

// withdraw deletes the support rows matching where and records their
// owners as candidates.
func (b *batch) withdraw(ctx context.Context, c *candidates, where string, args ...any) error {
	err := b.deleteRows(ctx, "support", "", where, "kind, type, from_label, from_key, to_label, to_key, source, "+propKeys("props"), args,
		func(rows *sql.Rows) error {
			var kind string
			var keys sql.NullString
			var id relID
			if err := rows.Scan(&kind, &id.typ, &id.fromLabel, &id.fromKey, &id.toLabel, &id.toKey, &id.source, &keys); err != nil {
				return err
			}
			return c.withdrawn(kind, id, keys)
		})
	if err != nil {
		return fmt.Errorf("withdraw support: %w", err)
	}
	return nil
}

// deleteMentionsOf deletes the MENTIONS of the chunk keys and calls
// mentioned with each deleted row's chunk id, entity and the keys of the
// properties the mention gave it (see propKeys).
func (b *batch) deleteMentionsOf(ctx context.Context, keys []any, mentioned func(chunk int64, id nodeID, keys sql.NullString) error) error {
	return inChunks(chunkIDs(keys), func(part []any) error {
		err := b.deleteRows(ctx, "mentions", "", "chunk IN ("+placeholders(len(part), 1)+")", "chunk, label, key, "+propKeys("props"), part,
			func(rows *sql.Rows) error {
				var chunk int64
				var id nodeID
				var keys sql.NullString
				if err := rows.Scan(&chunk, &id.label, &id.key, &keys); err != nil {
					return err
				}
				return mentioned(chunk, id, keys)
			})
		if err != nil {
			return fmt.Errorf("delete mentions: %w", err)
		}
		return nil
	})
}

// collect takes back the properties withdrawn support gave the candidates
// (reprops) and keeps the candidates for collectPending, which deletes
// those left without support once per transaction: a query or two per op
// made a rewrite of many documents spend a third of its time on statements
// that found nothing to delete. Ops later in the batch that state a
// candidate again keep it, as they would recreate it after an earlier
// deletion; its properties are those they give, as reprops has taken back
// the withdrawn ones.
func (b *batch) collect(ctx context.Context, c *candidates) error {
	for id := range c.nodes {
		b.garbage.addNode(id)
	}
	for id := range c.rels {
		b.garbage.addRel(id)
	}
	b.unmentioned(c.mentioned)
	if err := b.reprops(ctx, c.props, false); err != nil {
		return err
	}
	return b.repropsRels(ctx, c.relProps)
}

// collectPending deletes the candidate domain relationships the batch's
// ops left without support, then the candidate entity nodes left without
// support and relationships. It is called before the transaction commits.
func (b *batch) collectPending(ctx context.Context) error {
	c := b.garbage
	b.garbage = candidates{}
	return b.collectGarbage(ctx, &c)
}

// collectGarbage deletes the candidates of c left without support.
func (b *batch) collectGarbage(ctx context.Context, c *candidates) error {
	// Every pending addition survives its flush (entity nodes and domain
	// relationships come with support or a relationship), and no pending
	// row refers to anything else, so the database alone decides the rest
	// and nothing needs flushing first.
	// Rows withdrawn ahead of their op (withdrawRewrites) still count as
	// there until that op runs.
	for id := range c.rels {
		if _, ok := b.rels[id]; ok || b.shadowRels[id] > 0 {
			delete(c.rels, id)
		}
	}
	for id := range c.nodes {
		if b.pendingNode(id) {
			delete(c.nodes, id)
		}
	}
	if c.empty() {
		return nil
	}
	var rels []any
	for id := range c.rels {
		if id.typ == graph.RelHasChunk {
			continue // a chunk's: it goes with its chunk, never collected
		}
		rels = append(rels, []any{id.hash(), id.typ, id.fromLabel, id.fromKey, id.toLabel, id.toKey, id.source})
	}
	rels, err := b.unsupported(ctx, "rel", rels)
	if err != nil {
		return fmt.Errorf("collect relationships: %w", err)
	}
	if err := b.collectRels(ctx, c, rels); err != nil {
		return fmt.Errorf("collect relationships: %w", err)
	}
	var nodes []any
	for id := range c.nodes {
		nodes = append(nodes, []any{id.hash(), id.label, id.key})
	}
	if nodes, err = b.unsupported(ctx, "node", nodes); err != nil {
		return fmt.Errorf("collect nodes: %w", err)
	}
	if len(nodes) == 0 {
		return nil
	}
	src, args, err := b.rowSource(ctx, "collect_nodes", []string{"id", "label", "key"}, nodes)
	if err != nil {
		return fmt.Errorf("collect nodes: %w", err)
	}
	_, err = b.tx.ExecContext(ctx, `DELETE FROM nodes n USING `+src+`
		WHERE n.id = c.id AND n.label = c.label AND n.key = c.key AND n.label NOT IN ('Document', 'Chunk')
			AND NOT EXISTS (SELECT 1 FROM support s WHERE s.owner = n.id AND s.kind = 'node')
			AND NOT EXISTS (SELECT 1 FROM mentions m WHERE m.node = n.id)
			AND NOT EXISTS (SELECT 1 FROM relationships r WHERE r.from_label = n.label AND r.from_key = n.key)
			AND NOT EXISTS (SELECT 1 FROM relationships r WHERE r.to_label = n.label AND r.to_key = n.key)`, args...)
	if err != nil {
		return fmt.Errorf("collect nodes: %w", err)
	}
	return nil
}

// unsupported returns those of rows (candidates: tuples led by an id)
// whose owner has no support of kind ("node" or "rel"). The candidates of
// a large withdrawal are mostly still supported (a new version of a
// spreadsheet states them again): looking at their ids alone first keeps
// collection's joins on text to the few left, within the graph's memory.
// A few candidates go to collection as they are.
func (b *batch) unsupported(ctx context.Context, kind string, rows []any) ([]any, error) {
	if len(rows) <= rowsPerStatement {
		return rows, nil
	}
	ids := make([]any, len(rows))
	for i, r := range rows {
		ids[i] = r.([]any)[0]
	}
	left := map[int64]bool{}
	err := b.eachRow(ctx, ids, func(in string) string {
		return `SELECT u.id FROM (` + in + `) AS u
			WHERE NOT EXISTS (SELECT 1 FROM support s WHERE s.owner = u.id AND s.kind = '` + kind + `')`
	}, func(rows *sql.Rows) error {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return err
		}
		left[id] = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := rows[:0:0]
	for _, r := range rows {
		if left[r.([]any)[0].(int64)] {
			out = append(out, r)
		}
	}
	return out, nil
}

// collectRels deletes the relationships among rels (candidates: id and
// identity) left without support, and makes their ends candidates.
func (b *batch) collectRels(ctx context.Context, c *candidates, rels []any) error {
	if len(rels) == 0 {
		return nil
	}
	if len(rels) <= rowsPerStatement {
		return b.collectFewRels(ctx, c, rels)
	}
	src, args, err := b.rowSource(ctx, "collect_rels", []string{"id", "type", "from_label", "from_key", "to_label", "to_key", "source"}, rels)
	if err != nil {
		return err
	}
	return b.deleteRows(ctx, "relationships r", src, `r.id = c.id AND r.type = c.type AND r.from_label = c.from_label AND r.from_key = c.from_key
			AND r.to_label = c.to_label AND r.to_key = c.to_key AND r.source = c.source
			AND r.type <> 'HAS_CHUNK'
			AND NOT EXISTS (SELECT 1 FROM support s WHERE s.owner = r.id AND s.kind = 'rel')`,
		"r.from_label, r.from_key, r.to_label, r.to_key", args,
		func(rows *sql.Rows) error {
			var from, to nodeID
			if err := rows.Scan(&from.label, &from.key, &to.label, &to.key); err != nil {
				return err
			}
			b.endsLeft(c, from, to)
			return nil
		})
}

// collectFewRels is collectRels for a few candidates (those of a batch of
// chunks, or of one record op): it looks their support, then those left without, up by
// id (the relationships through their index), and deletes those. A join of
// the relationships and support tables with the candidates' values read
// both tables whole for every op: a corpus whose 67,000 chunks were all
// extracted again spent over a minute in it. Most candidates (a text
// relationship other chunks still state) end at the first query.
func (b *batch) collectFewRels(ctx context.Context, c *candidates, rels []any) error {
	want := make(map[int64][]any, len(rels))
	for _, r := range rels {
		t := r.([]any)
		want[t[0].(int64)] = t
	}
	idList := func() string {
		ids := make([]string, 0, len(want))
		for id := range want {
			ids = append(ids, strconv.FormatInt(id, 10))
		}
		return strings.Join(ids, ", ")
	}
	err := b.scanRows(ctx, `SELECT DISTINCT owner FROM support WHERE kind = 'rel' AND owner IN (`+idList()+`)`, nil, func(rows *sql.Rows) error {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return err
		}
		delete(want, id)
		return nil
	})
	if err != nil || len(want) == 0 {
		return err
	}
	type ends struct{ from, to nodeID }
	gone := map[int64]ends{}
	err = b.scanRows(ctx, `SELECT id, type, from_label, from_key, to_label, to_key, source FROM relationships
		WHERE id IN (`+idList()+`) AND type <> 'HAS_CHUNK'`, nil, func(rows *sql.Rows) error {
		var id int64
		var typ, source string
		var e ends
		if err := rows.Scan(&id, &typ, &e.from.label, &e.from.key, &e.to.label, &e.to.key, &source); err != nil {
			return err
		}
		// The id is a hash of the identity: the row must be the candidate.
		if w, ok := want[id]; ok && w[1] == typ && w[2] == e.from.label && w[3] == e.from.key &&
			w[4] == e.to.label && w[5] == e.to.key && w[6] == source {
			gone[id] = e
		}
		return nil
	})
	if err != nil || len(gone) == 0 {
		return err
	}
	ids := make([]string, 0, len(gone))
	for id, e := range gone {
		ids = append(ids, strconv.FormatInt(id, 10))
		b.endsLeft(c, e.from, e.to)
	}
	_, err = b.tx.ExecContext(ctx, `DELETE FROM relationships WHERE id IN (`+strings.Join(ids, ", ")+`)`)
	return err
}

// pendingNode reports whether the batch holds node id: written by one of
// its ops, or withdrawn ahead of its op (withdrawRewrites), which counts
// as there until that op runs.
func (b *batch) pendingNode(id nodeID) bool {
	_, ok := b.nodes[id]
	return ok || b.shadowNodes[id] > 0
}

// endsLeft makes the ends of a collected relationship candidates, those
// the batch does not hold.
func (b *batch) endsLeft(c *candidates, ends ...nodeID) {
	for _, id := range ends {
		if !b.pendingNode(id) {
			c.addNode(id)
		}
	}
}

// scanRows runs query with args in the batch's transaction and calls scan
// on each row.
func (b *batch) scanRows(ctx context.Context, query string, args []any, scan func(*sql.Rows) error) error {
	rows, err := b.tx.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	for rows.Next() {
		if err := scan(rows); err != nil {
			return errors.Join(err, rows.Close())
		}
	}
	return errors.Join(rows.Err(), rows.Close())
}

// deleteRows deletes the rows of table (with its alias, if any) that
// match where, joined with using if given, and calls scan on each with
// the columns cols of the row. It reads the rows with a SELECT first and
// then deletes them, in the transaction: DuckDB's DELETE … RETURNING
// takes about 50 µs a row, so withdrawing the 600,000 support rows of a
// 200,000-row spreadsheet took 28 s that way against 1 s for the two
// statements.
func (b *batch) deleteRows(ctx context.Context, table, using, where, cols string, args []any, scan func(*sql.Rows) error) error {
	from, del := table, "DELETE FROM "+table
	if using != "" {
		from += ", " + using
		del += " USING " + using
	}
	if err := b.scanRows(ctx, "SELECT "+cols+" FROM "+from+" WHERE "+where, args, scan); err != nil {
		return err
	}
	_, err := b.tx.ExecContext(ctx, del+" WHERE "+where, args...)
	return err
}

// rowSource returns what a statement over rows (tuples of an id and text
// columns, named cols) reads them from, as c, and its parameters: VALUES
// for a few, a temporary table for more. Statements of a few hundred rows
// each made a large withdrawal (a new version of a big spreadsheet) scan
// the support table thousands of times.
func (b *batch) rowSource(ctx context.Context, table string, cols []string, rows []any) (string, []any, error) {
	if len(rows) <= rowsPerStatement {
		return "(VALUES " + tuples(len(rows), len(cols)) + ") AS c(" + strings.Join(cols, ", ") + ")", flatten(rows), nil
	}
	// Made anew each time: DuckDB keeps the memory of a temporary table's
	// deleted rows until the table is dropped.
	ddl := "CREATE OR REPLACE TEMP TABLE " + table + " (" + cols[0] + " BIGINT"
	for _, c := range cols[1:] {
		ddl += ", " + c + " VARCHAR"
	}
	if _, err := b.tx.ExecContext(ctx, ddl+")"); err != nil {
		return "", nil, err
	}
	if b.temps == nil {
		b.temps = map[string]bool{}
	}
	b.temps[table] = true
	types := append([]duckdb.TypeInfo{b.types.bigint}, b.varchars(len(cols)-1)...)
	if err := b.appendRows(ctx, "INSERT INTO "+table+" SELECT * FROM appended_data", types, addTuples(rows)); err != nil {
		return "", nil, err
	}
	return table + " AS c", nil, nil
}

// dropTemps drops the temporary tables the batch made, so that their
// memory (counted against the graph's limit) is not held until the next
// batch that needs them: a new version of a 200,000-row spreadsheet left
// tens of megabytes behind, and the next one ran out of memory.
func (b *batch) dropTemps(ctx context.Context) error {
	for t := range b.temps {
		if _, err := b.tx.ExecContext(ctx, "DROP TABLE IF EXISTS temp."+t); err != nil {
			return fmt.Errorf("drop %s: %w", t, err)
		}
	}
	return nil
}

// addTuples returns a fill for appendRows that appends rows (each a
// []any).
func addTuples(rows []any) func(add func(...driver.Value) error) error {
	return func(add func(...driver.Value) error) error {
		for _, r := range rows {
			vals := r.([]any)
			args := make([]driver.Value, len(vals))
			for i, v := range vals {
				args[i] = v
			}
			if err := add(args...); err != nil {
				return err
			}
		}
		return nil
	}
}

// tuples returns n comma-separated parenthesised tuples of width "?".
func tuples(n, width int) string {
	if width > 1 {
		return placeholders(n, width)
	}
	return strings.TrimSuffix(strings.Repeat("(?), ", n), ", ")
}

// Upserts of the pending additions, one per table. Each runs over the rows
// a query appender stages (as appended_data, columns col1...), so a flush
// costs one statement per table whatever the number of rows, instead of
// planning a multi-row VALUES statement per 256 rows. A row whose id is
// taken by a different identity (a hash collision) fails the statement.
const (
	upsertNodes = `INSERT INTO nodes (id, label, key, props) SELECT col1, col2, col3, col4 FROM appended_data
		ON CONFLICT (id) DO UPDATE SET props = CASE WHEN nodes.label <> excluded.label OR nodes.key <> excluded.key
			THEN error('node id collision: ' || excluded.label || ' ' || excluded.key || ' and ' || nodes.label || ' ' || nodes.key)
			ELSE json_merge_patch(nodes.props, excluded.props) END`
	upsertRels = `INSERT INTO relationships (id, type, from_label, from_key, to_label, to_key, source, props)
		SELECT col1, col2, col3, col4, col5, col6, col7, col8 FROM appended_data
		ON CONFLICT (id) DO UPDATE SET props = CASE WHEN relationships.type <> excluded.type
				OR relationships.from_label <> excluded.from_label OR relationships.from_key <> excluded.from_key
				OR relationships.to_label <> excluded.to_label OR relationships.to_key <> excluded.to_key
				OR relationships.source <> excluded.source
			THEN error('relationship id collision: ' || excluded.type || ' ' || excluded.from_key || ' ' || excluded.to_key)
			ELSE json_merge_patch(relationships.props, excluded.props) END`
	upsertSupport = `INSERT INTO support SELECT col1, col2, col3, col4, col5, col6, col7, col8, col9, col10, col11, col12,
			json_merge_patch('{}', col13)
		FROM appended_data ON CONFLICT (id) DO UPDATE SET owner = CASE WHEN support.kind <> excluded.kind
				OR support.type <> excluded.type OR support.from_label <> excluded.from_label
				OR support.from_key <> excluded.from_key OR support.to_label <> excluded.to_label
				OR support.to_key <> excluded.to_key OR support.source <> excluded.source
				OR support.path <> excluded.path OR support.sha256 <> excluded.sha256 OR support.part <> excluded.part
			THEN error('support id collision: ' || excluded.path || ' ' || excluded.from_key) ELSE support.owner END,
			props = json_merge_patch(coalesce(support.props, '{}'), excluded.props)`
	upsertExtractions = `INSERT INTO extractions (id, path, sha256, part, digest, revision) SELECT col1, col2, col3, col4, col5, col6
		FROM appended_data ON CONFLICT (id) DO UPDATE SET digest = CASE WHEN extractions.path <> excluded.path
				OR extractions.sha256 <> excluded.sha256 OR extractions.part <> excluded.part
			THEN error('extraction id collision: ' || excluded.path) ELSE excluded.digest END, revision = excluded.revision`
	upsertDocuments = `INSERT INTO documents (path, sha256, version, deleted) SELECT col1, col2, col3, col4
		FROM appended_data ON CONFLICT (path) DO UPDATE SET sha256 = excluded.sha256,
		version = excluded.version, deleted = excluded.deleted`
)

// nodeRows returns a fill function adding the batch's nodes that are new
// to the graph (fresh) or that may already be in it (not fresh).
func (b *batch) nodeRows(fresh bool) func(add func(...driver.Value) error) error {
	return func(add func(...driver.Value) error) error {
		for _, id := range b.nodeOrder {
			if b.freshNodes[id] != fresh {
				continue
			}
			props, err := graph.EncodeProperties(b.nodes[id])
			if err != nil {
				return fmt.Errorf("node %s %q: %w", id.label, id.key, err)
			}
			if err := add(id.hash(), id.label, id.key, props); err != nil {
				return err
			}
		}
		return nil
	}
}

// relRows is nodeRows for relationships.
func (b *batch) relRows(fresh bool) func(add func(...driver.Value) error) error {
	return func(add func(...driver.Value) error) error {
		for _, id := range b.relOrder {
			if b.freshRels[id] != fresh {
				continue
			}
			props, err := graph.EncodeProperties(b.rels[id])
			if err != nil {
				return fmt.Errorf("relationship %s: %w", id.typ, err)
			}
			if err := add(id.hash(), id.typ, id.fromLabel, id.fromKey, id.toLabel, id.toKey, id.source, props); err != nil {
				return err
			}
		}
		return nil
	}
}

// flush writes the pending additions, one upsert per table.
func (b *batch) flush(ctx context.Context) error {
	defer b.reset()
	if len(b.freshNodes) > 0 {
		if err := b.appendTable("nodes", b.nodeRows(true)); err != nil {
			return fmt.Errorf("write new nodes: %w", err)
		}
	}
	if len(b.nodeOrder) > len(b.freshNodes) {
		types := append([]duckdb.TypeInfo{b.types.bigint}, b.varchars(3)...)
		if err := b.appendRows(ctx, upsertNodes, types, b.nodeRows(false)); err != nil {
			return fmt.Errorf("write nodes: %w", err)
		}
	}
	if len(b.freshRels) > 0 {
		if err := b.appendTable("relationships", b.relRows(true)); err != nil {
			return fmt.Errorf("write new relationships: %w", err)
		}
	}
	if len(b.relOrder) > len(b.freshRels) {
		types := append([]duckdb.TypeInfo{b.types.bigint}, b.varchars(7)...)
		if err := b.appendRows(ctx, upsertRels, types, b.relRows(false)); err != nil {
			return fmt.Errorf("write relationships: %w", err)
		}
	}
	if len(b.suppOrder) > 0 {
		types := append([]duckdb.TypeInfo{b.types.bigint, b.types.bigint}, b.varchars(11)...)
		err := b.appendRows(ctx, upsertSupport, types, func(add func(...driver.Value) error) error {
			for _, r := range b.suppOrder {
				props, err := graph.EncodeProperties(b.suppProps[r])
				if err != nil {
					return fmt.Errorf("%s %s %q: %w", r.kind, r.id.fromLabel, r.id.fromKey, err)
				}
				if err := add(r.hash(), r.owner(), r.kind, r.id.typ, r.id.fromLabel, r.id.fromKey, r.id.toLabel, r.id.toKey,
					r.id.source, r.path, r.sha, r.part, props); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("write support: %w", err)
		}
	}
	if len(b.mentions) > 0 {
		if err := b.appendMentions(); err != nil {
			return fmt.Errorf("write mentions: %w", err)
		}
	}
	if len(b.extracted) > 0 {
		types := append(append([]duckdb.TypeInfo{b.types.bigint}, b.varchars(4)...), b.types.ubigint)
		err := b.appendRows(ctx, upsertExtractions, types, func(add func(...driver.Value) error) error {
			for k, x := range b.extracted {
				if err := add(extractionHash(k[0], k[1], k[2]), k[0], k[1], k[2], x.digest, x.revision); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("write extraction digests: %w", err)
		}
	}
	if len(b.dirtyDocs) > 0 {
		types := append(b.varchars(2), b.types.ubigint, b.types.boolean)
		err := b.appendRows(ctx, upsertDocuments, types, func(add func(...driver.Value) error) error {
			for p := range b.dirtyDocs {
				st := b.docs[p]
				if err := add(p, st.sha, st.version, st.deleted); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("write versions: %w", err)
		}
	}
	return nil
}

// appendMentions appends the pending MENTIONS to their table.
func (b *batch) appendMentions() error {
	return b.appendTable("mentions", func(add func(...driver.Value) error) error {
		for _, m := range b.mentions {
			var props any
			if m.props != "" {
				props = m.props
			}
			if err := add(m.chunk, m.node.hash(), m.node.label, m.node.key, props); err != nil {
				return err
			}
		}
		return nil
	})
}

// appendTable appends the rows fill adds to table through a table appender
// on the write connection (inside the open transaction).
func (b *batch) appendTable(table string, fill func(add func(...driver.Value) error) error) error {
	return b.conn.Raw(func(dc any) error {
		conn, ok := dc.(driver.Conn)
		if !ok {
			return fmt.Errorf("unexpected driver connection %T", dc)
		}
		a, err := duckdb.NewAppender(conn, "", "", table)
		if err != nil {
			return err
		}
		if err := fill(a.AppendRow); err != nil {
			return errors.Join(err, a.Clear(), a.Close())
		}
		return a.Close()
	})
}

// appendRows stages the rows fill adds in a query appender on the write
// connection (inside the open transaction) and runs query over them.
func (b *batch) appendRows(ctx context.Context, query string, types []duckdb.TypeInfo,
	fill func(add func(...driver.Value) error) error,
) error {
	return b.conn.Raw(func(dc any) error {
		conn, ok := dc.(driver.Conn)
		if !ok {
			return fmt.Errorf("unexpected driver connection %T", dc)
		}
		a, err := duckdb.NewQueryAppender(conn, query, "", types, nil)
		if err != nil {
			return err
		}
		if err := fill(a.AppendRow); err != nil {
			return errors.Join(err, a.Clear(), a.Close())
		}
		return a.CloseWithCancel(ctx)
	})
}

// varchars returns n VARCHAR column types.
func (b *batch) varchars(n int) []duckdb.TypeInfo {
	out := make([]duckdb.TypeInfo, n)
	for i := range out {
		out[i] = b.types.varchar
	}
	return out
}

func inChunks(items []any, fn func(part []any) error) error {
	for len(items) > 0 {
		n := min(len(items), rowsPerStatement)
		if err := fn(items[:n]); err != nil {
			return err
		}
		items = items[n:]
	}
	return nil
}

// placeholders returns n comma-separated "?" (width 1) or "(?, ?)" tuples.
func placeholders(n, width int) string {
	tuple := strings.TrimSuffix(strings.Repeat("?, ", width), ", ")
	if width > 1 {
		tuple = "(" + tuple + ")"
	}
	var sb strings.Builder
	for i := range n {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(tuple)
	}
	return sb.String()
}

func flatten(rows []any) []any {
	var out []any
	for _, r := range rows {
		out = append(out, r.([]any)...)
	}
	return out
}

func queryStrings(ctx context.Context, tx *sql.Tx, q string, args ...any) ([]any, error) {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []any
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
