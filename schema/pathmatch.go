package schema

import (
	"context"
	"reflect"
	"strings"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/goyang/pkg/yang"

	"github.com/wirebeat/wirebeat/gen"
)

// Path resolution for gNMI: the schema node a path names, and the data
// nodes a path with wildcards ("*" for a name or a key value, "..." for
// any number of levels, absent keys) selects in a tree. It walks the
// generated structs with the cached field tables, like the encoder.

// NodeKind says what kind of schema node a path names.
type NodeKind uint8

// The kinds of node a path can name.
const (
	KindRoot      NodeKind = iota + 1
	KindContainer          // a container
	KindList               // a whole list (path element without keys)
	KindListEntry          // one list entry (all keys given)
	KindLeaf               // a leaf
	KindLeafList           // a leaf-list
)

// NodeInfo describes the schema node a concrete path names.
type NodeInfo struct {
	Kind   NodeKind
	Schema *yang.Entry
	// Type is the Go type of the node: the struct type (not a pointer) for
	// the root, containers, lists and list entries; the field type for
	// leaves and leaf-lists.
	Type reflect.Type
	// Module defines the node ("" for the root).
	Module string
	// Config is false for state (config false) nodes.
	Config bool
	// Parent is the schema of the enclosing container or list; IsKey says
	// the node is one of the parent list's key leaves.
	Parent *yang.Entry
	IsKey  bool
}

// HasWildcards reports whether a path uses "*" or "..." as a name or "*"
// as a key value.
func HasWildcards(elems []*gpb.PathElem) bool {
	for _, e := range elems {
		if e.Name == "*" || e.Name == "..." {
			return true
		}
		for _, v := range e.Key {
			if v == "*" {
				return true
			}
		}
	}
	return false
}

// ResolveNode returns what the concrete path elems names in the schema.
// An unknown name is TagUnknownElement; keys on a non-list or unknown key
// names are TagBadElement; a list element with some but not all keys is
// TagMissingElement.
func ResolveNode(elems []*gpb.PathElem) (*NodeInfo, error) {
	schema := rootSchema()
	t := reflect.TypeOf(gen.Device{})
	info := &NodeInfo{Kind: KindRoot, Schema: schema, Type: t, Config: true}
	for i, e := range elems {
		path := elemsPath(elems[:i+1])
		if info.Kind == KindLeaf || info.Kind == KindLeafList {
			return nil, Errorf(TagUnknownElement, path, "%s is a leaf and has no children", info.Schema.Name)
		}
		if info.Kind == KindList {
			return nil, Errorf(TagMissingElement, elemsPath(elems[:i]), "list %s needs its keys", info.Schema.Name)
		}
		si := fieldsOf(schema, t)
		j, ok := si.byName[stripPrefix(e.Name)]
		if !ok {
			return nil, Errorf(TagUnknownElement, path, "%s has no child %q", nodeName(schema), e.Name)
		}
		f := &si.fields[j]
		if err := checkKeys(f, e, path); err != nil {
			return nil, err
		}
		parent := schema
		ft := t.Field(f.index).Type
		info = &NodeInfo{Schema: f.schema, Module: f.module, Config: f.config, Parent: parent, Type: ft}
		info.IsKey = parent.IsList() && isKeyOf(parent, f.name)
		switch f.kind {
		case FieldContainer:
			info.Kind, info.Type = KindContainer, ft.Elem()
		case FieldListMap, FieldListSlice:
			info.Type = ft.Elem().Elem()
			info.Kind = KindList
			if len(e.Key) > 0 || f.kind == FieldListSlice {
				info.Kind = KindListEntry
			}
		case FieldLeafList:
			info.Kind = KindLeafList
		default:
			info.Kind = KindLeaf
		}
		schema, t = f.schema, info.Type
	}
	return info, nil
}

