package cli

import (
	"reflect"
	"strings"

	"github.com/openconfig/goyang/pkg/yang"

	sch "github.com/wirebeat/wirebeat/schema"
)

// Renderers of a data subtree, walking the generated structs with the
// core's field tables: the brace format of configuration mode, set lines,
// aligned tables for flat lists. Each writes line by line to a lineSink.

// view selects nodes: configuration only, or configuration and state.
type view struct {
	state  bool // include config false nodes
	tables bool // flat lists as tables (operational show)
}

func (v view) keep(f sch.Field) bool { return v.state || f.Config }

const indentUnit = "    "

// brace writes the content of the struct behind ptr (schema schema) in
// the brace format, at depth.
func brace(out lineSink, schema *yang.Entry, ptr reflect.Value, depth int, vw view) error {
	if !ptr.IsValid() || ptr.IsNil() {
		return nil
	}
	ind := strings.Repeat(indentUnit, depth)
	sv := ptr.Elem()
	for _, f := range sch.Fields(schema, sv.Type()) {
		if !vw.keep(f) {
			continue
		}
		fv := sv.Field(f.Index)
		switch f.Kind {
		case sch.FieldLeaf:
			if !sch.LeafIsSet(fv) || (schema.IsList() && isKey(schema, f.Name)) {
				continue
			}
			if err := out.line(ind + leafText(f, fv) + ";"); err != nil {
				return err
			}
		case sch.FieldLeafList:
			if !sch.LeafIsSet(fv) {
				continue
			}
			if err := out.line(ind + leafText(f, fv) + ";"); err != nil {
				return err
			}
		case sch.FieldContainer:
			if fv.IsNil() || !hasContent(f.Schema, fv, vw) {
				continue
			}
			if err := out.line(ind + f.Name + " {"); err != nil {
				return err
			}
			if err := brace(out, f.Schema, fv, depth+1, vw); err != nil {
				return err
			}
			if err := out.line(ind + "}"); err != nil {
				return err
			}
		case sch.FieldListMap, sch.FieldListSlice:
			if fv.Len() == 0 {
				continue
			}
			entries := listEntries(fv)
			if vw.tables && flatList(f.Schema, entries, vw) {
				if err := out.line(ind + f.Name + ":"); err != nil {
					return err
				}
				if err := table(out, ind+indentUnit, f.Schema, entries, vw); err != nil {
					return err
				}
				continue
			}
			for _, e := range entries {
				head := ind + f.Name
				for _, k := range keyTexts(f.Schema, e) {
					head += " " + quoteWord(k)
				}
				if !hasNonKeyContent(f.Schema, e, vw) {
					if err := out.line(head + ";"); err != nil {
						return err
					}
					continue
				}
				if err := out.line(head + " {"); err != nil {
					return err
				}
				if err := brace(out, f.Schema, e, depth+1, vw); err != nil {
					return err
				}
				if err := out.line(ind + "}"); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// leafText is "name value" or "name [ a b ]" for a leaf-list, "name" for
// an empty leaf.
func leafText(f sch.Field, fv reflect.Value) string {
	vals := sch.LeafTexts(fv)
	if f.Kind == sch.FieldLeafList {
		q := make([]string, len(vals))
		for i, v := range vals {
			q[i] = quoteWord(v)
		}
		return f.Name + " [ " + strings.Join(q, " ") + " ]"
	}
	if f.Schema.Type != nil && f.Schema.Type.Kind == yang.Yempty {
		return f.Name
	}
	if len(vals) == 0 {
		return f.Name
	}
	return f.Name + " " + quoteWord(vals[0])
}

func isKey(list *yang.Entry, name string) bool {
	for _, k := range listKeys(list) {
		if k == name {
			return true
		}
	}
	return false
}

// listEntries returns the entries of a list field in key order.
func listEntries(fv reflect.Value) []reflect.Value {
	if fv.Kind() == reflect.Slice {
		out := make([]reflect.Value, fv.Len())
		for i := range out {
			out[i] = fv.Index(i)
		}
		return out
	}
	sorted := sch.SortedMap(fv)
	out := make([]reflect.Value, len(sorted))
	for i, e := range sorted {
		out[i] = e.Value
	}
	return out
}

// keyTexts returns the key values of list entry e, in key order.
func keyTexts(list *yang.Entry, e reflect.Value) []string {
	keys := listKeys(list)
	out := make([]string, 0, len(keys))
	sv := e.Elem()
	fields := sch.Fields(list, sv.Type())
	for _, k := range keys {
		for _, f := range fields {
			if f.Name == k {
				if t := sch.LeafTexts(sv.Field(f.Index)); len(t) > 0 {
					out = append(out, t[0])
				}
			}
		}
	}
	return out
}

// hasContent reports whether a struct holds anything the view shows.
func hasContent(schema *yang.Entry, ptr reflect.Value, vw view) bool {
	return !ptr.IsNil() && holdsContent(schema, ptr, vw, false)
}

// hasNonKeyContent reports whether list entry e holds anything the view
// shows besides its keys.
func hasNonKeyContent(list *yang.Entry, e reflect.Value, vw view) bool {
	return holdsContent(list, e, vw, true)
}

// holdsContent reports whether the struct ptr points to holds a set leaf,
// a container with content or a list entry the view shows, the keys of
// list schema left out when skipKeys is set.
func holdsContent(schema *yang.Entry, ptr reflect.Value, vw view, skipKeys bool) bool {
	sv := ptr.Elem()
	for _, f := range sch.Fields(schema, sv.Type()) {
		if !vw.keep(f) || skipKeys && isKey(schema, f.Name) {
			continue
		}
		fv := sv.Field(f.Index)
		switch f.Kind {
		case sch.FieldLeaf, sch.FieldLeafList:
			if sch.LeafIsSet(fv) {
				return true
			}
		case sch.FieldContainer:
			if hasContent(f.Schema, fv, vw) {
				return true
			}
		default:
			if fv.Len() > 0 {
				return true
			}
		}
	}
	return false
}

// column is one column of a table: a leaf of the entry or of a container
// directly in it.
type column struct {
	head      string
	container int // field index of the container, -1 for a leaf of the entry
	cschema   *yang.Entry
	field     sch.Field
	width     int
}

// flatList reports whether the entries of a list hold only leaves and
// containers of leaves: then a table says it best.
func flatList(list *yang.Entry, entries []reflect.Value, vw view) bool {
	if len(entries) == 0 {
		return false
	}
	t := entries[0].Elem().Type()
	for _, f := range sch.Fields(list, t) {
		if !vw.keep(f) {
			continue
		}
		switch f.Kind {
		case sch.FieldListMap, sch.FieldListSlice:
			return false
		case sch.FieldContainer:
			ct := t.Field(f.Index).Type.Elem()
			for _, cf := range sch.Fields(f.Schema, ct) {
				if vw.keep(cf) && cf.Kind != sch.FieldLeaf {
					return false
				}
			}
		}
	}
	return true
}

// table writes the entries of a flat list as aligned columns: the keys
// first, then the leaves any entry has, in schema order. It reads the
// entries twice (widths, then rows) and keeps no text between lines.
func table(out lineSink, ind string, list *yang.Entry, entries []reflect.Value, vw view) error {
	t := entries[0].Elem().Type()
	var cols []*column
	fields := sch.Fields(list, t)
	for _, k := range listKeys(list) {
		for _, f := range fields {
			if f.Name == k {
				cols = append(cols, &column{head: f.Name, container: -1, field: f})
			}
		}
	}
	for _, f := range fields {
		if !vw.keep(f) || isKey(list, f.Name) {
			continue
		}
		switch f.Kind {
		case sch.FieldLeaf, sch.FieldLeafList:
			cols = append(cols, &column{head: f.Name, container: -1, field: f})
		case sch.FieldContainer:
			ct := t.Field(f.Index).Type.Elem()
			for _, cf := range sch.Fields(f.Schema, ct) {
				if vw.keep(cf) {
					cols = append(cols, &column{head: cf.Name, container: f.Index, cschema: f.Schema, field: cf})
				}
			}
		}
	}
	used := make([]bool, len(cols))
	for i, c := range cols {
		c.width = len(c.head)
		for _, e := range entries {
			if s, ok := c.text(e); ok {
				used[i] = true
				c.width = max(c.width, len(s))
			}
		}
	}
	var shown []*column
	for i, c := range cols {
		if used[i] {
			shown = append(shown, c)
		}
	}
	var b strings.Builder
	row := func(cell func(c *column) string) error {
		b.Reset()
		b.WriteString(ind)
		for i, c := range shown {
			s := cell(c)
			b.WriteString(s)
			if i < len(shown)-1 {
				b.WriteString(strings.Repeat(" ", c.width-len(s)+2))
			}
		}
		return out.line(strings.TrimRight(b.String(), " "))
	}
	if err := row(func(c *column) string { return c.head }); err != nil {
		return err
	}
	for _, e := range entries {
		if err := row(func(c *column) string { s, _ := c.text(e); return s }); err != nil {
			return err
		}
	}
	return nil
}

func (c *column) text(e reflect.Value) (string, bool) {
	sv := e.Elem()
	if c.container >= 0 {
		cv := sv.Field(c.container)
		if cv.IsNil() {
			return "", false
		}
		sv = cv.Elem()
	}
	fv := sv.Field(c.field.Index)
	if !sch.LeafIsSet(fv) {
		return "", false
	}
	return strings.Join(sch.LeafTexts(fv), ","), true
}

// setNode writes the set lines of the container or list entry ptr at
// path prefix: one bare "set" line for it when it holds nothing more.
func setNode(out lineSink, prefix string, schema *yang.Entry, ptr reflect.Value, vw view, more bool) error {
	if !more {
		return out.line("set" + prefix)
	}
	return setLines(out, prefix, schema, ptr, vw)
}

// setLines writes the set commands that recreate the content of the
// struct behind ptr, whose path is prefix (CLI words).
func setLines(out lineSink, prefix string, schema *yang.Entry, ptr reflect.Value, vw view) error {
	if !ptr.IsValid() || ptr.IsNil() {
		return nil
	}
	sv := ptr.Elem()
	wrote := false
	for _, f := range sch.Fields(schema, sv.Type()) {
		if !vw.keep(f) {
			continue
		}
		fv := sv.Field(f.Index)
		p := prefix + " " + f.Name
		switch f.Kind {
		case sch.FieldLeaf:
			if !sch.LeafIsSet(fv) || (schema.IsList() && isKey(schema, f.Name)) {
				continue
			}
			wrote = true
			if err := out.line("set" + prefix + " " + leafText(f, fv)); err != nil {
				return err
			}
		case sch.FieldLeafList:
			for _, v := range sch.LeafTexts(fv) {
				wrote = true
				if err := out.line("set" + p + " " + quoteWord(v)); err != nil {
					return err
				}
			}
		case sch.FieldContainer:
			if fv.IsNil() {
				continue
			}
			wrote = true
			if err := setNode(out, p, f.Schema, fv, vw, hasContent(f.Schema, fv, vw)); err != nil {
				return err
			}
		case sch.FieldListMap, sch.FieldListSlice:
			for _, e := range listEntries(fv) {
				wrote = true
				ep := p
				for _, k := range keyTexts(f.Schema, e) {
					ep += " " + quoteWord(k)
				}
				if err := setNode(out, ep, f.Schema, e, vw, hasNonKeyContent(f.Schema, e, vw)); err != nil {
					return err
				}
			}
		}
	}
	if !wrote && prefix != "" && schema.IsList() {
		return out.line("set" + prefix)
	}
	return nil
}
