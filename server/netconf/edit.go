package netconf

import (
	"reflect"
	"strings"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/goyang/pkg/yang"
	"github.com/openconfig/ygot/ygot"

	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/server"
)

// Edit operations of RFC 6241 section 7.2.
const (
	opMerge   = "merge"
	opReplace = "replace"
	opCreate  = "create"
	opDelete  = "delete"
	opRemove  = "remove"
	opNone    = "none"
)

func validOp(s string) bool {
	switch s {
	case opMerge, opReplace, opCreate, opDelete, opRemove:
		return true
	}
	return false
}

// editor applies the content of a <config> element to a transaction.
type editor struct {
	si *schemaInfo
	tx *server.Tx
}

// applyTop applies one top-level element of <config>.
func (ed *editor) applyTop(x *xnode, defaultOp string) error {
	m := ed.si.byNS[x.Name.Space]
	if m == nil {
		e := badElement(server.TagUnknownNamespace, x.Name.Local, "namespace %q is not one of this element's modules", x.Name.Space)
		e.BadNS = x.Name.Space
		return e
	}
	schema := ed.si.root.Dir[x.Name.Local]
	if schema == nil || !isData(schema) || ed.si.topModule[x.Name.Local] != m {
		return badElement(server.TagUnknownElement, x.Name.Local, "module %s has no top-level node %q", m.Name, x.Name.Local)
	}
	return ed.apply(schema, nil, x, defaultOp)
}

// opOf returns the operation in force at x: its operation attribute or the
// inherited one.
func opOf(x *xnode, inherited string) (string, bool, error) {
	if v, ok := x.attr(nsBase, "operation"); ok {
		if !validOp(v) {
			e := badElement(server.TagBadAttribute, x.Name.Local, "operation %q is not merge, replace, create, delete or remove", v)
			e.BadAttr = "operation"
			return "", false, e
		}
		return v, true, nil
	}
	return inherited, false, nil
}

// apply applies element x, whose schema is schema, below the node at
// parent (the keyed path of its parent data node).
func (ed *editor) apply(schema *yang.Entry, parent []*gpb.PathElem, x *xnode, inherited string) error {
	op, _, err := opOf(x, inherited)
	if err != nil {
		return err
	}
	if schema.ReadOnly() {
		return &rpcError{Type: "application", Tag: server.TagInvalidValue, Path: pathOf(parent, x.Name.Local, nil),
			Message: x.Name.Local + " is state (config false) and cannot be configured", BadElement: x.Name.Local}
	}
	switch {
	case schema.IsContainer():
		return ed.node(schema, append(clonePath(parent), &gpb.PathElem{Name: x.Name.Local}), x, op)
	case schema.IsList():
		keys, err := listKeys(schema, parent, x)
		if err != nil {
			return err
		}
		return ed.node(schema, append(clonePath(parent), &gpb.PathElem{Name: x.Name.Local, Key: keys}), x, op)
	case schema.IsLeaf() || schema.IsLeafList():
		return ed.leaf(schema, parent, x, op)
	}
	return badElement(server.TagUnknownElement, x.Name.Local, "%s is not a data node", x.Name.Local)
}

// node applies a container or list entry.
func (ed *editor) node(schema *yang.Entry, path []*gpb.PathElem, x *xnode, op string) error {
	p := &gpb.Path{Elem: path}
	exists := func() (bool, error) {
		n, err := ed.tx.Lookup(p)
		return n != nil, err
	}
	childOp := op
	switch op {
	case opDelete, opRemove:
		ok, err := ed.tx.Delete(p)
		if err != nil {
			return err
		}
		if !ok && op == opDelete {
			return &rpcError{Type: "application", Tag: server.TagDataMissing, Path: p, Message: "cannot delete " + x.Name.Local + ": it does not exist"}
		}
		return nil
	case opCreate:
		ok, err := exists()
		if err != nil {
			return err
		}
		if ok {
			return &rpcError{Type: "application", Tag: server.TagDataExists, Path: p, Message: "cannot create " + x.Name.Local + ": it already exists"}
		}
		childOp = opMerge
	case opReplace:
		if _, err := ed.tx.Delete(p); err != nil {
			return err
		}
		childOp = opMerge
	case opNone:
		// Nothing happens here unless a descendant says so; ancestors are
		// created by the descendants that need them.
		return ed.children(schema, path, x, opNone)
	}
	if _, err := ed.tx.Get(p, true); err != nil {
		return err
	}
	return ed.children(schema, path, x, childOp)
}

func (ed *editor) children(schema *yang.Entry, path []*gpb.PathElem, x *xnode, op string) error {
	keys := map[string]bool{}
	if schema.IsList() {
		for _, k := range strings.Fields(schema.Key) {
			keys[k] = true
		}
	}
	for _, c := range x.Children {
		if c.Name.Space != x.Name.Space {
			e := badElement(server.TagUnknownNamespace, c.Name.Local, "%s in namespace %q is not a child of %s", c.Name.Local, c.Name.Space, x.Name.Local)
			e.BadNS = c.Name.Space
			return e
		}
		cs := childSchema(schema, c.Name.Local)
		if cs == nil {
			e := badElement(server.TagUnknownElement, c.Name.Local, "%s has no child %q", x.Name.Local, c.Name.Local)
			e.Path = &gpb.Path{Elem: path}
			e.Type = "application"
			return e
		}
		if keys[c.Name.Local] {
			if _, ok := c.attr(nsBase, "operation"); ok {
				e := badElement(server.TagBadAttribute, c.Name.Local, "a list key takes no operation")
				e.BadAttr = "operation"
				return e
			}
			continue // the entry's path holds it
		}
		if err := ed.apply(cs, path, c, op); err != nil {
			return err
		}
	}
	return nil
}

