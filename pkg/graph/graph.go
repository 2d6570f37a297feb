// Package graph defines the property-graph store that the graph writer
// commits to, with provenance, and the operations both implementations (the
// embedded DuckDB store and Neo4j) must support identically.
package graph

import (
	"context"
	"errors"
	"fmt"

	"github.com/docgraph/docgraph/pkg/event"
)

// Structural labels and relationship types the store manages itself.
const (
	LabelDocument = "Document"
	LabelChunk    = "Chunk"
	RelHasChunk   = "HAS_CHUNK"
	RelMentions   = "MENTIONS"
)

// Node, NodeRef and Relationship are the event types: what the extractor and
// the parser emit is what the store writes.
type (
	Node         = event.Node
	NodeRef      = event.NodeRef
	Relationship = event.Relationship
	Document     = event.Document
)

// Op is one write. Exactly one of its fields is set.
//
// Provenance: every entity node and every domain relationship keeps the set
// of sources that support it: a (document path, sha256, part) triple, where
// part is the chunk index for text and "rows" for structured data. An op
// that withdraws support deletes every relationship left without support and
// every entity node (not Document or Chunk) left without support and without
// relationships.
//
// Versions: Document.Version grows with every new state of a path. An op
// whose Document.Version is lower than the version stored for that path is
// stale and ignored; equal versions are idempotent re-writes, except after
// a deletion: an op no newer than the deletion that stored its version is
// stale too (the parser withdraws a version it cannot finish under that
// version's own number, and what of it arrives later stays out).
type Op struct {
	// PutChunk writes one chunk's extraction: the Document node (properties
	// path, name, format, sha256, size), the Chunk node (key
	// "<sha256>:<index>", properties index, text), HAS_CHUNK, MENTIONS from
	// the chunk to each mention, and the chunk's relationships, each
	// supported by (path, sha256, index). A newer version of the document
	// first withdraws everything its older versions supported and deletes
	// their chunks. Re-writing the same chunk replaces its mentions and
	// relationships: support it no longer gives is withdrawn; unless the
	// stored extraction of the chunk was made at a higher GazetteerRevision,
	// when the op is stale and ignored. A chunk of the same version cut
	// into fewer chunks than the path wrote before (Chunk.Total; 0: not
	// known) withdraws what the path wrote to the chunks at index Total
	// and above and deletes those no other document has: the parser ran
	// again with other chunk settings.
	PutChunk *event.Extraction

	// DeleteDocument withdraws all support from the path (text and
	// structured), deletes its chunks and its Document node.
	DeleteDocument *event.DocumentDeleted

	// PutRecords upserts structured nodes (SET n += properties) and
	// relationships, supported by (source path, sha256, "rows"), and a
	// Document node for the source file. A newer version of the source
	// withdraws nothing until its Final batch arrives: then support from
	// every other sha256 of that path is withdrawn.
	PutRecords *event.Records
}

// Store is a property graph with provenance. Implementations are safe for
// concurrent use.
type Store interface {
	// Setup creates constraints and indexes; it is idempotent.
	Setup(ctx context.Context) error
	// Apply commits ops in order in one transaction: all or nothing.
	Apply(ctx context.Context, ops []Op) error
	// Export streams every node and then every relationship, sorted (nodes by
	// label then key; relationships by type, from, to, source), with their
	// public properties only (no provenance bookkeeping). Relationship
	// properties include "source" for domain relationships.
	Export(ctx context.Context, nodes func(Node) error, rels func(Relationship) error) error
	// Stats counts nodes per label and relationships per type.
	Stats(ctx context.Context) (Stats, error)
	// Documents lists every Document node's path and sha256 (for reconcile).
	Documents(ctx context.Context) (map[string]string, error)
	// Ping reports whether the store is reachable.
	Ping(ctx context.Context) error
	Close() error
}

// Stats holds counts per label and relationship type.
type Stats struct {
	Nodes         map[string]int64 `json:"nodes"`
	Relationships map[string]int64 `json:"relationships"`
}

// ErrInvalid marks an op the store refuses (a label or type outside the
// schema, an empty key): permanent, never retried.
var ErrInvalid = errors.New("graph: invalid operation")

// KeyProblem says what is wrong with a node key ("" if nothing is): empty,
// or longer than event.MaxKeyBytes. Both stores refuse such a key.
func KeyProblem(key string) string {
	switch {
	case key == "":
		return "empty key"
	case len(key) > event.MaxKeyBytes:
		return fmt.Sprintf("key of %d bytes, longer than %d (%.40q…)", len(key), event.MaxKeyBytes, key)
	}
	return ""
}

// ErrUnavailable marks a failure to reach the store (connection refused,
// timeouts, leader switches that outlasted the driver's retries): retryable,
// and a reason for the graph writer to pause rather than burn deliveries.
var ErrUnavailable = errors.New("graph: store unavailable")

// ErrResources marks a write the store had too little memory for: not the
// batch's fault, and it may succeed again (another transaction held memory
// meanwhile, or the write is tried alone). The graph writer retries such
// an op with backoff, and dead-letters it only after its deliveries, from
// where it can be replayed once the store has more memory.
var ErrResources = errors.New("graph: out of memory")
