package neostore

import (
	"context"
	"fmt"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// maxWithdrawSupports bounds the supports that one transaction withdraws
// from the earlier versions of an op's path. Neo4j holds a transaction's
// changes in memory until it commits, and the withdrawal of a large
// spreadsheet's old version (a few hundred thousand rows) in the op's own
// transaction went over the server's transaction memory limit, so that
// the new version could never be written. A variable only so that a test
// can split small withdrawals.
var maxWithdrawSupports = 20_000

// afterWithdrawPart, when set (by a test), runs after each part of
// prewithdraw has committed.
var afterWithdrawPart func()

// qLockVersion takes the write lock of a path's version node and returns
// the version stored, without changing it.
const qLockVersion = `MATCH (v:_Version {key: $path})
SET v._lock = true
REMOVE v._lock
RETURN v.version AS version, coalesce(v.deleted, false) AS deleted`

// qSourceSupports lists the sources matching cond, in key order, with the
// number of entities each supports.
func qSourceSupports(cond string) string {
	return `MATCH (s:_Source) WHERE ` + cond + `
RETURN s.key AS key, COUNT { (s)-[:` + relSupports + `]->() } AS n
ORDER BY key`
}

// prewithdraw withdraws, before Apply's transaction, the support of the
// earlier versions that an op replaces (a Final records op: its path's
// other contents; a deletion, or a newer text version: all of its path)
// in transactions of at most maxWithdrawSupports supports each, until
// what is left fits in one; Apply's transaction then withdraws the rest
// as before. Each part checks, under the path's version lock, that the op
// is not stale, and withdraws only sources that exist then: those of
// versions no newer than the op's, which the op supersedes. A part that
// commits before the op fails is not undone; the op, delivered again,
// withdraws what is left. Until then the graph shows the path's new
// version beside what is left of the old one, as it does while a
// spreadsheet's batches arrive.
func (s *Store) prewithdraw(ctx context.Context, sess neo4j.SessionWithContext, plans []plan) error {
	large, err := s.largePaths(ctx, sess, plans)
	if err != nil || len(large) == 0 {
		return err
	}
	done := map[string]bool{}
	for _, p := range plans {
		cond, params := replaced(p)
		// The chunks of one version of a path replace the same sources.
		once := fmt.Sprint(p.path, "\x00", p.version, "\x00", p.sha, "\x00", cond)
		if cond == "" || !large[p.path] || done[once] {
			continue
		}
		done[once] = true
		for {
			var part, total int64
			err := s.execute(ctx, sess, func(ctx context.Context, w *writer) error {
				var err error
				part, total, err = w.withdrawPart(ctx, p, cond, params)
				return err
			})
			if err != nil {
				return fmt.Errorf("op %d (%s): withdraw earlier versions in parts: %w", p.opIndex, p.path, err)
			}
			if part == 0 {
				break
			}
			s.m.withdrawParts.Inc()
			s.log.Info("earlier version withdrawn in part", "path", p.path, "supports", part, "supports_left", total-part)
			if afterWithdrawPart != nil {
				afterWithdrawPart()
			}
		}
	}
	return nil
}

// qPathSupports returns the paths whose sources support more than $max
// entities in all.
const qPathSupports = `UNWIND $paths AS path
MATCH (s:_Source {path: path})
WITH path, sum(COUNT { (s)-[:` + relSupports + `]->() }) AS n
WHERE n > $max
RETURN path`

// largePaths returns the paths of ops that withdraw (see replaced) whose
// sources hold more than maxWithdrawSupports supports, with one query: only
// those can need prewithdraw's transactions, which check exactly.
func (s *Store) largePaths(ctx context.Context, sess neo4j.SessionWithContext, plans []plan) (map[string]bool, error) {
	seen := map[string]bool{}
	var paths []any
	for _, p := range plans {
		if cond, _ := replaced(p); cond != "" && !seen[p.path] {
			seen[p.path] = true
			paths = append(paths, p.path)
		}
	}
	if len(paths) == 0 {
		return nil, nil
	}
	res, err := sess.ExecuteRead(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		r, err := tx.Run(ctx, qPathSupports, map[string]any{"paths": paths, "max": maxWithdrawSupports})
		if err != nil {
			return nil, err
		}
		return r.Collect(ctx)
	})
	if err != nil {
		return nil, fmt.Errorf("count the support of earlier versions: %w", err)
	}
	large := map[string]bool{}
	for _, r := range res.([]*neo4j.Record) {
		path, _ := r.Values[0].(string)
		large[path] = true
	}
	return large, nil
}

