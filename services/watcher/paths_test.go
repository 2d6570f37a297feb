package watcher

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Paths lists exactly the files a scan publishes, without publishing.
func TestPathsAreWhatAScanPublishes(t *testing.T) {
	ignore := func(c *Config) {
		c.Ignore = []string{"drafts", "*.bak"}
		c.Exclude = []string{filepath.Join(c.Root, "state")} // a data directory inside
	}
	e := newEnv(t, ignore)
	for _, rel := range []string{
		"a.md", "sub/b.txt", "sub/deeper/c.html", "teams.csv",
		".hidden.md", ".git/config", "~$report.docx", "notes.md.swp", "sub/x.tmp", "#draft.md#",
		"drafts/d.md", "old.bak", "state/nats/meta.inf", "bad-\xff-name.md",
	} {
		e.write(t, rel, "text of "+rel+"\n")
	}
	require.NoError(t, os.Symlink(filepath.Join(e.root, "a.md"), filepath.Join(e.root, "link.md")))

	cfg := Config{Root: e.root}
	ignore(&cfg)
	paths, err := Paths(t.Context(), cfg)
	require.NoError(t, err)
	assert.Equal(t, []string{"a.md", "link.md", "sub/b.txt", "sub/deeper/c.html", "teams.csv"}, slices.Sorted(slices.Values(paths)))
	assert.Empty(t, e.messages(t), "Paths publishes nothing")

	var published []string
	for _, r := range e.scan(t).Results {
		if r.Outcome == Published {
			published = append(published, r.Path)
		}
	}
	assert.ElementsMatch(t, paths, published)
}

func TestPathsErrors(t *testing.T) {
	_, err := Paths(t.Context(), Config{Root: filepath.Join(t.TempDir(), "missing")})
	require.ErrorContains(t, err, "missing")

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	root := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(root, "a.md"), []byte("a"), 0o644))
	_, err = Paths(ctx, Config{Root: root})
	require.ErrorIs(t, err, ctx.Err())
}
