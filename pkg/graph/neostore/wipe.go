package neostore

import (
	"context"
	"errors"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// Wipe deletes everything in the database (tests and resets), in batches
// (an auto-commit query) so that a large graph needs no huge transaction.
func (s *Store) Wipe(ctx context.Context) (err error) {
	sess := s.driver.NewSession(ctx, neo4j.SessionConfig{DatabaseName: s.database})
	defer func() { err = errors.Join(err, sess.Close(ctx)) }()
	// Relationships first: a node with very many of them (a structured
	// source's support) would not fit one inner transaction.
	for _, q := range []string{
		"MATCH ()-[r]->() CALL (r) { DELETE r } IN TRANSACTIONS OF 10000 ROWS",
		"MATCH (n) CALL (n) { DELETE n } IN TRANSACTIONS OF 10000 ROWS",
	} {
		res, err := sess.Run(ctx, q, nil)
		if err != nil {
			return err
		}
		if _, err := res.Consume(ctx); err != nil {
			return err
		}
	}
	return nil
}
