package cli

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	gpb "github.com/openconfig/gnmi/proto/gnmi"

	"github.com/wirebeat/wirebeat/gen"
	sch "github.com/wirebeat/wirebeat/schema"
)

// show | compare, Junos style: the core's diff of running and the
// candidate (schema.Changes, the one diff of the element), each change
// under the [edit ...] header of the node that holds it, the old text of
// the node with "-" and the new with "+":
//
//	[edit bfd profiles profile x]
//	-    detection-multiplier 3;
//	+    detection-multiplier 5;
//	[edit bfd single-hop]
//	+    session eth0 192.0.2.1 {
//	+        profile x;
//	+    }
//
// Only what changed is rendered: a leaf changed next to a million
// bindings prints two lines, and the bindings are never turned into text.

// compareNode is one node to print: its header, its field, its value in
// running and in the candidate (invalid where absent).
type compareNode struct {
	header []*gpb.PathElem
	field  sch.Field
	key    *gpb.PathElem // the entry's keys, for a list entry
	old    reflect.Value
	new    reflect.Value
	order  string
}

// compare writes the changes of the candidate against running below path.
func (c *configMode) compare(path *cliPath, sink lineSink) error {
	running := c.sess.srv.core.Running()
	var nodes []compareNode
	if running != c.cand {
		for _, ch := range sch.Changes(running, c.cand, nil) {
			elems := ch.Path.GetElem()
			switch {
			case hasPrefix(elems, path.elems):
				if n, ok := nodeFor(running, c.cand, elems); ok {
					nodes = append(nodes, n)
				}
			case hasPrefix(path.elems, elems) && len(path.elems) > 0:
				// The change holds the node shown (an entry made or
				// removed as a whole): print the node shown.
				if n, ok := nodeFor(running, c.cand, path.elems); ok {
					nodes = append(nodes, n)
				}
			}
		}
	}
	if len(nodes) == 0 {
		return nil
	}
	sort.SliceStable(nodes, func(i, j int) bool { return nodes[i].order < nodes[j].order })
	last := ""
	for i, n := range nodes {
		if i > 0 && n.order == nodes[i-1].order {
			continue // the node shown, reached by several changes
		}
		h := "[edit]"
		if len(n.header) > 0 {
			h = "[edit " + strings.Join(cliWords(rootSchema(), n.header), " ") + "]"
		}
		if h != last {
			if err := sink.line(h); err != nil {
				return err
			}
			last = h
		}
		if n.field.Kind == sch.FieldLeafList && n.old.IsValid() && n.new.IsValid() && sch.LeafIsSet(n.old) && sch.LeafIsSet(n.new) {
			// A leaf-list changed: the values that went and came.
			if err := leafListDiff(sink, n.field.Name, sch.LeafTexts(n.old), sch.LeafTexts(n.new)); err != nil {
				return err
			}
			continue
		}
		if err := n.render(&signSink{out: sink, sign: "-"}, n.old); err != nil {
			return err
		}
		if err := n.render(&signSink{out: sink, sign: "+"}, n.new); err != nil {
			return err
		}
	}
	return nil
}

// hasPrefix reports whether path starts with prefix; an element of the
// prefix without keys stands for every entry of its list.
func hasPrefix(path, prefix []*gpb.PathElem) bool {
	if len(prefix) > len(path) {
		return false
	}
	for i, p := range prefix {
		e := path[i]
		if e.Name != p.Name {
			return false
		}
		if len(p.Key) == 0 {
			continue
		}
		if len(e.Key) != len(p.Key) {
			return false
		}
		for k, v := range p.Key {
			if canonical(e.Key[k]) != canonical(v) {
				return false
			}
		}
	}
	return true
}

// nodeFor finds the field of the node at elems and its values in both
// trees, and its place in schema order: field positions, and key texts
// (numbers padded so that they sort by value, as the show output does).
func nodeFor(a, b *gen.Device, elems []*gpb.PathElem) (compareNode, bool) {
	if len(elems) == 0 {
		return compareNode{}, false
	}
	schema := rootSchema()
	t := reflect.TypeOf(gen.Device{})
	var order strings.Builder
	var f sch.Field
	for i, e := range elems {
		found := false
		for _, x := range sch.Fields(schema, t) {
			if x.Name == e.Name {
				f, found = x, true
				break
			}
		}
		if !found {
			return compareNode{}, false
		}
		fmt.Fprintf(&order, "%04d\x00", f.Index)
		schema = f.Schema
		ft := t.Field(f.Index).Type
		switch f.Kind {
		case sch.FieldContainer:
			t = ft.Elem()
		case sch.FieldListMap, sch.FieldListSlice:
			t = ft.Elem().Elem()
			for _, k := range listKeys(f.Schema) {
				v := e.Key[k]
				if isDigits(v) {
					v = strings.Repeat("0", max(0, 20-len(v))) + v
				}
				order.WriteString(v + "\x01")
			}
		default:
			if i != len(elems)-1 {
				return compareNode{}, false
			}
		}
	}
	n := compareNode{header: elems[:len(elems)-1], field: f, old: nodeOf(a, elems), new: nodeOf(b, elems), order: order.String()}
	if len(elems[len(elems)-1].Key) > 0 {
		n.key = elems[len(elems)-1]
	}
	return n, true
}

// render writes the node's text as it is in one tree, nothing if absent.
func (n compareNode) render(out lineSink, v reflect.Value) error {
	if !v.IsValid() {
		return nil
	}
	ind := indentUnit
	f := n.field
	switch f.Kind {
	case sch.FieldLeaf, sch.FieldLeafList:
		if !sch.LeafIsSet(v) {
			return nil
		}
		return out.line(ind + leafText(f, v) + ";")
	case sch.FieldContainer:
		if v.IsNil() || !hasContent(f.Schema, v, view{}) {
			return nil
		}
		if err := out.line(ind + f.Name + " {"); err != nil {
			return err
		}
		if err := brace(out, f.Schema, v, 2, view{}); err != nil {
			return err
		}
		return out.line(ind + "}")
	}
	// A list: one entry, or (shown without keys) all of them.
	entries := []reflect.Value{v}
	if v.Kind() != reflect.Ptr {
		entries = listEntries(v)
	}
	for _, e := range entries {
		if e.IsNil() {
			continue
		}
		head := ind + f.Name
		for _, k := range keyTexts(f.Schema, e) {
			head += " " + quoteWord(k)
		}
		if !hasNonKeyContent(f.Schema, e, view{}) {
			if err := out.line(head + ";"); err != nil {
				return err
			}
			continue
		}
		if err := out.line(head + " {"); err != nil {
			return err
		}
		if err := brace(out, f.Schema, e, 2, view{}); err != nil {
			return err
		}
		if err := out.line(ind + "}"); err != nil {
			return err
		}
	}
	return nil
}

// leafListDiff writes the values of a leaf-list removed (-) and added (+).
func leafListDiff(sink lineSink, name string, old, new []string) error {
	in := func(vs []string, v string) bool {
		for _, x := range vs {
			if x == v {
				return true
			}
		}
		return false
	}
	for _, v := range old {
		if !in(new, v) {
			if err := sink.line("-" + indentUnit + name + " " + quoteWord(v) + ";"); err != nil {
				return err
			}
		}
	}
	for _, v := range new {
		if !in(old, v) {
			if err := sink.line("+" + indentUnit + name + " " + quoteWord(v) + ";"); err != nil {
				return err
			}
		}
	}
	return nil
}

// signSink puts a diff sign before each line.
type signSink struct {
	out  lineSink
	sign string
}

func (s *signSink) line(l string) error { return s.out.line(s.sign + l) }
