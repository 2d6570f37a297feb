// Package event defines the typed payloads exchanged between stages and the
// subject each one travels on. Every type here has a JSON Schema under
// schemas/messages/; one type per subject.
package event

import (
	"fmt"
	"path"
	"strings"
)

// Version is the schema version of every payload in this package. It travels
// in the Docgraph-Version header; a consumer refuses any other version.
const Version = "1"

// Subjects, one per payload type. Streams are declared in pkg/bus.
const (
	SubjectFileDiscovered     = "docgraph.files.discovered"
	SubjectFileDeleted        = "docgraph.files.deleted"
	SubjectChunk              = "docgraph.chunks.text"
	SubjectDocumentDeleted    = "docgraph.chunks.deleted"
	SubjectRecords            = "docgraph.records.rows"
	SubjectExtraction         = "docgraph.extractions.chunk"
	SubjectExtractionDeletion = "docgraph.extractions.deleted"
)

// Type names, carried in the Docgraph-Type header.
const (
	TypeFileDiscovered     = "FileDiscovered"
	TypeFileDeleted        = "FileDeleted"
	TypeChunk              = "Chunk"
	TypeDocumentDeleted    = "DocumentDeleted"
	TypeRecords            = "Records"
	TypeExtraction         = "Extraction"
	TypeExtractionDeletion = "ExtractionDeletion"
)

// TypeOf returns the payload type name that travels on subject, or "".
func TypeOf(subject string) string {
	switch subject {
	case SubjectFileDiscovered:
		return TypeFileDiscovered
	case SubjectFileDeleted:
		return TypeFileDeleted
	case SubjectChunk:
		return TypeChunk
	case SubjectDocumentDeleted:
		return TypeDocumentDeleted
	case SubjectRecords:
		return TypeRecords
	case SubjectExtraction:
		return TypeExtraction
	case SubjectExtractionDeletion:
		return TypeExtractionDeletion
	}
	return ""
}

// Document identifies one version of one file. Path is relative to the
// watched root with forward slashes and is the Document's key in the graph.
// Version increases every time the watcher publishes a new state of the
// path (it is the files stream sequence of the FileDiscovered event), so a
// store can ignore writes that arrive after a newer version.
type Document struct {
	Path    string `json:"path"`
	Name    string `json:"name"`
	Format  string `json:"format"`
	SHA256  string `json:"sha256"`
	Size    int64  `json:"size"`
	Version uint64 `json:"version"`
}

// NewDocument fills Name and Format from the path.
func NewDocument(relPath, sha string, size int64, version uint64) Document {
	return Document{
		Path:    relPath,
		Name:    path.Base(relPath),
		Format:  FormatOf(relPath),
		SHA256:  sha,
		Size:    size,
		Version: version,
	}
}

// FormatOf is the lower-case extension of p without the dot.
func FormatOf(p string) string {
	ext := path.Ext(p)
	return strings.ToLower(strings.TrimPrefix(ext, "."))
}

// FileDiscovered says a file (new or changed) is stable and its bytes are in
// the object store under Object.
type FileDiscovered struct {
	Path    string `json:"path"`
	Size    int64  `json:"size"`
	SHA256  string `json:"sha256"`
	ModTime string `json:"mod_time"`
	Object  string `json:"object"`
}

// FileDeleted says a file that had been discovered disappeared.
type FileDeleted struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256,omitempty"`
}

// Chunk is one piece of a document's text. Chunks of a document version are
// numbered 0..Total-1; the key in the graph is ChunkKey(sha, Index).
type Chunk struct {
	Document Document `json:"document"`
	Index    int      `json:"index"`
	Total    int      `json:"total"`
	Text     string   `json:"text"`
}

// Key is the chunk's graph key.
func (c Chunk) Key() string { return ChunkKey(c.Document.SHA256, c.Index) }

// ChunkKey is "<sha256>:<index>".
func ChunkKey(sha string, index int) string { return fmt.Sprintf("%s:%d", sha, index) }

