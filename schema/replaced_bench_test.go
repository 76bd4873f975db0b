package schema

import (
	"reflect"
	"testing"

	"github.com/openconfig/ygot/ygot"
	"github.com/openconfig/ygot/ytypes"

	"github.com/wirebeat/wirebeat/gen"
)

// The benchmarks behind the performance claims of this package's comments:
// each runs our code and the ygot function it replaces on the same 100,000
// bindings.

func bindings100k(b *testing.B) *gen.Device {
	b.Helper()
	root := &gen.Device{}
	addBindings(root, 100_000)
	return root
}

// leafcheck.go: checking leaf values with cached checkers against
// ytypes.Validate, here the IPv6 address leaves of 100,000 bindings.
func BenchmarkLeafCheck100k(b *testing.B) {
	root := bindings100k(b)
	bt := root.GetSoftwire().GetLwaftr().GetBindingTable()
	leaf := rootSchema().Dir["softwire"].Dir["lwaftr"].Dir["binding-table"].Dir["softwire"].Dir["b4-ipv6"]
	vals := make([]reflect.Value, 0, len(bt.Softwire))
	for _, sw := range bt.Softwire {
		vals = append(vals, reflect.ValueOf(sw.B4Ipv6))
	}
	b.Run("schema", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			for _, v := range vals {
				if err := checkLeafValue(leaf, v); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("ytypes.Validate", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			for _, v := range vals {
				if errs := ytypes.Validate(leaf, v.Interface()); errs != nil {
					b.Fatal(errs)
				}
			}
		}
	})
}

// validate.go: the whole tree against ygot's generated ΛValidate.
func BenchmarkValidate100k(b *testing.B) {
	root := bindings100k(b)
	b.Run("schema", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if err := Validate(root, nil, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ΛValidate", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if err := root.ΛValidate(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// copy.go: a deep copy against ygot.DeepCopy.
func BenchmarkDeepCopy100k(b *testing.B) {
	root := bindings100k(b)
	b.Run("schema", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := Clone(root); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ygot.DeepCopy", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := ygot.DeepCopy(root); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// jsonenc.go: RFC 7951 encoding against ygot.EmitJSON, and with the entry
// cache a commit's snapshot uses.
func BenchmarkEncodeJSON100k(b *testing.B) {
	root := bindings100k(b)
	b.Run("schema", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := EncodeJSON(root); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("schema-cached", func(b *testing.B) {
		var c JSONCache
		if _, err := c.Encode(root); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := c.Encode(root); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ygot.EmitJSON", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := ygot.EmitJSON(root, &ygot.EmitJSONConfig{Format: ygot.RFC7951, SkipValidation: true}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
