package schema

import (
	"fmt"
	"testing"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/ygot/ygot"

	"github.com/wirebeat/wirebeat/gen"
)

func p(elems ...*gpb.PathElem) *gpb.Path { return &gpb.Path{Elem: elems} }
func e(name string, kv ...string) *gpb.PathElem {
	el := &gpb.PathElem{Name: name}
	if len(kv) > 0 {
		el.Key = map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			el.Key[kv[i]] = kv[i+1]
		}
	}
	return el
}

// addBindings adds n lwAFTR softwires, 64 port sets per IPv4 address.
func addBindings(root *gen.Device, n int) {
	bt := root.GetOrCreateSoftwire().GetOrCreateLwaftr().GetOrCreateBindingTable()
	for i := 0; i < n; i++ {
		addr := i / 64
		v4 := fmt.Sprintf("10.%d.%d.%d", addr>>16&255, addr>>8&255, addr&255)
		sw := bt.GetOrCreateSoftwire(v4, uint16(i%64))
		sw.B4Ipv6 = ygot.String(fmt.Sprintf("2001:db8:%x:%x::1", i>>16, i&0xffff))
		sw.BrAddress = ygot.String("2001:db8::1")
		sw.GetOrCreatePortSet().PsidLength = ygot.Uint8(6)
	}
}

func bindingPath(v4, psid string) *gpb.Path {
	return p(e("softwire"), e("lwaftr"), e("binding-table"), e("softwire", "ipv4", v4, "psid", psid))
}

// A transaction copies what it touches and shares the rest; the tree it
// started from is never modified, whatever the edit.
func TestTxCopiesOnWrite(t *testing.T) {
	base := &gen.Device{}
	addBindings(base, 1000)
	base.GetOrCreateBfd().GetOrCreateProfiles().GetOrCreateProfile("p").DetectionMultiplier = ygot.Uint8(3)
	before, _ := EncodeJSON(base)

	tx := NewTx(base)
	n, err := tx.Get(bindingPath("10.0.0.1", "5"), false)
	if err != nil || n == nil {
		t.Fatalf("Get existing binding: %v %v", n, err)
	}
	sw := n.(*gen.WirebeatSoftwire_Softwire_Lwaftr_BindingTable_Softwire)
	sw.B4Ipv6 = ygot.String("2001:db8::99")
	sw.PortSet.PsidLength = ygot.Uint8(8) // a nested container of the entry
	if _, err := tx.Get(bindingPath("192.0.2.1", "7"), true); err != nil {
		t.Fatal(err)
	}
	if ok, err := tx.Delete(bindingPath("10.0.0.2", "3")); !ok || err != nil {
		t.Fatalf("Delete = %v, %v", ok, err)
	}
	if ok, _ := tx.Delete(bindingPath("10.0.0.2", "3")); ok {
		t.Error("second Delete reported the entry present")
	}
	prof, _ := tx.Get(p(e("bfd"), e("profiles"), e("profile", "name", "p")), false)
	prof.(*gen.WirebeatBfd_Bfd_Profiles_Profile).DetectionMultiplier = ygot.Uint8(9)

	after, _ := EncodeJSON(base)
	if string(before) != string(after) {
		t.Fatal("the base tree changed under a transaction")
	}
	got := tx.Root().GetSoftwire().GetLwaftr().GetBindingTable()
	if len(got.Softwire) != 1000 {
		t.Errorf("%d bindings, want 1000 (one added, one deleted)", len(got.Softwire))
	}
	if got.GetSoftwire("10.0.0.1", 5).GetB4Ipv6() != "2001:db8::99" || got.GetSoftwire("10.0.0.1", 5).GetPortSet().GetPsidLength() != 8 {
		t.Error("edit of the binding lost")
	}
	if e := got.GetSoftwire("192.0.2.1", 7); e == nil || e.GetIpv4() != "192.0.2.1" || e.GetPsid() != 7 {
		t.Errorf("created entry = %+v, want its key leaves set", e)
	}
	// Untouched entries are shared, not copied.
	want := base.GetSoftwire().GetLwaftr().GetBindingTable().GetSoftwire("10.0.0.3", 1)
	if got.GetSoftwire("10.0.0.3", 1) != want {
		t.Error("an untouched entry was copied")
	}
	if tx.Root().GetSystem() != base.GetSystem() {
		t.Error("an untouched top container was copied")
	}
}

func TestTxErrors(t *testing.T) {
	tx := NewTx(&gen.Device{})
	cases := []struct {
		path *gpb.Path
		tag  Tag
	}{
		{p(e("bfd"), e("nonsense")), TagUnknownElement},
		{p(e("bfd"), e("profiles"), e("profile")), TagMissingElement},
		{bindingPath("192.0.2.1", "not-a-number"), TagInvalidValue},
		{p(e("system"), e("state")), TagInvalidValue},
		{p(e("system"), e("hostname")), TagInvalidValue},
	}
	for _, c := range cases {
		_, err := tx.Get(c.path, true)
		if e := AsError(err); e == nil || e.Tag != c.tag {
			t.Errorf("Get(%s) = %v, want %s", PathString(c.path), err, c.tag)
		}
	}
}
