package bus_test

import (
	"log/slog"
	"net"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/bus"
	"github.com/docgraph/docgraph/pkg/testwait"
)

// A listen address in use fails the start at once, saying so.
func TestStartEmbeddedListenAddressInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	port := ln.Addr().(*net.TCPAddr).Port

	var logs testwait.Buffer
	ns, err := bus.StartEmbedded(bus.EmbeddedConfig{StoreDir: t.TempDir(), Host: "127.0.0.1", Port: port}, slog.New(slog.NewTextHandler(&logs, nil)))
	if ns != nil {
		ns.Shutdown()
	}
	require.Error(t, err)
	assert.Contains(t, err.Error(), "127.0.0.1:"+strconv.Itoa(port))
	assert.Contains(t, err.Error(), "address already in use", "the listen error, not a wait for readiness")
	assert.Contains(t, logs.String(), "level=ERROR msg=\"embedded nats: ", "the server's errors are logged")
}