// checkKeys refuses keys on nodes that are not lists, unknown key names,
// and a partial set of keys (gNMI specification 3.4.5) unless wildcards
// are allowed, where absent keys mean any value.
func checkKeys(f *fieldInfo, e *gpb.PathElem, path *gpb.Path) error {
	if len(e.Key) == 0 {
		return nil
	}
	if f.kind != FieldListMap {
		return Errorf(TagBadElement, path, "%s is not a keyed list and takes no keys", f.name)
	}
	names := strings.Fields(f.schema.Key)
	for k := range e.Key {
		if !isKeyOf(f.schema, k) {
			return Errorf(TagBadElement, path, "list %s has no key %q (keys: %s)", f.name, k, strings.Join(names, " "))
		}
	}
	if len(e.Key) != len(names) && !HasWildcards([]*gpb.PathElem{e}) {
		return Errorf(TagMissingElement, path, "list %s is keyed by %s: give all of them", f.name, strings.Join(names, " "))
	}
	return nil
}

func nodeName(schema *yang.Entry) string {
	if schema == rootSchema() {
		return "the root"
	}
	return schema.Name
}

// CheckPath reports whether elems, wildcards allowed, can name anything in
// the schema; the error says which element cannot. Absent keys are
// wildcards here.
func CheckPath(elems []*gpb.PathElem) error {
	c := pathChecker{memo: map[checkState]checkResult{}}
	ok, err := c.path(rootSchema(), reflect.TypeOf(gen.Device{}), nil, elems)
	if err != nil {
		return err
	}
	if !ok {
		return Errorf(TagUnknownElement, elemsPath(elems), "the path names nothing in the schema")
	}
	return nil
}

// pathChecker remembers what it found for a schema node and a rest of the
// path: with several "..." the same question comes up many times, and
// answering it once keeps the check linear in schema size times path
// length.
type pathChecker struct {
	memo map[checkState]checkResult
}

type checkState struct {
	schema *yang.Entry
	rest   int
}

type checkResult struct {
	ok  bool
	err error
}

// path matches rest against the schema below the struct type t. It
// returns an error only for a concrete element that cannot match; a
// wildcard that matches nothing gives false.
func (c *pathChecker) path(schema *yang.Entry, t reflect.Type, done, rest []*gpb.PathElem) (bool, error) {
	if len(rest) == 0 {
		return true, nil
	}
	k := checkState{schema, len(rest)}
	if r, ok := c.memo[k]; ok {
		return r.ok, r.err
	}
	ok, err := c.pathOnce(schema, t, done, rest)
	c.memo[k] = checkResult{ok, err}
	return ok, err
}

func (c *pathChecker) pathOnce(schema *yang.Entry, t reflect.Type, done, rest []*gpb.PathElem) (bool, error) {
	e := rest[0]
	si := fieldsOf(schema, t)
	switch e.Name {
	case "...":
		if ok, _ := c.path(schema, t, done, rest[1:]); ok || len(rest) == 1 {
			return true, nil
		}
		for i := range si.fields {
			f := &si.fields[i]
			if ct := structOf(f, t); ct != nil {
				if ok, _ := c.path(f.schema, ct, done, rest); ok {
					return true, nil
				}
			}
		}
		return false, nil
	case "*":
		for i := range si.fields {
			f := &si.fields[i]
			if ok, _ := c.field(f, t, &gpb.PathElem{Name: f.name, Key: e.Key}, done, rest[1:]); ok {
				return true, nil
			}
		}
		return false, nil
	}
	j, ok := si.byName[stripPrefix(e.Name)]
	path := elemsPath(append(done[:len(done):len(done)], e))
	if !ok {
		return false, Errorf(TagUnknownElement, path, "%s has no child %q", nodeName(schema), e.Name)
	}
	return c.field(&si.fields[j], t, e, append(done[:len(done):len(done)], e), rest[1:])
}

func (c *pathChecker) field(f *fieldInfo, t reflect.Type, e *gpb.PathElem, done, rest []*gpb.PathElem) (bool, error) {
	if err := checkKeysWild(f, e, elemsPath(done)); err != nil {
		return false, err
	}
	ct := structOf(f, t)
	if ct == nil {
		// Below a leaf only "..." matching nothing may follow.
		for len(rest) > 0 && rest[0].Name == "..." {
			rest = rest[1:]
		}
		if len(rest) > 0 {
			return false, Errorf(TagUnknownElement, elemsPath(append(done, rest[0])), "%s is a leaf and has no children", f.name)
		}
		return true, nil
	}
	return c.path(f.schema, ct, done, rest)
}

