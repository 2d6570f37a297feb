package watcher

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/docgraph/docgraph/pkg/bus"
)

// record is the state of one path in the watcher bucket: the version last
// published for it.
type record struct {
	Path string `json:"path"`
	// Root is the folder the version was published from (absolute, cleaned,
	// symlinks resolved). A scan withdraws only the paths of its own folder,
	// so folders ingested or watched one after the other into the same data
	// keep each other's documents. Paths are relative to their folder, so two
	// folders holding the same relative path share one record (and one
	// document): the later publication wins it. Records written before roots
	// were recorded have none and belong to whichever folder is scanned.
	Root     string `json:"root,omitempty"`
	SHA256   string `json:"sha256"`
	Size     int64  `json:"size"`
	ModTime  string `json:"mod_time"`
	Object   string `json:"object"`
	Previous string `json:"previous,omitempty"` // object of the version before, kept for a lagging parser
	Seq      uint64 `json:"seq"`                // files stream sequence of the path's last event

	// A deleted path keeps a tombstone (Deleted set, Seq the FileDeleted
	// event's sequence) for a while, so that the same bytes reappearing
	// within the stream's duplicate window are not deduplicated away.
	Deleted   bool      `json:"deleted,omitempty"`
	DeletedAt time.Time `json:"deleted_at,omitzero"`
}

// live reports whether r is the record of a published, not deleted, version.
func (r *record) live() bool { return r != nil && !r.Deleted }

// lastSeq is the sequence of the path's last event, or 0.
func (r *record) lastSeq() uint64 {
	if r == nil {
		return 0
	}
	return r.Seq
}

// ownedBy reports whether r belongs to the folder root: it was published
// from root, or recorded without a folder.
func (r *record) ownedBy(root string) bool { return r != nil && (r.Root == "" || r.Root == root) }

// matches reports whether st has the recorded size and mtime.
func (r *record) matches(st fs.FileInfo) bool {
	return r.live() && r.Size == st.Size() && r.ModTime == modTime(st)
}

// maxKeyPath bounds the length of a base64 key; longer paths are keyed by
// their hash (the path itself is in the value).
const maxKeyPath = 1024

// stateKey encodes a path as a key-value key, which allows only
// [-/_=.a-zA-Z0-9].
func stateKey(p string) string {
	enc := base64.RawURLEncoding.EncodeToString([]byte(p))
	if len(enc) <= maxKeyPath {
		return "p." + enc
	}
	sum := sha256.Sum256([]byte(p))
	return "h." + hex.EncodeToString(sum[:])
}

func modTime(st fs.FileInfo) string { return st.ModTime().UTC().Format(time.RFC3339Nano) }

// loadRecords reads every record of the bucket.
func (w *Watcher) loadRecords(ctx context.Context) (map[string]*record, error) {
	return loadRecords(ctx, w.kv, w.log)
}

// Roots returns the folder each path recorded in the bus.BucketWatcher
// bucket was last published from, for the paths that are not deleted: the
// absolute folder with symlinks resolved, or "" for a path recorded by a
// version that did not record folders (it belongs to any folder).
func Roots(ctx context.Context, js jetstream.JetStream) (map[string]string, error) {
	kv, err := js.KeyValue(ctx, bus.BucketWatcher)
	if err != nil {
		return nil, fmt.Errorf("open key-value bucket %s: %w", bus.BucketWatcher, err)
	}
	recs, err := loadRecords(ctx, kv, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	roots := make(map[string]string, len(recs))
	for p, r := range recs {
		if r.live() {
			roots[p] = r.Root
		}
	}
	return roots, nil
}

func loadRecords(ctx context.Context, kv jetstream.KeyValue, log *slog.Logger) (map[string]*record, error) {
	kw, err := kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("load state: %w", err)
	}
	defer func() {
		if err := kw.Stop(); err != nil {
			log.DebugContext(ctx, "stop state watch", slog.Any("err", err))
		}
	}()
	recs := map[string]*record{}
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("load state: %w", ctx.Err())
		case e, ok := <-kw.Updates():
			if !ok {
				return nil, errors.New("load state: watch closed")
			}
			if e == nil {
				return recs, nil
			}
			var r record
			if err := json.Unmarshal(e.Value(), &r); err != nil || r.Path == "" {
				log.WarnContext(ctx, "unreadable watcher state entry",
					slog.String("key", e.Key()), slog.Any("err", err))
				continue
			}
			recs[r.Path] = &r
		}
	}
}

// getRecord reads the record of one path, or nil.
func (w *Watcher) getRecord(ctx context.Context, p string) (*record, error) {
	e, err := w.kv.Get(ctx, stateKey(p))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state of %s: %w", p, err)
	}
	var r record
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		return nil, fmt.Errorf("read state of %s: %w", p, err)
	}
	return &r, nil
}

func (w *Watcher) putRecord(ctx context.Context, r *record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("write state of %s: %w", r.Path, err)
	}
	if _, err := w.kv.Put(ctx, stateKey(r.Path), b); err != nil {
		return fmt.Errorf("write state of %s: %w", r.Path, err)
	}
	return nil
}

// under reports whether p is dir or inside dir (slash-separated, relative).
func under(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, dir+"/")
}
