package neostoretest

import (
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/docgraph/docgraph/pkg/graph/neostore"
)

// fakeT records how a helper ended the test.
type fakeT struct {
	testing.TB
	fatal, skip string
}

func (f *fakeT) Helper() {}

func (f *fakeT) Fatal(args ...any) { f.fatal = fmt.Sprint(args...); runtime.Goexit() }

func (f *fakeT) Skip(args ...any) { f.skip = fmt.Sprint(args...); runtime.Goexit() }

func TestConfig(t *testing.T) {
	tests := []struct {
		name      string
		env       map[string]string
		want      neostore.Config
		wantFatal string
		wantSkip  string
	}{
		{name: "skip outside ci", env: map[string]string{}, wantSkip: "neo4j-dev start"},
		{name: "fail under ci", env: map[string]string{"CI": "true"}, wantFatal: "NEO4J_URI not set under CI=true"},
		{name: "defaults", env: map[string]string{"NEO4J_URI": "bolt://h:1", "NEO4J_PASSWORD": "pw"},
			want: neostore.Config{URI: "bolt://h:1", User: "neo4j", Password: "pw"}},
		{name: "all set", env: map[string]string{"NEO4J_URI": "neo4j://h", "NEO4J_USER": "u",
			"NEO4J_PASSWORD": "pw", "NEO4J_DATABASE": "db", "CI": "true"},
			want: neostore.Config{URI: "neo4j://h", User: "u", Password: "pw", Database: "db"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeT{TB: t}
			var got neostore.Config
			var wg sync.WaitGroup
			wg.Go(func() { got = config(f, func(k string) string { return tt.env[k] }) })
			wg.Wait()
			assert.Contains(t, f.fatal, tt.wantFatal)
			assert.Contains(t, f.skip, tt.wantSkip)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestConfigFromEnvironment(t *testing.T) {
	t.Setenv("NEO4J_URI", "bolt://example:7687")
	t.Setenv("NEO4J_USER", "")
	assert.Equal(t, "bolt://example:7687", Config(t).URI)
}
