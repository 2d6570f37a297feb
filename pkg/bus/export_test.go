package bus

import (
	"context"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// NewLeaseIn returns a refresher lease in kv, whose entries must expire
// after ttl.
func NewLeaseIn(kv jetstream.KeyValue, ttl time.Duration, log *slog.Logger) *Lease {
	return &Lease{kv: kv, key: refresherKey, val: []byte(`{}`), ttl: ttl, log: log}
}

// Renew renews l once, as Run does at each tick.
func (l *Lease) Renew(ctx context.Context) { l.renew(ctx) }
