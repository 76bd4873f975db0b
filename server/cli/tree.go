package cli

import (
	"encoding/xml"
	"fmt"
	"io/fs"
	"reflect"
	"regexp"
	"strings"
	"sync"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/goyang/pkg/yang"

	"github.com/wirebeat/wirebeat/gen"
	sch "github.com/wirebeat/wirebeat/schema"
	wbyang "github.com/wirebeat/wirebeat/yang"
)

// rootSchema is the schema of the element's tree.
func rootSchema() *yang.Entry { return gen.SchemaTree["Device"] }

// prune returns a new tree holding only what elems names in root (shared
// with root, not copied), and whether it exists. JSON, XML and set lines
// of a subtree are rendered from it, so they carry the path above the
// subtree as the formats require.
func prune(root *gen.Device, elems []*gpb.PathElem) (*gen.Device, bool) {
	out := &gen.Device{}
	if len(elems) == 0 {
		return root, true
	}
	ok := pruneInto(reflect.ValueOf(out), reflect.ValueOf(root), rootSchema(), elems)
	return out, ok
}

func pruneInto(dst, src reflect.Value, schema *yang.Entry, elems []*gpb.PathElem) bool {
	if src.IsNil() {
		return false
	}
	e := elems[0]
	last := len(elems) == 1
	var f *sch.Field
	for _, x := range sch.Fields(schema, src.Elem().Type()) {
		if x.Name == e.Name {
			x := x
			f = &x
		}
	}
	if f == nil {
		return false
	}
	sf := src.Elem().Field(f.Index)
	df := dst.Elem().Field(f.Index)
	switch f.Kind {
	case sch.FieldContainer:
		if sf.IsNil() {
			return false
		}
		if last {
			df.Set(sf)
			return true
		}
		n := reflect.New(sf.Type().Elem())
		if !pruneInto(n, sf, f.Schema, elems[1:]) {
			return false
		}
		df.Set(n)
		return true
	case sch.FieldListMap:
		if sf.Len() == 0 {
			return false
		}
		if len(e.Key) == 0 {
			if !last {
				return false
			}
			df.Set(sf)
			return true
		}
		key, err := mapKeyOf(f.Schema, sf.Type(), e.Key)
		if err != nil {
			return false
		}
		entry := sf.MapIndex(key)
		if !entry.IsValid() || entry.IsNil() {
			return false
		}
		m := reflect.MakeMap(sf.Type())
		if last {
			m.SetMapIndex(key, entry)
			df.Set(m)
			return true
		}
		n := reflect.New(entry.Type().Elem())
		copyKeys(f.Schema, n, entry)
		if !pruneInto(n, entry, f.Schema, elems[1:]) {
			return false
		}
		m.SetMapIndex(key, n)
		df.Set(m)
		return true
	case sch.FieldLeaf, sch.FieldLeafList:
		if !last || !sch.LeafIsSet(sf) {
			return false
		}
		df.Set(sf)
		return true
	}
	return false
}

// mapKeyOf builds the Go map key of a generated list from the text of its
// keys, through an entry set with the core's leaf codec.
func mapKeyOf(list *yang.Entry, mapType reflect.Type, keys map[string]string) (reflect.Value, error) {
	tmp := reflect.New(mapType.Elem().Elem())
	for k, v := range keys {
		leaf, field, ok := sch.LeafField(list, tmp, k)
		if !ok {
			return reflect.Value{}, fmt.Errorf("list %s has no key %s", list.Name, k)
		}
		if err := sch.SetLeafText(leaf, field, v); err != nil {
			return reflect.Value{}, err
		}
	}
	kt := mapType.Key()
	if kt.Kind() == reflect.Struct {
		k := reflect.New(kt).Elem()
		for i := 0; i < kt.NumField(); i++ {
			f := tmp.Elem().FieldByName(kt.Field(i).Name)
			if f.Kind() == reflect.Ptr {
				f = f.Elem()
			}
			k.Field(i).Set(f.Convert(kt.Field(i).Type))
		}
		return k, nil
	}
	names := listKeys(list)
	if len(names) == 0 {
		return reflect.Value{}, fmt.Errorf("list %s has no keys", list.Name)
	}
	_, field, _ := sch.LeafField(list, tmp, names[0])
	if field.Kind() == reflect.Ptr {
		field = field.Elem()
	}
	return field.Convert(kt), nil
}

func copyKeys(list *yang.Entry, dst, src reflect.Value) {
	for _, k := range listKeys(list) {
		_, df, ok := sch.LeafField(list, dst, k)
		_, sf, ok2 := sch.LeafField(list, src, k)
		if ok && ok2 {
			df.Set(sf)
		}
	}
}

