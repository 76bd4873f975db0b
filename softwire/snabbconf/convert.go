package snabbconf

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/wirebeat/wirebeat/gen"
)

// ToDevice maps a parsed softwire-config onto /softwire/lwaftr of a new
// tree, with enabled set. Unknown statements are errors naming their line:
// silently dropping part of an operator's configuration would be worse.
func ToDevice(root *Node) (*gen.Device, error) {
	var sc *Node
	for _, c := range root.Children {
		if c.Keyword != "softwire-config" || !c.Block {
			return nil, fmt.Errorf("line %d: expected softwire-config { … }, found %q", c.Line, c.Keyword)
		}
		if sc != nil {
			return nil, fmt.Errorf("line %d: second softwire-config block", c.Line)
		}
		sc = c
	}
	if sc == nil {
		return nil, fmt.Errorf("no softwire-config block")
	}
	dev := &gen.Device{}
	lw := dev.GetOrCreateSoftwire().GetOrCreateLwaftr()
	lw.Enabled = ptr(true)
	c := &converter{lw: lw}
	if err := c.softwireConfig(sc); err != nil {
		return nil, err
	}
	return dev, nil
}

// Import parses Snabb source and maps it (Parse then ToDevice).
func Import(src []byte) (*gen.Device, error) {
	root, err := Parse(src)
	if err != nil {
		return nil, err
	}
	return ToDevice(root)
}

// Detect reports whether src looks like Snabb syntax rather than JSON.
func Detect(src []byte) bool {
	s := strings.TrimSpace(string(src))
	return !strings.HasPrefix(s, "{")
}

type converter struct {
	lw         *gen.WirebeatSoftwire_Softwire_Lwaftr
	sawQueue   bool
	sawIntance bool
}

func ptr[T any](v T) *T { return &v }

func unknown(n *Node, where string) error {
	return fmt.Errorf("line %d: unknown statement %q in %s", n.Line, n.Keyword, where)
}

func wantLeaf(n *Node) error {
	if n.Block || !n.HasArg {
		return fmt.Errorf("line %d: %q takes a value: %s VALUE;", n.Line, n.Keyword, n.Keyword)
	}
	return nil
}

func wantBlock(n *Node) error {
	if !n.Block || n.HasArg {
		return fmt.Errorf("line %d: %q is a block: %s { … }", n.Line, n.Keyword, n.Keyword)
	}
	return nil
}

func boolArg(n *Node) (*bool, error) {
	if err := wantLeaf(n); err != nil {
		return nil, err
	}
	switch n.Arg {
	case "true":
		return ptr(true), nil
	case "false":
		return ptr(false), nil
	}
	return nil, fmt.Errorf("line %d: %s: %q is not true or false", n.Line, n.Keyword, n.Arg)
}

func uintArg(n *Node, bits int) (uint64, error) {
	if err := wantLeaf(n); err != nil {
		return 0, err
	}
	v, err := strconv.ParseUint(n.Arg, 10, bits)
	if err != nil {
		return 0, fmt.Errorf("line %d: %s: %q is not an unsigned %d-bit number", n.Line, n.Keyword, n.Arg, bits)
	}
	return v, nil
}

func ipv4Arg(n *Node) (*string, error) {
	if err := wantLeaf(n); err != nil {
		return nil, err
	}
	a, err := netip.ParseAddr(n.Arg)
	if err != nil || !a.Is4() {
		return nil, fmt.Errorf("line %d: %s: %q is not an IPv4 address", n.Line, n.Keyword, n.Arg)
	}
	return ptr(a.String()), nil
}

func ipv6Arg(n *Node) (*string, error) {
	if err := wantLeaf(n); err != nil {
		return nil, err
	}
	a, err := netip.ParseAddr(n.Arg)
	if err != nil || !a.Is6() || a.Zone() != "" {
		return nil, fmt.Errorf("line %d: %s: %q is not an IPv6 address", n.Line, n.Keyword, n.Arg)
	}
	return ptr(a.String()), nil
}

