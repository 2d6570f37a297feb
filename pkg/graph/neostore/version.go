package neostore

import (
	"context"
	"errors"
	"fmt"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// MaxVersion returns the largest version stored for any path, 0 when none
// is. Versions are sequences of the files stream that carried each path's
// changes (see graph.Op).
func (s *Store) MaxVersion(ctx context.Context) (_ uint64, err error) {
	sess := s.session(ctx, neo4j.AccessModeRead)
	defer func() { err = errors.Join(err, s.closeSession(ctx, sess)) }()
	v, err := sess.ExecuteRead(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		res, err := tx.Run(ctx, "MATCH (v:_Version) RETURN max(v.version)", nil)
		if err != nil {
			return nil, err
		}
		rec, err := res.Single(ctx)
		if err != nil {
			return nil, err
		}
		n, _ := rec.Values[0].(int64)
		return n, nil
	})
	if err != nil {
		return 0, classify(fmt.Errorf("max version neo4j %s: %w", s.uri, err))
	}
	return uint64(max(v.(int64), 0)), nil
}

// ForgetVersions sets every stored version up to through to 0, below any
// version a files stream gives, and returns how many paths it changed. It
// is for a graph written through an earlier files stream (a data directory
// or NATS store started afresh against the same database): the new
// stream's sequences start again at 1, so its writes would be ignored as
// older than the stored versions (edits and deletions lost without a word)
// until they passed them. Once forgotten, the next write of each path wins.
func (s *Store) ForgetVersions(ctx context.Context, through uint64) (_ int64, err error) {
	sess := s.session(ctx, neo4j.AccessModeWrite)
	defer func() { err = errors.Join(err, s.closeSession(ctx, sess)) }()
	// CALL … IN TRANSACTIONS needs an auto-commit transaction.
	res, err := sess.Run(ctx, `MATCH (v:_Version) WHERE v.version > 0 AND v.version <= $through
CALL (v) { SET v.version = 0 } IN TRANSACTIONS OF 10000 ROWS`, map[string]any{"through": int64(through)})
	if err == nil {
		var sum neo4j.ResultSummary
		if sum, err = res.Consume(ctx); err == nil {
			return int64(sum.Counters().PropertiesSet()), nil
		}
	}
	return 0, classify(fmt.Errorf("forget versions neo4j %s: %w", s.uri, err))
}
