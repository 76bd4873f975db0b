package netconf

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
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

// maxDepth bounds element nesting: our schema is far shallower, and a
// deeply nested message must not exhaust the stack.
const maxDepth = 128

// parseXML parses one message into its root element.
func parseXML(data []byte) (*xnode, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	var stack []*xnode
	var root *xnode
	var text strings.Builder
	for {
		tok, err := d.RawToken()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if root != nil && len(stack) == 0 {
				return nil, fmt.Errorf("more than one root element")
			}
			if len(stack) >= maxDepth {
				return nil, fmt.Errorf("elements nested deeper than %d", maxDepth)
			}
			n := &xnode{}
			if len(stack) > 0 {
				n.Parent = stack[len(stack)-1]
				n.NS = n.Parent.NS // shared until this element declares one
			}
			declared := false
			for _, a := range t.Attr {
				if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
					if !declared {
						ns := make(map[string]string, len(n.NS)+1)
						for k, v := range n.NS {
							ns[k] = v
						}
						n.NS, declared = ns, true
					}
					if a.Name.Space == "xmlns" {
						n.NS[a.Name.Local] = a.Value
					} else {
						n.NS[""] = a.Value
					}
				}
			}
			space, ok := n.NS[t.Name.Space]
			if !ok && t.Name.Space != "" {
				return nil, fmt.Errorf("undeclared namespace prefix %q", t.Name.Space)
			}
			n.Name = xml.Name{Space: space, Local: t.Name.Local}
			for _, a := range t.Attr {
				if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
					continue
				}
				an := a.Name
				if an.Space != "" {
					ns, ok := n.NS[an.Space]
					if !ok {
						if an.Space != "xml" {
							return nil, fmt.Errorf("undeclared namespace prefix %q", an.Space)
						}
						ns = "http://www.w3.org/XML/1998/namespace"
					}
					an.Space = ns
				}
				n.Attr = append(n.Attr, xml.Attr{Name: an, Value: a.Value})
			}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.Children = append(p.Children, n)
			} else {
				root = n
			}
			stack = append(stack, n)
			text.Reset()
		case xml.EndElement:
			if len(stack) == 0 {
				return nil, fmt.Errorf("unexpected end element")
			}
			n := stack[len(stack)-1]
			if t.Name.Local != n.Name.Local {
				return nil, fmt.Errorf("element <%s> closed by </%s>", n.Name.Local, t.Name.Local)
			}
			if len(n.Children) == 0 {
				n.Text = strings.TrimSpace(text.String())
			}
			stack = stack[:len(stack)-1]
			text.Reset()
		case xml.CharData:
			text.Write(t)
		case xml.Directive:
			return nil, fmt.Errorf("DTDs and other directives are not allowed")
		}
	}
	if root == nil {
		return nil, fmt.Errorf("no element")
	}
	if len(stack) != 0 {
		return nil, fmt.Errorf("unclosed element <%s>", stack[len(stack)-1].Name.Local)
	}
	return root, nil
}

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
