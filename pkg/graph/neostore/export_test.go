package neostore

import (
	"context"
	"errors"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// Driver exposes the driver to the benchmark's plain-driver baseline.
func (s *Store) Driver() neo4j.DriverWithContext { return s.driver }

// SetDedupeKeys turns the merging of rows of one key off (or on again).
func SetDedupeKeys(on bool) { dedupeKeys = on }

// SetMaxDeletePaths sets the paths of one deletion query and returns the
// previous bound.
func SetMaxDeletePaths(n int) int {
	old := maxDeletePaths
	maxDeletePaths = n
	return old
}

// SetMaxWithdrawSupports sets the supports one transaction withdraws from
// earlier versions and the function run after each such transaction, and
// returns a function that restores both.
func SetMaxWithdrawSupports(n int, after func()) (restore func()) {
	oldN, oldAfter := maxWithdrawSupports, afterWithdrawPart
	maxWithdrawSupports, afterWithdrawPart = n, after
	return func() { maxWithdrawSupports, afterWithdrawPart = oldN, oldAfter }
}

// CreateSchema runs schema statements as Setup does.
func (s *Store) CreateSchema(ctx context.Context, stmts ...string) (err error) {
	sess := s.session(ctx, neo4j.AccessModeWrite)
	defer func() { err = errors.Join(err, s.closeSession(ctx, sess)) }()
	return createSchema(ctx, sess, stmts)
}

// SetMaxTransactionRetryTime sets the driver's retry budget of the stores
// opened next and returns the previous one.
func SetMaxTransactionRetryTime(d time.Duration) time.Duration {
	old := maxTransactionRetryTime
	maxTransactionRetryTime = d
	return old
}
