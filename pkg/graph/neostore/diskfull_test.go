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
	"golang.org/x/sys/unix"

	"github.com/docgraph/docgraph/pkg/disk/disktest"
	"github.com/docgraph/docgraph/pkg/graph"
	"github.com/docgraph/docgraph/pkg/graph/graphtest"
	"github.com/docgraph/docgraph/pkg/graph/neostore"
)

// smallNeo4j runs a Neo4j of its own (deployments/neo4j-dev) with its
// files on a tmpfs of size bytes, and returns its settings, the tmpfs and
// a function that restarts the server.
func smallNeo4j(t *testing.T, size int) (neostore.Config, string, func()) {
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
	// stopWait bounds a stop before the server is killed: short at the
	// end, where a Neo4j that failed to write may hang; long for the
	// restart, which has room again, so that Neo4j writes its checkpoint
	// and the start need not recover from a kill mid-shutdown.
	run := func(cmd string, stopWait int) {
		c := exec.Command(script, cmd)
		c.Env = append(os.Environ(), "NEO4J_PORT="+strconv.Itoa(port), "NEO4J_PASSWORD="+password,
			"NEO4J_DATA="+filepath.Join(disk, "neo4j"), "NEO4J_HEAP=512m", "NEO4J_STOP_TIMEOUT="+strconv.Itoa(stopWait),
			"NEO4J_START_TIMEOUT=240")
		out, err := c.CombinedOutput()
		if cmd == "stop" && strings.Contains(string(out), "killed it") {
			return // a Neo4j that failed to write cannot always stop cleanly
		}
		require.NoError(t, err, "neo4j-dev %s: %s", cmd, out)
	}
	run("start", 0)
	t.Cleanup(func() { run("stop", 5) })
	cfg := neostore.Config{URI: fmt.Sprintf("bolt://127.0.0.1:%d", port), User: "neo4j", Password: password,
		Labels: graphtest.Labels(), RelTypes: graphtest.RelTypes()}
	return cfg, disk, func() { run("stop", 120); run("start", 0) }
}

// Neo4j on a full disk fails the commit and then every transaction until
// it is restarted (its "critical error"). Both are outages, not bad data:
// the graph writer holds its messages instead of dead-lettering them, and
// once there is room and Neo4j is back, the same writes succeed.
func TestApplyOnAFullDiskIsUnavailable(t *testing.T) {
	cfg, disk, restart := smallNeo4j(t, 150<<20) // Neo4j itself takes some 130 MiB
	open := func() *neostore.Store {
		s, err := neostore.Open(t.Context(), cfg, prometheus.NewRegistry())
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	s := open()
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
	err := s.Apply(t.Context(), ops[failedAt:failedAt+1])
	require.ErrorIs(t, err, graph.ErrUnavailable, "a transaction after the failed commit")
	assert.Contains(t, err.Error(), "needs to be restarted")
	require.NoError(t, s.Close())

	// Room for what the full disk holds and a new transaction log, which
	// Neo4j preallocates (256 MiB) when it starts: with less, that
	// preallocation could fill the disk again and the restart fail.
	require.NoError(t, unix.Mount("tmpfs", disk, "tmpfs", unix.MS_REMOUNT, fmt.Sprintf("size=%d", 1<<30)))
	restart()
	s = open()
	end := min(failedAt+3*batch, len(ops))
	for i := failedAt; i < end; i += batch {
		require.NoError(t, s.Apply(t.Context(), ops[i:min(i+batch, end)]))
	}
	stats, err := s.Stats(t.Context())
	require.NoError(t, err)
	assert.EqualValues(t, end/14, stats.Nodes[graph.LabelDocument], "every document written before and after, once")
	assert.EqualValues(t, end, stats.Nodes[graph.LabelChunk])
}
