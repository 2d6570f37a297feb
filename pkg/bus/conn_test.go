package bus_test

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/bus"
	"github.com/docgraph/docgraph/pkg/bus/bustest"
	"github.com/docgraph/docgraph/pkg/testwait"
)

// A subscription that falls behind loses messages without any request
// failing: the connection logs it, naming the subject.
func TestConnectLogsAsyncErrors(t *testing.T) {
	ns := bustest.NewServer(t)
	var logs testwait.Buffer
	nc, err := bus.Connect(bus.ConnConfig{URL: ns.ClientURL(), Name: "test"}, slog.New(slog.NewTextHandler(&logs, nil)))
	require.NoError(t, err)
	t.Cleanup(nc.Close)

	release := make(chan struct{})
	sub, err := nc.Subscribe("t.slow", func(*nats.Msg) { <-release })
	require.NoError(t, err)
	t.Cleanup(func() { close(release) })
	require.NoError(t, sub.SetPendingLimits(1, -1))
	for range 5 {
		require.NoError(t, nc.Publish("t.slow", []byte("x")))
	}
	require.NoError(t, nc.Flush())

	testwait.Until(t, 10*time.Second, func() error {
		if !strings.Contains(logs.String(), "nats error") {
			return errors.New("nothing logged yet")
		}
		return nil
	})
	out := logs.String()
	assert.Contains(t, out, "level=WARN msg=\"nats error\"")
	assert.Contains(t, out, "slow consumer")
	assert.Contains(t, out, "subject=t.slow")
}
