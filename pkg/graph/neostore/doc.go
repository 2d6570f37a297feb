// Package neostore is the Neo4j implementation of graph.Store.
//
// Every write is an UNWIND … MERGE on a unique key inside one managed write
// transaction per Apply call, with labels and relationship types taken only
// from the configured schema and every value passed as a parameter.
//
// Provenance and versions live in bookkeeping the exports never show:
//
//   - (:_Version {key: path, version}) holds the newest version of a path,
//     also after the document is deleted;
//   - (:_Source {key, path, sha, part}) is one source of support (a chunk of
//     a document version, or "rows" of a structured file version);
//   - (:_Source)-[:_SUPPORTS]->(entity) is that source's support of a node;
//   - (:_Source)-[:_SUPPORTS_REL {type, source, to_label, to_key}]->(from)
//     is its support of the relationship (from)-[:type {source}]->(to).
//
// Withdrawing support deletes _Source nodes found through an index on path,
// so its cost follows what the source supported, not the size of the graph.
package neostore
