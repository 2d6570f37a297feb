package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/docgraph/docgraph/pkg/logging"
)

// RefresherTTL is how long the refresher lease outlives its last renewal:
// a process killed while holding it gives it up after this long.
const RefresherTTL = 15 * time.Second

// leaseHolder is the record of a lease: who holds it.
type leaseHolder struct {
	Command string `json:"command"`
	PID     int    `json:"pid"`
	Host    string `json:"host"`
}

// refresherKey is the lease's key in BucketRefresher.
const refresherKey = "refresher"

// Lease is a claim that one process at a time holds: the record of a key
// in a bucket whose entries expire. Its holder renews it (Run); another
// process can take it once the holder releases it or stops renewing it.
type Lease struct {
	kv  jetstream.KeyValue
	key string
	val []byte
	ttl time.Duration
	log *slog.Logger

	mu  sync.Mutex
	rev uint64 // revision of the record while held, 0 when not
}

// RefresherLease returns the lease that elects, among extractor replicas,
// the one that re-extracts chunks after the gazetteer changed; command
// names the process in the record (for operators).
func RefresherLease(ctx context.Context, js jetstream.JetStream, command string, log *slog.Logger) (*Lease, error) {
	kv, err := js.KeyValue(ctx, BucketRefresher)
	if err != nil {
		return nil, fmt.Errorf("refresher bucket: %w", err)
	}
	host, _ := os.Hostname()
	val, err := json.Marshal(leaseHolder{command, os.Getpid(), host})
	if err != nil {
		return nil, err
	}
	return &Lease{kv: kv, key: refresherKey, val: val, ttl: RefresherTTL, log: log}, nil
}

// Acquire takes the lease unless another process holds it, and reports
// whether this one does.
func (l *Lease) Acquire(ctx context.Context) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rev != 0 {
		return true, nil
	}
	rctx, cancel := context.WithTimeout(ctx, l.ttl/3)
	defer cancel()
	rev, err := l.kv.Create(rctx, l.key, l.val)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("refresher lease: %w", err)
	}
	l.rev = rev
	return true, nil
}

// Held reports whether this process holds the lease.
func (l *Lease) Held() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rev != 0
}

// Release gives the lease up, if this process holds it.
func (l *Lease) Release(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rev == 0 {
		return nil
	}
	rev := l.rev
	l.rev = 0
	rctx, cancel := context.WithTimeout(ctx, l.ttl/3)
	defer cancel()
	err := l.kv.Delete(rctx, l.key, jetstream.LastRevision(rev))
	if err != nil && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("refresher lease: %w", err)
	}
	return nil // or another process has taken it since
}

// Run renews the lease while this process holds it, every third of its
// TTL, until ctx ends; then releases it.
func (l *Lease) Run(ctx context.Context) error {
	tick := time.NewTicker(l.ttl / 3)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := l.Release(context.WithoutCancel(ctx)); err != nil {
				l.log.Warn("refresher lease not released; it expires on its own", slog.Duration("ttl", l.ttl), slog.Any(logging.KeyErr, err))
			}
			return nil
		case <-tick.C:
			l.renew(ctx)
		}
	}
}

// renew writes the record again on the condition that it is still this
// process's: one that expired (renewals failed for longer than the TTL)
// may have been taken by another process since, and is then lost.
func (l *Lease) renew(ctx context.Context) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rev == 0 {
		return
	}
	// Not cut short when ctx ends (Run stopping): the server may apply an
	// update whose reply is then not awaited, and the release that
	// follows needs the record's new revision.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.ttl/3)
	defer cancel()
	rev, err := l.kv.Update(rctx, l.key, l.val, l.rev)
	switch {
	case err == nil:
		l.rev = rev
	case errors.Is(err, jetstream.ErrKeyRevisionMismatch):
		l.rev = 0
		l.log.Warn("refresher lease lost: it expired before it was renewed", slog.Duration("ttl", l.ttl))
	default:
		// NATS is down or failing over: the next tick tries again.
		l.log.Debug("refresher lease not renewed", slog.Any(logging.KeyErr, err))
	}
}

// ForgetRefresher removes the refresher lease. A process that starts the
// NATS server calls it before its extractor starts: a lease there can only
// be left by its own earlier run, killed, which would otherwise hold
// re-extraction back until it expires.
func ForgetRefresher(ctx context.Context, js jetstream.JetStream) error {
	kv, err := js.KeyValue(ctx, BucketRefresher)
	if err != nil {
		return fmt.Errorf("refresher bucket: %w", err)
	}
	if err := kv.Delete(ctx, refresherKey); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("refresher bucket: %w", err)
	}
	return nil
}

// RefresherHolder describes the process holding the refresher lease, ""
// when none does.
func RefresherHolder(ctx context.Context, js jetstream.JetStream) (string, error) {
	kv, err := js.KeyValue(ctx, BucketRefresher)
	if err != nil {
		return "", fmt.Errorf("refresher bucket: %w", err)
	}
	e, err := kv.Get(ctx, refresherKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("refresher bucket: %w", err)
	}
	var h leaseHolder
	if json.Unmarshal(e.Value(), &h) != nil || h.Command == "" {
		return "a process", nil
	}
	return fmt.Sprintf("docgraph %s (pid %d on %s)", h.Command, h.PID, h.Host), nil
}