// nodeOf returns the struct pointer (containers, list entries) or field
// (leaves) at elems of root; invalid when absent. A whole list gives its
// map.
func nodeOf(root *gen.Device, elems []*gpb.PathElem) reflect.Value {
	cur := reflect.ValueOf(root)
	schema := rootSchema()
	for _, e := range elems {
		if !cur.IsValid() || cur.Kind() != reflect.Ptr || cur.IsNil() {
			return reflect.Value{}
		}
		var f *sch.Field
		for _, x := range sch.Fields(schema, cur.Elem().Type()) {
			if x.Name == e.Name {
				x := x
				f = &x
			}
		}
		if f == nil {
			return reflect.Value{}
		}
		fv := cur.Elem().Field(f.Index)
		schema = f.Schema
		switch f.Kind {
		case sch.FieldListMap:
			if len(e.Key) == 0 {
				cur = fv
				continue
			}
			if fv.Len() == 0 {
				return reflect.Value{}
			}
			k, err := mapKeyOf(f.Schema, fv.Type(), e.Key)
			if err != nil {
				return reflect.Value{}
			}
			cur = fv.MapIndex(k)
		default:
			cur = fv
		}
	}
	if cur.IsValid() && (cur.Kind() == reflect.Ptr || cur.Kind() == reflect.Map || cur.Kind() == reflect.Slice) && cur.IsNil() {
		return reflect.Value{}
	}
	return cur
}

var (
	reModule    = regexp.MustCompile(`(?m)^module\s+([\w\-]+)`)
	reNamespace = regexp.MustCompile(`(?m)^\s*namespace\s+"([^"]+)"`)
	nsOnce      sync.Once
	namespaces  map[string]string // module -> namespace
)

// namespaceOf returns the XML namespace of one of our modules, read from
// the embedded module texts (the generated schema does not keep it).
func namespaceOf(module string) string {
	nsOnce.Do(func() {
		namespaces = map[string]string{}
		files, _ := fs.Glob(wbyang.Files, "*.yang")
		for _, f := range files {
			b, err := fs.ReadFile(wbyang.Files, f)
			if err != nil {
				continue
			}
			m, n := reModule.FindSubmatch(b), reNamespace.FindSubmatch(b)
			if m != nil && n != nil {
				namespaces[string(m[1])] = string(n[1])
			}
		}
	})
	return namespaces[module]
}

// xmlTree writes a tree as NETCONF XML: each top node with its module's
// namespace, list keys first in their entries.
func xmlTree(out lineSink, root *gen.Device, vw view) error {
	if err := out.line(`<data xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">`); err != nil {
		return err
	}
	if err := xmlNode(out, rootSchema(), reflect.ValueOf(root), "", 1, vw); err != nil {
		return err
	}
	return out.line("</data>")
}

func xmlNode(out lineSink, schema *yang.Entry, ptr reflect.Value, module string, depth int, vw view) error {
	if ptr.IsNil() {
		return nil
	}
	ind := strings.Repeat("  ", depth)
	sv := ptr.Elem()
	fields := sch.Fields(schema, sv.Type())
	if schema.IsList() { // keys first (RFC 7950 section 7.8.5)
		ordered := make([]sch.Field, 0, len(fields))
		for _, k := range listKeys(schema) {
			for _, f := range fields {
				if f.Name == k {
					ordered = append(ordered, f)
				}
			}
		}
		for _, f := range fields {
			if !isKey(schema, f.Name) {
				ordered = append(ordered, f)
			}
		}
		fields = ordered
	}
	for _, f := range fields {
		if !vw.keep(f) && !(schema.IsList() && isKey(schema, f.Name)) {
			continue
		}
		fv := sv.Field(f.Index)
		open := f.Name
		if f.Module != module {
			if ns := namespaceOf(f.Module); ns != "" {
				open += ` xmlns="` + ns + `"`
			}
		}
		switch f.Kind {
		case sch.FieldLeaf, sch.FieldLeafList:
			if !sch.LeafIsSet(fv) {
				continue
			}
			for _, v := range sch.LeafTexts(fv) {
				var b strings.Builder
				_ = xml.EscapeText(&b, []byte(v))
				if err := out.line(ind + "<" + open + ">" + b.String() + "</" + f.Name + ">"); err != nil {
					return err
				}
			}
		case sch.FieldContainer:
			if !hasContent(f.Schema, fv, vw) {
				continue
			}
			if err := out.line(ind + "<" + open + ">"); err != nil {
				return err
			}
			if err := xmlNode(out, f.Schema, fv, f.Module, depth+1, vw); err != nil {
				return err
			}
			if err := out.line(ind + "</" + f.Name + ">"); err != nil {
				return err
			}
		case sch.FieldListMap, sch.FieldListSlice:
			for _, e := range listEntries(fv) {
				if err := out.line(ind + "<" + open + ">"); err != nil {
					return err
				}
				if err := xmlNode(out, f.Schema, e, f.Module, depth+1, vw); err != nil {
					return err
				}
				if err := out.line(ind + "</" + f.Name + ">"); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
