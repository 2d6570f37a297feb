// Package neostore is the Neo4j implementation of graph.Store.
//
// Every write is an UNWIND … MERGE on a unique key inside one managed write
// transaction per Apply call, with labels and relationship types taken only
// from the configured schema and every value passed as a parameter.
//
// Provenance and versions live in bookkeeping the exports never show:
//
//   - (:_Version {key: path, version}) holds the newest version of a path,
//     also after the document is deleted; one more, keyed by a name no path
//     can have, records the files stream those versions are sequences of
//     (see SetFilesStream);
//   - (:_Source {key, path, sha, part, sid}) is one source of support (a
//     chunk of a document version, or "rows" of a structured file version);
//     sid is a random id that names the source in support lists;
//   - (:_Source)-[:_SUPPORTS]->(entity) is that source's support of a node;
//     it holds the properties the source gave the node (a records source's
//     merged over its batches, a chunk's those of its mention), so that
//     withdrawing it takes them from the node, which then gets again those
//     its other sources give (mentions first, in chunk order, then records,
//     in path order);
//   - a domain relationship lists the sids of the sources that support it in
//     its _docgraph_support property, and each of those sources also
//     supports its start node, through which a withdrawal finds it. That
//     support is usually there anyway (a source states the entities it
//     relates), so relationship support costs a property rather than an
//     edge. It keeps the start node no longer than the relationship does:
//     both go when the source is withdrawn. The properties each source gave
//     the relationship are listed, encoded, in its _docgraph_given property
//     ("<source key>\x00<properties>"), for the same reason as a node's.
//
// Withdrawing support deletes _Source nodes found through an index on path,
// so its cost follows what the source supported, not the size of the graph.
package neostore
