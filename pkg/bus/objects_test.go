package bus_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/bus"
	"github.com/docgraph/docgraph/pkg/bus/bustest"
	"github.com/docgraph/docgraph/pkg/testwait"
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

// Direct gets, which the object store's stream allows, are answered by any
// replica, and a replica behind its leader answers "not found" for what
// it has not received yet. A mirror that serves direct gets (MirrorDirect)
// but never receives part of the stream is such a replica, for good: it
// answers about half the requests. Open must not take its answer for the
// truth, neither for the metadata nor for the chunk.
func TestObjectsOpenWithAReplicaBehind(t *testing.T) {
	for _, c := range []struct{ name, mirrors string }{
		{"no metadata", "$O." + bus.BucketFiles + ".C.>"},
		{"no chunks", "$O." + bus.BucketFiles + ".M.>"},
	} {
		t.Run(c.name, func(t *testing.T) {
			js, store, objects := newObjects(t)
			line := []byte("Ada Quinlan manages PRJ-1042.\n")
			var names, chunks []string
			contents := map[string][]byte{}
			for i := range 5 {
				name, content := fmt.Sprintf("doc%d.md@1", i), line
				if i == 4 { // an object of several chunks
					content = bytes.Repeat(line, 20_000)
				}
				info, err := store.PutBytes(t.Context(), name, content)
				require.NoError(t, err)
				names = append(names, name)
				chunks = append(chunks, "$O."+bus.BucketFiles+".C."+info.NUID)
				contents[name] = content
			}
			objStream, err := js.Stream(t.Context(), "OBJ_"+bus.BucketFiles)
			require.NoError(t, err)
			_, err = js.CreateStream(t.Context(), jetstream.StreamConfig{
				Name:         "BEHIND",
				Mirror:       &jetstream.StreamSource{Name: "OBJ_" + bus.BucketFiles, FilterSubject: c.mirrors},
				MirrorDirect: true,
			})
			require.NoError(t, err)
			// The mirror has what its filter lets through.
			testwait.Until(t, 10*time.Second, func() error {
				st, err := js.Stream(t.Context(), "BEHIND")
				if err != nil {
					return err
				}
				if n := st.CachedInfo().State.Msgs; c.name == "no chunks" && n != 5 || c.name == "no metadata" && n < 9 {
					return fmt.Errorf("mirror has %d messages", n)
				}
				return nil
			})

			missed := 0
			for range 40 {
				for i, name := range names {
					if _, err := store.GetInfo(t.Context(), name); err != nil {
						missed++
					}
					if _, err := objStream.GetLastMsgForSubject(t.Context(), chunks[i]); err != nil {
						missed++
					}
					r, err := objects.Open(t.Context(), name)
					require.NoError(t, err, name)
					got, err := io.ReadAll(r)
					require.NoError(t, err, name)
					require.NoError(t, r.Close())
					require.Equal(t, contents[name], got, name)
				}
			}
			require.NotZero(t, missed, "the mirror answered no direct get: the test shows nothing")
			t.Logf("direct gets of a metadata or chunk failed %d times", missed)

			// What the leader does not have either is still missing.
			_, err = objects.Open(t.Context(), "no-such.md@1")
			require.ErrorIs(t, err, jetstream.ErrObjectNotFound)
		})
	}
}
