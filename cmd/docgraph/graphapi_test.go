package main

import (
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// While `docgraph up` holds the embedded graph, graph commands ask its
// graph writer through NATS; /readyz says ready. The export's temporary
// file lives under --data: the system's temp dir may not be writable (a
// read-only root file system).
func TestGraphCommandsWhileUpRuns(t *testing.T) {
	in, data := t.TempDir(), t.TempDir()
	copyTree(t, filepath.Join(corpusDir(t, "sample"), "input"), in, func(string) bool { return true })
	listen := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	metrics := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	noTemp := "TMPDIR=" + filepath.Join(t.TempDir(), "missing")
	startProcEnv(t, []string{noTemp}, "up", "--watch", in, "--data", data, "--nats.listen", listen, "--metrics-addr", metrics,
		"--extractor.refresh_delay", "50ms")

	waitUntil(t, 60*time.Second, func() error {
		resp, err := http.Get("http://" + metrics + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("readyz %d", resp.StatusCode)
		}
		return nil
	})
	exp := loadExpected(t, "sample")
	waitUntil(t, 60*time.Second, func() error {
		out, errOut, err := docgraph(t, "graph", "export", "--data", data, "--nats.listen", listen, "--format", "json")
		if err != nil {
			return fmt.Errorf("%v: %s", err, errOut)
		}
		return tryCheck(parseExport(t, []byte(out)), exp)
	})
	stats := mustDocgraph(t, "graph", "stats", "--data", data, "--nats.listen", listen)
	require.True(t, strings.HasPrefix(stats, "nodes: "), stats)
}

// tryCheck is checkGraph as an error, for polling.
func tryCheck(ex exportJSON, exp expected) error {
	ft := &failT{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		checkGraph(ft, ex, exp, checkOpts{structured: true})
	}()
	<-done
	if ft.msg != "" {
		return fmt.Errorf("%s", ft.msg)
	}
	return nil
}

// Go's profiles are served beside /metrics only when metrics.pprof asks
// for them: they show the process's internals.
func TestPprofOnlyWhenAsked(t *testing.T) {
	for _, tt := range []struct {
		flags []string
		want  int
	}{
		{nil, http.StatusNotFound},
		{[]string{"--metrics.pprof"}, http.StatusOK},
	} {
		metrics := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		args := append([]string{"up", "--watch", t.TempDir(), "--data", t.TempDir(), "--nats.listen", "off", "--metrics-addr", metrics}, tt.flags...)
		startProc(t, args...)
		waitUntil(t, 60*time.Second, func() error {
			code, err := httpStatus(t.Context(), "http://"+metrics+"/readyz")
			if err == nil && code != http.StatusOK {
				err = fmt.Errorf("readyz %d", code)
			}
			return err
		})
		code, body, err := httpGetStatus(t.Context(), "http://"+metrics+"/debug/pprof/goroutine?debug=1")
		require.NoError(t, err)
		require.Equal(t, tt.want, code, "%v", tt.flags)
		if tt.want == http.StatusOK {
			require.Contains(t, body, "goroutine profile:")
		}
	}
}
