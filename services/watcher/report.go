package watcher

import "time"

// Outcome is what a scan did with one path.
type Outcome string

// Outcomes of a path in a Report.
const (
	Published Outcome = "published" // a new version was stored and announced
	Unchanged Outcome = "unchanged" // the recorded version is current
	Skipped   Outcome = "skipped"   // ignored or refused; see Result.Reason
	Deleted   Outcome = "deleted"   // a recorded path disappeared: FileDeleted published
	Failed    Outcome = "failed"    // an error; see Result.Err (retried by the next scan)
)

// SkipReason says why a path was skipped. The values are the label values of
// the docgraph_watcher_files_skipped_total metric.
type SkipReason string

// Skip reasons.
const (
	ReasonHidden         SkipReason = "hidden"
	ReasonEditor         SkipReason = "editor"
	ReasonIgnored        SkipReason = "ignored"
	ReasonSymlinkOutside SkipReason = "symlink_outside"
	ReasonTooLarge       SkipReason = "too_large"
	ReasonNotRegular     SkipReason = "not_regular"
	ReasonUnstable       SkipReason = "unstable"
	ReasonInvalidName    SkipReason = "invalid_name"
	ReasonExcluded       SkipReason = "excluded"
	ReasonUnsupported    SkipReason = "unsupported"
)

var skipReasons = []SkipReason{
	ReasonHidden, ReasonEditor, ReasonIgnored, ReasonSymlinkOutside,
	ReasonTooLarge, ReasonNotRegular, ReasonUnstable, ReasonInvalidName, ReasonExcluded, ReasonUnsupported,
}

// Describe returns the reason as a short phrase for people.
func (r SkipReason) Describe() string {
	switch r {
	case ReasonHidden:
		return "hidden file or directory"
	case ReasonEditor:
		return "editor or partial file"
	case ReasonIgnored:
		return "matches an ignore pattern"
	case ReasonSymlinkOutside:
		return "symlink outside the watched folder"
	case ReasonTooLarge:
		return "file too large"
	case ReasonNotRegular:
		return "not a regular file"
	case ReasonUnstable:
		return "not stable yet"
	case ReasonInvalidName:
		return "name is not valid UTF-8"
	case ReasonExcluded:
		return "excluded directory (docgraph's data)"
	case ReasonUnsupported:
		return "not a format docgraph reads"
	}
	return string(r)
}

// Result is what happened to one path.
type Result struct {
	// Path is relative to the root, with forward slashes, exactly as on disk.
	Path    string
	Outcome Outcome
	// Reason and Detail explain a Skipped outcome; Detail starts with
	// Reason.Describe() and names the file.
	Reason SkipReason
	Detail string
	// CorrelationID, SHA256, Size, Object and Seq (the files stream sequence
	// of the event) describe a Published or Deleted version; SHA256 and Size
	// are also set for Unchanged.
	CorrelationID string
	SHA256        string
	Size          int64
	Object        string
	Seq           uint64
	// Err is the cause of a Failed outcome.
	Err error
}

// keepsRecord reports whether the recorded version of the path stays
// current after this result (otherwise the path is withdrawn).
func (r Result) keepsRecord() bool {
	switch r.Outcome {
	case Published, Unchanged, Failed:
		return true
	case Skipped:
		return r.Reason == ReasonTooLarge || r.Reason == ReasonUnstable
	}
	return false
}

// Report lists what one scan did, per path, in walk order followed by the
// deletions.
type Report struct {
	Results  []Result
	Duration time.Duration
	// Held is how many recorded files the scan did not withdraw because it
	// found the folder, Root, empty (Config.AllowEmpty).
	Held int
	Root string
}

// Count returns the number of results with outcome o.
func (r Report) Count(o Outcome) int {
	n := 0
	for _, res := range r.Results {
		if res.Outcome == o {
			n++
		}
	}
	return n
}

// Lookup returns the result for path.
func (r Report) Lookup(path string) (Result, bool) {
	for _, res := range r.Results {
		if res.Path == path {
			return res, true
		}
	}
	return Result{}, false
}