func macArg(n *Node) (*string, error) {
	if err := wantLeaf(n); err != nil {
		return nil, err
	}
	b := strings.Split(n.Arg, ":")
	ok := len(b) == 6
	for _, x := range b {
		if _, err := strconv.ParseUint(x, 16, 8); len(x) != 2 || err != nil {
			ok = false
		}
	}
	if !ok {
		return nil, fmt.Errorf("line %d: %s: %q is not a MAC address", n.Line, n.Keyword, n.Arg)
	}
	return ptr(strings.ToLower(n.Arg)), nil
}

func (c *converter) softwireConfig(sc *Node) error {
	for _, n := range sc.Children {
		var err error
		switch n.Keyword {
		case "binding-table":
			err = c.bindingTable(n)
		case "external-interface":
			err = c.externalInterface(n)
		case "internal-interface":
			err = c.internalInterface(n)
		case "instance":
			err = c.instance(n)
		default:
			err = unknown(n, "softwire-config")
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (c *converter) bindingTable(bt *Node) error {
	if err := wantBlock(bt); err != nil {
		return err
	}
	t := c.lw.GetOrCreateBindingTable()
	for _, n := range bt.Children {
		if n.Keyword != "softwire" {
			return unknown(n, "binding-table")
		}
		sw, err := softwire(n)
		if err != nil {
			return err
		}
		if err := t.AppendSoftwire(sw); err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
	}
	return nil
}

func softwire(sn *Node) (*gen.WirebeatSoftwire_Softwire_Lwaftr_BindingTable_Softwire, error) {
	if err := wantBlock(sn); err != nil {
		return nil, err
	}
	sw := &gen.WirebeatSoftwire_Softwire_Lwaftr_BindingTable_Softwire{}
	for _, n := range sn.Children {
		var err error
		switch n.Keyword {
		case "ipv4":
			sw.Ipv4, err = ipv4Arg(n)
		case "psid":
			var v uint64
			v, err = uintArg(n, 16)
			sw.Psid = ptr(uint16(v))
		case "b4-ipv6":
			sw.B4Ipv6, err = ipv6Arg(n)
		case "br-address":
			sw.BrAddress, err = ipv6Arg(n)
		case "port-set":
			sw.PortSet, err = portSet(n)
		default:
			err = unknown(n, "softwire")
		}
		if err != nil {
			return nil, err
		}
	}
	for _, need := range []struct {
		ok   bool
		name string
	}{{sw.Ipv4 != nil, "ipv4"}, {sw.Psid != nil, "psid"}, {sw.B4Ipv6 != nil, "b4-ipv6"}, {sw.BrAddress != nil, "br-address"}, {sw.PortSet != nil, "port-set"}} {
		if !need.ok {
			return nil, fmt.Errorf("line %d: softwire without %s", sn.Line, need.name)
		}
	}
	return sw, nil
}

func portSet(pn *Node) (*gen.WirebeatSoftwire_Softwire_Lwaftr_BindingTable_Softwire_PortSet, error) {
	if err := wantBlock(pn); err != nil {
		return nil, err
	}
	ps := &gen.WirebeatSoftwire_Softwire_Lwaftr_BindingTable_Softwire_PortSet{}
	for _, n := range pn.Children {
		v, err := uintArg(n, 8)
		if err != nil {
			return nil, err
		}
		if v > 16 {
			return nil, fmt.Errorf("line %d: %s %d exceeds 16 bits", n.Line, n.Keyword, v)
		}
		switch n.Keyword {
		case "psid-offset":
			ps.PsidOffset = ptr(uint8(v))
		case "psid-length":
			ps.PsidLength = ptr(uint8(v))
		case "reserved-ports-bit-count":
			ps.ReservedPortsBitCount = ptr(uint8(v))
		default:
			return nil, unknown(n, "port-set")
		}
	}
	if ps.PsidLength == nil {
		return nil, fmt.Errorf("line %d: port-set without psid-length", pn.Line)
	}
	return ps, nil
}
