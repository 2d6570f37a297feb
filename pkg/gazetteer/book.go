// Package gazetteer shares the known entities (people, projects, teams from
// structured data) between processes through a JetStream Key-Value bucket.
// The graph writer records them as it commits spreadsheet rows; extractor
// replicas watch the bucket and recognise the names in documents.
package gazetteer

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/docgraph/docgraph/pkg/bus"
	"github.com/docgraph/docgraph/pkg/logging"
)

// Entry is one known entity with the structured sources that state it
// (source path -> sha256 of the version that does).
type Entry struct {
	Label   string            `json:"label"`
	Key     string            `json:"key"`
	Name    string            `json:"name"`
	Sources map[string]string `json:"sources"`
}

// KVKey is the bucket key of an entity: the label, a dot, and the key in
// unpadded base64url (bucket keys allow only a few characters).
func KVKey(label, key string) string {
	return label + "." + base64.RawURLEncoding.EncodeToString([]byte(key))
}

// Change is one update seen on the bucket.
type Change struct {
	Entry    Entry
	Deleted  bool
	Revision uint64
	// Initial marks the values loaded when Run starts (before WaitSynced
	// returns), as opposed to changes made while running.
	Initial bool
}

// Book mirrors the gazetteer bucket in memory and writes to it. Run keeps
// the mirror current; listeners hear every change. Safe for concurrent use.
type Book struct {
	kv  jetstream.KeyValue
	log *slog.Logger

	mu        sync.RWMutex
	entries   map[string]Entry // by KVKey
	revision  uint64
	synced    chan struct{} // closed once the initial values are loaded
	listeners []func(Change)
	cond      *sync.Cond
}

// Open binds to the gazetteer bucket (created by bus.Provision).
func Open(ctx context.Context, js jetstream.JetStream, logger *slog.Logger) (*Book, error) {
	kv, err := js.KeyValue(ctx, bus.BucketGazetteer)
	if err != nil {
		return nil, fmt.Errorf("gazetteer bucket: %w", err)
	}
	b := &Book{kv: kv, log: logger, entries: map[string]Entry{}, synced: make(chan struct{})}
	b.cond = sync.NewCond(b.mu.RLocker())
	return b, nil
}

// Listen registers fn for every change (including the initial values).
// Call before Run.
func (b *Book) Listen(fn func(Change)) {
	b.mu.Lock()
	b.listeners = append(b.listeners, fn)
	b.mu.Unlock()
}

// Run watches the bucket until ctx is done.
func (b *Book) Run(ctx context.Context) error {
	w, err := b.kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("watch gazetteer: %w", err)
	}
	defer func() { _ = w.Stop() }()
	initial := true
	for {
		select {
		case <-ctx.Done():
			return nil
		case kve, ok := <-w.Updates():
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				return errors.New("gazetteer watch closed")
			}
			if kve == nil {
				if initial {
					initial = false
					close(b.synced)
				}
				continue
			}
			b.apply(kve, initial)
		}
	}
}

func (b *Book) apply(kve jetstream.KeyValueEntry, initial bool) {
	ch := Change{Revision: kve.Revision(), Initial: initial}
	b.mu.Lock()
	old, had := b.entries[kve.Key()]
	switch kve.Operation() {
	case jetstream.KeyValuePut:
		var e Entry
		if err := json.Unmarshal(kve.Value(), &e); err != nil {
			b.mu.Unlock()
			b.log.Warn("gazetteer entry unreadable", slog.String("key", kve.Key()), slog.Any(logging.KeyErr, err))
			return
		}
		b.entries[kve.Key()] = e
		ch.Entry = e
	default:
		delete(b.entries, kve.Key())
		ch.Entry, ch.Deleted = old, true
		if !had {
			b.revision = max(b.revision, kve.Revision())
			b.mu.Unlock()
			b.cond.Broadcast()
			return
		}
	}
	b.revision = max(b.revision, kve.Revision())
	listeners := b.listeners
	b.mu.Unlock()
	for _, fn := range listeners {
		fn(ch)
	}
	b.cond.Broadcast()
}

