package gazetteer_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/bus"
	"github.com/docgraph/docgraph/pkg/bus/bustest"
	"github.com/docgraph/docgraph/pkg/gazetteer"
	"github.com/docgraph/docgraph/pkg/logging"
	"github.com/docgraph/docgraph/pkg/testwait"
)

func waitUntil(t *testing.T, cond func() error) {
	t.Helper()
	testwait.Until(t, 10*time.Second, cond)
}

func names(b *gazetteer.Book) []string {
	var out []string
	for _, e := range b.Entries() {
		out = append(out, e.Label+":"+e.Name)
	}
	return out
}

func TestBookUpsertWithdrawAndWatch(t *testing.T) {
	writer, js := openBook(t)
	ctx := t.Context()

	people := []gazetteer.Entry{{Label: "Person", Key: "ada quinlan", Name: "Ada Quinlan"}, {Label: "Person", Key: "bo ek", Name: "Bo Ek"}}
	require.NoError(t, writer.Upsert(ctx, people, "teams.csv", "v1", 1))
	require.NoError(t, writer.Upsert(ctx, people[:1], "managers.xlsx", "m1", 1))
	rev, err := writer.LastRevision(ctx)
	require.NoError(t, err)

	// A second process sees the entries, first as initial values.
	reader, err := gazetteer.Open(ctx, js, logging.Discard())
	require.NoError(t, err)
	var mu sync.Mutex
	var changes []gazetteer.Change
	reader.Listen(func(c gazetteer.Change) { mu.Lock(); changes = append(changes, c); mu.Unlock() })
	go func() { _ = reader.Run(ctx) }()
	require.NoError(t, reader.WaitSynced(ctx))
	assert.Equal(t, []string{"Person:Ada Quinlan", "Person:Bo Ek"}, names(reader))
	assert.GreaterOrEqual(t, reader.Revision(), rev)
	mu.Lock()
	for _, c := range changes {
		assert.True(t, c.Initial)
	}
	mu.Unlock()

	// Re-upserting the same version writes nothing.
	require.NoError(t, writer.Upsert(ctx, people, "teams.csv", "v1", 1))
	rev2, err := writer.LastRevision(ctx)
	require.NoError(t, err)
	assert.Equal(t, rev, rev2, "unchanged entries are not rewritten")

	// teams.csv v2 drops Bo Ek: withdrawing other versions removes him;
	// Ada stays (v2 and managers.xlsx state her).
	require.NoError(t, writer.Upsert(ctx, people[:1], "teams.csv", "v2", 2))
	waitUntil(t, func() error {
		for _, e := range writer.Entries() {
			if e.Key == "ada quinlan" && e.Sources["teams.csv"] != "v2" {
				return fmt.Errorf("mirror not updated")
			}
		}
		return nil
	})
	require.NoError(t, writer.Withdraw(ctx, "teams.csv", 2))
	waitUntil(t, func() error {
		if got := names(reader); len(got) != 1 {
			return fmt.Errorf("reader has %v", got)
		}
		return nil
	})
	mu.Lock()
	last := changes[len(changes)-1]
	mu.Unlock()
	assert.True(t, last.Deleted)
	assert.False(t, last.Initial)
	assert.Equal(t, "Bo Ek", last.Entry.Name)

	// Deleting both sources removes Ada.
	require.NoError(t, writer.Withdraw(ctx, "teams.csv", 3))
	require.NoError(t, writer.Withdraw(ctx, "managers.xlsx", 2))
	waitUntil(t, func() error {
		if got := names(reader); len(got) != 0 {
			return fmt.Errorf("reader has %v", got)
		}
		return nil
	})
}

func TestKVKeyIsSafeForAnyName(t *testing.T) {
	k := gazetteer.KVKey("Person", "julia łukasiewicz x`}) DETACH DELETE n //")
	assert.Regexp(t, `^Person\.[A-Za-z0-9_-]+$`, k)
}

// openBook starts a book on a fresh bus and waits until it is synced.
func openBook(t testing.TB) (*gazetteer.Book, jetstream.JetStream) {
	t.Helper()
	_, _, js := bustest.Provisioned(t)
	return runBook(t, js, logging.Discard()), js
}

