package snabbconf

import (
	"fmt"

	"github.com/wirebeat/wirebeat/gen"
)

// side collects the settings of one interface, from the top-level
// external-interface / internal-interface blocks and from the instance's
// queue, before they are stored in the generated struct of that side.
type side struct {
	allowICMP, genErrors, hairpin *bool
	ratePackets, ratePeriod       *uint32
	maxFrags                      *uint16
	maxPackets                    *uint32
	ingress, egress               *string
	mtu                           *uint16
	ip, mac, nhIP, nhMAC          *string
	vlan                          *uint16
}

// common reads the statements both top-level interface blocks share.
func (s *side) common(n *Node, where string) error {
	var err error
	switch n.Keyword {
	case "allow-incoming-icmp":
		s.allowICMP, err = boolArg(n)
	case "generate-icmp-errors":
		s.genErrors, err = boolArg(n)
	case "error-rate-limiting":
		err = s.rateLimit(n)
	case "reassembly":
		err = s.reassembly(n)
	case "ingress-filter":
		if err = wantLeaf(n); err == nil {
			s.ingress = ptr(n.Arg)
		}
	case "egress-filter":
		if err = wantLeaf(n); err == nil {
			s.egress = ptr(n.Arg)
		}
	case "mtu":
		var v uint64
		if v, err = uintArg(n, 16); err == nil {
			s.mtu = ptr(uint16(v))
		}
	case "vlan-tag":
		err = s.vlanTag(n)
	default:
		err = unknown(n, where)
	}
	return err
}

func (s *side) vlanTag(n *Node) error {
	v, err := uintArg(n, 16)
	if err != nil {
		return err
	}
	if v < 1 || v > 4094 {
		return fmt.Errorf("line %d: vlan-tag %d is not in 1..4094", n.Line, v)
	}
	s.vlan = ptr(uint16(v))
	return nil
}

func (s *side) rateLimit(b *Node) error {
	if err := wantBlock(b); err != nil {
		return err
	}
	for _, n := range b.Children {
		v, err := uintArg(n, 32)
		if err != nil {
			return err
		}
		switch n.Keyword {
		case "packets":
			s.ratePackets = ptr(uint32(v))
		case "period":
			s.ratePeriod = ptr(uint32(v))
		default:
			return unknown(n, "error-rate-limiting")
		}
	}
	return nil
}

func (s *side) reassembly(b *Node) error {
	if err := wantBlock(b); err != nil {
		return err
	}
	for _, n := range b.Children {
		switch n.Keyword {
		case "max-fragments-per-packet":
			v, err := uintArg(n, 16)
			if err != nil {
				return err
			}
			s.maxFrags = ptr(uint16(v))
		case "max-packets":
			v, err := uintArg(n, 32)
			if err != nil {
				return err
			}
			s.maxPackets = ptr(uint32(v))
		default:
			return unknown(n, "reassembly")
		}
	}
	return nil
}

func (c *converter) externalInterface(b *Node) error {
	if err := wantBlock(b); err != nil {
		return err
	}
	var s side
	for _, n := range b.Children {
		if err := s.common(n, "external-interface"); err != nil {
			return err
		}
	}
	e := c.lw.GetOrCreateExternalInterface()
	e.AllowIncomingIcmp, e.GenerateIcmpErrors = or(s.allowICMP, e.AllowIncomingIcmp), or(s.genErrors, e.GenerateIcmpErrors)
	e.IngressFilter, e.EgressFilter, e.Mtu = or(s.ingress, e.IngressFilter), or(s.egress, e.EgressFilter), or(s.mtu, e.Mtu)
	e.VlanTag = or(s.vlan, e.VlanTag)
	if s.ratePackets != nil || s.ratePeriod != nil {
		r := e.GetOrCreateErrorRateLimiting()
		r.Packets, r.Period = s.ratePackets, s.ratePeriod
	}
	if s.maxFrags != nil || s.maxPackets != nil {
		r := e.GetOrCreateReassembly()
		r.MaxFragmentsPerPacket, r.MaxPackets = s.maxFrags, s.maxPackets
	}
	return nil
}

