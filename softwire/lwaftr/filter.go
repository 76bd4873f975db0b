package lwaftr

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Filter is a compiled packet filter over an untagged Ethernet frame.
//
// It understands a subset of pcap-filter(7), the part operators use on an
// lwAFTR: the protocol primitives ip, ip6, arp, tcp, udp, icmp, icmp6;
// "len OP N" (OP one of < <= > >= = == !=); "[src|dst] host ADDR";
// "[src|dst] port N"; combined with not/!, and/&&, or/|| and parentheses.
// Anything else is refused at compile time with the offending word, so a
// filter never silently means something other than what was written.
type Filter struct{ root *fnode }

type fkind uint8

const (
	fTrue fkind = iota
	fEther
	fIPProto
	fLen
	fHost
	fPort
	fNot
	fAnd
	fOr
)

type fnode struct {
	kind  fkind
	etype uint16 // fEther
	proto uint8  // fIPProto
	op    string // fLen
	n     int    // fLen, fPort
	dir   int    // 0 either, 1 src, 2 dst
	addr  netip.Addr
	abuf  []byte // addr's bytes, kept so matching does not allocate
	a, b  *fnode
}

// CompileFilter parses a filter expression.
func CompileFilter(expr string) (*Filter, error) {
	p := &fparser{toks: ftokens(expr)}
	if len(p.toks) == 0 {
		return nil, fmt.Errorf("filter %q: empty", expr)
	}
	n, err := p.or()
	if err != nil {
		return nil, fmt.Errorf("filter %q: %w", expr, err)
	}
	if p.pos < len(p.toks) {
		return nil, fmt.Errorf("filter %q: unexpected %q", expr, p.toks[p.pos])
	}
	return &Filter{root: n}, nil
}

// Match reports whether a packet passes: etype is its Ethernet type and
// l3 what follows the (untagged) Ethernet header; len is taken as
// 14+len(l3), the untagged frame length. A nil filter passes everything.
func (f *Filter) Match(etype uint16, l3 []byte) bool {
	if f == nil {
		return true
	}
	return f.root.eval(etype, l3)
}

func ftokens(s string) []string {
	var out []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			i++
		case c == '(' || c == ')':
			out = append(out, s[i:i+1])
			i++
		case strings.ContainsRune("<>=!&|", rune(c)):
			j := i + 1
			for j < len(s) && strings.ContainsRune("<>=&|", rune(s[j])) {
				j++
			}
			out = append(out, s[i:j])
			i = j
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n()<>=!&|", rune(s[j])) {
				j++
			}
			out = append(out, s[i:j])
			i = j
		}
	}
	return out
}

type fparser struct {
	toks []string
	pos  int
}

func (p *fparser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *fparser) take() string { t := p.peek(); p.pos++; return t }

func (p *fparser) or() (*fnode, error) {
	a, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.peek() == "or" || p.peek() == "||" {
		p.take()
		b, err := p.and()
		if err != nil {
			return nil, err
		}
		a = &fnode{kind: fOr, a: a, b: b}
	}
	return a, nil
}

func (p *fparser) and() (*fnode, error) {
	a, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.peek() == "and" || p.peek() == "&&" {
		p.take()
		b, err := p.unary()
		if err != nil {
			return nil, err
		}
		a = &fnode{kind: fAnd, a: a, b: b}
	}
	return a, nil
}

func (p *fparser) unary() (*fnode, error) {
	if t := p.peek(); t == "not" || t == "!" {
		p.take()
		a, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &fnode{kind: fNot, a: a}, nil
	}
	return p.primary()
}

var protoNames = map[string]uint8{"tcp": 6, "udp": 17, "icmp": 1, "icmp6": 58}

