package main

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/bus"
)

// natsCluster is a JetStream cluster of nats-servers in the test process,
// each with its own client port, route port and store.
type natsCluster struct {
	nodes map[string]*server.Server // by server name
	names []string
}

// freePorts reserves n distinct free TCP ports on 127.0.0.1. The listeners
// are closed before returning, so another process could take a port in
// between; the servers fail to start loudly if that happens.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		require.NoError(t, ln.Close())
	}
	return ports
}

// startCluster starts n clustered JetStream servers and waits until they
// have elected a metadata leader.
func startCluster(t *testing.T, n int) *natsCluster {
	t.Helper()
	ports := freePorts(t, 2*n)
	clientPorts, routePorts := ports[:n], ports[n:]
	c := &natsCluster{nodes: map[string]*server.Server{}}
	for i := range n {
		var routes []*url.URL
		for j, p := range routePorts {
			if j != i {
				routes = append(routes, &url.URL{Scheme: "nats-route", Host: fmt.Sprintf("127.0.0.1:%d", p)})
			}
		}
		name := fmt.Sprintf("node-%c", 'a'+i)
		c.nodes[name] = startServer(t, &server.Options{
			ServerName: name, Host: "127.0.0.1", Port: clientPorts[i],
			JetStream: true, StoreDir: t.TempDir(),
			Cluster: server.ClusterOpts{Name: "docgraph-test", Host: "127.0.0.1", Port: routePorts[i]},
			Routes:  routes,
		})
		c.names = append(c.names, name)
	}
	waitUntil(t, 60*time.Second, func() error {
		for _, name := range c.names {
			ns := c.nodes[name]
			if !ns.JetStreamIsClustered() || !ns.JetStreamIsCurrent() {
				return fmt.Errorf("%s: jetstream cluster not current", name)
			}
			if ns.NumRoutes() < n-1 {
				return fmt.Errorf("%s: %d routes", name, ns.NumRoutes())
			}
		}
		for _, ns := range c.nodes {
			if ns.JetStreamIsLeader() {
				return nil
			}
		}
		return fmt.Errorf("no jetstream metadata leader yet")
	})
	return c
}

// urls is the comma-separated client URL list of the nodes.
func (c *natsCluster) urls() string {
	var out []string
	for _, name := range c.names {
		out = append(out, c.nodes[name].ClientURL())
	}
	return strings.Join(out, ",")
}

// kill shuts one node down.
func (c *natsCluster) kill(name string) {
	ns := c.nodes[name]
	ns.Shutdown()
	ns.WaitForShutdown()
}

func TestClusterStreamLeaderKilledMidIngest(t *testing.T) {
	fx := newCorpusFixture(t, multiDocs)
	c := startCluster(t, 3)
	urls := c.urls()
	js := connect(t, urls)
	// A publish lost with the leader holds its stage for the PubAck
	// timeout: a short one keeps the test short.
	d := newDeployment(t, urls, fx.in, "--graph.store", "duckdb", "--streams.replicas", "3", "--nats.pub_ack_timeout", "2s")
	// The first worker creates the replicated streams alone; workers that
	// race to create them retry (each race costs a JetStream API timeout).
	d.start(bus.StageGraphWriter).waitReady(t)
	extractor, parser := d.start(bus.StageExtractor), d.start(bus.StageParser)
	extractor.waitReady(t)
	parser.waitReady(t)
	d.start(bus.StageWatcher)
	extractor.waitProcessed(t, 100)

	st, err := js.Stream(t.Context(), bus.StreamChunks)
	require.NoError(t, err)
	si, err := st.Info(t.Context())
	require.NoError(t, err)
	require.NotNil(t, si.Cluster, "stream %s is clustered", bus.StreamChunks)
	require.Len(t, si.Cluster.Replicas, 2, "stream %s has three replicas", bus.StreamChunks)
	leader := si.Cluster.Leader
	require.Contains(t, c.nodes, leader)
	before := extractor.processed()
	c.kill(leader)
	t.Logf("killed %s, the leader of %s, after %d chunks", leader, bus.StreamChunks, before)
	requireMidWork(t, js, "the stream leader", fx.files)

	got := d.finish(js, fx.files)
	require.Greater(t, extractor.processed(), before, "the extractor went on after the leader died")
	require.Equal(t, fx.want, got, "graph after losing the stream leader")
}
