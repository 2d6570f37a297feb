package neostore

import (
	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// Driver exposes the driver to the benchmark's plain-driver baseline.
func (s *Store) Driver() neo4j.DriverWithContext { return s.driver }

// SetDedupeKeys turns the merging of rows of one key off (or on again).
func SetDedupeKeys(on bool) { dedupeKeys = on }