// replaced returns which sources op p withdraws when it is written: the
// condition and its parameters, or "" for an op that withdraws nothing.
func replaced(p plan) (string, map[string]any) {
	switch {
	case p.kind == opDelete, p.kind == opPutChunk:
		return allSources, map[string]any{"path": p.path}
	case p.kind == opPutRecords && p.final:
		return otherSHASources, map[string]any{"path": p.path, "sha": p.sha}
	}
	return "", nil
}

// withdrawPart withdraws the first sources (in key order) that p replaces,
// as many as hold at most maxWithdrawSupports supports, or, when the first
// holds more (all the rows of a spreadsheet's version have one source),
// that many of its supports, if the sources hold more than
// maxWithdrawSupports in all; and it collects what they alone supported. It
// returns the supports it withdrew (0 for none) and those the sources held
// before.
func (w *writer) withdrawPart(ctx context.Context, p plan, cond string, params map[string]any) (part, total int64, err error) {
	recs, err := w.records(ctx, qLockVersion, map[string]any{"path": p.path})
	if err != nil {
		return 0, 0, fmt.Errorf("version: %w", err)
	}
	if len(recs) == 0 {
		return 0, 0, nil // nothing was written to the path
	}
	stored := readVersion(recs[0].Values[0], recs[0].Values[1])
	if stored.stale(p.version) {
		return 0, 0, nil
	}
	if p.kind == opPutChunk && p.version <= stored.version {
		return 0, 0, nil // the path's content; its chunks are rewritten, not withdrawn
	}
	recs, err = w.records(ctx, qSourceSupports(cond), params)
	if err != nil {
		return 0, 0, fmt.Errorf("count support: %w", err)
	}
	for _, r := range recs {
		n, _ := r.Values[1].(int64)
		total += n
	}
	if total <= int64(maxWithdrawSupports) {
		return 0, total, nil
	}
	var keys []any
	sum := int64(0)
	for _, r := range recs {
		n, _ := r.Values[1].(int64)
		if sum+n > int64(maxWithdrawSupports) {
			break
		}
		keys = append(keys, r.Values[0])
		sum += n
	}
	if len(keys) == 0 {
		sum = int64(maxWithdrawSupports)
		err = w.withdrawSome(ctx, recs[0].Values[0])
	} else {
		err = w.withdrawWhere(ctx, listedSources, map[string]any{"keys": keys})
	}
	if err != nil {
		return 0, 0, err
	}
	return sum, total, w.collect(ctx)
}

// qSomeSupported returns up to $max entities the source supports.
const qSomeSupported = `MATCH (:_Source {key: $key})-[:` + relSupports + `]->(a)
RETURN elementId(a) AS id
LIMIT $max`

// qWithdrawSupportOf deletes the source's support of the nodes $nodes,
// returning what qWithdrawNodes returns.
const qWithdrawSupportOf = `MATCH (:_Source {key: $key})-[u:` + relSupports + `]->(n)
WHERE elementId(n) IN $nodes
WITH collect(u) AS gone, collect(elementId(n)) AS ids,
  collect(CASE WHEN size(keys(u)) > 0 THEN {id: elementId(n), keys: keys(u)} END) AS taken
FOREACH (u IN gone | DELETE u)
RETURN ids, taken`

// withdrawSome withdraws maxWithdrawSupports of the supports of the source
// key: of some entities it supports, and of the relationships starting at
// them (the start node of a relationship a source supports has its
// support). The source stays, with the rest.
func (w *writer) withdrawSome(ctx context.Context, key any) error {
	recs, err := w.records(ctx, qSomeSupported, map[string]any{"key": key, "max": maxWithdrawSupports})
	if err != nil {
		return fmt.Errorf("find supported entities: %w", err)
	}
	nodes := make([]any, len(recs))
	for i, r := range recs {
		nodes[i] = r.Values[0]
	}
	params := map[string]any{"key": key, "nodes": nodes}
	recs, err = w.records(ctx, qWithdrawRelsFrom("s.key = $key", "elementId(a) IN $nodes"), params)
	if err != nil {
		return fmt.Errorf("withdraw relationship support: %w", err)
	}
	w.candidates(recs, "a", "b")
	if err := w.regive(ctx, recs); err != nil {
		return err
	}
	recs, err = w.records(ctx, qWithdrawSupportOf, params)
	if err != nil {
		return fmt.Errorf("withdraw node support: %w", err)
	}
	w.candidates(recs, "ids")
	w.takenProps(recs)
	return nil
}
