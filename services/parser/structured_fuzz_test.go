package parser_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/pipeline"
	"github.com/docgraph/docgraph/services/parser"
)

// fuzzParseTimeout bounds one Parse call of a fuzz target: longer is a
// hang. It is generous, for the race detector and a busy machine.
const fuzzParseTimeout = 30 * time.Second

// parseBytesWithin runs Parse on data as if it were the file relPath,
// failing the test if Parse does not return within fuzzParseTimeout. The
// emitted batches are decoded; a message that does not decode fails the
// test.
func parseBytesWithin(t *testing.T, s *parser.Structured, relPath string, data []byte) (parsed, error) {
	t.Helper()
	local := filepath.Join(t.TempDir(), filepath.Base(relPath))
	require.NoError(t, os.WriteFile(local, data, 0o600))
	doc := event.NewDocument(relPath, fmt.Sprintf("%x", len(data))+"sha", int64(len(data)), 7)
	type result struct {
		out       parsed
		err       error
		decodeErr error
	}
	done := make(chan result, 1)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() {
		var r result
		r.err = s.Parse(ctx, doc, local, func(m pipeline.Message) error {
			var rec event.Records
			if err := m.Decode(&rec); err != nil && r.decodeErr == nil {
				r.decodeErr = err
			}
			r.out.msgs = append(r.out.msgs, m)
			r.out.records = append(r.out.records, rec)
			return nil
		})
		done <- r
	}()
	select {
	case r := <-done:
		require.NoError(t, r.decodeErr, "emitted batch does not decode")
		return r.out, r.err
	case <-time.After(fuzzParseTimeout):
		t.Fatalf("%s: Parse did not return within %s (%d bytes: %q)", relPath, fuzzParseTimeout, len(data), clipFuzz(data))
		return parsed{}, nil
	}
}

// clipFuzz shortens an input for a failure message.
func clipFuzz(data []byte) string {
	if len(data) > 200 {
		return string(data[:200]) + "…"
	}
	return string(data)
}

// fuzzCSVDialects are the CSV dialects FuzzStructuredCSV reads input in:
// delimiter, quote, escape.
var fuzzCSVDialects = [][3]string{
	{",", `"`, `"`},
	{";", `"`, `\`},
	{"\t", "'", "'"},
	{"|", `"`, `\`},
}

// fuzzCSVMapping maps three text columns a, b, c of files d<N>.csv (with
// a header) and n<N>.csv (without) in dialect N onto a Row node keyed by
// a.
func fuzzCSVMapping() string {
	var b strings.Builder
	b.WriteString("sources:\n")
	for i, d := range fuzzCSVDialects {
		for _, header := range []bool{true, false} {
			name := fmt.Sprintf("d%d", i)
			if !header {
				name = fmt.Sprintf("n%d", i)
			}
			fmt.Fprintf(&b, "  - name: %s\n    files: [%s.csv]\n    format: csv\n", name, name)
			fmt.Fprintf(&b, "    csv: {delimiter: %q, quote: %q, escape: %q, header: %t}\n", d[0], d[1], d[2], header)
			b.WriteString("    columns: [{name: a, required: true}, {name: b}, {name: c}]\n")
			b.WriteString("    nodes:\n      - label: Row\n        key: a\n        normalize: exact\n        properties: [b, c]\n")
		}
	}
	return b.String()
}

// FuzzStructuredCSV reads arbitrary bytes as a mapped CSV file, in several
// dialects, with and without a header. Parse never panics or hangs; it
// returns a permanent error naming the file, or rows and row errors; no
// row error is the two readers of csv.go disagreeing, and every row error
// names its line.
func FuzzStructuredCSV(f *testing.F) {
	corpus := structuredCorpus(f)
	seeds, err := filepath.Glob(filepath.Join(corpus, "external", "csv-spectrum", "csvs", "*.csv"))
	require.NoError(f, err)
	bad, err := filepath.Glob(filepath.Join(corpus, "bad", "input", "structured", "*.csv"))
	require.NoError(f, err)
	seeds = append(seeds, bad...)
	seeds = append(seeds, filepath.Join(corpus, "bad", "input", "teams.csv"))
	for _, p := range seeds {
		data, err := os.ReadFile(p)
		require.NoError(f, err)
		f.Add(data, byte(0), true)
		f.Add(data, byte(0), false)
	}
	f.Add([]byte("a,b,c\n1,2,3\n\"x\ny\",\"q\"\"\",z\n\n  \n,,\n4,5\n6,7,8,9\n\"open,1,2\n"), byte(0), true)
	f.Add([]byte("a;b;c\r\n1;\"2\\\"x\";3\r\n\"\\\\\";b;c\r\n"), byte(1), true)
	f.Add([]byte("a\tb\tc\n'it''s'\t2\t3\n\t\t\n"), byte(2), false)
	f.Add([]byte("a|b|c\n\"x\\\ny\"|2|3\n\"x\"junk|2|3\n"), byte(3), false)
	f.Add([]byte("\xEF\xBB\xBFa,b,c\r\n1,2,3\r\n4,5,6"), byte(0), false)
	f.Add([]byte("a,b,c\n1,2,\xff\n"), byte(0), true)

	s := newStructured(f, mustMapping(f, fuzzCSVMapping()), parser.StructuredConfig{BatchSize: 3, DuckDBThreads: 1, MapWorkers: 1})
	f.Fuzz(func(t *testing.T, data []byte, dialect byte, header bool) {
		name := fmt.Sprintf("d%d.csv", int(dialect)%len(fuzzCSVDialects))
		if !header {
			name = "n" + name[1:]
		}
		p, err := parseBytesWithin(t, s, name, data)
		if err != nil {
			if !pipeline.IsPermanent(err) {
				t.Fatalf("error is not permanent: %v", err)
			}
			if !strings.HasPrefix(err.Error(), name+": ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			if len(p.msgs) > 0 {
				t.Fatalf("%d batches emitted before the error %v", len(p.msgs), err)
			}
			return
		}
		if len(p.records) == 0 || !p.records[len(p.records)-1].Final {
			t.Fatalf("no final batch")
		}
		for _, e := range p.rejected() {
			if strings.Contains(e.Error, "readers disagree") {
				t.Fatalf("the CSV readers disagree: %+v", e)
			}
			if e.Line <= 0 {
				t.Fatalf("row error without a line: %+v", e)
			}
		}
	})
}
