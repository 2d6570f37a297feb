package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/bus"
)

// op runs an operator command against the data directory only (never a
// docgraph that happens to listen on the default port).
func op(data string, args ...string) []string {
	return append(args, "--data", data, "--nats.listen", "off")
}

// listJSON returns the dead letters `dlq list --json` prints.
func listJSON(t *testing.T, data string, extra ...string) []deadLetterJSON {
	t.Helper()
	out := mustDocgraph(t, op(data, append([]string{"dlq", "list", "--json"}, extra...)...)...)
	var dls []deadLetterJSON
	require.NoError(t, json.Unmarshal([]byte(out), &dls), out)
	return dls
}

// ingestWithFailures runs ingest, which exits 1 when a file failed.
func ingestWithFailures(t *testing.T, data, in string, extra ...string) string {
	t.Helper()
	out, errOut, err := docgraph(t, ingestArgs(data, append(extra, in)...)...)
	var ec exitCode
	require.True(t, err == nil || errors.As(err, &ec), "ingest: %v\n%s\n%s", err, out, errOut)
	return out
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
}

func TestDLQListShowReplayPurge(t *testing.T) {
	in, data := t.TempDir(), t.TempDir()
	writeFiles(t, in, map[string]string{"empty.txt": "", "ok.md": "# Notes\n\nNothing to see here.\n"})
	out := ingestWithFailures(t, data, in)
	require.Contains(t, out, "1 failed")

	// list: one line with the id, stage, path and error.
	dls := listJSON(t, data)
	require.Len(t, dls, 1)
	dl := dls[0]
	assert.Equal(t, bus.StageParser, dl.Stage)
	assert.Equal(t, "empty.txt", dl.Path)
	assert.Contains(t, dl.Error, "empty")
	assert.Equal(t, "permanent", dl.Class)
	assert.Equal(t, 1, dl.Attempts)
	assert.Equal(t, "docgraph.files.discovered", dl.OriginalSubject)
	assert.Equal(t, bus.StreamFiles, dl.OriginalStream)
	assert.NotEmpty(t, dl.CorrelationID)
	id := strconv.FormatUint(dl.ID, 10)

	out = mustDocgraph(t, op(data, "dlq", "list")...)
	assert.Regexp(t, regexp.MustCompile(`(?m)^ID\s+STAGE\s+AGE\s+ATTEMPTS\s+PATH\s+ERROR$`), out)
	assert.Regexp(t, regexp.MustCompile(`(?m)^`+id+`\s+parser\s+\d+s\s+1\s+empty\.txt\s+.*empty`), out)
	assert.Contains(t, out, "1 dead letter;")
	assert.Contains(t, mustDocgraph(t, op(data, "dlq", "list", "--stage", "extractor")...), "no dead letters")
	assert.Len(t, listJSON(t, data, "--stage", "parser", "--since", "1h"), 1)
	assert.Len(t, listJSON(t, data, "--since", time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)), 1, "since a time")
	assert.Empty(t, listJSON(t, data, "--since", "1ns"), "since a nanosecond ago: none")

	// show: the reason, every header and the payload.
	out = mustDocgraph(t, op(data, "dlq", "show", id)...)
	for _, want := range []string{
		"stage           parser", "path            empty.txt", "class           permanent",
		fmt.Sprintf("original        docgraph.files.discovered, DOCGRAPH_FILES seq %d", dl.OriginalSeq),
		"Correlation-ID: " + dl.CorrelationID, "Docgraph-Error-Class: permanent", "Docgraph-Type: FileDiscovered",
		fmt.Sprintf("Docgraph-Original-Seq: %d", dl.OriginalSeq), "payload (", `    "path": "empty.txt",`,
	} {
		assert.Contains(t, out, want)
	}
	var shown deadLetterJSON
	require.NoError(t, json.Unmarshal([]byte(mustDocgraph(t, op(data, "dlq", "show", "--json", id)...)), &shown))
	assert.Equal(t, dl.ID, shown.ID)
	var payload map[string]any
	require.NoError(t, json.Unmarshal(shown.Payload, &payload))
	assert.Equal(t, "empty.txt", payload["path"])
	assert.Equal(t, []string{dl.CorrelationID}, shown.Headers["Correlation-ID"])

	// replay: a dry run changes nothing.
	out = mustDocgraph(t, op(data, "dlq", "replay", "--id", id, "--dry-run")...)
	assert.Contains(t, out, "would replay "+id+" (parser, empty.txt) to docgraph.files.discovered")
	assert.Len(t, listJSON(t, data), 1)

	out = mustDocgraph(t, op(data, "dlq", "replay", "--all", "--stage", "parser")...)
	assert.Contains(t, out, "replayed    "+id+" (parser, empty.txt) to docgraph.files.discovered as DOCGRAPH_FILES seq")
	assert.Contains(t, out, "replayed 1, superseded 0, already replayed 0, not found 0, failed 0")
	assert.Empty(t, listJSON(t, data), "the DLQ is empty after the replay")

	// Replaying again does nothing.
	assert.Contains(t, mustDocgraph(t, op(data, "dlq", "replay", "--all")...), "no dead letters to replay")
	out, _, err := docgraph(t, op(data, "dlq", "replay", "--id", id)...)
	assert.Equal(t, exitCode(1), err)
	assert.Contains(t, out, "not found   "+id)

	// The stage consumes the replayed message when it runs; the file is
	// still empty, so it is dead-lettered again, under a new id.
	out = ingestWithFailures(t, data, in)
	assert.Contains(t, out, "0 new or changed")
	dls = listJSON(t, data)
	require.Len(t, dls, 1)
	assert.Greater(t, dls[0].ID, dl.ID)
	assert.Equal(t, "empty.txt", dls[0].Path)
	assert.Equal(t, dl.CorrelationID, dls[0].CorrelationID, "the replay kept the correlation ID")
	again := mustDocgraph(t, op(data, "dlq", "show", strconv.FormatUint(dls[0].ID, 10))...)
	assert.Contains(t, again, "Docgraph-Replay: dlq:"+id, "the new dead letter says which replay it came from")

	// purge refuses without --yes.
	_, _, err = docgraph(t, op(data, "dlq", "purge")...)
	assert.ErrorContains(t, err, "refusing to delete 1 dead letter without --yes")
	assert.Len(t, listJSON(t, data), 1)
	out = mustDocgraph(t, op(data, "dlq", "purge", "--older-than", "1h", "--yes")...)
	assert.Contains(t, out, "deleted 0 dead letters")
	out = mustDocgraph(t, op(data, "dlq", "purge", "--stage", "parser", "--yes")...)
	assert.Contains(t, out, "deleted 1 dead letter\n")
	assert.Empty(t, listJSON(t, data))
}

