package schema

import (
	"encoding/binary"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"unsafe"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/goyang/pkg/yang"
	"github.com/openconfig/ygot/ygot"

	"github.com/wirebeat/wirebeat/gen"
)

// node is one data node met by walk: where it is, what the schema says about
// it and its value in the generated struct.
type node struct {
	path   []*gpb.PathElem // keyed path from the root
	schema *yang.Entry
	field  *fieldInfo    // the field of the parent struct that holds the node
	value  reflect.Value // the struct field (pointer, map, slice, enum or union)
	// old is the same node in the tree walked alongside (the running
	// configuration a candidate is compared with); invalid when that tree
	// lacks it or none was given.
	old reflect.Value
	// parents are the enclosing containers and list entries, outermost
	// first, as pointers to generated structs. Leafref resolution climbs
	// them for relative paths.
	parents []reflect.Value
}

// unchanged reports whether a container or list entry is the same in the
// old tree, so that the checks of its content, which passed when old was
// committed, need not run again. A transaction (Tx) shares what it did not
// touch, found by pointer; list entries of a deep copy are compared.
func (n *node) unchanged() bool {
	if !n.old.IsValid() || isNil(n.old) || isNil(n.value) {
		return false
	}
	if n.old.Pointer() == n.value.Pointer() {
		return true
	}
	return n.schema.IsList() && reflect.DeepEqual(n.old.Interface(), n.value.Interface())
}

// walkFunc sees every node. Returning skip for a container or list entry
// stops the descent into it.
type walkFunc func(n *node) (skip bool, err error)

// walk visits the data nodes of the generated struct s, whose schema is
// schema, depth first; list entries come in map order, which is cheaper than
// sorting a million keys for a walk that usually finds nothing. When old is
// not nil each node also carries its counterpart in old.
//
// touched, when not nil and made relative to old, lets the walk skip the
// list entries no transaction touched, which are old's own: fn would see
// them unchanged. Lists whose entries hold leafrefs are walked whole, as
// fn must check references into what changed.
func walk(schema *yang.Entry, s, old ygot.GoStruct, touched *Touched, fn walkFunc) error {
	v := reflect.ValueOf(s)
	var ov reflect.Value
	if old != nil {
		ov = reflect.ValueOf(old)
		if touched != nil && (ov.IsNil() || touched.base != old.(*gen.Device)) {
			touched = nil
		}
	} else {
		touched = nil
	}
	return walkFields(fieldsOf(schema, v.Elem().Type()), v, ov, make([]*gpb.PathElem, 0, 16), append(make([]reflect.Value, 0, 16), v), touched, fn, &node{})
}

// walkStruct visits the fields of the struct pointer v. path is a stack:
// a node's path is valid during its callback only (fullPath copies it), so
// a walk over a million entries does not allocate a path for each node.
// For the same reason the node handed to fn is one scratch struct,
// refilled for each node, and parents is a stack as path is: fn must not
// keep either past its call (a walk of
// 100,000 bindings made 800,000 of them, 100 MB for the collector).
func walkStruct(schema *yang.Entry, v, old reflect.Value, path []*gpb.PathElem, parents []reflect.Value, touched *Touched, fn walkFunc, scratch *node) error {
	return walkFields(fieldsOf(schema, v.Elem().Type()), v, old, path, parents, touched, fn, scratch)
}

// walkFields is walkStruct with the struct's fields known.
func walkFields(si *structInfo, v, old reflect.Value, path []*gpb.PathElem, parents []reflect.Value, touched *Touched, fn walkFunc, scratch *node) error {
	sv := v.Elem()
	hasOld := old.IsValid() && !old.IsNil()
	for i := range si.fields {
		f := &si.fields[i]
		var of reflect.Value
		if hasOld {
			of = old.Elem().Field(f.index)
		}
		if err := walkField(f, sv.Field(f.index), of, append(path, f.elem), parents, touched, fn, scratch); err != nil {
			return err
		}
	}
	return nil
}

func walkField(f *fieldInfo, fv, old reflect.Value, path []*gpb.PathElem, parents []reflect.Value, touched *Touched, fn walkFunc, scratch *node) error {
	schema := f.schema
	switch f.kind {
	case FieldListMap:
		if fv.IsNil() {
			return nil
		}
		inner := append(parents, reflect.Value{})
		path[len(path)-1] = f.entryElem
		hasOld := old.IsValid() && !old.IsNil()
		visit := func(entry, oe reflect.Value) error {
			*scratch = node{path: path, schema: schema, field: f, value: entry, old: oe, parents: parents}
			skip, err := fn(scratch)
			if err != nil || skip {
				return err
			}
			inner[len(inner)-1] = entry
			return walkFields(f.child, entry, oe, path, inner, touched, fn, scratch)
		}
		if hasOld && old.Pointer() == fv.Pointer() && !f.leafref {
			return nil // old's own list: every entry unchanged
		}
		if keys, ok := touched.keysOf(fv); ok && hasOld && !f.leafref {
			for _, k := range keys {
				if entry := fv.MapIndex(k); entry.IsValid() && !entry.IsNil() {
					if err := visit(entry, old.MapIndex(k)); err != nil {
						return err
					}
				}
			}
			return nil
		}
		for it := fv.MapRange(); it.Next(); {
			var oe reflect.Value
			if hasOld {
				oe = old.MapIndex(it.Key())
			}
			if err := visit(it.Value(), oe); err != nil {
				return err
			}
		}
		return nil
	case FieldListSlice:
		inner := append(parents, reflect.Value{})
		for i := 0; i < fv.Len(); i++ {
			entry := fv.Index(i)
			*scratch = node{path: path, schema: schema, field: f, value: entry, parents: parents}
			skip, err := fn(scratch)
			if err != nil {
				return err
			}
			if !skip {
				inner[len(inner)-1] = entry
				if err := walkFields(f.child, entry, reflect.Value{}, path, inner, nil, fn, scratch); err != nil {
					return err
				}
			}
		}
		return nil
	case FieldContainer:
		*scratch = node{path: path, schema: schema, field: f, value: fv, old: old, parents: parents}
		skip, err := fn(scratch)
		if err != nil || skip || fv.IsNil() {
			return err
		}
		return walkFields(f.child, fv, old, path, append(parents, fv), touched, fn, scratch)
	default:
		*scratch = node{path: path, schema: schema, field: f, value: fv, old: old, parents: parents}
		_, err := fn(scratch)
		return err
	}
}

