package netconf

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/antchfx/xpath"

	"github.com/wirebeat/wirebeat/schema"
)

// XPath filters (RFC 6241 section 8.9). The common shapes, absolute
// child steps with key predicates, become a filter tree (parseXPathFilter)
// that the encoder applies while it writes, touching only what they name.
// Every other XPath 1.0 expression (// steps, multi-step predicates,
// comparisons, functions, boolean operators) is evaluated by a real XPath
// 1.0 engine, antchfx/xpath, over the XML of the data the request can see;
// the result is the selected nodes with their ancestors. It costs a render
// of that data, which is the price of an arbitrary expression.

// maxXPathLen bounds a select expression: filters people write are short,
// and the engine's work grows with the expression.
const maxXPathLen = 4096

// An expression's evaluation is bounded by a budget of navigator steps
// (a move, or a byte of a string-value) proportional to the document:
// a linear query with predicates, however many, takes a few dozen steps
// per node, while a quadratic one (//*[count(//*) > 0]) over a large tree
// would otherwise run for hours inside a logged-in session.
const (
	xpathStepsPerNode = 64
	xpathStepsBase    = 1 << 20
)

// errXPathBudget is an evaluation stopped by its budget.
var errXPathBudget = errors.New("XPath evaluation stopped")

// xpathWork is the budget shared by a navigator and its copies.
type xpathWork struct{ left int64 }

// spend takes n steps from the budget; false once it is exhausted.
func (w *xpathWork) spend(n int) bool {
	w.left -= int64(n)
	return w.left >= 0
}

// countNodes counts x and the elements below it.
func countNodes(x *xnode) int {
	n := 1
	for _, c := range x.Children {
		n += countNodes(c)
	}
	return n
}

// compileXPath compiles a select expression with the prefixes declared
// where it was written.
func compileXPath(expr string, ns map[string]string) (*xpath.Expr, error) {
	if len(expr) > maxXPathLen {
		return nil, fmt.Errorf("XPath expression of %d bytes: at most %d", len(expr), maxXPathLen)
	}
	prefixes := make(map[string]string, len(ns))
	for p, u := range ns {
		if p != "" {
			prefixes[p] = u
		}
	}
	e, err := xpath.CompileWithNS(canonicalLiterals(expr), prefixes)
	if err != nil {
		return nil, fmt.Errorf("XPath %q: %v", expr, err)
	}
	return e, nil
}

// canonicalLiterals rewrites the string literals of expr that are IPv6
// addresses or prefixes in their canonical text, the form the data holds:
// [b4-ipv6='2001:DB8::1'] finds the entry stored as 2001:db8::1.
func canonicalLiterals(expr string) string {
	var b strings.Builder
	for i := 0; i < len(expr); i++ {
		q := expr[i]
		if q != '\'' && q != '"' {
			b.WriteByte(q)
			continue
		}
		end := strings.IndexByte(expr[i+1:], q)
		if end < 0 {
			b.WriteString(expr[i:])
			break
		}
		lit := expr[i+1 : i+1+end]
		b.WriteByte(q)
		b.WriteString(schema.CanonicalAddress(lit))
		b.WriteByte(q)
		i += end + 1
	}
	return b.String()
}

// xpathSelect evaluates expr over the top-level elements of doc (a
// wrapper element standing for the document root) and writes the selected
// nodes with their ancestors to b, each with at most maxDepth levels (0:
// all). A result that is not a node-set is an error: a filter selects
// nodes.
func (si *schemaInfo) xpathSelect(b *bytes.Buffer, doc *xnode, expr *xpath.Expr, maxDepth ...int) error {
	nodes := countNodes(doc)
	budget := xpathStepsBase + int64(xpathStepsPerNode)*int64(nodes)
	work := &xpathWork{left: budget}
	nav := &xpathNav{root: doc, cur: doc, attr: -1, work: work}
	res := expr.Evaluate(nav)
	it, ok := res.(*xpath.NodeIterator)
	if !ok {
		if work.left < 0 {
			return xpathBudgetError(budget, nodes)
		}
		return fmt.Errorf("the XPath expression gives a %T, not a node-set", res)
	}
	w := &selWriter{si: si, b: b, doc: doc, selected: map[*xnode]bool{}}
	if len(maxDepth) > 0 {
		w.maxDepth = maxDepth[0]
	}
	for it.MoveNext() {
		cur, ok := it.Current().(*xpathNav)
		if !ok {
			continue
		}
		if cur.cur == doc { // the root: everything
			for _, c := range doc.Children {
				w.selected[c] = true
			}
			continue
		}
		w.selected[cur.cur] = true // an attribute or text selects its element
	}
	if work.left < 0 {
		return xpathBudgetError(budget, nodes)
	}
	w.write()
	return nil
}

func xpathBudgetError(budget int64, nodes int) error {
	return fmt.Errorf("%w after %d steps (%d per node of the %d-node data): the expression's work grows faster than the data; select more directly",
		errXPathBudget, budget, xpathStepsPerNode, nodes)
}

