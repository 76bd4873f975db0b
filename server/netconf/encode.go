package netconf

import (
	"bytes"
	"reflect"
	"strings"

	"github.com/openconfig/goyang/pkg/yang"

	"github.com/wirebeat/wirebeat/gen"
	sch "github.com/wirebeat/wirebeat/schema"
)

// wdMode is a with-defaults retrieval mode (RFC 6243).
type wdMode uint8

const (
	wdExplicit wdMode = iota // the basic mode: what was set
	wdReportAll
	wdReportAllTagged
	wdTrim
)

func parseWD(s string) (wdMode, bool) {
	switch s {
	case "explicit":
		return wdExplicit, true
	case "report-all":
		return wdReportAll, true
	case "report-all-tagged":
		return wdReportAllTagged, true
	case "trim":
		return wdTrim, true
	}
	return 0, false
}

// xmlEncoder writes data trees as NETCONF XML. It walks one or more trees
// of the same shape at once (configuration and state) so that <get> merges
// them without building a merged tree.
type xmlEncoder struct {
	si         *schemaInfo
	b          *bytes.Buffer
	wd         wdMode
	configOnly bool
	// stateOnly keeps config false nodes and the keys and containers
	// that lead to them (get-data config-filter false, RFC 8526).
	stateOnly bool
	// origins annotates nodes with their origin (RFC 8342 section 5.3.4,
	// get-data with-origin): configuration is or:intended, state
	// or:system, a reported default or:default; written where it differs
	// from the parent's.
	origins bool
	origin  string // in force at the element being written
}

// Origins of the nodes annotated by with-origin.
const (
	originIntended = "or:intended"
	originSystem   = "or:system"
	originDefault  = "or:default"
)

// originAttr returns the annotation an element with origin o needs
// below an element whose origin is the encoder's, or "".
func (e *xmlEncoder) originAttr(o string) string {
	if !e.origins || o == e.origin {
		return ""
	}
	return ` xmlns:or="` + nsOrigin + `" or:origin="` + o + `"`
}

func originOf(config bool) string {
	if config {
		return originIntended
	}
	return originSystem
}

// encodeData writes the top-level nodes of trees selected by filter (nil:
// everything).
func (e *xmlEncoder) encodeData(trees []*gen.Device, filter *fnode) {
	vals := make([]reflect.Value, len(trees))
	for i, t := range trees {
		vals[i] = reflect.ValueOf(t)
	}
	for _, f := range sch.Fields(e.si.root, reflect.TypeOf(gen.Device{})) {
		m := e.si.topModule[f.Name]
		if m == nil {
			continue
		}
		var fs []*fnode
		if filter != nil {
			for _, c := range filter.childrenNamed(f.Name) {
				if c.module == nil || c.module.Namespace == m.Namespace {
					fs = append(fs, c)
				}
			}
			if len(fs) == 0 {
				continue
			}
		}
		e.field(f, reflect.TypeOf(gen.Device{}), fieldValues(vals, f.Index), fs, m.Namespace)
	}
}

func fieldValues(parents []reflect.Value, index int) []reflect.Value {
	out := make([]reflect.Value, 0, len(parents))
	for _, p := range parents {
		if p.IsValid() && !p.IsNil() {
			out = append(out, p.Elem().Field(index))
		}
	}
	return out
}

// field writes one data field of the parents, of struct type parent.
// filters are the filter nodes naming it (nil: no filter, everything below
// is selected). ns, when not empty, is declared as the default namespace on
// the element.
func (e *xmlEncoder) field(f sch.Field, parent reflect.Type, vals []reflect.Value, filters []*fnode, ns string) {
	goType := parent.Field(f.Index).Type
	if e.configOnly && !f.Config {
		return
	}
	if e.origins {
		saved := e.origin
		defer func() { e.origin = saved }()
	}
	switch f.Kind {
	case sch.FieldContainer:
		var present []reflect.Value
		for _, v := range vals {
			if !v.IsNil() {
				present = append(present, v)
			}
		}
		if len(present) == 0 && !(e.wantsDefaults() && !isPresence(f.Schema)) {
			return
		}
		e.instance(f.Schema, goType.Elem(), f.Name, present, filters, ns, nil)
	case sch.FieldListMap:
		e.list(f, goType.Elem().Elem(), vals, filters, ns)
	case sch.FieldLeaf, sch.FieldLeafList:
		e.leaf(f, vals, filters, ns)
	}
}

func (e *xmlEncoder) wantsDefaults() bool { return e.wd == wdReportAll || e.wd == wdReportAllTagged }

func isPresence(s *yang.Entry) bool {
	c, ok := s.Node.(*yang.Container)
	return ok && c.Presence != nil
}

// list writes the entries of a list of entry type t, merged by key across
// the trees.
func (e *xmlEncoder) list(f sch.Field, t reflect.Type, vals []reflect.Value, filters []*fnode, ns string) {
	keys := strings.Fields(f.Schema.Key)
	var maps []reflect.Value
	for _, m := range vals {
		if !m.IsNil() && m.Len() > 0 {
			maps = append(maps, m)
		}
	}
	if len(maps) == 0 {
		return
	}
	entries := sch.SortedMap(maps[0])
	if len(maps) > 1 {
		// Entries of the first tree in order, then those only others have.
		seen := make(map[any]bool, len(entries))
		for _, en := range entries {
			seen[en.Key.Interface()] = true
		}
		var extra []sch.MapEntry
		for _, m := range maps[1:] {
			for _, en := range sch.SortedMap(m) {
				if !seen[en.Key.Interface()] {
					seen[en.Key.Interface()] = true
					extra = append(extra, en)
				}
			}
		}
		entries = append(entries, extra...)
	}
	vs := make([]reflect.Value, 0, len(maps))
	for _, en := range entries {
		vs = vs[:0]
		for _, m := range maps {
			if v := m.MapIndex(en.Key); v.IsValid() && !v.IsNil() {
				vs = append(vs, v)
			}
		}
		e.instance(f.Schema, t, f.Name, vs, filters, ns, keys)
	}
}

