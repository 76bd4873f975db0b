package server

import (
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/wirebeat/wirebeat/events"
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

	rev *revocation // nil for sessions not opened by the server
}

// revocation ends a session from the core's side: its user was deleted or
// given another role, or it was killed.
type revocation struct {
	once sync.Once
	done chan struct{}
	why  string
}

// Done is closed when the core revokes the session; the front end then
// closes it. It is nil (never ready) for sessions the server did not open.
func (sess *Session) Done() <-chan struct{} {
	if sess.rev == nil {
		return nil
	}
	return sess.rev.done
}

// Revoked says why Done was closed.
func (sess *Session) Revoked() string {
	if sess.rev == nil {
		return ""
	}
	select {
	case <-sess.rev.done:
		return sess.rev.why
	default:
		return ""
	}
}

func (sess *Session) revoke(why string) {
	if sess.rev == nil {
		return
	}
	sess.rev.once.Do(func() {
		sess.rev.why = why
		close(sess.rev.done)
	})
}

// OpenSession registers a session of an authenticated user and gives it a
// unique ID (never 0), without the per-user limits: front ends call
// StartSession.
func (s *Server) OpenSession(user string, role Role, transport, source string) *Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.openSessionLocked(user, role, transport, source)
}

func (s *Server) openSessionLocked(user string, role Role, transport, source string) *Session {
	s.nextSess++
	if s.nextSess == 0 {
		s.nextSess = 1
	}
	sess := &Session{ID: s.nextSess, User: user, Role: role, Transport: transport, Source: source, Start: time.Now(),
		rev: &revocation{done: make(chan struct{})}}
	s.sessions[sess.ID] = sess
	s.quota.sessions[user]++
	return sess
}

// SessionRefused is a session refused by the limits of Limits.
type SessionRefused struct{ Message string }

func (e *SessionRefused) Error() string { return e.Message }

// StartSession opens a session as OpenSession does, within the limits: at
// most Limits.SessionsPerUser for a user who is not an admin, and at most
// Limits.MaxSessions in all, of which Limits.AdminSessions only admins may
// take. The role given must be the user's role in running.
func (s *Server) StartSession(user string, role Role, transport, source string) (*Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	lim := s.limits
	total := len(s.sessions)
	switch {
	case total >= lim.MaxSessions:
		return nil, &SessionRefused{fmt.Sprintf("too many sessions (%d open, the limit is %d)", total, lim.MaxSessions)}
	case role < RoleAdmin && total >= lim.MaxSessions-lim.AdminSessions:
		return nil, &SessionRefused{fmt.Sprintf("too many sessions: the last %d of %d are kept for admins", lim.AdminSessions, lim.MaxSessions)}
	case role < RoleAdmin && s.quota.sessions[user] >= lim.SessionsPerUser:
		return nil, &SessionRefused{fmt.Sprintf("user %s has %d sessions open, the limit per user", BoundedName(user), lim.SessionsPerUser)}
	}
	return s.openSessionLocked(user, role, transport, source), nil
}

// AcquireSubscription counts one more event subscription of sess's user
// against Limits.SubscriptionsPerUser (admins are not limited); release
// gives it back.
func (s *Server) AcquireSubscription(sess *Session) (release func(), err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sess.Role < RoleAdmin && s.quota.subscriptions[sess.User] >= s.limits.SubscriptionsPerUser {
		return nil, &SessionRefused{fmt.Sprintf("user %s has %d subscriptions, the limit per user", BoundedName(sess.User), s.limits.SubscriptionsPerUser)}
	}
	s.quota.subscriptions[sess.User]++
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.quota.subscriptions[sess.User]--; s.quota.subscriptions[sess.User] <= 0 {
				delete(s.quota.subscriptions, sess.User)
			}
		})
	}, nil
}

// quotas counts what each user holds.
type quotas struct {
	sessions      map[string]int
	subscriptions map[string]int
}

func newQuotas() quotas {
	return quotas{sessions: map[string]int{}, subscriptions: map[string]int{}}
}

// CheckSession reports whether sess may still act: its user exists in
// running with the role the session was opened with. A session whose user
// was deleted or given another role is revoked; the front end closes it.
func (s *Server) CheckSession(sess *Session) error {
	if sess.ID == 0 || sess.rev == nil {
		return nil
	}
	if why := s.staleReason(sess); why != "" {
		sess.revoke(why)
	}
	if why := sess.Revoked(); why != "" {
		return schema.Errorf(schema.TagAccessDenied, nil, "session %d ended: %s", sess.ID, why)
	}
	return nil
}

