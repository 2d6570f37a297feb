package watcher

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/fsnotify/fsnotify"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newTreePending returns a pending that knows a tree of n directories
// under root, ten per parent, as if they were watched, and their paths
// deepest first (the order of rm -r's events).
func newTreePending(tb testing.TB, root string, n int) (*pending, []string) {
	tb.Helper()
	fw, err := fsnotify.NewWatcher()
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = fw.Close() })
	pend := newPending(fw)
	dirs := []string{root}
	for i := 1; i < n; i++ {
		dirs = append(dirs, filepath.Join(dirs[(i-1)/10], fmt.Sprintf("d%d", i)))
	}
	for _, d := range dirs {
		pend.known(d)
		pend.watched[d] = true
	}
	for i, j := 0, len(dirs)-1; i < j; i, j = i+1, j-1 {
		dirs[i], dirs[j] = dirs[j], dirs[i]
	}
	return pend, dirs
}

// A directory gone drops the watches of the directories under it, and only
// those.
func TestUnwatchTree(t *testing.T) {
	w := &Watcher{root: "/r", log: slog.New(slog.DiscardHandler)}
	pend, _ := newTreePending(t, "/r", 111) // /r, d1..d10, their ten each
	assert.True(t, w.unwatchTree(t.Context(), pend, "/r/d1"))
	assert.False(t, pend.watched["/r/d1"])
	assert.False(t, pend.watched["/r/d1/d11"])
	assert.True(t, pend.watched["/r/d2/d21"])
	assert.Len(t, pend.watched, 111-11)
	assert.False(t, w.unwatchTree(t.Context(), pend, "/r/d1"), "already dropped")
	assert.NotContains(t, pend.subdirs["/r"], "/r/d1")
}

// BenchmarkUnwatchTree drops a tree of 20,000 directories one event at a
// time, deepest first, as rm -r does.
func BenchmarkUnwatchTree(b *testing.B) {
	w := &Watcher{root: "/r", log: slog.New(slog.DiscardHandler)}
	for b.Loop() {
		b.StopTimer()
		pend, dirs := newTreePending(b, "/r", 20_000)
		b.StartTimer()
		for _, d := range dirs {
			w.unwatchTree(b.Context(), pend, d)
		}
	}
}

func TestInAny(t *testing.T) {
	dirs := newDirSet([]string{"a/b", "c"})
	tests := []struct {
		give string
		want bool
	}{
		{give: "a/b", want: true},
		{give: "a/b/x.md", want: true},
		{give: "a/b/c/x.md", want: true},
		{give: "c/x.md", want: true},
		{give: "a/bc/x.md", want: false},
		{give: "a/x.md", want: false},
		{give: "a", want: false},
		{give: "cx.md", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			assert.Equal(t, tt.want, inAny(tt.give, dirs))
		})
	}
	assert.False(t, inAny("a/b", nil))
}

// BenchmarkInAny checks 120,000 recorded files against the 5,000
// directories of a deleted tree, as sweep does.
func BenchmarkInAny(b *testing.B) {
	var dirs []string
	for i := range 5000 {
		dirs = append(dirs, fmt.Sprintf("d%02d/e%03d", i/100, i%100))
	}
	set := newDirSet(dirs)
	paths := make([]string, 120_000)
	for i := range paths {
		paths[i] = fmt.Sprintf("minutes/f%02d/%06d-steering-committee.md", i%100, i)
	}
	for b.Loop() {
		for _, p := range paths {
			inAny(p, set)
		}
	}
}
