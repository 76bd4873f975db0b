package netconf

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"unicode/utf8"
)

// parseXML parses one message into its root element. It is a small
// non-validating XML 1.0 parser for what NETCONF messages contain
// (elements, attributes, namespaces, character data, entity and character
// references, CDATA, comments, processing instructions) and refuses
// document type declarations. encoding/xml does the same work about twice
// as slowly, with twice the memory and allocations (BenchmarkParse100kBindings
// measures both on an edit-config of 100,000 bindings); the fuzz target
// FuzzParseXML compares the two on every input.
func parseXML(data []byte) (*xnode, error) {
	return parseXMLLimited(data, parseLimits{factor: defaultParseFactor})
}

// parseLimits bound what parsing one message may cost.
type parseLimits struct {
	// factor bounds the parsed tree's memory to factor times the size of
	// the message (plus parseSlack).
	factor int
	// reserve, when not nil, takes memory from the element's parse budget
	// as the tree grows, in steps of parseReserveStep; what it took is returned
	// by parseXMLLimited's caller.
	reserve func(n int64) error
}

const (
	defaultParseFactor = 16
	parseSlack         = 64 << 10
	parseReserveStep   = 1 << 20
	// maxAttrs bounds the attributes (namespace declarations included)
	// of one element: NETCONF elements carry a handful.
	maxAttrs = 256
	// Estimated costs, in bytes, of what the parser allocates.
	costNode  = 160 // an xnode and its place in its parent's Children
	costAttr  = 48  // an xml.Attr
	costScope = 96  // a prefix in an element's namespace map
)

// ErrTooComplex is a message whose parse would take more memory than the
// limits allow for its size.
var ErrTooComplex = errors.New("the message needs more memory to parse than its size allows")

// parseXMLLimited is parseXML within limits; on success it reports the
// memory it reserved through lim.reserve.
func parseXMLLimited(data []byte, lim parseLimits) (*xnode, error) {
	p := xmlParser{data: data, lim: lim, budget: int64(lim.factor)*int64(len(data)) + parseSlack}
	root, err := p.document()
	if err != nil {
		return nil, fmt.Errorf("XML syntax error at byte %d: %w", p.pos, err)
	}
	return root, nil
}

type xmlParser struct {
	data  []byte
	pos   int
	depth int
	text  []byte            // scratch for decoded character data
	names map[string]string // element and attribute names, interned

	// Namespaces in scope while parsing: the current binding of each
	// prefix, and what to undo when the element ends.
	ns   map[string]string
	undo []nsUndo

	// The nodes and child lists of the tree come from blocks, a few
	// hundred at a time: a message of 100,000 list entries would
	// otherwise make a million small allocations. kids is the stack of
	// children of the elements being read.
	nodes []xnode
	ptrs  []*xnode
	kids  []*xnode

	attrs []rawAttr          // scratch: the attributes of the element being read
	seen  map[[2]string]bool // scratch: duplicate check of many attributes
	vbuf  []byte             // scratch: an attribute value being decoded

	lim      parseLimits
	budget   int64 // the most cost may reach
	cost     int64 // estimated bytes allocated so far
	reserved int64 // of cost, taken from lim.reserve
}

type rawAttr struct{ prefix, local, value string }

type nsUndo struct {
	prefix, old string
	had         bool
}

// spend counts n bytes of the tree being built.
func (p *xmlParser) spend(n int) error {
	p.cost += int64(n)
	if p.cost > p.budget {
		return ErrTooComplex
	}
	if p.lim.reserve != nil && p.cost > p.reserved {
		step := max(int64(parseReserveStep), p.cost-p.reserved)
		if err := p.lim.reserve(step); err != nil {
			return err
		}
		p.reserved += step
	}
	return nil
}

// intern returns b as a string, allocating each distinct name once: a
// message of a hundred thousand list entries repeats a dozen names.
func (p *xmlParser) intern(b []byte) string {
	if s, ok := p.names[string(b)]; ok {
		return s
	}
	if p.names == nil {
		p.names = map[string]string{}
	}
	s := string(b)
	p.names[s] = s
	return s
}

var (
	errEOF        = errors.New("unexpected end of message")
	errDTD        = errors.New("DTDs and other directives are not allowed")
	errMultiRoots = errors.New("more than one root element")
)

