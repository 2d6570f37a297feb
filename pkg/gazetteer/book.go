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
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/docgraph/docgraph/pkg/bus"
	"github.com/docgraph/docgraph/pkg/logging"
)

// Entry is one known entity with the structured sources that state it
// (source path -> sha256 of the version that does, and that version).
// Entries a Book holds share their Sources and Versions maps with others
// stated by the same sources: replace the maps, never change them.
type Entry struct {
	Label   string            `json:"label"`
	Key     string            `json:"key"`
	Name    string            `json:"name"`
	Sources map[string]string `json:"sources"`
	// Versions are the sources' versions (none in entries written before
	// versions were recorded: version 0, older than any).
	Versions map[string]uint64 `json:"versions,omitempty"`
}

// KVKey is the bucket key of an entity: the label, a dot, and the key in
// unpadded base64url (bucket keys allow only a few characters).
func KVKey(label, key string) string {
	return label + "." + base64.RawURLEncoding.EncodeToString([]byte(key))
}

// Change is one update seen on the bucket.
type Change struct {
	// Entry is the entry put, or the one deleted: the zero Entry when the
	// mirror did not hold it (a deletion among the initial values).
	Entry   Entry
	Deleted bool
	// Previous is, for a put, the entry it replaced (the zero Entry for a
	// new one): a name it changes is no longer known.
	Previous Entry
	Revision uint64
	// Initial marks the values loaded when Run starts (before WaitSynced
	// returns), as opposed to changes made while running.
	Initial bool
}

// NamesChanged returns the names whose recognition the change affects:
// the name of an entry added or deleted, the old and the new name of one
// renamed, and none when only the sources stating an entry changed (a
// spreadsheet saved again with the entity still in it), for chunks
// extracted before then found every name they would find now.
func (c Change) NamesChanged() []string {
	switch {
	case c.Entry.Name == "":
		return nil // a deletion of an entry the mirror did not hold
	case c.Deleted || c.Previous.Name == "":
		return []string{c.Entry.Name}
	case c.Previous.Name != c.Entry.Name:
		return []string{c.Previous.Name, c.Entry.Name}
	}
	return nil
}

// Book mirrors the gazetteer bucket in memory and writes to it. Run keeps
// the mirror current; listeners hear every change. Safe for concurrent use.
type Book struct {
	js    jetstream.JetStream
	kv    jetstream.KeyValue
	paths jetstream.KeyValue // latest version per source path
	log   *slog.Logger

	mu      sync.RWMutex
	entries map[string]held // by KVKey
	// deleted holds the revision of each key's deletion marker while the
	// key stays deleted: a new entry under it is written on that condition.
	deleted   map[string]uint64
	revision  uint64
	synced    chan struct{} // closed once the initial values are loaded
	running   bool          // Run has started
	stopped   error         // why Run returned, once it has
	listeners []func(Change)
	cond      *sync.Cond
	shared    map[string]Entry // Sources and Versions by sharedKey
}

// held is an entry of the mirror and the bucket revision that wrote it.
type held struct {
	Entry
	rev uint64
}

// maxShared bounds the distinct Sources and Versions maps a Book shares.
const maxShared = 1024

// share makes e use the Sources and Versions maps of an entry with the
// same ones, when it has one source: the entities of a spreadsheet of
// 200,000 rows then hold two maps, not 400,000. Its caller holds b.mu.
func (b *Book) share(e *Entry) {
	if len(e.Sources) != 1 || len(e.Versions) > 1 {
		return
	}
	var key string
	for path, sha := range e.Sources {
		v, ok := e.Versions[path]
		if !ok && len(e.Versions) > 0 {
			return
		}
		key = path + "\x00" + sha + "\x00" + strconv.FormatUint(v, 10)
	}
	if s, ok := b.shared[key]; ok {
		e.Sources, e.Versions = s.Sources, s.Versions
		return
	}
	if b.shared == nil || len(b.shared) >= maxShared {
		b.shared = map[string]Entry{}
	}
	b.shared[key] = Entry{Sources: e.Sources, Versions: e.Versions}
}

// requestTimeout bounds each bucket request. A request caught in a leader
// election or a reconnect never gets its reply and would otherwise wait
// for the caller's deadline (a graph-writer batch has minutes); past this
// it fails and is retried like any other failed write.
var requestTimeout = 15 * time.Second

