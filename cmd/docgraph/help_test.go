package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Asking for help is not an error, for every command and subcommand.
func TestHelpExitsZero(t *testing.T) {
	tests := []struct {
		args []string
		want string // in stdout or stderr
	}{
		{[]string{"--help"}, "Usage: docgraph COMMAND"},
		{[]string{"-h"}, "Usage: docgraph COMMAND"},
		{[]string{"-h"}, "Those marked [env ...] can also be\nset in a YAML file"}, // not --fix, --docs, ...
		{[]string{"help"}, "Usage: docgraph COMMAND"},
		{[]string{"up", "--help"}, "Usage: docgraph up"},
		{[]string{"worker", "--help"}, "Usage: docgraph worker"},
		{[]string{"worker", "-h"}, "'docgraph worker STAGE --help' lists the flags"},
		{[]string{"ingest", "--help"}, "Usage: docgraph ingest"},
		{[]string{"ingest", "-h"}, "Usage: docgraph ingest"},
		{[]string{"replay", "--help"}, "Usage: docgraph replay"},
		{[]string{"bench", "--help"}, "Usage: docgraph bench"},
		{[]string{"bench", "--help"}, "reports files/s"}, // as its output does
		{[]string{"status", "--help"}, "Usage: docgraph status"},
		{[]string{"reconcile", "--help"}, "Usage: docgraph reconcile"},
		{[]string{"graph", "--help"}, "Usage: docgraph graph stats|export"},
		{[]string{"graph", "stats", "--help"}, "Usage: docgraph graph stats"},
		{[]string{"graph", "export", "-h"}, "Usage: docgraph graph export"},
		{[]string{"dlq", "--help"}, "Usage: docgraph dlq list|show|replay|purge"},
		{[]string{"dlq", "list", "--help"}, "Usage: docgraph dlq list"},
		{[]string{"dlq", "purge", "-h"}, "Usage: docgraph dlq purge"},
		{[]string{"schema", "--help"}, "Usage: docgraph schema check|try"},
		{[]string{"schema", "help"}, "try FILE..."},
		{[]string{"schema", "-h"}, "-schemas.mapping"},
		{[]string{"schema", "check", "--help"}, "Usage: docgraph schema check"},
		{[]string{"schema", "try", "--help"}, "Usage: docgraph schema try [flags] FILE..."},
		{[]string{"schema", "try", "-h"}, "-rows"},
		{[]string{"version", "--help"}, "Usage: docgraph version"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, errOut, err := docgraph(t, tt.args...)
			require.NoError(t, err)
			assert.Contains(t, out+errOut, tt.want)
		})
	}
}

func TestSubcommandErrors(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr string
	}{
		{[]string{"schema"}, "schema: want check or try"},
		{[]string{"schema", "chek"}, `schema: unknown subcommand "chek" (want check or try)`},
		{[]string{"graph"}, "graph: want stats or export"},
		{[]string{"graph", "--data", "d"}, "graph: want stats or export"},
		{[]string{"dlq", "--data", "d"}, "dlq: want list, show, replay or purge"},
		{[]string{"dlq", "--data", "d", "lsit"}, `dlq: unknown subcommand "lsit"`},
		{[]string{"worker"}, "worker: stage required"},
		{[]string{"worker", "--nats", "nats://127.0.0.1:1"}, "worker: stage required"},
		{[]string{"worker", "--nats", "nats://127.0.0.1:1", "writer"}, `worker: unknown stage "writer"`},
		{[]string{"worker", "--data", "d", "parser"}, "worker: nats.url is required"},
		{[]string{"worker", "parser", "--data", "d"}, "worker: nats.url is required"},
		// Arguments a command does not take are refused, not ignored:
		// `graph export cypher` printed JSON.
		{[]string{"graph", "export", "--data", "d", "cypher"}, `graph export: unexpected argument "cypher" (the format goes in --format)`},
		{[]string{"graph", "stats", "--data", "d", "x"}, `graph stats: unexpected argument "x"`},
		{[]string{"status", "--data", "d", "parser"}, `status: unexpected argument "parser"`},
		{[]string{"schema", "check", "extraction.yaml"}, `schema check: unexpected argument "extraction.yaml"`},
		{[]string{"version", "--short"}, `version: unexpected argument "--short" (it takes none)`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, _, err := docgraph(t, tt.args...)
			require.Error(t, err)
			assert.NotEqual(t, exitCode(0), err)
			assert.ErrorContains(t, err, tt.wantErr)
		})
	}
}

