package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/testwait"
)

// TestMain lets the test binary act as the docgraph binary, so process
// tests run the real command (with coverage) without a separate build.
func TestMain(m *testing.M) {
	if os.Getenv("DOCGRAPH_TEST_AS_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// proc is a docgraph process started by a test.
type proc struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	logs strings.Builder
	done chan error
}

func startProc(t testing.TB, args ...string) *proc {
	t.Helper()
	return startProcEnv(t, nil, args...)
}

// startProcEnv is startProc with more environment variables (KEY=VALUE).
func startProcEnv(t testing.TB, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	// Tests pass every setting as a flag: the environment's Neo4j (set by
	// CI for the Neo4j tests) or DOCGRAPH_* settings must not leak in.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "NEO4J_") && !strings.HasPrefix(kv, "DOCGRAPH_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "DOCGRAPH_TEST_AS_MAIN=1", childRace())
	cmd.Env = append(cmd.Env, env...)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	cmd.Stdout = io.Discard
	require.NoError(t, cmd.Start())
	p := &proc{cmd: cmd, done: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for sc.Scan() {
			p.mu.Lock()
			p.logs.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
		}
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
	})
	return p
}

// childRace is the GORACE setting of a child process. A program built
// with the race detector sleeps a second before it exits, so that the
// reports of racing goroutines can be written; the tests stop hundreds of
// children, and a race report is written when the race happens.
func childRace() string {
	return "GORACE=" + strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0")
}

func (p *proc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

func (p *proc) waitLog(t *testing.T, timeout time.Duration, substr string, count int) {
	t.Helper()
	waitUntil(t, timeout, func() error {
		if n := strings.Count(p.log(), substr); n < count {
			return fmt.Errorf("%d of %d log lines with %q", n, count, substr)
		}
		return nil
	})
}

// waitUntil polls cond until it holds or the timeout passes.
var waitUntil = testwait.Until

// writeDocs writes n distinct Markdown documents with mentions.
func writeDocs(t *testing.T, dir string, n int) {
	t.Helper()
	for i := range n {
		var b strings.Builder
		fmt.Fprintf(&b, "# Report %d\n\n", i)
		for j := range 40 {
			fmt.Fprintf(&b, "Paragraph %d of report %d follows ISO %d and AACE %d. The schedule was reviewed again.\n\n", j, i, 1000+i, 10+j)
		}
		p := filepath.Join(dir, fmt.Sprintf("batch-%d", i%7), fmt.Sprintf("report-%04d.md", i))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(b.String()), 0o644))
	}
}

func TestStopMidIngestAndResume(t *testing.T) {
	tests := []struct {
		name     string
		sig      syscall.Signal
		wantExit int
	}{
		{"SIGTERM finishes in-flight work and exits 0", syscall.SIGTERM, 0},
		{"SIGKILL loses nothing", syscall.SIGKILL, -1},
	}
	in := t.TempDir()
	writeDocs(t, in, 150)
	clean := t.TempDir()
	mustDocgraph(t, ingestArgs(clean, in)...)
	want := mustDocgraph(t, "graph", "export", "--data", clean, "--format", "json")

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := t.TempDir()
			p := startProc(t, "up", "--watch", in, "--data", data, "--metrics-addr", "", "--nats.listen", "off",
				"--log-format", "json", "--log-level", "debug")
			p.waitLog(t, 60*time.Second, `"stage":"graph-writer"`, 5)
			require.NoError(t, p.cmd.Process.Signal(tt.sig))
			select {
			case err := <-p.done:
				p.done <- err
				if tt.wantExit == 0 {
					require.NoError(t, err, "exit after %s\n%s", tt.sig, tail(p.log(), 20))
					assert.Contains(t, p.log(), "docgraph stopped")
				}
			case <-time.After(60 * time.Second):
				t.Fatalf("no exit after %s", tt.sig)
			}
			// Starting again over the same data finishes the work: every
			// document is in the graph exactly once.
			resumeStart := time.Now()
			mustDocgraph(t, ingestArgs(data, in)...)
			t.Logf("resumed in %s", time.Since(resumeStart))
			got := mustDocgraph(t, "graph", "export", "--data", data, "--format", "json")
			require.Equal(t, want, got)
		})
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// notable is the last n lines of a JSON log above debug level: the
// warnings, errors and state changes that say why a worker stalled.
func notable(s string, n int) string {
	var out []string
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		if !strings.Contains(l, `"level":"DEBUG"`) {
			out = append(out, l)
		}
	}
	return tail(strings.Join(out, "\n"), n)
}