// childSchema finds a data child by name, looking through choice and case.
func childSchema(schema *yang.Entry, name string) *yang.Entry {
	if c, ok := schema.Dir[name]; ok && !c.IsChoice() && !c.IsCase() {
		return c
	}
	for _, c := range schema.Dir {
		if c.IsChoice() || c.IsCase() {
			if found := childSchema(c, name); found != nil {
				return found
			}
		}
	}
	return nil
}

// leaf applies a leaf or a leaf-list value.
func (ed *editor) leaf(schema *yang.Entry, parent []*gpb.PathElem, x *xnode, op string) error {
	if op == opNone {
		return nil
	}
	if len(parent) == 0 {
		return badElement(server.TagUnknownElement, x.Name.Local, "no top-level leaf %q", x.Name.Local)
	}
	pp := &gpb.Path{Elem: parent}
	path := pathOf(parent, x.Name.Local, nil)
	var node ygot.GoStruct
	var err error
	if op == opDelete || op == opRemove {
		// Only touch the parent when it exists: deleting below an absent
		// node changes nothing.
		if node, err = ed.tx.Lookup(pp); err == nil && node != nil {
			node, err = ed.tx.Get(pp, false)
		}
	} else {
		node, err = ed.tx.Get(pp, true)
	}
	if err != nil {
		return err
	}
	if node == nil {
		if op == opDelete {
			return &rpcError{Type: "application", Tag: server.TagDataMissing, Path: path, Message: "cannot delete " + x.Name.Local + ": it does not exist"}
		}
		return nil
	}
	pv := reflect.ValueOf(node)
	parentSchema := schema.Parent
	for parentSchema != nil && (parentSchema.IsChoice() || parentSchema.IsCase()) {
		parentSchema = parentSchema.Parent
	}
	leaf, field, ok := server.LeafField(parentSchema, pv, x.Name.Local)
	if !ok {
		return badElement(server.TagUnknownElement, x.Name.Local, "%s is not a leaf here", x.Name.Local)
	}
	isList := field.Kind() == reflect.Slice && leaf.IsLeafList()
	switch op {
	case opDelete, opRemove:
		if isList {
			found, err := server.RemoveLeafListText(leaf, field, x.Text)
			if err != nil {
				return valueError(path, x, err)
			}
			if !found && op == opDelete {
				return &rpcError{Type: "application", Tag: server.TagDataMissing, Path: path, Message: "cannot delete " + x.Name.Local + " " + x.Text + ": it does not exist"}
			}
			return nil
		}
		if !server.LeafIsSet(field) {
			if op == opDelete {
				return &rpcError{Type: "application", Tag: server.TagDataMissing, Path: path, Message: "cannot delete " + x.Name.Local + ": it is not set"}
			}
			return nil
		}
		field.Set(reflect.Zero(field.Type()))
		return nil
	case opCreate:
		if isList {
			for _, s := range server.LeafTexts(field) {
				if s == x.Text {
					return &rpcError{Type: "application", Tag: server.TagDataExists, Path: path, Message: x.Name.Local + " " + x.Text + " already exists"}
				}
			}
		} else if server.LeafIsSet(field) {
			return &rpcError{Type: "application", Tag: server.TagDataExists, Path: path, Message: "cannot create " + x.Name.Local + ": it is already set"}
		}
	}
	if err := server.SetLeafText(leaf, field, x.Text); err != nil {
		return valueError(path, x, err)
	}
	return nil
}

func valueError(path *gpb.Path, x *xnode, err error) *rpcError {
	return &rpcError{Type: "application", Tag: server.TagInvalidValue, Path: path, Message: err.Error(), BadElement: x.Name.Local}
}

// listKeys reads the key leaves of a list entry element.
func listKeys(schema *yang.Entry, parent []*gpb.PathElem, x *xnode) (map[string]string, error) {
	keys := map[string]string{}
	for _, k := range strings.Fields(schema.Key) {
		c := x.child(x.Name.Space, k)
		if c == nil {
			e := badElement(server.TagMissingElement, k, "entry of list %s lacks its key %s", x.Name.Local, k)
			e.Path = pathOf(parent, x.Name.Local, nil)
			return nil, e
		}
		keys[k] = c.Text
	}
	return keys, nil
}

func clonePath(p []*gpb.PathElem) []*gpb.PathElem {
	return append(make([]*gpb.PathElem, 0, len(p)+1), p...)
}

func pathOf(parent []*gpb.PathElem, name string, keys map[string]string) *gpb.Path {
	return &gpb.Path{Elem: append(clonePath(parent), &gpb.PathElem{Name: name, Key: keys})}
}

// treeFromConfig builds a whole configuration from a <config> element (for
// copy-config and validate with inline config) by applying it to an empty
// tree.
func (si *schemaInfo) treeFromConfig(x *xnode) (*gen.Device, error) {
	tx := server.NewTx(&gen.Device{})
	ed := &editor{si: si, tx: tx}
	for _, c := range x.Children {
		if err := ed.applyTop(c, opMerge); err != nil {
			return nil, err
		}
	}
	return tx.Root(), nil
}