// listKeys renders the key leaves of a list entry as gNMI path keys.
func listKeys(entry reflect.Value) map[string]string {
	km, ok := entry.Interface().(ygot.KeyHelperGoStruct)
	if !ok {
		return nil
	}
	raw, err := km.ΛListKeyMap()
	if err != nil {
		return nil
	}
	keys := make(map[string]string, len(raw))
	for k, v := range raw {
		keys[k] = leafString(reflect.ValueOf(v))
	}
	return keys
}

// sortedEntries returns the values of map m in key order: strings and
// numbers in their natural order, multi-key structs field by field. Each key
// is turned once into a byte string that sorts the same way, so sorting a
// million entries does not go through reflection a million times log n.
func sortedEntries(m reflect.Value) []reflect.Value {
	items := sortedItems(m, false)
	out := make([]reflect.Value, len(items))
	for i := range items {
		out[i] = items[i].v
	}
	return out
}

// sortedItems returns the entries of map m in key order, with their keys
// when keep is set.
func sortedItems(m reflect.Value, keep bool) []sortable {
	n := m.Len()
	// The keys are read into one slab when they are kept, and into one
	// scratch value when only their sort key is needed: MapIter.Key
	// would allocate a copy of each (a struct key is stored indirectly).
	var ks reflect.Value
	if keep {
		ks = reflect.MakeSlice(reflect.SliceOf(m.Type().Key()), n, n)
	}
	scratch := reflect.New(m.Type().Key()).Elem()
	vs := make([]reflect.Value, 0, n)
	// The sort keys are written one after the other into one buffer and
	// become strings once it is complete (it is never written again):
	// one allocation for a million keys instead of a million.
	var buf []byte
	ends := make([]int, 0, n)
	for it := m.MapRange(); it.Next() && len(vs) < n; {
		k := scratch
		if keep {
			k = ks.Index(len(vs))
		}
		k.SetIterKey(it)
		buf = appendSortKey(buf, k)
		ends = append(ends, len(buf))
		vs = append(vs, it.Value())
	}
	keys := make([]string, len(ends))
	start := 0
	for i, end := range ends {
		if end > start {
			keys[i] = unsafe.String(&buf[start], end-start)
		}
		start = end
	}
	// A permutation is sorted rather than the items: moving int32s needs
	// no write barriers, which made sorting a million items while the
	// collector runs cost more than encoding them.
	idx := make([]int32, len(keys))
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortFunc(idx, func(a, b int32) int { return strings.Compare(keys[a], keys[b]) })
	items := make([]sortable, len(idx))
	for i, j := range idx {
		items[i] = sortable{v: vs[j], b: keys[j]}
		if keep {
			items[i].k = ks.Index(int(j))
		}
	}
	return items
}

type sortable struct {
	k, v reflect.Value
	b    string
}

func appendSortKey(b []byte, v reflect.Value) []byte {
	switch v.Kind() {
	case reflect.String:
		return append(append(b, v.String()...), 0)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return binary.BigEndian.AppendUint64(b, uint64(v.Int())^(1<<63))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return binary.BigEndian.AppendUint64(b, v.Uint())
	case reflect.Bool:
		if v.Bool() {
			return append(b, 1)
		}
		return append(b, 0)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			b = appendSortKey(b, v.Field(i))
		}
		return b
	case reflect.Ptr, reflect.Interface:
		if v.IsNil() {
			return append(b, 0)
		}
		return appendSortKey(b, v.Elem())
	}
	return append(append(b, fmt.Sprint(v.Interface())...), 0)
}

// PathString renders a gNMI path as /a/b[k=v]/c, the form error messages
// and logs use.
func PathString(p *gpb.Path) string {
	if p == nil || len(p.Elem) == 0 {
		return "/"
	}
	s, err := ygot.PathToString(p)
	if err != nil {
		return fmt.Sprint(p.Elem)
	}
	return s
}

func elemsPath(elems []*gpb.PathElem) *gpb.Path {
	return &gpb.Path{Elem: elems}
}

// pendingKeys marks the path element of a list entry whose keys walk has
// not rendered yet: rendering them for every entry of a large list costs
// more than the walk itself, and they are needed only to report an error.
var pendingKeys = map[string]string{}

// fullPath returns the node's path with the keys of its list entries
// filled in, from the entries among its parents.
func (n *node) fullPath() *gpb.Path {
	out := make([]*gpb.PathElem, len(n.path))
	for i, e := range n.path {
		if !isPending(e.Key) {
			out[i] = e
			continue
		}
		holder := n.value
		if i+1 < len(n.parents) {
			holder = n.parents[i+1]
		}
		out[i] = &gpb.PathElem{Name: e.Name, Key: listKeys(holder)}
	}
	return &gpb.Path{Elem: out}
}

func isPending(m map[string]string) bool {
	return m != nil && reflect.ValueOf(m).UnsafePointer() == reflect.ValueOf(pendingKeys).UnsafePointer()
}
