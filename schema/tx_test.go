package schema

import (
	"fmt"
	"reflect"
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

// With the record of a transaction, Changes compares the entries it
// touched and nothing else: an entry planted in the new table behind the
// transaction's back is not seen, which shows the rest of the table was
// not scanned. Without the record it is.
func TestChangesLookOnlyAtTouchedEntries(t *testing.T) {
	base := &gen.Device{}
	addBindings(base, 10_000)
	tx := NewTx(base)
	n, err := tx.Get(bindingPath("10.0.0.1", "5"), false)
	if err != nil {
		t.Fatal(err)
	}
	n.(*gen.WirebeatSoftwire_Softwire_Lwaftr_BindingTable_Softwire).B4Ipv6 = ygot.String("2001:db8::99")
	ch := Changes(base, tx.Root(), tx.Touched())
	if len(ch) != 1 || PathString(ch[0].Path) != "/softwire/lwaftr/binding-table/softwire[ipv4=10.0.0.1][psid=5]/b4-ipv6" || ch[0].Op != OpReplace {
		t.Fatalf("changes = %+v", ch)
	}
	bt := tx.Root().GetSoftwire().GetLwaftr().GetBindingTable()
	planted := *bt.GetSoftwire("10.0.0.3", 1)
	planted.B4Ipv6 = ygot.String("2001:db8::77")
	bt.Softwire[gen.WirebeatSoftwire_Softwire_Lwaftr_BindingTable_Softwire_Key{Ipv4: "10.0.0.3", Psid: 1}] = &planted
	if got := Changes(base, tx.Root(), tx.Touched()); len(got) != 1 {
		t.Fatalf("with the record: %d changes, want 1 (the table was scanned)", len(got))
	}
	if got := Changes(base, tx.Root(), nil); len(got) != 2 {
		t.Fatalf("without the record: %d changes, want 2", len(got))
	}
	// A record made against another tree is not used.
	if got := Changes(&gen.Device{}, tx.Root(), tx.Touched()); len(got) != 10_000 {
		t.Fatalf("record of another base used: %d changes", len(got))
	}
}

// A candidate edited by several transactions keeps one record relative
// to running.
func TestTouchedCarriesAcrossTransactions(t *testing.T) {
	base := &gen.Device{}
	addBindings(base, 1000)
	tx1 := NewTx(base)
	if _, err := tx1.Delete(bindingPath("10.0.0.2", "3")); err != nil {
		t.Fatal(err)
	}
	tx2 := NewTxAfter(tx1.Root(), tx1.Touched())
	n, err := tx2.Get(bindingPath("10.0.0.1", "5"), false)
	if err != nil {
		t.Fatal(err)
	}
	n.(*gen.WirebeatSoftwire_Softwire_Lwaftr_BindingTable_Softwire).BrAddress = ygot.String("2001:db8::2")
	ch := Changes(base, tx2.Root(), tx2.Touched())
	if len(ch) != 2 {
		t.Fatalf("changes = %+v, want the delete of tx1 and the edit of tx2", ch)
	}
}

// min-elements and max-elements are enforced (the SFC module bounds the
// service functions of an SF map), with the RFC 7950 error-app-tags.
func TestMinMaxElements(t *testing.T) {
	cfg := &gen.Device{}
	sfs := cfg.GetOrCreateSfc().GetOrCreateServiceFunctions()
	for i := 0; i < 300; i++ {
		sfs.GetOrCreateServiceFunction(fmt.Sprintf("sf-%d", i))
	}
	m := cfg.GetOrCreateSfc().GetOrCreateSfMaps().GetOrCreateSfMap(7)
	la := rootSchema().Dir["sfc"].Dir["sf-maps"].Dir["sf-map"].Dir["service-function"].ListAttr
	lo, hi := int(la.MinElements), int(la.MaxElements)
	if lo < 1 || hi > 290 {
		t.Fatalf("the SF map's bounds changed: %d..%d", lo, hi)
	}
	for _, c := range []struct {
		n      int
		appTag string
	}{{lo - 1, "too-few-elements"}, {lo, ""}, {hi, ""}, {hi + 1, "too-many-elements"}} {
		m.ServiceFunction = nil
		for i := 0; i < c.n; i++ {
			m.ServiceFunction = append(m.ServiceFunction, fmt.Sprintf("sf-%d", i))
		}
		err := Validate(cfg, nil, nil)
		e := AsError(err)
		switch {
		case c.appTag == "" && err != nil && (e.AppTag == "too-few-elements" || e.AppTag == "too-many-elements"):
			t.Errorf("%d service functions refused: %v", c.n, err)
		case c.appTag != "" && (e == nil || e.AppTag != c.appTag || e.Tag != TagOperationFailed ||
			PathString(e.Path) != "/sfc/sf-maps/sf-map[index=7]/service-function"):
			t.Errorf("%d service functions: %v, want %s at the leaf-list", c.n, err, c.appTag)
		}
	}
}

// A transaction that deletes a list whole (here with the container that
// holds it) and then adds entries to it has no key recorded for the
// entries it dropped: the diff with Touched must still list them, as the
// one without does. Before the fix it listed the new entry only, and an
// engine never heard that the others were gone.
func TestTouchedWholeListDeleteThenCreate(t *testing.T) {
	base := &gen.Device{}
	bt := base.GetOrCreateSoftwire().GetOrCreateLwaftr().GetOrCreateBindingTable()
	bt.GetOrCreateSoftwire("10.0.0.1", 1)
	bt.GetOrCreateSoftwire("10.0.0.2", 1)
	tx := NewTx(base)
	p := &gpb.Path{Elem: []*gpb.PathElem{{Name: "softwire"}, {Name: "lwaftr"}, {Name: "binding-table"}}}
	if _, err := tx.Delete(p); err != nil {
		t.Fatal(err)
	}
	ep := &gpb.Path{Elem: append(append([]*gpb.PathElem{}, p.Elem...), &gpb.PathElem{Name: "softwire", Key: map[string]string{"ipv4": "10.0.0.3", "psid": "1"}})}
	if _, err := tx.Get(ep, true); err != nil {
		t.Fatal(err)
	}
	with := Changes(base, tx.Root(), tx.Touched())
	without := Changes(base, tx.Root(), nil)
	if a, b := changeTexts(with), changeTexts(without); !reflect.DeepEqual(a, b) || len(a) != 3 {
		t.Errorf("with Touched:\n%v\nwithout:\n%v", a, b)
	}
}

// Reserve sizes an empty list's map and leaves a list with entries alone;
// the entries a transaction then adds are those Changes reports.
func TestTxReserve(t *testing.T) {
	base := &gen.Device{}
	tx := NewTx(base)
	bt, err := tx.Get(p(e("softwire"), e("lwaftr"), e("binding-table")), true)
	if err != nil {
		t.Fatal(err)
	}
	btSchema := rootSchema().Dir["softwire"].Dir["lwaftr"].Dir["binding-table"]
	tx.Reserve(bt, btSchema, "softwire", 3000)
	m := bt.(*gen.WirebeatSoftwire_Softwire_Lwaftr_BindingTable).Softwire
	if m == nil || len(m) != 0 {
		t.Fatalf("Reserve made %v, want an empty map", m)
	}
	for i := range 3 {
		if _, _, err := tx.TouchChild(bt, btSchema, e("softwire", "ipv4", "192.0.2.1", "psid", fmt.Sprint(i)), true); err != nil {
			t.Fatal(err)
		}
	}
	tx.Reserve(bt, btSchema, "softwire", 10) // entries present: nothing happens
	tx.Reserve(bt, btSchema, "no-such-list", 10)
	if got := bt.(*gen.WirebeatSoftwire_Softwire_Lwaftr_BindingTable).Softwire; reflect.ValueOf(got).Pointer() != reflect.ValueOf(m).Pointer() || len(got) != 3 {
		t.Fatalf("Reserve replaced the map or lost entries: %d entries", len(got))
	}
	if ch := Changes(base, tx.Root(), tx.Touched()); len(ch) != 3 {
		t.Fatalf("Changes after Reserve: %d, want 3 creates: %v", len(ch), ch)
	}
}

// The address memo of Validate spares only texts that passed: among
// entries sharing a valid br-address, one with a bad one is still refused.
func TestValidateAddressMemo(t *testing.T) {
	root := &gen.Device{}
	addBindings(root, 200)
	if err := Validate(root, nil, nil); err != nil {
		t.Fatalf("valid bindings: %v", err)
	}
	sw := root.GetSoftwire().GetLwaftr().GetBindingTable().GetSoftwire("10.0.0.1", 7)
	sw.BrAddress = ygot.String("2001:db8::1::2")
	if err := Validate(root, nil, nil); err == nil {
		t.Fatal("a bad br-address among 199 good ones passed")
	}
	var m addrMemo
	leaf := rootSchema().Dir["softwire"]
	if m.known(leaf, "2001:db8::1") {
		t.Fatal("an empty memo knows a text")
	}
	m.remember(leaf, "2001:db8::1")
	if !m.known(leaf, "2001:db8::1") || m.known(leaf, "2001:db8::2") || (*addrMemo)(nil).known(leaf, "x") {
		t.Fatal("memo answers wrongly")
	}
}

// Canonicalize's memo spares only texts already canonical: among entries
// sharing a canonical br-address, one written otherwise is still rewritten.
func TestCanonicalizeAddressMemo(t *testing.T) {
	root := &gen.Device{}
	addBindings(root, 200)
	sw := root.GetSoftwire().GetLwaftr().GetBindingTable().GetSoftwire("10.0.0.1", 7)
	sw.BrAddress = ygot.String("2001:DB8:0::1")
	if err := Canonicalize(root, nil, nil); err != nil {
		t.Fatal(err)
	}
	for k, e := range root.GetSoftwire().GetLwaftr().GetBindingTable().Softwire {
		if e.GetBrAddress() != "2001:db8::1" {
			t.Fatalf("%v: br-address %q after Canonicalize", k, e.GetBrAddress())
		}
	}
}
