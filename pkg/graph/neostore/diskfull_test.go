package neostore_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/disk/disktest"
	"github.com/docgraph/docgraph/pkg/graph"
	"github.com/docgraph/docgraph/pkg/graph/graphtest"
	"github.com/docgraph/docgraph/pkg/graph/neostore"
)

// smallNeo4j runs a Neo4j of its own (deployments/neo4j-dev) with its
// files on a tmpfs of size bytes, and returns its settings.
func smallNeo4j(t *testing.T, size int) neostore.Config {
	t.Helper()
	if _, err := exec.LookPath("java"); err != nil && os.Getenv("CI") != "true" {
		t.Skip("java not found: a Neo4j of the test's own needs Java 17")
	}
	disk := disktest.Small(t, size)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	script, err := filepath.Abs("../../../deployments/neo4j-dev/neo4j-dev")
	require.NoError(t, err)
	const password = "docgraph-disk-test"
	run := func(cmd string) {
		c := exec.Command(script, cmd)
		c.Env = append(os.Environ(), "NEO4J_PORT="+strconv.Itoa(port), "NEO4J_PASSWORD="+password,
			"NEO4J_DATA="+filepath.Join(disk, "neo4j"), "NEO4J_HEAP=512m", "NEO4J_STOP_TIMEOUT=5", "NEO4J_START_TIMEOUT=240")
		out, err := c.CombinedOutput()
		if cmd == "stop" && strings.Contains(string(out), "killed it") {
			return // a Neo4j that failed to write cannot always stop cleanly
		}
		require.NoError(t, err, "neo4j-dev %s: %s\nits debug.log ends:\n%s", cmd, out, debugLogTail(disk))
	}
	run("start")
	t.Cleanup(func() { run("stop") })
	return neostore.Config{URI: fmt.Sprintf("bolt://127.0.0.1:%d", port), User: "neo4j", Password: password,
		Labels: graphtest.Labels(), RelTypes: graphtest.RelTypes()}
}

// debugLogTail returns the last lines of the test Neo4j's debug.log that
// are not stack frames: why a database did not start is there, not in the
// launcher's output.
func debugLogTail(disk string) string {
	data, err := os.ReadFile(filepath.Join(disk, "neo4j", "home", "logs", "debug.log"))
	if err != nil {
		return err.Error()
	}
	var lines []string
	for _, l := range strings.Split(string(data), "\n") {
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "at ") && !strings.HasPrefix(t, "...") {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines[max(0, len(lines)-40):], "\n")
}

// Neo4j on a full disk fails the commit and then every transaction until
// it is restarted (its "critical error"). Both are outages, not bad data:
// the graph writer holds its messages instead of dead-lettering them, and
// writes them once Neo4j is back (TestNeo4jOutageMidIngest covers the
// holding and the writing). Whether Neo4j comes back by itself is its own
// affair: a commit that filled the disk can leave its transaction log with
// a torn last entry, and recovery then refuses to start the database
// ("Unreadable bytes are encountered after last readable position") until
// an operator deals with the log.
func TestApplyOnAFullDiskIsUnavailable(t *testing.T) {
	cfg := smallNeo4j(t, 150<<20) // Neo4j itself takes some 130 MiB
	s, err := neostore.Open(t.Context(), cfg, prometheus.NewRegistry())
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	require.NoError(t, s.Setup(t.Context()))

	ops := graphtest.BenchChunkOps(4000, 1)
	const batch = 140 // 10 documents
	failedAt := -1
	for i := 0; i < len(ops); i += batch {
		err := s.Apply(t.Context(), ops[i:min(i+batch, len(ops))])
		if err != nil {
			require.ErrorIs(t, err, graph.ErrUnavailable)
			failedAt = i
			break
		}
	}
	require.GreaterOrEqual(t, failedAt, 0, "the disk filled up")
	err = s.Apply(t.Context(), ops[failedAt:failedAt+1])
	require.ErrorIs(t, err, graph.ErrUnavailable, "a transaction after the failed commit")
	assert.Contains(t, err.Error(), "needs to be restarted")
}
