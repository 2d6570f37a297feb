package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/bus/bustest"
)

// deadLetters lists the dead letters `dlq list --json` finds with args.
func deadLetters(t *testing.T, args ...string) ([]deadLetterJSON, error) {
	t.Helper()
	out, errOut, err := docgraph(t, append([]string{"dlq", "list", "--json"}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", err, errOut)
	}
	var dls []deadLetterJSON
	if err := json.Unmarshal([]byte(out), &dls); err != nil {
		return nil, fmt.Errorf("%w: %s", err, out)
	}
	return dls, nil
}

// Operator commands reach the docgraph that runs on their --data, through
// the NATS address it recorded there, never whatever listens on
// --nats.listen; a second up or ingest on that data fails at once.
func TestOperatorCommandsReachTheDocgraphOnTheirData(t *testing.T) {
	inX, x := t.TempDir(), t.TempDir()
	writeFiles(t, inX, map[string]string{"empty.txt": "", "ok.md": "# Notes\n\nNothing to see here.\n"})
	listen := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	up := startProc(t, "up", "--watch", inX, "--data", x, "--nats.listen", listen, "--metrics-addr", "",
		"--log-format", "json", "--extractor.refresh_delay", "50ms")
	inY, y := t.TempDir(), t.TempDir()
	writeFiles(t, inY, map[string]string{"ok.md": "# Notes\n\nNothing to see here.\n"})
	mustDocgraph(t, ingestArgs(y, inY)...)

	// X's dead letter, through its up (--nats.listen off is not where it
	// listens).
	waitUntil(t, 60*time.Second, func() error {
		dls, err := deadLetters(t, "--data", x, "--nats.listen", "off")
		if err == nil && len(dls) != 1 {
			err = fmt.Errorf("%d dead letters, want 1", len(dls))
		}
		return err
	})
	// Y has none, although X's up listens where Y's --nats.listen points.
	dls, err := deadLetters(t, "--data", y, "--nats.listen", listen)
	require.NoError(t, err)
	assert.Empty(t, dls)

	// A replay on X goes to X's up, which processes the copies at once.
	out, errOut, err := docgraph(t, "replay", "parser", "--from-seq", "1", "--data", x, "--nats.listen", "off")
	require.NoError(t, err, errOut)
	assert.Contains(t, out, "republished 2 messages of DOCGRAPH_FILES (seq 1 to 2)")
	assert.NotContains(t, errOut, "no docgraph is running")
	waitUntil(t, 60*time.Second, func() error {
		dls, err := deadLetters(t, "--data", x, "--all")
		if err == nil && len(dls) != 2 {
			err = fmt.Errorf("%d dead letters, want 2 (the replayed empty.txt failed again, superseding the first)", len(dls))
		}
		return err
	})

	// A second process that would run NATS on X's store fails before it
	// starts anything.
	inUse := fmt.Sprintf("data dir %s is in use by docgraph up (pid %d)", x, up.cmd.Process.Pid)
	for _, args := range [][]string{
		{"up", "--data", x, "--nats.listen", "off", "--metrics-addr", ""},
		ingestArgs(x, inX),
	} {
		_, errOut, err := docgraph(t, args...)
		require.ErrorContains(t, err, inUse, args[0])
		assert.NotContains(t, errOut, "embedded nats started", args[0])
	}
	// An ingest is not told to take another --data, which would make a
	// graph of its own that the up's does not show.
	_, _, err = docgraph(t, ingestArgs(x, inX)...)
	require.ErrorContains(t, err, "while 'docgraph up' runs, drop the files into its watched folder instead")
	assert.NotContains(t, err.Error(), "another --data")
	_, _, err = docgraph(t, "graph", "stats", "--data", x)
	require.NoError(t, err, "the running up still answers")
}

// An up whose NATS takes no clients from other processes cannot be reached:
// the operator commands say so instead of opening its store a second time.
func TestOperatorCommandsOnAnUpWithoutListener(t *testing.T) {
	data := t.TempDir()
	p := startProc(t, "up", "--data", data, "--nats.listen", "off", "--metrics-addr", "off", "--log-format", "json")
	p.waitLog(t, 60*time.Second, `"all stages ready"`, 1)
	want := fmt.Sprintf("docgraph up (pid %d) is running on %s with nats.listen off; stop it or give it a listen address",
		p.cmd.Process.Pid, data)
	for _, args := range [][]string{
		{"status"}, {"dlq", "list"}, {"graph", "stats"}, {"replay", "parser", "--from-seq", "1"},
	} {
		_, _, err := docgraph(t, append(args, "--data", data)...)
		assert.ErrorContains(t, err, want, args)
	}
}

// Read-only commands on a --data without docgraph data say so, exit
// non-zero and create nothing.
func TestOperatorCommandsWithoutData(t *testing.T) {
	empty, in := t.TempDir(), t.TempDir()
	missing := filepath.Join(t.TempDir(), "nope")
	commands := [][]string{
		{"graph", "stats"}, {"graph", "export"}, {"status"}, {"dlq", "list"}, {"dlq", "purge", "--yes"},
		{"reconcile", "--watch", in}, {"replay", "parser", "--from-seq", "1", "--dry-run"},
	}
	for where, data := range map[string]string{"missing": missing, "empty": empty} {
		for _, args := range commands {
			t.Run(where+" "+strings.Join(args[:min(2, len(args))], " "), func(t *testing.T) {
				_, _, err := docgraph(t, append(args, "--data", data, "--nats.listen", "off")...)
				require.Error(t, err)
				assert.Contains(t, err.Error(), "no docgraph data at "+data)
				assert.Contains(t, err.Error(), "DOCGRAPH_DATA")
			})
		}
	}
	assert.NoDirExists(t, missing)
	entries, err := os.ReadDir(empty)
	require.NoError(t, err)
	assert.Empty(t, entries)

	// Data of a docgraph that never had an embedded graph (it wrote to
	// Neo4j) has no graph to show.
	data := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(data, "nats"), 0o750))
	_, _, err = docgraph(t, "graph", "stats", "--data", data)
	assert.ErrorContains(t, err, "no docgraph data at "+data+", no embedded graph (graph.duckdb) there")
	assert.NoFileExists(t, filepath.Join(data, "graph.duckdb"))
}

