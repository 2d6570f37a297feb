// Package neostoretest connects tests to the Neo4j that
// deployments/neo4j-dev/neo4j-dev (or CI) started.
package neostoretest

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
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
//
// Tests in several packages share one Neo4j and wipe it, so Config also
// takes an exclusive lock (a file lock keyed by the URI) that is held until
// the test ends: tests using Neo4j run one at a time across packages.
func Config(t testing.TB) neostore.Config {
	t.Helper()
	cfg := config(t, os.Getenv)
	lock(t, cfg.URI)
	return cfg
}

// held is this process's share of the cross-process lock: tests of one
// package run one after another, and a test may open several stores.
var held struct {
	sync.Mutex
	n int
	f *os.File
}

func lock(t testing.TB, uri string) {
	t.Helper()
	held.Lock()
	defer held.Unlock()
	if held.n == 0 {
		name := filepath.Join(os.TempDir(), "docgraph-neo4j-test-"+strings.NewReplacer("/", "_", ":", "_").Replace(uri)+".lock")
		f, err := os.OpenFile(name, os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			t.Fatalf("neo4j test lock: %v", err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			_ = f.Close()
			t.Fatalf("neo4j test lock: %v", err)
		}
		held.f = f
	}
	held.n++
	t.Cleanup(func() {
		held.Lock()
		defer held.Unlock()
		held.n--
		if held.n == 0 {
			_ = syscall.Flock(int(held.f.Fd()), syscall.LOCK_UN)
			_ = held.f.Close()
			held.f = nil
		}
	})
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
