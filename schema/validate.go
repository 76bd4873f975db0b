package schema

import (
	"fmt"
	"net/netip"
	"reflect"
	"sort"
	"strings"
	"sync"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/goyang/pkg/yang"
	"github.com/openconfig/ygot/ygot"

	"github.com/wirebeat/wirebeat/gen"
)

// Validate checks a configuration tree against the YANG schema: types,
// ranges, lengths and patterns (one leaf at a time so that the error names
// the keyed path), mandatory leaves, leafref targets, min/max-elements of
// lists and leaf-lists inside present containers and list entries, and
// address syntax. It replaces ygot's generated ΛValidate, about fifteen
// times slower on 100,000 bindings (BenchmarkValidate100k). It stops at
// the first error: a commit is refused as a whole, and one precise error
// is what a client can act on.
//
// old, when not nil, is a configuration that passed these checks (running):
// list entries equal to their counterpart in old are not checked again,
// except for the leafrefs they hold, whose targets may have gone. A one-leaf
// commit next to a million bindings then costs a comparison per binding,
// and with touched (the record of the transactions that made root from
// old) not even that: only the entries they touched are looked at.
func Validate(root, old *gen.Device, touched *Touched) error {
	lr := &leafrefIndex{cache: map[string]map[string]bool{}}
	memo := &addrMemo{}
	return walk(rootSchema(), root, nilIfNone(old), touched, func(n *node) (bool, error) {
		f := n.field
		if !f.config {
			if !isNil(n.value) {
				return true, Errorf(TagInvalidValue, n.fullPath(), "%s is state (config false) and cannot be configured", n.schema.Name)
			}
			return true, nil
		}
		isNode := f.kind == FieldContainer || f.kind == FieldListMap || f.kind == FieldListSlice
		switch {
		case isNode && n.value.Kind() == reflect.Ptr && n.unchanged():
			if !f.leafref {
				return true, nil
			}
			return true, lr.checkBelow(n)
		case isNode:
			if isNil(n.value) {
				// A non-presence container that is absent still holds
				// its mandatory leaves when its parent exists.
				if n.schema.IsContainer() && !isPresence(n.schema) {
					return true, missingMandatory(n.schema, n.fullPath().Elem)
				}
				return true, nil
			}
			return false, checkMandatory(n)
		case n.schema.IsLeaf() || n.schema.IsLeafList():
			if isNil(n.value) {
				return false, nil
			}
			if err := validateLeaf(n, memo); err != nil {
				return false, err
			}
			if n.schema.Type == nil || n.schema.Type.Kind != yang.Yleafref {
				return false, nil
			}
			return false, lr.check(n)
		}
		return false, nil
	})
}

func isPresence(e *yang.Entry) bool {
	if e.Node == nil {
		return false
	}
	c, ok := e.Node.(*yang.Container)
	return ok && c.Presence != nil
}

func isNil(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Ptr, reflect.Map, reflect.Slice, reflect.Interface:
		return v.IsNil()
	case reflect.Int64:
		// Generated enums: zero is UNSET.
		_, isEnum := v.Interface().(ygot.GoEnum)
		return isEnum && v.Int() == 0
	}
	return false
}

// checkMandatory reports the first mandatory leaf of the container or list
// entry v that is missing. Mandatory leaves of absent non-presence child
// containers are found when walk reaches those children.
func checkMandatory(n *node) error {
	sv := n.value.Elem()
	si := n.field.child
	if si == nil {
		si = fieldsOf(n.schema, sv.Type())
	}
	for i := range si.fields {
		f := &si.fields[i]
		if f.kind == FieldLeaf && f.config && f.schema.Mandatory == yang.TSTrue && isNil(sv.Field(f.index)) {
			path := n.fullPath().Elem
			return Errorf(TagDataMissing, elemsPath(append(path, &gpb.PathElem{Name: f.name})),
				"mandatory leaf %s is missing", f.name)
		}
		if err := checkElements(n, f, sv.Field(f.index)); err != nil {
			return err
		}
	}
	return nil
}

// checkElements enforces min-elements and max-elements of a list or
// leaf-list in the container or list entry n (RFC 7950 sections 7.7.5,
// 7.7.6 and 15.2, 15.3: operation-failed with too-few-elements or
// too-many-elements).
func checkElements(n *node, f *fieldInfo, fv reflect.Value) error {
	la := f.schema.ListAttr
	if la == nil || !f.config || (f.kind != FieldListMap && f.kind != FieldListSlice && f.kind != FieldLeafList) {
		return nil
	}
	count := uint64(0)
	if !isNil(fv) {
		count = uint64(fv.Len())
	}
	path := func() *gpb.Path { return elemsPath(append(n.fullPath().Elem, &gpb.PathElem{Name: f.name})) }
	if count < la.MinElements {
		return &Error{Tag: TagOperationFailed, AppTag: "too-few-elements", Path: path(),
			Message: fmt.Sprintf("%s has %d elements, at least %d are required", f.name, count, la.MinElements)}
	}
	if la.MaxElements != 0 && count > la.MaxElements {
		return &Error{Tag: TagOperationFailed, AppTag: "too-many-elements", Path: path(),
			Message: fmt.Sprintf("%s has %d elements, at most %d are allowed", f.name, count, la.MaxElements)}
	}
	return nil
}