// Flags may come before a subcommand.
func TestFlagsBeforeSubcommand(t *testing.T) {
	in, data := t.TempDir(), t.TempDir()
	writeFile(t, in+"/a.md", "# a\n\nAACE-101.\n")
	mustDocgraph(t, ingestArgs(data, in)...)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"dlq", "--data", data, "--nats.listen", "off", "list"}, "no dead letters"},
		{[]string{"dlq", "--data=" + data, "--stage", "parser", "--nats.listen", "off", "list"}, "no dead letters"},
		{[]string{"graph", "--data", data, "--format", "json", "export"}, `"label":"Document"`},
		{[]string{"graph", "--data", data, "stats"}, "Document"},
		{[]string{"schema", "--schemas.mapping", badMapping, "check"}, "schemas ok"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			assert.Contains(t, mustDocgraph(t, tt.args...), tt.want)
		})
	}
}

func TestSplitSubcommand(t *testing.T) {
	tests := []struct {
		name     string
		give     []string
		wantSub  string
		wantRest []string
	}{
		{"subcommand first", []string{"list", "--data", "d"}, "list", []string{"--data", "d"}},
		{"flags first", []string{"--data", "d", "list", "--json"}, "list", []string{"--data", "d", "--json"}},
		{"flag with =", []string{"--data=d", "show", "12"}, "show", []string{"--data=d", "12"}},
		{"own value flag", []string{"--stage", "parser", "replay"}, "replay", []string{"--stage", "parser"}},
		{"other flags take no value", []string{"--json", "list"}, "list", []string{"--json"}},
		{"help", []string{"--data", "d", "--help"}, "--help", []string{"--data", "d"}},
		{"none", []string{"--data", "d"}, "", []string{"--data", "d"}},
		{"after --", []string{"--data", "d", "--", "list", "x"}, "list", []string{"--data", "d", "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sub, rest := splitSubcommand(tt.give, "stage")
			assert.Equal(t, tt.wantSub, sub)
			assert.Equal(t, tt.wantRest, rest)
		})
	}
}

// A mistyped flag or value is said in one line naming the flag, the
// nearest flag when there is one, and where the flags are listed, instead
// of the error above a listing of every flag (two hundred lines).
func TestFlagErrors(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr string
	}{
		{[]string{"ingest", "--watch.setle", "2s", "in"},
			"flag provided but not defined: -watch.setle (did you mean --watch.settle? 'docgraph ingest --help' lists the flags)"},
		{[]string{"schema", "check", "--schemas.mappng", "m.yaml"},
			"flag provided but not defined: -schemas.mappng (did you mean --schemas.mapping? 'docgraph schema check --help' lists the flags)"},
		{[]string{"status", "--verbose"}, "flag provided but not defined: -verbose ('docgraph status --help' lists the flags)"},
		{[]string{"up", "--watch.settle", "5"},
			`invalid value "5" for flag -watch.settle: invalid duration "5" (want e.g. 30s) ('docgraph up --help' lists the flags)`},
		{[]string{"dlq", "purge", "--older-than", "1x"},
			`invalid value "1x" for flag -older-than: not a duration (want e.g. 168h or 30m) ('docgraph dlq purge --help' lists the flags)`},
		{[]string{"bench", "--doc", "5"},
			"flag provided but not defined: -doc (did you mean --docs? 'docgraph bench --help' lists the flags)"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, errOut, err := docgraph(t, tt.args...)
			require.Error(t, err)
			assert.NotEqual(t, exitCode(0), err)
			assert.ErrorContains(t, err, tt.wantErr)
			assert.NotContains(t, errOut, "Flags:", "the flags are listed by --help only")
		})
	}
}

// A mistyped DOCGRAPH_* variable fails every command at start, as a
// mistyped flag does, naming the nearest variable, before the command
// creates anything; the tests' own variables pass.
func TestEnvErrors(t *testing.T) {
	t.Setenv("DOCGRAPH_WATCH_SETLE", "30s")
	t.Setenv("DOCGRAPH_TEST_UNUSED", "1")
	getenv := func(k string) string {
		if strings.HasPrefix(k, "NEO4J_") || (strings.HasPrefix(k, "DOCGRAPH_") && k != "DOCGRAPH_WATCH_SETLE" && k != "DOCGRAPH_TEST_UNUSED") {
			return "" // only this test's variables
		}
		return os.Getenv(k)
	}
	data, in := filepath.Join(t.TempDir(), "data"), t.TempDir()
	for _, args := range [][]string{
		{"up", "--data", data, "--watch", in, "--nats.listen", "off", "--metrics-addr", ""},
		{"ingest", "--data", data, in},
		{"status", "--data", data},
		{"schema", "check"},
	} {
		t.Run(args[0], func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(t.Context(), args, &out, &errOut, getenv)
			require.Error(t, err)
			assert.Equal(t, "env DOCGRAPH_WATCH_SETLE: docgraph reads no such variable (did you mean DOCGRAPH_WATCH_SETTLE?)", err.Error())
			assert.NoDirExists(t, data)
		})
	}
}
