package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/graph/neostore/neostoretest"
)

// TestNeo4jReadyAfterOutageAtStart starts `docgraph up` while Neo4j is
// unreachable (a proxy port with nothing listening), then lets the proxy
// forward to the real Neo4j: the process says it is retrying (naming the
// URI, never the password), is not ready until Neo4j answers, and then
// writes a dropped file to Neo4j.
func TestNeo4jReadyAfterOutageAtStart(t *testing.T) {
	neo4jArgs(t) // takes the shared Neo4j lock and wipes the database
	cfg := neostoretest.Config(t)
	target, err := url.Parse(cfg.URI)
	require.NoError(t, err)

	px := newProxy(t, target.Host)
	uri := "bolt://" + px.addr
	metricsAddr := freeAddr(t)
	in, data := t.TempDir(), t.TempDir()
	args := []string{"up", "--watch", in, "--data", data, "--nats.listen", "off", "--log-format", "json",
		"--metrics-addr", metricsAddr, "--neo4j", uri, "--neo4j.user", cfg.User}
	if cfg.Password != "" {
		args = append(args, "--neo4j.password", cfg.Password)
	}
	p := startProc(t, args...)

	// While nothing listens behind the proxy: retries named by URI, not ready.
	p.waitLog(t, 60*time.Second, `"msg":"graph store unavailable; retrying"`, 2)
	retrying := linesWith(p.log(), `"msg":"graph store unavailable; retrying"`)
	require.NotEmpty(t, retrying)
	for _, line := range retrying {
		assert.Contains(t, line, `"uri":"`+uri+`"`)
	}
	readyz := "http://" + metricsAddr + "/readyz"
	waitUntil(t, 30*time.Second, func() error {
		code, err := httpStatus(t.Context(), readyz)
		if err != nil {
			return err
		}
		if code != http.StatusServiceUnavailable {
			return fmt.Errorf("/readyz answered %d while Neo4j is unreachable, want 503", code)
		}
		return nil
	})
	p.waitLog(t, 60*time.Second, `"msg":"graph store unavailable; retrying"`, 3)
	code, err := httpStatus(t.Context(), readyz)
	require.NoError(t, err)
	require.Equal(t, http.StatusServiceUnavailable, code, "still unreachable, still not ready")

	// Neo4j reachable: ready, and a dropped file reaches it.
	px.forward(t)
	waitUntil(t, 90*time.Second, func() error {
		code, err := httpStatus(t.Context(), readyz)
		if err != nil {
			return err
		}
		if code != http.StatusOK {
			return fmt.Errorf("/readyz answered %d after Neo4j became reachable, want 200", code)
		}
		return nil
	})
	p.waitLog(t, 10*time.Second, `"msg":"graph store reachable"`, 1)

	require.NoError(t, os.MkdirAll(filepath.Join(in, "notes"), 0o750))
	require.NoError(t, os.WriteFile(filepath.Join(in, "notes", "ready.md"),
		[]byte("# Ready\n\nThe graph writer waited for Neo4j and then wrote this note.\n"), 0o600))
	driver, err := neo4j.NewDriverWithContext(cfg.URI, neo4j.BasicAuth(cfg.User, cfg.Password, ""))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, driver.Close(context.WithoutCancel(t.Context()))) })
	waitUntil(t, 60*time.Second, func() error {
		res, err := neo4j.ExecuteQuery(t.Context(), driver,
			"MATCH (d:Document {key: $path})-[:HAS_CHUNK]->(c:Chunk) RETURN count(c) AS chunks",
			map[string]any{"path": "notes/ready.md"}, neo4j.EagerResultTransformer,
			neo4j.ExecuteQueryWithDatabase(cfg.Database))
		if err != nil {
			return err
		}
		if n, _ := res.Records[0].Get("chunks"); n.(int64) == 0 {
			return errors.New("notes/ready.md not in Neo4j yet")
		}
		return nil
	})

	if cfg.Password != "" {
		assert.NotContains(t, p.log(), cfg.Password, "the Neo4j password must never be logged")
	}
}

func linesWith(log, substr string) []string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return out
}

func httpStatus(ctx context.Context, u string) (int, error) {
	code, _, err := httpGetStatus(ctx, u)
	return code, err
}

// freeAddr returns a 127.0.0.1 address with a port nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// proxy is a TCP port that refuses connections (nothing listens) until
// forward starts relaying them to target.
type proxy struct {
	addr, target string

	mu    sync.Mutex
	ln    net.Listener
	conns []net.Conn
	wg    sync.WaitGroup
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	p := &proxy{addr: freeAddr(t), target: target}
	t.Cleanup(p.close)
	return p
}

func (p *proxy) forward(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	require.NoError(t, err)
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				_ = c.Close()
				continue
			}
			if !p.track(c, up) {
				return
			}
			p.wg.Go(func() { relay(up, c) })
			p.wg.Go(func() { relay(c, up) })
		}
	})
}

// track registers a connection pair; false once the proxy is closed.
func (p *proxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		for _, c := range cs {
			_ = c.Close()
		}
		return false
	}
	p.conns = append(p.conns, cs...)
	return true
}

// relay copies src to dst, then closes both so the other direction ends too.
func relay(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	_ = dst.Close()
	_ = src.Close()
}

func (p *proxy) close() {
	p.mu.Lock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// TestUpWaitsForASilentNeo4j starts `docgraph up` against a port that
// accepts connections and never answers the Bolt handshake (the port of
// another service, a hung server): it says it is retrying, naming the URI,
// and stops at once on SIGTERM instead of hanging without a word.
func TestUpWaitsForASilentNeo4j(t *testing.T) {
	uri := "bolt://" + neostoretest.SilentServer(t)
	p := startProc(t, "up", "--watch", t.TempDir(), "--data", t.TempDir(), "--nats.listen", "off",
		"--log-format", "json", "--metrics-addr", "", "--neo4j", uri, "--neo4j.password", "s3cret-pw")
	p.waitLog(t, 60*time.Second, `"msg":"graph store unavailable; retrying"`, 1)
	retrying := linesWith(p.log(), `"msg":"graph store unavailable; retrying"`)
	assert.Contains(t, retrying[0], `"uri":"`+uri+`"`)
	assert.Contains(t, retrying[0], "no answer within")
	assert.NotContains(t, p.log(), "s3cret-pw")

	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	waitUntil(t, 15*time.Second, func() error {
		if done, _ := p.exited(); !done {
			return errors.New("docgraph up still running after SIGTERM")
		}
		return nil
	})
	_, err := p.exited()
	require.NoError(t, err, tail(p.log(), 10))
}
