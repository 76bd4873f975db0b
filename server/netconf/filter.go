package netconf

import (
	"errors"
	"fmt"
	"strings"

	"github.com/antchfx/xpath"

	"github.com/wirebeat/wirebeat/schema"
)

// fnode is one node of a filter, from a subtree filter (RFC 6241 section 6)
// or an XPath filter translated to the same shape.
type fnode struct {
	children []*fnode
	name     string // local name; namespace checked when parsed
	module   *module
	// match is a content match: the node selects its parent instance only
	// if the leaf has this value.
	match    string
	hasMatch bool
	// all selects the whole subtree of the instances that pass the
	// content matches (a selection node, or the last step of an XPath).
	all bool
	// xp, on a filter root, is an XPath expression outside what the
	// filter tree expresses, evaluated by the XPath engine instead.
	xp *xpath.Expr
}

// contentMatches returns the content-match children.
func (f *fnode) contentMatches() []*fnode {
	var out []*fnode
	for _, c := range f.children {
		if c.hasMatch {
			out = append(out, c)
		}
	}
	return out
}

// onlyMatches reports whether every child is a content match: then the
// instances that match are selected whole (RFC 6241 section 6.2.5).
func (f *fnode) onlyMatches() bool {
	for _, c := range f.children {
		if !c.hasMatch {
			return false
		}
	}
	return true
}

// childrenNamed returns the filter children that name a node (by its name
// or "*"), content matches excepted.
func (f *fnode) childrenNamed(name string) []*fnode {
	var out []*fnode
	for _, c := range f.children {
		if !c.hasMatch && (c.name == name || c.name == "*") {
			out = append(out, c)
		}
	}
	return out
}

// parseSubtreeFilter turns the content of <filter type="subtree"> into a
// filter root whose children are top-level nodes. Elements in namespaces we
// do not implement select nothing; the monitoring and library modules are
// kept by namespace for the caller.
func (si *schemaInfo) parseSubtreeFilter(x *xnode) *fnode {
	root := &fnode{}
	for _, c := range x.Children {
		root.children = append(root.children, si.subtreeNode(c, true))
	}
	return root
}

func (si *schemaInfo) subtreeNode(x *xnode, top bool) *fnode {
	f := &fnode{name: x.Name.Local}
	if top {
		f.module = si.byNS[x.Name.Space]
		if f.module == nil {
			f.module = &module{Namespace: x.Name.Space}
		}
	}
	switch {
	case len(x.Children) > 0:
		for _, c := range x.Children {
			f.children = append(f.children, si.subtreeNode(c, false))
		}
	case x.Text != "":
		f.match, f.hasMatch = x.Text, true
	default:
		f.all = true
	}
	return f
}

// parseXPathFilter translates an XPath filter into a filter tree. It
// supports what clients send in practice: absolute location paths made of
// child steps with our prefixes, "*" steps, key predicates [k='v'] (or
// "v"), and unions with "|". Anything else is refused with a precise
// error rather than half understood.
func (si *schemaInfo) parseXPathFilter(expr string, ns map[string]string) (*fnode, error) {
	root := &fnode{}
	for _, alt := range splitUnion(expr) {
		alt = strings.TrimSpace(alt)
		if !strings.HasPrefix(alt, "/") || strings.HasPrefix(alt, "//") {
			return nil, fmt.Errorf("only absolute location paths with child steps are supported, not %q", alt)
		}
		steps, err := splitSteps(alt[1:])
		if err != nil {
			return nil, err
		}
		cur := root
		for i, st := range steps {
			name, preds, err := parseStep(st)
			if err != nil {
				return nil, err
			}
			var mod *module
			if p, local, ok := strings.Cut(name, ":"); ok {
				nsURI, ok := ns[p]
				if !ok {
					return nil, fmt.Errorf("prefix %q is not declared", p)
				}
				mod = si.byNS[nsURI]
				if mod == nil {
					mod = &module{Namespace: nsURI}
				}
				name = local
			}
			n := &fnode{name: name}
			if i == 0 {
				n.module = mod
			}
			for _, pr := range preds {
				n.children = append(n.children, &fnode{name: pr[0], match: pr[1], hasMatch: true})
			}
			// The last step selects its instances whole; predicates
			// still decide which instances.
			n.all = i == len(steps)-1
			cur.children = append(cur.children, n)
			cur = n
		}
	}
	return root, nil
}

// splitUnion splits an expression at the "|" outside predicates and quotes.
func splitUnion(s string) []string { return splitTop(s, '|') }

// splitSteps splits a location path at the "/" outside predicates and
// quotes.
func splitSteps(s string) ([]string, error) {
	out := splitTop(s, '/')
	for _, st := range out {
		if strings.TrimSpace(st) == "" {
			return nil, fmt.Errorf("empty location step")
		}
	}
	return out, nil
}

// splitTop splits s at sep where it stands outside [] and quotes.
func splitTop(s string, sep byte) []string {
	var out []string
	depth, quote, start := 0, byte(0), 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '[':
			depth++
		case c == ']':
			depth--
		case c == sep && depth == 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// parseStep splits name[k='v'][k2='v2'] into the name and its predicates.
func parseStep(st string) (string, [][2]string, error) {
	st = strings.TrimSpace(st)
	i := strings.IndexByte(st, '[')
	if i < 0 {
		return st, nil, checkName(st)
	}
	name := st[:i]
	var preds [][2]string
	rest := st[i:]
	for rest != "" {
		if rest[0] != '[' {
			return "", nil, fmt.Errorf("unexpected %q in %q", rest, st)
		}
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return "", nil, fmt.Errorf("unclosed predicate in %q", st)
		}
		k, v, ok := strings.Cut(rest[1:end], "=")
		if !ok {
			return "", nil, fmt.Errorf("only [name='value'] predicates are supported, not %q", rest[:end+1])
		}
		k = strings.TrimSpace(k)
		if _, local, ok := strings.Cut(k, ":"); ok {
			k = local
		}
		if err := checkName(k); err != nil || strings.ContainsAny(k, "/[]*.") {
			return "", nil, fmt.Errorf("predicate %q is not [name='value']", rest[:end+1])
		}
		v = strings.TrimSpace(v)
		if len(v) < 2 || (v[0] != '\'' && v[0] != '"') || v[len(v)-1] != v[0] {
			return "", nil, fmt.Errorf("predicate value must be a quoted literal in %q", st)
		}
		preds = append(preds, [2]string{k, v[1 : len(v)-1]})
		rest = rest[end+1:]
	}
	return name, preds, checkName(name)
}

func checkName(n string) error {
	if n == "" || strings.ContainsAny(n, "()@ =<>!$|+") || strings.Contains(n, "::") || n == "." || n == ".." {
		return fmt.Errorf("unsupported location step %q", n)
	}
	return nil
}

// filterError makes the rpc-error for a filter that cannot be used.
func filterError(err error) *rpcError {
	tag := schema.TagInvalidValue
	if errors.Is(err, errXPathBudget) {
		tag = schema.TagResourceDenied
	}
	e := protoErr(tag, "filter: %v", err)
	e.BadElement = "filter"
	return e
}