func (p *xmlParser) document() (*xnode, error) {
	var root *xnode
	for {
		p.skipSpace()
		if p.pos >= len(p.data) {
			break
		}
		if p.data[p.pos] != '<' {
			return nil, errors.New("character data outside the root element")
		}
		switch {
		case p.has("<?"):
			if err := p.skipPI(); err != nil {
				return nil, err
			}
		case p.has("<!--"):
			if err := p.skipComment(); err != nil {
				return nil, err
			}
		case p.has("<!"):
			return nil, errDTD
		default:
			if root != nil {
				return nil, errMultiRoots
			}
			var err error
			if root, err = p.element(nil); err != nil {
				return nil, err
			}
		}
	}
	if root == nil {
		return nil, errors.New("no element")
	}
	return root, nil
}

func (p *xmlParser) has(s string) bool {
	return len(p.data)-p.pos >= len(s) && string(p.data[p.pos:p.pos+len(s)]) == s
}

func (p *xmlParser) skipSpace() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\r', '\n':
			p.pos++
		default:
			return
		}
	}
}

func (p *xmlParser) skipPI() error {
	end := bytes.Index(p.data[p.pos+2:], []byte("?>"))
	if end < 0 {
		return errEOF
	}
	p.pos += 2 + end + 2
	return nil
}

func (p *xmlParser) skipComment() error {
	end := bytes.Index(p.data[p.pos+4:], []byte("-->"))
	if end < 0 {
		return errEOF
	}
	p.pos += 4 + end + 3
	return nil
}

func isNameByte(c byte, first bool) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_', c >= 0x80:
		return true
	case c >= '0' && c <= '9', c == '-', c == '.':
		return !first
	}
	return false
}

// name reads a name, split at its colon into prefix and local part.
func (p *xmlParser) name() (prefix, local string, err error) {
	start := p.pos
	colon := -1
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		if c == ':' && colon < 0 && p.pos > start {
			colon = p.pos
			p.pos++
			continue
		}
		if !isNameByte(c, p.pos == start || p.pos == colon+1) {
			break
		}
		p.pos++
	}
	if p.pos == start || p.pos == colon+1 {
		return "", "", errors.New("expected a name")
	}
	if colon < 0 {
		return "", p.intern(p.data[start:p.pos]), nil
	}
	return p.intern(p.data[start:colon]), p.intern(p.data[colon+1 : p.pos]), nil
}