func TestDLQReplayAfterTheCauseIsFixed(t *testing.T) {
	in, data := t.TempDir(), t.TempDir()
	writeFiles(t, in, map[string]string{"notes.csv": "week,summary\n1,all fine\n"})
	// Spreadsheets the mapping does not name are rejected with this setting.
	out := ingestWithFailures(t, data, in, "--parser.unmapped", "reject")
	require.Contains(t, out, "1 failed")
	dls := listJSON(t, data)
	require.Len(t, dls, 1)
	assert.Equal(t, "notes.csv", dls[0].Path)
	assert.Contains(t, dls[0].Error, "not named by the structured mapping")

	// Fix: the default setting ingests them as documents. Replay, then run
	// the stages (ingest: nothing new to publish).
	out = mustDocgraph(t, op(data, "dlq", "replay", "--all")...)
	assert.Contains(t, out, "replayed 1,")
	out = mustDocgraph(t, ingestArgs(data, in)...)
	assert.Contains(t, out, "0 failed")
	assert.Empty(t, listJSON(t, data))
	findNode(t, exportGraph(t, data), "Document", "notes.csv")
}

func TestDLQReplaySupersededByAFixedFile(t *testing.T) {
	in, data := t.TempDir(), t.TempDir()
	writeFiles(t, in, map[string]string{"empty.txt": ""})
	ingestWithFailures(t, data, in)
	dls := listJSON(t, data)
	require.Len(t, dls, 1)

	// The fix is a new version of the file, which goes through by itself;
	// replaying the old version would make the empty content current again.
	writeFiles(t, in, map[string]string{"empty.txt": "Not empty any more.\n"})
	out := mustDocgraph(t, ingestArgs(data, in)...)
	assert.Contains(t, out, "1 new or changed")
	// The old version's dead letter is superseded: neither listed nor
	// counted as a problem, but still there.
	assert.Empty(t, listJSON(t, data))
	out = mustDocgraph(t, op(data, "dlq", "list")...)
	assert.Contains(t, out, "no dead letters\n1 more superseded by a later version of their file")
	out = mustDocgraph(t, op(data, "dlq", "list", "--all")...)
	assert.Contains(t, out, "(superseded: DOCGRAPH_FILES seq")
	var all []deadLetterJSON
	require.NoError(t, json.Unmarshal([]byte(mustDocgraph(t, op(data, "dlq", "list", "--all", "--json")...)), &all))
	require.Len(t, all, 1)
	assert.Positive(t, all[0].SupersededBy)
	out = mustDocgraph(t, op(data, "status")...)
	assert.Regexp(t, `(?m)^parser\s+DOCGRAPH_FILES\s+.*\s0\s+\d+\s+-\s+-$`, out)
	assert.Contains(t, out, "(1 more dead letter superseded by a later version of the file")
	out = mustDocgraph(t, op(data, "dlq", "replay", "--all", "--dry-run")...)
	assert.Contains(t, out, fmt.Sprintf("would remove %d (parser, empty.txt): superseded by a newer event for the file (DOCGRAPH_FILES seq", dls[0].ID))
	out = mustDocgraph(t, op(data, "dlq", "replay", "--all")...)
	assert.Contains(t, out, "superseded 1")
	assert.Empty(t, listJSON(t, data))
	findNode(t, exportGraph(t, data), "Document", "empty.txt")
}

