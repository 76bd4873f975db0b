package snabbconf

import "fmt"

// Node is one statement: a keyword, an optional argument and, for a block,
// its children in file order.
type Node struct {
	Keyword  string
	Arg      string
	HasArg   bool
	Block    bool
	Children []*Node
	Line     int
}

// Child returns the first child with the keyword, or nil.
func (n *Node) Child(keyword string) *Node {
	for _, c := range n.Children {
		if c.Keyword == keyword {
			return c
		}
	}
	return nil
}

// Parse reads a whole file into a synthetic root node whose children are
// the top-level statements.
func Parse(src []byte) (*Node, error) {
	p := &parser{lx: newLexer(string(src))}
	if err := p.advance(); err != nil {
		return nil, err
	}
	root := &Node{Block: true, Line: 1}
	if err := p.body(root, 0); err != nil {
		return nil, err
	}
	return root, nil
}

// maxDepth bounds nesting so hostile input cannot exhaust the stack.
const maxDepth = 64

type parser struct {
	lx  *lexer
	tok token
}

func (p *parser) advance() error {
	t, err := p.lx.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *parser) errorf(t token, format string, a ...any) error {
	return fmt.Errorf("line %d column %d: %s", t.line, t.col, fmt.Sprintf(format, a...))
}

// body reads statements until "}" (depth > 0) or end of file (depth 0).
func (p *parser) body(parent *Node, depth int) error {
	for {
		switch p.tok.kind {
		case tokEOF:
			if depth > 0 {
				return p.errorf(p.tok, "block %q opened on line %d is not closed", parent.Keyword, parent.Line)
			}
			return nil
		case tokRBrace:
			if depth == 0 {
				return p.errorf(p.tok, `unexpected "}"`)
			}
			return p.advance()
		case tokWord:
			n, err := p.statement(depth)
			if err != nil {
				return err
			}
			parent.Children = append(parent.Children, n)
		default:
			return p.errorf(p.tok, "expected a keyword, found %s", p.tok.kind)
		}
	}
}

// statement reads "keyword [arg] ;" or "keyword [arg] { … }".
func (p *parser) statement(depth int) (*Node, error) {
	if depth >= maxDepth {
		return nil, p.errorf(p.tok, "blocks nested deeper than %d", maxDepth)
	}
	n := &Node{Keyword: p.tok.text, Line: p.tok.line}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind == tokWord || p.tok.kind == tokString {
		n.Arg, n.HasArg = p.tok.text, true
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	switch p.tok.kind {
	case tokSemi:
		return n, p.advance()
	case tokLBrace:
		n.Block = true
		if err := p.advance(); err != nil {
			return nil, err
		}
		return n, p.body(n, depth+1)
	}
	return nil, p.errorf(p.tok, `after %q expected ";" or "{", found %s`, n.Keyword, p.tok.kind)
}
