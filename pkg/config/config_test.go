package config_test

import (
	"bytes"
	"flag"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/config"
)

func load(t *testing.T, args []string, env map[string]string) (config.Config, error) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	l := config.NewLoader()
	l.RegisterFlags(fs, true)
	if err := fs.Parse(args); err != nil {
		return config.Config{}, err
	}
	return l.Load(func(k string) string { return env[k] })
}

func TestDefaultsAreValid(t *testing.T) {
	require.NoError(t, config.Default().Validate())
	assert.Equal(t, "duckdb", config.Default().GraphStore())
}

func TestGoodFile(t *testing.T) {
	cfg, err := load(t, []string{"--config", "testdata/full.good.yaml"}, nil)
	require.NoError(t, err)
	require.NoError(t, cfg.Validate())
	assert.Equal(t, "/inbox", cfg.Watch.Dir)
	assert.Equal(t, 2*time.Second, cfg.Watch.Settle)
	assert.Equal(t, config.ByteSize(64<<20), cfg.Watch.MaxFileSize)
	assert.Equal(t, 3, cfg.Streams.Replicas)
	assert.Equal(t, 2*time.Second, cfg.NATS.PubAckTimeout)
	assert.Equal(t, []time.Duration{time.Second, 10 * time.Second}, cfg.Stages.GraphWriter.Backoff)
	assert.Equal(t, "neo4j", cfg.GraphStore())
	assert.Equal(t, 2, cfg.Stages.Parser.Concurrency, "unset keys keep their defaults")
}

func TestBadFiles(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{"unknown-key.bad.yaml", []string{`line 2: nats.urls: unknown key "urls" (known here: url, listen,`}},
		{"flow.bad.yaml", []string{"line 1: watch.rescan: want a duration with a unit, e.g. 30s, not `5`", `line 2: nats.lisen: unknown key "lisen"`}},
		{"wrong-types.bad.yaml", []string{"line 2: watch.settle: want a duration with a unit, e.g. 30s, not `5`",
			`line 3: watch.max_file_size: invalid size "lots" (want e.g. 256MiB)`,
			"line 6: stages.parser.concurrency: want a whole number, not `two`",
			"line 9: stages.parser.backoff[1]: want a duration with a unit, e.g. 30s, not `five`"}},
		{"bad-values.bad.yaml", []string{"watch.rescan", "streams.replicas (7)", "nats.pub_ack_timeout (10ms)", "graph.store (\"mysql\")",
			`nats.listen ("127.0.0.1:99999"): port must be a number from 0 to 65535`, "parser.chunk_size (10)", "parser.unmapped (\"guess\")", "parser.read_timeout (0s)", "log.level (\"loud\")", "stages.extractor.slow_after (0s)", `metrics.addr ("localhost"): must be host:port, or off`}},
		{"neo4j-without-uri.bad.yaml", []string{"neo4j.uri: required when graph.store is neo4j"}},
		{"bad-duration.bad.yaml", []string{"soon"}},
		{"batches.bad.yaml", []string{"graph.batch_small/medium/large", "stages.graph_writer.max_ack_pending (10)"}},
		{"extractor-kind.bad.yaml", []string{`extractor.kind ("magic"): must be rules or llm`}},
		{"llm-without-api.bad.yaml", []string{"extractor.llm.base_url: required when extractor.kind is llm",
			"extractor.llm.model: required when extractor.kind is llm"}},
		{"llm-bad-values.bad.yaml", []string{`extractor.llm.base_url ("api.openai.com/v1"): must be an http or https URL`,
			"extractor.llm.timeout (10m0s): must be less than stages.extractor.handler_timeout (5m0s)",
			"extractor.llm.max_chunk_chars (10): must be at least 100", "extractor.llm.cache_entries (-1): must not be negative"}},
		{"llm-api-key.bad.yaml", []string{`extractor.llm.api_key: unknown key "api_key"`}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			cfg, err := load(t, []string{"--config", filepath.Join("testdata", tt.file)}, nil)
			if err == nil {
				err = cfg.Validate()
			}
			require.Error(t, err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestPrecedenceFlagsOverEnvOverFile(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"file", []string{"--config", "testdata/full.good.yaml"}, nil, "nats://a:4222,nats://b:4222"},
		{"env over file", []string{"--config", "testdata/full.good.yaml"}, map[string]string{"DOCGRAPH_NATS_URL": "nats://env:4222"}, "nats://env:4222"},
		{"flag over env", []string{"--config", "testdata/full.good.yaml", "--nats.url", "nats://flag:4222"}, map[string]string{"DOCGRAPH_NATS_URL": "nats://env:4222"}, "nats://flag:4222"},
		{"short alias", []string{"--nats", "nats://alias:4222"}, nil, "nats://alias:4222"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := load(t, tt.args, tt.env)
			require.NoError(t, err)
			assert.Equal(t, tt.want, cfg.NATS.URL)
		})
	}
}

