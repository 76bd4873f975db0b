package schema

import (
	"reflect"

	"github.com/openconfig/goyang/pkg/yang"

	"github.com/wirebeat/wirebeat/gen"
)

// MergeTrees merges the configuration tree config into state, a tree the
// caller owns (as State returns it), and returns state. Nodes only config
// has are shared, not copied: merging a small state tree with a large
// configuration costs the size of the state tree. The result must only be
// read.
func MergeTrees(config, state *gen.Device) *gen.Device {
	if state == nil {
		state = &gen.Device{}
	}
	mergeStruct(rootSchema(), reflect.ValueOf(state), reflect.ValueOf(config))
	return state
}

// mergeStruct fills the fields of dst (owned) from src (shared) where dst
// has none, descending where both have a node.
func mergeStruct(schema *yang.Entry, dst, src reflect.Value) {
	if src.IsNil() {
		return
	}
	dv, sv := dst.Elem(), src.Elem()
	for _, f := range fieldsOf(schema, sv.Type()).fields {
		sf := sv.Field(f.index)
		if isNil(sf) {
			continue
		}
		df := dv.Field(f.index)
		if isNil(df) {
			df.Set(sf)
			continue
		}
		switch f.kind {
		case FieldContainer:
			mergeStruct(f.schema, df, sf)
		case FieldListMap:
			for it := sf.MapRange(); it.Next(); {
				de := df.MapIndex(it.Key())
				if !de.IsValid() || de.IsNil() {
					df.SetMapIndex(it.Key(), it.Value())
					continue
				}
				mergeStruct(f.schema, de, it.Value())
			}
		}
		// Leaves both trees hold: state wins, config has none there.
	}
}
