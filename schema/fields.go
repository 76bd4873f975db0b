package schema

import (
	"reflect"
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
}

type structInfo struct {
	fields []fieldInfo
	byName map[string]int // name -> position in fields
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
			elem: &gpb.PathElem{Name: name}, entryElem: &gpb.PathElem{Name: name, Key: pendingKeys}}
		switch {
		case child.IsList() && f.Type.Kind() == reflect.Map:
			fi.kind = FieldListMap
		case child.IsList():
			fi.kind = FieldListSlice
		case child.IsContainer():
			fi.kind = FieldContainer
		case child.IsLeafList():
			fi.kind = FieldLeafList
		default:
			fi.kind = FieldLeaf
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
	items := sortedItems(m)
	out := make([]MapEntry, len(items))
	for i, it := range items {
		out[i] = MapEntry{it.k, it.v}
	}
	return out
}
