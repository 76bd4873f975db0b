package server

import (
	"testing"
	"time"

	"github.com/openconfig/ygot/ygot"

	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/schema"
)

func setHostname(s *Server, sess *Session, name string) func() (uint64, error) {
	return func() (uint64, error) {
		return s.CommitTx(sess, "", func(tx *schema.Tx) error {
			n, err := tx.Get(p(e("system")), true)
			if err != nil {
				return err
			}
			n.(*gen.WirebeatSystem_System).Hostname = ygot.String(name)
			return nil
		})
	}
}

func waitHostname(t *testing.T, s *Server, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.Running().GetSystem().GetHostname() != want {
		if time.Now().After(deadline) {
			t.Fatalf("hostname %q, want %q", s.Running().GetSystem().GetHostname(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// An extended confirmed commit is not rolled back by the timer of the
// first window; it is rolled back to before the first commit when the
// last window ends, with a history entry saying why.
func TestConfirmedCommitExtendAndTimeout(t *testing.T) {
	s := newTestServer(t, t.TempDir())
	if _, _, err := s.ConfirmedCommit(admin, Confirm{}, setHostname(s, admin, "start")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.ConfirmedCommit(admin, Confirm{Confirmed: true, Timeout: 100 * time.Millisecond}, setHostname(s, admin, "one")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.ConfirmedCommit(admin, Confirm{Confirmed: true, Timeout: 700 * time.Millisecond}, setHostname(s, admin, "two")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if h := s.Running().GetSystem().GetHostname(); h != "two" {
		t.Fatalf("rolled back by the first window's timer: %q", h)
	}
	waitHostname(t, s, "start")
	hist, _ := s.History()
	if hist[0].Comment != "unconfirmed commit rolled back (confirm timeout)" || hist[0].User != "system" {
		t.Fatalf("history of the rollback: %+v", hist[0])
	}
	if _, pending := s.PendingConfirmed(); pending {
		t.Fatal("still pending after the rollback")
	}
}

// A session-bound one refuses other sessions (nothing changes) and is
// rolled back when its session ends; an open one outlives its session and
// any session's commit confirms it.
func TestConfirmedCommitOwnership(t *testing.T) {
	s := newTestServer(t, t.TempDir())
	other := &Session{ID: 2, User: "other", Role: RoleAdmin, Transport: "cli"}
	if _, _, err := s.ConfirmedCommit(admin, Confirm{Confirmed: true, Timeout: time.Minute}, setHostname(s, admin, "bound")); err != nil {
		t.Fatal(err)
	}
	before := s.Running()
	if _, _, err := s.ConfirmedCommit(other, Confirm{}, setHostname(s, other, "intruder")); schema.AsError(err).Tag != schema.TagInUse {
		t.Fatalf("other session's commit: %v", err)
	}
	if s.Running() != before {
		t.Fatal("a refused commit changed running")
	}
	if err := s.CancelConfirmed(other, "", false); schema.AsError(err).Tag != schema.TagInUse {
		t.Fatalf("other session's cancel: %v", err)
	}
	s.ConfirmSessionEnded(other.ID)
	if s.Running().GetSystem().GetHostname() != "bound" {
		t.Fatal("another session's end rolled it back")
	}
	s.ConfirmSessionEnded(admin.ID)
	if s.Running().GetSystem().GetHostname() == "bound" {
		t.Fatal("not rolled back when its session ended")
	}

	if _, _, err := s.ConfirmedCommit(admin, Confirm{Confirmed: true, Timeout: time.Minute, Open: true}, setHostname(s, admin, "open")); err != nil {
		t.Fatal(err)
	}
	s.ConfirmSessionEnded(admin.ID)
	if _, confirmed, err := s.ConfirmedCommit(other, Confirm{}, setHostname(s, other, "confirmer")); err != nil || !confirmed {
		t.Fatalf("other session's commit of an open one: %v %v", confirmed, err)
	}
	if _, pending := s.PendingConfirmed(); pending {
		t.Fatal("still pending")
	}
	// The element stopping rolls back one still pending.
	if _, _, err := s.ConfirmedCommit(admin, Confirm{Confirmed: true, Timeout: time.Minute, Persist: "t"}, setHostname(s, admin, "persist")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.ConfirmedCommit(other, Confirm{PersistID: "wrong", HasPersistID: true}, setHostname(s, other, "x")); err == nil {
		t.Fatal("wrong persist-id accepted")
	}
	if err := s.RollbackConfirmed("element stopping"); err != nil || s.Running().GetSystem().GetHostname() != "confirmer" {
		t.Fatalf("stop: %v %q", err, s.Running().GetSystem().GetHostname())
	}
}
