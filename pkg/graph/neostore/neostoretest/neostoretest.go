// Package neostoretest connects tests to the Neo4j that
// deployments/neo4j-dev/neo4j-dev (or CI) started.
package neostoretest

import (
	"os"
	"testing"

	"github.com/docgraph/docgraph/pkg/graph/neostore"
)

// SkipMessage is what a test says when Neo4j is not configured.
const SkipMessage = "NEO4J_URI not set; start Neo4j with deployments/neo4j-dev/neo4j-dev start " +
	"and export the variables it prints"

// Config returns the connection settings from NEO4J_URI, NEO4J_USER (default
// neo4j), NEO4J_PASSWORD and NEO4J_DATABASE. When NEO4J_URI is unset the
// test is skipped, except under CI=true, where it fails: CI starts Neo4j, so
// a skip there would hide a gap. Labels and RelTypes are left for the caller.
func Config(t testing.TB) neostore.Config {
	t.Helper()
	return config(t, os.Getenv)
}

func config(t testing.TB, getenv func(string) string) neostore.Config {
	t.Helper()
	uri := getenv("NEO4J_URI")
	if uri == "" {
		if getenv("CI") == "true" {
			t.Fatal("NEO4J_URI not set under CI=true: .ci/run must start Neo4j " +
				"(deployments/neo4j-dev/neo4j-dev start) and export NEO4J_URI and NEO4J_PASSWORD")
		}
		t.Skip(SkipMessage)
	}
	user := getenv("NEO4J_USER")
	if user == "" {
		user = "neo4j"
	}
	return neostore.Config{
		URI:      uri,
		User:     user,
		Password: getenv("NEO4J_PASSWORD"),
		Database: getenv("NEO4J_DATABASE"),
	}
}
