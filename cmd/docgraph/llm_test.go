package main

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/llm/llmtest"
)

// An ingest with --extractor.kind llm writes what the model finds in the
// text next to what the rules find; what the model makes up is not written.
func TestIngestWithLLMExtractor(t *testing.T) {
	t.Setenv("E2E_LLM_API_KEY", "sk-e2e")
	srv := llmtest.New(t, func(r llmtest.Request) llmtest.Reply {
		type entity struct {
			Type string `json:"type"`
			Text string `json:"text"`
		}
		ents := []entity{{"Person", "Ada Lovelace"}} // in no document
		for _, name := range []string{"Chidi Vasquez", "Emily Rossi"} {
			if strings.Contains(r.User(), name) {
				ents = append(ents, entity{"Person", strings.ToLower(name)})
			}
		}
		if r.Model != "e2e-model" || r.Authorization != "Bearer sk-e2e" || r.ResponseFormat.JSONSchema.Schema == nil {
			return llmtest.Reply{Status: 400, Body: llmtest.Error("unexpected request", "invalid_request_error")}
		}
		data, err := json.Marshal(map[string]any{"entities": ents, "relationships": []any{}})
		if err != nil {
			return llmtest.Reply{Status: 500}
		}
		return llmtest.Reply{Content: string(data)}
	})

	in := t.TempDir()
	copyTree(t, filepath.Join(corpusDir(t, "sample"), "input"), in, func(rel string) bool {
		return rel == "people_notes.txt" || rel == "teams_overview.md"
	})
	data := t.TempDir()
	out := mustDocgraph(t, ingestArgs(data, "--extractor.kind", "llm", "--extractor.llm.base_url", srv.BaseURL(),
		"--extractor.llm.model", "e2e-model", "--extractor.llm.api_key_env", "E2E_LLM_API_KEY", in)...)
	assert.Contains(t, out, "0 failed")
	require.NotEmpty(t, srv.Requests())

	ex := exportGraph(t, data)
	assert.Positive(t, personMentions(ex, "chidi vasquez"), "a person only the model finds")
	assert.Positive(t, personMentions(ex, "emily rossi"))
	assert.Zero(t, personMentions(ex, "ada lovelace"), "a person in no document")
	projects := 0
	for _, r := range ex.Relationships {
		if r.Type == "MENTIONS" && r.To.Label == "Project" && r.To.Key == "PRJ-4355" {
			projects++
		}
	}
	assert.Positive(t, projects, "the rules' mentions stay")
	for _, n := range ex.Nodes {
		if n.Label == "Person" && n.Key == "chidi vasquez" {
			assert.Equal(t, "Chidi Vasquez", n.Properties["name"], "named as the text writes it")
		}
	}
}

// The API key's variable is needed where the extractor runs, not by
// commands that share its configuration.
func TestLLMExtractorNeedsItsKeyToStart(t *testing.T) {
	llmArgs := []string{"--extractor.kind", "llm", "--extractor.llm.base_url", "http://127.0.0.1:1/v1",
		"--extractor.llm.model", "m", "--extractor.llm.api_key_env", "E2E_LLM_KEY_NOT_SET"}
	out := mustDocgraph(t, append([]string{"schema", "check"}, llmArgs...)...)
	assert.Contains(t, out, "schemas ok")

	_, _, err := docgraph(t, ingestArgs(t.TempDir(), append(llmArgs, t.TempDir())...)...)
	require.ErrorContains(t, err, "extractor.llm.api_key_env: environment variable E2E_LLM_KEY_NOT_SET is not set")

	// up fails before it starts anything: no data folder, nothing watched.
	in, data := t.TempDir(), filepath.Join(t.TempDir(), "data")
	writeFile(t, filepath.Join(in, "a.md"), "# A\n")
	_, errOut, err := docgraph(t, append([]string{"up", "--watch", in, "--data", data, "--nats.listen", "off",
		"--metrics-addr", "", "--log-format", "json"}, llmArgs...)...)
	require.ErrorContains(t, err, "extractor.llm.api_key_env: environment variable E2E_LLM_KEY_NOT_SET is not set")
	assert.NoDirExists(t, data)
	assert.NotContains(t, errOut, "watching folder")

	_, _, err = docgraph(t, "schema", "check", "--extractor.kind", "llm")
	require.ErrorContains(t, err, "extractor.llm.base_url: required when extractor.kind is llm")
}

// An LLM API that refuses the key pauses the extractor instead of
// dead-lettering every chunk; ingest's progress line says what it waits
// for, and once the API answers, ingest finishes with nothing failed.
func TestIngestWaitsOutAnLLMOutage(t *testing.T) {
	srv, down := llmtest.NewDown(t, llmtest.Reply{Status: 401, Body: llmtest.Error("Incorrect API key provided", "invalid_request_error")})
	in := t.TempDir()
	copyTree(t, filepath.Join(corpusDir(t, "sample"), "input"), in, func(rel string) bool {
		return rel == "people_notes.txt"
	})
	p := startProcEnv(t, []string{"E2E_LLM_API_KEY=sk-old"}, "ingest", "--data", t.TempDir(), "--metrics-addr", "",
		"--log-format", "json", "--log-level", "info", "--extractor.kind", "llm", "--extractor.llm.base_url", srv.BaseURL(),
		"--extractor.llm.model", "e2e-model", "--extractor.llm.api_key_env", "E2E_LLM_API_KEY", in)
	p.waitLog(t, 60*time.Second, "0/1 files through the pipeline", 1)
	waitUntil(t, 60*time.Second, func() error {
		if done, err := p.exited(); done {
			t.Fatalf("ingest exited during the outage: %v\n%s", err, tail(p.log(), 20))
		}
		for _, line := range strings.Split(p.log(), "\n") {
			if strings.HasPrefix(line, "ingest: 0/1 files") && strings.Contains(line, "; extractor paused for ") &&
				strings.Contains(line, "people_notes.txt") && strings.Contains(line, "HTTP 401") &&
				strings.Contains(line, "Incorrect API key provided") {
				return nil
			}
		}
		return errors.New("no progress line names the extractor's outage yet")
	})
	require.NotContains(t, p.log(), "message dead-lettered")

	down.Store(false)
	waitUntil(t, 90*time.Second, func() error {
		if done, err := p.exited(); done {
			require.NoError(t, err, tail(p.log(), 20))
			return nil
		}
		return errors.New("ingest still running")
	})
	assert.Contains(t, p.log(), `"msg":"extractor: the rules and an LLM","model":"e2e-model","base_url":"`+srv.BaseURL()+`"`)
	assert.Contains(t, p.log(), `"msg":"dependency back: stage resumed"`)
	assert.NotContains(t, p.log(), "message dead-lettered")
}
