package schema

import (
	"os"
	"reflect"
	"testing"

	"github.com/openconfig/ygot/ygot"

	"github.com/wirebeat/wirebeat/gen"
)

// Replaying the encoded changes between two trees onto the first gives the
// second: creates, deletes, leaf edits and leaf-lists, in every module.
func TestEncodedChangesReplay(t *testing.T) {
	src, err := os.ReadFile("../yang/testdata/full-config.json")
	if err != nil {
		t.Fatal(err)
	}
	full, err := DecodeJSON(src)
	if err != nil {
		t.Fatal(err)
	}
	stripState(full)
	old := &gen.Device{}
	addBindings(old, 100)
	old.GetOrCreateSystem().Hostname = ygot.String("before")
	old.GetOrCreateBfd().GetOrCreateProfiles().GetOrCreateProfile("gone").DetectionMultiplier = ygot.Uint8(3)
	next, _ := Clone(full)
	addBindings(next, 50)
	next.GetSoftwire().GetLwaftr().GetBindingTable().GetSoftwire("10.0.0.0", 3).B4Ipv6 = ygot.String("2001:db8::77")
	for _, c := range []struct {
		name     string
		old, new *gen.Device
	}{{"from empty", &gen.Device{}, full}, {"to empty", full, &gen.Device{}}, {"mixed", old, next}} {
		changes := Changes(c.old, c.new, nil)
		data, err := EncodeChanges(changes)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		tx := NewTx(c.old)
		if err := ApplyEncodedChanges(tx, data); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got, _ := EncodeJSON(tx.Root())
		want, _ := EncodeJSON(c.new)
		if string(got) != string(want) {
			t.Errorf("%s: replay gives\n%s\nwant\n%s", c.name, got, want)
		}
		if left := Changes(tx.Root(), c.new, nil); len(left) != 0 {
			t.Errorf("%s: %d changes left after replay, first %v", c.name, len(left), left[0])
		}
	}
}

// stripState removes config false nodes, which commits never carry.
func stripState(root *gen.Device) {
	js, _ := EncodeMatchJSON(Match{Schema: rootSchema(), Value: reflect.ValueOf(root)}, true, ConfigOnly)
	c, err := DecodeJSON(js)
	if err != nil {
		panic(err)
	}
	*root = *c
}