func TestEnvAliasesAndTypes(t *testing.T) {
	cfg, err := load(t, nil, map[string]string{
		"NEO4J_URI": "bolt://n:7687", "NEO4J_PASSWORD": "pw-secret",
		"DOCGRAPH_STAGES_EXTRACTOR_CONCURRENCY": "6",
		"DOCGRAPH_NATS_SYNC_ALWAYS":             "true",
		"DOCGRAPH_STAGES_PARSER_BACKOFF":        "1s, 2s",
		"DOCGRAPH_WATCH_MAX_FILE_SIZE":          "1GiB",
	})
	require.NoError(t, err)
	assert.Equal(t, "bolt://n:7687", cfg.Neo4j.URI)
	assert.Equal(t, "pw-secret", cfg.Neo4j.Password)
	assert.Equal(t, 6, cfg.Stages.Extractor.Concurrency)
	assert.True(t, cfg.NATS.SyncAlways)
	assert.Equal(t, []time.Duration{time.Second, 2 * time.Second}, cfg.Stages.Parser.Backoff)
	assert.Equal(t, config.ByteSize(1<<30), cfg.Watch.MaxFileSize)
	assert.Equal(t, "neo4j", cfg.GraphStore())

	_, err = load(t, nil, map[string]string{"DOCGRAPH_STAGES_EXTRACTOR_CONCURRENCY": "many"})
	assert.ErrorContains(t, err, "DOCGRAPH_STAGES_EXTRACTOR_CONCURRENCY")
	_, err = load(t, []string{"--watch.settle", "soon"}, nil)
	assert.ErrorContains(t, err, "invalid duration")
}

func TestPasswordFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "pw")
	require.NoError(t, writeFile(p, "from-file\n"))
	cfg, err := load(t, []string{"--neo4j.password_file", p}, nil)
	require.NoError(t, err)
	assert.Equal(t, "from-file", cfg.Neo4j.Password)
	_, err = load(t, []string{"--neo4j.password_file", p + ".missing"}, nil)
	assert.ErrorContains(t, err, "neo4j.password_file")
}