// missingMandatory reports a mandatory leaf below an absent non-presence
// container (for example port-set/psid-length when port-set is not given).
func missingMandatory(schema *yang.Entry, path []*gpb.PathElem) error {
	for _, name := range sortedDir(schema) {
		child := schema.Dir[name]
		if child.ReadOnly() {
			continue
		}
		p := append(path[:len(path):len(path)], &gpb.PathElem{Name: name})
		switch {
		case child.IsLeaf() && child.Mandatory == yang.TSTrue:
			return Errorf(TagDataMissing, elemsPath(p), "mandatory leaf %s is missing", name)
		case child.IsContainer() && !isPresence(child):
			if err := missingMandatory(child, p); err != nil {
				return err
			}
		}
	}
	return nil
}

func sortedDir(e *yang.Entry) []string {
	names := make([]string, 0, len(e.Dir))
	for n := range e.Dir {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// cleanYtypesError keeps the part of a ytypes message that speaks about
// the value; the schema path it also prints is replaced by our keyed path.
func cleanYtypesError(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 && strings.Contains(msg[:i], "schema") {
		msg = msg[i+2:]
	}
	return msg
}

// validateLeaf checks one present leaf or leaf-list against its type;
// memo (nil for none) spares parsing an address again.
func validateLeaf(n *node, memo *addrMemo) error {
	c := n.field.checker
	if c == nil {
		c = checkerFor(n.schema)
	}
	if err := c.checkValue(n.schema, n.value); err != nil {
		return &Error{Tag: TagInvalidValue, Path: n.fullPath(), Message: cleanYtypesError(err), Err: err}
	}
	return checkLeafSyntax(n, memo)
}

// Address typedefs of wirebeat-types whose full syntax the YANG pattern
// cannot express; they are parsed here.
func checkLeafSyntax(n *node, memo *addrMemo) error {
	if !isAddressType(n.schema.Type.Name) {
		return nil
	}
	if v := n.value; v.Kind() == reflect.Ptr && v.Elem().Kind() == reflect.String {
		// One address leaf: no slice of its text.
		s := v.Elem().String()
		if memo.known(n.schema, s) {
			return nil
		}
		if checkAddrType(n.schema.Type, s) != nil {
			return Errorf(TagInvalidValue, n.fullPath(), "%q: %v", s, checkAddrType(n.schema.Type, s))
		}
		memo.remember(n.schema, s)
		return nil
	}
	for _, s := range leafStrings(n.value) {
		if err := checkAddrType(n.schema.Type, s); err != nil {
			return Errorf(TagInvalidValue, n.fullPath(), "%q: %v", s, err)
		}
	}
	return nil
}

// addrMemo holds, for a few address leaves, the last text that passed a
// check depending only on the text and the leaf's type (checkAddrType in
// Validate, being canonical already in Canonicalize). The bindings of an
// lwAFTR mostly share one br-address: parsing it again for each of
// 100,000 entries of a commit tells nothing new.
type addrMemo struct {
	leaf [4]*yang.Entry
	text [4]string
}

// known reports whether s is the text that last passed for leaf; a nil
// memo knows nothing.
func (m *addrMemo) known(leaf *yang.Entry, s string) bool {
	if m == nil {
		return false
	}
	for i, l := range m.leaf {
		if l == leaf {
			return m.text[i] == s
		}
	}
	return false
}

// remember records that s passed for leaf (only for the first four leaves
// met: the others are parsed each time).
func (m *addrMemo) remember(leaf *yang.Entry, s string) {
	if m == nil {
		return
	}
	for i, l := range m.leaf {
		if l == leaf || l == nil {
			m.leaf[i], m.text[i] = leaf, s
			return
		}
	}
}

func checkAddrType(t *yang.YangType, s string) error {
	if t == nil {
		return nil
	}
	switch t.Name {
	case "ipv4-address", "ipv6-address", "ip-address":
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return fmt.Errorf("not an %s", t.Name)
		}
		if (t.Name == "ipv4-address" && !a.Is4()) || (t.Name == "ipv6-address" && !a.Is6()) {
			return fmt.Errorf("not an %s", t.Name)
		}
	case "ipv4-prefix", "ipv6-prefix", "ip-prefix":
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return fmt.Errorf("not an %s", t.Name)
		}
		if (t.Name == "ipv4-prefix" && !p.Addr().Is4()) || (t.Name == "ipv6-prefix" && !p.Addr().Is6()) {
			return fmt.Errorf("not an %s", t.Name)
		}
	}
	return nil
}

// leafrefIndex checks that leafref leaves point at existing instances. The
// set of instances of a target is computed once per commit and per context
// node, so a million references to a dozen profiles cost a million map
// lookups.
type leafrefIndex struct {
	cache map[string]map[string]bool
}