func TestDLQReplayStageMismatch(t *testing.T) {
	in, data := t.TempDir(), t.TempDir()
	writeFiles(t, in, map[string]string{"empty.txt": ""})
	ingestWithFailures(t, data, in)
	dls := listJSON(t, data)
	require.Len(t, dls, 1)
	_, _, err := docgraph(t, op(data, "dlq", "replay", "--stage", "extractor", "--id", strconv.FormatUint(dls[0].ID, 10))...)
	assert.ErrorContains(t, err, "is from stage parser, not extractor")
	assert.Len(t, listJSON(t, data), 1)
}

func TestDLQCommandErrors(t *testing.T) {
	data := emptyData(t)
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no subcommand", []string{"dlq"}, "dlq: want list, show, replay or purge"},
		{"unknown subcommand", []string{"dlq", "lsit"}, `unknown subcommand "lsit"`},
		{"list argument", op(data, "dlq", "list", "x"), `unexpected argument "x"`},
		{"list unknown stage", op(data, "dlq", "list", "--stage", "parsr"), `unknown stage "parsr"`},
		{"list future since", op(data, "dlq", "list", "--since", "2999-01-01"), "dlq list: --since 2999-01-01: in the future"},
		{"list bad since", op(data, "dlq", "list", "--since", "xyz"), `dlq list: --since: "xyz": want an RFC 3339 time`},
		{"show without id", op(data, "dlq", "show"), "want one dead letter ID"},
		{"show bad id", op(data, "dlq", "show", "abc"), `bad dead letter id "abc"`},
		{"show zero", op(data, "dlq", "show", "0"), `bad dead letter id "0"`},
		{"show unknown", op(data, "dlq", "show", "42"), "dead letter 42: no such dead letter"},
		{"replay without ids", op(data, "dlq", "replay"), "give --id ID[,ID...] or --all"},
		{"replay ids and all", op(data, "dlq", "replay", "--id", "1", "--all"), "give --id ID[,ID...] or --all, not both"},
		{"replay bad id", op(data, "dlq", "replay", "--id", "1,x"), `--id: bad dead letter id "x"`},
		{"replay argument", op(data, "dlq", "replay", "7"), `unexpected argument "7" (ids go in --id)`},
		{"show two ids", op(data, "dlq", "show", "1", "2"), "want one dead letter ID"},
		{"purge negative", op(data, "dlq", "purge", "--older-than", "-2h", "--yes"), "must not be negative"},
		{"purge argument", op(data, "dlq", "purge", "all"), `unexpected argument "all"`},
		{"bad flag", op(data, "dlq", "list", "--bogus"), "flag provided but not defined: -bogus"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := docgraph(t, tt.args...)
			assert.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestDLQHelp(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"dlq", []string{"dlq", "--help"}, "Usage: docgraph dlq list|show|replay|purge"},
		{"list", []string{"dlq", "list", "--help"}, "Usage: docgraph dlq list [--stage S] [--since TIME] [--all] [--json]"},
		{"show", []string{"dlq", "show", "--help"}, "Usage: docgraph dlq show ID"},
		{"replay", []string{"dlq", "replay", "-h"}, "-dry-run"},
		{"purge", []string{"dlq", "purge", "--help"}, "really delete them"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errOut, err := docgraph(t, tt.args...)
			require.NoError(t, err)
			assert.Contains(t, errOut, tt.want)
			assert.Contains(t, errOut, "Dead letters are messages a stage gave up on")
		})
	}
	out, _, err := docgraph(t, "--help")
	require.NoError(t, err)
	assert.Contains(t, out, "dlq        dead letters")
	assert.Contains(t, out, "replay     re-run a stage")
}

