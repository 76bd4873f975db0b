package server

import (
	"fmt"
	"reflect"
	"sort"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/goyang/pkg/yang"
	"github.com/openconfig/ygot/util"
	"github.com/openconfig/ygot/ygot"
)

// node is one data node met by walk: where it is, what the schema says about
// it and its value in the generated struct.
type node struct {
	path   []*gpb.PathElem // keyed path from the root
	schema *yang.Entry
	value  reflect.Value // the struct field (pointer, map, slice, enum or union)
	// parents are the enclosing containers and list entries, outermost
	// first, as pointers to generated structs. Leafref resolution climbs
	// them for relative paths.
	parents []reflect.Value
}

// walkFunc sees every node. Returning skip for a container or list stops
// the descent into it.
type walkFunc func(n *node) (skip bool, err error)

// walk visits the data nodes of the generated struct s, whose schema is
// schema, depth first in schema order (map entries sorted by key), so that
// the first error found is the same on every run.
func walk(schema *yang.Entry, s ygot.GoStruct, fn walkFunc) error {
	v := reflect.ValueOf(s)
	return walkStruct(schema, v, nil, []reflect.Value{v}, fn)
}

func walkStruct(schema *yang.Entry, v reflect.Value, path []*gpb.PathElem, parents []reflect.Value, fn walkFunc) error {
	sv := v.Elem()
	st := sv.Type()
	for i := 0; i < st.NumField(); i++ {
		f := st.Field(i)
		name, ok := f.Tag.Lookup("path")
		if !ok {
			continue
		}
		child, err := util.ChildSchema(schema, f)
		if err != nil || child == nil {
			return fmt.Errorf("schema of %s has no child %q", schema.Name, name)
		}
		if err := walkField(child, sv.Field(i), append(path, &gpb.PathElem{Name: name}), parents, fn); err != nil {
			return err
		}
	}
	return nil
}

func walkField(schema *yang.Entry, fv reflect.Value, path []*gpb.PathElem, parents []reflect.Value, fn walkFunc) error {
	path = path[:len(path):len(path)] // appends below must not share storage
	switch {
	case schema.IsList() && fv.Kind() == reflect.Map:
		if fv.IsNil() {
			return nil
		}
		keys := fv.MapKeys()
		sortKeys(keys)
		for _, k := range keys {
			entry := fv.MapIndex(k)
			elem := &gpb.PathElem{Name: path[len(path)-1].Name, Key: listKeys(entry)}
			p := append(path[:len(path)-1:len(path)-1], elem)
			n := &node{path: p, schema: schema, value: entry, parents: parents}
			skip, err := fn(n)
			if err != nil {
				return err
			}
			if !skip {
				if err := walkStruct(schema, entry, p, append(parents[:len(parents):len(parents)], entry), fn); err != nil {
					return err
				}
			}
		}
		return nil
	case schema.IsList() && fv.Kind() == reflect.Slice:
		for i := 0; i < fv.Len(); i++ {
			entry := fv.Index(i)
			n := &node{path: path, schema: schema, value: entry, parents: parents}
			skip, err := fn(n)
			if err != nil {
				return err
			}
			if !skip {
				if err := walkStruct(schema, entry, path, append(parents[:len(parents):len(parents)], entry), fn); err != nil {
					return err
				}
			}
		}
		return nil
	case schema.IsContainer():
		n := &node{path: path, schema: schema, value: fv, parents: parents}
		skip, err := fn(n)
		if err != nil || skip || fv.IsNil() {
			return err
		}
		return walkStruct(schema, fv, path, append(parents[:len(parents):len(parents)], fv), fn)
	default:
		_, err := fn(&node{path: path, schema: schema, value: fv, parents: parents})
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
		s, err := ygot.KeyValueAsString(v)
		if err != nil {
			s = fmt.Sprint(v)
		}
		keys[k] = s
	}
	return keys
}

// sortKeys orders map keys for a deterministic walk: by their printed form,
// numbers numerically.
func sortKeys(keys []reflect.Value) {
	sort.Slice(keys, func(i, j int) bool { return lessKey(keys[i], keys[j]) })
}

func lessKey(a, b reflect.Value) bool {
	switch a.Kind() {
	case reflect.String:
		return a.String() < b.String()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return a.Int() < b.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return a.Uint() < b.Uint()
	case reflect.Struct:
		for i := 0; i < a.NumField(); i++ {
			fa, fb := a.Field(i), b.Field(i)
			if lessKey(fa, fb) {
				return true
			}
			if lessKey(fb, fa) {
				return false
			}
		}
		return false
	}
	return fmt.Sprint(a.Interface()) < fmt.Sprint(b.Interface())
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