func (lr *leafrefIndex) check(n *node) error {
	t := n.schema.Type
	if t == nil || t.Kind != yang.Yleafref || !requireInstance(t) {
		return nil
	}
	start, names, err := leafrefStart(t.Path, n.parents)
	if err != nil {
		return Errorf(TagOperationFailed, n.fullPath(), "leafref %s: %v", t.Path, err)
	}
	key := fmt.Sprintf("%p|%s", start.Interface(), strings.Join(names, "/"))
	set, ok := lr.cache[key]
	if !ok {
		set = map[string]bool{}
		collectLeaf(start, names, set)
		lr.cache[key] = set
	}
	for _, s := range leafStrings(n.value) {
		if !set[s] {
			return &Error{Tag: TagDataMissing, AppTag: "instance-required", Path: n.fullPath(),
				Message: fmt.Sprintf("%q refers to %s, which does not exist", s, t.Path)}
		}
	}
	return nil
}

func requireInstance(t *yang.YangType) bool {
	return !t.OptionalInstance
}

// leafrefStart turns a leafref path without predicates into the data node
// it starts from (an ancestor of the referring leaf, or the root) and the
// names to descend from there.
func leafrefStart(p string, parents []reflect.Value) (reflect.Value, []string, error) {
	if strings.ContainsAny(p, "[]") {
		return reflect.Value{}, nil, fmt.Errorf("predicates in leafref paths are not supported")
	}
	p = strings.TrimSpace(p)
	var start reflect.Value
	var segs []string
	if strings.HasPrefix(p, "/") {
		start = parents[0]
		segs = strings.Split(strings.TrimPrefix(p, "/"), "/")
	} else {
		segs = strings.Split(p, "/")
		ups := 0
		for ups < len(segs) && segs[ups] == ".." {
			ups++
		}
		if ups == 0 || ups > len(parents) {
			return reflect.Value{}, nil, fmt.Errorf("relative path leaves the tree")
		}
		// The first ".." moves from the leaf to its parent, the innermost
		// entry of parents.
		start = parents[len(parents)-ups]
		segs = segs[ups:]
	}
	names := make([]string, len(segs))
	for i, s := range segs {
		if j := strings.IndexByte(s, ':'); j >= 0 {
			s = s[j+1:]
		}
		names[i] = s
	}
	return start, names, nil
}

// collectLeaf gathers the printed values of the leaves found by descending
// names from the struct pointer v, fanning out over list entries.
func collectLeaf(v reflect.Value, names []string, set map[string]bool) {
	if isNil(v) {
		return
	}
	switch v.Kind() {
	case reflect.Map:
		for _, k := range v.MapKeys() {
			collectLeaf(v.MapIndex(k), names, set)
		}
		return
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Ptr && v.Type().Elem().Elem().Kind() == reflect.Struct {
			for i := 0; i < v.Len(); i++ {
				collectLeaf(v.Index(i), names, set)
			}
			return
		}
	}
	if len(names) == 0 {
		for _, s := range leafStrings(v) {
			set[s] = true
		}
		return
	}
	if v.Kind() != reflect.Ptr || v.Elem().Kind() != reflect.Struct {
		return
	}
	if i, ok := tagIndex(v.Elem().Type())[names[0]]; ok {
		collectLeaf(v.Elem().Field(i), names[1:], set)
	}
}

// checkBelow checks the leafrefs inside an unchanged list entry.
func (lr *leafrefIndex) checkBelow(n *node) error {
	parents := append(n.parents[:len(n.parents):len(n.parents)], n.value)
	return walkStruct(n.schema, n.value, reflect.Value{}, n.path, parents, nil, func(c *node) (bool, error) {
		if c.schema.ReadOnly() || ((c.schema.IsList() || c.schema.IsContainer()) && !hasLeafref(c.schema)) {
			return true, nil
		}
		if (c.schema.IsLeaf() || c.schema.IsLeafList()) && !isNil(c.value) {
			return false, lr.check(c)
		}
		return false, nil
	}, &node{})
}

// tagIndex maps the path tags of a generated struct type to field indexes.
func tagIndex(t reflect.Type) map[string]int {
	if m, ok := tagIndexes.Load(t); ok {
		return m.(map[string]int)
	}
	m := map[string]int{}
	for i := 0; i < t.NumField(); i++ {
		if tag, ok := t.Field(i).Tag.Lookup("path"); ok {
			m[tag] = i
		}
	}
	tagIndexes.Store(t, m)
	return m
}

var tagIndexes sync.Map // reflect.Type -> map[string]int

// ValidateTypes checks the leaves of a tree against their YANG types only;
// references and mandatory leaves may be completed by later edits of a
// candidate.
func ValidateTypes(root *gen.Device) error {
	return walk(rootSchema(), root, nil, nil, func(n *node) (bool, error) {
		if n.schema.ReadOnly() {
			if !isNil(n.value) {
				return true, Errorf(TagInvalidValue, n.fullPath(), "%s is state (config false) and cannot be configured", n.schema.Name)
			}
			return true, nil
		}
		if (n.schema.IsLeaf() || n.schema.IsLeafList()) && !isNil(n.value) {
			if err := validateLeaf(n, nil); err != nil {
				return false, err
			}
		}
		return false, nil
	})
}