// up creates a missing watched folder only if its parent exists, and says
// so.
func TestUpWatchFolder(t *testing.T) {
	root := t.TempDir()
	deep := filepath.Join(root, "no", "such", "inbox")
	p := startProc(t, "up", "--watch", deep, "--data", t.TempDir(), "--nats.listen", "off", "--metrics-addr", "")
	select {
	case err := <-p.done:
		p.done <- err
		assert.Error(t, err)
		assert.Contains(t, p.log(), "watch.dir: "+deep+" does not exist, nor its parent folder "+filepath.Dir(deep))
	case <-time.After(60 * time.Second):
		t.Fatalf("up --watch %s still runs:\n%s", deep, p.log())
	}
	assert.NoDirExists(t, filepath.Join(root, "no"))

	inbox := filepath.Join(root, "inbox")
	p = startProc(t, "up", "--watch", inbox, "--data", t.TempDir(), "--nats.listen", "off", "--metrics-addr", "",
		"--log-format", "json")
	p.waitLog(t, 60*time.Second, `"all stages ready"`, 1)
	assert.DirExists(t, inbox)
	assert.Contains(t, p.log(), `"msg":"watch folder created","dir":"`+inbox+`"`)
}

// An address in use fails up at once, before anything starts.
func TestUpAddressInUse(t *testing.T) {
	addr := takenAddr(t)
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"nats.listen", []string{"--nats.listen", addr, "--metrics-addr", ""}, "nats.listen: embedded nats: listen tcp " + addr +
			": bind: address already in use (give each docgraph process on this machine its own --nats.listen, or off for none)"},
		{"metrics.addr", []string{"--nats.listen", "off", "--metrics-addr", addr}, "metrics.addr: listen tcp " + addr + ": bind: address already in use"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := t.TempDir()
			writeFiles(t, in, map[string]string{"a.md": "# A\n"})
			_, errOut, err := docgraph(t, append([]string{"up", "--watch", in, "--data", t.TempDir(), "--log-format", "json"}, tt.args...)...)
			require.ErrorContains(t, err, tt.wantErr)
			assert.NotContains(t, errOut, "file published")
			assert.NotContains(t, errOut, "stage consuming")
		})
	}
}

