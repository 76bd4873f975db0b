package server

import (
	"testing"

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
