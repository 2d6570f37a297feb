package duckstore

import (
	"encoding/binary"

	"github.com/cespare/xxhash/v2"
)

// Rows are keyed by a 64-bit xxhash of their identity (id columns) rather
// than by their text columns: DuckDB's indexes on wide multi-column text
// keys cost several times the time and memory of one integer column. Each
// part is hashed with its length in front, so that no two different tuples
// hash the same input. Two different identities share an id with
// probability about n²/2⁶⁵ for n rows (below 10⁻⁷ for a million); the text
// columns are kept beside the id and compared wherever rows are looked up
// or merged, so that a collision fails the write loudly instead of merging
// two nodes.

// hashParts hashes the tuple parts; ids are BIGINT, the hash's bits as a
// signed integer, as database/sql takes no uint64 with the high bit set.
func hashParts(parts ...string) int64 {
	d := xxhash.New()
	var n [binary.MaxVarintLen64]byte
	for _, p := range parts {
		_, _ = d.Write(n[:binary.PutUvarint(n[:], uint64(len(p)))])
		_, _ = d.WriteString(p)
	}
	return int64(d.Sum64()) //nolint:gosec // the bits are the id
}

func (id nodeID) hash() int64 { return hashParts(id.label, id.key) }

func (id relID) hash() int64 {
	return hashParts(id.typ, id.fromLabel, id.fromKey, id.toLabel, id.toKey, id.source)
}

func (r supportRow) hash() int64 {
	return hashParts(r.kind, r.id.typ, r.id.fromLabel, r.id.fromKey, r.id.toLabel, r.id.toKey, r.id.source,
		r.path, r.sha, r.part)
}

// owner is the id of the node or relationship the row supports.
func (r supportRow) owner() int64 {
	if r.kind == "node" {
		return nodeID{r.id.fromLabel, r.id.fromKey}.hash()
	}
	return r.id.hash()
}

func extractionHash(path, sha, part string) int64 { return hashParts(path, sha, part) }
