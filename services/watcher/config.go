package watcher

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
	"time"
)

// Defaults for the zero values of Config.
const (
	DefaultSettle      = time.Second
	DefaultRescan      = 30 * time.Second
	DefaultMaxFileSize = 256 << 20
)

// Config configures a Watcher. Zero durations and sizes take the defaults.
type Config struct {
	// Root is the watched folder; it must exist and be a directory.
	Root string
	// Settle is how long a file's size and mtime must stay unchanged before
	// Run publishes it (default 1s). Scan does not wait.
	Settle time.Duration
	// Rescan is the interval of Run's full rescan, which catches what
	// fsnotify misses (default 30s). A folder whose rescan takes longer
	// than a twentieth of it is rescanned less often (rescanSpacing).
	Rescan time.Duration
	// MaxFileSize is the largest file published, in bytes (default 256 MiB);
	// larger files are refused with a warning.
	MaxFileSize int64
	// Ignore holds extra glob patterns (path.Match syntax) matched against
	// each entry's base name and its slash-separated path relative to Root.
	Ignore []string
	// Formats are the formats published: lower-case file extensions
	// without the dot ("" for files without one). A file of another format
	// is skipped (ReasonUnsupported) rather than stored and dead-lettered
	// by the parser. Empty: every format.
	Formats []string
	// Exclude holds directories never published, such as docgraph's data
	// directory inside Root, whose store files change with every
	// publication. Root must not be one of them; those outside Root are
	// ignored.
	Exclude []string
	// OnScanResult, if set, is told each file's result as a scan (Scan,
	// ScanFiles, Run's rescans) reaches it, before the scan returns: a
	// caller can show progress through a large folder. It is called from
	// several goroutines at once.
	OnScanResult func(Result)
	// AllowEmpty lets a scan that finds Root empty withdraw the files
	// recorded for it. By default they are kept, if there are more than
	// one (Report.Held): a folder
	// that held files and is suddenly empty is more often a share that is
	// not mounted (yet) than files deleted on purpose, and withdrawing
	// them would empty the graph. Files deleted while the watcher runs are
	// withdrawn one by one, whatever this says.
	AllowEmpty bool
}

func (c Config) withDefaults() Config {
	if c.Settle == 0 {
		c.Settle = DefaultSettle
	}
	if c.Rescan == 0 {
		c.Rescan = DefaultRescan
	}
	if c.MaxFileSize == 0 {
		c.MaxFileSize = DefaultMaxFileSize
	}
	return c
}

// Validate reports every problem of the configuration at once; each error
// names the field.
func (c Config) Validate() error {
	var errs []error
	if c.Root == "" {
		errs = append(errs, errors.New("watcher.root: required"))
	} else if st, err := os.Stat(c.Root); err != nil {
		errs = append(errs, fmt.Errorf("watcher.root (%q): %w", c.Root, err))
	} else if !st.IsDir() {
		errs = append(errs, fmt.Errorf("watcher.root (%q): not a directory", c.Root))
	}
	if c.Settle < 0 {
		errs = append(errs, fmt.Errorf("watcher.settle (%s): must not be negative", c.Settle))
	}
	if c.Rescan < 0 {
		errs = append(errs, fmt.Errorf("watcher.rescan (%s): must not be negative", c.Rescan))
	}
	if c.MaxFileSize < 0 {
		errs = append(errs, fmt.Errorf("watcher.max_file_size (%d): must not be negative", c.MaxFileSize))
	}
	for i, p := range c.Ignore {
		if p == "" {
			errs = append(errs, fmt.Errorf("watcher.ignore[%d]: empty pattern", i))
		} else if _, err := path.Match(p, ""); err != nil {
			errs = append(errs, fmt.Errorf("watcher.ignore[%d] (%q): %w", i, p, err))
		}
	}
	for i, f := range c.Formats {
		if f != strings.ToLower(f) || strings.ContainsAny(f, "./") {
			errs = append(errs, fmt.Errorf("watcher.formats[%d] (%q): want a lower-case extension without the dot", i, f))
		}
	}
	return errors.Join(errs...)
}
