package schema

import (
	"reflect"
	"strings"
	"sync"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/goyang/pkg/yang"
	"github.com/openconfig/ygot/util"
)

// FieldKind says how a generated struct field holds its data node.
type FieldKind uint8

const (
	FieldContainer FieldKind = iota + 1 // *Struct
	FieldListMap                        // map[Key]*Struct
	FieldListSlice                      // []*Struct (keyless list)
	FieldLeaf                           // pointer, enum, union
	FieldLeafList                       // slice of scalars
)

// fieldInfo describes one data field of a generated struct: found once per
// struct type, so walking a million list entries does not look schemas up
// a million times.
type fieldInfo struct {
	index  int
	name   string // the YANG node name (path tag)
	module string // the module defining the node (module tag)
	schema *yang.Entry
	kind   FieldKind
	config bool // false for config-false nodes
	// elem and entryElem are the node's path element, shared by every walk
	// and never modified: entryElem marks a list entry whose keys are
	// rendered only when a path is reported.
	elem, entryElem *gpb.PathElem
	// child holds the fields of the struct of a container or list entry,
	// found with the parent's, so that a walk over a million entries does
	// not look them up a million times.
	child *structInfo
	// scalar says how a leaf of a plain Go type is set without going
	// through reflect.New and the generic text codec (scalarOther: it
	// does go through them).
	scalar scalarKind
	// key is how the map key of a list entry is read from its key leaves
	// (FieldListMap only).
	key *keyPlan
	// leafref: the node's subtree holds a leafref that must point at an
	// existing instance (hasLeafref).
	leafref bool
	// checker checks the values of a leaf or leaf-list.
	checker *leafChecker
	// canonical: a leaf of an address type whose text Canonicalize
	// rewrites.
	canonical bool
}

// genericOnly turns the typed fast paths off, for the tests that compare
// them with the generic code they shortcut.
var genericOnly bool

// scalarKind names the leaf field types that have a fast path.
type scalarKind uint8

const (
	scalarOther  scalarKind = iota
	scalarString            // *string
	scalarUint8             // *uint8 ... *uint64
	scalarUint16
	scalarUint32
	scalarUint64
	scalarInt8 // *int8 ... *int64
	scalarInt16
	scalarInt32
	scalarInt64
	scalarBool // *bool
)

var scalarKinds = map[reflect.Type]scalarKind{
	reflect.TypeOf((*string)(nil)): scalarString,
	reflect.TypeOf((*uint8)(nil)):  scalarUint8,
	reflect.TypeOf((*uint16)(nil)): scalarUint16,
	reflect.TypeOf((*uint32)(nil)): scalarUint32,
	reflect.TypeOf((*uint64)(nil)): scalarUint64,
	reflect.TypeOf((*int8)(nil)):   scalarInt8,
	reflect.TypeOf((*int16)(nil)):  scalarInt16,
	reflect.TypeOf((*int32)(nil)):  scalarInt32,
	reflect.TypeOf((*int64)(nil)):  scalarInt64,
	reflect.TypeOf((*bool)(nil)):   scalarBool,
}

type structInfo struct {
	fields []fieldInfo
	byName map[string]int // name -> position in fields
	// canonical: a config leaf below this struct has a text that
	// Canonicalize rewrites; without one it skips the subtree.
	canonical bool
}

type structKey struct {
	t      reflect.Type
	schema *yang.Entry
}

var structInfos sync.Map // structKey -> *structInfo

// fieldsOf returns the data fields of struct type t (not a pointer) whose
// schema is schema, in declaration order.
func fieldsOf(schema *yang.Entry, t reflect.Type) *structInfo {
	key := structKey{t, schema}
	if si, ok := structInfos.Load(key); ok {
		return si.(*structInfo)
	}
	si := &structInfo{byName: map[string]int{}}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, ok := f.Tag.Lookup("path")
		if !ok {
			continue
		}
		child, err := util.ChildSchema(schema, f)
		if err != nil || child == nil {
			continue
		}
		fi := fieldInfo{index: i, name: name, module: f.Tag.Get("module"), schema: child, config: !child.ReadOnly(),
			elem: &gpb.PathElem{Name: name}, entryElem: &gpb.PathElem{Name: name, Key: pendingKeys},
			leafref: hasLeafref(child)}
		switch {
		case child.IsList() && f.Type.Kind() == reflect.Map:
			fi.kind = FieldListMap
			fi.child = fieldsOf(child, f.Type.Elem().Elem())
			fi.key = newKeyPlan(child, f.Type.Elem().Elem(), f.Type.Key())
		case child.IsList():
			fi.kind = FieldListSlice
			fi.child = fieldsOf(child, f.Type.Elem().Elem())
		case child.IsContainer():
			fi.kind = FieldContainer
			fi.child = fieldsOf(child, f.Type.Elem())
		case child.IsLeafList():
			fi.kind = FieldLeafList
		default:
			fi.kind = FieldLeaf
			fi.scalar = scalarKinds[f.Type]
		}
		if fi.kind == FieldLeaf || fi.kind == FieldLeafList {
			fi.checker = checkerFor(child)
			fi.canonical = child.Type != nil && canonicalType(child.Type.Name)
		}
		if fi.config && (fi.canonical || (fi.child != nil && fi.child.canonical)) {
			si.canonical = true
		}
		si.byName[name] = len(si.fields)
		si.fields = append(si.fields, fi)
	}
	structInfos.Store(key, si)
	return si
}