// instance writes one container or list entry, if the filters select
// anything of it.
func (e *xmlEncoder) instance(schema *yang.Entry, t reflect.Type, name string, vals []reflect.Value, filters []*fnode, ns string, keys []string) {
	// Which filter nodes does this instance pass? With no filter, all of it.
	var pass []*fnode
	whole := filters == nil
	for _, fl := range filters {
		if !e.matches(schema, vals, fl) {
			continue
		}
		if fl.all || fl.onlyMatches() {
			whole = true
		}
		pass = append(pass, fl)
	}
	if !whole && len(pass) == 0 {
		return
	}
	start := e.b.Len()
	e.open(name, ns)
	if e.origins {
		saved := e.origin
		defer func() { e.origin = saved }()
		o := originOf(!schema.ReadOnly())
		if attr := e.originAttr(o); attr != "" {
			e.b.Truncate(e.b.Len() - 1) // reopen the start tag
			e.b.WriteString(attr + ">")
			e.origin = o
		}
	}
	bodyStart := e.b.Len()
	fields := sch.Fields(schema, t)
	// Keys first, in key order (RFC 7950 section 7.8.5), then the rest.
	stateOnly := e.stateOnly
	e.stateOnly = false // keys name the entry whatever is wanted
	for _, k := range keys {
		for _, f := range fields {
			if f.Name == k {
				e.leaf(f, fieldValues(vals, f.Index), nil, "")
			}
		}
	}
	e.stateOnly = stateOnly
	afterKeys := e.b.Len()
	for _, f := range fields {
		if isKey(keys, f.Name) {
			continue
		}
		var sub []*fnode
		if !whole {
			for _, fl := range pass {
				sub = append(sub, fl.childrenNamed(f.Name)...)
				for _, cm := range fl.contentMatches() {
					if cm.name == f.Name {
						sub = append(sub, &fnode{name: f.Name, all: true})
					}
				}
			}
			if len(sub) == 0 {
				continue
			}
		}
		e.field(f, t, fieldValues(vals, f.Index), sub, "")
	}
	// A container with nothing written below it is left out, unless it
	// exists and was selected whole; with only state wanted, an entry
	// with nothing but its keys too.
	if (e.b.Len() == bodyStart && !(whole && len(vals) > 0 && !e.stateOnly)) || (e.stateOnly && e.b.Len() == afterKeys) {
		e.b.Truncate(start)
		return
	}
	e.close(name)
}

func isKey(keys []string, name string) bool {
	for _, k := range keys {
		if k == name {
			return true
		}
	}
	return false
}

// matches checks the content-match children of fl against the instance.
func (e *xmlEncoder) matches(schema *yang.Entry, vals []reflect.Value, fl *fnode) bool {
	for _, cm := range fl.contentMatches() {
		found := false
		for _, v := range vals {
			leaf, field, ok := sch.LeafField(schema, v, cm.name)
			if !ok || leaf == nil {
				continue
			}
			want := sch.CanonicalText(leaf, cm.match) // as stored
			for _, s := range sch.LeafTexts(field) {
				if s == want {
					found = true
				}
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// leaf writes a leaf or the values of a leaf-list, with its default when
// the with-defaults mode asks for it.
func (e *xmlEncoder) leaf(f sch.Field, vals []reflect.Value, filters []*fnode, ns string) {
	if e.stateOnly && f.Config {
		return
	}
	if filters != nil {
		ok := false
		for _, fl := range filters {
			if fl.all || fl.hasMatch || len(fl.children) == 0 {
				ok = true
			}
		}
		if !ok {
			return
		}
	}
	var texts []string
	for _, v := range vals {
		if sch.LeafIsSet(v) {
			texts = sch.LeafTexts(v)
			break
		}
	}
	def := f.Schema.DefaultValues()
	tagged, fromDefault := false, false
	switch {
	case len(texts) == 0 && e.wantsDefaults() && len(def) > 0 && f.Config:
		texts, tagged, fromDefault = def, e.wd == wdReportAllTagged, true
	case len(texts) > 0 && e.wd == wdTrim && f.Kind == sch.FieldLeaf && len(def) == 1 && texts[0] == def[0]:
		return
	}
	originAttr := ""
	if e.origins {
		o := originOf(f.Config)
		if fromDefault {
			o = originDefault
		}
		originAttr = e.originAttr(o)
	}
	for _, s := range texts {
		e.b.WriteByte('<')
		e.b.WriteString(f.Name)
		if ns != "" {
			e.b.WriteString(` xmlns="`)
			xmlEscape(e.b, ns)
			e.b.WriteByte('"')
		}
		e.b.WriteString(originAttr)
		if tagged {
			e.b.WriteString(` xmlns:wd="` + nsWDAttr + `" wd:default="true"`)
		}
		e.b.WriteByte('>')
		xmlEscape(e.b, s)
		e.close(f.Name)
	}
}

func (e *xmlEncoder) open(name, ns string) {
	e.b.WriteByte('<')
	e.b.WriteString(name)
	if ns != "" {
		e.b.WriteString(` xmlns="`)
		xmlEscape(e.b, ns)
		e.b.WriteByte('"')
	}
	e.b.WriteByte('>')
}

func (e *xmlEncoder) close(name string) {
	e.b.WriteString("</")
	e.b.WriteString(name)
	e.b.WriteByte('>')
}
