package watcher

import (
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// corpusDir returns ../shared/corpus/<name> relative to the module root.
func corpusDir(t *testing.T, name string) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("go.mod not found above the package directory")
		}
		dir = parent
	}
	c := filepath.Join(dir, "..", "shared", "corpus", name)
	if _, err := os.Stat(filepath.Join(c, "input")); err != nil {
		t.Fatalf("test corpus missing: %v (the corpus is expected at ../shared/corpus next to the repository)", err)
	}
	return c
}

// copyCorpus copies <corpus>/input to <tmp>/input and <corpus>/README.md to
// <tmp>/README.md, keeping symlinks. A checkout without symlink support
// stores a link as a small file holding its target; such a file that names
// a path outside the folder is recreated as the symlink it stands for.
func copyCorpus(t *testing.T, corpus string) string {
	t.Helper()
	dst := t.TempDir()
	copyFile(t, filepath.Join(corpus, "README.md"), filepath.Join(dst, "README.md"))
	src := filepath.Join(corpus, "input")
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, "input", rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(to, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(target, to)
		case d.Name() == "outside-link.md":
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if target := strings.TrimSpace(string(b)); strings.HasPrefix(target, "../") {
				return os.Symlink(target, to)
			}
		}
		copyFile(t, p, to)
		return nil
	})
	require.NoError(t, err)
	return filepath.Join(dst, "input")
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	require.NoError(t, err)
	defer func() { require.NoError(t, in.Close()) }()
	out, err := os.Create(to)
	require.NoError(t, err)
	_, err = io.Copy(out, in)
	require.NoError(t, err)
	require.NoError(t, out.Close())
}

func TestScanBadCorpus(t *testing.T) {
	corpus := corpusDir(t, "bad")
	var expected struct {
		Documents []struct {
			Path   string `json:"path"`
			SHA256 string `json:"sha256"`
			Bytes  int64  `json:"bytes"`
		} `json:"documents"`
		Files []struct {
			Path   string `json:"path"`
			Expect string `json:"expect"`
		} `json:"files"`
	}
	b, err := os.ReadFile(filepath.Join(corpus, "expected.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &expected))
	require.NotEmpty(t, expected.Documents)

	root := copyCorpus(t, corpus)
	e := newEnv(t, func(c *Config) { c.Root = root })
	e.root = root
	rep := e.scan(t)

	var files []string
	require.NoError(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, err := filepath.Rel(root, p)
			files = append(files, filepath.ToSlash(rel))
			return err
		}
		return err
	}))
	assert.Len(t, rep.Results, len(files), "one result per file")
	assert.Equal(t, len(files)-1, rep.Count(Published), "every file but the outside link")
	assert.Zero(t, rep.Count(Failed))

	link, ok := rep.Lookup("outside-link.md")
	require.True(t, ok)
	assert.Equal(t, Skipped, link.Outcome)
	assert.Equal(t, ReasonSymlinkOutside, link.Reason)
	assert.Contains(t, link.Detail, "symlink outside the watched folder")
	assert.Contains(t, link.Detail, "outside-link.md")

	// Every document arrives with its exact path (41 nested directories, the
	// NFC name with spaces and symbols) and the expected hash.
	for _, d := range expected.Documents {
		res, ok := rep.Lookup(d.Path)
		if !assert.True(t, ok, "%s not reported", d.Path) {
			continue
		}
		assert.Equal(t, Published, res.Outcome, d.Path)
		assert.Equal(t, d.SHA256, res.SHA256, d.Path)
		assert.Equal(t, d.Bytes, res.Size, d.Path)
		evs := e.discovered(t, d.Path)
		if assert.Len(t, evs, 1, d.Path) {
			assert.Equal(t, d.Path, evs[0].Path)
		}
	}
	deep := expected.Documents[0].Path
	require.Equal(t, 41, strings.Count(deep, "/"), "the deep document is 41 directories down")
	const unicodeName = "Überprüfung Protokoll – März 2024 (Entwurf) ✓.md"
	res, ok := rep.Lookup(unicodeName)
	require.True(t, ok)
	assert.Equal(t, Published, res.Outcome)
	got, err := e.objects(t).GetBytes(t.Context(), res.Object)
	require.NoError(t, err)
	want, err := os.ReadFile(filepath.Join(root, unicodeName))
	require.NoError(t, err)
	assert.Equal(t, want, got)

	// Nothing is published twice.
	n := len(e.messages(t))
	again := e.scan(t)
	assert.Equal(t, len(files)-1, again.Count(Unchanged))
	assert.Len(t, e.messages(t), n)
}
