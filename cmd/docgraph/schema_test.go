package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSchemaCheckReportsBothFiles: with both the extraction schema and the
// mapping broken, one 'schema check' names the problems of both, so that
// fixing the first does not reveal the second only on the next run.
func TestSchemaCheckReportsBothFiles(t *testing.T) {
	dir := t.TempDir()
	extraction, mapping := filepath.Join(dir, "extraction.yaml"), filepath.Join(dir, "structured.yaml")
	writeFile(t, extraction, "version: 1\n")
	writeFile(t, mapping, "unmapped: sometimes\n")
	_, _, err := docgraph(t, "schema", "check", "--schemas.extraction", extraction, "--schemas.mapping", mapping)
	require.Error(t, err)
	assert.ErrorContains(t, err, "schemas.extraction "+extraction+": extraction schema: entities: at least one entity type required")
	assert.ErrorContains(t, err, "schemas.mapping "+mapping+`: mapping: unmapped: "sometimes"`)
}

// sampleInput is the sample corpus's input folder.
func sampleInput(t *testing.T) string {
	t.Helper()
	return filepath.Join(corpusDir(t, "sample"), "input")
}

// expectedRels counts the sample's expected relationships of a type and
// source.
func expectedRels(exp expected, typ, source string) int {
	n := 0
	for _, r := range exp.Relationships {
		if r.Type == typ && r.Source == source {
			n++
		}
	}
	return n
}

// TestSchemaTrySample: the shipped mapping on the sample's spreadsheets,
// named by their names (the corpus is outside the current folder): the
// sources, sheets and header matches, the first rows' nodes and
// relationships, and totals that agree with the sample's ground truth.
func TestSchemaTrySample(t *testing.T) {
	in := sampleInput(t)
	exp := loadExpected(t, "sample")
	out := mustDocgraph(t, "schema", "try", "--rows", "2",
		filepath.Join(in, "teams.csv"), filepath.Join(in, "projects.xlsx"), filepath.Join(in, "managers.xlsx"))
	teams, rest, ok := strings.Cut(out, "projects.xlsx\n")
	require.True(t, ok, out)
	projects, managers, ok := strings.Cut(rest, "managers.xlsx\n")
	require.True(t, ok, out)

	assert.Contains(t, teams, `source:  teams (csv), matching "teams.csv" (its name, as 'docgraph ingest FILE' keys it)`)
	assert.Contains(t, teams, "header:  line 1\n")
	assert.Regexp(t, `member_name +matched, column 1\n`, teams)
	assert.Regexp(t, `team_name +matched, column 3\n`, teams)
	assert.Contains(t, teams, "    data row 1\n"+
		`      node Person "valentina young" {name: "Valentina Young"}`+"\n"+
		`      node Team "titan scheduling" {name: "Titan Scheduling"}`+"\n"+
		`      rel  MEMBER_OF Person "valentina young" -> Team "titan scheduling" {role: "Scheduler"}`+"\n"+
		`      rel  WORKS_ON Team "titan scheduling" -> Project "PRJ-9514"`+"\n")
	assert.Contains(t, teams, `rel  WORKS_ON Team "titan scheduling" -> Project "PRJ-4355"`)
	assert.NotContains(t, teams, "data row 3")
	assert.Contains(t, teams, fmt.Sprintf("relationships (MEMBER_OF %d, WORKS_ON %d), 0 row errors",
		expectedRels(exp, "MEMBER_OF", "structured"), expectedRels(exp, "WORKS_ON", "structured")))
	assert.Contains(t, teams, "Team 5)")
	assert.Contains(t, teams, "result:  would ingest")

	assert.Contains(t, projects, `source:  projects (xlsx), matching "projects.xlsx" (its name`)
	assert.Contains(t, projects, "sheet:   Projects\n")
	assert.Contains(t, projects, "header:  row 1\n")
	assert.Regexp(t, `code +matched, column A\n`, projects)
	assert.Regexp(t, `manager +matched, column G\n`, projects)
	assert.Regexp(t, `region +ignored \(not declared\), column B\n`, projects)
	assert.Contains(t, projects, `node Project "PRJ-6746" {budget: 23778000, name: "Bramley Flood Barrier Refurbishment", start_date: "2022-03-17", status: "On Hold"}`)
	assert.Contains(t, projects, `rel  MANAGES Person "ines foster" -> Project "PRJ-6746"`)
	assert.Contains(t, projects, fmt.Sprintf("relationships (MANAGES %d)", expectedRels(exp, "MANAGES", "structured")))
	assert.Contains(t, projects, "Project 8)")

	assert.Contains(t, managers, "sheet:   Managers\n")
	assert.Regexp(t, `email +matched, column A\n`, managers)
	assert.Contains(t, managers, `node Person "ines foster" {email: "ines.foster@example.com", name: "Ines Foster", role: "PMO Lead"}`)
	assert.Contains(t, managers, "0 relationships, 0 row errors")
	assert.Contains(t, out, "schema try: 3 files: 3 would ingest, 0 rejected, 0 named by no source\n")
}

