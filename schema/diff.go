package schema

import (
	"reflect"
	"sort"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/goyang/pkg/yang"
	"github.com/openconfig/ygot/ygot"

	"github.com/wirebeat/wirebeat/events"
)

// Operations of a configuration edit, as RFC 6470 reports them.
const (
	OpCreate  = "create"
	OpDelete  = "delete"
	OpReplace = "replace"
)

// Diff lists what changed between two configuration trees, at the
// granularity of whole list entries and single leaves: a created binding is
// one "create" of its entry, not one per leaf. It stops after max edits and
// reports whether it did (max <= 0 means no limit). State nodes are ignored.
func Diff(old, new ygot.GoStruct, max int) (edits []events.Edit, truncated bool) {
	d := differ{max: max}
	d.structs(rootSchema(), reflect.ValueOf(old), reflect.ValueOf(new), nil)
	// Maps were walked in no particular order; report in path order.
	sort.Slice(d.edits, func(i, j int) bool {
		return PathString(d.edits[i].Path) < PathString(d.edits[j].Path)
	})
	return d.edits, d.full
}

type differ struct {
	max   int
	edits []events.Edit
	full  bool
}

func (d *differ) add(path []*gpb.PathElem, op string) {
	if d.max > 0 && len(d.edits) >= d.max {
		d.full = true
		return
	}
	d.edits = append(d.edits, events.Edit{Path: elemsPath(path), Operation: op})
}

func (d *differ) done() bool { return d.max > 0 && len(d.edits) >= d.max }

// structs compares two pointers to the same generated struct type, either
// of which may be nil.
func (d *differ) structs(schema *yang.Entry, a, b reflect.Value, path []*gpb.PathElem) {
	if !isNil(a) && !isNil(b) && a.Pointer() == b.Pointer() {
		return // shared by a transaction: unchanged
	}
	var st reflect.Type
	switch {
	case !isNil(a):
		st = a.Elem().Type()
	case !isNil(b):
		st = b.Elem().Type()
	default:
		return
	}
	for _, f := range fieldsOf(schema, st).fields {
		if d.done() {
			return
		}
		if !f.config {
			continue
		}
		var fa, fb reflect.Value
		if !isNil(a) {
			fa = a.Elem().Field(f.index)
		} else {
			fa = reflect.Zero(st.Field(f.index).Type)
		}
		if !isNil(b) {
			fb = b.Elem().Field(f.index)
		} else {
			fb = reflect.Zero(st.Field(f.index).Type)
		}
		p := append(path[:len(path):len(path)], &gpb.PathElem{Name: f.name})
		switch f.kind {
		case FieldListMap:
			d.lists(f.schema, fa, fb, p)
		case FieldContainer:
			d.structs(f.schema, fa, fb, p)
		default:
			d.leaves(fa, fb, p)
		}
	}
}

func (d *differ) lists(schema *yang.Entry, a, b reflect.Value, path []*gpb.PathElem) {
	name := path[len(path)-1].Name
	base := path[: len(path)-1 : len(path)-1]
	entryPath := func(entry reflect.Value) []*gpb.PathElem {
		return append(base, &gpb.PathElem{Name: name, Key: listKeys(entry)})
	}
	if !isNil(a) {
		for it := a.MapRange(); it.Next() && !d.done(); {
			ea := it.Value()
			var eb reflect.Value
			if !isNil(b) {
				eb = b.MapIndex(it.Key())
			}
			switch {
			case !eb.IsValid() || isNil(eb):
				d.add(entryPath(ea), OpDelete)
			case !reflect.DeepEqual(ea.Interface(), eb.Interface()):
				d.structs(schema, ea, eb, entryPath(ea))
			}
		}
	}
	if !isNil(b) {
		for it := b.MapRange(); it.Next() && !d.done(); {
			if !isNil(a) && a.MapIndex(it.Key()).IsValid() {
				continue
			}
			d.add(entryPath(it.Value()), OpCreate)
		}
	}
}

func (d *differ) leaves(a, b reflect.Value, path []*gpb.PathElem) {
	na, nb := isNil(a), isNil(b)
	switch {
	case na && nb:
	case nb:
		d.add(path, OpDelete)
	case na:
		d.add(path, OpCreate)
	case !reflect.DeepEqual(a.Interface(), b.Interface()):
		d.add(path, OpReplace)
	}
}