// hasLeafref reports whether the subtree of schema holds a leafref that
// must point at an existing instance; unchanged list entries without one
// need no validation at all.
func hasLeafref(schema *yang.Entry) bool {
	if v, ok := leafrefSubtrees.Load(schema); ok {
		return v.(bool)
	}
	found := false
	if schema.Type != nil && schema.Type.Kind == yang.Yleafref && !schema.Type.OptionalInstance {
		found = true
	}
	for _, c := range schema.Dir {
		if !found && hasLeafref(c) {
			found = true
		}
	}
	leafrefSubtrees.Store(schema, found)
	return found
}

var leafrefSubtrees sync.Map // *yang.Entry -> bool

// Field describes a data field of a generated struct for the front ends'
// codecs.
type Field struct {
	Index  int
	Name   string // the YANG node name
	Module string
	Schema *yang.Entry
	Kind   FieldKind
	Config bool
}

var exportedFields sync.Map // structKey -> []Field

// Fields returns the data fields of generated struct type t (not a
// pointer) whose schema is schema, in declaration order.
func Fields(schema *yang.Entry, t reflect.Type) []Field {
	key := structKey{t, schema}
	if f, ok := exportedFields.Load(key); ok {
		return f.([]Field)
	}
	si := fieldsOf(schema, t)
	out := make([]Field, len(si.fields))
	for i, f := range si.fields {
		out[i] = Field{Index: f.index, Name: f.name, Module: f.module, Schema: f.schema, Kind: f.kind, Config: f.config}
	}
	exportedFields.Store(key, out)
	return out
}

// MapEntry is one entry of a generated list map.
type MapEntry struct{ Key, Value reflect.Value }

// SortedMap returns the entries of a generated list map in key order.
func SortedMap(m reflect.Value) []MapEntry {
	items := sortedItems(m, true)
	out := make([]MapEntry, len(items))
	for i, it := range items {
		out[i] = MapEntry{it.k, it.v}
	}
	return out
}

// keyPlan reads the map key of a generated list entry from its key leaves:
// the entry fields that hold the key, in the order of the key struct's
// fields (one for a single key).
type keyPlan struct {
	keyType reflect.Type
	fields  []int
}

func newKeyPlan(schema *yang.Entry, entryType, keyType reflect.Type) *keyPlan {
	kp := &keyPlan{keyType: keyType}
	if keyType.Kind() == reflect.Struct {
		for i := 0; i < keyType.NumField(); i++ {
			f, ok := entryType.FieldByName(keyType.Field(i).Name)
			if !ok || len(f.Index) != 1 {
				return nil
			}
			kp.fields = append(kp.fields, f.Index[0])
		}
		return kp
	}
	name := strings.TrimSpace(schema.Key)
	for i := 0; i < entryType.NumField(); i++ {
		if tag, ok := entryType.Field(i).Tag.Lookup("path"); ok && tag == name {
			kp.fields = []int{i}
			return kp
		}
	}
	return nil
}

// fill sets k, a settable value of the key type, from the key leaves of
// entry (a pointer to the generated struct); false if one is unset or of
// a type the key cannot take, which keyOfEntry then explains.
func (kp *keyPlan) fill(entry, k reflect.Value) bool {
	e := entry.Elem()
	set := func(dst reflect.Value, i int) bool {
		f := e.Field(i)
		if f.Kind() == reflect.Ptr {
			if f.IsNil() {
				return false
			}
			f = f.Elem()
		}
		switch {
		case f.Type() == dst.Type():
			dst.Set(f)
		case f.Type().ConvertibleTo(dst.Type()):
			dst.Set(f.Convert(dst.Type()))
		default:
			return false
		}
		return true
	}
	if kp.keyType.Kind() == reflect.Struct {
		for i, fi := range kp.fields {
			if !set(k.Field(i), fi) {
				return false
			}
		}
		return true
	}
	return set(k, kp.fields[0])
}

// keyPlans caches the key plans keyOfEntry finds by type.
var keyPlans sync.Map // [2]reflect.Type{entry, key} -> *keyPlan (nil: none)