// budgetsMapping maps budgets.csv, with a number column whose bad cells
// are row errors.
const budgetsMapping = `
on_row_error: %s
sources:
  - name: budgets
    files: [budgets.csv, "plans/*.csv"]
    format: csv
    columns:
      - {name: code, required: true}
      - {name: budget, type: int, required: true}
      - {name: owner}
    nodes:
      - {label: Project, key: code, normalize: upper, properties: [budget]}
`

func writeMapping(t *testing.T, onRowError string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "structured.yaml")
	writeFile(t, p, fmt.Sprintf(budgetsMapping, onRowError))
	return p
}

const budgetsCSV = "code,budget,notes\nprj-1,100,x\nprj-2,lots,\n\nprj-3,300,\n,400,\n"

// TestSchemaTryRowErrors: rows that fail are listed with their lines as
// ingest reports them and skipped, and the file still ingests.
func TestSchemaTryRowErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "budgets.csv")
	writeFile(t, file, budgetsCSV)
	out := mustDocgraph(t, "schema", "try", "--schemas.mapping", writeMapping(t, "skip_row"), file)
	assert.Regexp(t, `owner +MISSING \(optional: read as empty\)\n`, out)
	assert.Regexp(t, `notes +ignored \(not declared\), column 3\n`, out)
	assert.Contains(t, out, "    data row 1\n      node Project \"PRJ-1\" {budget: 100}\n")
	assert.Contains(t, out, "    data row 2\n      skipped: line 3, column budget, value \"lots\": not a whole number\n")
	assert.Contains(t, out, "totals:  4 rows read, 2 nodes (Project 2), 0 relationships, 2 row errors\n")
	assert.Contains(t, out, "row errors (skipped, on_row_error: skip_row):\n"+
		"    line 3, column budget, value \"lots\": not a whole number\n"+
		"    line 6, column code: every key column is empty: the row gives nothing\n")
	assert.Contains(t, out, "result:  would ingest")
	assert.Contains(t, out, "1 would ingest, 0 rejected")
}

// TestSchemaTryRejected: a file the ingest would reject whole makes the
// command exit 1, naming why.
func TestSchemaTryRejected(t *testing.T) {
	dir := t.TempDir()
	teams := filepath.Join(dir, "teams.csv")
	writeFile(t, teams, "member_name,team_name,project_code\nAda Lovelace,Engines,PRJ-1\n")
	budgets := filepath.Join(dir, "budgets.csv")
	writeFile(t, budgets, budgetsCSV)
	tests := []struct {
		name  string
		args  []string
		wants []string
	}{
		{"missing required column", []string{teams}, []string{
			"role          MISSING (required)",
			"result:  rejected whole: teams.csv: source teams: header (line 1): missing required columns: role",
			"0 would ingest, 1 rejected",
		}},
		{"on_row_error: reject_file", []string{"--schemas.mapping", writeMapping(t, "reject_file"), budgets}, []string{
			`result:  rejected whole: budgets.csv: line 3, column budget, value "lots": not a whole number (on_row_error: reject_file)`,
			"0 would ingest, 1 rejected",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := docgraph(t, append([]string{"schema", "try"}, tt.args...)...)
			assert.Equal(t, exitCode(1), err)
			for _, want := range tt.wants {
				assert.Contains(t, out, want)
			}
			assert.NotContains(t, out, "data row")
		})
	}
}

// TestSchemaTryUnnamed: a file no source names exits 1 and says what
// unmapped does with it.
func TestSchemaTryUnnamed(t *testing.T) {
	in := sampleInput(t)
	out, _, err := docgraph(t, "schema", "try", filepath.Join(in, "teams.csv"), filepath.Join(in, "project_manager_report.csv"))
	assert.Equal(t, exitCode(1), err)
	assert.Contains(t, out, "project_manager_report.csv\n"+
		`  source:  none names "project_manager_report.csv"`+"\n"+
		"  ingest:  read as a document (unmapped: document): its text is extracted, its rows are not mapped\n"+
		"  result:  named by no source\n")
	assert.Contains(t, out, "schema try: 2 files: 1 would ingest, 0 rejected, 1 named by no source\n")

	out, _, err = docgraph(t, "schema", "try", "--parser.unmapped", "reject", filepath.Join(in, "project_manager_report.csv"))
	assert.Equal(t, exitCode(1), err)
	assert.Contains(t, out, "ingest:  rejected (unmapped: reject)")
}

