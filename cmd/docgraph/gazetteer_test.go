package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"github.com/docgraph/docgraph/pkg/bus"
	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/gazetteer"
	"github.com/docgraph/docgraph/pkg/logging"
	"github.com/docgraph/docgraph/pkg/testwait"
)

// A person removed from the spreadsheets stops being recognised: the
// mentions only that name supported are withdrawn, and the node goes.
func TestPersonRemovedFromSpreadsheetIsForgotten(t *testing.T) {
	exp := loadExpected(t, "sample")
	// A person stated only by teams.csv (no role from managers.xlsx, not a
	// structured project manager) and mentioned in several documents.
	managers := map[string]bool{}
	for _, r := range exp.Relationships {
		if r.Type == "MANAGES" && r.Source == "structured" {
			managers[r.From.Key] = true
		}
	}
	mentions := map[string]int{}
	for _, m := range exp.Mentions {
		if m.Label == "Person" {
			mentions[m.Key]++
		}
	}
	var key, name string
	var keys []string
	for _, n := range exp.Nodes {
		if n.Label == "Person" && n.Properties["role"] == nil && !managers[n.Key] && mentions[n.Key] >= 2 {
			keys = append(keys, n.Key)
		}
	}
	sort.Strings(keys)
	require.NotEmpty(t, keys)
	key = keys[0]
	for _, n := range exp.Nodes {
		if n.Label == "Person" && n.Key == key {
			name = n.Properties["name"].(string)
		}
	}

	in, data := t.TempDir(), t.TempDir()
	copyTree(t, filepath.Join(corpusDir(t, "sample"), "input"), in, func(string) bool { return true })
	mustDocgraph(t, ingestArgs(data, in)...)
	before := exportGraph(t, data)
	require.Positive(t, personMentions(before, key), "the person is mentioned before")

	// Drop the person's rows from teams.csv.
	p := filepath.Join(in, "teams.csv")
	raw, err := os.ReadFile(p)
	require.NoError(t, err)
	var kept []string
	dropped := 0
	for _, line := range strings.SplitAfter(string(raw), "\n") {
		if strings.Contains(strings.Join(strings.Fields(line), " "), name) {
			dropped++
			continue
		}
		kept = append(kept, line)
	}
	require.Positive(t, dropped)
	require.NoError(t, os.WriteFile(p, []byte(strings.Join(kept, "")), 0o644))
	mustDocgraph(t, ingestArgs(data, in)...)

	after := exportGraph(t, data)
	for _, n := range after.Nodes {
		assert.False(t, n.Label == "Person" && n.Key == key, "%s is still a node", name)
	}
	assert.Zero(t, personMentions(after, key), "%s is still mentioned", name)
	// Everyone else keeps their mentions.
	for _, other := range []string{keys[len(keys)-1]} {
		if other != key {
			assert.Equal(t, personMentions(before, other), personMentions(after, other))
		}
	}
	assert.Len(t, docNodes(after), len(docNodes(before)))
}

func personMentions(ex exportJSON, key string) int {
	n := 0
	for _, r := range ex.Relationships {
		if r.Type == "MENTIONS" && r.To.Label == "Person" && r.To.Key == key {
			n++
		}
	}
	return n
}

func docNodes(ex exportJSON) []string {
	var out []string
	for _, n := range ex.Nodes {
		if n.Label == "Document" {
			out = append(out, n.Key)
		}
	}
	return out
}

// Names recorded in the gazetteer while no extractor refreshed the chunks
// already extracted (a process stopped right after ingesting a
// spreadsheet, or the graph writer running alone) are found in those
// chunks at the next start.
func TestGazetteerAheadOfItsRefreshIsCaughtUpAtStart(t *testing.T) {
	key, name, in, data := ingestSampleDocuments(t)
	require.Zero(t, personMentions(exportGraph(t, data), key), "no spreadsheet names %s yet", name)

	// The gazetteer learns the name with nothing running.
	withBook(t, data, func(_ jetstream.JetStream, book *gazetteer.Book) {
		require.NoError(t, book.Upsert(t.Context(), []gazetteer.Entry{{Label: "Person", Key: key, Name: name}}, "people.csv", "sha-1", 1))
	})

	mustDocgraph(t, ingestArgs(data, in)...)
	assert.Positive(t, personMentions(exportGraph(t, data), key), "%s is mentioned after the restart", name)

	// The re-extractions carry the revision of the names they were made
	// with, which lets the graph writer ignore an older extraction of the
	// same chunk arriving after them.
	var mentioning, stamped int
	withBook(t, data, func(js jetstream.JetStream, _ *gazetteer.Book) {
		stream, err := js.Stream(t.Context(), bus.StreamExtractions)
		require.NoError(t, err)
		info, err := stream.Info(t.Context())
		require.NoError(t, err)
		for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
			m, err := stream.GetMsg(t.Context(), seq)
			if err != nil || m.Subject != event.SubjectExtraction {
				continue
			}
			var x event.Extraction
			payload, err := bus.Payload(m.Header, m.Data)
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(payload, &x))
			if slices.ContainsFunc(x.Mentions, func(n event.Node) bool { return n.Label == "Person" && n.Key == key }) {
				mentioning++
				if x.GazetteerRevision > 0 {
					stamped++
				}
			}
		}
	})
	require.Positive(t, mentioning)
	assert.Equal(t, mentioning, stamped, "every extraction that found %s carries the gazetteer revision", name)
}

