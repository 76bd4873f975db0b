package cli

import (
	"fmt"
	"strings"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/goyang/pkg/yang"
)

// cmdError is a command the CLI refuses, with the word it refuses: the
// shell prints a caret under pos.
type cmdError struct {
	pos int // byte offset in the line; -1 when no word is at fault
	msg string
}

func (e *cmdError) Error() string { return e.msg }

func errAt(t token, format string, args ...any) *cmdError {
	return &cmdError{pos: t.pos, msg: fmt.Sprintf(format, args...)}
}

// nodeAt says where a path ends.
type nodeAt uint8

const (
	atContainer nodeAt = iota + 1 // a container (or the root)
	atList                        // a list, before all its keys are given
	atEntry                       // a list entry
	atLeaf                        // a leaf or leaf-list
)

// pathMode is what a command wants of its path argument.
type pathMode struct {
	state bool // state (config false) nodes may be named
	value bool // a leaf takes a value (set)
}

// cliPath is a schema path parsed from words: the gNMI path it names and
// where it ends.
type cliPath struct {
	elems []*gpb.PathElem // from the root, the starting level included
	entry *yang.Entry     // the node reached
	at    nodeAt
	keys  int    // keys given so far, while at is atList
	value *token // a leaf's value, with pathMode.value
	words []string
}

func (p *cliPath) gpath() *gpb.Path { return &gpb.Path{Elem: p.elems} }

// parsePath reads a schema path from toks, starting at node start whose
// path is base (the [edit] level). Unique prefixes of node names are
// accepted; key values and leaf values are checked against their types.
// It consumes every token; an error names the first it cannot take.
func parsePath(start *yang.Entry, base []*gpb.PathElem, toks []token, m pathMode) (*cliPath, *cmdError) {
	p := &cliPath{elems: append([]*gpb.PathElem(nil), base...), entry: start, at: atContainer}
	if start.IsList() {
		p.at = atEntry
	}
	for _, t := range toks {
		if err := p.step(t, m); err != nil {
			return p, err
		}
	}
	return p, nil
}

// step takes one more word.
func (p *cliPath) step(t token, m pathMode) *cmdError {
	switch p.at {
	case atContainer, atEntry:
		kids := children(p.entry, m.state)
		nm := names(kids)
		name, cands := matchWord(t.text, nm)
		if name == "" {
			if len(cands) > 1 {
				return errAt(t, "%q is ambiguous: %s", t.text, strings.Join(cands, ", "))
			}
			if c := closest(t.text, nm); c != "" {
				return errAt(t, "unknown word %q; did you mean %q?", t.text, c)
			}
			if len(nm) == 0 {
				return errAt(t, "unexpected word %q: %s has no children", t.text, p.entry.Name)
			}
			return errAt(t, "unknown word %q under %s", t.text, nodeLabel(p.entry))
		}
		var child *yang.Entry
		for _, k := range kids {
			if k.Name == name {
				child = k
			}
		}
		p.words = append(p.words, name)
		p.entry = child
		switch {
		case child.IsList():
			e := &gpb.PathElem{Name: name}
			if len(listKeys(child)) > 0 {
				e.Key = map[string]string{}
				p.at, p.keys = atList, 0
			} else {
				p.at = atEntry
			}
			p.elems = append(p.elems, e)
		case child.IsLeaf() || child.IsLeafList():
			p.elems = append(p.elems, &gpb.PathElem{Name: name})
			p.at = atLeaf
		default:
			p.elems = append(p.elems, &gpb.PathElem{Name: name})
			p.at = atContainer
		}
	case atList:
		keys := listKeys(p.entry)
		k := keys[p.keys]
		if leaf := keyLeaf(p.entry, k); leaf != nil {
			if err := checkValue(leaf, t.text); err != nil {
				return errAt(t, "bad %s of %s: %v", k, p.entry.Name, err)
			}
		}
		p.elems[len(p.elems)-1].Key[k] = t.text
		p.words = append(p.words, quoteWord(t.text))
		p.keys++
		if p.keys == len(keys) {
			p.at = atEntry
		}
	case atLeaf:
		if !m.value || p.value != nil {
			return errAt(t, "unexpected word %q: %s is a leaf", t.text, p.entry.Name)
		}
		if p.entry.Type != nil && p.entry.Type.Kind == yang.Yempty {
			return errAt(t, "unexpected word %q: %s takes no value", t.text, p.entry.Name)
		}
		if err := checkValue(p.entry, t.text); err != nil {
			return errAt(t, "bad value for %s: %v", p.entry.Name, err)
		}
		tt := t
		p.value = &tt
	}
	return nil
}

// missing says what a complete path still lacks, "" when nothing.
func (p *cliPath) missing(m pathMode) string {
	switch p.at {
	case atList:
		keys := listKeys(p.entry)
		return fmt.Sprintf("missing key %s of %s (keyed by %s)", keys[p.keys], p.entry.Name, strings.Join(keys, " "))
	case atLeaf:
		if m.value && p.value == nil && (p.entry.Type == nil || p.entry.Type.Kind != yang.Yempty) {
			return fmt.Sprintf("missing value for %s (%s)", p.entry.Name, describeType(p.entry))
		}
	}
	return ""
}

func nodeLabel(e *yang.Entry) string {
	if e.Parent == nil {
		return "the top level"
	}
	return e.Name
}

// cliWords renders a gNMI path (from the root) as CLI words: node names,
// list keys as values after the list's name.
func cliWords(root *yang.Entry, elems []*gpb.PathElem) []string {
	var out []string
	e := root
	for _, pe := range elems {
		out = append(out, pe.Name)
		var next *yang.Entry
		if e != nil {
			for _, c := range children(e, true) {
				if c.Name == pe.Name {
					next = c
				}
			}
		}
		if next != nil && next.IsList() {
			for _, k := range listKeys(next) {
				if v, ok := pe.Key[k]; ok {
					out = append(out, quoteWord(v))
				}
			}
		}
		e = next
	}
	return out
}

// entryAt follows elems from root in the schema.
func entryAt(root *yang.Entry, elems []*gpb.PathElem) *yang.Entry {
	e := root
	for _, pe := range elems {
		var next *yang.Entry
		for _, c := range children(e, true) {
			if c.Name == pe.Name {
				next = c
			}
		}
		if next == nil {
			return nil
		}
		e = next
	}
	return e
}