func TestPreview(t *testing.T) {
	long := `{"text":"` + strings.Repeat("é", 2000) + `"}`
	tests := []struct {
		name  string
		give  string
		limit int
		want  string
	}{
		{"json is indented", `{"a":1,"b":[true]}`, 100, "{\n  \"a\": 1,\n  \"b\": [\n    true\n  ]\n}"},
		{"text as is", "plain text", 100, "plain text"},
		{"long json cut on a rune", long, 20, "{\n  \"text\": \"ééé\n… 3997 more bytes"},
		{"binary as hex", "\xff\x00\x01abc", 100, "00000000  ff 00 01 61 62 63                                 |...abc|"},
		{"long binary", "\xff" + strings.Repeat("x", 40), 40, "00000000  ff 78 78 78 78 78 78 78  78 78                    |.xxxxxxxxx|\n… 31 more bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, preview([]byte(tt.give), tt.limit))
		})
	}
}

func TestAgeAndTruncate(t *testing.T) {
	ages := []struct {
		give time.Duration
		want string
	}{
		{-time.Second, "0s"}, {42 * time.Second, "42s"}, {61 * time.Minute, "1h"}, {5 * time.Minute, "5m"},
		{47 * time.Hour, "47h"}, {72 * time.Hour, "3d"},
	}
	for _, tt := range ages {
		assert.Equal(t, tt.want, age(tt.give), tt.give.String())
	}
	assert.Equal(t, "short", truncate("short", 10))
	assert.Equal(t, "ééé…", truncate("éééééé", 4))
}

func TestFlagsFirst(t *testing.T) {
	var on bool
	extra := func(fs *flag.FlagSet) { fs.BoolVar(&on, "json", false, "") }
	tests := []struct {
		name string
		give []string
		want []string
	}{
		{"flags only", []string{"--data", "d", "--json"}, []string{"--data", "d", "--json"}},
		{"positional first", []string{"12", "--data", "d"}, []string{"--data", "d", "--", "12"}},
		{"positional between", []string{"--json", "12", "--data=d", "-nats.listen", "off"}, []string{"--json", "--data=d", "-nats.listen", "off", "--", "12"}},
		{"bool flag does not take the next", []string{"--json", "12"}, []string{"--json", "--", "12"}},
		{"unknown flag left to the parser", []string{"--bogus", "12"}, []string{"--bogus", "--", "12"}},
		{"after --", []string{"--", "-5", "x"}, []string{"--", "-5", "x"}},
		{"value flag at the end", []string{"12", "--data"}, []string{"--data", "--", "12"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, flagsFirst(tt.give, extra))
		})
	}
}

// Running ingest again reports, as failed, the unchanged files whose current
// version is dead-lettered, until the file changes or its dead letter is
// replayed or purged.
func TestIngestAgainReportsEarlierFailures(t *testing.T) {
	in, data := t.TempDir(), t.TempDir()
	writeFiles(t, in, map[string]string{"empty.txt": "", "ok.md": "# Notes\n\nNothing to see here.\n"})
	const failedLine = "failed  empty.txt: parser: empty.txt: empty"
	tests := []struct {
		name     string
		change   func(t *testing.T)
		want     []string
		wantLine bool // the summary lists empty.txt as failed
	}{
		{"first run", func(*testing.T) {}, []string{"2 new or changed", "1 failed"}, true},
		{"again, unchanged", func(*testing.T) {}, []string{"0 new or changed, 2 unchanged", "1 failed"}, true},
		{"fixed", func(t *testing.T) {
			writeFiles(t, in, map[string]string{"empty.txt": "Not empty any more.\n"})
		}, []string{"1 new or changed, 1 unchanged", "0 failed"}, false},
		{"fixed, again", func(*testing.T) {}, []string{"0 new or changed, 2 unchanged", "0 failed"}, false},
		{"broken again: the old bytes, a new failure", func(t *testing.T) {
			writeFiles(t, in, map[string]string{"empty.txt": ""})
		}, []string{"1 new or changed, 1 unchanged", "1 failed"}, true},
		{"broken again, unchanged: its dead letter counts, not the first version's", func(*testing.T) {},
			[]string{"0 new or changed, 2 unchanged", "1 failed"}, true},
		{"dead letters purged", func(t *testing.T) {
			mustDocgraph(t, op(data, "dlq", "purge", "--yes")...)
		}, []string{"0 new or changed, 2 unchanged", "0 failed"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.change(t)
			out, errOut, err := docgraph(t, ingestArgs(data, in)...)
			if tt.wantLine {
				require.Equal(t, exitCode(1), err, "%s\n%s", out, errOut)
				assert.Contains(t, out, failedLine)
			} else {
				require.NoError(t, err, "%s\n%s", out, errOut)
				assert.NotContains(t, out, "failed  ")
			}
			for _, w := range tt.want {
				assert.Contains(t, out, w)
			}
		})
	}
	assert.Len(t, listJSON(t, data), 0)
}
