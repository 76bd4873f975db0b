package cli

import (
	"sync"
	"time"

	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/server"
)

// confirmState is a "commit confirmed" in progress: running as it was
// before, and the timer that puts it back unless a plain commit confirms
// it in time (the same contract as NETCONF's confirmed commit). As in
// Junos, any CLI session may confirm it and it outlives the session that
// made it.
type confirmState struct {
	mu      sync.Mutex
	pending bool
	before  *gen.Device
	by      string // user who made it
	timer   *time.Timer
	expires time.Time
}

// systemSession makes the element's own changes (a rollback on timeout).
var systemSession = &server.Session{ID: 0, User: "system", Role: server.RoleAdmin, Transport: "cli"}

// arm starts or extends the confirmation window after a confirmed commit;
// before is running as it was before the commit.
func (c *confirmState) arm(s *Server, before *gen.Device, user string, d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.pending {
		c.before, c.pending = before, true
	}
	c.by = user
	if c.timer != nil {
		c.timer.Stop()
	}
	c.expires = time.Now().Add(d)
	c.timer = time.AfterFunc(d, func() { c.rollback(s, "confirm timeout") })
}

// confirm ends the window: the commit stays. It reports whether one was
// pending.
func (c *confirmState) confirm() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	was := c.pending
	c.clear()
	return was
}

func (c *confirmState) status() (pending bool, by string, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pending, c.by, c.expires
}

// rollback puts running back as it was before the confirmed commit.
func (c *confirmState) rollback(s *Server, why string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.pending {
		return
	}
	before := c.before
	c.clear()
	if err := s.core.Replace(systemSession, server.Running, before); err != nil {
		s.log.Error("confirmed commit rollback failed", "why", why, "err", err)
		return
	}
	s.log.Info("confirmed commit rolled back", "why", why)
}

func (c *confirmState) sessionEnded(*Server, uint32) {}

func (c *confirmState) clear() {
	if c.timer != nil {
		c.timer.Stop()
	}
	c.pending, c.before, c.by, c.timer = false, nil, "", nil
}
