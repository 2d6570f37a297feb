package bus_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/bus"
	"github.com/docgraph/docgraph/pkg/bus/bustest"
	"github.com/docgraph/docgraph/pkg/logging"
	"github.com/docgraph/docgraph/pkg/testwait"
)

func TestRefresherLeaseIsHeldByOneAtATime(t *testing.T) {
	_, _, js := bustest.Provisioned(t)
	ctx := t.Context()
	a, err := bus.RefresherLease(ctx, js, "extractor", logging.Discard())
	require.NoError(t, err)
	b, err := bus.RefresherLease(ctx, js, "extractor", logging.Discard())
	require.NoError(t, err)

	holder, err := bus.RefresherHolder(ctx, js)
	require.NoError(t, err)
	assert.Empty(t, holder)
	held, err := a.Acquire(ctx)
	require.NoError(t, err)
	assert.True(t, held)
	holder, err = bus.RefresherHolder(ctx, js)
	require.NoError(t, err)
	assert.Regexp(t, `^docgraph extractor \(pid \d+ on .+\)$`, holder)
	held, err = b.Acquire(ctx)
	require.NoError(t, err)
	assert.False(t, held, "a holds it")
	held, err = a.Acquire(ctx)
	require.NoError(t, err)
	assert.True(t, held, "a holds it still")

	require.NoError(t, a.Release(ctx))
	assert.False(t, a.Held())
	held, err = b.Acquire(ctx)
	require.NoError(t, err)
	assert.True(t, held, "released, b takes it")
	held, err = a.Acquire(ctx)
	require.NoError(t, err)
	assert.False(t, held)
	require.NoError(t, a.Release(ctx), "releasing a lease not held does nothing")
	assert.True(t, b.Held())

	// A killed holder's lease is forgotten by the process that runs the
	// server.
	require.NoError(t, bus.ForgetRefresher(ctx, js))
	held, err = a.Acquire(ctx)
	require.NoError(t, err)
	assert.True(t, held)
}

// The holder keeps the lease while it renews it, gives it up when it
// stops, and loses it when it stops renewing (killed, or cut off from
// NATS for longer than the TTL): another process takes it then.
func TestRefresherLeaseRenewedAndExpired(t *testing.T) {
	_, _, js := bustest.Provisioned(t)
	ctx := t.Context()
	const ttl = 900 * time.Millisecond
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "lease_test", TTL: ttl, History: 1})
	require.NoError(t, err)
	a := bus.NewLeaseIn(kv, ttl, logging.Discard())
	b := bus.NewLeaseIn(kv, ttl, logging.Discard())

	held, err := a.Acquire(ctx)
	require.NoError(t, err)
	require.True(t, held)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(runCtx) }()
	// Renewed: still a's after four renewals (a third of the TTL apart),
	// longer than the record would live without them.
	first, err := kv.Get(ctx, "refresher")
	require.NoError(t, err)
	testwait.Until(t, 10*time.Second, func() error {
		held, err := b.Acquire(ctx)
		if err != nil || held {
			return errors.Join(err, errors.New("b took a renewed lease"))
		}
		e, err := kv.Get(ctx, "refresher")
		if err != nil {
			return err
		}
		if e.Revision() < first.Revision()+4 {
			return errors.New("not renewed four times yet")
		}
		return nil
	})
	held, err = b.Acquire(ctx)
	require.NoError(t, err)
	require.False(t, held, "b took a renewed lease")
	stop()
	require.NoError(t, <-done)
	assert.False(t, a.Held(), "released at stop")
	held, err = b.Acquire(ctx)
	require.NoError(t, err)
	require.True(t, held, "b takes a released lease at once")

	// b does not renew: its lease expires and a takes it; b learns it
	// lost the lease at its next renewal.
	testwait.Until(t, 10*time.Second, func() error {
		held, err := a.Acquire(ctx)
		if err != nil {
			return err
		}
		if !held {
			return errors.New("b's lease has not expired")
		}
		return nil
	})
	assert.True(t, b.Held(), "b has not looked yet")
	runCtx, stop = context.WithCancel(ctx)
	go func() { done <- b.Run(runCtx) }()
	testwait.Until(t, 10*time.Second, func() error {
		if b.Held() {
			return errors.New("b still believes it holds the lease")
		}
		return nil
	})
	stop()
	require.NoError(t, <-done)
	assert.True(t, a.Held())
	held, err = b.Acquire(ctx)
	require.NoError(t, err)
	assert.False(t, held, "b's stop did not release a's lease")
}

// A renewal under way when Run stops is not cut short: had the server
// applied it with its reply unheard, the release would name the record's
// old revision, fail, and leave the lease held until it expired.
func TestLeaseRenewalFinishesWhenRunStops(t *testing.T) {
	_, _, js := bustest.Provisioned(t)
	ctx := t.Context()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "lease_renew", TTL: time.Minute, History: 1})
	require.NoError(t, err)
	a := bus.NewLeaseIn(kv, time.Minute, logging.Discard())
	held, err := a.Acquire(ctx)
	require.NoError(t, err)
	require.True(t, held)
	before, err := kv.Get(ctx, "refresher")
	require.NoError(t, err)

	stopped, stop := context.WithCancel(ctx)
	stop()
	a.Renew(stopped)
	after, err := kv.Get(ctx, "refresher")
	require.NoError(t, err)
	assert.Greater(t, after.Revision(), before.Revision(), "renewed despite the stop")
	require.NoError(t, a.Release(ctx))
	_, err = kv.Get(ctx, "refresher")
	require.ErrorIs(t, err, jetstream.ErrKeyNotFound, "released: the renewal's revision was known")
}