// An up that fails at start removes the data directory it created and
// left empty, so that no folder looks like docgraph data to the operator
// commands; one that existed before stays.
func TestFailedUpRemovesTheDataItCreated(t *testing.T) {
	addr := takenAddr(t)
	tests := []struct {
		name    string
		args    []string
		existed bool
	}{
		{"nats.listen in use", []string{"--nats.listen", addr, "--metrics-addr", ""}, false},
		{"metrics.addr in use", []string{"--nats.listen", "off", "--metrics-addr", addr}, false},
		{"nats.listen in use, data existed", []string{"--nats.listen", addr, "--metrics-addr", ""}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := t.TempDir()
			writeFiles(t, in, map[string]string{"a.md": "# A\n"})
			data := filepath.Join(t.TempDir(), "new", "data")
			if tt.existed {
				require.NoError(t, os.MkdirAll(data, 0o750))
			}
			_, _, err := docgraph(t, append([]string{"up", "--watch", in, "--data", data, "--log-format", "json"}, tt.args...)...)
			require.ErrorContains(t, err, "address already in use")
			if tt.existed {
				assert.DirExists(t, data)
				return
			}
			assert.NoDirExists(t, filepath.Dir(data))
			_, _, err = docgraph(t, "status", "--data", data)
			assert.ErrorContains(t, err, "no docgraph data at "+data)
		})
	}
	// The watch folder up created goes too; one that existed stays.
	inbox := filepath.Join(t.TempDir(), "inbox")
	_, errOut, err := docgraph(t, "up", "--watch", inbox, "--data", t.TempDir(), "--nats.listen", addr, "--metrics-addr", "", "--log-format", "json")
	require.ErrorContains(t, err, "address already in use")
	assert.Contains(t, errOut, `"msg":"watch folder created"`)
	assert.NoDirExists(t, inbox)
	require.NoError(t, os.Mkdir(inbox, 0o750))
	_, _, err = docgraph(t, "up", "--watch", inbox, "--data", t.TempDir(), "--nats.listen", addr, "--metrics-addr", "")
	require.ErrorContains(t, err, "address already in use")
	assert.DirExists(t, inbox)
}

// A second worker on one machine, started as the docs say (worker STAGE
// --nats URL), finds the metrics port of the first taken: the error says
// what to do about it.
func TestWorkerMetricsAddressInUse(t *testing.T) {
	addr := takenAddr(t)
	ns := bustest.NewServer(t)
	_, _, err := docgraph(t, "worker", "parser", "--nats", ns.ClientURL(), "--data", t.TempDir(), "--metrics-addr", addr)
	require.ErrorContains(t, err, "metrics.addr: listen tcp "+addr+": bind: address already in use")
	require.ErrorContains(t, err, "give each docgraph process on this machine its own --metrics-addr")
}

// A data directory inside the watched folder is not published: its store
// files change with every publication, so each publication published them
// again, without end. The watched folder cannot be the data directory.
func TestUpDataInsideTheWatchedFolder(t *testing.T) {
	inbox := t.TempDir()
	writeFile(t, filepath.Join(inbox, "a.md"), "# a\n\nA document.\n")
	p := startProc(t, "up", "--watch", inbox, "--data", filepath.Join(inbox, "state"), "--nats.listen", "off",
		"--metrics-addr", "", "--log-format", "json", "--watch.settle", "50ms", "--watch.rescan", "100ms")
	p.waitLog(t, 60*time.Second, `"all stages ready"`, 1)
	p.waitLog(t, 60*time.Second, `"msg":"graph updated"`, 1)
	writeFile(t, filepath.Join(inbox, "b.md"), "# b\n\nAnother document.\n")
	p.waitLog(t, 60*time.Second, `"msg":"file published"`, 2)
	assert.Equal(t, 2, strings.Count(p.log(), `"msg":"file published"`), "only a.md and b.md are published")
	assert.Equal(t, 0, strings.Count(p.log(), `"path":"state/`), "the data directory is not published")

	p = startProc(t, "up", "--watch", inbox, "--data", inbox, "--nats.listen", "off", "--metrics-addr", "")
	select {
	case err := <-p.done:
		p.done <- err
		assert.Error(t, err)
		assert.Contains(t, p.log(), "is excluded")
	case <-time.After(60 * time.Second):
		t.Fatalf("up --watch %s --data %s still runs:\n%s", inbox, inbox, p.log())
	}
}

// takenAddr returns an address on 127.0.0.1 that the test holds, so that
// listening on it fails.
func takenAddr(t *testing.T) string {
	t.Helper()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = taken.Close() })
	return taken.Addr().String()
}