// request returns the context of one bucket request.
func request(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, requestTimeout)
}

// Open binds to the gazetteer bucket (created by bus.Provision).
func Open(ctx context.Context, js jetstream.JetStream, logger *slog.Logger) (*Book, error) {
	kv, err := js.KeyValue(ctx, bus.BucketGazetteer)
	if err != nil {
		return nil, fmt.Errorf("gazetteer bucket: %w", err)
	}
	paths, err := js.KeyValue(ctx, bus.BucketGazetteerPaths)
	if err != nil {
		return nil, fmt.Errorf("gazetteer paths bucket: %w", err)
	}
	b := &Book{js: js, kv: kv, paths: paths, log: logger, entries: map[string]held{}, deleted: map[string]uint64{}, synced: make(chan struct{})}
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

// Run watches the bucket until ctx is done. Once it has returned, waits
// for the mirror to catch up fail with its cause (a stop: context.Canceled).
func (b *Book) Run(ctx context.Context) (err error) {
	b.mu.Lock()
	b.running = true
	b.mu.Unlock()
	defer func() {
		cause := err
		if cause == nil {
			cause = context.Cause(ctx)
		}
		b.mu.Lock()
		b.stopped = cause
		b.mu.Unlock()
		b.cond.Broadcast()
	}()
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
	old := b.entries[kve.Key()]
	switch kve.Operation() {
	case jetstream.KeyValuePut:
		var e Entry
		if err := json.Unmarshal(kve.Value(), &e); err != nil {
			b.mu.Unlock()
			b.log.Warn("gazetteer entry unreadable", slog.String("key", kve.Key()), slog.Any(logging.KeyErr, err))
			return
		}
		b.share(&e)
		b.entries[kve.Key()] = held{e, kve.Revision()}
		delete(b.deleted, kve.Key())
		ch.Entry, ch.Previous = e, old.Entry
	default:
		// A deletion of an entry the mirror never held (a deletion marker
		// among the initial values) changes no entry, but listeners still
		// hear its revision: the entries now reflect it.
		delete(b.entries, kve.Key())
		b.deleted[kve.Key()] = kve.Revision()
		ch.Entry, ch.Deleted = old.Entry, true
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
		out = append(out, e.Entry)
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

// Upsert records that the source (path, sha) at version states each
// entity. Entries already saying so are not rewritten, so re-ingesting
// changes nothing. A version older than one the gazetteer has seen of path
// (a later version, or the deletion) changes nothing either: records can
// arrive out of order.
func (b *Book) Upsert(ctx context.Context, ents []Entry, path, sha string, version uint64) error {
	latest, err := b.raisePath(ctx, path, version)
	if err != nil || latest > version {
		return err
	}
	if afterRaise != nil {
		afterRaise()
	}
	// One write per entity: of the same entity stated twice, the last
	// statement is the one that stays (as if written one after the other).
	at := make(map[string]int, len(ents))
	written := make([]string, 0, len(ents))
	var stated []Entry
	for _, e := range ents {
		if e.Name == "" || e.Key == "" {
			continue
		}
		key := KVKey(e.Label, e.Key)
		if i, ok := at[key]; ok {
			stated[i] = e
			continue
		}
		at[key] = len(written)
		written = append(written, key)
		stated = append(stated, e)
	}
	err = b.updateAll(ctx, written, func(i int, cur *Entry) *Entry {
		e := stated[i]
		if cur == nil {
			return &Entry{Label: e.Label, Key: e.Key, Name: e.Name,
				Sources: map[string]string{path: sha}, Versions: map[string]uint64{path: version}}
		}
		if cur.Versions[path] > version {
			return cur // a later version of path states it
		}
		if cur.Name == e.Name && cur.Sources[path] == sha && cur.Versions[path] == version {
			return cur // unchanged
		}
		next := *cur
		next.Name = e.Name
		next.Sources = maps.Clone(cur.Sources)
		if next.Sources == nil {
			next.Sources = map[string]string{}
		}
		next.Sources[path] = sha
		next.Versions = maps.Clone(cur.Versions)
		if next.Versions == nil {
			next.Versions = map[string]uint64{}
		}
		next.Versions[path] = version
		return &next
	})
	if err != nil {
		return err
	}
	// A later version may have come in while these were written (another
	// writer replica): then what was written here is superseded already,
	// and that version's withdrawal may have run before it.
	if latest, _, err = b.readPath(ctx, path); err != nil || latest <= version {
		return err
	}
	return b.withdrawKeys(ctx, written, path, latest)
}

// afterRaise, when set (by tests), runs between an Upsert's check of the
// path's version and its writes.
var afterRaise func()

// Withdraw removes the support of every version of path older than version
// (the version a file now has, or its deletion's); entries left without
// sources are deleted. An older version than one already seen changes
// nothing.
func (b *Book) Withdraw(ctx context.Context, path string, version uint64) error {
	latest, err := b.raisePath(ctx, path, version)
	if err != nil || latest > version {
		return err
	}
	// The mirror finds the entries: first let it catch up with every write
	// made so far, by any process.
	if err := b.catchUp(ctx); err != nil {
		return err
	}
	b.mu.RLock()
	var keys []string
	for k, e := range b.entries {
		if _, ok := e.Sources[path]; ok && e.Versions[path] < version {
			keys = append(keys, k)
		}
	}
	b.mu.RUnlock()
	return b.withdrawKeys(ctx, keys, path, version)
}

// withdrawKeys removes path's support from the entries under keys that
// have it from a version older than version.
func (b *Book) withdrawKeys(ctx context.Context, keys []string, path string, version uint64) error {
	return b.updateAll(ctx, keys, func(_ int, cur *Entry) *Entry {
		if cur == nil {
			return nil
		}
		if _, ok := cur.Sources[path]; !ok || cur.Versions[path] >= version {
			return cur
		}
		next := *cur
		next.Sources = maps.Clone(cur.Sources)
		delete(next.Sources, path)
		next.Versions = maps.Clone(cur.Versions)
		delete(next.Versions, path)
		if len(next.Sources) == 0 {
			return nil
		}
		return &next
	})
}

// waitRevision blocks until the mirror has applied bucket revision rev.
func (b *Book) waitRevision(ctx context.Context, rev uint64) error {
	stop := context.AfterFunc(ctx, func() {
		b.mu.RLock()
		b.cond.Broadcast()
		b.mu.RUnlock()
	})
	defer stop()
	b.mu.RLock()
	defer b.mu.RUnlock()
	for b.revision < rev {
		if err := ctx.Err(); err != nil {
			return err
		}
		if b.stopped != nil {
			return fmt.Errorf("mirror stopped: %w", b.stopped)
		}
		b.cond.Wait()
	}
	return nil
}

// write stores the encoded entry data under key if the entry is still at
// revision rev (0: absent); nil data deletes it.
func (b *Book) write(ctx context.Context, key string, data []byte, rev uint64) error {
	rctx, cancel := request(ctx)
	defer cancel()
	if data == nil {
		return b.kv.Delete(rctx, key, jetstream.LastRevision(rev))
	}
	var err error
	if rev == 0 {
		_, err = b.kv.Create(rctx, key, data)
	} else {
		_, err = b.kv.Update(rctx, key, data, rev)
	}
	return err
}

// pathState is what the gazetteer has seen of a source path (and, under
// refreshedKey, the revision the extractors have refreshed through).
type pathState struct {
	Version uint64 `json:"version"`
}

func pathKey(path string) string {
	return "path." + base64.RawURLEncoding.EncodeToString([]byte(path))
}

// refreshedKey holds the highest gazetteer revision that every chunk in
// the chunk stream has been extracted (or re-extracted) with.
const refreshedKey = "refreshed"

// readPath returns the latest version seen of path (0 if none) and the
// revision of its record (0 if none).
func (b *Book) readPath(ctx context.Context, path string) (version, rev uint64, err error) {
	return b.readCounter(ctx, pathKey(path), "gazetteer path "+path)
}

// raisePath records version as seen of path unless a later one was, and
// returns the latest version seen.
func (b *Book) raisePath(ctx context.Context, path string, version uint64) (uint64, error) {
	return b.raiseCounter(ctx, pathKey(path), version, "gazetteer path "+path)
}

// Refreshed returns the gazetteer revision recorded by MarkRefreshed, and
// whether one is.
func (b *Book) Refreshed(ctx context.Context) (rev uint64, ok bool, err error) {
	v, kvRev, err := b.readCounter(ctx, refreshedKey, "gazetteer refresh mark")
	return v, kvRev != 0, err
}

// MarkRefreshed records that every chunk in the chunk stream has been
// extracted with the gazetteer at revision rev or later, unless a later
// revision is recorded.
func (b *Book) MarkRefreshed(ctx context.Context, rev uint64) error {
	_, err := b.raiseCounter(ctx, refreshedKey, rev, "gazetteer refresh mark")
	return err
}

// readCounter returns the value under key of the paths bucket (0 if none)
// and the revision of its record (0 if none).
func (b *Book) readCounter(ctx context.Context, key, what string) (value, rev uint64, err error) {
	rctx, cancel := request(ctx)
	defer cancel()
	kve, err := b.paths.Get(rctx, key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return 0, 0, nil
	case err != nil:
		return 0, 0, fmt.Errorf("%s: %w", what, err)
	}
	var st pathState
	if err := json.Unmarshal(kve.Value(), &st); err != nil {
		return 0, kve.Revision(), nil // unreadable: rewritten by the next raise
	}
	return st.Version, kve.Revision(), nil
}

// raiseCounter sets the value under key to value unless it is larger, and
// returns the value it holds.
func (b *Book) raiseCounter(ctx context.Context, key string, value uint64, what string) (uint64, error) {
	for attempt := 0; ; attempt++ {
		cur, rev, err := b.readCounter(ctx, key, what)
		if err != nil {
			return 0, err
		}
		if cur >= value && rev != 0 {
			return cur, nil
		}
		data, err := json.Marshal(pathState{Version: value})
		if err != nil {
			return 0, fmt.Errorf("%s: %w", what, err)
		}
		rctx, cancel := request(ctx)
		if rev == 0 {
			_, err = b.paths.Create(rctx, key, data)
		} else {
			_, err = b.paths.Update(rctx, key, data, rev)
		}
		cancel()
		if err == nil {
			return value, nil
		}
		if attempt >= 10 || ctx.Err() != nil {
			return 0, fmt.Errorf("%s: %w", what, err)
		}
		if err := backoff(ctx, attempt); err != nil {
			return 0, err
		}
	}
}

// update applies fn to the current entry with optimistic concurrency
// (another writer replica may change it at the same time). fn returns the
// entry to store, the same pointer for no change, or nil to delete.
func (b *Book) update(ctx context.Context, key string, fn func(cur *Entry) *Entry) error {
	for attempt := 0; ; attempt++ {
		var cur *Entry
		var rev uint64
		rctx, cancel := request(ctx)
		kve, err := b.kv.Get(rctx, key)
		cancel()
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
		if next == cur {
			return nil
		}
		var data []byte
		if next != nil {
			if data, err = json.Marshal(next); err != nil {
				return fmt.Errorf("gazetteer encode: %w", err)
			}
		}
		if err = b.write(ctx, key, data, rev); err == nil {
			return nil
		}
		if attempt >= 10 || ctx.Err() != nil {
			return fmt.Errorf("gazetteer write %s: %w", key, err)
		}
		// A concurrent writer got there first: read again and retry.
		if err := backoff(ctx, attempt); err != nil {
			return err
		}
	}
}

// maxInFlight bounds the writes updateAll has sent and not yet seen
// acknowledged.
const maxInFlight = 256

// sent is a write updateAll awaits: the index of its key and its ack.
type sent struct {
	i   int
	ack jetstream.PubAckFuture
	at  time.Time
}

// updateAll applies fn to the entry under each of keys (distinct), as
// update does one. With the mirror running it does so without a request
// per key: the mirror is first brought up to the bucket's last revision,
// fn sees the entries it holds, and the entries fn changes are written
// without waiting for each other, each on the condition that the bucket
// still holds the revision the mirror read (a re-saved spreadsheet
// rewrites every entity it names). A write refused, because another
// writer changed the entry since, goes through update. A book whose
// mirror is not running updates each key through update.
func (b *Book) updateAll(ctx context.Context, keys []string, fn func(i int, cur *Entry) *Entry) error {
	if len(keys) == 0 {
		return nil
	}
	b.mu.RLock()
	live := b.running && b.stopped == nil
	b.mu.RUnlock()
	var again []int // indexes of the keys to update one by one
	if live {
		var err error
		if again, err = b.writeAll(ctx, keys, fn); err != nil {
			return err
		}
		if len(again) > 0 {
			b.log.Debug("gazetteer writes refused (another writer changed the entry meanwhile) or unacknowledged: updated again one by one", "entries", len(again))
		}
	} else {
		again = make([]int, len(keys))
		for i := range again {
			again[i] = i
		}
	}
	for _, i := range again {
		if err := b.update(ctx, keys[i], func(cur *Entry) *Entry { return fn(i, cur) }); err != nil {
			return err
		}
	}
	return nil
}

// writeAll is updateAll's writing from the mirror, once it has caught up:
// it returns the indexes of the keys whose writes were refused or not
// acknowledged.
func (b *Book) writeAll(ctx context.Context, keys []string, fn func(i int, cur *Entry) *Entry) ([]int, error) {
	if err := b.catchUp(ctx); err != nil {
		return nil, err
	}
	var (
		inflight []sent
		again    []int
	)
	settle := func(s sent) error {
		timer := time.NewTimer(requestTimeout - time.Since(s.at))
		defer timer.Stop()
		select {
		case <-s.ack.Ok():
		case <-s.ack.Err():
			again = append(again, s.i)
		case <-timer.C:
			again = append(again, s.i)
		case <-ctx.Done():
			return ctx.Err()
		}
		return nil
	}
	for i, key := range keys {
		cur, rev := b.mirrored(key)
		if afterRead != nil {
			afterRead(key)
		}
		next := fn(i, cur)
		if next == cur {
			continue
		}
		msg, err := b.writeMsg(key, next)
		if err != nil {
			return nil, err
		}
		ack, err := b.js.PublishMsgAsync(msg, jetstream.WithExpectLastSequencePerSubject(rev))
		if err != nil {
			again = append(again, i)
			continue
		}
		inflight = append(inflight, sent{i: i, ack: ack, at: time.Now()})
		if len(inflight) >= maxInFlight {
			if err := settle(inflight[0]); err != nil {
				return nil, err
			}
			inflight = inflight[1:]
		}
	}
	for _, s := range inflight {
		if err := settle(s); err != nil {
			return nil, err
		}
	}
	return again, nil
}

// catchUp waits until the mirror has applied every write made to the
// bucket so far, by any process.
func (b *Book) catchUp(ctx context.Context) error {
	rev, err := b.LastRevision(ctx)
	if err != nil {
		return err
	}
	if err := b.waitRevision(ctx, rev); err != nil {
		return fmt.Errorf("gazetteer mirror: %w", err)
	}
	return nil
}

// afterRead, when set (by tests), runs between updateAll's reading of an
// entry from the mirror and its write.
var afterRead func(key string)

// mirrored returns a copy of the mirror's entry under key (nil if it holds
// none) and the revision that wrote it, or deleted it (0 for none).
func (b *Book) mirrored(key string) (*Entry, uint64) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	h, ok := b.entries[key]
	if !ok {
		return nil, b.deleted[key]
	}
	e := h.Entry
	return &e, h.rev
}

// writeMsg is the bucket message that stores e under key (nil e: deletes
// the entry), as the bucket's own Update and Delete publish them.
func (b *Book) writeMsg(key string, e *Entry) (*nats.Msg, error) {
	msg := nats.NewMsg("$KV." + b.kv.Bucket() + "." + key)
	if e == nil {
		msg.Header.Set(kvOperation, kvDelete)
		return msg, nil
	}
	data, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("gazetteer encode: %w", err)
	}
	msg.Data = data
	return msg, nil
}

// The header that marks a deletion in a Key-Value bucket's stream.
const (
	kvOperation = "KV-Operation"
	kvDelete    = "DEL"
)

// backoff waits before the next attempt of an optimistic update.
func backoff(ctx context.Context, attempt int) error {
	select {
	case <-time.After(time.Duration(attempt+1) * 5 * time.Millisecond):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
