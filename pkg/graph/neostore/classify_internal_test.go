package neostore

import (
	"errors"
	"fmt"
	"testing"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/stretchr/testify/assert"

	"github.com/docgraph/docgraph/pkg/graph"
)

// A write refused for reasons that say nothing about the data is
// unavailable (held and retried), never a permanent failure of the
// messages; statement and constraint errors stay data errors.
func TestClassifyWrite(t *testing.T) {
	tests := []struct {
		name            string
		give            string // Neo4j error code
		wantUnavailable bool
	}{
		{name: "password changed", give: "Neo.ClientError.Security.Unauthorized", wantUnavailable: true},
		{name: "locked after failed logins", give: "Neo.ClientError.Security.AuthenticationRateLimit", wantUnavailable: true},
		{name: "credentials expired", give: "Neo.ClientError.Security.CredentialsExpired", wantUnavailable: true},
		{name: "database dropped", give: "Neo.ClientError.Database.DatabaseNotFound", wantUnavailable: true},
		{name: "database read-only", give: "Neo.ClientError.General.ForbiddenOnReadOnlyDatabase", wantUnavailable: true},
		{name: "deadlock", give: "Neo.TransientError.Transaction.DeadlockDetected", wantUnavailable: true},
		{name: "constraint violated", give: "Neo.ClientError.Schema.ConstraintValidationFailed"},
		{name: "bad statement", give: "Neo.ClientError.Statement.SyntaxError"},
		{name: "bad value", give: "Neo.ClientError.Statement.TypeError"},
		{name: "commit not written (full disk)", give: "Neo.DatabaseError.Transaction.TransactionCommitFailed", wantUnavailable: true},
		{name: "database needs a restart", give: "Neo.DatabaseError.Transaction.TransactionStartFailed", wantUnavailable: true},
		{name: "unknown database failure", give: "Neo.DatabaseError.General.UnknownError", wantUnavailable: true},
		{name: "statement failed", give: "Neo.DatabaseError.Statement.ExecutionFailed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := classifyWrite(fmt.Errorf("apply 3 ops to neo4j bolt://x: %w", &neo4j.Neo4jError{Code: tt.give, Msg: "m"}))
			assert.Equal(t, tt.wantUnavailable, errors.Is(err, graph.ErrUnavailable), "%v", err)
			assert.Contains(t, err.Error(), tt.give)
		})
	}
}

// Open keeps a refused login a plain error: a wrong password at start ends
// the process at once instead of being waited for.
func TestClassifyOpenLeavesRefusedLoginAlone(t *testing.T) {
	err := classify(fmt.Errorf("neo4j bolt://x: %w", &neo4j.Neo4jError{Code: "Neo.ClientError.Security.Unauthorized"}))
	assert.NotErrorIs(t, err, graph.ErrUnavailable)
}

// IsLoginRefused picks a refused user or password out of Open's errors,
// not other refusals.
func TestIsLoginRefused(t *testing.T) {
	tests := []struct {
		name string
		give error
		want bool
	}{
		{"wrong password", &neo4j.Neo4jError{Code: "Neo.ClientError.Security.Unauthorized"}, true},
		{"wrapped", fmt.Errorf("neo4j bolt://x: %w", &neo4j.Neo4jError{Code: "Neo.ClientError.Security.Unauthorized"}), true},
		{"locked account", &neo4j.Neo4jError{Code: "Neo.ClientError.Security.AuthenticationRateLimit"}, false},
		{"no such database", &neo4j.Neo4jError{Code: "Neo.ClientError.Database.DatabaseNotFound"}, false},
		{"not a Neo4j error", errors.New("connection refused"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, IsLoginRefused(tt.give))
		})
	}
}

// A transaction over Neo4j's memory limits is graph.ErrResources, not an
// outage: the same write would fail again, and held as an outage it would
// stop the graph writer for good. Also when the driver's retries ran out
// and its TransactionExecutionLimit carries the error in its text only.
func TestClassifyMemoryLimit(t *testing.T) {
	oom := &neo4j.Neo4jError{Code: "Neo.TransientError.General.MemoryPoolOutOfMemoryError",
		Msg: "The allocation of an extra 2.0 MiB would use more than the limit 716.8 MiB."}
	limit := &neo4j.TransactionExecutionLimit{Cause: "timeout (exceeded max retry time: 5s)", Errors: []error{oom}}
	for _, give := range []error{oom, limit, fmt.Errorf("apply 5 ops to neo4j bolt://x: %w", limit)} {
		err := classifyWrite(give)
		assert.ErrorIs(t, err, graph.ErrResources, "%v", err)
		assert.NotErrorIs(t, err, graph.ErrUnavailable, "%v", err)
		assert.ErrorContains(t, err, "transaction memory limit")
		assert.ErrorContains(t, err, "MemoryPoolOutOfMemoryError")
	}
}
