package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/config"
	"github.com/docgraph/docgraph/pkg/graph/neostore/neostoretest"
)

// TestNeo4jPasswordChangedWhileUp changes the password of the user `docgraph
// up` writes as while it runs (a rotated secret) and cuts its connections:
// the graph writer's logins are refused, and it holds the new file's
// messages (paused, as in an outage) instead of dead-lettering them; once
// the password works again, the file reaches Neo4j.
func TestNeo4jPasswordChangedWhileUp(t *testing.T) {
	neo4jArgs(t) // takes the shared Neo4j lock and wipes the database
	cfg := neostoretest.Config(t)
	target, err := url.Parse(cfg.URI)
	require.NoError(t, err)
	admin, err := neo4j.NewDriverWithContext(cfg.URI, neo4j.BasicAuth(cfg.User, cfg.Password, ""))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, admin.Close(context.WithoutCancel(t.Context()))) })
	system := func(q string, params map[string]any) {
		t.Helper()
		_, err := neo4j.ExecuteQuery(t.Context(), admin, q, params, neo4j.EagerResultTransformer,
			neo4j.ExecuteQueryWithDatabase("system"))
		require.NoError(t, err, q)
	}
	const user, password = "docgraph_rotation", "rotation-pw-1"
	system("CREATE OR REPLACE USER "+user+" SET PASSWORD $pw CHANGE NOT REQUIRED", map[string]any{"pw": password})
	t.Cleanup(func() {
		_, err := neo4j.ExecuteQuery(context.WithoutCancel(t.Context()), admin, "DROP USER "+user+" IF EXISTS", nil,
			neo4j.EagerResultTransformer, neo4j.ExecuteQueryWithDatabase("system"))
		require.NoError(t, err)
	})
	inNeo4j := func(path string) func() error {
		return func() error {
			res, err := neo4j.ExecuteQuery(t.Context(), admin,
				"MATCH (:Document {key: $path})-[:HAS_CHUNK]->(c:Chunk) RETURN count(c) AS chunks",
				map[string]any{"path": path}, neo4j.EagerResultTransformer, neo4j.ExecuteQueryWithDatabase(cfg.Database))
			if err != nil {
				return err
			}
			if n, _ := res.Records[0].Get("chunks"); n.(int64) == 0 {
				return fmt.Errorf("%s not in Neo4j yet", path)
			}
			return nil
		}
	}

	px := newProxy(t, target.Host)
	px.forward(t)
	in := t.TempDir()
	p := startProc(t, "up", "--watch", in, "--data", t.TempDir(), "--nats.listen", "off", "--log-format", "json",
		"--metrics-addr", "", "--watch.settle", "100ms", "--neo4j", "bolt://"+px.addr,
		"--neo4j.user", user, "--neo4j.password", password)
	p.waitLog(t, 60*time.Second, `"msg":"all stages ready"`, 1)
	write := func(name string) {
		t.Helper()
		require.NoError(t, os.WriteFile(filepath.Join(in, name),
			[]byte("# "+name+"\n\nThe steering committee approved AACE-101 for "+name+".\n"), 0o600))
	}
	write("before.md")
	waitUntil(t, 60*time.Second, inNeo4j("before.md"))

	// The password changes; the pooled connections go, so the next write logs in again.
	system("ALTER USER "+user+" SET PASSWORD $pw CHANGE NOT REQUIRED", map[string]any{"pw": "rotation-pw-2"})
	px.close()
	px.forward(t)
	write("during.md")
	waitUntil(t, 60*time.Second, func() error {
		if dl := linesWith(p.log(), `"msg":"message dead-lettered"`); len(dl) > 0 {
			t.Fatalf("dead-lettered for a refused login, no fault of the message:\n%s", dl[0])
		}
		if !strings.Contains(p.log(), pausedLog) {
			return errors.New("graph writer not paused yet")
		}
		return nil
	})

	system("ALTER USER "+user+" SET PASSWORD $pw CHANGE NOT REQUIRED", map[string]any{"pw": password})
	waitUntil(t, 120*time.Second, inNeo4j("during.md"))
	p.waitLog(t, 10*time.Second, resumedLog, 1)
	require.NotContains(t, p.log(), `"msg":"message dead-lettered"`)
	if done, err := p.exited(); done {
		require.NoError(t, errors.Join(errors.New("docgraph up exited"), err), tail(p.log(), 20))
	}
}

// A login refused while no password was given says how to give one; with a
// password, or for another error, the error stays as it is.
func TestNeo4jLoginHint(t *testing.T) {
	refused := fmt.Errorf("neo4j bolt://x: %w", &neo4j.Neo4jError{Code: "Neo.ClientError.Security.Unauthorized"})
	unreachable := errors.New("neo4j bolt://x: connection refused")
	tests := []struct {
		name     string
		give     error
		password string
		want     string // added to the error
	}{
		{"no password", refused, "", ": no password was given (set NEO4J_PASSWORD, or neo4j.password_file)"},
		{"wrong password", refused, "not-the-one", ""},
		{"unreachable", unreachable, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := neo4jLoginHint(tt.give, config.Neo4jConfig{Password: tt.password})
			require.ErrorIs(t, err, tt.give)
			assert.Equal(t, tt.give.Error()+tt.want, err.Error())
		})
	}
}