// runBook starts a book on js and waits until it is synced.
func runBook(t testing.TB, js jetstream.JetStream, log *slog.Logger) *gazetteer.Book {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	b, err := gazetteer.Open(ctx, js, log)
	require.NoError(t, err)
	go func() { _ = b.Run(ctx) }()
	require.NoError(t, b.WaitSynced(ctx))
	return b
}

// debugLog returns a logger at debug level writing to the returned buffer.
func debugLog() (*slog.Logger, *testwait.Buffer) {
	var buf testwait.Buffer
	return slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), &buf
}

// entriesAt waits until the mirror holds rev and returns "Label:Name"
// of every entry.
func entriesAt(t *testing.T, b *gazetteer.Book) []string {
	t.Helper()
	rev, err := b.LastRevision(t.Context())
	require.NoError(t, err)
	waitUntil(t, func() error {
		if b.Revision() < rev {
			return fmt.Errorf("mirror at %d, bucket at %d", b.Revision(), rev)
		}
		return nil
	})
	return names(b)
}

// Records of a spreadsheet's older version arriving after a newer one's
// (two quick saves parsed in parallel), or after its deletion, change
// nothing: the newer version's names stay, the older one's do not return.
func TestBookIgnoresOlderVersions(t *testing.T) {
	b, _ := openBook(t)
	ctx := t.Context()
	ada := gazetteer.Entry{Label: "Person", Key: "ada", Name: "Ada"}
	bo := gazetteer.Entry{Label: "Person", Key: "bo", Name: "Bo"}
	cy := gazetteer.Entry{Label: "Person", Key: "cy", Name: "Cy"}

	require.NoError(t, b.Upsert(ctx, []gazetteer.Entry{ada, cy}, "teams.csv", "sha2", 2))
	require.NoError(t, b.Withdraw(ctx, "teams.csv", 2))
	before, err := b.LastRevision(ctx)
	require.NoError(t, err)

	// Version 1 (Ada and Bo, Ada spelt differently) arrives late.
	adaOld := ada
	adaOld.Name = "Ada Old"
	require.NoError(t, b.Upsert(ctx, []gazetteer.Entry{adaOld, bo}, "teams.csv", "sha1", 1))
	require.NoError(t, b.Withdraw(ctx, "teams.csv", 1))
	after, err := b.LastRevision(ctx)
	require.NoError(t, err)
	assert.Equal(t, before, after, "an older version writes nothing")
	assert.Equal(t, []string{"Person:Ada", "Person:Cy"}, entriesAt(t, b))
	for _, e := range b.Entries() {
		assert.Equal(t, map[string]string{"teams.csv": "sha2"}, e.Sources)
		assert.Equal(t, map[string]uint64{"teams.csv": 2}, e.Versions)
	}

	// The same version again (a redelivery) is accepted and changes nothing.
	require.NoError(t, b.Upsert(ctx, []gazetteer.Entry{ada, cy}, "teams.csv", "sha2", 2))
	require.NoError(t, b.Withdraw(ctx, "teams.csv", 2))
	after, err = b.LastRevision(ctx)
	require.NoError(t, err)
	assert.Equal(t, before, after)

	// Deleted at version 3: a late version 2 batch does not bring Ada back,
	// and a late withdrawal of version 2 is a no-op.
	require.NoError(t, b.Withdraw(ctx, "teams.csv", 3))
	assert.Empty(t, entriesAt(t, b))
	require.NoError(t, b.Upsert(ctx, []gazetteer.Entry{ada}, "teams.csv", "sha2", 2))
	require.NoError(t, b.Withdraw(ctx, "teams.csv", 2))
	assert.Empty(t, entriesAt(t, b))

	// The file comes back as version 4.
	require.NoError(t, b.Upsert(ctx, []gazetteer.Entry{bo}, "teams.csv", "sha4", 4))
	require.NoError(t, b.Withdraw(ctx, "teams.csv", 4))
	assert.Equal(t, []string{"Person:Bo"}, entriesAt(t, b))
}