// TestSchemaTryKeys: a file in a folder below the current one is named by
// its path from here (as a watched folder here keys it) or by its name
// (as 'docgraph ingest FILE' keys it), and the output says which.
func TestSchemaTryKeys(t *testing.T) {
	mapping := writeMapping(t, "skip_row")
	t.Chdir(t.TempDir())
	require.NoError(t, os.MkdirAll("plans", 0o755))
	writeFile(t, filepath.Join("plans", "q3.csv"), "code,budget\nA-1,5\n")
	writeFile(t, filepath.Join("plans", "budgets.csv"), "code,budget\nA-1,5\n")
	out := mustDocgraph(t, "schema", "try", "--schemas.mapping", mapping, "plans/q3.csv", "./plans/budgets.csv")
	assert.Contains(t, out, "plans/q3.csv\n"+
		`  source:  budgets (csv), matching "plans/q3.csv" (its path from here, as a watched folder here keys it)`+"\n"+
		`  note:    as "q3.csv" (its name, as 'docgraph ingest FILE' keys it) no source names it`+"\n")
	assert.Contains(t, out, "./plans/budgets.csv\n"+
		`  source:  budgets (csv), matching "plans/budgets.csv" (its path from here, as a watched folder here keys it)`+"\n  header:")
}

// TestSchemaTryRows: --rows 0 shows no rows but the totals. The
// temporary folder is removed at exit.
func TestSchemaTryRows(t *testing.T) {
	teams := filepath.Join(sampleInput(t), "teams.csv")
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	out := mustDocgraph(t, "schema", "--rows", "0", "try", teams)
	assert.NotContains(t, out, "data row")
	assert.NotContains(t, out, "node ")
	assert.Contains(t, out, "totals:  27 rows read, 25 nodes (Person 20, Team 5)")
	left, err := os.ReadDir(tmp)
	require.NoError(t, err)
	assert.Empty(t, left, "the temporary folder is removed")

	out = mustDocgraph(t, "schema", "try", teams)
	assert.Contains(t, out, "data row 5\n")
	assert.NotContains(t, out, "data row 6\n")
}

func TestSchemaTryArguments(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no file", nil, "schema try: FILE required"},
		{"missing file", []string{"nope.csv"}, "schema try: nope.csv: no such file"},
		{"folder", []string{"testdata"}, "schema try: testdata: a folder: name the files to try"},
		{"negative rows", []string{"--rows", "-1", "x.csv"}, "schema try: --rows (-1): must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := docgraph(t, append([]string{"schema", "try"}, tt.args...)...)
			require.Error(t, err)
			assert.NotEqual(t, exitCode(1), err)
			assert.ErrorContains(t, err, tt.wantErr)
		})
	}
}

// TestSchemaTryInterrupted: an interrupted run ends with the interruption,
// not with files reported as rejected.
func TestSchemaTryInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var out, errOut bytes.Buffer
	err := run(ctx, []string{"schema", "try", filepath.Join(sampleInput(t), "teams.csv")}, &out, &errOut, func(string) string { return "" })
	assert.ErrorIs(t, err, context.Canceled)
	assert.NotContains(t, out.String(), "schema try:")
}

// A mapping with errors stops up, worker and ingest before anything
// starts: no watched folder made, no NATS server started, and no warning
// about a graph writer entry left behind by the stop.
func TestInvalidMappingStopsBeforeStarting(t *testing.T) {
	mapping := filepath.Join(t.TempDir(), "structured.yaml")
	writeFile(t, mapping, "sources:\n  - name: teams\n    files: [teams.csv]\n    format: csv\n    columns:\n"+
		"      - {name: team, required: true}\n    nodes:\n      - {label: Team, key: team, normalize: uper}\n")
	in := t.TempDir()
	writeFile(t, filepath.Join(in, "a.md"), "# a\n")
	tests := []struct {
		name string
		args func(data string) []string
	}{
		{"up", func(data string) []string {
			return []string{"up", "--data", data, "--watch", filepath.Join(data, "inbox"), "--metrics-addr", "", "--nats.listen", "off"}
		}},
		{"ingest", func(data string) []string { return ingestArgs(data, in) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "data")
			require.NoError(t, os.Mkdir(data, 0o755))
			_, errOut, err := docgraph(t, append(tt.args(data), "--schemas.mapping", mapping, "--log-format", "json")...)
			require.Error(t, err)
			assert.ErrorContains(t, err, `schemas.mapping `+mapping+`: mapping: sources[0] (teams): nodes[0].normalize: "uper" is not one of`)
			assert.NotContains(t, errOut, "embedded nats started")
			assert.NotContains(t, errOut, "graph writer entry not removed")
			assert.NoDirExists(t, filepath.Join(data, "inbox"))
			assert.NoDirExists(t, filepath.Join(data, "nats"))
		})
	}
}
