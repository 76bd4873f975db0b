package bfd

import (
	"context"
	"time"
)

const minSleep = time.Millisecond

// Run drives the engine's timers with the engine's clock until ctx ends:
// one goroutine and one runtime timer for all sessions.
func (e *Engine) Run(ctx context.Context) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		next := e.Advance()
		wait := time.Hour
		if !next.IsZero() {
			// Timers are served at most once per millisecond: with
			// many sessions this coalesces wakeups, and a packet or
			// an expiry up to 1 ms late is well inside BFD's jitter.
			wait = max(next.Sub(e.clock.Now()), minSleep)
		}
		e.mu.Lock()
		e.sleepUntil = e.now() + int64(wait)
		e.mu.Unlock()
		t.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-e.wake:
		}
	}
}
