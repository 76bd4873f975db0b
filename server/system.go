package server

import (
	"sync"
	"time"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/ygot/ygot"

	"github.com/wirebeat/wirebeat/events"
	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/schema"
)

// systemSubsystem owns /system: it refuses configurations that would lock
// every administrator out and renders /system/state.
type systemSubsystem struct {
	srv     *Server
	version string
	boot    time.Time

	mu         sync.Mutex
	listen     map[string]string // front end -> address in use
	lastCommit time.Time
}

func newSystemSubsystem(srv *Server, version string) *systemSubsystem {
	return &systemSubsystem{srv: srv, version: version, boot: time.Now(), listen: map[string]string{}}
}

func (*systemSubsystem) Name() string            { return "system" }
func (*systemSubsystem) Attach(events.Sink)      {}
func (*systemSubsystem) Abort(*schema.ChangeSet) {}
func (*systemSubsystem) Apply(*schema.ChangeSet) {}
func (*systemSubsystem) Owns() []*gpb.Path {
	return []*gpb.Path{{Elem: []*gpb.PathElem{{Name: "system"}}}}
}

// Prepare refuses a configuration that has users but no administrator who
// can log in: nobody could repair it over the management interfaces.
func (*systemSubsystem) Prepare(cs *schema.ChangeSet) error {
	cfg := cs.New
	if len(usersOf(cfg)) == 0 || hasAdmin(cfg) {
		return nil
	}
	return schema.Errorf(schema.TagInvalidValue, &gpb.Path{Elem: []*gpb.PathElem{{Name: "system"}, {Name: "aaa"}, {Name: "users"}}},
		"at least one admin user with a password or an authorized key must remain")
}

// hasAdmin reports whether a configuration has an admin user who can log
// in (with a password or a key).
func hasAdmin(cfg *gen.Device) bool {
	for _, u := range usersOf(cfg) {
		if roleOf(u) == RoleAdmin && (u.Password != nil || len(u.AuthorizedKey) > 0) {
			return true
		}
	}
	return false
}

func (s *systemSubsystem) committed(t time.Time) {
	s.mu.Lock()
	s.lastCommit = t
	s.mu.Unlock()
}

// SetListening records the address a front end listens on ("" when off),
// for /system/state/listen.
func (s *Server) SetListening(frontEnd, addr string) {
	s.system.mu.Lock()
	defer s.system.mu.Unlock()
	if addr == "" {
		delete(s.system.listen, frontEnd)
	} else {
		s.system.listen[frontEnd] = addr
	}
}

func (s *systemSubsystem) State(root *gen.Device, paths []*gpb.Path) error {
	if !schema.Covers(paths, &gpb.PathElem{Name: "system"}, &gpb.PathElem{Name: "state"}) {
		return nil
	}
	st := root.GetOrCreateSystem().GetOrCreateState()
	st.Version = ygot.String(s.version)
	st.BootTime = ygot.String(rfc3339(s.boot))
	st.CurrentDatetime = ygot.String(rfc3339(time.Now()))
	st.Commits = ygot.Uint64(s.srv.commits.Load())
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.lastCommit.IsZero() {
		st.LastCommitTime = ygot.String(rfc3339(s.lastCommit))
	}
	if len(s.listen) > 0 {
		l := st.GetOrCreateListen()
		if a, ok := s.listen["netconf"]; ok {
			l.Netconf = ygot.String(a)
		}
		if a, ok := s.listen["gnmi"]; ok {
			l.Gnmi = ygot.String(a)
		}
		if a, ok := s.listen["cli"]; ok {
			l.Cli = ygot.String(a)
		}
	}
	return nil
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