// An older version that passed the version check just before a newer one
// was written, withdrawn and finished (another writer replica) takes back
// what it wrote once it sees the newer version.
func TestBookOlderVersionRacingANewerOne(t *testing.T) {
	b, _ := openBook(t)
	ctx := t.Context()
	ada := gazetteer.Entry{Label: "Person", Key: "ada", Name: "Ada"}
	bo := gazetteer.Entry{Label: "Person", Key: "bo", Name: "Bo"}
	raced := false
	gazetteer.SetAfterRaise(func() {
		if raced {
			return
		}
		raced = true
		require.NoError(t, b.Upsert(ctx, []gazetteer.Entry{ada}, "teams.csv", "sha2", 2))
		require.NoError(t, b.Withdraw(ctx, "teams.csv", 2))
	})
	t.Cleanup(func() { gazetteer.SetAfterRaise(nil) })

	require.NoError(t, b.Upsert(ctx, []gazetteer.Entry{ada, bo}, "teams.csv", "sha1", 1))
	require.True(t, raced)
	assert.Equal(t, []string{"Person:Ada"}, entriesAt(t, b), "Bo, only in version 1, is gone")
	for _, e := range b.Entries() {
		assert.Equal(t, map[string]uint64{"teams.csv": 2}, e.Versions)
	}
}

// Entries written before versions were recorded count as older than any
// version: the next withdrawal of their path removes them unless the new
// version states them.
func TestBookEntriesWithoutVersions(t *testing.T) {
	b, js := openBook(t)
	ctx := t.Context()
	kv, err := js.KeyValue(ctx, bus.BucketGazetteer)
	require.NoError(t, err)
	for _, name := range []string{"Ada", "Bo"} {
		data, err := json.Marshal(gazetteer.Entry{Label: "Person", Key: strings.ToLower(name), Name: name,
			Sources: map[string]string{"teams.csv": "old-sha"}})
		require.NoError(t, err)
		_, err = kv.Put(ctx, gazetteer.KVKey("Person", strings.ToLower(name)), data)
		require.NoError(t, err)
	}
	assert.Equal(t, []string{"Person:Ada", "Person:Bo"}, entriesAt(t, b))
	require.NoError(t, b.Upsert(ctx, []gazetteer.Entry{{Label: "Person", Key: "ada", Name: "Ada"}}, "teams.csv", "new-sha", 1))
	require.NoError(t, b.Withdraw(ctx, "teams.csv", 1))
	assert.Equal(t, []string{"Person:Ada"}, entriesAt(t, b))
}

// A withdrawal waits for the mirror to hold every write made before it,
// also by other processes; cancelled, it returns the context's error.
func TestBookWithdrawWaitsForTheMirror(t *testing.T) {
	_, _, js := bustest.Provisioned(t)
	ctx := t.Context()
	other, err := gazetteer.Open(ctx, js, logging.Discard())
	require.NoError(t, err)
	require.NoError(t, other.Upsert(ctx, []gazetteer.Entry{{Label: "Person", Key: "ada", Name: "Ada"}}, "teams.csv", "sha1", 1))

	// A book whose mirror is not running cannot catch up: the withdrawal
	// waits until cancelled.
	stalled, err := gazetteer.Open(ctx, js, logging.Discard())
	require.NoError(t, err)
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- stalled.Withdraw(cctx, "teams.csv", 2) }()
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)

	// Running, it finds the other process's entry and withdraws it.
	rctx, stop := context.WithCancel(ctx)
	t.Cleanup(stop)
	go func() { _ = stalled.Run(rctx) }()
	require.NoError(t, stalled.Withdraw(ctx, "teams.csv", 2))
	assert.Empty(t, entriesAt(t, stalled))
}

