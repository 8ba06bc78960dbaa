package policy

import "time"

// Clock is the one time source of the package: block expiry, the
// limiters' token buckets and the bytes/s delay all read it, so tests
// drive every timer with a fake (policytest.Clock).
type Clock interface {
	Now() time.Time
	// After is time.After: the channel receives once d has passed.
	After(d time.Duration) <-chan time.Time
}

type wallClock struct{}

func (wallClock) Now() time.Time                         { return time.Now() }
func (wallClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
