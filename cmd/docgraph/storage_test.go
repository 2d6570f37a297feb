package main

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A docgraph whose JetStream store is full (nats.max_store) waits for room:
// the stages retry what they cannot store, dead-letter nothing and say so
// once; once room is made, every file gets into the graph by itself.
func TestUpWaitsForRoomInJetStream(t *testing.T) {
	in, data := t.TempDir(), t.TempDir()
	copyTree(t, filepath.Join(corpusDir(t, "sample"), "input"), in, func(string) bool { return true })
	// Most of the store is taken before docgraph starts.
	const maxStore = 2 << 20
	withNATS(t, data, func(js jetstream.JetStream) {
		_, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: "FILLER", Subjects: []string{"filler"}, Storage: jetstream.FileStorage})
		require.NoError(t, err)
		for range (maxStore - 64<<10) / (16 << 10) {
			_, err := js.Publish(t.Context(), "filler", make([]byte, 16<<10))
			require.NoError(t, err)
		}
	})

	listen := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	p := startProc(t, "up", "--watch", in, "--data", data, "--nats.listen", listen, "--metrics-addr", "", "--log-format", "json",
		"--nats.max_store", fmt.Sprint(maxStore), "--watch.rescan", "1s", "--extractor.refresh_delay", "50ms")
	p.waitLog(t, 60*time.Second, "JetStream has no room for this stage's outputs", 1)
	// status, through the running process, measures the store against the
	// limit that process's embedded server has.
	status := mustDocgraph(t, "status", "--data", data)
	assert.Regexp(t, `JetStream store: [\d.]+ (KiB|MiB) used of 2\.0 MiB \(server limit\), (9\d|100)%`, status)
	assert.Regexp(t, `\nFILLER\s+\d+\s+\d+`, status, "every stream takes room")
	assert.Regexp(t, `warning: the JetStream store is (9\d|100)% full: when`, status)
	assert.Contains(t, status, `full: when it is full, the stages wait for room; see "A full store" in deployments/README.md`)

	js := connect(t, "nats://"+listen)
	require.NoError(t, js.DeleteStream(t.Context(), "FILLER"))
	exp := loadExpected(t, "sample")
	waitUntil(t, 120*time.Second, func() error {
		out, errOut, err := docgraph(t, "graph", "export", "--data", data, "--nats.listen", listen, "--format", "json")
		if err != nil {
			return fmt.Errorf("%v: %s", err, errOut)
		}
		return tryCheck(parseExport(t, []byte(out)), exp)
	})
	assert.Contains(t, mustDocgraph(t, "dlq", "list", "--data", data, "--nats.listen", listen), "no dead letters")
	assert.NotContains(t, p.log(), "message dead-lettered")
}
