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
func (s *Store) MaxVersion(ctx context.Context) (uint64, error) {
	v, err := s.readValue(ctx, "MATCH (v:_Version) RETURN max(v.version)", nil)
	if err != nil {
		return 0, classify(fmt.Errorf("max version neo4j %s: %w", s.uri, err))
	}
	n, _ := v.(int64)
	return uint64(max(n, 0)), nil
}

// readValue runs query q, which returns one row, in a read transaction and
// returns the row's first value.
func (s *Store) readValue(ctx context.Context, q string, params map[string]any) (_ any, err error) {
	sess := s.session(ctx, neo4j.AccessModeRead)
	defer func() { err = errors.Join(err, s.closeSession(ctx, sess)) }()
	return sess.ExecuteRead(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		res, err := tx.Run(ctx, q, params)
		if err != nil {
			return nil, err
		}
		rec, err := res.Single(ctx)
		if err != nil {
			return nil, err
		}
		return rec.Values[0], nil
	})
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

// filesStreamKey is the key of the _Version node that records which files
// stream the stored versions came from (see SetFilesStream). NUL never
// occurs in a path, and the node has no version of its own.
const filesStreamKey = "\x00files-stream"

// FilesStream returns the identity of the files stream recorded by
// SetFilesStream, "" when none is (a graph written before it was recorded,
// or never written).
func (s *Store) FilesStream(ctx context.Context) (string, error) {
	v, err := s.readValue(ctx, "OPTIONAL MATCH (v:_Version {key: $key}) RETURN v.files_stream", map[string]any{"key": filesStreamKey})
	if err != nil {
		return "", classify(fmt.Errorf("files stream neo4j %s: %w", s.uri, err))
	}
	id, _ := v.(string)
	return id, nil
}

// SetFilesStream records the identity of the files stream whose sequences
// the versions written from now on are, so that a graph writer on another
// stream (a data directory or NATS store started afresh) knows that the
// stored versions are not comparable with its own, however far its stream
// has got.
func (s *Store) SetFilesStream(ctx context.Context, id string) (err error) {
	sess := s.session(ctx, neo4j.AccessModeWrite)
	defer func() { err = errors.Join(err, s.closeSession(ctx, sess)) }()
	_, err = sess.ExecuteWrite(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		res, err := tx.Run(ctx, "MERGE (v:_Version {key: $key}) SET v.files_stream = $id", map[string]any{"key": filesStreamKey, "id": id})
		if err != nil {
			return nil, err
		}
		return res.Consume(ctx)
	})
	if err != nil {
		return classify(fmt.Errorf("record files stream neo4j %s: %w", s.uri, err))
	}
	return nil
}