func TestLLMConfig(t *testing.T) {
	env := map[string]string{"DOCGRAPH_TEST_LLM_KEY": "sk-from-env"}
	cfg, err := load(t, []string{"--config", "testdata/llm.good.yaml"}, env)
	require.NoError(t, err)
	require.NoError(t, cfg.Validate())
	l := cfg.Extractor.LLM
	assert.Equal(t, "llm", cfg.Extractor.Kind)
	assert.Equal(t, "https://api.openai.com/v1", l.BaseURL)
	assert.Equal(t, "gpt-4o-mini", l.Model)
	assert.Equal(t, "sk-from-env", l.APIKey, "the key comes from the variable api_key_env names")
	assert.Equal(t, 45*time.Second, l.Timeout)
	assert.Equal(t, 4000, l.MaxChunkChars)
	assert.Zero(t, l.CacheEntries)
	assert.NoError(t, l.MissingAPIKey())

	cfg, err = load(t, []string{"--config", "testdata/llm.good.yaml"}, nil)
	require.NoError(t, err)
	require.NoError(t, cfg.Validate(), "commands that run no extractor need no key")
	assert.ErrorContains(t, cfg.Extractor.LLM.MissingAPIKey(),
		"extractor.llm.api_key_env: environment variable DOCGRAPH_TEST_LLM_KEY is not set")

	def := config.Default()
	assert.Equal(t, "rules", def.Extractor.Kind)
	assert.Equal(t, "OPENAI_API_KEY", def.Extractor.LLM.APIKeyEnv)
	assert.Positive(t, def.Extractor.LLM.Timeout)

	cfg, err = load(t, []string{"--extractor.kind", "llm", "--extractor.llm.base_url", "http://127.0.0.1:8080/v1",
		"--extractor.llm.model", "local", "--extractor.llm.api_key_env", ""}, nil)
	require.NoError(t, err)
	require.NoError(t, cfg.Validate(), "an API without keys")
	assert.Empty(t, cfg.Extractor.LLM.APIKey)
	assert.NoError(t, cfg.Extractor.LLM.MissingAPIKey())

	cfg, err = load(t, nil, map[string]string{"DOCGRAPH_EXTRACTOR_KIND": "llm", "DOCGRAPH_EXTRACTOR_LLM_BASE_URL": "http://h/v1",
		"DOCGRAPH_EXTRACTOR_LLM_MODEL": "m", "OPENAI_API_KEY": "sk-default-env"})
	require.NoError(t, err)
	require.NoError(t, cfg.Validate())
	assert.Equal(t, "sk-default-env", cfg.Extractor.LLM.APIKey)
	assert.Contains(t, config.Paths(), "extractor.llm.base_url")
	assert.NotContains(t, config.Paths(), "extractor.llm.api_key", "the key itself is no setting")
}

func TestSecretsAreNotLogged(t *testing.T) {
	cfg := config.Default()
	cfg.NATS.Password, cfg.NATS.Token, cfg.Neo4j.Password = "nats-secret", "token-secret", "neo-secret"
	cfg.Extractor.LLM.APIKey = "sk-llm-secret"
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", slog.Any("config", cfg))
	out := buf.String()
	for _, s := range []string{"nats-secret", "token-secret", "neo-secret", "sk-llm-secret"} {
		assert.NotContains(t, out, s)
	}
	assert.Contains(t, out, "REDACTED")
}