// Names removed from the gazetteer while no extractor ran are dropped from
// the chunks that mentioned them at the next start. The removals are the
// bucket's latest revisions, which the mirror's initial load sees only as
// deletion markers of entries it never held: the re-extractions must still
// carry a revision no older than the extractions they replace, or the graph
// writer ignores them as stale.
func TestGazetteerRemovalWhileStoppedIsCaughtUpAtStart(t *testing.T) {
	key, name, in, data := ingestSampleDocuments(t)

	withBook(t, data, func(_ jetstream.JetStream, book *gazetteer.Book) {
		require.NoError(t, book.Upsert(t.Context(), []gazetteer.Entry{{Label: "Person", Key: key, Name: name}}, "people.csv", "sha-1", 1))
	})
	mustDocgraph(t, ingestArgs(data, in)...)
	require.Positive(t, personMentions(exportGraph(t, data), key), "%s is mentioned once the gazetteer names them", name)

	// The name is removed with nothing running (as a graph writer running
	// alone does when the spreadsheet row goes).
	withBook(t, data, func(js jetstream.JetStream, _ *gazetteer.Book) {
		kv, err := js.KeyValue(t.Context(), bus.BucketGazetteer)
		require.NoError(t, err)
		require.NoError(t, kv.Delete(t.Context(), gazetteer.KVKey("Person", key)))
	})
	mustDocgraph(t, ingestArgs(data, in)...)
	assert.Zero(t, personMentions(exportGraph(t, data), key), "%s is still mentioned after the restart", name)
}

// Documents ingested longer ago than the streams' history (max_age) still
// learn the names a spreadsheet brings later: the extractor re-reads the
// chunk stream, which keeps its history.
func TestDocumentsOlderThanStreamHistoryLearnNewNames(t *testing.T) {
	key, name, in, data := ingestSampleDocuments(t)

	// Time passes beyond max_age: every stream with a bounded history
	// drops what it holds.
	withBook(t, data, func(js jetstream.JetStream, _ *gazetteer.Book) {
		for _, s := range bus.Streams {
			st, err := js.Stream(t.Context(), s.Name)
			require.NoError(t, err)
			cfg := st.CachedInfo().Config
			if cfg.MaxAge == 0 {
				continue
			}
			cfg.MaxAge, cfg.Duplicates = time.Second, time.Second
			_, err = js.UpdateStream(t.Context(), cfg)
			require.NoError(t, err)
		}
		testwait.Until(t, 30*time.Second, func() error {
			st, err := js.Stream(t.Context(), bus.StreamFiles)
			if err != nil {
				return err
			}
			if info, err := st.Info(t.Context()); err != nil || info.State.Msgs > 0 {
				return fmt.Errorf("the files stream still holds the documents' events (%v)", err)
			}
			return nil
		})
	})

	copyTree(t, filepath.Join(corpusDir(t, "sample"), "input"), in, func(rel string) bool {
		return strings.HasSuffix(rel, ".csv") || strings.HasSuffix(rel, ".xlsx")
	})
	mustDocgraph(t, ingestArgs(data, in)...)
	assert.Positive(t, personMentions(exportGraph(t, data), key), "%s, named by a spreadsheet after the documents' history expired, is mentioned", name)
}

// ingestSampleDocuments ingests the sample's documents without its
// spreadsheets into a new data directory, and returns a person the
// spreadsheets name and the documents mention (key and name), the input
// folder and the data directory.
func ingestSampleDocuments(t *testing.T) (key, name, in, data string) {
	t.Helper()
	exp := loadExpected(t, "sample")
	mentions := map[string]int{}
	for _, m := range exp.Mentions {
		if m.Label == "Person" {
			mentions[m.Key]++
		}
	}
	for _, n := range exp.Nodes {
		if n.Label == "Person" && mentions[n.Key] > 0 && (key == "" || n.Key < key) {
			key, name = n.Key, n.Properties["name"].(string)
		}
	}
	require.NotEmpty(t, key)

	in, data = t.TempDir(), t.TempDir()
	copyTree(t, filepath.Join(corpusDir(t, "sample"), "input"), in, func(rel string) bool {
		return !strings.HasSuffix(rel, ".csv") && !strings.HasSuffix(rel, ".xlsx")
	})
	mustDocgraph(t, ingestArgs(data, in)...)
	return key, name, in, data
}

