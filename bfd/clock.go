package bfd

import "time"

// Clock gives the engine the time. Tests use a clock they advance by hand
// so that timers fire exactly when the test says; the element uses
// SystemClock.
type Clock interface {
	Now() time.Time
}

// SystemClock is the wall clock (with Go's monotonic reading, so timer
// arithmetic is immune to clock steps).
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// ManualClock is a Clock that moves only when told; safe for one goroutine.
type ManualClock struct{ T time.Time }

// Now returns the clock's current reading.
func (c *ManualClock) Now() time.Time { return c.T }

// Advance moves the clock forward by d.
func (c *ManualClock) Advance(d time.Duration) { c.T = c.T.Add(d) }
