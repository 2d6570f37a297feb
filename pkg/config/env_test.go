package config_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/config"
)

// A DOCGRAPH_* variable that sets nothing is refused, naming the nearest
// one that does; the variables set for other purposes pass.
func TestCheckEnv(t *testing.T) {
	llm := config.Default()
	llm.Extractor.LLM.APIKeyEnv = "DOCGRAPH_LLM_KEY"
	tests := []struct {
		name    string
		give    []string
		cfg     config.Config
		wantErr []string
	}{
		{"settings", []string{"DOCGRAPH_NATS_URL=nats://n:4222", "DOCGRAPH_WATCH_SETTLE=30s", "NEO4J_PASSWORD=x", "HOME=/root"}, config.Default(), nil},
		{"mistyped", []string{"DOCGRAPH_NATS_UR=nats://n:4222"}, config.Default(),
			[]string{"env DOCGRAPH_NATS_UR: docgraph reads no such variable (did you mean DOCGRAPH_NATS_URL?)"}},
		{"every one", []string{"DOCGRAPH_WATCH_SETLE=30s", "DOCGRAPH_DATA=/d", "DOCGRAPH_NATS_UR=nats://n:4222"}, config.Default(),
			[]string{"env DOCGRAPH_NATS_UR: docgraph reads no such variable (did you mean DOCGRAPH_NATS_URL?)",
				"env DOCGRAPH_WATCH_SETLE: docgraph reads no such variable (did you mean DOCGRAPH_WATCH_SETTLE?)"}},
		{"nothing near", []string{"DOCGRAPH_COLOUR=blue"}, config.Default(),
			[]string{"env DOCGRAPH_COLOUR: docgraph reads no such variable (--help names each setting's variable)"}},
		{"set to nothing", []string{"DOCGRAPH_NATS_UR="}, config.Default(), nil},
		{"tests and benchmarks", []string{"DOCGRAPH_TEST_AS_MAIN=1", "DOCGRAPH_TEST_LLM_KEY=sk", "DOCGRAPH_BENCH_DOCS=300"}, config.Default(), nil},
		{"compose image tag", []string{"DOCGRAPH_VERSION=1.2"}, config.Default(), nil},
		{"the LLM key's variable", []string{"DOCGRAPH_LLM_KEY=sk"}, llm, nil},
		{"another LLM key variable", []string{"DOCGRAPH_LLM_KEY=sk"}, config.Default(), []string{"env DOCGRAPH_LLM_KEY"}},
		{"kubernetes service links", []string{
			"DOCGRAPH_SERVICE_HOST=10.0.0.7", "DOCGRAPH_SERVICE_PORT=9090", "DOCGRAPH_SERVICE_PORT_METRICS=9090",
			"DOCGRAPH_PORT=tcp://10.0.0.7:9090", "DOCGRAPH_PORT_9090_TCP=tcp://10.0.0.7:9090",
			"DOCGRAPH_PORT_9090_TCP_PROTO=tcp", "DOCGRAPH_PORT_9090_TCP_PORT=9090", "DOCGRAPH_PORT_9090_TCP_ADDR=10.0.0.7",
			"DOCGRAPH_NATS_SERVICE_HOST=10.0.0.8", "DOCGRAPH_NATS_PORT=tcp://10.0.0.8:4222", "DOCGRAPH_NATS_PORT_4222_TCP_ADDR=10.0.0.8",
		}, config.Default(), nil},
		{"a port that is no service link", []string{"DOCGRAPH_NATS_PORT=4222"}, config.Default(), []string{"env DOCGRAPH_NATS_PORT"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := config.CheckEnv(tt.give, tt.cfg)
			if tt.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			lines := strings.Split(err.Error(), "\n")
			require.Len(t, lines, len(tt.wantErr), err.Error())
			for i, want := range tt.wantErr {
				assert.Contains(t, lines[i], want)
			}
		})
	}
}

func TestNearest(t *testing.T) {
	names := []string{"nats.url", "watch.settle", "docs"}
	tests := []struct {
		give, want string
	}{
		{"nats.ur", "nats.url"},
		{"watch.setle", "watch.settle"},
		{"doc", "docs"},
		{"colour", ""},
		{"do", ""}, // two edits from a four-letter name is too far
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			assert.Equal(t, tt.want, config.Nearest(tt.give, names))
		})
	}
}
