package gazetteer_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/bus/bustest"
	"github.com/docgraph/docgraph/pkg/gazetteer"
	"github.com/docgraph/docgraph/pkg/logging"
)

func waitUntil(t *testing.T, cond func() error) {
	t.Helper()
	deadline, tick := time.After(10*time.Second), time.NewTicker(10*time.Millisecond)
	defer tick.Stop()
	for err := cond(); err != nil; err = cond() {
		select {
		case <-deadline:
			t.Fatalf("not met: %v", err)
		case <-tick.C:
		}
	}
}

func names(b *gazetteer.Book) []string {
	var out []string
	for _, e := range b.Entries() {
		out = append(out, e.Label+":"+e.Name)
	}
	return out
}

func TestBookUpsertWithdrawAndWatch(t *testing.T) {
	_, _, js := bustest.Provisioned(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)

	writer, err := gazetteer.Open(ctx, js, logging.Discard())
	require.NoError(t, err)
	go func() { _ = writer.Run(ctx) }()
	require.NoError(t, writer.WaitSynced(ctx))

	people := []gazetteer.Entry{{Label: "Person", Key: "ada quinlan", Name: "Ada Quinlan"}, {Label: "Person", Key: "bo ek", Name: "Bo Ek"}}
	require.NoError(t, writer.Upsert(ctx, people, "teams.csv", "v1"))
	require.NoError(t, writer.Upsert(ctx, people[:1], "managers.xlsx", "m1"))
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
	require.NoError(t, writer.Upsert(ctx, people, "teams.csv", "v1"))
	rev2, err := writer.LastRevision(ctx)
	require.NoError(t, err)
	assert.Equal(t, rev, rev2, "unchanged entries are not rewritten")

	// teams.csv v2 drops Bo Ek: withdrawing other versions removes him;
	// Ada stays (v2 and managers.xlsx state her).
	require.NoError(t, writer.Upsert(ctx, people[:1], "teams.csv", "v2"))
	waitUntil(t, func() error {
		for _, e := range writer.Entries() {
			if e.Key == "ada quinlan" && e.Sources["teams.csv"] != "v2" {
				return fmt.Errorf("mirror not updated")
			}
		}
		return nil
	})
	require.NoError(t, writer.Withdraw(ctx, "teams.csv", "v2"))
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
	require.NoError(t, writer.Withdraw(ctx, "teams.csv", ""))
	require.NoError(t, writer.Withdraw(ctx, "managers.xlsx", ""))
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
