package neostore

import (
	"context"
	"errors"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// Wipe deletes everything in the database, in batches (an auto-commit
// query) so that a large benchmark graph needs no huge transaction.
func (s *Store) Wipe(ctx context.Context) (err error) {
	sess := s.driver.NewSession(ctx, neo4j.SessionConfig{DatabaseName: s.database})
	defer func() { err = errors.Join(err, sess.Close(ctx)) }()
	res, err := sess.Run(ctx, "MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS", nil)
	if err != nil {
		return err
	}
	_, err = res.Consume(ctx)
	return err
}

// Driver exposes the driver to the benchmark's plain-driver baseline.
func (s *Store) Driver() neo4j.DriverWithContext { return s.driver }