// DocumentDeleted travels from the parser to the graph writer (through the
// extractor as ExtractionDeletion) so that a deletion stays ordered with the
// document's chunks.
type DocumentDeleted struct {
	Path    string `json:"path"`
	Version uint64 `json:"version"`
}

// ExtractionDeletion is DocumentDeleted forwarded by the extractor.
type ExtractionDeletion = DocumentDeleted

// MaxKeyBytes bounds a node key (UTF-8 bytes). Neo4j cannot index a
// string property longer than about 8 KB, so a longer key would fail the
// whole write it is part of; producers refuse such keys (a spreadsheet row
// error, a mention not made) and the graph stores reject them as invalid.
// No name or code is anywhere near this long.
const MaxKeyBytes = 4096

// NodeRef names a node by label and normalised key.
type NodeRef struct {
	Label string `json:"label"`
	Key   string `json:"key"`
}

// Node is an entity with its properties. Labels come only from the schema.
type Node struct {
	Label      string         `json:"label"`
	Key        string         `json:"key"`
	Properties map[string]any `json:"properties,omitempty"`
}

// Ref returns the node's reference.
func (n Node) Ref() NodeRef { return NodeRef{Label: n.Label, Key: n.Key} }

// Source values of a relationship.
const (
	SourceText       = "text"
	SourceStructured = "structured"
)

// Relationship connects two nodes. Relationships are unique by type, ends
// and Source; types come only from the schema.
type Relationship struct {
	Type       string         `json:"type"`
	From       NodeRef        `json:"from"`
	To         NodeRef        `json:"to"`
	Source     string         `json:"source"`
	Properties map[string]any `json:"properties,omitempty"`
	Evidence   string         `json:"evidence,omitempty"`
}

// Extraction is what the extractor found in one chunk: the entities it
// mentions and the relationships its sentences state.
type Extraction struct {
	Chunk         Chunk          `json:"chunk"`
	Mentions      []Node         `json:"mentions"`
	Relationships []Relationship `json:"relationships,omitempty"`
	// GazetteerRevision is the revision of the gazetteer bucket whose
	// names the extraction was made with (0: none). A chunk re-extracted
	// when names change is extracted again at a later revision; an
	// extraction of the chunk at an earlier revision that reaches the
	// graph writer after it (redelivered after a crash or a timeout) is
	// stale, and the graph stores ignore it.
	GazetteerRevision uint64 `json:"gazetteer_revision,omitempty"`
}

// RowError describes one rejected spreadsheet row.
type RowError struct {
	Line   int    `json:"line"`
	Column string `json:"column,omitempty"`
	Value  string `json:"value,omitempty"`
	Error  string `json:"error"`
}

// String renders the error as a file-level message does: "line 7, column
// start_date, value "31/02/2024": not a date".
func (e RowError) String() string {
	var b strings.Builder
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d", e.Line)
	} else {
		b.WriteString("row")
	}
	if e.Column != "" {
		fmt.Fprintf(&b, ", column %s", e.Column)
	}
	if e.Value != "" {
		fmt.Fprintf(&b, ", value %q", e.Value)
	}
	b.WriteString(": ")
	b.WriteString(e.Error)
	return b.String()
}

// Records is one batch of mapped rows from a structured source. Batches of a
// file version are numbered from 0; the one with Final set is the last and
// carries Batches, the number of batches, so a writer can withdraw what the
// file's earlier versions supported once all of them are written.
type Records struct {
	Source        Document       `json:"source"`
	Mapping       string         `json:"mapping"`
	Batch         int            `json:"batch"`
	Final         bool           `json:"final,omitempty"`
	Batches       int            `json:"batches,omitempty"`
	Nodes         []Node         `json:"nodes,omitempty"`
	Relationships []Relationship `json:"relationships,omitempty"`
	Rejected      []RowError     `json:"rejected,omitempty"`
}
