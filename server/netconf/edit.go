package netconf

import (
	"reflect"
	"slices"
	"strings"
	"sync"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/goyang/pkg/yang"
	"github.com/openconfig/ygot/ygot"

	"github.com/wirebeat/wirebeat/gen"
	sch "github.com/wirebeat/wirebeat/schema"
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

// editor applies the content of a <config> element to a transaction. It
// walks the element tree and the data tree together, touching (copying on
// write) only the nodes the edit reaches.
type editor struct {
	si *schemaInfo
	tx *sch.Tx
	// refs and elems are slabs the refs and path elements of the walk
	// are cut from: an edit of 100,000 entries makes two of each per
	// entry, and one allocation per slab instead of per node leaves the
	// collector less to do. They live as long as the editor (and an
	// error that names a path).
	refs  []ref
	elems []gpb.PathElem
}

// slab is the number of refs or path elements allocated at once.
const slab = 256

// newRef makes the ref of child elem (schema schema) of parent.
func (ed *editor) newRef(parent *ref, schema *yang.Entry, elem *gpb.PathElem) *ref {
	if len(ed.refs) == cap(ed.refs) {
		ed.refs = make([]ref, 0, slab)
	}
	ed.refs = ed.refs[:len(ed.refs)+1]
	r := &ed.refs[len(ed.refs)-1]
	r.tx, r.schema, r.parent, r.elem = parent.tx, schema, parent, elem
	return r
}

// newElem makes a path element.
func (ed *editor) newElem(name string, keys map[string]string) *gpb.PathElem {
	if len(ed.elems) == cap(ed.elems) {
		ed.elems = make([]gpb.PathElem, 0, slab)
	}
	ed.elems = ed.elems[:len(ed.elems)+1]
	e := &ed.elems[len(ed.elems)-1]
	e.Name, e.Key = name, keys
	return e
}

// ref is a data node on the way down: resolved (and owned by the
// transaction) when needed, created only when an edit below needs it.
type ref struct {
	tx     *sch.Tx
	node   ygot.GoStruct
	schema *yang.Entry
	parent *ref
	elem   *gpb.PathElem
}

// path is the keyed path of the node from the root, made only when an
// error reports it: an edit of 100,000 entries would otherwise build a
// path for each of their nodes and leaves.
func (r *ref) path() []*gpb.PathElem {
	n := 0
	for p := r; p.parent != nil; p = p.parent {
		n++
	}
	out := make([]*gpb.PathElem, n, n+1)
	for p := r; p.parent != nil; p = p.parent {
		n--
		out[n] = p.elem
	}
	return out
}

// get resolves the node, creating it and its ancestors when create is set;
// nil when it is absent and create is not set.
func (r *ref) get(create bool) (ygot.GoStruct, error) {
	if r.node != nil || r.parent == nil {
		return r.node, nil
	}
	pn, err := r.parent.get(create)
	if err != nil || pn == nil {
		return nil, err
	}
	n, _, err := r.tx.TouchChild(pn, r.parent.schema, r.elem, create)
	if err != nil {
		return nil, err
	}
	r.node = n
	return n, nil
}

// applyTop applies one top-level element of <config>.
func (ed *editor) applyTop(x *xnode, defaultOp string) error {
	m := ed.si.byNS[x.Name.Space]
	if m == nil {
		e := badElement(sch.TagUnknownNamespace, x.Name.Local, "namespace %q is not one of this element's modules", x.Name.Space)
		e.BadNS = x.Name.Space
		return e
	}
	schema := ed.si.root.Dir[x.Name.Local]
	if schema == nil || !isData(schema) || ed.si.topModule[x.Name.Local] != m {
		return badElement(sch.TagUnknownElement, x.Name.Local, "module %s has no top-level node %q", m.Name, x.Name.Local)
	}
	root := &ref{tx: ed.tx, node: ed.tx.Root(), schema: ed.si.root}
	return ed.apply(schema, root, x, defaultOp)
}

// opOf returns the operation in force at x: its operation attribute or the
// inherited one.
func opOf(x *xnode, inherited string) (string, error) {
	if v, ok := x.attr(nsBase, "operation"); ok {
		if !validOp(v) {
			e := badElement(sch.TagBadAttribute, x.Name.Local, "operation %q is not merge, replace, create, delete or remove", v)
			e.BadAttr = "operation"
			return "", e
		}
		return v, nil
	}
	return inherited, nil
}

// apply applies element x, whose schema is schema, below parent.
func (ed *editor) apply(schema *yang.Entry, parent *ref, x *xnode, inherited string) error {
	op, err := opOf(x, inherited)
	if err != nil {
		return err
	}
	if schema.ReadOnly() {
		return &rpcError{Type: "application", Tag: sch.TagInvalidValue, Path: pathOf(parent.path(), x.Name.Local, nil),
			Message: x.Name.Local + " is state (config false) and cannot be configured", BadElement: x.Name.Local}
	}
	switch {
	case schema.IsContainer():
		return ed.node(schema, parent, ed.newElem(x.Name.Local, nil), x, op)
	case schema.IsList():
		keys, err := listKeys(schema, parent, x)
		if err != nil {
			return err
		}
		return ed.node(schema, parent, ed.newElem(x.Name.Local, keys), x, op)
	case schema.IsLeaf() || schema.IsLeafList():
		return ed.leaf(schema, parent, x, op)
	}
	return badElement(sch.TagUnknownElement, x.Name.Local, "%s is not a data node", x.Name.Local)
}

// node applies a container or list entry.
func (ed *editor) node(schema *yang.Entry, parent *ref, elem *gpb.PathElem, x *xnode, op string) error {
	me := ed.newRef(parent, schema, elem)
	switch op {
	case opDelete, opRemove:
		pn, err := parent.get(false)
		if err != nil {
			return err
		}
		ok := false
		if pn != nil {
			if ok, err = ed.tx.DeleteChild(pn, parent.schema, elem); err != nil {
				return err
			}
		}
		if !ok && op == opDelete {
			return &rpcError{Type: "application", Tag: sch.TagDataMissing, Path: &gpb.Path{Elem: me.path()}, Message: "cannot delete " + x.Name.Local + ": it does not exist"}
		}
		return nil
	case opCreate:
		pn, err := parent.get(true)
		if err != nil {
			return err
		}
		if n, _, err := ed.tx.TouchChild(pn, parent.schema, elem, false); err != nil {
			return err
		} else if n != nil {
			return &rpcError{Type: "application", Tag: sch.TagDataExists, Path: &gpb.Path{Elem: me.path()}, Message: "cannot create " + x.Name.Local + ": it already exists"}
		}
		op = opMerge
	case opReplace:
		pn, err := parent.get(true)
		if err != nil {
			return err
		}
		if _, err := ed.tx.DeleteChild(pn, parent.schema, elem); err != nil {
			return err
		}
		op = opMerge
	case opNone:
		// Nothing happens here unless a descendant says so; the
		// descendants create what they need.
		return ed.children(schema, me, x, opNone)
	}
	if _, err := me.get(true); err != nil {
		return err
	}
	return ed.children(schema, me, x, op)
}

func (ed *editor) children(schema *yang.Entry, me *ref, x *xnode, op string) error {
	var keys []string
	if schema.IsList() {
		keys = keyNames(schema)
	}
	if op == opMerge && len(x.Children) >= reserveMin && me.node != nil {
		ed.reserve(schema, me, x)
	}
	for _, c := range x.Children {
		if c.Name.Space != x.Name.Space {
			e := badElement(sch.TagUnknownNamespace, c.Name.Local, "%s in namespace %q is not a child of %s", c.Name.Local, c.Name.Space, x.Name.Local)
			e.BadNS = c.Name.Space
			return e
		}
		cs := childSchema(schema, c.Name.Local)
		if cs == nil {
			e := badElement(sch.TagUnknownElement, c.Name.Local, "%s has no child %q", x.Name.Local, c.Name.Local)
			e.Path = &gpb.Path{Elem: me.path()}
			e.Type = "application"
			return e
		}
		if slices.Contains(keys, c.Name.Local) {
			if _, ok := c.attr(nsBase, "operation"); ok {
				e := badElement(sch.TagBadAttribute, c.Name.Local, "a list key takes no operation")
				e.BadAttr = "operation"
				return e
			}
			continue // the entry's path holds it
		}
		if err := ed.apply(cs, me, c, op); err != nil {
			return err
		}
	}
	return nil
}

// reserveMin is the number of child elements from which children sizes
// the maps of the lists they fill before filling them.
const reserveMin = 1024

// reserve sizes the empty lists of me that the children of x fill, by the
// number of entries each gets: the editor knows the count of a bulk load
// before it applies the first entry.
func (ed *editor) reserve(schema *yang.Entry, me *ref, x *xnode) {
	counts := map[string]int{}
	for _, c := range x.Children {
		counts[c.Name.Local]++
	}
	for name, n := range counts {
		if n < reserveMin {
			continue
		}
		if cs := childSchema(schema, name); cs != nil && cs.IsList() && !cs.ReadOnly() {
			ed.tx.Reserve(me.node, schema, name, n)
		}
	}
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
func (ed *editor) leaf(schema *yang.Entry, parent *ref, x *xnode, op string) error {
	if op == opNone {
		return nil
	}
	if parent.parent == nil {
		return badElement(sch.TagUnknownElement, x.Name.Local, "no top-level leaf %q", x.Name.Local)
	}
	path := func() *gpb.Path { return pathOf(parent.path(), x.Name.Local, nil) }
	node, err := parent.get(op != opDelete && op != opRemove)
	if err != nil {
		return err
	}
	if node == nil {
		if op == opDelete {
			return &rpcError{Type: "application", Tag: sch.TagDataMissing, Path: path(), Message: "cannot delete " + x.Name.Local + ": it does not exist"}
		}
		return nil
	}
	pv := reflect.ValueOf(node)
	parentSchema := parent.schema
	leaf, field, ok := sch.LeafField(parentSchema, pv, x.Name.Local)
	if !ok {
		return badElement(sch.TagUnknownElement, x.Name.Local, "%s is not a leaf here", x.Name.Local)
	}
	isList := field.Kind() == reflect.Slice && leaf.IsLeafList()
	switch op {
	case opDelete, opRemove:
		if isList {
			found, err := sch.RemoveLeafListText(leaf, field, x.Text)
			if err != nil {
				return valueError(path(), x, err)
			}
			if !found && op == opDelete {
				return &rpcError{Type: "application", Tag: sch.TagDataMissing, Path: path(), Message: "cannot delete " + x.Name.Local + " " + x.Text + ": it does not exist"}
			}
			return nil
		}
		if !sch.LeafIsSet(field) {
			if op == opDelete {
				return &rpcError{Type: "application", Tag: sch.TagDataMissing, Path: path(), Message: "cannot delete " + x.Name.Local + ": it is not set"}
			}
			return nil
		}
		field.Set(reflect.Zero(field.Type()))
		return nil
	case opCreate:
		if isList {
			for _, s := range sch.LeafTexts(field) {
				if s == x.Text {
					return &rpcError{Type: "application", Tag: sch.TagDataExists, Path: path(), Message: x.Name.Local + " " + x.Text + " already exists"}
				}
			}
		} else if sch.LeafIsSet(field) {
			return &rpcError{Type: "application", Tag: sch.TagDataExists, Path: path(), Message: "cannot create " + x.Name.Local + ": it is already set"}
		}
	}
	if err := sch.SetLeafText(leaf, field, x.Text); err != nil {
		return valueError(path(), x, err)
	}
	return nil
}

func valueError(path *gpb.Path, x *xnode, err error) *rpcError {
	return &rpcError{Type: "application", Tag: sch.TagInvalidValue, Path: path, Message: err.Error(), BadElement: x.Name.Local}
}

// listKeys reads the key leaves of a list entry element.
func listKeys(schema *yang.Entry, parent *ref, x *xnode) (map[string]string, error) {
	names := keyNames(schema)
	keys := make(map[string]string, len(names))
	for _, k := range names {
		c := x.child(x.Name.Space, k)
		if c == nil {
			e := badElement(sch.TagMissingElement, k, "entry of list %s lacks its key %s", x.Name.Local, k)
			e.Path = pathOf(parent.path(), x.Name.Local, nil)
			return nil, e
		}
		// In the form the datastores keep, so that a delete or a
		// merge of 2001:DB8::7 finds the entry stored as 2001:db8::7.
		keys[k] = sch.CanonicalText(schema.Dir[k], c.Text)
	}
	return keys, nil
}

// keyNames returns the key leaf names of a list, split once per list.
func keyNames(schema *yang.Entry) []string {
	if v, ok := listKeyNames.Load(schema); ok {
		return v.([]string)
	}
	names := strings.Fields(schema.Key)
	listKeyNames.Store(schema, names)
	return names
}

var listKeyNames sync.Map // *yang.Entry -> []string

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
	tx := sch.NewTx(&gen.Device{})
	ed := &editor{si: si, tx: tx}
	for _, c := range x.Children {
		if err := ed.applyTop(c, opMerge); err != nil {
			return nil, err
		}
	}
	return tx.Root(), nil
}