func checkKeysWild(f *fieldInfo, e *gpb.PathElem, path *gpb.Path) error {
	if len(e.Key) == 0 {
		return nil
	}
	if f.kind != FieldListMap {
		return Errorf(TagBadElement, path, "%s is not a keyed list and takes no keys", f.name)
	}
	for k := range e.Key {
		if !isKeyOf(f.schema, k) {
			return Errorf(TagBadElement, path, "list %s has no key %q (keys: %s)", f.name, k, f.schema.Key)
		}
	}
	return nil
}

// structOf returns the struct type of a container or list field of struct
// type t, nil for leaves.
func structOf(f *fieldInfo, t reflect.Type) reflect.Type {
	ft := t.Field(f.index).Type
	switch f.kind {
	case FieldContainer:
		return ft.Elem()
	case FieldListMap, FieldListSlice:
		return ft.Elem().Elem()
	}
	return nil
}

// Match is one data node a path selects.
type Match struct {
	Path   []*gpb.PathElem // concrete: names and every key filled in
	Schema *yang.Entry
	// Value is a pointer to the generated struct for the root, containers
	// and list entries; the field value for leaves and leaf-lists.
	Value  reflect.Value
	Module string // the module defining the node ("" for the root)
	Leaf   bool   // a leaf or leaf-list
}

// MatchPath returns the data nodes of root that elems selects, in schema
// and key order. Wildcards may be used; an absent key matches any value.
// A path that names nothing in the schema simply matches nothing: callers
// check it with CheckPath first to report why.
func MatchPath(root *gen.Device, elems []*gpb.PathElem) ([]Match, error) {
	return MatchPathContext(context.Background(), root, elems)
}

// MatchPathContext is MatchPath, giving up with ctx's error when ctx
// ends. Its work is linear in the tree times the path's length: with two
// or more "..." a node can be reached with the same rest of the path in
// several ways, and it is visited, and matched, once.
func MatchPathContext(ctx context.Context, root *gen.Device, elems []*gpb.PathElem) ([]Match, error) {
	m := matcher{ctx: ctx}
	if root == nil {
		return nil, nil
	}
	descents := 0
	for _, e := range elems {
		if e.GetName() == "..." {
			descents++
		}
	}
	if descents >= 2 {
		m.seen = map[visit]bool{}
	}
	err := m.node(rootSchema(), reflect.ValueOf(root), "", nil, elems)
	return m.out, err
}

type matcher struct {
	out   []Match
	ctx   context.Context
	steps int
	seen  map[visit]bool // nil unless the path can reach a node twice
}

// visit is a node reached with a number of path elements left to match.
type visit struct {
	node uintptr
	rest int
}

// matchCheckEvery is how many nodes are visited between looks at the
// context.
const matchCheckEvery = 1024

// node matches rest below the struct pointer v, whose path is at.
func (m *matcher) node(schema *yang.Entry, v reflect.Value, module string, at, rest []*gpb.PathElem) error {
	if v.IsNil() {
		return nil
	}
	if m.steps++; m.steps%matchCheckEvery == 0 && m.ctx != nil {
		if err := m.ctx.Err(); err != nil {
			return err
		}
	}
	if m.seen != nil {
		k := visit{v.Pointer(), len(rest)}
		if m.seen[k] {
			return nil
		}
		m.seen[k] = true
	}
	if len(rest) == 0 {
		m.out = append(m.out, Match{Path: at, Schema: schema, Value: v, Module: module})
		return nil
	}
	e := rest[0]
	si := fieldsOf(schema, v.Elem().Type())
	switch e.Name {
	case "...":
		if len(rest) == 1 { // everything below: the node itself holds it all
			m.out = append(m.out, Match{Path: at, Schema: schema, Value: v, Module: module})
			return nil
		}
		if err := m.node(schema, v, module, at, rest[1:]); err != nil {
			return err
		}
		for i := range si.fields {
			f := &si.fields[i]
			if f.kind == FieldLeaf || f.kind == FieldLeafList {
				continue
			}
			if err := m.field(f, v, &gpb.PathElem{Name: f.name}, at, rest, false); err != nil {
				return err
			}
		}
		return nil
	case "*":
		for i := range si.fields {
			f := &si.fields[i]
			if err := m.field(f, v, &gpb.PathElem{Name: f.name, Key: e.Key}, at, rest[1:], true); err != nil {
				return err
			}
		}
		return nil
	}
	j, ok := si.byName[stripPrefix(e.Name)]
	if !ok {
		return nil
	}
	return m.field(&si.fields[j], v, e, at, rest[1:], true)
}