// WaitSynced blocks until Run has loaded the bucket's current values.
func (b *Book) WaitSynced(ctx context.Context) error {
	select {
	case <-b.synced:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Revision is the last bucket revision the mirror has applied.
func (b *Book) Revision() uint64 {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.revision
}

// LastRevision asks the server for the bucket's latest revision.
func (b *Book) LastRevision(ctx context.Context) (uint64, error) {
	st, err := b.kv.Status(ctx)
	if err != nil {
		return 0, fmt.Errorf("gazetteer status: %w", err)
	}
	si, ok := st.(*jetstream.KeyValueBucketStatus)
	if !ok {
		return 0, errors.New("gazetteer status: unexpected type")
	}
	return si.StreamInfo().State.LastSeq, nil
}

// Entries returns a snapshot of every entry, sorted by label and key.
func (b *Book) Entries() []Entry {
	b.mu.RLock()
	out := make([]Entry, 0, len(b.entries))
	for _, e := range b.entries {
		out = append(out, e)
	}
	b.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Label != out[j].Label {
			return out[i].Label < out[j].Label
		}
		return out[i].Key < out[j].Key
	})
	return out
}

// Upsert records that the source (path, sha) states each entity. Entries
// already saying so are not rewritten, so re-ingesting changes nothing.
func (b *Book) Upsert(ctx context.Context, ents []Entry, path, sha string) error {
	for _, e := range ents {
		if e.Name == "" || e.Key == "" {
			continue
		}
		err := b.update(ctx, KVKey(e.Label, e.Key), func(cur *Entry) *Entry {
			if cur == nil {
				return &Entry{Label: e.Label, Key: e.Key, Name: e.Name, Sources: map[string]string{path: sha}}
			}
			if cur.Name == e.Name && cur.Sources[path] == sha {
				return cur // unchanged
			}
			next := *cur
			next.Name = e.Name
			next.Sources = maps.Clone(cur.Sources)
			if next.Sources == nil {
				next.Sources = map[string]string{}
			}
			next.Sources[path] = sha
			return &next
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// Withdraw removes the support of path from every entry whose recorded
// version of path is not keepSHA ("" withdraws every version); entries left
// without sources are deleted.
func (b *Book) Withdraw(ctx context.Context, path, keepSHA string) error {
	b.mu.RLock()
	var keys []string
	for k, e := range b.entries {
		if sha, ok := e.Sources[path]; ok && (keepSHA == "" || sha != keepSHA) {
			keys = append(keys, k)
		}
	}
	b.mu.RUnlock()
	for _, k := range keys {
		err := b.update(ctx, k, func(cur *Entry) *Entry {
			if cur == nil {
				return nil
			}
			sha, ok := cur.Sources[path]
			if !ok || (keepSHA != "" && sha == keepSHA) {
				return cur
			}
			next := *cur
			next.Sources = maps.Clone(cur.Sources)
			delete(next.Sources, path)
			if len(next.Sources) == 0 {
				return nil
			}
			return &next
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// update applies fn to the current entry with optimistic concurrency
// (another writer replica may change it at the same time). fn returns the
// entry to store, the same pointer for no change, or nil to delete.
func (b *Book) update(ctx context.Context, key string, fn func(cur *Entry) *Entry) error {
	for attempt := 0; ; attempt++ {
		var cur *Entry
		var rev uint64
		kve, err := b.kv.Get(ctx, key)
		switch {
		case err == nil:
			var e Entry
			if jerr := json.Unmarshal(kve.Value(), &e); jerr == nil {
				cur = &e
			}
			rev = kve.Revision()
		case errors.Is(err, jetstream.ErrKeyNotFound):
		default:
			return fmt.Errorf("gazetteer get %s: %w", key, err)
		}
		next := fn(cur)
		switch {
		case next == cur:
			return nil
		case next == nil:
			err = b.kv.Delete(ctx, key, jetstream.LastRevision(rev))
		default:
			data, merr := json.Marshal(next)
			if merr != nil {
				return fmt.Errorf("gazetteer encode: %w", merr)
			}
			if rev == 0 {
				_, err = b.kv.Create(ctx, key, data)
			} else {
				_, err = b.kv.Update(ctx, key, data, rev)
			}
		}
		if err == nil {
			return nil
		}
		if attempt >= 10 || ctx.Err() != nil {
			return fmt.Errorf("gazetteer write %s: %w", key, err)
		}
		// A concurrent writer got there first: read again and retry.
		select {
		case <-time.After(time.Duration(attempt+1) * 5 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
