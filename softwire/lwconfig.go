package softwire

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/softwire/bindingtable"
	"github.com/wirebeat/wirebeat/softwire/lwaftr"
)

// LwaftrConfig maps /softwire/lwaftr of a tree onto the engine's
// configuration and its binding list. YANG defaults apply to absent leaves.
func LwaftrConfig(dev *gen.Device) (lwaftr.Config, []lwaftr.Binding, error) {
	var cfg lwaftr.Config
	lw := dev.GetSoftwire().GetLwaftr()
	if lw == nil {
		return cfg, nil, fmt.Errorf("/softwire/lwaftr is not configured")
	}
	cfg.OnAStick = lw.GetOnAStick()
	cfg.External, cfg.Internal = lwaftr.DefaultSide(true), lwaftr.DefaultSide(false)
	cfg.Hairpinning = true
	if e := lw.GetExternalInterface(); e != nil {
		s := &cfg.External
		if err := common(s, e.AllowIncomingIcmp, e.GenerateIcmpErrors, e.Mac, e.VlanTag, e.Mtu, e.IngressFilter, e.EgressFilter); err != nil {
			return cfg, nil, fmt.Errorf("external-interface: %w", err)
		}
		if r := e.GetErrorRateLimiting(); r != nil {
			s.ErrorRatePackets, s.ErrorRatePeriod = r.GetPackets(), r.GetPeriod()
		}
		if r := e.GetReassembly(); r != nil {
			s.MaxFragmentsPerPacket, s.MaxPackets = int(r.GetMaxFragmentsPerPacket()), int(r.GetMaxPackets())
		}
		var err error
		if s.IP, err = addr(e.Ip, 4); err != nil {
			return cfg, nil, fmt.Errorf("external-interface/ip: %w", err)
		}
		if nh := e.GetNextHop(); nh != nil {
			if err := nextHop(s, nh.Ip, nh.Mac, 4); err != nil {
				return cfg, nil, fmt.Errorf("external-interface/next-hop: %w", err)
			}
		}
	}
	if i := lw.GetInternalInterface(); i != nil {
		s := &cfg.Internal
		if err := common(s, i.AllowIncomingIcmp, i.GenerateIcmpErrors, i.Mac, i.VlanTag, i.Mtu, i.IngressFilter, i.EgressFilter); err != nil {
			return cfg, nil, fmt.Errorf("internal-interface: %w", err)
		}
		if i.Hairpinning != nil {
			cfg.Hairpinning = *i.Hairpinning
		}
		if r := i.GetErrorRateLimiting(); r != nil {
			s.ErrorRatePackets, s.ErrorRatePeriod = r.GetPackets(), r.GetPeriod()
		}
		if r := i.GetReassembly(); r != nil {
			s.MaxFragmentsPerPacket, s.MaxPackets = int(r.GetMaxFragmentsPerPacket()), int(r.GetMaxPackets())
		}
		var err error
		if s.IP, err = addr(i.Ip, 16); err != nil {
			return cfg, nil, fmt.Errorf("internal-interface/ip: %w", err)
		}
		if nh := i.GetNextHop(); nh != nil {
			if err := nextHop(s, nh.Ip, nh.Mac, 16); err != nil {
				return cfg, nil, fmt.Errorf("internal-interface/next-hop: %w", err)
			}
		}
	}
	var bindings []lwaftr.Binding
	if bt := lw.GetBindingTable(); bt != nil {
		bindings = make([]lwaftr.Binding, 0, len(bt.Softwire))
		for k, sw := range bt.Softwire {
			b, err := Binding(sw)
			if err != nil {
				return cfg, nil, fmt.Errorf("binding-table/softwire[ipv4=%s][psid=%d]: %w", k.Ipv4, k.Psid, err)
			}
			bindings = append(bindings, b)
		}
	}
	return cfg, bindings, nil
}

// Binding maps one softwire list entry.
func Binding(sw *gen.WirebeatSoftwire_Softwire_Lwaftr_BindingTable_Softwire) (lwaftr.Binding, error) {
	var b lwaftr.Binding
	v4, err := netip.ParseAddr(sw.GetIpv4())
	if err != nil || !v4.Is4() {
		return b, fmt.Errorf("ipv4 %q is not an IPv4 address", sw.GetIpv4())
	}
	a := v4.As4()
	b.IPv4 = uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	b.PSID = sw.GetPsid()
	for _, f := range []struct {
		v   string
		dst *[16]byte
		n   string
	}{{sw.GetB4Ipv6(), &b.B4, "b4-ipv6"}, {sw.GetBrAddress(), &b.BR, "br-address"}} {
		x, err := netip.ParseAddr(f.v)
		if err != nil || !x.Is6() {
			return b, fmt.Errorf("%s %q is not an IPv6 address", f.n, f.v)
		}
		*f.dst = x.As16()
	}
	ps := sw.GetPortSet()
	off := ps.GetPsidOffset()
	if r := ps.GetReservedPortsBitCount(); off == 0 {
		off = r
	} else if r != 0 && r != off {
		return b, fmt.Errorf("port-set: psid-offset %d and reserved-ports-bit-count %d differ", off, r)
	}
	b.PortSet = bindingtable.PortSet{Offset: off, Length: ps.GetPsidLength()}
	return b, b.PortSet.Valid()
}

func common(s *lwaftr.Side, allow, gen *bool, mac *string, vlan, mtu *uint16, in, out *string) error {
	if allow != nil {
		s.AllowIncomingICMP = *allow
	}
	if gen != nil {
		s.GenerateICMPErrors = *gen
	}
	if mac != nil {
		hw, err := net.ParseMAC(*mac)
		if err != nil || len(hw) != 6 {
			return fmt.Errorf("mac %q: not a MAC address", *mac)
		}
		copy(s.MAC[:], hw)
	}
	if vlan != nil {
		s.VLAN = *vlan
	}
	if mtu != nil {
		s.MTU = int(*mtu)
	}
	if in != nil {
		s.IngressFilter = *in
	}
	if out != nil {
		s.EgressFilter = *out
	}
	return nil
}

func addr(v *string, n int) ([]byte, error) {
	if v == nil {
		return nil, fmt.Errorf("missing")
	}
	a, err := netip.ParseAddr(*v)
	if err != nil || (n == 4) != a.Is4() {
		return nil, fmt.Errorf("%q is not an IPv%d address", *v, map[int]int{4: 4, 16: 6}[n])
	}
	return a.AsSlice(), nil
}

func nextHop(s *lwaftr.Side, ip, mac *string, n int) error {
	if mac != nil {
		hw, err := net.ParseMAC(*mac)
		if err != nil || len(hw) != 6 {
			return fmt.Errorf("mac %q: not a MAC address", *mac)
		}
		copy(s.NextHopMAC[:], hw)
		s.NextHopMACSet = true
	}
	if ip != nil {
		a, err := addr(ip, n)
		if err != nil {
			return fmt.Errorf("ip: %w", err)
		}
		s.NextHopIP = a
	}
	return nil
}
