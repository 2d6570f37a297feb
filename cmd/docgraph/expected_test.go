package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// corpusDir returns ../shared/corpus/<name>, failing clearly when the
// shared test data is missing.
func corpusDir(t testing.TB, name string) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "..", "shared", "corpus", name))
	require.NoError(t, err)
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("test corpus %s not found (the repository expects ../shared beside it): %v", dir, err)
	}
	return dir
}

type expNode struct {
	Label      string         `json:"label"`
	Key        string         `json:"key"`
	Properties map[string]any `json:"properties"`
}

type expRef struct {
	Label string `json:"label"`
	Key   string `json:"key"`
}

type expRel struct {
	Type       string         `json:"type"`
	From       expRef         `json:"from"`
	To         expRef         `json:"to"`
	Source     string         `json:"source"`
	Properties map[string]any `json:"properties"`
}

type expected struct {
	Documents []struct {
		Path string `json:"path"`
	} `json:"documents"`
	Sources []struct {
		Path string `json:"path"`
	} `json:"sources"`
	OtherFiles []struct {
		Path string `json:"path"`
	} `json:"other_files"`
	Nodes         []expNode `json:"nodes"`
	Relationships []expRel  `json:"relationships"`
	Mentions      []struct {
		Document string `json:"document"`
		Label    string `json:"label"`
		Key      string `json:"key"`
	} `json:"mentions"`
	NearMisses []struct {
		MustNot struct {
			Node         *expRef `json:"node"`
			Relationship *expRel `json:"relationship"`
		} `json:"must_not"`
	} `json:"near_misses"`
	MustNotExist []json.RawMessage `json:"must_not_exist"`
}

func loadExpected(t testing.TB, corpus string) expected {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(corpusDir(t, corpus), "expected.json"))
	require.NoError(t, err)
	var e expected
	require.NoError(t, json.Unmarshal(data, &e))
	return e
}

type exportJSON struct {
	Nodes         []expNode `json:"nodes"`
	Relationships []expRel  `json:"relationships"`
}

func parseExport(t testing.TB, data []byte) exportJSON {
	t.Helper()
	var ex exportJSON
	require.NoError(t, json.Unmarshal(data, &ex), "export is JSON")
	return ex
}

func relSource(r expRel) string {
	if r.Source != "" {
		return r.Source
	}
	s, _ := r.Properties["source"].(string)
	return s
}

func relKey(r expRel) string {
	return fmt.Sprintf("%s %s:%s -> %s:%s [%s]", r.Type, r.From.Label, r.From.Key, r.To.Label, r.To.Key, relSource(r))
}

func normValue(v any) any {
	switch x := v.(type) {
	case float64:
		return math.Round(x*1e6) / 1e6
	case string:
		s := strings.TrimSpace(x)
		if len(s) >= 10 && s[4] == '-' && s[7] == '-' {
			return s[:10]
		}
		return s
	}
	return v
}

// checkOpts says which parts of expected.json a test holds the graph to.
type checkOpts struct {
	structured bool // Person/Project/Team nodes, properties, structured relationships
}