func TestByteSize(t *testing.T) {
	tests := []struct {
		give    string
		want    config.ByteSize
		wantErr bool
	}{
		{"4096", 4096, false}, {"10KB", 10000, false}, {"1KiB", 1024, false}, {"256MiB", 256 << 20, false},
		{"2GB", 2e9, false}, {"1.5GB", 0, true}, {"-1", 0, true}, {"lots", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			got, err := config.ParseByteSize(tt.give)
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestByteSizeString(t *testing.T) {
	for give, want := range map[config.ByteSize]string{0: "0", 1000: "1000", 1024: "1KiB", 1536 << 10: "1536KiB", 256 << 20: "256MiB", 2 << 30: "2GiB"} {
		assert.Equal(t, want, give.String())
		back, err := config.ParseByteSize(want)
		require.NoError(t, err)
		assert.Equal(t, give, back, "%s reads back", want)
	}
	_, err := config.ParseByteSize("lotsMiB")
	assert.ErrorContains(t, err, `"lotsMiB"`, "the error quotes what was given")
}

// Every flag says what it is, its default and its environment variable;
// an alias of the same name as its path is that path's flag.
func TestFlagHelp(t *testing.T) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	config.NewLoader().RegisterFlags(fs, true)
	fs.VisitAll(func(f *flag.Flag) {
		assert.NotRegexp(t, `^\s*(\(|\[|$)`, f.Usage, "--%s has no help", f.Name)
	})
	assert.Equal(t, "larger files are refused (e.g. 256MiB) (default 256MiB) [env DOCGRAPH_WATCH_MAX_FILE_SIZE]",
		fs.Lookup("watch.max_file_size").Usage)
	assert.Contains(t, fs.Lookup("data").Usage, `(default ".docgraph") [env DOCGRAPH_DATA]`)
	assert.NotContains(t, fs.Lookup("data").Usage, "same as")
	assert.Contains(t, fs.Lookup("log-format").Usage, "(same as --log.format)")
}

func TestPathsCoverEveryField(t *testing.T) {
	paths := config.Paths()
	assert.Contains(t, paths["nats.url"], "DOCGRAPH_NATS_URL")
	assert.Contains(t, paths["neo4j.password"], "NEO4J_PASSWORD")
	assert.Contains(t, paths, "stages.graph_writer.max_ack_pending")
	for alias, path := range config.Aliases {
		assert.Contains(t, paths, path, "alias --%s", alias)
	}
}

func TestGraphMaxRows(t *testing.T) {
	cfg := config.Default()
	assert.Equal(t, config.EmbeddedMaxRows, cfg.GraphMaxRows())
	cfg.Neo4j.URI = "bolt://127.0.0.1:7687"
	assert.Equal(t, config.Neo4jMaxRows, cfg.GraphMaxRows())
	cfg.Graph.MaxRows = 500
	assert.Equal(t, 500, cfg.GraphMaxRows())
	cfg.Graph.MaxRows = -1
	assert.ErrorContains(t, cfg.Validate(), "graph.max_rows (-1): must not be negative")
}

func TestDuplicateWindows(t *testing.T) {
	cfg := config.Default()
	assert.Equal(t, 10*time.Minute, cfg.Streams.Duplicates)
	assert.Equal(t, 2*time.Minute, cfg.Streams.DataDuplicates)
	assert.Contains(t, config.Paths(), "streams.data_duplicates")

	cfg.Streams.DataDuplicates = 10 * time.Second
	assert.ErrorContains(t, cfg.Validate(), "streams.data_duplicates (10s): shorter than stages.")
	cfg.Streams.DataDuplicates = -time.Second
	assert.ErrorContains(t, cfg.Validate(), "streams.data_duplicates (-1s): must not be negative")
	cfg.Streams.DataDuplicates = 0 // the files stream's window
	assert.NoError(t, cfg.Validate())
}

func TestChunkHistory(t *testing.T) {
	cfg := config.Default()
	assert.Zero(t, cfg.Streams.ChunksMaxAge, "the chunk stream keeps its history")
	assert.Contains(t, config.Paths(), "streams.chunks_max_age")
	cfg.Streams.ChunksMaxAge = -time.Hour
	assert.ErrorContains(t, cfg.Validate(), "streams.chunks_max_age (-1h0m0s): must not be negative")
}

func TestWatchIgnore(t *testing.T) {
	cfg, err := load(t, []string{"--watch.ignore", "archive, drafts/*,*.bak"}, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"archive", "drafts/*", "*.bak"}, cfg.Watch.Ignore)
	cfg, err = load(t, nil, map[string]string{"DOCGRAPH_WATCH_IGNORE": "*.png"})
	require.NoError(t, err)
	assert.Equal(t, []string{"*.png"}, cfg.Watch.Ignore)

	cfg = config.Default()
	assert.Empty(t, cfg.Watch.Ignore)
	cfg.Watch.Ignore = []string{"ok*", "[bad"}
	assert.ErrorContains(t, cfg.Validate(), `watch.ignore[1] ("[bad"): not a glob pattern`)
}

// A bool setting's flag is a switch: given alone it sets true, and takes
// =false or =true.
func TestBoolFlagsAreSwitches(t *testing.T) {
	cfg, err := load(t, []string{"--nats.sync_always", "--watch.allow_empty", "inbox"}, nil)
	require.NoError(t, err)
	assert.True(t, cfg.NATS.SyncAlways)
	assert.True(t, cfg.Watch.AllowEmpty)

	cfg, err = load(t, []string{"--nats.sync_always=false"}, map[string]string{"DOCGRAPH_NATS_SYNC_ALWAYS": "true"})
	require.NoError(t, err)
	assert.False(t, cfg.NATS.SyncAlways, "the flag wins over the environment")

	_, err = load(t, []string{"--watch.allow_empty=maybe"}, nil)
	assert.ErrorContains(t, err, `invalid boolean value "maybe" for -watch.allow_empty`)
}
