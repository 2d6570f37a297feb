package watcher

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// nats.go starts this goroutine for asynchronous publishes (the
		// object store's chunk uploads) and, when it reads the connection
		// status channel before it is set, blocks on a nil channel for good.
		goleak.IgnoreTopFunction("github.com/nats-io/nats.go/jetstream.(*jetStream).resetPendingAcksOnReconnect"))
}
