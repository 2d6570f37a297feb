package gazetteer

import "time"

// SetAfterRaise sets the hook that runs between an Upsert's check of the
// path's version and its writes (nil to clear).
func SetAfterRaise(f func()) { afterRaise = f }

// SetRequestTimeout sets the bound of each bucket request and returns a
// function that restores the previous one.
func SetRequestTimeout(d time.Duration) func() {
	prev := requestTimeout
	requestTimeout = d
	return func() { requestTimeout = prev }
}

// SetAfterRead sets the hook that runs between a batch of updates' reading
// of an entry from the mirror and its write (nil to clear).
func SetAfterRead(f func(key string)) { afterRead = f }

// MaxInFlight is how many writes a batch of updates leaves unacknowledged.
const MaxInFlight = maxInFlight