func (s *Server) staleReason(sess *Session) string {
	u := s.Running().GetSystem().GetAaa().GetUsers().GetUser(sess.User)
	switch {
	case u == nil:
		return "user " + sess.User + " was deleted"
	case roleOf(u) != sess.Role:
		return "the role of " + sess.User + " changed to " + roleOf(u).String()
	}
	return ""
}

// watchUsers revokes the sessions of users deleted or given another role,
// after every commit.
func (s *Server) watchUsers() {
	for {
		sub := s.hub.subscribe(64, func(e *events.Event) bool { return e.Kind == events.ConfigChange }, true)
		for e := range sub.C {
			s.auditCommit(e.Commit)
			s.revokeStale()
		}
		if sub.Err() != ErrSlowConsumer {
			return
		}
		s.revokeStale()
	}
}

func (s *Server) revokeStale() {
	s.mu.Lock()
	var stale []*Session
	for _, sess := range s.sessions {
		stale = append(stale, sess)
	}
	s.mu.Unlock()
	for _, sess := range stale {
		if why := s.staleReason(sess); why != "" {
			sess.revoke(why)
			s.log.Info("session revoked", "session", sess.ID, "user", sess.User, "why", why)
		}
	}
}

// CloseSession ends a session and releases its locks.
func (s *Server) CloseSession(sess *Session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closeSessionLocked(sess.ID)
}

func (s *Server) closeSessionLocked(id uint32) {
	if sess, ok := s.sessions[id]; ok {
		if s.quota.sessions[sess.User]--; s.quota.sessions[sess.User] <= 0 {
			delete(s.quota.sessions, sess.User)
		}
		sess.revoke("closed")
	}
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
	if err := s.Exec(sess, "ietf-netconf", "lock"); err != nil {
		return err
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
	if err := s.Exec(sess, "ietf-netconf", "kill-session"); err != nil {
		return nil, err
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

// checkWritable refuses writes to a datastore another
// session has locked.
func (s *Server) checkWritable(sess *Session, ds Datastore) error {
	// What sess may change is NACM's to say, per changed path (nacm.go).
	// The element's own changes (a confirmed commit timing out) are not
	// held up by a client's lock.
	if holder, ok := s.locks[ds]; ok && holder != sess.ID && sess.ID != 0 {
		return &schema.Error{Tag: schema.TagInUse, Holder: holder, Message: string(ds) + " is locked by session " + itoa(holder)}
	}
	return nil
}

func itoa(n uint32) string { return strconv.FormatUint(uint64(n), 10) }

// The audit log: one structured line per commit and per denied
// operation, with who, how and from where; the denials are counted
// (RFC 8341's denied-operations and denied-data-writes).

// Denials counts the operations and data writes refused by the roles.
type Denials struct {
	Operations, DataWrites uint64
}

// Denials returns the counters of denied operations and writes.
func (s *Server) Denials() Denials {
	return Denials{Operations: s.deniedOps.Load(), DataWrites: s.deniedWrites.Load()}
}

// deniedOp counts and logs an operation refused by sess's role; it
// returns err.
func (s *Server) deniedOp(sess *Session, op string, err error) error {
	s.deniedOps.Add(1)
	s.log.Warn("audit: denied", "operation", op, "user", sess.User, "session", sess.ID, "transport", sess.Transport, "source", sess.Source, "reason", err.Error())
	return err
}

// deniedWrite counts and logs a change refused by sess's role, when err
// is such a refusal; it returns err.
func (s *Server) deniedWrite(sess *Session, err error) error {
	if e := schema.AsError(err); e != nil && e.Tag == schema.TagAccessDenied {
		s.deniedWrites.Add(1)
		s.log.Warn("audit: denied", "operation", "write", "user", sess.User, "session", sess.ID, "transport", sess.Transport, "source", sess.Source,
			"path", schema.PathString(e.Path), "reason", e.Message)
	}
	return err
}

// auditSummary bounds the paths an audit line names.
const auditSummary = 5

// auditCommit logs a commit published on the hub.
func (s *Server) auditCommit(c *events.Commit) {
	if c == nil {
		return
	}
	source := ""
	s.mu.Lock()
	if sess, ok := s.sessions[c.SessionID]; ok {
		source = sess.Source
	}
	s.mu.Unlock()
	paths := make([]string, 0, auditSummary)
	for i, ed := range c.Edits {
		if i == auditSummary {
			break
		}
		paths = append(paths, ed.Operation+" "+schema.PathString(ed.Path))
	}
	s.log.Info("audit: commit", "id", c.ID, "user", c.User, "session", c.SessionID, "transport", c.Transport, "source", source,
		"changes", len(c.Edits), "truncated", c.Truncated || len(c.Edits) > auditSummary, "summary", paths)
}
