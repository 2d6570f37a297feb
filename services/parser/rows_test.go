package parser_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/pipeline"
	"github.com/docgraph/docgraph/services/parser"
)

// messyTeamsCSV is a teams file of n rows where every so often a row has a
// bad value, too many fields, or no key, and a team repeats across rows
// (so batches merge nodes).
func messyTeamsCSV(n int, seed uint64) (string, []int) {
	r := rand.New(rand.NewPCG(seed, 7))
	var b strings.Builder
	b.WriteString("team,member,role,joined\n")
	var bad []int
	for i := range n {
		line := i + 2
		switch r.IntN(40) {
		case 0:
			fmt.Fprintf(&b, "Team %d,Person %d,Engineer,not-a-date\n", r.IntN(9), i)
			bad = append(bad, line)
		case 1:
			fmt.Fprintf(&b, "Team %d,Person %d,Engineer,2024-01-02,extra\n", r.IntN(9), i)
			bad = append(bad, line)
		case 2:
			b.WriteString(",,Engineer,\n")
			bad = append(bad, line)
		default:
			fmt.Fprintf(&b, "Team %d,Person %d,\"Engineer, grade %d\",2024-01-%02d\n", r.IntN(9), i%500, r.IntN(5), 1+r.IntN(28))
		}
	}
	return b.String(), bad
}

const messyTeamsMapping = `
sources:
  - name: teams
    files: ["*.csv"]
    format: csv
    on_row_error: %s
    columns:
      - {name: team, required: true}
      - {name: member, required: true}
      - {name: role}
      - {name: joined, type: date}
    nodes:
      - {label: Person, key: member, normalize: lower_collapse, properties: {name: member, joined: joined}}
      - {label: Team, key: team, normalize: lower_collapse, properties: [team]}
    relationships:
      - type: MEMBER_OF
        from: {label: Person, key: member}
        to: {label: Team, key: team}
        properties: [role]
`

// The messages of a table do not depend on how many workers map its rows:
// same IDs, same bytes, in the same order, and the rejected rows logged in
// file order.
func TestTableMappingIndependentOfWorkers(t *testing.T) {
	content, bad := messyTeamsCSV(2345, 1)
	require.Greater(t, len(bad), 60, "the file has bad rows in many batches")
	path := writeTemp(t, "teams.csv", content)
	m := mustMapping(t, fmt.Sprintf(messyTeamsMapping, "skip_row"))
	var want []pipeline.Message
	var wantLog string
	for _, workers := range []int{1, 2, 5} {
		var logs bytes.Buffer
		s, err := parser.NewStructured(m, parser.StructuredConfig{BatchSize: 100, MapWorkers: workers, TempDir: t.TempDir(), DuckDBThreads: 2},
			slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{ReplaceAttr: dropTime})))
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		p, err := parseFile(t, s, "teams.csv", path)
		require.NoError(t, err)
		checkBatches(t, p)
		require.Len(t, p.msgs, 24, "2,345 rows in batches of 100")
		var lines []int
		for _, r := range p.records {
			for _, e := range r.Rejected {
				lines = append(lines, e.Line)
			}
		}
		require.Equal(t, bad, lines, "every bad row rejected at its line, in order (%d workers)", workers)
		if want == nil {
			want, wantLog = p.msgs, logs.String()
			require.Contains(t, wantLog, fmt.Sprintf("line=%d", bad[0]))
			require.Contains(t, wantLog, "rows rejected")
			continue
		}
		require.Len(t, p.msgs, len(want))
		for i := range want {
			require.Equal(t, want[i].ID, p.msgs[i].ID)
			require.Equal(t, string(want[i].Data), string(p.msgs[i].Data), "batch %d with %d workers", i, workers)
		}
		assert.Equal(t, wantLog, logs.String(), "the same warnings in the same order (%d workers)", workers)
	}
}

func dropTime(_ []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

// Under reject_file the error names the first bad row of the file, even
// when a later batch is mapped first, and nothing is emitted.
func TestTableRejectFileNamesFirstBadRow(t *testing.T) {
	content, bad := messyTeamsCSV(3000, 2)
	path := writeTemp(t, "teams.csv", content)
	m := mustMapping(t, fmt.Sprintf(messyTeamsMapping, "reject_file"))
	for _, workers := range []int{1, 4} {
		s := newStructured(t, m, parser.StructuredConfig{BatchSize: 50, MapWorkers: workers})
		p, err := parseFile(t, s, "teams.csv", path)
		requireRejected(t, p, err, fmt.Sprintf("teams.csv: line %d", bad[0]))
	}
}

func TestStructuredConfigRejectsNegativeWorkers(t *testing.T) {
	_, err := parser.NewStructured(mustMapping(t, csvCaseMapping), parser.StructuredConfig{MapWorkers: -1}, nil)
	require.ErrorContains(t, err, "map_workers (-1)")
}
