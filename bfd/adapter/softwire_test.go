package adapter

import (
	"net/netip"
	"testing"

	"github.com/openconfig/ygot/ygot"

	"github.com/wirebeat/wirebeat/bfd"
	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/schema"
)

// Softwire sessions are accepted when well formed and refused with the
// path of the bad leaf otherwise; their state comes from the registered
// source.
func TestSoftwireSessions(t *testing.T) {
	s := &Subsystem{}
	ok := &gen.Device{}
	sess := ok.GetOrCreateBfd().GetOrCreateSoftwire().GetOrCreateSession("2001:db8::1")
	sess.Role = gen.WirebeatBfd_Bfd_Softwire_Session_Role_b4
	sess.AftrAddress = ygot.String("2001:db8::a")
	if err := check(s, ok); err != nil {
		t.Fatalf("valid B4 session refused: %v", err)
	}
	bad := &gen.Device{}
	bad.GetOrCreateBfd().GetOrCreateSoftwire().GetOrCreateSession("2001:db8::1").Role = gen.WirebeatBfd_Bfd_Softwire_Session_Role_b4
	err := check(s, bad)
	if e := schema.AsError(err); e == nil || schema.PathString(e.Path) != "/bfd/softwire/session[b4-address=2001:db8::1]/aftr-address" {
		t.Fatalf("B4 session without AFTR: %v", err)
	}
	SetSoftwireSessions(func() []SoftwireSession {
		return []SoftwireSession{
			{Role: "b4", B4: netip.MustParseAddr("2001:db8::1"), AFTR: netip.MustParseAddr("2001:db8::a"), Info: bfd.SessionInfo{LocalState: bfd.StateUp}},
			{Role: "aftr", Dynamic: true, B4: netip.MustParseAddr("2001:db8::2"), AFTR: netip.MustParseAddr("2001:db8::a"), Info: bfd.SessionInfo{LocalState: bfd.StateUp}},
		}
	})
	defer SetSoftwireSessions(nil)
	root := &gen.Device{}
	softwireState(root, nil)
	sw := root.GetBfd().GetSoftwire()
	if sw.GetSession("2001:db8::1").GetState().GetLocalState() != gen.WirebeatBfd_BfdState_up ||
		sw.GetDynamicSession("2001:db8::2").GetState().GetLocalState() != gen.WirebeatBfd_BfdState_up {
		t.Fatalf("softwire state not rendered: %+v", sw)
	}
}