// element parses an element starting at '<'.
func (p *xmlParser) element(parent *xnode) (*xnode, error) {
	if p.depth >= maxDepth {
		return nil, fmt.Errorf("elements nested deeper than %d", maxDepth)
	}
	p.depth++
	defer func() { p.depth-- }()
	p.pos++ // '<'
	prefix, local, err := p.name()
	if err != nil {
		return nil, err
	}
	n := p.newNode()
	n.Parent = parent
	if err := p.spend(costNode + len(local)/4); err != nil {
		return nil, err
	}
	// The attributes are collected in scratch space of the parser, reused
	// by every element: they are done with before the content is parsed.
	attrs := p.attrs[:0]
	defer func() { p.attrs = attrs[:0] }()
	many := false // duplicates checked with p.seen
	selfClosing := false
	for {
		sawSpace := p.pos < len(p.data) && (p.data[p.pos] == ' ' || p.data[p.pos] == '\t' || p.data[p.pos] == '\r' || p.data[p.pos] == '\n')
		p.skipSpace()
		if p.pos >= len(p.data) {
			return nil, errEOF
		}
		if c := p.data[p.pos]; c == '>' {
			p.pos++
			break
		} else if c == '/' {
			if !p.has("/>") {
				return nil, errors.New("expected />")
			}
			p.pos += 2
			selfClosing = true
			break
		}
		if !sawSpace {
			return nil, errors.New("attributes must be separated by space")
		}
		if len(attrs) >= maxAttrs {
			return nil, fmt.Errorf("element %s has more than %d attributes", local, maxAttrs)
		}
		ap, al, err := p.name()
		if err != nil {
			return nil, err
		}
		p.skipSpace()
		if p.pos >= len(p.data) || p.data[p.pos] != '=' {
			return nil, fmt.Errorf("attribute %s without a value", al)
		}
		p.pos++
		p.skipSpace()
		v, err := p.attrValue()
		if err != nil {
			return nil, err
		}
		// Duplicates: a scan while there are few, a set past that, so
		// that the check stays linear.
		if len(attrs) < 8 {
			for _, a := range attrs {
				if a.prefix == ap && a.local == al {
					return nil, fmt.Errorf("attribute %s given twice", al)
				}
			}
		} else {
			if !many {
				if p.seen == nil {
					p.seen = make(map[[2]string]bool, maxAttrs)
				}
				clear(p.seen)
				for _, a := range attrs {
					p.seen[[2]string{a.prefix, a.local}] = true
				}
				many = true
			}
			if p.seen[[2]string{ap, al}] {
				return nil, fmt.Errorf("attribute %s given twice", al)
			}
			p.seen[[2]string{ap, al}] = true
		}
		attrs = append(attrs, rawAttr{ap, al, v})
	}
	// Namespace declarations first: they apply to the element's own name
	// and attributes. A declaration that binds a prefix to what it is
	// already bound to changes nothing and is not recorded.
	mark := len(p.undo)
	defer p.popScope(mark)
	for _, a := range attrs {
		var prefix string
		switch {
		case a.prefix == "xmlns":
			if a.value == "" {
				return nil, fmt.Errorf("prefix %s bound to an empty namespace", a.local)
			}
			prefix = a.local
		case a.prefix == "" && a.local == "xmlns":
		default:
			continue
		}
		old, had := p.ns[prefix]
		if had && old == a.value {
			continue
		}
		if p.ns == nil {
			p.ns = map[string]string{}
		}
		p.undo = append(p.undo, nsUndo{prefix: prefix, old: old, had: had})
		p.ns[prefix] = a.value
	}
	// The element's map of what is in scope: its parent's, shared, when
	// it declares nothing new; a copy otherwise, whose size is charged to
	// the message, so that declarations piled up to make every element
	// copy a large scope are refused as too complex, not paid for.
	switch {
	case len(p.undo) > mark:
		if err := p.spend(costScope * len(p.ns)); err != nil {
			return nil, err
		}
		n.NS = maps.Clone(p.ns)
	case parent != nil:
		n.NS = parent.NS
	}
	space, ok := p.ns[prefix]
	if !ok && prefix != "" {
		return nil, fmt.Errorf("undeclared namespace prefix %q", prefix)
	}
	n.Name = xml.Name{Space: space, Local: local}
	plain := 0
	for _, a := range attrs {
		if !(a.prefix == "xmlns" || (a.prefix == "" && a.local == "xmlns")) {
			plain++
		}
	}
	if plain > 0 {
		n.Attr = make([]xml.Attr, 0, plain)
	}
	for _, a := range attrs {
		if a.prefix == "xmlns" || (a.prefix == "" && a.local == "xmlns") {
			continue
		}
		name := xml.Name{Local: a.local}
		if a.prefix != "" {
			ns, ok := p.ns[a.prefix]
			if !ok {
				if a.prefix != "xml" {
					return nil, fmt.Errorf("undeclared namespace prefix %q", a.prefix)
				}
				ns = "http://www.w3.org/XML/1998/namespace"
			}
			name.Space = ns
		}
		if err := p.spend(costAttr + len(a.value)); err != nil {
			return nil, err
		}
		n.Attr = append(n.Attr, xml.Attr{Name: name, Value: a.value})
	}
	if selfClosing {
		return n, nil
	}
	return n, p.content(n, prefix, local)
}

// popScope ends the declarations of an element.
func (p *xmlParser) popScope(mark int) {
	for i := len(p.undo) - 1; i >= mark; i-- {
		u := p.undo[i]
		if u.had {
			p.ns[u.prefix] = u.old
		} else {
			delete(p.ns, u.prefix)
		}
	}
	p.undo = p.undo[:mark]
}

const nodeBlock = 256

func (p *xmlParser) newNode() *xnode {
	if len(p.nodes) == 0 {
		p.nodes = make([]xnode, nodeBlock)
	}
	n := &p.nodes[0]
	p.nodes = p.nodes[1:]
	return n
}

// children copies the child list kids into a block, capped so that an
// append to it never writes into its neighbour.
func (p *xmlParser) children(kids []*xnode) []*xnode {
	if len(kids) > nodeBlock {
		return append([]*xnode(nil), kids...)
	}
	if len(p.ptrs) < len(kids) {
		p.ptrs = make([]*xnode, nodeBlock*4)
	}
	out := p.ptrs[:len(kids):len(kids)]
	p.ptrs = p.ptrs[len(kids):]
	copy(out, kids)
	return out
}

