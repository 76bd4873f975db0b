package adapter

import (
	"testing"

	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/schema"
)

// Softwire sessions are refused, not silently ignored, until the DS-Lite
// data plane can carry them.
func TestSoftwireSessionsRefused(t *testing.T) {
	s := &Subsystem{}
	cfg := &gen.Device{}
	cfg.GetOrCreateBfd().GetOrCreateSoftwire().GetOrCreateSession("2001:db8::1").Role = gen.WirebeatBfd_Bfd_Softwire_Session_Role_aftr
	err := check(s, cfg)
	if e := schema.AsError(err); e == nil || e.Tag != schema.TagOperationNotSupp || schema.PathString(e.Path) != "/bfd/softwire/session[b4-address=2001:db8::1]" {
		t.Fatalf("check = %v", err)
	}
}
