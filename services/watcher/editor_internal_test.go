package watcher

import (
	"path"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// isEditorFile decides as path.Match over editorPatterns does.
func TestIsEditorFile(t *testing.T) {
	for _, p := range editorPatterns {
		require.Equal(t, 1, strings.Count(p, "*"), "pattern %q", p)
		require.False(t, strings.ContainsAny(p, `?[\`), "pattern %q", p)
	}
	names := []string{
		"a.md", "a.swp", ".a.swp", "a.swx", "~$report.docx", "~$", "report~", "~", "#notes#", "#", "##",
		"#notes", "a.part", "a.tmp", "a.crdownload", ".#lock", ".#", "a.md.tmp", "tmp", "swp", "a.swp.md",
		"~report", "$~a", "a#", "part",
	}
	for _, name := range names {
		want := false
		for _, p := range editorPatterns {
			if ok, _ := path.Match(p, name); ok {
				want = true
			}
		}
		assert.Equal(t, want, isEditorFile(name), name)
	}
}