// field matches the child f of struct pointer v against e, then rest below
// it. With consume false, rest still starts with the "..." being expanded.
func (m *matcher) field(f *fieldInfo, v reflect.Value, e *gpb.PathElem, at, rest []*gpb.PathElem, consume bool) error {
	fv := v.Elem().Field(f.index)
	if isNil(fv) {
		return nil
	}
	here := func(elem *gpb.PathElem) []*gpb.PathElem {
		return append(at[:len(at):len(at)], elem)
	}
	switch f.kind {
	case FieldContainer:
		return m.node(f.schema, fv, f.module, here(&gpb.PathElem{Name: f.name}), rest)
	case FieldListMap:
		if exact, ok := exactKey(f, fv, e); ok {
			entry := fv.MapIndex(exact)
			if !entry.IsValid() || entry.IsNil() {
				return nil
			}
			return m.node(f.schema, entry, f.module, here(&gpb.PathElem{Name: f.name, Key: listKeys(entry)}), rest)
		}
		for _, entry := range sortedEntries(fv) {
			keys := listKeys(entry)
			if !keysMatch(e.Key, keys) {
				continue
			}
			if err := m.node(f.schema, entry, f.module, here(&gpb.PathElem{Name: f.name, Key: keys}), rest); err != nil {
				return err
			}
		}
		return nil
	case FieldListSlice:
		for i := 0; i < fv.Len(); i++ {
			if err := m.node(f.schema, fv.Index(i), f.module, here(&gpb.PathElem{Name: f.name}), rest); err != nil {
				return err
			}
		}
		return nil
	default: // leaf or leaf-list
		if len(rest) > 0 && !(len(rest) == 1 && rest[0].Name == "..." && consume) {
			return nil
		}
		m.out = append(m.out, Match{Path: here(&gpb.PathElem{Name: f.name}), Schema: f.schema, Value: fv, Module: f.module, Leaf: true})
		return nil
	}
}

// exactKey returns the Go map key when e gives every key without
// wildcards, so that one entry of a million is found without a scan.
func exactKey(f *fieldInfo, m reflect.Value, e *gpb.PathElem) (reflect.Value, bool) {
	if len(e.Key) != len(strings.Fields(f.schema.Key)) || HasWildcards([]*gpb.PathElem{e}) {
		return reflect.Value{}, false
	}
	k, err := mapKey(f.schema, m.Type().Key(), e, nil)
	if err != nil {
		return reflect.Value{}, false
	}
	return k, true
}

// keysMatch reports whether an entry with keys have is selected by want,
// where "*" and absent keys match anything.
func keysMatch(want, have map[string]string) bool {
	for k, v := range want {
		if v != "*" && have[k] != v {
			return false
		}
	}
	return true
}

// PathsOverlap reports whether two paths can name the same node or one a
// node below the other: whether something selected by one is inside
// something selected by the other. Either may hold wildcards ("*" for a
// name or a key value, "..." for any number of levels) and leave keys out
// (any value); module prefixes are ignored. It is the one overlap test of
// the element: subsystems use it to render only requested state, front
// ends to relate an error to the operation that caused it.
func PathsOverlap(a, b []*gpb.PathElem) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		x, y := a[i], b[i]
		if x.Name == "..." || y.Name == "..." {
			return true
		}
		if x.Name != "*" && y.Name != "*" && stripPrefix(x.Name) != stripPrefix(y.Name) {
			return false
		}
		for k, v := range x.Key {
			if w, ok := y.Key[k]; ok && v != "*" && w != "*" && v != w {
				return false
			}
		}
	}
	return true
}

// Covers reports whether any of paths overlaps target (PathsOverlap); an
// empty list of paths means everything.
func Covers(paths []*gpb.Path, target ...*gpb.PathElem) bool {
	if len(paths) == 0 {
		return true
	}
	for _, p := range paths {
		if PathsOverlap(p.GetElem(), target) {
			return true
		}
	}
	return false
}
