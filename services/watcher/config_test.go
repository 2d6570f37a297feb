package watcher

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/bus/bustest"
)

func TestConfigValidate(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file.txt")
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o644))
	tests := []struct {
		name    string
		give    Config
		wantErr []string
	}{
		{name: "defaults", give: Config{Root: dir}},
		{name: "everything set", give: Config{Root: dir, Settle: time.Millisecond, Rescan: time.Hour, MaxFileSize: 1, Ignore: []string{"*.bak", "drafts"}}},
		{name: "root missing", give: Config{}, wantErr: []string{"watcher.root: required"}},
		{name: "root does not exist", give: Config{Root: filepath.Join(dir, "nope")}, wantErr: []string{"watcher.root", "no such file"}},
		{name: "root is a file", give: Config{Root: file}, wantErr: []string{"watcher.root", "not a directory"}},
		{
			name: "every problem at once",
			give: Config{Root: dir, Settle: -1, Rescan: -time.Second, MaxFileSize: -5, Ignore: []string{"[", ""}},
			wantErr: []string{
				"watcher.settle (-1ns): must not be negative",
				"watcher.rescan (-1s): must not be negative",
				"watcher.max_file_size (-5): must not be negative",
				`watcher.ignore[0] ("[")`,
				"watcher.ignore[1]: empty pattern",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.give.Validate()
			if len(tt.wantErr) == 0 {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, want := range tt.wantErr {
				assert.Contains(t, err.Error(), want)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	got := Config{Root: "x"}.withDefaults()
	assert.Equal(t, DefaultSettle, got.Settle)
	assert.Equal(t, DefaultRescan, got.Rescan)
	assert.Equal(t, int64(DefaultMaxFileSize), got.MaxFileSize)
	assert.Equal(t, int64(256<<20), got.MaxFileSize)
}

func TestNew(t *testing.T) {
	_, _, js := bustest.Provisioned(t)
	dir := t.TempDir()

	_, err := New(Config{Root: dir}, nil, nil, nil)
	require.ErrorContains(t, err, "nil jetstream")

	_, err = New(Config{}, js, nil, nil)
	require.ErrorContains(t, err, "watcher.root: required")

	// A nil logger and registerer are allowed.
	w, err := New(Config{Root: dir}, js, nil, nil)
	require.NoError(t, err)
	_, err = w.Scan(t.Context())
	require.NoError(t, err)

	// Two watchers may share one registry (the metrics are shared).
	reg := prometheus.NewRegistry()
	_, err = New(Config{Root: dir}, js, slog.New(slog.DiscardHandler), reg)
	require.NoError(t, err)
	_, err = New(Config{Root: dir}, js, slog.New(slog.DiscardHandler), reg)
	require.NoError(t, err)

	// A registry that already holds a different metric of the same name fails.
	bad := prometheus.NewRegistry()
	require.NoError(t, bad.Register(prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "docgraph", Subsystem: "watcher", Name: "files_published_total", Help: "x",
	})))
	_, err = New(Config{Root: dir}, js, nil, bad)
	require.ErrorContains(t, err, "register watcher metrics")
}

func TestNewWithoutBuckets(t *testing.T) {
	ns := bustest.NewServer(t)
	_, js := bustest.Connect(t, ns)
	w, err := New(Config{Root: t.TempDir()}, js, nil, nil)
	require.NoError(t, err)
	_, err = w.Scan(t.Context())
	require.ErrorContains(t, err, "open object store docgraph_files")
}

func TestSkipReasonDescribe(t *testing.T) {
	for _, r := range skipReasons {
		assert.NotEqual(t, string(r), r.Describe(), r)
	}
	assert.Equal(t, "symlink outside the watched folder", ReasonSymlinkOutside.Describe())
	assert.Equal(t, "other", SkipReason("other").Describe())
}