// checkGraph compares an export with expected.json: documents, mentions per
// document, text MANAGES, procedures, near misses — and with structured
// also the structured nodes, properties and relationships. Sets must be
// equal: nothing missing, nothing extra.
func checkGraph(t testing.TB, ex exportJSON, exp expected, opts checkOpts) {
	t.Helper()
	optionalDocs := map[string]bool{}
	for _, s := range exp.Sources {
		optionalDocs[s.Path] = true
	}
	for _, o := range exp.OtherFiles {
		optionalDocs[o.Path] = true
	}
	nodes := map[string]expNode{}
	var gotDocs []string
	for _, n := range ex.Nodes {
		nodes[n.Label+":"+n.Key] = n
		if n.Label == "Document" && !optionalDocs[n.Key] {
			gotDocs = append(gotDocs, n.Key)
		}
	}
	var wantDocs []string
	for _, d := range exp.Documents {
		wantDocs = append(wantDocs, d.Path)
	}
	sort.Strings(gotDocs)
	sort.Strings(wantDocs)
	require.Equal(t, wantDocs, gotDocs, "Document nodes")

	// Mentions at document level.
	chunkDoc := map[string][]string{}
	for _, r := range ex.Relationships {
		if r.Type == "HAS_CHUNK" {
			chunkDoc[r.To.Key] = append(chunkDoc[r.To.Key], r.From.Key)
		}
	}
	got := map[string]bool{}
	for _, r := range ex.Relationships {
		if r.Type != "MENTIONS" {
			continue
		}
		for _, d := range chunkDoc[r.From.Key] {
			if !optionalDocs[d] {
				got[d+" "+r.To.Label+":"+r.To.Key] = true
			}
		}
	}
	want := map[string]bool{}
	for _, m := range exp.Mentions {
		want[m.Document+" "+m.Label+":"+m.Key] = true
	}
	requireSameSet(t, want, got, "document mentions")

	// Relationships.
	gotRels, wantRels := map[string]bool{}, map[string]bool{}
	for _, r := range ex.Relationships {
		switch r.Type {
		case "MANAGES", "MEMBER_OF", "WORKS_ON":
			if opts.structured || relSource(r) == "text" {
				got[relKey(r)] = true
				gotRels[relKey(r)] = true
			}
		}
	}
	for _, r := range exp.Relationships {
		if opts.structured || r.Source == "text" {
			wantRels[relKey(r)] = true
		}
	}
	requireSameSet(t, wantRels, gotRels, "domain relationships")

	// Procedures exist only through text.
	gotProc, wantProc := map[string]bool{}, map[string]bool{}
	for _, n := range ex.Nodes {
		if n.Label == "Procedure" {
			gotProc[n.Key] = true
		}
	}
	for _, n := range exp.Nodes {
		if n.Label == "Procedure" {
			wantProc[n.Key] = true
		}
	}
	requireSameSet(t, wantProc, gotProc, "Procedure nodes")

	if opts.structured {
		gotS, wantS := map[string]bool{}, map[string]bool{}
		for _, n := range ex.Nodes {
			switch n.Label {
			case "Person", "Project", "Team":
				gotS[n.Label+":"+n.Key] = true
			}
		}
		for _, n := range exp.Nodes {
			switch n.Label {
			case "Person", "Project", "Team":
				wantS[n.Label+":"+n.Key] = true
				g, ok := nodes[n.Label+":"+n.Key]
				if !ok {
					continue
				}
				for k, v := range n.Properties {
					require.Equal(t, normValue(v), normValue(g.Properties[k]), "%s:%s property %s", n.Label, n.Key, k)
				}
			}
		}
		requireSameSet(t, wantS, gotS, "structured nodes")
		// MEMBER_OF role.
		roles := map[string]any{}
		for _, r := range ex.Relationships {
			if r.Type == "MEMBER_OF" {
				roles[relKey(r)] = r.Properties["role"]
			}
		}
		for _, r := range exp.Relationships {
			if r.Type == "MEMBER_OF" && r.Properties["role"] != nil {
				require.Equal(t, normValue(r.Properties["role"]), normValue(roles[relKey(r)]), "role of %s", relKey(r))
			}
		}
	}

	for _, nm := range exp.NearMisses {
		if n := nm.MustNot.Node; n != nil {
			_, present := nodes[n.Label+":"+n.Key]
			require.False(t, present, "near miss produced node %s:%s", n.Label, n.Key)
		}
		if r := nm.MustNot.Relationship; r != nil {
			for _, g := range ex.Relationships {
				if g.Type == r.Type && g.From == r.From && g.To == r.To {
					t.Fatalf("near miss produced relationship %s", relKey(g))
				}
			}
		}
	}
}

func requireSameSet(t testing.TB, want, got map[string]bool, what string) {
	t.Helper()
	var missing, extra []string
	for k := range want {
		if !got[k] {
			missing = append(missing, k)
		}
	}
	for k := range got {
		if !want[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Fatalf("%s differ: %d missing %v; %d unexpected %v", what, len(missing), head(missing), len(extra), head(extra))
	}
}

func head(s []string) []string {
	if len(s) > 8 {
		return s[:8]
	}
	return s
}

// failT records the first failure of a check instead of failing the test.
type failT struct {
	testing.TB
	msg string
}

func (f *failT) Helper() {}
func (f *failT) Errorf(format string, args ...any) {
	if f.msg == "" {
		f.msg = fmt.Sprintf(format, args...)
	}
}
func (f *failT) Fatalf(format string, args ...any) { f.Errorf(format, args...); runtime.Goexit() }
func (f *failT) FailNow()                          { f.Errorf("failed"); runtime.Goexit() }
func (f *failT) Fail()                             { f.Errorf("failed") }
func (f *failT) Name() string                      { return "check" }