// At shutdown the mirror stops before the in-flight batches finish: a
// withdrawal waiting for it then fails at once with the mirror's cause
// (the stop), so its message is returned for redelivery instead of
// holding the process for its whole shutdown timeout.
func TestBookWithdrawFailsOnceTheMirrorStopped(t *testing.T) {
	_, _, js := bustest.Provisioned(t)
	ctx := t.Context()
	b, err := gazetteer.Open(ctx, js, logging.Discard())
	require.NoError(t, err)
	rctx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- b.Run(rctx) }()
	require.NoError(t, b.WaitSynced(ctx))
	stop()
	require.NoError(t, <-ran)

	// Another process writes: the stopped mirror can never catch up.
	other, err := gazetteer.Open(ctx, js, logging.Discard())
	require.NoError(t, err)
	require.NoError(t, other.Upsert(ctx, []gazetteer.Entry{{Label: "Person", Key: "ada", Name: "Ada"}}, "teams.csv", "sha1", 1))

	done := make(chan error, 1)
	go func() { done <- b.Withdraw(ctx, "teams.csv", 2) }()
	select {
	case err := <-done:
		require.ErrorIs(t, err, context.Canceled)
		assert.ErrorContains(t, err, "mirror stopped")
	case <-time.After(10 * time.Second):
		t.Fatal("the withdrawal still waits for a mirror that stopped 10s ago")
	}
}

// A request sent while the connection is down (a server restart, a leader
// election) never gets its reply: each one is bounded, so a writer's batch
// fails and is retried instead of waiting for its own, distant deadline.
func TestBookRequestsBoundedWhileNATSIsDown(t *testing.T) {
	defer gazetteer.SetRequestTimeout(200 * time.Millisecond)()
	ns, _, js := bustest.Provisioned(t)
	b, err := gazetteer.Open(t.Context(), js, logging.Discard())
	require.NoError(t, err)
	ns.Shutdown()
	ns.WaitForShutdown()

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute) // a handler's deadline
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- b.Upsert(ctx, []gazetteer.Entry{{Label: "Person", Key: "ada quinlan", Name: "Ada Quinlan"}}, "teams.csv", "v1", 1)
	}()
	select {
	case err := <-done:
		require.Error(t, err)
		assert.Contains(t, err.Error(), "gazetteer path teams.csv")
		assert.ErrorIs(t, err, context.DeadlineExceeded)
	case <-time.After(30 * time.Second):
		t.Fatal("Upsert still waiting 30s after the server went away")
	}
}

// The refresh mark only moves forward, whichever replica records it.
func TestBookRefreshMark(t *testing.T) {
	b, _ := openBook(t)
	ctx := t.Context()
	_, ok, err := b.Refreshed(ctx)
	require.NoError(t, err)
	assert.False(t, ok, "nothing recorded yet")
	for _, rev := range []uint64{5, 3, 8, 8} {
		require.NoError(t, b.MarkRefreshed(ctx, rev))
	}
	rev, ok, err := b.Refreshed(ctx)
	require.NoError(t, err)
	assert.True(t, ok)
	assert.EqualValues(t, 8, rev)
	assert.Empty(t, b.Entries(), "the mark is not an entry")
}

// A mirror started after entries were deleted holds none of them, but its
// listeners still hear the revisions of the deletions among the initial
// values: the names they build reflect the bucket at its last revision,
// not at the last remaining entry's.
func TestBookListenersHearInitialDeletions(t *testing.T) {
	writer, js := openBook(t)
	ctx := t.Context()
	require.NoError(t, writer.Upsert(ctx, []gazetteer.Entry{{Label: "Person", Key: "ada quinlan", Name: "Ada Quinlan"}}, "teams.csv", "v1", 1))
	require.NoError(t, writer.Upsert(ctx, []gazetteer.Entry{{Label: "Person", Key: "bo ek", Name: "Bo Ek"}}, "managers.xlsx", "m1", 1))
	require.NoError(t, writer.Withdraw(ctx, "managers.xlsx", 2))
	rev, err := writer.LastRevision(ctx)
	require.NoError(t, err)

	reader, err := gazetteer.Open(ctx, js, logging.Discard())
	require.NoError(t, err)
	var mu sync.Mutex
	var heard uint64
	reader.Listen(func(c gazetteer.Change) { mu.Lock(); heard = max(heard, c.Revision); mu.Unlock() })
	go func() { _ = reader.Run(ctx) }()
	require.NoError(t, reader.WaitSynced(ctx))
	assert.Equal(t, []string{"Person:Ada Quinlan"}, names(reader))
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, rev, heard, "the listeners heard the bucket's last revision, a deletion")
}

