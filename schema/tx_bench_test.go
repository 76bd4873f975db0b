package schema

import (
	"testing"

	"github.com/openconfig/ygot/ygot"

	"github.com/wirebeat/wirebeat/gen"
)

// A one-entry edit of the binding table in a transaction next to 0, 100,000
// and 1,000,000 bindings: the first write into the list copies its map (copy
// on write of the whole list), so this measures what that copy costs beside
// the walk to the entry and the change list of the commit.
func BenchmarkTxOneEntryEdit(b *testing.B) {
	for _, size := range []struct {
		name string
		n    int
	}{{"1", 1}, {"100k", 100_000}, {"1M", 1_000_000}} {
		b.Run("bindings="+size.name, func(b *testing.B) {
			base := &gen.Device{}
			addBindings(base, size.n)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				tx := NewTx(base)
				v, err := tx.Get(bindingPath("10.0.0.0", "0"), false)
				if err != nil || v == nil {
					b.Fatalf("entry: %v %v", v, err)
				}
				v.(*gen.WirebeatSoftwire_Softwire_Lwaftr_BindingTable_Softwire).BrAddress = ygot.String("2001:db8::2")
				if ch := Changes(base, tx.Root(), tx.Touched()); len(ch) != 1 {
					b.Fatalf("%d changes, want 1", len(ch))
				}
			}
		})
	}
}

// The change list of a boot: every binding of a 100,000-entry table is
// created, from an empty tree.
func BenchmarkChangesFromEmpty100k(b *testing.B) {
	root := &gen.Device{}
	addBindings(root, 100_000)
	empty := &gen.Device{}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if ch := Changes(empty, root, nil); len(ch) != 100_000 {
			b.Fatalf("%d changes", len(ch))
		}
	}
}
