package testwait_test

import (
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/docgraph/docgraph/pkg/testwait"
)

// fakeT records a failure and ends its goroutine, as testing.T does.
type fakeT struct {
	testing.TB
	failed string
}

func (f *fakeT) Helper() {}

func (f *fakeT) Fatalf(format string, args ...any) {
	f.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestUntilReturnsOnceTheConditionHolds(t *testing.T) {
	calls := 0
	testwait.Until(t, 10*time.Second, func() error {
		if calls++; calls < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	assert.Equal(t, 3, calls)
}

func TestUntilFailsWithTheLastError(t *testing.T) {
	f := &fakeT{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		calls := 0
		testwait.Until(f, 3*testwait.Interval, func() error {
			calls++
			return fmt.Errorf("still %d", calls)
		})
	}()
	<-done
	assert.Regexp(t, `^not met within 30ms: still \d+$`, f.failed)
}