// The entries of one source share their Sources and Versions maps in the
// mirror (a large spreadsheet's entities hold two maps, not two each), and
// a change to one entry's sources leaves the others' as they were.
func TestBookEntriesOfOneSourceShareTheirMaps(t *testing.T) {
	book, _ := openBook(t)
	ctx := t.Context()
	people := []gazetteer.Entry{{Label: "Person", Key: "a", Name: "A"}, {Label: "Person", Key: "b", Name: "B"}, {Label: "Person", Key: "c", Name: "C"}}
	require.NoError(t, book.Upsert(ctx, people, "teams.csv", "v1", 1))
	waitUntil(t, func() error {
		if n := len(book.Entries()); n != 3 {
			return fmt.Errorf("%d entries", n)
		}
		return nil
	})
	maps := map[uintptr]bool{}
	for _, e := range book.Entries() {
		maps[reflect.ValueOf(e.Sources).Pointer()] = true
		maps[reflect.ValueOf(e.Versions).Pointer()] = true
	}
	assert.Len(t, maps, 2, "one Sources and one Versions map for the three entries")

	require.NoError(t, book.Upsert(ctx, people[:1], "managers.xlsx", "m1", 1))
	waitUntil(t, func() error {
		for _, e := range book.Entries() {
			if e.Key == "a" && len(e.Sources) != 2 {
				return fmt.Errorf("a has sources %v", e.Sources)
			}
		}
		return nil
	})
	for _, e := range book.Entries() {
		want := map[string]string{"teams.csv": "v1"}
		if e.Key == "a" {
			want["managers.xlsx"] = "m1"
		}
		assert.Equal(t, want, e.Sources, e.Key)
	}
}

// entry returns the mirror's entry of label and key once the mirror holds
// the bucket's last revision.
func entry(t *testing.T, b *gazetteer.Book, label, key string) (gazetteer.Entry, bool) {
	t.Helper()
	entriesAt(t, b)
	for _, e := range b.Entries() {
		if e.Label == label && e.Key == key {
			return e, true
		}
	}
	return gazetteer.Entry{}, false
}

// A spreadsheet names more entities than the writes left in flight: each
// is written once (one bucket revision each), re-saved each is rewritten
// once, and its withdrawal deletes each once.
func TestBookManyEntriesWrittenOnceEach(t *testing.T) {
	b, _ := openBook(t)
	ctx := t.Context()
	n := 3*gazetteer.MaxInFlight + 7
	ents := make([]gazetteer.Entry, n)
	for i := range ents {
		ents[i] = gazetteer.Entry{Label: "Person", Key: fmt.Sprintf("p%05d", i), Name: fmt.Sprintf("P%05d", i)}
	}
	revisions := func() uint64 {
		rev, err := b.LastRevision(ctx)
		require.NoError(t, err)
		return rev
	}
	before := revisions()
	require.NoError(t, b.Upsert(ctx, ents, "people.csv", "v1", 1))
	assert.Equal(t, before+uint64(n), revisions(), "one write per entity")
	assert.Len(t, entriesAt(t, b), n)

	before = revisions()
	require.NoError(t, b.Upsert(ctx, ents, "people.csv", "v1", 1))
	assert.Equal(t, before, revisions(), "unchanged entities are not rewritten")

	before = revisions()
	require.NoError(t, b.Upsert(ctx, ents[:n-1], "people.csv", "v2", 2))
	assert.Equal(t, before+uint64(n-1), revisions())
	require.NoError(t, b.Withdraw(ctx, "people.csv", 2))
	assert.Equal(t, before+uint64(n), revisions(), "the entity v2 dropped is deleted, once")
	assert.Len(t, entriesAt(t, b), n-1)
	e, ok := entry(t, b, "Person", "p00000")
	require.True(t, ok)
	assert.Equal(t, map[string]string{"people.csv": "v2"}, e.Sources)
	assert.Equal(t, map[string]uint64{"people.csv": 2}, e.Versions)

	require.NoError(t, b.Withdraw(ctx, "people.csv", 3))
	assert.Empty(t, entriesAt(t, b))
}

