package schema

import (
	"reflect"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/goyang/pkg/yang"

	"github.com/wirebeat/wirebeat/gen"
)

// Datastores keep values in canonical text (normalize): an IPv6 address
// written 2001:DB8:0:0::5 is stored, keyed and compared as 2001:db8::5.
// What a client names on a read, a filter, a delete or a match must be
// brought to the same form before it is compared, with the same codec.

// CanonicalText returns the canonical text of a value of leaf's type;
// text that does not parse comes back unchanged (validation reports it).
func CanonicalText(leaf *yang.Entry, text string) string {
	if leaf == nil || leaf.Type == nil {
		return text
	}
	switch leaf.Type.Name {
	case "ipv6-address", "ip-address", "ipv6-prefix", "ip-prefix":
		return canonicalAddr(text)
	}
	return text
}

// CanonicalPath returns elems with every key value checked against its
// key leaf's type and in canonical text; elems itself when nothing
// changes. A key value that is not of its type is TagInvalidValue. Key
// wildcards ("*") pass; after a wildcard name ("*", "...") the schema is
// unknown and the rest is kept as given. Unknown names and keys are left
// for CheckPath and ResolveNode to report.
func CanonicalPath(elems []*gpb.PathElem) ([]*gpb.PathElem, error) {
	schema := rootSchema()
	t := reflect.TypeOf(gen.Device{})
	out := elems
	for i, e := range elems {
		if e.Name == "*" || e.Name == "..." || schema == nil {
			return out, nil
		}
		si := fieldsOf(schema, t)
		j, ok := si.byName[stripPrefix(e.Name)]
		if !ok {
			return out, nil
		}
		f := &si.fields[j]
		var next reflect.Type
		switch f.kind {
		case FieldContainer:
			next = t.Field(f.index).Type.Elem()
		case FieldListMap, FieldListSlice:
			next = t.Field(f.index).Type.Elem().Elem()
		default:
			return out, nil
		}
		if len(e.Key) > 0 && f.kind == FieldListMap {
			ki := fieldsOf(f.schema, next)
			var keys map[string]string
			for k, v := range e.Key {
				kj, ok := ki.byName[k]
				if !ok || v == "*" {
					continue
				}
				kf := &ki.fields[kj]
				probe := reflect.New(next.Field(kf.index).Type).Elem()
				if err := SetLeafText(kf.schema, probe, v); err != nil {
					return nil, Errorf(TagInvalidValue, elemsPath(elems[:i+1]), "key %s=%q of %s: %v", k, v, f.name, err)
				}
				if c := CanonicalText(kf.schema, v); c != v {
					if keys == nil {
						keys = make(map[string]string, len(e.Key))
						for k2, v2 := range e.Key {
							keys[k2] = v2
						}
					}
					keys[k] = c
				}
			}
			if keys != nil {
				if &out[0] == &elems[0] {
					out = append([]*gpb.PathElem(nil), elems...)
				}
				out[i] = &gpb.PathElem{Name: e.Name, Key: keys}
			}
		}
		schema, t = f.schema, next
	}
	return out, nil
}

// CanonicalAddress returns the canonical text of s when it is an IPv6
// address or prefix, s itself otherwise: for literals written in
// expressions, whose type only the comparison reveals.
func CanonicalAddress(s string) string { return canonicalAddr(s) }
