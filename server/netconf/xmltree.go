package netconf

import (
	"bytes"
	"encoding/xml"
)

// xnode is one element of a parsed message. The whole message is parsed
// before it is interpreted, so that a malformed message is refused before
// anything happens.
type xnode struct {
	Name     xml.Name
	Attr     []xml.Attr
	Children []*xnode
	Text     string            // character data, trimmed
	NS       map[string]string // prefix -> namespace in scope here ("" = default)
	Parent   *xnode
}

// namespaces returns the prefixes in scope at n ("" for the default
// namespace). The map is shared with the element's ancestors and
// descendants that declare nothing, and must only be read.
func (n *xnode) namespaces() map[string]string {
	return n.NS
}

// maxDepth bounds element nesting: our schema is far shallower, and a
// deeply nested message must not exhaust the stack.
const maxDepth = 128

// attr returns the value of an attribute in namespace space ("" for none).
func (n *xnode) attr(space, local string) (string, bool) {
	for _, a := range n.Attr {
		if a.Name.Local == local && a.Name.Space == space {
			return a.Value, true
		}
	}
	return "", false
}

// child returns the first child element named local in namespace space.
func (n *xnode) child(space, local string) *xnode {
	for _, c := range n.Children {
		if c.Name.Local == local && c.Name.Space == space {
			return c
		}
	}
	return nil
}

// childBase returns the first child named local in the base namespace,
// or in none: clients such as ncclient send the <config> they were given
// without qualifying it, and refusing that helps nobody.
func (n *xnode) childBase(local string) *xnode {
	if c := n.child(nsBase, local); c != nil {
		return c
	}
	return n.child("", local)
}

// xmlEscape writes s as XML character data.
func xmlEscape(b *bytes.Buffer, s string) {
	xml.EscapeText(b, []byte(s))
}
