package server

import (
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

	tx := newTx(base)
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
	tx := newTx(&gen.Device{})
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

// A commit through a transaction is validated, applied and persisted like
// any other; only its cost differs.
func TestEditTxCommits(t *testing.T) {
	s := newTestServer(t, t.TempDir())
	err := s.EditTx(admin, Running, func(tx *Tx) error {
		n, err := tx.Get(p(e("bfd"), e("profiles"), e("profile", "name", "tx")), true)
		if err != nil {
			return err
		}
		n.(*gen.WirebeatBfd_Bfd_Profiles_Profile).DetectionMultiplier = ygot.Uint8(0)
		return nil
	})
	if e := AsError(err); e == nil || PathString(e.Path) != "/bfd/profiles/profile[name=tx]/detection-multiplier" {
		t.Fatalf("invalid edit through a transaction = %v", err)
	}
	if s.Running().GetBfd().GetProfiles().GetProfile("tx") != nil {
		t.Fatal("refused transaction changed running")
	}
	if err := s.EditTx(admin, Running, func(tx *Tx) error {
		n, err := tx.Get(p(e("bfd"), e("profiles"), e("profile", "name", "tx")), true)
		if err != nil {
			return err
		}
		n.(*gen.WirebeatBfd_Bfd_Profiles_Profile).DetectionMultiplier = ygot.Uint8(4)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := s.Running().GetBfd().GetProfiles().GetProfile("tx").GetDetectionMultiplier(); got != 4 {
		t.Errorf("multiplier = %d", got)
	}
}
