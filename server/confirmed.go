package server

import (
	"errors"
	"fmt"
	"sync"
	"time"

	gpb "github.com/openconfig/gnmi/proto/gnmi"

	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/schema"
)

// The confirmed commit of the element: there is at most one pending, made
// by any front end (NETCONF's <commit><confirmed/>, the CLI's commit
// confirmed), and every front end's commit goes through ConfirmedCommit so
// that it either confirms it, extends it, or is refused. Two front ends
// keeping one each could undo each other: the first to time out would put
// running back to before both.
//
// Who may confirm, extend or cancel the pending one:
//   - made with a persist token (RFC 6241 confirmed-commit:1.1): any
//     session that gives the token; it outlives the session that made it;
//   - made Open (the CLI, as in Junos): any session's commit confirms it;
//     it outlives the session that made it;
//   - otherwise (RFC 6241 without persist): only the session that made it,
//     and it is rolled back when that session ends.

// Confirm is what a commit says about the confirmed commit.
type Confirm struct {
	// Confirmed makes this commit a confirmed one: rolled back after
	// Timeout unless confirmed.
	Confirmed bool
	Timeout   time.Duration
	// Persist is the token of a persistent confirmed commit.
	Persist string
	// PersistID is the token given to confirm or extend a persistent one
	// (HasPersistID: one was given, even empty).
	PersistID    string
	HasPersistID bool
	// Open lets any session's commit confirm it (the CLI's).
	Open bool
}

// PendingConfirm describes the pending confirmed commit.
type PendingConfirm struct {
	Session   uint32 // the session that made (or last extended) it
	User      string
	Transport string
	Persist   bool
	Open      bool
	Expires   time.Time
	// BeforeID is the history entry of the configuration a rollback
	// restores (0 when it is the empty boot configuration).
	BeforeID uint64
}

// ErrConfirmPersistID is wrapped by the refusal of a commit or cancel
// that lacks the persist-id of the pending persistent confirmed commit
// (NETCONF reports it on the persist-id element).
var ErrConfirmPersistID = errors.New("persist-id does not match")

// confirmedCommit is the pending confirmed commit. Its mutex is taken
// before the core's (the commit runs under it), never after.
type confirmedCommit struct {
	mu      sync.Mutex
	pending bool
	info    PendingConfirm
	persist string
	before  *gen.Device
	timer   *time.Timer
	arms    uint64 // counts armings, so that a stale timer does nothing
	// role is the lowest role of the sessions that made or extended it:
	// the rollback puts back only what that role may change.
	role Role
}

// confirmSession makes the element's own rollback of an unconfirmed
// commit: ID 0 is not held up by client locks.
var confirmSession = &Session{ID: 0, User: "system", Role: RoleAdmin, Transport: "system"}

// ConfirmedCommit runs commit (the front end's commit through the
// pipeline, returning the history ID) under the rules of the pending
// confirmed commit, then arms, extends or ends it as c asks. It reports
// whether the commit confirmed a pending one. A refused or failed commit
// leaves the pending one as it was.
func (s *Server) ConfirmedCommit(sess *Session, c Confirm, commit func() (uint64, error)) (id uint64, confirmed bool, err error) {
	cc := &s.confirmed
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.pending {
		if err := cc.mayTouch(sess, c.PersistID, c.HasPersistID); err != nil {
			return 0, false, err
		}
	} else if c.HasPersistID {
		return 0, false, &schema.Error{Tag: schema.TagInvalidValue, Message: "no confirmed commit is pending", Err: ErrConfirmPersistID}
	}
	var before *gen.Device
	var beforeID uint64
	if !cc.pending && c.Confirmed {
		s.mu.Lock()
		before, beforeID = s.running.Load(), s.nextID
		s.mu.Unlock()
	}
	if id, err = commit(); err != nil {
		return 0, false, err
	}
	if !c.Confirmed {
		if cc.pending {
			s.log.Info("confirmed commit confirmed", "by", sess.User, "transport", sess.Transport, "session", sess.ID)
			s.endConfirmLocked()
			return id, true, nil
		}
		return id, false, nil
	}
	if !cc.pending {
		cc.pending, cc.before, cc.info.BeforeID, cc.role = true, before, beforeID, sess.Role
		// Kept on disk, so that a restart before the confirmation reverts
		// it too (RFC 6241 section 8.4.1): the core does it at boot.
		s.mu.Lock()
		err := s.store.setConfirm(confirmPending{RevertTo: beforeID, Since: time.Now().UTC()})
		s.mu.Unlock()
		if err != nil {
			s.log.Error("confirmed commit: could not record it as pending; a restart would keep it", "err", err)
		}
	}
	cc.role = min(cc.role, sess.Role)
	cc.persist = c.Persist
	cc.info.Session, cc.info.User, cc.info.Transport = sess.ID, sess.User, sess.Transport
	cc.info.Persist, cc.info.Open = c.Persist != "", c.Open
	cc.info.Expires = time.Now().Add(c.Timeout)
	if cc.timer != nil {
		cc.timer.Stop()
	}
	cc.arms++
	arm := cc.arms
	cc.timer = time.AfterFunc(c.Timeout, func() {
		cc.mu.Lock()
		defer cc.mu.Unlock()
		if cc.pending && cc.arms == arm {
			s.rollbackConfirmedLocked("confirm timeout")
		}
	})
	return id, false, nil
}

