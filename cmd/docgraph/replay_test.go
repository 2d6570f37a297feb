package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReplayStageCommand(t *testing.T) {
	in, data := t.TempDir(), t.TempDir()
	writeFiles(t, in, map[string]string{
		"a.md": "# A\n\nProcedure AACE-101 applies.\n",
		"b.md": "# B\n\nSee ISO 31000 and AACE-101.\n",
	})
	mustDocgraph(t, ingestArgs(data, in)...)
	before := mustDocgraph(t, "graph", "export", "--data", data, "--format", "json")

	out := mustDocgraph(t, op(data, "replay", "extractor", "--since", "1h", "--dry-run")...)
	assert.Equal(t, "would republish 2 messages of DOCGRAPH_CHUNKS (seq 1 to 2)\n", out)
	out = mustDocgraph(t, op(data, "replay", "graph-writer", "--since", time.Now().Add(-time.Hour).Format(time.RFC3339), "--dry-run")...)
	assert.Contains(t, out, "would republish 2 messages of DOCGRAPH_EXTRACTIONS (seq 1 to 2)\n")
	assert.Contains(t, out, "would republish 0 messages of DOCGRAPH_RECORDS\n")

	// The flags may come before the stage, too.
	out, errOut, err := docgraph(t, op(data, "replay", "--from-seq", "2", "--until-seq", "2", "extractor")...)
	require.NoError(t, err, errOut)
	assert.Contains(t, out, "republished 1 message of DOCGRAPH_CHUNKS (seq 2 to 2)\n")
	assert.Regexp(t, regexp.MustCompile(`replay run [0-9a-f]{12}: the copies carry the header Docgraph-Replay: stage:[0-9a-f]{12}`), out)
	assert.Contains(t, errOut, "no docgraph is running on")

	out = mustDocgraph(t, op(data, "replay", "parser", "--from-seq", "1")...)
	assert.Contains(t, out, "republished 2 messages of DOCGRAPH_FILES (seq 1 to 2)\n")

	// The stages process the copies when they run; the graph is the same.
	out = mustDocgraph(t, ingestArgs(data, in)...)
	assert.Contains(t, out, "0 new or changed")
	after := mustDocgraph(t, "graph", "export", "--data", data, "--format", "json")
	assert.JSONEq(t, before, after)
	assert.Empty(t, listJSON(t, data))
}

// The parser replayed with other chunk settings cuts each document anew
// (a new version of it); the graph then holds the new cut alone, as an
// ingest with those settings from the start gives.
func TestReplayParserWithOtherChunkSettings(t *testing.T) {
	in, data, clean := t.TempDir(), t.TempDir(), t.TempDir()
	var report strings.Builder
	report.WriteString("# Audit report\n\n")
	for i := range 12 {
		fmt.Fprintf(&report, "Finding %d. The team checked the register against procedure AACE-%d and recorded "+
			"what it found in the minutes of the weekly review, with the owner of each action.\n\n", i+1, 101+i)
	}
	writeFiles(t, in, map[string]string{"audit.md": report.String()})
	small := []string{"--parser.chunk_size", "400", "--parser.chunk_overlap", "50"}
	mustDocgraph(t, append(ingestArgs(data, in), small...)...)
	require.Greater(t, exportedChunks(t, data), 4)

	mustDocgraph(t, op(data, "replay", "parser", "--from-seq", "1")...)
	mustDocgraph(t, ingestArgs(data, in)...)
	assert.Equal(t, 1, exportedChunks(t, data))

	mustDocgraph(t, ingestArgs(clean, in)...)
	assert.JSONEq(t, mustDocgraph(t, "graph", "export", "--data", clean, "--format", "json"),
		mustDocgraph(t, "graph", "export", "--data", data, "--format", "json"))
}

// exportedChunks counts the Chunk nodes of the graph in data.
func exportedChunks(t *testing.T, data string) int {
	t.Helper()
	var g struct {
		Nodes []struct {
			Label string `json:"label"`
		} `json:"nodes"`
	}
	require.NoError(t, json.Unmarshal([]byte(mustDocgraph(t, "graph", "export", "--data", data, "--format", "json")), &g))
	n := 0
	for _, node := range g.Nodes {
		if node.Label == "Chunk" {
			n++
		}
	}
	return n
}

func TestReplayStageCommandNothingInRange(t *testing.T) {
	data := emptyData(t)
	out := mustDocgraph(t, op(data, "replay", "extractor", "--from-seq", "1")...)
	assert.Equal(t, "republished 0 messages of DOCGRAPH_CHUNKS\nnothing in the range: nothing replayed\n", out)
}

func TestReplayCommandErrors(t *testing.T) {
	data := emptyData(t)
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no stage", op(data, "replay"), "replay: want a STAGE: parser, extractor or graph-writer"},
		{"unknown stage", op(data, "replay", "watcher", "--from-seq", "1"), `unknown stage "watcher"`},
		{"no start", op(data, "replay", "parser"), "a start is required: a time (--since) or a sequence (--from-seq)"},
		{"two starts", op(data, "replay", "parser", "--since", "2h", "--from-seq", "3"), "give either a start time (--since) or a start sequence (--from-seq), not both"},
		{"bad since", op(data, "replay", "parser", "--since", "yesterday"), `--since: "yesterday": want an RFC 3339 time`},
		{"bad until", op(data, "replay", "parser", "--since", "2h", "--until", "soon"), `--until: "soon"`},
		{"until before since", op(data, "replay", "parser", "--since", "1h", "--until", "2h"), "is before since"},
		{"graph-writer sequences", op(data, "replay", "graph-writer", "--from-seq", "1"), "name one stream with --stream"},
		{"sequence 0", op(data, "replay", "parser", "--from-seq", "0"), "--from-seq: stream sequences start at 1"},
		{"stream of another stage", op(data, "replay", "parser", "--from-seq", "1", "--stream", "DOCGRAPH_CHUNKS"), "stage parser reads DOCGRAPH_FILES"},
		{"extra argument", op(data, "replay", "parser", "--from-seq", "1", "extra"), `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := docgraph(t, tt.args...)
			assert.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestReplayHelp(t *testing.T) {
	_, errOut, err := docgraph(t, "replay", "--help")
	require.NoError(t, err)
	assert.Contains(t, errOut, "Usage: docgraph replay STAGE (--since TIME | --from-seq N)")
	assert.Contains(t, errOut, "Re-runs a stage over the history of its input stream")
	assert.Contains(t, errOut, "-until-seq")
}

func TestParseTime(t *testing.T) {
	now := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		give    string
		want    time.Time
		wantErr string
	}{
		{give: "2024-02-29T10:30:00Z", want: time.Date(2024, 2, 29, 10, 30, 0, 0, time.UTC)},
		{give: "2024-02-29T10:30:00+02:00", want: time.Date(2024, 2, 29, 8, 30, 0, 0, time.UTC)},
		{give: "2024-02-29", want: time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)},
		{give: "2h", want: now.Add(-2 * time.Hour)},
		{give: "-90m", want: now.Add(-90 * time.Minute)},
		{give: "tomorrow", wantErr: "want an RFC 3339 time"},
		{give: "--1h", wantErr: "a duration ago must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			got, err := parseTime(tt.give, now)
			if tt.wantErr != "" {
				assert.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.True(t, tt.want.Equal(got), "got %s", got)
		})
	}
}
