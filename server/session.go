package server

import (
	"sort"
	"strconv"
	"time"

	"github.com/wirebeat/wirebeat/schema"
)

// Role is what a user may do. The order matters: each role may do what the
// ones before it may.
type Role int

// The roles of /system/aaa/users/user/role.
const (
	RoleViewer Role = iota + 1
	RoleOperator
	RoleAdmin
)

func (r Role) String() string {
	switch r {
	case RoleViewer:
		return "viewer"
	case RoleOperator:
		return "operator"
	case RoleAdmin:
		return "admin"
	}
	return "none"
}

// Session is one management session of a front end. ID 0 is the element
// itself (boot, internal commits).
type Session struct {
	ID        uint32
	User      string
	Role      Role
	Transport string // "netconf", "gnmi", "cli", "system"
	Source    string // the client's address
	Start     time.Time
}

// OpenSession registers a session of an authenticated user and gives it a
// unique ID (never 0).
func (s *Server) OpenSession(user string, role Role, transport, source string) *Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextSess++
	if s.nextSess == 0 {
		s.nextSess = 1
	}
	sess := &Session{ID: s.nextSess, User: user, Role: role, Transport: transport, Source: source, Start: time.Now()}
	s.sessions[sess.ID] = sess
	return sess
}

// CloseSession ends a session and releases its locks.
func (s *Server) CloseSession(sess *Session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closeSessionLocked(sess.ID)
}

func (s *Server) closeSessionLocked(id uint32) {
	delete(s.sessions, id)
	for ds, holder := range s.locks {
		if holder == id {
			delete(s.locks, ds)
		}
	}
}

// Sessions lists the open sessions by ID.
func (s *Server) Sessions() []Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Session, 0, len(s.sessions))
	for _, sess := range s.sessions {
		out = append(out, *sess)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Lock takes the global lock of a datastore for sess (RFC 6241 section 7.5).
// It is refused while another session holds it, and for the candidate while
// it holds uncommitted changes.
func (s *Server) Lock(sess *Session, ds Datastore) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sess.Role < RoleOperator {
		return schema.Errorf(schema.TagAccessDenied, nil, "role %s may not lock datastores", sess.Role)
	}
	if holder, ok := s.locks[ds]; ok {
		return &schema.Error{Tag: schema.TagLockDenied, Holder: holder, Message: "lock held by session " + itoa(holder)}
	}
	if ds == Candidate && s.candidate != nil {
		return &schema.Error{Tag: schema.TagLockDenied, Message: "the candidate has uncommitted changes; commit or discard them first"}
	}
	s.locks[ds] = sess.ID
	s.lockTimes[ds] = time.Now()
	return nil
}

// Unlock releases a lock sess holds.
func (s *Server) Unlock(sess *Session, ds Datastore) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	holder, ok := s.locks[ds]
	switch {
	case !ok:
		return schema.Errorf(schema.TagOperationFailed, nil, "%s is not locked", ds)
	case holder != sess.ID:
		return &schema.Error{Tag: schema.TagOperationFailed, Holder: holder, Message: "lock held by session " + itoa(holder)}
	}
	delete(s.locks, ds)
	return nil
}

// LockInfo describes a held lock.
type LockInfo struct {
	Session uint32
	Since   time.Time
}

// Locks returns the held locks.
func (s *Server) Locks() map[Datastore]LockInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[Datastore]LockInfo, len(s.locks))
	for ds, id := range s.locks {
		out[ds] = LockInfo{Session: id, Since: s.lockTimes[ds]}
	}
	return out
}

// LockHolder returns the session holding the lock of ds, 0 if none.
func (s *Server) LockHolder(ds Datastore) uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.locks[ds]
}

// KillSession ends session id on behalf of sess and releases its locks
// (RFC 6241 section 7.9). The front end owning the session is told through
// the returned session so it can close the transport.
func (s *Server) KillSession(sess *Session, id uint32) (*Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sess.Role < RoleAdmin {
		return nil, schema.Errorf(schema.TagAccessDenied, nil, "role %s may not kill sessions", sess.Role)
	}
	if id == sess.ID {
		return nil, schema.Errorf(schema.TagInvalidValue, nil, "a session cannot kill itself; close it instead")
	}
	victim, ok := s.sessions[id]
	if !ok {
		return nil, schema.Errorf(schema.TagInvalidValue, nil, "no session %d", id)
	}
	s.closeSessionLocked(id)
	return victim, nil
}

// checkWritable refuses writes by viewers and writes to a datastore another
// session has locked.
func (s *Server) checkWritable(sess *Session, ds Datastore) error {
	if sess.Role < RoleOperator {
		return schema.Errorf(schema.TagAccessDenied, nil, "role %s may not change the configuration", sess.Role)
	}
	// The element's own changes (a confirmed commit timing out) are not
	// held up by a client's lock.
	if holder, ok := s.locks[ds]; ok && holder != sess.ID && sess.ID != 0 {
		return &schema.Error{Tag: schema.TagInUse, Holder: holder, Message: string(ds) + " is locked by session " + itoa(holder)}
	}
	return nil
}

func itoa(n uint32) string { return strconv.FormatUint(uint64(n), 10) }
