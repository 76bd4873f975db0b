package schema

import (
	"fmt"
	"reflect"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/goyang/pkg/yang"
	"github.com/openconfig/ygot/ygot"
)

// EncodeMatchJSON renders the node of a Match as compact JSON, the value
// of a gNMI update: an object for the root, containers and list entries,
// an array for a whole list or a leaf-list, a scalar for a leaf. With ietf
// set (JSON_IETF, RFC 7951) members are qualified with their module where
// it differs from the enclosing node's; without it (gNMI JSON) never.
// State and configuration are kept or dropped by filter (nil keeps all).
func EncodeMatchJSON(m Match, ietf bool, filter NodeFilter) ([]byte, error) {
	e := nodeEncoder{ietf: ietf, filter: filter}
	e.buf = make([]byte, 0, 256)
	var err error
	switch {
	case m.Leaf && m.Value.Kind() == reflect.Slice && m.Value.Type() != reflect.TypeOf([]byte(nil)):
		err = e.leafList(m.Schema, m.Value)
	case m.Leaf:
		err = e.leaf(m.Schema, m.Value)
	default:
		if !e.object(m.Schema, m.Value, m.Module) {
			e.buf = append(e.buf, "{}"...)
		}
	}
	if err == nil {
		err = e.err
	}
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", PathString(elemsPath(m.Path)), err)
	}
	return e.buf, nil
}

// NodeFilter selects nodes by their config property: the gNMI Get types.
type NodeFilter func(schema *yang.Entry, config bool) bool

// ConfigOnly keeps configuration (config true) nodes.
func ConfigOnly(_ *yang.Entry, config bool) bool { return config }

// StateOnly keeps state (config false) leaves and the key leaves that
// identify the list entries holding them.
func StateOnly(_ *yang.Entry, config bool) bool { return !config }

// nodeEncoder writes compact JSON, reusing the scalar writers of the
// startup-file encoder.
type nodeEncoder struct {
	jsonEncoder
	ietf   bool
	filter NodeFilter
	err    error
}

// object writes the struct pointer v; it reports false (and writes
// nothing) when nothing in it passes the filter.
func (e *nodeEncoder) object(schema *yang.Entry, v reflect.Value, module string) bool {
	if v.IsNil() {
		return false
	}
	start := len(e.buf)
	e.buf = append(e.buf, '{')
	members, nonKey := 0, 0
	sv := v.Elem()
	isList := schema.IsList()
	for _, f := range fieldsOf(schema, sv.Type()).fields {
		fv := sv.Field(f.index)
		if isNil(fv) {
			continue
		}
		leafish := f.kind == FieldLeaf || f.kind == FieldLeafList
		if leafish && e.filter != nil && !e.filter(f.schema, f.config) && !(isList && isKeyOf(schema, f.name)) {
			continue
		}
		mark := len(e.buf)
		if members > 0 {
			e.buf = append(e.buf, ',')
		}
		e.buf = append(e.buf, '"')
		if e.ietf && f.module != module {
			e.buf = append(e.buf, f.module...)
			e.buf = append(e.buf, ':')
		}
		e.buf = append(e.buf, f.name...)
		e.buf = append(e.buf, '"', ':')
		wrote := true
		switch f.kind {
		case FieldContainer:
			wrote = e.object(f.schema, fv, f.module)
		case FieldListMap:
			wrote = e.list(f.schema, sortedEntries(fv), f.module)
		case FieldListSlice:
			entries := make([]reflect.Value, fv.Len())
			for i := range entries {
				entries[i] = fv.Index(i)
			}
			wrote = e.list(f.schema, entries, f.module)
		case FieldLeafList:
			e.setErr(e.leafList(f.schema, fv))
		default:
			before := len(e.buf)
			e.setErr(e.leaf(f.schema, fv))
			wrote = len(e.buf) > before
		}
		if !wrote {
			e.buf = e.buf[:mark]
			continue
		}
		members++
		if !isList || !isKeyOf(schema, f.name) {
			nonKey++
		}
	}
	// An entry of the state view that only repeats the keys of
	// configuration says nothing; in a configuration it is an entry.
	stateView := e.filter != nil && !e.filter(schema, true)
	if members == 0 || (isList && stateView && nonKey == 0) {
		e.buf = e.buf[:start]
		return false
	}
	e.buf = append(e.buf, '}')
	return true
}

