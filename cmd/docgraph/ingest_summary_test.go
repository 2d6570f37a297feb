package main

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/docgraph/docgraph/pkg/event"
)

// The summary names a file's first skipped rows, once each however often
// the file was parsed, and counts the rest.
func TestRejectedRowsSummary(t *testing.T) {
	r := newRejectedRows()
	row := func(line int) event.RowError {
		return event.RowError{Line: line, Column: "budget", Value: "TBD", Error: "not a number"}
	}
	r.add("projects.csv", []event.RowError{row(3), row(7)})
	r.add("projects.csv", []event.RowError{row(3), row(7)}) // parsed again
	r.add("projects.csv", []event.RowError{row(9), {Error: "5 fields, the header has 4"}})
	r.add("teams.csv", []event.RowError{row(2)})
	assert.Equal(t, `4 skipped (on_row_error: skip_row): line 3, column budget, value "TBD": not a number; `+
		`line 7, column budget, value "TBD": not a number; line 9, column budget, value "TBD": not a number; `+
		`and 1 more (see the log)`, describeSkipped(r.of("projects.csv")))
	assert.Equal(t, `1 skipped (on_row_error: skip_row): line 2, column budget, value "TBD": not a number`, describeSkipped(r.of("teams.csv")))
	assert.Empty(t, r.of("other.csv"))
	assert.Equal(t, "row: 5 fields, the header has 4", r.of("projects.csv")[3])
}