// withBook runs fn against the NATS store and gazetteer under data with
// nothing else running.
func withBook(t *testing.T, data string, fn func(js jetstream.JetStream, book *gazetteer.Book)) {
	t.Helper()
	withNATS(t, data, func(js jetstream.JetStream) {
		book, err := gazetteer.Open(t.Context(), js, logging.Discard())
		require.NoError(t, err)
		fn(js, book)
	})
}

// withNATS runs fn against the NATS store under data (created if need be)
// with nothing else running.
func withNATS(t *testing.T, data string, fn func(js jetstream.JetStream)) {
	t.Helper()
	ns, err := bus.StartEmbedded(bus.EmbeddedConfig{StoreDir: filepath.Join(data, "nats"), Port: -1}, logging.Discard())
	require.NoError(t, err)
	defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
	nc, err := nats.Connect("", nats.InProcessServer(ns))
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	fn(js)
}

// A project renamed in projects.xlsx is no longer found by its old name:
// the chunks that named it so (and not by its code) are extracted again,
// and the graph is the one a fresh ingest of the renamed folder gives.
func TestProjectRenamedInSpreadsheetIsFoundByItsNewNameOnly(t *testing.T) {
	in, data := t.TempDir(), t.TempDir()
	copyTree(t, filepath.Join(corpusDir(t, "sample"), "input"), in, func(string) bool { return true })
	book := filepath.Join(in, "projects.xlsx")
	f, err := excelize.OpenFile(book)
	require.NoError(t, err)
	rows, err := f.GetRows("Projects")
	require.NoError(t, err)
	col := slices.Index(rows[0], "name")
	require.GreaterOrEqual(t, col, 0, "projects.xlsx has a name column")
	require.Greater(t, len(rows), 1)
	name := rows[1][col]
	cell, err := excelize.CoordinatesToCellName(col+1, 2)
	require.NoError(t, err)
	writeFile(t, filepath.Join(in, "notes", "review.md"), "# Review\n\nThe "+name+" review is next week.\n")

	mustDocgraph(t, ingestArgs(data, in)...)
	before := exportGraph(t, data)
	require.NoError(t, f.SetCellStr("Projects", cell, "Quillfeather Renewal Programme"))
	require.NoError(t, f.SaveAs(book))
	require.NoError(t, f.Close())
	mustDocgraph(t, ingestArgs(data, in)...)

	fresh := t.TempDir()
	mustDocgraph(t, ingestArgs(fresh, in)...)
	after := exportGraph(t, data)
	assert.NotEqual(t, before, after)
	assert.Equal(t, exportGraph(t, fresh), after)
}

// A spreadsheet saved again with the same names (a role changed) states
// every entity again, but no name becomes known or unknown: no chunk is
// extracted again, and the graph is still the one a fresh ingest gives.
func TestSpreadsheetSavedAgainWithTheSameNamesReextractsNothing(t *testing.T) {
	in, data := t.TempDir(), t.TempDir()
	copyTree(t, filepath.Join(corpusDir(t, "sample"), "input"), in, func(string) bool { return true })
	mustDocgraph(t, ingestArgs(data, in)...)
	before := exportGraph(t, data)
	require.Positive(t, len(before.Relationships))

	p := filepath.Join(in, "teams.csv")
	raw, err := os.ReadFile(p)
	require.NoError(t, err)
	lines := strings.SplitAfter(string(raw), "\n")
	require.Greater(t, len(lines), 2)
	row := strings.TrimRight(lines[1], "\r\n")
	require.NotContains(t, row, `"`, "the row is edited as plain fields")
	cut := strings.LastIndexByte(row, ',')
	require.Positive(t, cut)
	lines[1] = row[:cut+1] + "Acting " + row[cut+1:] + lines[1][len(row):]
	require.NoError(t, os.WriteFile(p, []byte(strings.Join(lines, "")), 0o644))

	out, logs, err := docgraph(t, ingestArgs(data, "--log-format", "json", "--log-level", "info", in)...)
	require.NoError(t, err, "stdout:\n%s\nstderr:\n%s", out, logs)
	assert.Contains(t, out, "1 new or changed")
	refreshes := logRecords(logs, "gazetteer changed: chunks re-extracted")
	assert.Empty(t, refreshes, "chunks extracted again")

	fresh := t.TempDir()
	mustDocgraph(t, ingestArgs(fresh, in)...)
	after := exportGraph(t, data)
	assert.NotEqual(t, before, after, "the role changed")
	assert.Equal(t, exportGraph(t, fresh), after)
}