// The same entity stated twice in one batch of records is written once,
// with the last statement's name, as if written one after the other.
func TestBookEntityStatedTwiceInOneUpsert(t *testing.T) {
	b, _ := openBook(t)
	ctx := t.Context()
	before, err := b.LastRevision(ctx)
	require.NoError(t, err)
	require.NoError(t, b.Upsert(ctx, []gazetteer.Entry{
		{Label: "Team", Key: "red", Name: "Red"}, {Label: "Person", Key: "ann", Name: "Ann"}, {Label: "Team", Key: "red", Name: "RED"},
	}, "teams.csv", "v1", 1))
	after, err := b.LastRevision(ctx)
	require.NoError(t, err)
	assert.Equal(t, before+2, after, "one write per entity")
	assert.Equal(t, []string{"Person:Ann", "Team:RED"}, entriesAt(t, b))
}

// Another writer (a second graph-writer replica) changes entries between
// the mirror's read and the writes: the writes made against what the
// mirror read are refused, and those entries are updated again from the
// bucket, so neither writer's source is lost, whether the entity is being
// stated or withdrawn.
func TestBookWritesRacingAnotherWriter(t *testing.T) {
	_, _, js := bustest.Provisioned(t)
	log, logs := debugLog()
	b := runBook(t, js, log)
	ctx := t.Context()
	other, err := gazetteer.Open(ctx, js, logging.Discard())
	require.NoError(t, err)
	ann := gazetteer.Entry{Label: "Person", Key: "ann", Name: "Ann"}
	bob := gazetteer.Entry{Label: "Person", Key: "bob", Name: "Bob"}
	require.NoError(t, b.Upsert(ctx, []gazetteer.Entry{ann, bob}, "teams.csv", "t1", 1))
	entriesAt(t, b)

	// race runs write once the mirror's entry of key has been read.
	race := func(key string, write func()) {
		var once sync.Once
		gazetteer.SetAfterRead(func(k string) {
			if k == gazetteer.KVKey("Person", key) {
				once.Do(write)
			}
		})
		t.Cleanup(func() { gazetteer.SetAfterRead(nil) })
	}
	// teams.csv v2 states Ann and Bob again while managers.xlsx, written
	// by the other replica, states Ann.
	race("ann", func() { require.NoError(t, other.Upsert(ctx, []gazetteer.Entry{ann}, "managers.xlsx", "m1", 1)) })
	require.NoError(t, b.Upsert(ctx, []gazetteer.Entry{ann, bob}, "teams.csv", "t2", 2))
	e, ok := entry(t, b, "Person", "ann")
	require.True(t, ok)
	assert.Equal(t, map[string]string{"teams.csv": "t2", "managers.xlsx": "m1"}, e.Sources)
	e, ok = entry(t, b, "Person", "bob")
	require.True(t, ok)
	assert.Equal(t, map[string]string{"teams.csv": "t2"}, e.Sources)
	assert.Contains(t, logs.String(), `updated again one by one" entries=1`)

	// teams.csv is deleted while the other replica adds a source to Bob:
	// his entry loses teams.csv but stays.
	race("bob", func() { require.NoError(t, other.Upsert(ctx, []gazetteer.Entry{bob}, "projects.xlsx", "p1", 1)) })
	require.NoError(t, b.Withdraw(ctx, "teams.csv", 3))
	e, ok = entry(t, b, "Person", "bob")
	require.True(t, ok, "Bob is stated by projects.xlsx")
	assert.Equal(t, map[string]string{"projects.xlsx": "p1"}, e.Sources)
	e, ok = entry(t, b, "Person", "ann")
	require.True(t, ok)
	assert.Equal(t, map[string]string{"managers.xlsx": "m1"}, e.Sources)
}