// selWriter writes the selected nodes of a document with their ancestors
// (and the keys of the list entries among them).
type selWriter struct {
	si       *schemaInfo
	b        *bytes.Buffer
	doc      *xnode
	selected map[*xnode]bool
	maxDepth int // levels below and including a selected node; 0: all
}

func (w *selWriter) write() {
	ancestors := map[*xnode]bool{}
	keys := map[*xnode]bool{}
	for n := range w.selected {
		for p := n.Parent; p != nil && p != w.doc && !ancestors[p]; p = p.Parent {
			ancestors[p] = true
			// A list entry on the way comes with its keys, so that
			// the answer names the instance (RFC 7950 section 7.8.5).
			for _, k := range w.si.listKeysOf(p, w.doc) {
				if c := p.child(p.Name.Space, k); c != nil {
					keys[c] = true
				}
			}
		}
	}
	for _, c := range w.doc.Children {
		w.node(c, w.doc, ancestors, keys, -1)
	}
}

// node writes x if it is selected or below a selected node (whole, with
// depth levels left; negative: not inside a selection), an ancestor of a
// selected node (with only the children that lead there), or a key.
func (w *selWriter) node(x, parent *xnode, ancestors, keys map[*xnode]bool, depth int) {
	if depth < 0 && w.selected[x] {
		depth = w.maxDepth
		if depth == 0 {
			depth = int(^uint(0) >> 1)
		}
	}
	if depth < 0 && !ancestors[x] && !keys[x] {
		return
	}
	b := w.b
	b.WriteString("<" + x.Name.Local)
	if x.Name.Space != parent.Name.Space || parent == w.doc {
		b.WriteString(` xmlns="`)
		xmlEscape(b, x.Name.Space)
		b.WriteByte('"')
	}
	var decls []string
	xns, pns := x.namespaces(), parent.namespaces()
	for p, u := range xns {
		if p != "" && (pns[p] != u || parent == w.doc) {
			decls = append(decls, p)
		}
	}
	sort.Strings(decls)
	for _, p := range decls {
		b.WriteString(" xmlns:" + p + `="`)
		xmlEscape(b, xns[p])
		b.WriteByte('"')
	}
	for _, a := range x.Attr {
		name := a.Name.Local
		if a.Name.Space != "" {
			for p, u := range xns {
				if u == a.Name.Space && p != "" {
					name = p + ":" + a.Name.Local
					break
				}
			}
		}
		b.WriteString(" " + name + `="`)
		xmlEscape(b, a.Value)
		b.WriteByte('"')
	}
	b.WriteByte('>')
	if len(x.Children) == 0 {
		xmlEscape(b, x.Text)
	}
	switch {
	case depth > 1:
		for _, c := range x.Children {
			w.node(c, x, ancestors, keys, depth-1)
		}
	case depth == 1: // the last level: only the keys that name it
		for _, k := range w.si.listKeysOf(x, w.doc) {
			if c := x.child(x.Name.Space, k); c != nil {
				w.node(c, x, nil, map[*xnode]bool{c: true}, 0)
			}
		}
	case depth < 0:
		for _, c := range x.Children {
			w.node(c, x, ancestors, keys, -1)
		}
	}
	b.WriteString("</" + x.Name.Local + ">")
}

// xpathNav is an xpath.NodeNavigator over an xnode tree: root stands for
// the document root, an element with text has one text child, and
// attributes are reached with MoveToNextAttribute. path holds the index of
// each node on the way down in its parent's children, so that moving to a
// sibling costs nothing however long the list.
type xpathNav struct {
	root, cur *xnode
	text      bool
	attr      int
	path      []int
	work      *xpathWork
}

func (n *xpathNav) NodeType() xpath.NodeType {
	switch {
	case n.attr >= 0:
		return xpath.AttributeNode
	case n.text:
		return xpath.TextNode
	case n.cur == n.root:
		return xpath.RootNode
	}
	return xpath.ElementNode
}

func (n *xpathNav) LocalName() string {
	switch {
	case n.attr >= 0:
		return n.cur.Attr[n.attr].Name.Local
	case n.text, n.cur == n.root:
		return ""
	}
	return n.cur.Name.Local
}

// Prefix is empty: names are matched by namespace (NamespaceURL), and an
// unprefixed name test matches the local name in any of our namespaces.
func (n *xpathNav) Prefix() string { return "" }

func (n *xpathNav) NamespaceURL() string {
	switch {
	case n.attr >= 0:
		return n.cur.Attr[n.attr].Name.Space
	case n.text, n.cur == n.root:
		return ""
	}
	return n.cur.Name.Space
}

func (n *xpathNav) Value() string {
	switch {
	case n.attr >= 0:
		return n.cur.Attr[n.attr].Value
	case n.text:
		return n.cur.Text
	}
	if !n.work.spend(1) {
		return ""
	}
	var b bytes.Buffer
	stringValue(&b, n.cur)
	if !n.work.spend(b.Len()) {
		return ""
	}
	return b.String()
}