// content parses what follows a start tag, up to its end tag.
func (p *xmlParser) content(n *xnode, prefix, local string) error {
	p.text = p.text[:0]
	mark := len(p.kids)
	defer func() { p.kids = p.kids[:mark] }()
	for {
		if p.pos >= len(p.data) {
			return fmt.Errorf("unclosed element <%s>", local)
		}
		c := p.data[p.pos]
		switch {
		case c != '<' && c != '&':
			// A run of plain character data.
			start := p.pos
			for p.pos < len(p.data) && p.data[p.pos] != '<' && p.data[p.pos] != '&' {
				p.pos++
			}
			if err := checkChars(p.data[start:p.pos]); err != nil {
				return err
			}
			p.text = append(p.text, p.data[start:p.pos]...)
		case c == '&':
			var err error
			if p.text, err = p.reference(p.text); err != nil {
				return err
			}
		case p.has("</"):
			p.pos += 2
			ep, el, err := p.name()
			if err != nil {
				return err
			}
			if ep != prefix || el != local {
				return fmt.Errorf("element <%s> closed by </%s>", local, el)
			}
			p.skipSpace()
			if p.pos >= len(p.data) || p.data[p.pos] != '>' {
				return errors.New("expected > after the end tag")
			}
			p.pos++
			if len(p.kids) > mark {
				n.Children = p.children(p.kids[mark:])
			}
			if len(n.Children) == 0 {
				n.Text = string(bytes.TrimSpace(p.text))
				if err := p.spend(len(n.Text)); err != nil {
					return err
				}
			}
			p.text = p.text[:0]
			return nil
		case p.has("<!--"):
			if err := p.skipComment(); err != nil {
				return err
			}
		case p.has("<![CDATA["):
			end := bytes.Index(p.data[p.pos+9:], []byte("]]>"))
			if end < 0 {
				return errEOF
			}
			chunk := p.data[p.pos+9 : p.pos+9+end]
			if err := checkChars(chunk); err != nil {
				return err
			}
			p.text = append(p.text, chunk...)
			p.pos += 9 + end + 3
		case p.has("<?"):
			if err := p.skipPI(); err != nil {
				return err
			}
		case p.has("<!"):
			return errDTD
		default:
			// The text of an element with children is dropped (only a
			// leaf's is kept), so the child takes over the scratch
			// buffer: one buffer serves the whole message instead of
			// one allocated per leaf.
			child, err := p.element(n)
			if err != nil {
				return err
			}
			p.kids = append(p.kids, child)
			p.text = p.text[:0]
		}
	}
}

// attrValue reads a quoted attribute value, decoding references.
func (p *xmlParser) attrValue() (string, error) {
	if p.pos >= len(p.data) || (p.data[p.pos] != '"' && p.data[p.pos] != '\'') {
		return "", errors.New("attribute value must be quoted")
	}
	quote := p.data[p.pos]
	p.pos++
	out := p.vbuf[:0]
	defer func() { p.vbuf = out[:0] }()
	for {
		if p.pos >= len(p.data) {
			return "", errEOF
		}
		c := p.data[p.pos]
		switch c {
		case quote:
			p.pos++
			if err := checkChars(out); err != nil {
				return "", err
			}
			return string(out), nil
		case '<':
			return "", errors.New("< in an attribute value")
		case '&':
			var err error
			if out, err = p.reference(out); err != nil {
				return "", err
			}
		default:
			out = append(out, c)
			p.pos++
		}
	}
}

// reference decodes an entity or character reference at '&'.
func (p *xmlParser) reference(out []byte) ([]byte, error) {
	end := bytes.IndexByte(p.data[p.pos:], ';')
	if end < 0 || end > 12 {
		return nil, errors.New("unterminated reference")
	}
	ref := string(p.data[p.pos+1 : p.pos+end])
	p.pos += end + 1
	switch ref {
	case "lt":
		return append(out, '<'), nil
	case "gt":
		return append(out, '>'), nil
	case "amp":
		return append(out, '&'), nil
	case "quot":
		return append(out, '"'), nil
	case "apos":
		return append(out, '\''), nil
	}
	if strings.HasPrefix(ref, "#") {
		var v uint64
		var err error
		if strings.HasPrefix(ref, "#x") {
			v, err = strconv.ParseUint(ref[2:], 16, 32)
		} else {
			v, err = strconv.ParseUint(ref[1:], 10, 32)
		}
		if err != nil || !isXMLChar(rune(v)) {
			return nil, fmt.Errorf("invalid character reference &%s;", ref)
		}
		return utf8.AppendRune(out, rune(v)), nil
	}
	return nil, fmt.Errorf("unknown entity &%s;", ref)
}

// checkChars refuses bytes that are not XML characters: invalid UTF-8 and
// control characters other than tab, newline and carriage return.
func checkChars(b []byte) error {
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
				return fmt.Errorf("illegal character code %U", rune(c))
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return errors.New("invalid UTF-8")
		}
		if !isXMLChar(r) {
			return fmt.Errorf("illegal character code %U", r)
		}
		i += size
	}
	return nil
}

func isXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}