func (c *converter) internalInterface(b *Node) error {
	if err := wantBlock(b); err != nil {
		return err
	}
	var s side
	for _, n := range b.Children {
		if n.Keyword == "hairpinning" {
			v, err := boolArg(n)
			if err != nil {
				return err
			}
			s.hairpin = v
			continue
		}
		if err := s.common(n, "internal-interface"); err != nil {
			return err
		}
	}
	i := c.lw.GetOrCreateInternalInterface()
	i.AllowIncomingIcmp, i.GenerateIcmpErrors = or(s.allowICMP, i.AllowIncomingIcmp), or(s.genErrors, i.GenerateIcmpErrors)
	i.IngressFilter, i.EgressFilter, i.Mtu = or(s.ingress, i.IngressFilter), or(s.egress, i.EgressFilter), or(s.mtu, i.Mtu)
	i.VlanTag, i.Hairpinning = or(s.vlan, i.VlanTag), s.hairpin
	if s.ratePackets != nil || s.ratePeriod != nil {
		r := i.GetOrCreateErrorRateLimiting()
		r.Packets, r.Period = s.ratePackets, s.ratePeriod
	}
	if s.maxFrags != nil || s.maxPackets != nil {
		r := i.GetOrCreateReassembly()
		r.MaxFragmentsPerPacket, r.MaxPackets = s.maxFrags, s.maxPackets
	}
	return nil
}

func or[T any](a, b *T) *T {
	if a != nil {
		return a
	}
	return b
}

// instance reads "instance { device D; queue { id 0; external-interface
// {…} internal-interface {…} } }". wirebeat runs one queue; a second queue
// is refused rather than silently dropped.
func (c *converter) instance(b *Node) error {
	if err := wantBlock(b); err != nil {
		return err
	}
	if c.sawIntance {
		return fmt.Errorf("line %d: only one instance is supported", b.Line)
	}
	c.sawIntance = true
	var device *string
	for _, n := range b.Children {
		switch n.Keyword {
		case "device":
			if err := wantLeaf(n); err != nil {
				return err
			}
			if len(n.Arg) < 1 || len(n.Arg) > 15 {
				return fmt.Errorf("line %d: device %q is not an interface name (1..15 characters)", n.Line, n.Arg)
			}
			device = ptr(n.Arg)
		case "queue":
			if err := c.queue(n); err != nil {
				return err
			}
		default:
			return unknown(n, "instance")
		}
	}
	if device != nil {
		c.lw.GetOrCreateInternalInterface().Device = device
	}
	return nil
}

func (c *converter) queue(b *Node) error {
	if err := wantBlock(b); err != nil {
		return err
	}
	if c.sawQueue {
		return fmt.Errorf("line %d: only one queue is supported", b.Line)
	}
	c.sawQueue = true
	for _, n := range b.Children {
		switch n.Keyword {
		case "id":
			if _, err := uintArg(n, 8); err != nil {
				return err
			}
		case "external-interface", "internal-interface":
			var s side
			if err := s.queueSide(n); err != nil {
				return err
			}
			if n.Keyword == "external-interface" {
				e := c.lw.GetOrCreateExternalInterface()
				e.Ip, e.Mac, e.VlanTag = s.ip, s.mac, or(s.vlan, e.VlanTag)
				if s.nhIP != nil || s.nhMAC != nil {
					e.NextHop = &gen.WirebeatSoftwire_Softwire_Lwaftr_ExternalInterface_NextHop{Ip: s.nhIP, Mac: s.nhMAC}
				}
			} else {
				i := c.lw.GetOrCreateInternalInterface()
				i.Ip, i.Mac, i.VlanTag = s.ip, s.mac, or(s.vlan, i.VlanTag)
				if s.nhIP != nil || s.nhMAC != nil {
					i.NextHop = &gen.WirebeatSoftwire_Softwire_Lwaftr_InternalInterface_NextHop{Ip: s.nhIP, Mac: s.nhMAC}
				}
			}
		default:
			return unknown(n, "queue")
		}
	}
	return nil
}

// queueSide reads the per-queue part of one side: ip, mac, next-hop and
// vlan-tag. The address family follows the side.
func (s *side) queueSide(b *Node) error {
	if err := wantBlock(b); err != nil {
		return err
	}
	ext := b.Keyword == "external-interface"
	ipArg := ipv6Arg
	if ext {
		ipArg = ipv4Arg
	}
	for _, n := range b.Children {
		var err error
		switch n.Keyword {
		case "ip":
			s.ip, err = ipArg(n)
		case "mac":
			s.mac, err = macArg(n)
		case "vlan-tag":
			err = s.vlanTag(n)
		case "next-hop":
			if err = wantBlock(n); err != nil {
				return err
			}
			for _, h := range n.Children {
				switch h.Keyword {
				case "ip":
					s.nhIP, err = ipArg(h)
				case "mac":
					s.nhMAC, err = macArg(h)
				default:
					err = unknown(h, "next-hop")
				}
				if err != nil {
					return err
				}
			}
		default:
			err = unknown(n, b.Keyword+" of a queue")
		}
		if err != nil {
			return err
		}
	}
	return nil
}