func (p *fparser) primary() (*fnode, error) {
	t := p.take()
	switch t {
	case "":
		return nil, fmt.Errorf("expression ends too early")
	case "(":
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.take() != ")" {
			return nil, fmt.Errorf(`missing ")"`)
		}
		return n, nil
	case "ip":
		return &fnode{kind: fEther, etype: 0x0800}, nil
	case "ip6":
		return &fnode{kind: fEther, etype: 0x86dd}, nil
	case "arp":
		return &fnode{kind: fEther, etype: 0x0806}, nil
	case "tcp", "udp", "icmp", "icmp6":
		return &fnode{kind: fIPProto, proto: protoNames[t]}, nil
	case "len":
		op := p.take()
		switch op {
		case "<", "<=", ">", ">=", "=", "==", "!=":
		default:
			return nil, fmt.Errorf("len: expected a comparison, found %q", op)
		}
		n, err := strconv.Atoi(p.take())
		if err != nil {
			return nil, fmt.Errorf("len %s: expected a number", op)
		}
		return &fnode{kind: fLen, op: op, n: n}, nil
	case "src", "dst":
		dir := 1
		if t == "dst" {
			dir = 2
		}
		n, err := p.primary()
		if err != nil {
			return nil, err
		}
		if n.kind != fHost && n.kind != fPort {
			return nil, fmt.Errorf("%s must be followed by host or port", t)
		}
		n.dir = dir
		return n, nil
	case "host":
		a, err := netip.ParseAddr(p.take())
		if err != nil {
			return nil, fmt.Errorf("host: %w", err)
		}
		return &fnode{kind: fHost, addr: a, abuf: a.AsSlice()}, nil
	case "port":
		n, err := strconv.Atoi(p.take())
		if err != nil || n < 0 || n > 65535 {
			return nil, fmt.Errorf("port: expected a number 0..65535")
		}
		return &fnode{kind: fPort, n: n}, nil
	}
	return nil, fmt.Errorf("unsupported word %q", t)
}

// l4 returns the transport protocol and its offset in the frame, or
// ok=false.
func l4(et uint16, p []byte) (proto uint8, off int, ok bool) {
	switch et {
	case 0x0800:
		if len(p) < 20 {
			return 0, 0, false
		}
		return p[9], int(p[0]&0xf) * 4, true
	case 0x86dd:
		if len(p) < 40 {
			return 0, 0, false
		}
		return p[6], 40, true
	}
	return 0, 0, false
}

func (n *fnode) eval(et uint16, f []byte) bool {
	switch n.kind {
	case fTrue:
		return true
	case fEther:
		return et == n.etype
	case fIPProto:
		proto, _, ok := l4(et, f)
		return ok && proto == n.proto
	case fLen:
		l := 14 + len(f)
		switch n.op {
		case "<":
			return l < n.n
		case "<=":
			return l <= n.n
		case ">":
			return l > n.n
		case ">=":
			return l >= n.n
		case "!=":
			return l != n.n
		}
		return l == n.n
	case fHost:
		return n.matchHost(et, f)
	case fPort:
		proto, off, ok := l4(et, f)
		if !ok || (proto != 6 && proto != 17) || len(f) < off+4 {
			return false
		}
		src, dst := int(f[off])<<8|int(f[off+1]), int(f[off+2])<<8|int(f[off+3])
		return (n.dir != 2 && src == n.n) || (n.dir != 1 && dst == n.n)
	case fNot:
		return !n.a.eval(et, f)
	case fAnd:
		return n.a.eval(et, f) && n.b.eval(et, f)
	case fOr:
		return n.a.eval(et, f) || n.b.eval(et, f)
	}
	return false
}

func (n *fnode) matchHost(et uint16, f []byte) bool {
	var src, dst []byte
	switch et {
	case 0x0800:
		if !n.addr.Is4() || len(f) < 20 {
			return false
		}
		src, dst = f[12:16], f[16:20]
	case 0x86dd:
		if !n.addr.Is6() || len(f) < 40 {
			return false
		}
		src, dst = f[8:24], f[24:40]
	default:
		return false
	}
	a := n.abuf
	eq := func(x []byte) bool { return string(x) == string(a) }
	return (n.dir != 2 && eq(src)) || (n.dir != 1 && eq(dst))
}
