package bus_test

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/bus"
	"github.com/docgraph/docgraph/pkg/bus/bustest"
)

// BreakObject leaves the object's metadata and purges its chunks, as an
// object store Put does when a publish fails after the metadata was stored.
func breakObject(t *testing.T, js jetstream.JetStream, info *jetstream.ObjectInfo) {
	t.Helper()
	st, err := js.Stream(t.Context(), "OBJ_"+info.Bucket)
	require.NoError(t, err)
	require.NoError(t, st.Purge(t.Context(), jetstream.WithPurgeSubject("$O."+info.Bucket+".C."+info.NUID)))
}

func TestObjectComplete(t *testing.T) {
	_, _, js := bustest.Provisioned(t)
	obs, err := js.ObjectStore(t.Context(), bus.BucketFiles)
	require.NoError(t, err)
	put := func(name string, size int) *jetstream.ObjectInfo {
		info, err := obs.Put(t.Context(), jetstream.ObjectMeta{Name: name, Opts: &jetstream.ObjectMetaOptions{ChunkSize: 1024}},
			bytes.NewReader(bytes.Repeat([]byte("x"), size)))
		require.NoError(t, err)
		return info
	}
	complete := func(info *jetstream.ObjectInfo) bool {
		ok, err := bus.ObjectComplete(t.Context(), js, info)
		require.NoError(t, err)
		return ok
	}

	whole := put("whole.md", 5000)
	require.EqualValues(t, 5, whole.Chunks)
	assert.True(t, complete(whole))
	assert.True(t, complete(put("empty.md", 0)), "an empty object has no chunks to miss")

	broken := put("broken.md", 3000)
	breakObject(t, js, broken)
	info, err := obs.GetInfo(t.Context(), "broken.md")
	require.NoError(t, err, "the metadata is still listed")
	assert.False(t, complete(info))
	assert.True(t, complete(whole), "other objects are unaffected")

	info.Bucket = "no_such_bucket"
	_, err = bus.ObjectComplete(t.Context(), js, info)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "object broken.md: stream OBJ_no_such_bucket")
}

// newObjects provisions a server and returns the files bucket, as a
// store to write and as the Objects that read it.
func newObjects(t *testing.T) (jetstream.JetStream, jetstream.ObjectStore, *bus.Objects) {
	t.Helper()
	_, _, js := bustest.Provisioned(t)
	store, err := js.ObjectStore(t.Context(), bus.BucketFiles)
	require.NoError(t, err)
	objects, err := bus.NewObjects(t.Context(), js, bus.BucketFiles)
	require.NoError(t, err)
	return js, store, objects
}

func TestObjectsOpen(t *testing.T) {
	js, store, objects := newObjects(t)
	content := bytes.Repeat([]byte("chunked "), 50_000) // several chunks
	_, err := store.PutBytes(t.Context(), "a.md@1", content)
	require.NoError(t, err)

	r, err := objects.Open(t.Context(), "a.md@1")
	require.NoError(t, err)
	got, err := io.ReadAll(r)
	require.NoError(t, err)
	require.NoError(t, r.Close())
	assert.Equal(t, content, got)

	_, err = objects.Open(t.Context(), "gone.md@1")
	require.ErrorIs(t, err, jetstream.ErrObjectNotFound)
	assert.Contains(t, err.Error(), "object gone.md@1")

	// An object whose chunks are gone: the read ends with the reader's
	// deadline, and says the object is incomplete rather than slow.
	info, err := store.PutBytes(t.Context(), "broken.md@1", content)
	require.NoError(t, err)
	breakObject(t, js, info)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	r, err = objects.Open(ctx, "broken.md@1")
	require.NoError(t, err)
	_, err = io.ReadAll(r)
	require.ErrorIs(t, err, bus.ErrObjectIncomplete)
	assert.Contains(t, err.Error(), "object broken.md@1")
	require.NoError(t, r.Close())

	_, err = bus.NewObjects(t.Context(), js, "no_such_bucket")
	require.Error(t, err)
}

// Most documents fit in one chunk: Open reads it with one request, and
// checks it as the object store would (size, digest, presence).
func TestObjectsOpenOneChunk(t *testing.T) {
	js, store, objects := newObjects(t)
	read := func(name string) ([]byte, error) {
		t.Helper()
		r, err := objects.Open(t.Context(), name)
		require.NoError(t, err)
		defer func() { require.NoError(t, r.Close()) }()
		return io.ReadAll(r)
	}

	small := []byte("Ada Quinlan manages PRJ-1042.\n")
	info, err := store.PutBytes(t.Context(), "small.md@1", small)
	require.NoError(t, err)
	require.EqualValues(t, 1, info.Chunks)
	got, err := read("small.md@1")
	require.NoError(t, err)
	assert.Equal(t, small, got)

	empty, err := store.PutBytes(t.Context(), "empty.md@1", nil)
	require.NoError(t, err)
	require.EqualValues(t, 0, empty.Chunks)
	got, err = read("empty.md@1")
	require.NoError(t, err)
	assert.Empty(t, got)

	// Its chunk replaced by other bytes: refused, not returned.
	_, err = js.Publish(t.Context(), "$O."+bus.BucketFiles+".C."+info.NUID, []byte("Someone else manages PRJ-1042.\n"))
	require.NoError(t, err)
	_, err = read("small.md@1")
	require.ErrorIs(t, err, jetstream.ErrDigestMismatch)
	assert.Contains(t, err.Error(), "object small.md@1")

	// Its chunk gone: incomplete, at once.
	breakObject(t, js, info)
	_, err = read("small.md@1")
	require.ErrorIs(t, err, bus.ErrObjectIncomplete)
	assert.Contains(t, err.Error(), "object small.md@1")
}
