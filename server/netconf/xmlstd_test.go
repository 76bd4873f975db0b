package netconf

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// parseXMLStd is the former parser, on encoding/xml: the oracle the fuzz
// target compares parseXML with.
func parseXMLStd(data []byte) (*xnode, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	var stack []*xnode
	var scopes []map[string]string // namespaces in scope, per open element
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
			var nsIn map[string]string
			if len(scopes) > 0 {
				nsIn = scopes[len(scopes)-1] // shared until this element declares one
			}
			declared := false
			for _, a := range t.Attr {
				if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
					if !declared {
						ns := make(map[string]string, len(nsIn)+1)
						for k, v := range nsIn {
							ns[k] = v
						}
						nsIn, declared = ns, true
					}
					if a.Name.Space == "xmlns" {
						nsIn[a.Name.Local] = a.Value
					} else {
						nsIn[""] = a.Value
					}
				}
			}
			space, ok := nsIn[t.Name.Space]
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
					ns, ok := nsIn[an.Space]
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
			scopes = append(scopes, nsIn)
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
			scopes = scopes[:len(scopes)-1]
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