// mayTouch refuses a session that may not confirm, extend or cancel the
// pending commit.
func (cc *confirmedCommit) mayTouch(sess *Session, persistID string, has bool) error {
	p := cc.info
	who := fmt.Sprintf("session %d (user %s via %s)", p.Session, p.User, p.Transport)
	switch {
	case cc.persist != "":
		if !has || persistID != cc.persist {
			return &schema.Error{Tag: schema.TagInvalidValue, Err: ErrConfirmPersistID,
				Message: fmt.Sprintf("a persistent confirmed commit of %s is pending until %s: it is confirmed or cancelled with its persist-id", who, p.Expires.UTC().Format(time.TimeOnly))}
		}
	case p.Open:
	case p.Session != sess.ID:
		return schema.Errorf(schema.TagInUse, nil, "a confirmed commit of %s is pending until %s: only that session may commit until it confirms or cancels it", who, p.Expires.UTC().Format(time.TimeOnly))
	}
	return nil
}

// CancelConfirmed rolls the pending confirmed commit back now (NETCONF's
// cancel-commit), if sess may.
func (s *Server) CancelConfirmed(sess *Session, persistID string, hasPersistID bool) error {
	cc := &s.confirmed
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if !cc.pending {
		return schema.Errorf(schema.TagOperationFailed, nil, "no confirmed commit is pending")
	}
	if err := cc.mayTouch(sess, persistID, hasPersistID); err != nil {
		return err
	}
	return s.rollbackConfirmedLocked("cancelled by " + sess.User + " via " + sess.Transport)
}

// ConfirmSessionEnded rolls back the pending confirmed commit if it is
// bound to session id (made without persist and not open). Front ends
// call it when one of their sessions ends.
func (s *Server) ConfirmSessionEnded(id uint32) {
	cc := &s.confirmed
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.pending && cc.persist == "" && !cc.info.Open && cc.info.Session == id {
		s.rollbackConfirmedLocked("session ended")
	}
}

// PendingConfirmed describes the pending confirmed commit, if any.
func (s *Server) PendingConfirmed() (PendingConfirm, bool) {
	cc := &s.confirmed
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.info, cc.pending
}

// RollbackConfirmed puts running back as it was before the pending
// confirmed commit, if there is one: its timeout, and the element
// stopping (RFC 6241 section 8.4.1 wants it undone then).
func (s *Server) RollbackConfirmed(why string) error {
	cc := &s.confirmed
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if !cc.pending {
		return nil
	}
	return s.rollbackConfirmedLocked(why)
}

func (s *Server) rollbackConfirmedLocked(why string) error {
	cc := &s.confirmed
	before, role := cc.before, cc.role
	s.endConfirmLocked()
	_, err := s.CommitTx(confirmSession, "unconfirmed commit rolled back ("+why+")", func(tx *schema.Tx) error {
		c, err := schema.Clone(before)
		if err != nil {
			return err
		}
		// The rollback runs as the element, but puts back only what
		// the commit's author could change: an operator's unconfirmed
		// commit does not undo an admin's /system change made meanwhile.
		if role < RoleAdmin {
			cur, err := schema.Clone(&gen.Device{System: tx.Root().GetSystem()})
			if err != nil {
				return err
			}
			c.System = cur.System
		}
		return tx.Set(&gpb.Path{}, c)
	})
	if err != nil {
		s.log.Error("confirmed commit rollback failed", "why", why, "err", err)
		return err
	}
	s.log.Info("confirmed commit rolled back", "why", why)
	return nil
}

// endConfirmLocked ends the pending confirmed commit, on disk too.
func (s *Server) endConfirmLocked() {
	s.confirmed.clear()
	s.mu.Lock()
	err := s.store.clearConfirm()
	s.mu.Unlock()
	if err != nil {
		s.log.Error("confirmed commit: could not record its end", "err", err)
	}
}

func (cc *confirmedCommit) clear() {
	if cc.timer != nil {
		cc.timer.Stop()
	}
	cc.pending, cc.before, cc.persist, cc.timer, cc.info = false, nil, "", nil, PendingConfirm{}
}