func (e *nodeEncoder) list(schema *yang.Entry, entries []reflect.Value, module string) bool {
	if len(entries) == 0 {
		return false
	}
	start := len(e.buf)
	e.buf = append(e.buf, '[')
	n := 0
	for _, v := range entries {
		mark := len(e.buf)
		if n > 0 {
			e.buf = append(e.buf, ',')
		}
		if !e.object(schema, v, module) {
			e.buf = e.buf[:mark]
			continue
		}
		n++
	}
	if n == 0 {
		e.buf = e.buf[:start]
		return false
	}
	e.buf = append(e.buf, ']')
	return true
}

func (e *nodeEncoder) setErr(err error) {
	if err != nil && e.err == nil {
		e.err = err
	}
}

// EncodeListJSON renders the entries of a whole list (a path ending at a
// list without keys) as a JSON array.
func EncodeListJSON(schema *yang.Entry, entries []Match, ietf bool, filter NodeFilter) ([]byte, error) {
	e := nodeEncoder{ietf: ietf, filter: filter}
	vals := make([]reflect.Value, len(entries))
	module := ""
	for i, m := range entries {
		vals[i], module = m.Value, m.Module
	}
	if !e.list(schema, vals, module) {
		return []byte("[]"), e.err
	}
	return e.buf, e.err
}

// LeafUpdate is one leaf under a Match, for telemetry, which sends leaves
// one by one (gNMI specification 3.5: no aggregation).
type LeafUpdate struct {
	Path   []*gpb.PathElem
	Schema *yang.Entry
	Config bool
	Value  reflect.Value
}

// WalkLeaves calls fn for every set leaf and leaf-list at or below m, in
// schema and key order. The paths handed to fn are fresh slices fn may
// keep.
func WalkLeaves(m Match, fn func(LeafUpdate) error) error {
	if m.Leaf {
		if isNil(m.Value) {
			return nil
		}
		return fn(LeafUpdate{Path: m.Path, Schema: m.Schema, Config: !m.Schema.ReadOnly(), Value: m.Value})
	}
	return walkLeaves(m.Schema, m.Value, m.Path, fn)
}

func walkLeaves(schema *yang.Entry, v reflect.Value, at []*gpb.PathElem, fn func(LeafUpdate) error) error {
	if v.IsNil() {
		return nil
	}
	sv := v.Elem()
	for _, f := range fieldsOf(schema, sv.Type()).fields {
		fv := sv.Field(f.index)
		if isNil(fv) {
			continue
		}
		here := func(e *gpb.PathElem) []*gpb.PathElem {
			p := make([]*gpb.PathElem, len(at)+1)
			copy(p, at)
			p[len(at)] = e
			return p
		}
		var err error
		switch f.kind {
		case FieldContainer:
			err = walkLeaves(f.schema, fv, here(&gpb.PathElem{Name: f.name}), fn)
		case FieldListMap:
			for _, entry := range sortedEntries(fv) {
				if err = walkLeaves(f.schema, entry, here(&gpb.PathElem{Name: f.name, Key: listKeys(entry)}), fn); err != nil {
					break
				}
			}
		case FieldListSlice:
			for i := 0; i < fv.Len() && err == nil; i++ {
				err = walkLeaves(f.schema, fv.Index(i), here(&gpb.PathElem{Name: f.name}), fn)
			}
		default:
			err = fn(LeafUpdate{Path: here(&gpb.PathElem{Name: f.name}), Schema: f.schema, Config: f.config, Value: fv})
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// TypedValue renders a leaf or leaf-list value as a gNMI scalar: integers
// as int_val or uint_val, enumerations and identities by name, leaf-lists
// as leaflist_val.
func TypedValue(v reflect.Value) (*gpb.TypedValue, error) {
	tv, err := ygot.EncodeTypedValue(v.Interface(), gpb.Encoding_JSON_IETF)
	if err != nil {
		return nil, fmt.Errorf("encode value: %w", err)
	}
	if tv == nil {
		return nil, fmt.Errorf("encode value: %s has no value", v.Type())
	}
	return tv, nil
}
