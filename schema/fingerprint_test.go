package schema

import (
	"testing"

	"github.com/openconfig/ygot/ygot"

	"github.com/wirebeat/wirebeat/gen"
)

func TestFingerprint(t *testing.T) {
	a, b := &gen.Device{}, &gen.Device{}
	addBindings(a, 500)
	addBindings(b, 500)
	if Fingerprint(a) != Fingerprint(b) {
		t.Fatal("equal trees (maps built separately) differ")
	}
	b.GetSoftwire().GetLwaftr().GetBindingTable().GetSoftwire("10.0.0.3", 2).GetPortSet().PsidLength = ygot.Uint8(7)
	if Fingerprint(a) == Fingerprint(b) {
		t.Fatal("a write deep in a list entry left the fingerprint unchanged")
	}
}

// What the seal of test builds costs per commit with 100,000 bindings.
func BenchmarkFingerprint100k(b *testing.B) {
	root := &gen.Device{}
	addBindings(root, 100_000)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		Fingerprint(root)
	}
}