// stringValue is the XPath string-value of an element: its text and that
// of all its descendants, in document order.
func stringValue(b *bytes.Buffer, x *xnode) {
	if len(x.Children) == 0 {
		b.WriteString(x.Text)
	}
	for _, c := range x.Children {
		stringValue(b, c)
	}
}

func (n *xpathNav) Copy() xpath.NodeNavigator {
	n.work.spend(len(n.path) + 1) // the copy's cost; the next move sees the budget
	c := *n
	c.path = append([]int(nil), n.path...)
	return &c
}

func (n *xpathNav) MoveToRoot() {
	n.cur, n.text, n.attr, n.path = n.root, false, -1, n.path[:0]
}

func (n *xpathNav) MoveToParent() bool {
	if !n.work.spend(1) {
		return false
	}
	switch {
	case n.attr >= 0:
		n.attr = -1
	case n.text:
		n.text = false
	case n.cur == n.root || n.cur.Parent == nil:
		return false
	default:
		n.cur = n.cur.Parent
		n.path = n.path[:len(n.path)-1]
	}
	return true
}

func (n *xpathNav) MoveToNextAttribute() bool {
	if !n.work.spend(1) {
		return false
	}
	if n.text || n.cur == n.root || n.attr+1 >= len(n.cur.Attr) {
		return false
	}
	n.attr++
	return true
}

func (n *xpathNav) MoveToChild() bool {
	if !n.work.spend(1) {
		return false
	}
	if n.attr >= 0 || n.text {
		return false
	}
	if len(n.cur.Children) > 0 {
		n.cur = n.cur.Children[0]
		n.path = append(n.path, 0)
		return true
	}
	if n.cur.Text != "" && n.cur != n.root {
		n.text = true
		return true
	}
	return false
}

// MoveToFirst moves to the first sibling; false when already there.
func (n *xpathNav) MoveToFirst() bool {
	if !n.work.spend(1) {
		return false
	}
	if n.attr >= 0 || n.text || n.cur == n.root || n.path[len(n.path)-1] == 0 {
		return false
	}
	n.cur = n.cur.Parent.Children[0]
	n.path[len(n.path)-1] = 0
	return true
}

func (n *xpathNav) MoveToNext() bool {
	if !n.work.spend(1) {
		return false
	}
	if n.attr >= 0 || n.text || n.cur == n.root {
		return false
	}
	i := n.path[len(n.path)-1] + 1
	sib := n.cur.Parent.Children
	if i >= len(sib) {
		return false
	}
	n.cur, n.path[len(n.path)-1] = sib[i], i
	return true
}

func (n *xpathNav) MoveToPrevious() bool {
	if !n.work.spend(1) {
		return false
	}
	if n.attr >= 0 || n.text || n.cur == n.root {
		return false
	}
	i := n.path[len(n.path)-1] - 1
	if i < 0 {
		return false
	}
	n.cur, n.path[len(n.path)-1] = n.cur.Parent.Children[i], i
	return true
}

func (n *xpathNav) MoveTo(other xpath.NodeNavigator) bool {
	o, ok := other.(*xpathNav)
	if !ok || o.root != n.root || !n.work.spend(len(o.path)+1) {
		return false
	}
	n.cur, n.text, n.attr = o.cur, o.text, o.attr
	n.path = append(n.path[:0], o.path...)
	return true
}

// monitoringKeys are the keys of the lists of the protocol's own state
// (RFC 6022, RFC 8525, RFC 7895), which our schema tree does not hold.
var monitoringKeys = map[string][]string{
	"session": {"session-id"}, "schema": {"identifier", "version", "format"}, "datastore": {"name"},
	"module-set": {"name"}, "module": {"name", "revision"}, "import-only-module": {"name", "revision"},
}

// listKeysOf returns the key names of x when it is a list entry.
func (si *schemaInfo) listKeysOf(x, doc *xnode) []string {
	var names []string
	for n := x; n != nil && n != doc; n = n.Parent {
		names = append(names, n.Name.Local)
	}
	top := x
	for top.Parent != nil && top.Parent != doc {
		top = top.Parent
	}
	if si.byNS[top.Name.Space] == nil {
		if top == x {
			return nil
		}
		switch {
		case top.Name.Local == "yang-library" && (x.Name.Local == "module" || x.Name.Local == "schema"):
			return []string{"name"} // keyed by name in a module-set, a schema by name
		case top.Name.Local == "yang-library" && x.Name.Local == "datastore":
			return []string{"name"}
		}
		return monitoringKeys[x.Name.Local]
	}
	e := si.root
	for i := len(names) - 1; i >= 0 && e != nil; i-- {
		e = e.Dir[names[i]]
	}
	if e == nil || !e.IsList() {
		return nil
	}
	return strings.Fields(e.Key)
}
