package server

import (
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openconfig/ygot/ygot"

	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/schema"
)

// TestOperatorCannotPublishAdminsStagedSystemEdit: the candidate is
// shared; an operator's commit of a candidate holding an admin's staged
// /system edit is refused with access-denied and changes nothing; the
// admin's own commit then publishes it (issue 16).
func TestOperatorCannotPublishAdminsStagedSystemEdit(t *testing.T) {
	s := newTestServer(t, t.TempDir())
	admin := s.OpenSession("root2", RoleAdmin, "test", "")
	op := s.OpenSession("olga", RoleOperator, "test", "")
	before := s.Running().GetSystem().GetHostname()
	if err := s.Edit(admin, Candidate, func(root *gen.Device) error {
		root.GetOrCreateSystem().Hostname = ygot.String("staged-by-admin")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	err := s.Commit(op)
	if e := schema.AsError(err); e == nil || e.Tag != schema.TagAccessDenied || schema.PathString(e.Path) != "/system/hostname" {
		t.Fatalf("operator commit of an admin's /system edit = %v, want access-denied at /system/hostname", err)
	}
	if got := s.Running().GetSystem().GetHostname(); got != before {
		t.Errorf("running hostname %q after the refused commit", got)
	}
	if !s.CandidateModified() {
		t.Error("the refused commit dropped the candidate")
	}
	if err := s.Commit(admin); err != nil {
		t.Fatal(err)
	}
	if got := s.Running().GetSystem().GetHostname(); got != "staged-by-admin" {
		t.Errorf("admin commit: hostname %q", got)
	}
	// An operator commit of an operator's own edit goes through.
	if err := s.Edit(op, Candidate, setProfile("p", 4)); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(op); err != nil {
		t.Errorf("operator commit of a BFD edit: %v", err)
	}
}

// syncBuffer is a log destination safe for the hub's goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *syncBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// TestAuditLog: a commit gives one audit line naming who, how, from
// where and what; a denied write and a denied operation give one each and
// are counted.
func TestAuditLog(t *testing.T) {
	var logs syncBuffer
	s, err := New(Options{DataDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(&logs, nil)), Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	op := s.OpenSession("olga", RoleOperator, "netconf", "192.0.2.7")
	viewer := s.OpenSession("vic", RoleViewer, "gnmi", "192.0.2.8")
	if err := s.Edit(op, Running, setProfile("audited", 3)); err != nil {
		t.Fatal(err)
	}
	if err := s.Edit(op, Running, func(root *gen.Device) error {
		root.GetOrCreateSystem().Hostname = ygot.String("nope")
		return nil
	}); err == nil {
		t.Fatal("operator changed /system")
	}
	if err := s.Edit(viewer, Running, setProfile("v", 3)); err == nil {
		t.Fatal("viewer wrote")
	}
	if _, err := s.KillSession(op, viewer.ID); err == nil {
		t.Fatal("operator killed a session")
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "audit: commit") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	out := logs.String()
	for _, want := range []string{
		`msg="audit: commit"`, "user=olga", "transport=netconf", "source=192.0.2.7", "/bfd/profiles/profile[name=audited]",
		`msg="audit: denied" operation=write user=olga`, "path=/system/hostname",
		`msg="audit: denied" operation=write user=vic`, "source=192.0.2.8",
		`msg="audit: denied" operation=kill-session user=olga`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("audit log lacks %q:\n%s", want, out)
		}
	}
	if d := s.Denials(); d.DataWrites != 2 || d.Operations != 1 {
		t.Errorf("denials %+v, want 2 writes and 1 operation", d)
	}
}
