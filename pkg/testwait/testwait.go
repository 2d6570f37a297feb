// Package testwait lets tests wait for an outcome (a node in the graph, a
// message in a stream, a log line) by polling it until a deadline, instead
// of sleeping.
package testwait

import (
	"bytes"
	"sync"
	"testing"
	"time"
)

// Interval is how often Until checks its condition.
const Interval = 10 * time.Millisecond

// Until calls cond until it returns nil. When timeout passes first, the
// test fails with cond's last error.
func Until(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline, tick := time.After(timeout), time.NewTicker(Interval)
	defer tick.Stop()
	for err := cond(); err != nil; err = cond() {
		select {
		case <-deadline:
			t.Fatalf("not met within %s: %v", timeout, err)
		case <-tick.C:
		}
	}
}

// Buffer is a log sink that concurrent writers (a stage's goroutines, a
// connection's callbacks) can share with a test reading it.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
