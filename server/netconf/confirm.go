package netconf

import (
	"strconv"
	"sync"
	"time"

	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/schema"
	"github.com/wirebeat/wirebeat/server"
)

// confirmState is the confirmed commit in progress (RFC 6241 section 8.4,
// confirmed-commit:1.1): running as it was before, who may confirm it, and
// the timer that puts it back.
type confirmState struct {
	mu      sync.Mutex
	pending bool
	before  *gen.Device
	session uint32 // the session that must confirm; 0 with persist
	persist string
	timer   *time.Timer
}

// systemSession makes the element's own changes (a rollback on timeout).
var systemSession = &server.Session{ID: 0, User: "system", Role: server.RoleAdmin, Transport: "netconf"}

const defaultConfirmTimeout = 600 * time.Second

func (sess *session) commit(op *xnode) reply {
	confirmed := op.childBase("confirmed") != nil
	timeout := defaultConfirmTimeout
	if t := op.childBase("confirm-timeout"); t != nil {
		n, err := strconv.ParseUint(t.Text, 10, 32)
		if err != nil || n == 0 {
			return reply{errs: []*rpcError{badElement(schema.TagInvalidValue, "confirm-timeout", "confirm-timeout %q is not a positive number of seconds", t.Text)}}
		}
		timeout = time.Duration(n) * time.Second
	}
	var persist, persistID string
	var hasPersistID bool
	if p := op.childBase("persist"); p != nil {
		persist = p.Text
	}
	if p := op.childBase("persist-id"); p != nil {
		persistID, hasPersistID = p.Text, true
	}
	if !confirmed && (persist != "" || op.childBase("confirm-timeout") != nil) {
		return reply{errs: []*rpcError{badElement(schema.TagBadElement, "persist", "persist and confirm-timeout go with confirmed")}}
	}

	c := &sess.srv.confirm
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pending {
		if c.persist != "" {
			if !hasPersistID || persistID != c.persist {
				return reply{errs: []*rpcError{badElement(schema.TagInvalidValue, "persist-id", "the pending confirmed commit is confirmed with its persist-id")}}
			}
		} else if c.session != sess.core.ID {
			return reply{errs: []*rpcError{protoErr(schema.TagInUse, "a confirmed commit of session %d is pending", c.session)}}
		}
	} else if hasPersistID {
		return reply{errs: []*rpcError{badElement(schema.TagInvalidValue, "persist-id", "no confirmed commit is pending")}}
	}
	before, beforeID := sess.srv.core.Running(), sess.srv.core.CommitID()
	if err := sess.srv.core.Commit(sess.core); err != nil {
		return fail(err)
	}
	switch {
	case confirmed:
		if !c.pending {
			c.before, c.pending = before, true
			// Kept on disk, so that a restart before the confirmation
			// reverts it too (RFC 6241 section 8.4.1).
			if err := sess.srv.core.SetConfirmPending(beforeID); err != nil {
				sess.srv.log.Error("confirmed commit: could not record it as pending", "err", err)
			}
		}
		c.session, c.persist = sess.core.ID, persist
		if persist != "" {
			c.session = 0
		}
		if c.timer != nil {
			c.timer.Stop()
		}
		srv := sess.srv
		c.timer = time.AfterFunc(timeout, func() { c.rollback(srv, "confirm timeout") })
	case c.pending: // the confirming commit
		c.clear()
		if err := sess.srv.core.ClearConfirmPending(); err != nil {
			sess.srv.log.Error("confirmed commit: could not record the confirmation", "err", err)
		}
	}
	return reply{}
}

func (sess *session) cancelCommit(op *xnode) reply {
	c := &sess.srv.confirm
	c.mu.Lock()
	pending, persist, owner := c.pending, c.persist, c.session
	c.mu.Unlock()
	if !pending {
		return reply{errs: []*rpcError{protoErr(schema.TagOperationFailed, "no confirmed commit is pending")}}
	}
	p := op.childBase("persist-id")
	switch {
	case persist != "" && (p == nil || p.Text != persist):
		return reply{errs: []*rpcError{badElement(schema.TagInvalidValue, "persist-id", "cancel a persistent confirmed commit with its persist-id")}}
	case persist == "" && owner != sess.core.ID:
		return reply{errs: []*rpcError{protoErr(schema.TagInUse, "the pending confirmed commit belongs to session %d", owner)}}
	}
	if err := c.rollback(sess.srv, "cancel-commit"); err != nil {
		return fail(err)
	}
	return reply{}
}

// rollback puts running back as it was before the confirmed commit.
func (c *confirmState) rollback(s *Server, why string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.pending {
		return nil
	}
	before := c.before
	c.clear()
	if err := s.core.Replace(systemSession, server.Running, before); err != nil {
		s.log.Error("confirmed commit rollback failed", "why", why, "err", err)
		return err
	}
	s.log.Info("confirmed commit rolled back", "why", why)
	if err := s.core.ClearConfirmPending(); err != nil {
		s.log.Error("confirmed commit: could not record the rollback", "err", err)
	}
	return nil
}

// sessionEnded rolls back an unconfirmed commit whose session ended
// without persist.
func (c *confirmState) sessionEnded(s *Server, id uint32) {
	c.mu.Lock()
	mine := c.pending && c.persist == "" && c.session == id
	c.mu.Unlock()
	if mine {
		c.rollback(s, "session ended")
	}
}

func (c *confirmState) clear() {
	if c.timer != nil {
		c.timer.Stop()
	}
	c.pending, c.before, c.session, c.persist, c.timer = false, nil, 0, "", nil
}

// stop rolls back a commit still unconfirmed when the server stops: RFC
// 6241 section 8.4.1 wants it undone if the device goes down before it is
// confirmed. After a crash the core does it at the next boot, from the
// pending state kept on disk.
func (c *confirmState) stop(s *Server) {
	c.rollback(s, "server stopping")
}