// The server goes away while a batch's writes are in flight: their acks
// never come, and the Upsert fails within the request bound instead of
// waiting for the batch's distant deadline.
func TestBookWritesInFlightWhenNATSGoesAway(t *testing.T) {
	defer gazetteer.SetRequestTimeout(300 * time.Millisecond)()
	ns, _, js := bustest.Provisioned(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	b, err := gazetteer.Open(ctx, js, logging.Discard())
	require.NoError(t, err)
	go func() { _ = b.Run(ctx) }()
	require.NoError(t, b.WaitSynced(ctx))

	var once sync.Once
	gazetteer.SetAfterRead(func(string) {
		once.Do(func() {
			ns.Shutdown()
			ns.WaitForShutdown()
		})
	})
	defer gazetteer.SetAfterRead(nil)
	ents := make([]gazetteer.Entry, 2*gazetteer.MaxInFlight)
	for i := range ents {
		ents[i] = gazetteer.Entry{Label: "Person", Key: fmt.Sprint(i), Name: fmt.Sprint("P", i)}
	}
	done := make(chan error, 1)
	go func() { done <- b.Upsert(ctx, ents, "people.csv", "v1", 1) }()
	select {
	case err := <-done:
		require.Error(t, err)
		assert.ErrorContains(t, err, "gazetteer")
	case <-time.After(30 * time.Second):
		t.Fatal("Upsert still waiting 30s after the server went away")
	}
}

// Names deleted (their spreadsheet removed) and stated again (restored)
// are written on the condition of their deletion, which the mirror holds,
// also when it loaded the deletions at start: no write is refused.
func TestBookNamesStatedAgainAfterTheirDeletion(t *testing.T) {
	_, _, js := bustest.Provisioned(t)
	log, logs := debugLog()
	b := runBook(t, js, log)
	ctx := t.Context()
	ents := make([]gazetteer.Entry, gazetteer.MaxInFlight+3)
	for i := range ents {
		ents[i] = gazetteer.Entry{Label: "Person", Key: fmt.Sprint(i), Name: fmt.Sprint("P", i)}
	}
	require.NoError(t, b.Upsert(ctx, ents, "people.csv", "v1", 1))
	require.NoError(t, b.Withdraw(ctx, "people.csv", 2))
	assert.Empty(t, entriesAt(t, b))
	require.NoError(t, b.Upsert(ctx, ents, "people.csv", "v1", 3))
	assert.Len(t, entriesAt(t, b), len(ents))
	require.NoError(t, b.Withdraw(ctx, "people.csv", 4))
	assert.Empty(t, entriesAt(t, b))

	// A process started now finds the deletions among the initial values.
	log2, logs2 := debugLog()
	b2 := runBook(t, js, log2)
	require.NoError(t, b2.Upsert(ctx, ents, "people.csv", "v1", 5))
	assert.Len(t, entriesAt(t, b2), len(ents))
	assert.NotContains(t, logs.String()+logs2.String(), "updated again")
}

func TestChangeNamesChanged(t *testing.T) {
	ada := gazetteer.Entry{Label: "Person", Key: "ada", Name: "Ada Lovelace", Sources: map[string]string{"teams.csv": "sha-2"}}
	adaBefore := gazetteer.Entry{Label: "Person", Key: "ada", Name: "Ada Lovelace", Sources: map[string]string{"teams.csv": "sha-1"}}
	renamed := gazetteer.Entry{Label: "Person", Key: "ada", Name: "Ada King"}
	for _, tc := range []struct {
		name   string
		change gazetteer.Change
		want   []string
	}{
		{"added", gazetteer.Change{Entry: ada}, []string{"Ada Lovelace"}},
		{"stated by another version", gazetteer.Change{Entry: ada, Previous: adaBefore}, nil},
		{"renamed", gazetteer.Change{Entry: renamed, Previous: ada}, []string{"Ada Lovelace", "Ada King"}},
		{"deleted", gazetteer.Change{Entry: ada, Deleted: true}, []string{"Ada Lovelace"}},
		{"deletion of an entry not held", gazetteer.Change{Deleted: true}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.change.NamesChanged())
		})
	}
}
